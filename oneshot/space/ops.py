"""Candidate operations of a layer: one registered class per op kind.

Each kind owns, in one place (the design of timm's block-string decoder and Once-for-All's
``config`` / ``build_from_config``):

* its **name grammar** -- :meth:`OpSpec.from_name` reads ``mbconv_k5_e6`` etc., :attr:`name` writes it;
* its **analytic cost** -- :meth:`OpSpec.cost` (multiply-accumulates, parameters) at a layer;
* its **module** -- :meth:`OpSpec.build` (fresh weights; ``oneshot.nn`` is imported lazily so
  ``oneshot.space`` stays torch-free);
* its **latency key** -- :meth:`OpSpec.key_fields` (the descriptor fields of the op at a layer),
  the token layout of each key kind (:attr:`OpSpec.key_tokens`) and :meth:`OpSpec.from_key_fields`
  (the op a key describes);
* its **elastic capability** -- :attr:`OpSpec.elastic_role`: ``"block"`` (a kernel/expand slice
  of the layer's shared elastic block, :meth:`OpSpec.elastic_block`; such ops expose ``kernel``
  and ``expand``), ``"depth"`` (drops the layer: elastic depth) or ``"none"`` (refused by
  ``sharing="elastic"``).

``oneshot.nn`` is plain torch modules that know nothing of spaces, so the lazy import in
:meth:`OpSpec.build` runs down the layers, not up.

A subclass registers itself by its ``kind``; :meth:`OpSpec.parse` tries every registered kind.
Ops are frozen dataclasses: equal ops compare and hash equal, different kinds never do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .space import LayerSpec

ACTIVATIONS = ("relu", "relu6", "hswish")
SE_REDUCTION = 4  # Once-for-All's SEModule.REDUCTION
SE_DIVISOR = 8  # Once-for-All's MyNetwork.CHANNEL_DIVISIBLE


def conv_out_size(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a conv with 'same' padding ``kernel // 2``."""
    pad = kernel // 2
    return (size + 2 * pad - kernel) // stride + 1


def conv_cost(cin: int, cout: int, k: int, stride: int, size: int, groups: int = 1) -> tuple[int, int, int]:
    """(MACs, params incl. BN, out size) of conv k x k + BN."""
    out = conv_out_size(size, k, stride)
    macs = k * k * (cin // groups) * cout * out * out
    params = k * k * (cin // groups) * cout + 2 * cout
    return macs, params, out


def make_divisible(value: float, divisor: int = SE_DIVISOR, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never below 90 % of it (the TF MobileNet rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def se_channels(channels: int) -> int:
    """Width of the squeeze-excite bottleneck over ``channels`` (Once-for-All's SEModule)."""
    return make_divisible(channels // SE_REDUCTION)


class OpSpec:
    """Base of every candidate op kind (see the module docstring for what a kind owns)."""

    kind: ClassVar[str] = ""
    syntax: ClassVar[str] = ""  # the name grammar, for error messages
    is_noop_kind: ClassVar[bool] = False  # a no-op when the layer keeps its shape
    changes_shape: ClassVar[bool] = True  # offered at layers that change the shape (stride 2, channels)
    elastic_role: ClassVar[str] = "none"  # "block" | "depth" | "none"
    key_tokens: ClassVar[dict[str, tuple[str, ...]]] = {}  # latency key kind -> token layout
    _registry: ClassVar[dict[str, type["OpSpec"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            if cls.kind in OpSpec._registry:
                raise ValueError(f"op kind {cls.kind!r} is registered twice "
                                 f"({OpSpec._registry[cls.kind].__name__}, {cls.__name__})")
            OpSpec._registry[cls.kind] = cls

    # ------------------------------------------------------------ registry
    @staticmethod
    def registered() -> dict[str, type["OpSpec"]]:
        """Every registered op kind by name."""
        return dict(OpSpec._registry)

    @staticmethod
    def parse(name: str) -> "OpSpec":
        """The op a name like ``mbconv_k5_e6`` denotes; raises naming every known grammar."""
        for cls in OpSpec._registry.values():
            op = cls.from_name(name)
            if op is not None:
                return op
        grammars = ", ".join(repr(c.syntax) for c in OpSpec._registry.values())
        raise ValueError(f"unknown op {name!r}: use one of {grammars} (e.g. mbconv_k3_e6, mbconv_se_k5_e4_hswish)")

    @staticmethod
    def for_key_kind(key_kind: str) -> type["OpSpec"] | None:
        """The op class whose latency keys have kind ``key_kind`` (``None``: not an op's key)."""
        for cls in OpSpec._registry.values():
            if key_kind in cls.key_tokens:
                return cls
        return None

    @staticmethod
    def key_kinds() -> dict[str, tuple[str, ...]]:
        """Token layout of every latency key kind the registered ops produce."""
        return {k: v for cls in OpSpec._registry.values() for k, v in cls.key_tokens.items()}

    # ------------------------------------------------- what a kind implements
    @classmethod
    def from_name(cls, name: str) -> "OpSpec | None":
        """The op ``name`` denotes if it is in this kind's grammar, else ``None``."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        raise NotImplementedError

    def cost(self, layer: "LayerSpec") -> tuple[int, int]:
        """(multiply-accumulates, parameters) at ``layer`` (NAS-Bench-Macro's conventions)."""
        raise NotImplementedError

    def build(self, layer: "LayerSpec", activation: str) -> "nn.Module":
        """A fresh module computing this op at ``layer`` (``activation``: the space's)."""
        raise NotImplementedError

    def key_fields(self, layer: "LayerSpec", activation: str) -> dict[str, Any]:
        """Latency descriptor fields besides the shapes: ``kind`` (a key kind of
        :attr:`key_tokens`) and those of ``kernel``, ``expand``, ``stride``, ``activation`` it uses."""
        raise NotImplementedError

    @classmethod
    def from_key_fields(cls, fields: Mapping[str, Any]) -> "OpSpec":
        """The op a latency key of this class describes (inverse of :meth:`key_fields`)."""
        raise NotImplementedError

    def elastic_block(self, layer: "LayerSpec", activation: str) -> tuple[dict[str, Any], int, int]:
        """For ``elastic_role == "block"``: (keyword arguments of the layer's shared elastic
        block as far as this op fixes them, kernel, expand)."""
        raise ValueError(f"op {self.name!r} is not a slice of an elastic block (elastic role {self.elastic_role!r})")

    def __str__(self) -> str:
        return self.name


class _NoOp(OpSpec):
    """Shared by ``identity`` and ``skip``: nothing where the layer keeps its shape, else a
    1x1 conv + BN projection (the NAS-Bench-Macro convention)."""

    is_noop_kind = True
    key_tokens = {"identity": ("in",), "proj": ("in", "out", "s")}

    @classmethod
    def from_name(cls, name: str) -> "OpSpec | None":
        return cls() if name == cls.kind else None

    @property
    def name(self) -> str:
        return self.kind

    def cost(self, layer: "LayerSpec") -> tuple[int, int]:
        if layer.keeps_shape:
            return 0, 0
        macs, params, _ = conv_cost(layer.in_channels, layer.out_channels, 1, layer.stride, layer.in_size)
        return macs, params

    def build(self, layer: "LayerSpec", activation: str) -> "nn.Module":
        from torch import nn

        from ..nn.blocks import ConvBN

        if layer.keeps_shape:
            return nn.Identity()
        return ConvBN(layer.in_channels, layer.out_channels, 1, layer.stride)

    def key_fields(self, layer: "LayerSpec", activation: str) -> dict[str, Any]:
        if layer.keeps_shape:
            return {"kind": "identity"}
        return {"kind": "proj", "kernel": 1, "stride": layer.stride}

    @classmethod
    def from_key_fields(cls, fields: Mapping[str, Any]) -> "OpSpec":
        return IdentityOp()


@dataclass(frozen=True)
class IdentityOp(_NoOp):
    """``identity``: a no-op, or a 1x1 conv + BN projection where the shape changes."""

    kind: ClassVar[str] = "identity"
    syntax: ClassVar[str] = "identity"


@dataclass(frozen=True)
class SkipOp(_NoOp):
    """``skip``: a no-op offered only where the layer keeps its shape (elastic depth)."""

    kind: ClassVar[str] = "skip"
    syntax: ClassVar[str] = "skip"
    elastic_role: ClassVar[str] = "depth"
    changes_shape: ClassVar[bool] = False


@dataclass(frozen=True)
class MBConvOp(OpSpec):
    """``mbconv_k<kernel>_e<expand>[_<activation>]``: inverted residual (MobileNetV2).

    The activation defaults to the space's; a suffix (``_hswish``, ``_relu``, ``_relu6``)
    pins it, which is how MobileNetV3 / Once-for-All mix ReLU and h-swish stages.
    """

    kernel: int
    expand: int
    activation: str | None = None

    kind: ClassVar[str] = "mbconv"
    syntax: ClassVar[str] = "mbconv_k<kernel>_e<expand>[_<activation>]"
    elastic_role: ClassVar[str] = "block"
    key_tokens: ClassVar[dict[str, tuple[str, ...]]] = {"mbconv": ("in", "out", "k", "e", "s", "act")}
    se: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0 or self.kernel < 1 or self.expand < 1:
            raise ValueError(f"op {self.name!r}: kernel must be odd and >= 1, expand >= 1")
        if self.activation is not None and self.activation not in ACTIVATIONS:
            raise ValueError(f"op {self.name!r}: activation {self.activation!r} not in {ACTIVATIONS}")

    @classmethod
    def from_name(cls, name: str) -> "OpSpec | None":
        m = re.match(rf"^{cls.kind}_k(\d+)_e(\d+)(?:_({'|'.join(ACTIVATIONS)}))?$", name)
        return cls(int(m.group(1)), int(m.group(2)), m.group(3)) if m else None

    @property
    def name(self) -> str:
        return f"{self.kind}_k{self.kernel}_e{self.expand}" + (f"_{self.activation}" if self.activation else "")

    def hidden(self, layer: "LayerSpec") -> int:
        return layer.in_channels * self.expand

    def se_width(self, layer: "LayerSpec") -> int:
        """Width of the squeeze-excite bottleneck at ``layer`` (0: no SE)."""
        return se_channels(self.hidden(layer)) if self.se else 0

    def cost(self, layer: "LayerSpec") -> tuple[int, int]:
        cin, size, hidden = layer.in_channels, layer.in_size, self.hidden(layer)
        macs = params = 0
        if self.expand != 1:
            m, p, _ = conv_cost(cin, hidden, 1, 1, size)
            macs, params = macs + m, params + p
        m, p, out = conv_cost(hidden, hidden, self.kernel, layer.stride, size, groups=hidden)
        macs, params = macs + m, params + p
        mid = self.se_width(layer)  # SE: two biased 1x1 convs on the pooled 1x1 map
        macs, params = macs + 2 * hidden * mid, params + (2 * hidden * mid + mid + hidden if mid else 0)
        m, p, _ = conv_cost(hidden, layer.out_channels, 1, 1, out)
        return macs + m, params + p

    def build(self, layer: "LayerSpec", activation: str) -> "nn.Module":
        from ..nn.blocks import MBConv

        return MBConv(layer.in_channels, layer.out_channels, self.kernel, self.expand, layer.stride,
                      self.activation or activation, se_channels=self.se_width(layer))

    def key_fields(self, layer: "LayerSpec", activation: str) -> dict[str, Any]:
        return {"kind": self.kind, "kernel": self.kernel, "expand": self.expand, "stride": layer.stride,
                "activation": self.activation or activation}

    @classmethod
    def from_key_fields(cls, fields: Mapping[str, Any]) -> "OpSpec":
        return cls(int(fields["kernel"]), int(fields["expand"]), fields["activation"])

    def elastic_block(self, layer: "LayerSpec", activation: str) -> tuple[dict[str, Any], int, int]:
        se = {layer.in_channels * self.expand: self.se_width(layer)} if self.se else None
        return {"activation": self.activation or activation, "se_widths": se}, self.kernel, self.expand


@dataclass(frozen=True)
class SEMBConvOp(MBConvOp):
    """``mbconv_se_k<kernel>_e<expand>[_<activation>]``: MBConv with squeeze-and-excitation
    after the depthwise conv (MobileNetV3 / Once-for-All: global average pool, 1x1 conv to
    ``make_divisible(hidden // 4, 8)`` + ReLU, 1x1 conv back + h-sigmoid gate; both convs biased)."""

    kind: ClassVar[str] = "mbconv_se"
    syntax: ClassVar[str] = "mbconv_se_k<kernel>_e<expand>[_<activation>]"
    key_tokens: ClassVar[dict[str, tuple[str, ...]]] = {"mbconv_se": ("in", "out", "k", "e", "s", "act")}
    se: ClassVar[bool] = True
