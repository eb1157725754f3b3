"""Candidate operations of a layer, described as data (no weights here)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_MBCONV = re.compile(r"^mbconv_k(\d+)_e(\d+)$")


@dataclass(frozen=True)
class OpSpec:
    """One candidate op.

    kind:
      * ``identity`` -- a no-op where the layer keeps the shape; where it does not
        (stride 2 or a channel change) it becomes a 1x1 conv + BN projection
        (the NAS-Bench-Macro convention).
      * ``skip`` -- a no-op, only offered where the layer keeps the shape.
      * ``mbconv`` -- inverted residual with ``kernel`` and expansion ``expand``.
    """

    kind: str
    kernel: int = 0
    expand: int = 0

    @classmethod
    def parse(cls, name: str) -> "OpSpec":
        if name in ("identity", "skip"):
            return cls(name)
        m = _MBCONV.match(name)
        if not m:
            raise ValueError(
                f"unknown op {name!r}: use 'identity', 'skip' or 'mbconv_k<kernel>_e<expand>' "
                "(e.g. mbconv_k3_e6)"
            )
        kernel, expand = int(m.group(1)), int(m.group(2))
        if kernel % 2 == 0 or kernel < 1 or expand < 1:
            raise ValueError(f"op {name!r}: kernel must be odd and >= 1, expand >= 1")
        return cls("mbconv", kernel, expand)

    @property
    def name(self) -> str:
        if self.kind == "mbconv":
            return f"mbconv_k{self.kernel}_e{self.expand}"
        return self.kind

    @property
    def is_noop_kind(self) -> bool:
        """True for ops that are a no-op when the layer keeps its shape."""
        return self.kind in ("identity", "skip")

    def __str__(self) -> str:
        return self.name
