"""Few-shot NAS (Zhao et al., ICML 2021): the one-shot supernet split into K sub-supernets.

The split is on the choices of one or more *split layers*: sub-supernet ``k`` owns the
archs whose split layers take the ``k``-th combination of choices (its *slice*), starts
as a copy of the trained one-shot weights and is trained further on its slice only
(the paper splits the first edge of NAS-Bench-201's cell into its 5 ops and transfers
the one-shot weights to each of the 5 sub-supernets).

Routing respects the canonical form. A no-op inside a run of shape-keeping layers
(:attr:`SearchSpace.noop_runs`) moves to the end of the run without changing the network,
so an arch is routed by the split layers' choices in its *canonical* form: equivalent
archs share a canonical form and go to the same sub-supernet, and every canonical arch
goes to exactly one. Consequences for a split layer at slot ``t`` of a run:

* its canonical choice is a no-op  <=>  at most ``t`` layers of the run are not no-ops,
  so the slice forces no-ops at slots ``>= t`` of the run;
* its canonical choice is op ``c``  <=>  the ``t``-th non-no-op of the run is ``c``; the
  slice's canonical archs have non-no-ops at slots ``< t`` and ``c`` at slot ``t``.

Each slice is therefore the product of per-layer *allowed* choices (:meth:`SupernetSplit.allowed`):
every string in the product routes to the slice, and every canonical arch of the slice
is in the product (the samplers draw from it). Combinations no canonical arch has (a
no-op followed by an op in the same run) are not slices, so K can be smaller than the
product of the split layers' choices. A layer outside every run (e.g. a stage's single
shape-keeping layer, or any stride-2 layer) never changes in the canonical form, and
splitting it gives one slice per choice.
"""
from __future__ import annotations

import copy
import itertools
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..space.arch import Arch
from ..space.space import SearchSpace
from .supernet import SubNet, SuperNet, build_supernet


class SupernetSplit:
    """Which split-layer choices form each slice, and how an arch is routed to one."""

    def __init__(self, space: SearchSpace, layers: Sequence[int]):
        layers = [int(i) for i in layers]
        if not layers:
            raise ValueError("a few-shot split needs at least one split layer, e.g. supernet.split_layers=[1]")
        bad = [i for i in layers if not 0 <= i < space.num_layers]
        if bad:
            raise ValueError(f"split layer(s) {bad} out of range: space {space.name!r} has layers "
                             f"0..{space.num_layers - 1}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"split layers {layers} repeat a layer: give each layer once")
        self.space = space
        self.layers: tuple[int, ...] = tuple(sorted(layers))
        self._run_of = {i: run for run in space.noop_runs for i in run}
        single = [i for i in self.layers if space.num_choices[i] < 2]
        if single:
            raise ValueError(f"split layer(s) {single} have a single candidate: split a layer with choices")
        slices, allowed = [], []
        for combo in itertools.product(*(self._canonical_choices(i) for i in self.layers)):
            per_layer = self._constrain(dict(zip(self.layers, combo)))
            if per_layer is not None:
                slices.append(tuple(int(c) for c in combo))
                allowed.append(per_layer)
        self.slices: tuple[tuple[int, ...], ...] = tuple(slices)
        self._allowed = tuple(allowed)
        self._index = {combo: k for k, combo in enumerate(self.slices)}
        # mixed-radix code of the split layers' choices -> slice (-1: no canonical arch)
        self._radix = np.array([int(space.num_choices[i]) for i in self.layers], dtype=np.int64)
        self._table = np.full(int(np.prod(self._radix)), -1, dtype=np.int64)
        for k, combo in enumerate(self.slices):
            self._table[self._code(np.asarray([combo]))[0]] = k

    # ---------------------------------------------------------------- slices
    def _noop(self, layer: int, choice: int) -> bool:
        return self.space.layers[layer].candidates[choice].is_noop_kind

    def _canonical_choices(self, layer: int) -> list[int]:
        """Choices a canonical arch can have at ``layer`` (inside a run: the ops and the
        layer's one canonical no-op)."""
        spec = self.space.layers[layer]
        if layer not in self._run_of:
            return list(range(len(spec.candidates)))
        return [c for c in range(len(spec.candidates)) if not self._noop(layer, c) or c == spec.noop_choice()]

    def _constrain(self, fixed: Mapping[int, int]) -> tuple[tuple[int, ...], ...] | None:
        """Per layer allowed choices of the slice ``fixed`` (split layer -> choice), or None if empty."""
        allowed = [set(range(n)) for n in self.space.num_choices]
        for layer, choice in fixed.items():
            allowed[layer] &= {choice}
            run = self._run_of.get(layer)
            if run is None:
                continue
            slot = run.index(layer)
            if self._noop(layer, choice):  # at most `slot` ops in the run: no-ops from here on
                for i in run[slot:]:
                    allowed[i] &= {c for c in allowed[i] if self._noop(i, c)}
            else:  # the slot-th op of the run is `choice`: ops before it
                for i in run[:slot]:
                    allowed[i] &= {c for c in allowed[i] if not self._noop(i, c)}
        if any(not a for a in allowed):
            return None
        return tuple(tuple(sorted(a)) for a in allowed)

    def __len__(self) -> int:
        return len(self.slices)

    def allowed(self, k: int) -> tuple[tuple[int, ...], ...]:
        """Per layer, the choices slice ``k``'s archs are drawn from (a product set)."""
        return self._allowed[k]

    def describe(self, k: int) -> str:
        """``"layer1=mbconv_k3_e3"``-style label of slice ``k``."""
        return ",".join(f"layer{i}={self.space.layers[i].candidates[c].name}"
                        for i, c in zip(self.layers, self.slices[k]))

    # ---------------------------------------------------------------- routing
    def _code(self, choices: np.ndarray) -> np.ndarray:
        code = np.zeros(len(choices), dtype=np.int64)
        for j, r in enumerate(self._radix):
            code = code * r + choices[:, j]
        return code

    def route(self, arch: Sequence[int]) -> int:
        """Index of the sub-supernet that owns ``arch`` (by its canonical form)."""
        canon = self.space.canonical(arch)
        return self._index[tuple(canon[i] for i in self.layers)]

    def route_batch(self, genomes: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`route` over an ``(n, layers)`` integer array."""
        canon = self.space.canonical_batch(np.asarray(genomes, dtype=np.int64).reshape(-1, self.space.num_layers))
        return self._table[self._code(canon[:, list(self.layers)])]

    def to_dict(self) -> dict[str, Any]:
        return {"split_layers": list(self.layers), "slices": [list(s) for s in self.slices]}


class FewShotSuperNet(nn.Module):
    """K separate-weights :class:`SuperNet` copies; ``forward(x, arch)`` runs ``arch`` on
    the sub-supernet its canonical form routes to (:class:`SupernetSplit`).

    All sub-supernets start as copies of one supernet (``load_one_shot`` puts the trained
    one-shot weights into each). A training step on one arch touches one sub-supernet's
    parameters only, so the one Trainer (SGD skips parameters without a gradient) trains
    slice by slice with no new loop. The split layers' other candidates stay in each copy,
    unused: the state dict is K one-shot state dicts under ``subnets.<k>.``.
    """

    sharing = "separate"

    def __init__(self, space: SearchSpace, split_layers: Sequence[int]):
        super().__init__()
        self.space = space
        self.split = SupernetSplit(space, split_layers)
        base = SuperNet(space)
        self.subnets = nn.ModuleList([base] + [copy.deepcopy(base) for _ in range(len(self.split) - 1)])

    def load_one_shot(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Copy a one-shot :class:`SuperNet` state dict into every sub-supernet."""
        for sub in self.subnets:
            sub.load_state_dict(state_dict)

    def subnet_for(self, arch: Sequence[int]) -> SuperNet:
        return self.subnets[self.split.route(arch)]

    def forward(self, x: torch.Tensor, arch: Sequence[int]) -> torch.Tensor:
        return self.subnet_for(arch)(x, arch)

    def path_modules(self, arch: Sequence[int]) -> list[nn.Module]:
        return self.subnet_for(arch).path_modules(arch)

    def extract(self, arch: Sequence[int]) -> SubNet:
        return self.subnet_for(arch).extract(arch)

    def spec(self) -> dict[str, Any]:
        """What a checkpoint stores to rebuild this model (see :func:`supernet_from_spec`)."""
        return {"sharing": self.sharing, **self.split.to_dict()}


def supernet_from_spec(space: SearchSpace, spec: Mapping[str, Any] | None) -> nn.Module:
    """The (untrained) model a checkpoint's ``supernet`` entry describes: a
    :class:`FewShotSuperNet` when it has ``split_layers``, else :func:`build_supernet`."""
    spec = dict(spec or {})
    sharing = spec.get("sharing", "separate")
    layers = spec.get("split_layers")
    if not layers:
        return build_supernet(space, sharing)
    if sharing != "separate":
        raise ValueError(f"few-shot split needs supernet sharing 'separate', got {sharing!r}")
    model = FewShotSuperNet(space, layers)
    stored = spec.get("slices")
    if stored is not None and [list(s) for s in stored] != [list(s) for s in model.split.slices]:
        raise ValueError(f"checkpoint slices {stored} differ from those this version derives "
                         f"({[list(s) for s in model.split.slices]}) for split layers {list(layers)}")
    return model


def route_archs(model: nn.Module, archs: Sequence[Arch]) -> list[tuple[nn.Module, list[Arch]]]:
    """``archs`` grouped by the module that evaluates them: per sub-supernet of a
    :class:`FewShotSuperNet` (in slice order, input order inside), else one group."""
    if not isinstance(model, FewShotSuperNet):
        return [(model, list(archs))]
    if not archs:
        return []
    slices = model.split.route_batch(np.asarray([tuple(a) for a in archs], dtype=np.int64))
    return [(model.subnets[k], [a for a, s in zip(archs, slices) if s == k])
            for k in range(len(model.split)) if (slices == k).any()]
