"""Elastic dimensions of a space (kernel / depth / expand) for progressive shrinking.

Plain functions over a :class:`~oneshot.space.SearchSpace` whose candidates all declare an
elastic role (:attr:`~oneshot.space.ops.OpSpec.elastic_role`): ``"block"`` ops (``mbconv_k<k>_e<e>``,
``mbconv_se_k<k>_e<e>``: a kernel/expand slice of the layer's shared block) plus optional
``"depth"`` ops (``skip``) -- the spaces ``sharing="elastic"`` accepts.
A phase of progressive shrinking enables a subset of :data:`ELASTIC_DIMS`; with none
enabled only each layer's largest op (max kernel, max expand) is allowed, ``"kernel"``
adds the smaller kernels (at max expand unless ``"expand"`` is on), ``"expand"`` the
smaller expansion ratios and ``"depth"`` the ``skip`` choices (the stage positions at or
beyond ``min_depth``).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..space.arch import Arch
from ..space.ops import OpSpec
from ..space.space import LayerSpec, SearchSpace

ELASTIC_DIMS: tuple[str, ...] = ("kernel", "depth", "expand")


def check_elastic_space(space: SearchSpace) -> None:
    """Raise if ``space`` has a candidate that cannot share an elastic layer, a layer without a
    block op, or a layer whose block ops need different shared blocks, naming space, layer and op."""
    for layer in space.layers:
        where = f"space {space.name!r} layer {layer.index} (stage {layer.stage}, position {layer.position})"
        for op in layer.candidates:
            if op.elastic_role == "none":
                elastic = sorted(n for n, c in OpSpec.registered().items() if c.elastic_role != "none")
                raise ValueError(
                    f"elastic supernet: {where} has candidate op {op.name!r}, which is not elastic; "
                    f"sharing='elastic' supports only the op kinds {elastic} (use 'skip' for "
                    "elastic depth, or sharing='separate' for this space)")
        blocks = _blocks(layer)
        if not blocks:
            raise ValueError(f"elastic supernet: {where} has no elastic block candidate (e.g. mbconv), only "
                             f"{[op.name for op in layer.candidates]}")
        kinds = {(op.kind, op.elastic_block(layer, space.activation)[0]["activation"]) for op in blocks}
        if len(kinds) > 1:
            raise ValueError(
                f"elastic supernet: {where} mixes ops that need different shared blocks "
                f"({sorted(op.name for op in blocks)}: kinds and activations {sorted(kinds)}); "
                "one elastic layer shares one block: use one op kind and one activation per layer")
        expands = {op.expand for op in blocks}
        if 1 in expands and len(expands) > 1:
            raise ValueError(
                f"elastic supernet: {where} mixes expand 1 with expands {sorted(expands - {1})}; "
                "an e1 MBConv has no expand conv and cannot share its weights")


def _blocks(layer: LayerSpec) -> list[OpSpec]:
    """The layer's candidates that are slices of its shared elastic block."""
    return [op for op in layer.candidates if op.elastic_role == "block"]


def _drops(op: OpSpec) -> bool:
    return op.elastic_role == "depth"


def block_plan(layer: LayerSpec, activation: str) -> tuple[dict[str, Any], tuple[tuple[int, int] | None, ...]]:
    """Keyword arguments of an elastic layer's shared block (``kernel_sizes``, ``expand_ratios``
    and the settings its block ops fix, merged) and, per candidate, ``(kernel, expand)`` or
    ``None`` for a depth op."""
    kwargs: dict[str, Any] = {"kernel_sizes": [], "expand_ratios": []}
    plan = []
    for op in layer.candidates:
        if op.elastic_role != "block":
            plan.append(None)
            continue
        settings, kernel, expand = op.elastic_block(layer, activation)
        for name, value in settings.items():
            kwargs[name] = {**(kwargs.get(name) or {}), **value} if isinstance(value, dict) else value
        kwargs["kernel_sizes"].append(kernel)
        kwargs["expand_ratios"].append(expand)
        plan.append((kernel, expand))
    return kwargs, tuple(plan)


def layer_maxima(layer: LayerSpec) -> tuple[int, int]:
    """(max kernel, max expand) over the layer's block candidates."""
    ops = _blocks(layer)
    return max(op.kernel for op in ops), max(op.expand for op in ops)


def available_dims(space: SearchSpace) -> tuple[str, ...]:
    """The elastic dimensions ``space`` actually has (in :data:`ELASTIC_DIMS` order)."""
    check_elastic_space(space)
    found = set()
    for layer in space.layers:
        ops = _blocks(layer)
        if len({op.kernel for op in ops}) > 1:
            found.add("kernel")
        if len({op.expand for op in ops}) > 1:
            found.add("expand")
        if any(_drops(op) for op in layer.candidates):
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
        if _drops(op):
            ok = "depth" in dims
        else:
            ok = (op.kernel == kmax or "kernel" in dims) and (op.expand == emax or "expand" in dims)
        if ok:
            out.append(c)
    if all(_drops(layer.candidates[c]) for c in out):
        ops = [op.name for op in layer.candidates]
        raise ValueError(f"layer {layer.index}: no candidate is allowed with elastic dims {sorted(dims)} "
                         f"(the largest op, kernel {kmax} expand {emax}, is missing from {ops})")
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
        skip = [c for c, op in ops.items() if _drops(op)]
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
                    and any(_drops(layer.candidates[c]) for c in allowed[layer.index])]
            n_skip = int(rng.integers(0, len(tail) + 1))
            skipped.update(tail[len(tail) - n_skip:])
    out = []
    for layer, choices in zip(space.layers, allowed):
        kinds = [c for c in choices if _drops(layer.candidates[c]) == (layer.index in skipped)]
        out.append(int(kinds[int(rng.integers(0, len(kinds)))]))
    return Arch(out)
