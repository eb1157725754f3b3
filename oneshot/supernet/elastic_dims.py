"""Elastic dimensions of a space (kernel / depth / expand) for progressive shrinking.

Plain functions over a :class:`~oneshot.space.SearchSpace` whose candidates are all
``mbconv_k<k>_e<e>`` ops plus optional ``skip`` (the spaces ``sharing="elastic"`` accepts).
A phase of progressive shrinking enables a subset of :data:`ELASTIC_DIMS`; with none
enabled only each layer's largest op (max kernel, max expand) is allowed, ``"kernel"``
adds the smaller kernels (at max expand unless ``"expand"`` is on), ``"expand"`` the
smaller expansion ratios and ``"depth"`` the ``skip`` choices (the stage positions at or
beyond ``min_depth``).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..space.arch import Arch
from ..space.ops import OpSpec
from ..space.space import LayerSpec, SearchSpace

ELASTIC_DIMS: tuple[str, ...] = ("kernel", "depth", "expand")


def check_elastic_space(space: SearchSpace) -> None:
    """Raise if ``space`` has a candidate other than ``mbconv_k*_e*`` / ``skip``, or a layer
    without any mbconv, naming the space, layer and op."""
    for layer in space.layers:
        where = f"space {space.name!r} layer {layer.index} (stage {layer.stage}, position {layer.position})"
        for op in layer.candidates:
            if op.kind not in ("mbconv", "skip"):
                raise ValueError(
                    f"elastic supernet: {where} has candidate op {op.name!r}; sharing='elastic' "
                    "supports only 'mbconv_k<kernel>_e<expand>' ops and 'skip' (use 'skip' for "
                    "elastic depth, or sharing='separate' for this space)")
        mbconvs = _mbconvs(layer)
        if not mbconvs:
            raise ValueError(f"elastic supernet: {where} has no mbconv candidate, only "
                             f"{[op.name for op in layer.candidates]}")
        expands = {op.expand for op in mbconvs}
        if 1 in expands and len(expands) > 1:
            raise ValueError(
                f"elastic supernet: {where} mixes expand 1 with expands {sorted(expands - {1})}; "
                "an e1 MBConv has no expand conv and cannot share its weights")


def _mbconvs(layer: LayerSpec) -> list[OpSpec]:
    return [op for op in layer.candidates if op.kind == "mbconv"]


def layer_maxima(layer: LayerSpec) -> tuple[int, int]:
    """(max kernel, max expand) over the layer's mbconv candidates."""
    ops = _mbconvs(layer)
    return max(op.kernel for op in ops), max(op.expand for op in ops)


def available_dims(space: SearchSpace) -> tuple[str, ...]:
    """The elastic dimensions ``space`` actually has (in :data:`ELASTIC_DIMS` order)."""
    check_elastic_space(space)
    found = set()
    for layer in space.layers:
        ops = _mbconvs(layer)
        if len({op.kernel for op in ops}) > 1:
            found.add("kernel")
        if len({op.expand for op in ops}) > 1:
            found.add("expand")
        if any(op.kind == "skip" for op in layer.candidates):
            found.add("depth")
    return tuple(d for d in ELASTIC_DIMS if d in found)


def check_dims(space: SearchSpace, dims: Iterable[str]) -> frozenset[str]:
    """``dims`` as a frozenset, or raise naming an unknown dimension or one ``space`` lacks."""
    if isinstance(dims, str):
        dims = [dims]
    dims = frozenset(dims)
    unknown = sorted(dims - set(ELASTIC_DIMS))
    if unknown:
        raise ValueError(f"unknown elastic dimension(s) {unknown}: choose from {list(ELASTIC_DIMS)}")
    have = available_dims(space)
    for d in ELASTIC_DIMS:
        if d in dims and d not in have:
            why = {"kernel": "every layer has a single kernel size",
                   "expand": "every layer has a single expansion ratio",
                   "depth": "no layer offers 'skip' (set a stage's min_depth below its layers "
                            "and add 'skip' to the ops)"}[d]
            raise ValueError(f"space {space.name!r} has no elastic {d!r} dimension: {why}; "
                             f"its elastic dimensions are {list(have)}")
    return dims


def _allowed(layer: LayerSpec, dims: frozenset[str]) -> tuple[int, ...]:
    kmax, emax = layer_maxima(layer)
    out = []
    for c, op in enumerate(layer.candidates):
        if op.kind == "skip":
            ok = "depth" in dims
        else:
            ok = (op.kernel == kmax or "kernel" in dims) and (op.expand == emax or "expand" in dims)
        if ok:
            out.append(c)
    if not any(layer.candidates[c].kind == "mbconv" for c in out):
        ops = [op.name for op in layer.candidates]
        raise ValueError(f"layer {layer.index}: no candidate is allowed with elastic dims {sorted(dims)} "
                         f"(the largest op mbconv_k{kmax}_e{emax} is missing from {ops})")
    return tuple(out)


def allowed_choices(space: SearchSpace, dims: Iterable[str] = ()) -> list[tuple[int, ...]]:
    """Per layer, the choice indices allowed when the elastic ``dims`` are enabled."""
    dims = check_dims(space, dims)
    return [_allowed(layer, dims) for layer in space.layers]


def allowed_mask(space: SearchSpace, dims: Iterable[str] = ()) -> np.ndarray:
    """Boolean ``(layers, max choices)`` array: ``mask[i, c]`` is choice ``c`` of layer ``i`` allowed."""
    mask = np.zeros((space.num_layers, int(space.num_choices.max())), dtype=bool)
    for i, choices in enumerate(allowed_choices(space, dims)):
        mask[i, list(choices)] = True
    return mask


def largest_arch(space: SearchSpace) -> Arch:
    """Every layer at its max kernel and max expand, no skip (the only arch with no dims)."""
    return Arch(c[0] for c in allowed_choices(space, ()))


def smallest_arch(space: SearchSpace, dims: Iterable[str] | None = None) -> Arch:
    """The smallest arch allowed with ``dims`` (``None``: every dimension the space has):
    skip where ``"depth"`` allows it, else the allowed op with the smallest (expand, kernel)."""
    dims = check_dims(space, available_dims(space) if dims is None else dims)
    out = []
    for layer in space.layers:
        ops = {c: layer.candidates[c] for c in _allowed(layer, dims)}
        skip = [c for c, op in ops.items() if op.kind == "skip"]
        out.append(skip[0] if skip else min(ops, key=lambda c: (ops[c].expand, ops[c].kernel)))
    return Arch(out)


def sample_arch(space: SearchSpace, dims: Iterable[str], rng: np.random.Generator) -> Arch:
    """OFA-style random arch for a phase: per stage a uniform depth (the number of its
    skippable layers that run), per running layer a uniform allowed kernel/expand op.
    Skips sit at the stage end, so the result is canonical."""
    dims = check_dims(space, dims)
    allowed = [_allowed(layer, dims) for layer in space.layers]
    skipped: set[int] = set()
    if "depth" in dims:
        for stage in sorted({layer.stage for layer in space.layers}):
            tail = [layer.index for layer in space.layers if layer.stage == stage
                    and any(layer.candidates[c].kind == "skip" for c in allowed[layer.index])]
            n_skip = int(rng.integers(0, len(tail) + 1))
            skipped.update(tail[len(tail) - n_skip:])
    out = []
    for layer, choices in zip(space.layers, allowed):
        kinds = [c for c in choices if (layer.candidates[c].kind == "skip") == (layer.index in skipped)]
        out.append(int(kinds[int(rng.integers(0, len(kinds)))]))
    return Arch(out)
