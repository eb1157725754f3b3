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
    proj-in32x32x32-out16x16x64-s2             1x1 conv + BN, no activation (the
                                                 identity of a shape-changing layer)
    identity-in16x16x64                        true no-op (shape kept)
    head-in4x4x256-c1280-out10-relu            1x1 conv to c + BN + act, global
                                                 average pool, linear to out classes

The activation (``relu``, ``relu6``, ``hswish``) is part of every key whose op
applies one. A true no-op has a key but is **never measured**: its cost is 0 by
definition (an ``nn.Identity`` costs a Python call, below the table's
resolution; the per-table affine correction absorbs any constant overhead).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from ..nn.blocks import ConvBN, Head, MBConv
from ..space.ops import OpSpec
from ..space.space import LayerSpec, SearchSpace, conv_out_size

KINDS = ("stem", "mbconv", "proj", "identity", "head")
ACTIVATIONS = ("relu", "relu6", "hswish")

Shape = tuple[int, int, int]  # (height, width, channels)

_SHAPE = re.compile(r"^(in|out)(\d+)x(\d+)x(\d+)$")
_INT = re.compile(r"^(k|e|s|c|out)(\d+)$")


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

    @property
    def is_noop(self) -> bool:
        return self.kind == "identity"

    @property
    def num_classes(self) -> int:
        return self.out_shape[2] if self.kind == "head" else 0

    @property
    def key(self) -> str:
        return format_key(self)

    def __str__(self) -> str:
        return self.key


def _shape(prefix: str, shape: Shape) -> str:
    return f"{prefix}{shape[0]}x{shape[1]}x{shape[2]}"


def format_key(d: OpDescriptor) -> str:
    """The canonical key string of a descriptor."""
    if d.kind == "identity":
        return f"identity-{_shape('in', d.in_shape)}"
    if d.kind == "proj":
        return f"proj-{_shape('in', d.in_shape)}-{_shape('out', d.out_shape)}-s{d.stride}"
    if d.kind == "mbconv":
        return (f"mbconv-{_shape('in', d.in_shape)}-{_shape('out', d.out_shape)}"
                f"-k{d.kernel}-e{d.expand}-s{d.stride}-{d.activation}")
    if d.kind == "stem":
        return (f"stem-{_shape('in', d.in_shape)}-{_shape('out', d.out_shape)}"
                f"-k{d.kernel}-s{d.stride}-{d.activation}")
    if d.kind == "head":
        return f"head-{_shape('in', d.in_shape)}-c{d.head_channels}-out{d.num_classes}-{d.activation}"
    raise ValueError(f"unknown op kind {d.kind!r}; known: {KINDS}")


def parse_key(key: str) -> OpDescriptor:
    """Inverse of :func:`format_key`; raises ``ValueError`` naming the bad part."""
    tokens = key.strip().split("-")
    kind, fields = tokens[0], {}
    if kind not in KINDS:
        raise ValueError(f"latency key {key!r}: unknown op kind {kind!r}; known: {KINDS}")
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
    if kind == "identity":
        d = OpDescriptor("identity", inp, inp)
    elif kind == "head":
        d = OpDescriptor("head", inp, (1, 1, fields.get("out", 0)), activation=fields.get("act", ""),
                         head_channels=fields.get("c", 0))
    else:
        d = OpDescriptor(kind, inp, fields.get("out", (0, 0, 0)), kernel=fields.get("k", 0 if kind != "proj" else 1),
                         expand=fields.get("e", 0), stride=fields.get("s", 1), activation=fields.get("act", ""))
    if d.key != key.strip():
        raise ValueError(f"latency key {key!r} is not in canonical form (expected {d.key!r})")
    return d


# ------------------------------------------------------------ space -> keys
def op_descriptor(layer: LayerSpec, op: OpSpec, activation: str) -> OpDescriptor:
    """Descriptor of candidate ``op`` at ``layer`` (mirrors ``oneshot.nn.blocks.build_op``)."""
    inp = (layer.in_size, layer.in_size, layer.in_channels)
    out = (layer.out_size, layer.out_size, layer.out_channels)
    if op.is_noop_kind:
        if layer.keeps_shape:
            return OpDescriptor("identity", inp, inp)
        return OpDescriptor("proj", inp, out, kernel=1, stride=layer.stride)
    if op.kind == "mbconv":
        return OpDescriptor("mbconv", inp, out, op.kernel, op.expand, layer.stride, activation)
    raise ValueError(f"no latency key for op kind {op.kind!r}")


def stem_descriptor(space: SearchSpace) -> OpDescriptor:
    size = conv_out_size(space.input_size, space.stem_kernel, space.stem_stride)
    return OpDescriptor("stem", (space.input_size, space.input_size, space.in_channels),
                        (size, size, space.stem_channels), space.stem_kernel, 0, space.stem_stride,
                        space.activation)


def head_descriptor(space: SearchSpace) -> OpDescriptor:
    return OpDescriptor("head", (space.final_size, space.final_size, space.final_channels),
                        (1, 1, space.num_classes), activation=space.activation,
                        head_channels=space.head_channels)


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
    if d.kind == "identity":
        return nn.Identity()
    if d.kind == "proj":
        return ConvBN(cin, cout, 1, d.stride)
    if d.kind == "stem":
        return ConvBN(cin, cout, d.kernel, d.stride, activation=d.activation)
    if d.kind == "mbconv":
        return MBConv(cin, cout, d.kernel, d.expand, d.stride, d.activation)
    if d.kind == "head":
        return Head(cin, d.head_channels, d.num_classes, d.activation)
    raise ValueError(f"cannot build a module for op kind {d.kind!r}")


def example_input(desc: "OpDescriptor | str", batch: int, device: "torch.device | str" = "cpu") -> torch.Tensor:
    """A random input of the op's shape, NCHW, float32."""
    d = parse_key(desc) if isinstance(desc, str) else desc
    h, w, c = d.in_shape
    return torch.randn(batch, c, h, w, device=device)
