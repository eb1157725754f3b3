"""Op descriptor keys: readable strings that fully determine an op's cost.

Every (layer, choice) of a space maps to one key, and so do the stem and the head.
A key names the op kind, its input / output tensor shapes (``HxWxC``, batch
excluded: the batch belongs to the device profile of a table) and every
hyper-parameter that changes the computation. Identical shapes share a key, so
one table covers every space built from the same shapes.

Grammar (tokens joined by ``-``)::

    stem-in32x32x3-out32x32x32-k3-s1-relu      k x k conv + BN + act
    mbconv-in16x16x64-out16x16x64-k5-e6-s1-relu inverted residual (residual
                                                 iff stride 1 and in == out)
    mbconv_se-in16x16x64-out8x8x96-k3-e4-s2-hswish  the same with squeeze-excite
    proj-in32x32x32-out16x16x64-s2             1x1 conv + BN, no activation (the
                                                 identity of a shape-changing layer)
    identity-in16x16x64                        true no-op (shape kept)
    head-in4x4x256-c1280-out10-relu            1x1 conv to c + BN + act, global
                                                 average pool, linear to out classes
    head-in7x7x192-c1152-m1536-out1000-hswish  the same with MobileNetV3's feature mix
                                                 (1x1 conv to m + act after the pool)

The activation (``relu``, ``relu6``, ``hswish``) is part of every key whose op
applies one. A true no-op has a key but is **never measured**: its cost is 0 by
definition (an ``nn.Identity`` costs a Python call, below the table's
resolution; the per-table affine correction absorbs any constant overhead).

Stem and head are formatted here; every other key kind belongs to a registered op class
(:mod:`oneshot.space.ops`), which declares its token layout, the descriptor fields of an op at
a layer and the op a key describes -- so a new op kind brings its keys with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from ..nn.blocks import ConvBN, Head
from ..space.ops import ACTIVATIONS, OpSpec
from ..space.space import LayerSpec, SearchSpace, conv_out_size

#: the parts every arch runs; every other key kind belongs to a registered op class
FIXED_KEY_TOKENS: dict[str, tuple[str, ...]] = {"stem": ("in", "out", "k", "s", "act"),
                                                "head": ("in", "c", "m", "classes", "act")}

Shape = tuple[int, int, int]  # (height, width, channels)

_SHAPE = re.compile(r"^(in|out)(\d+)x(\d+)x(\d+)$")
_INT = re.compile(r"^(k|e|s|c|m|out)(\d+)$")


def key_token_layouts() -> dict[str, tuple[str, ...]]:
    """Token layout of every key kind: the stem, the head and those of the registered ops."""
    return {**FIXED_KEY_TOKENS, **OpSpec.key_kinds()}


@dataclass(frozen=True)
class OpDescriptor:
    """Everything that determines one op's latency (besides batch and device)."""

    kind: str
    in_shape: Shape
    out_shape: Shape = (0, 0, 0)
    kernel: int = 0
    expand: int = 0
    stride: int = 1
    activation: str = ""
    head_channels: int = 0  # head only: width of the 1x1 conv before pooling
    mix_channels: int = 0  # head only: width of the feature-mix conv after pooling (0: none)

    @property
    def is_noop(self) -> bool:
        return self.kind == "identity"

    @property
    def num_classes(self) -> int:
        return self.out_shape[2] if self.kind == "head" else 0

    @property
    def key(self) -> str:
        return format_key(self)

    def layer(self) -> LayerSpec:
        """The layer geometry (square input, no candidates) a searchable op's key describes."""
        return LayerSpec(0, 0, 0, self.in_shape[2], self.out_shape[2], self.stride, self.in_shape[0], ())

    def op(self) -> OpSpec:
        """The searchable op this key describes (raises for the stem and head)."""
        cls = OpSpec.for_key_kind(self.kind)
        if cls is None:
            raise ValueError(f"latency key kind {self.kind!r} is not a searchable op's")
        return cls.from_key_fields({"kernel": self.kernel, "expand": self.expand, "activation": self.activation})

    def __str__(self) -> str:
        return self.key


def _shape(prefix: str, shape: Shape) -> str:
    return f"{prefix}{shape[0]}x{shape[1]}x{shape[2]}"


_FORMAT = {"in": lambda d: _shape("in", d.in_shape), "out": lambda d: _shape("out", d.out_shape),
           "k": lambda d: f"k{d.kernel}", "e": lambda d: f"e{d.expand}", "s": lambda d: f"s{d.stride}",
           "c": lambda d: f"c{d.head_channels}", "classes": lambda d: f"out{d.num_classes}",
           "m": lambda d: f"m{d.mix_channels}" if d.mix_channels else None,  # optional token
           "act": lambda d: d.activation}


def format_key(d: OpDescriptor) -> str:
    """The canonical key string of a descriptor: its kind, then the tokens of the kind's layout."""
    layouts = key_token_layouts()
    if d.kind not in layouts:
        raise ValueError(f"unknown op kind {d.kind!r}; known: {tuple(layouts)}")
    return "-".join([d.kind, *(tok for t in layouts[d.kind] if (tok := _FORMAT[t](d)) is not None)])


def parse_key(key: str) -> OpDescriptor:
    """Inverse of :func:`format_key`; raises ``ValueError`` naming the bad part."""
    tokens = key.strip().split("-")
    kind, fields = tokens[0], {}
    layouts = key_token_layouts()
    if kind not in layouts:
        raise ValueError(f"latency key {key!r}: unknown op kind {kind!r}; known: {tuple(layouts)}")
    for tok in tokens[1:]:
        m = _SHAPE.match(tok)
        if m:
            fields[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            continue
        m = _INT.match(tok)
        if m:
            fields[m.group(1)] = int(m.group(2))
            continue
        if tok in ACTIVATIONS:
            fields["act"] = tok
            continue
        raise ValueError(f"latency key {key!r}: cannot read token {tok!r}")
    if "in" not in fields:
        raise ValueError(f"latency key {key!r}: no input shape (in<H>x<W>x<C>)")
    inp = fields["in"]
    if kind == "head":
        d = OpDescriptor("head", inp, (1, 1, fields.get("out", 0)), activation=fields.get("act", ""),
                         head_channels=fields.get("c", 0), mix_channels=fields.get("m", 0))
    elif kind == "stem":
        d = OpDescriptor("stem", inp, fields.get("out", (0, 0, 0)), kernel=fields.get("k", 0),
                         stride=fields.get("s", 1), activation=fields.get("act", ""))
    else:  # a searchable op's key: the op class rebuilds its descriptor at the key's geometry
        out = fields.get("out", inp)
        if not isinstance(out, tuple) or inp[0] != inp[1]:
            raise ValueError(f"latency key {key!r}: needs square in<H>x<H>x<C> and out<H>x<W>x<C> shapes")
        raw = OpDescriptor(kind, inp, out, fields.get("k", 0), fields.get("e", 0), fields.get("s", 1),
                           fields.get("act", ""))
        try:
            d = op_descriptor(raw.layer(), raw.op(), raw.activation)
        except ValueError as e:
            raise ValueError(f"latency key {key!r}: {e}") from None
    if d.key != key.strip():
        raise ValueError(f"latency key {key!r} is not in canonical form (expected {d.key!r})")
    return d


# ------------------------------------------------------------ space -> keys
def op_descriptor(layer: LayerSpec, op: OpSpec, activation: str) -> OpDescriptor:
    """Descriptor of candidate ``op`` at ``layer`` (the op kind names its key fields)."""
    inp = (layer.in_size, layer.in_size, layer.in_channels)
    out = (layer.out_size, layer.out_size, layer.out_channels)
    return OpDescriptor(in_shape=inp, out_shape=out, **op.key_fields(layer, activation))


def stem_descriptor(space: SearchSpace) -> OpDescriptor:
    size = conv_out_size(space.input_size, space.stem_kernel, space.stem_stride)
    return OpDescriptor("stem", (space.input_size, space.input_size, space.in_channels),
                        (size, size, space.stem_channels), space.stem_kernel, 0, space.stem_stride,
                        space.activation)


def head_descriptor(space: SearchSpace) -> OpDescriptor:
    return OpDescriptor("head", (space.final_size, space.final_size, space.final_channels),
                        (1, 1, space.num_classes), activation=space.activation,
                        head_channels=space.head_channels, mix_channels=space.head_mix_channels)


def layer_keys(space: SearchSpace) -> list[list[str]]:
    """``keys[layer][choice]``: the key of every (layer, choice) of ``space``."""
    return [[op_descriptor(layer, op, space.activation).key for op in layer.candidates]
            for layer in space.layers]


def fixed_keys(space: SearchSpace) -> list[str]:
    """Keys of the parts every arch runs: stem and head."""
    return [stem_descriptor(space).key, head_descriptor(space).key]


def space_keys(space: SearchSpace, include_fixed: bool = True, include_noops: bool = False) -> list[str]:
    """Distinct keys of ``space`` in network order (stem, layers, head)."""
    keys: Iterable[str] = [k for row in layer_keys(space) for k in row]
    if include_fixed:
        stem, head = fixed_keys(space)
        keys = [stem, *keys, head]
    out = list(dict.fromkeys(keys))
    return out if include_noops else [k for k in out if not is_noop_key(k)]


def is_noop_key(key: str) -> bool:
    return key.startswith("identity-")


# ------------------------------------------------------------ key -> module
def build_module(desc: "OpDescriptor | str") -> nn.Module:
    """A fresh module computing the op a key describes (weights do not matter)."""
    d = parse_key(desc) if isinstance(desc, str) else desc
    cin, cout = d.in_shape[2], d.out_shape[2]
    if d.kind == "stem":
        return ConvBN(cin, cout, d.kernel, d.stride, activation=d.activation)
    if d.kind == "head":
        return Head(cin, d.head_channels, d.num_classes, d.activation, d.mix_channels)
    return d.op().build(d.layer(), d.activation)


def example_input(desc: "OpDescriptor | str", batch: int, device: "torch.device | str" = "cpu") -> torch.Tensor:
    """A random input of the op's shape, NCHW, float32."""
    d = parse_key(desc) if isinstance(desc, str) else desc
    h, w, c = d.in_shape
    return torch.randn(batch, c, h, w, device=device)
