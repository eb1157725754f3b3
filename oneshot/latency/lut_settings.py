"""`LutSettings`: what ``oneshot-lut`` does with a device profile's table (``lut.*``)."""
from __future__ import annotations

from dataclasses import dataclass

LUT_ACTIONS = ("build", "validate", "import")
IMPORT_FORMATS = ("auto", "nsganetv2", "ofa")


@dataclass
class LutSettings:
    action: str = "build"  # build (measure every missing key) | validate (end to end) | import (published)
    n_archs: int = 50  # validate: archs measured end to end
    n_calib: int = 20  # validate: separate archs the affine correction is fitted on
    seed: int = 0  # validate: which archs
    source: str | None = None  # import: path of a published table (.yaml)
    format: str = "auto"  # import: auto | nsganetv2 | ofa

    def check(self) -> None:
        if self.action not in LUT_ACTIONS:
            raise ValueError(f"lut.action={self.action!r}: use one of {', '.join(LUT_ACTIONS)}")
        if self.format not in IMPORT_FORMATS:
            raise ValueError(f"lut.format={self.format!r}: use one of {', '.join(IMPORT_FORMATS)}")
        if self.n_archs < 2 or self.n_calib < 0:
            raise ValueError("lut.n_archs must be >= 2 and lut.n_calib >= 0")
        if self.action == "import" and not self.source:
            raise ValueError("oneshot-lut import needs lut.source=<published table .yaml> "
                             "(e.g. ../shared/data/luts/nsganetv2/i7-8700K_lut.yaml)")
