"""SPOS uniform sampling, unconstrained and within a FLOPs range."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace
from .base import SeededSampler, step_rng
from ..errors import UnsatisfiableError


class UniformSampler(SeededSampler):
    """One uniformly random single path per step (Guo et al., SPOS).

    ``canonical=True`` draws uniformly over distinct *networks* instead of arch strings
    (de-isomorphic sampling, Ning et al. 2021): strings that build the same network (a
    no-op moved within its stage) are redrawn until canonical, which is the form every
    evaluator and search scores. Plain uniform strings over-sample shallow networks (a
    network with k no-ops in a stage has many strings) and train weights in positions no
    evaluated network uses. Rejection sampling is bounded by ``max_tries`` per step.

    ``allowed`` (per layer, the choice indices to draw from; default all) restricts the
    draws to a product set, e.g. one few-shot slice (:mod:`oneshot.supernet.few_shot`).
    """

    name = "uniform"

    def __init__(self, space: SearchSpace, seed: int = 0, archs_per_step: int = 1, canonical: bool = False,
                 max_tries: int = 10_000, allowed: Sequence[Sequence[int]] | None = None):
        super().__init__(seed)
        if archs_per_step < 1:
            raise ValueError(f"archs_per_step must be >= 1, got {archs_per_step}")
        self.space = space
        self.archs_per_step = archs_per_step
        self.canonical = bool(canonical)
        self.max_tries = int(max_tries)
        self.allowed = check_allowed(space, allowed)

    def step_archs(self, step: int) -> list[Arch]:
        return draw_archs(step_rng(self.seed, step), self.space, self.archs_per_step, self.canonical,
                          self.max_tries, step, self.allowed)


def draw_archs(rng: np.random.Generator, space: SearchSpace, count: int, canonical: bool, max_tries: int,
               step: int, allowed: Sequence[Sequence[int]] | None = None) -> list[Arch]:
    """``count`` uniform archs of step ``step`` (distinct networks in canonical form with ``canonical``,
    else uniform strings); raise if ``max_tries`` draws give too few canonical ones."""
    if not canonical:
        return [Arch(g) for g in draw_genomes(rng, space, count, allowed)]
    out = draw_accepted(rng, space, count, space.is_canonical_batch, max_tries, allowed=allowed)
    if len(out) < count:
        raise UnsatisfiableError(
            f"step {step}: only {len(out)} of {count} canonical archs in {max_tries} "
            f"uniform draws from space {space.name!r}; raise sampler.max_tries or set "
            "sampler.canonical=false"
        )
    return out


def check_allowed(space: SearchSpace,
                  allowed: Sequence[Sequence[int]] | None) -> tuple[tuple[int, ...], ...] | None:
    """``allowed`` as tuples, or raise naming the layer whose choices are empty or out of range."""
    if allowed is None:
        return None
    if len(allowed) != space.num_layers:
        raise ValueError(f"allowed choices given for {len(allowed)} layers, space {space.name!r} has "
                         f"{space.num_layers}")
    out = tuple(tuple(int(c) for c in choices) for choices in allowed)
    for i, (choices, n) in enumerate(zip(out, space.num_choices)):
        if not choices or len(set(choices)) != len(choices) or not all(0 <= c < n for c in choices):
            raise ValueError(f"layer {i}: allowed choices {list(choices)} must be distinct, non-empty, in 0..{n - 1}")
    return out


def draw_genomes(rng: np.random.Generator, space: SearchSpace, count: int,
                 allowed: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """``(count, layers)`` uniform draws, per layer from ``allowed`` (default: every choice;
    then exactly :meth:`SearchSpace.sample`'s draws)."""
    if allowed is None:
        return rng.integers(0, space.num_choices, (count, space.num_layers))
    sizes = np.array([len(a) for a in allowed], dtype=np.int64)
    picks = rng.integers(0, sizes, (count, space.num_layers))
    return np.stack([np.asarray(a)[picks[:, i]] for i, a in enumerate(allowed)], axis=1)


def draw_accepted(rng: np.random.Generator, space: SearchSpace, count: int,
                  accept: Callable[[np.ndarray], np.ndarray], max_tries: int, chunk: int = 64,
                  allowed: Sequence[Sequence[int]] | None = None) -> list[Arch]:
    """Rejection sampling: uniform draws (from ``allowed``, see :func:`draw_genomes`), in
    chunks, until ``count`` pass ``accept`` (a vectorised ``(n, layers) -> bool mask``) or
    ``max_tries`` draws are spent (then fewer)."""
    out: list[Arch] = []
    tries = 0
    while len(out) < count and tries < max_tries:
        genomes = draw_genomes(rng, space, chunk, allowed)
        tries += chunk
        out.extend(Arch(g) for g in genomes[accept(genomes)])
    return out[:count]


class FixedSampler(SeededSampler):
    """Always the same arch: stand-alone training through the same Trainer."""

    name = "fixed"

    def __init__(self, space: SearchSpace, arch: Sequence[int], seed: int = 0):
        super().__init__(seed)
        self.arch = space.validate(arch)

    def step_archs(self, step: int) -> list[Arch]:
        return [self.arch]


class UniformConstraintSampler(SeededSampler):
    """Uniform over archs whose FLOPs lie in ``[flops_min, flops_max]`` (SPOS's variant).

    Rejection sampling with a bounded number of draws per step; an empty range is
    refused at construction, stating the space's smallest and largest FLOPs.
    """

    name = "uniform_constraint"

    def __init__(self, space: SearchSpace, flops_min: float | None = None, flops_max: float | None = None,
                 seed: int = 0, max_tries: int = 1000, archs_per_step: int = 1):
        super().__init__(seed)
        self.space, self.costs = space, CostModel(space)
        lo, hi = self.costs.bounds("flops")
        self.flops_min = float(flops_min) if flops_min is not None else lo
        self.flops_max = float(flops_max) if flops_max is not None else hi
        if self.flops_max < lo or self.flops_min > hi:
            raise ValueError(
                f"FLOPs range [{self.flops_min:.4g}, {self.flops_max:.4g}] is empty for space {space.name!r}: "
                f"its archs have {lo:.4g} to {hi:.4g} FLOPs (multiply-accumulates)"
            )
        if self.flops_min > self.flops_max:
            raise ValueError(f"sampler flops_min={self.flops_min:.4g} is above flops_max={self.flops_max:.4g}")
        self.max_tries = int(max_tries)
        self.archs_per_step = archs_per_step
        self._check_reachable()

    def _check_reachable(self) -> None:
        rng = np.random.default_rng([self.seed, 2**31])
        genomes = rng.integers(0, self.space.num_choices, (self.max_tries, self.space.num_layers))
        if not self._inside(genomes).any():
            lo, hi = self.costs.bounds("flops")
            raise ValueError(
                f"no arch with FLOPs in [{self.flops_min:.4g}, {self.flops_max:.4g}] found in {self.max_tries} "
                f"uniform draws (space {self.space.name!r} spans {lo:.4g}..{hi:.4g}); widen the range or "
                "raise sampler.max_tries"
            )

    def _inside(self, genomes: np.ndarray) -> np.ndarray:
        f = self.costs.flops(genomes)
        return (f >= self.flops_min) & (f <= self.flops_max)

    def step_archs(self, step: int) -> list[Arch]:
        rng = step_rng(self.seed, step)
        out = draw_accepted(rng, self.space, self.archs_per_step, self._inside, self.max_tries)
        if len(out) < self.archs_per_step:
            raise UnsatisfiableError(
                f"step {step}: no arch inside the FLOPs range after {self.max_tries} draws; widen the range"
            )
        return out
