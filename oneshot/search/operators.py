"""pymoo operators for categorical per-layer genomes.

* :class:`CanonicalRepair` maps every genome to its canonical arch, so pymoo's
  duplicate elimination works on networks, not strings.
* :class:`RandomResetMutation` resets each gene with probability ``prob_var`` to a
  *different* choice, uniformly (pymoo has no categorical mutation for int genomes).
* :class:`ArchiveDuplicateElimination` also rejects offspring the search has seen
  before, so every generation brings new networks to the evaluator.
* :class:`ImmigrantMating` is pymoo's mating with few retries; slots it cannot fill
  with new offspring (a converged population in a small space) are filled with
  random new archs, so every generation evaluates ``pop_size`` new networks.
* :class:`FeasibleSampling` draws distinct canonical genomes, those that meet the
  cost constraints first (costs are free; accuracy is not).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.mating import Mating
from pymoo.core.mutation import Mutation
from pymoo.core.population import Population
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling
from pymoo.operators.crossover.pntx import SinglePointCrossover, TwoPointCrossover
from pymoo.operators.crossover.ux import UniformCrossover

CROSSOVERS = ("uniform", "one_point", "two_point")


class CanonicalRepair(Repair):
    """Replace each genome by its canonical form (``space.canonical_batch``)."""

    def _do(self, problem, X, **kwargs):
        return problem.canonical(X)


class RandomResetMutation(Mutation):
    """Per gene, with probability ``prob_var`` (default ``1 / n_var``), pick another choice.

    ``at_least_one``: a mutated individual whose draw changed no gene gets one random
    gene reset (so mutation always yields a different genome).
    """

    def __init__(self, prob: float = 1.0, prob_var: float | None = None, at_least_one: bool = False,
                 **kwargs: Any):
        super().__init__(prob=prob, prob_var=prob_var, **kwargs)
        self.at_least_one = at_least_one

    def _do(self, problem, X, random_state=None, **kwargs):
        X = np.rint(np.asarray(X, dtype=np.float64)).astype(np.int64)
        n, n_var = X.shape
        choices = (np.asarray(problem.xu) - np.asarray(problem.xl) + 1).astype(np.int64)
        prob_var = np.asarray(self.get_prob_var(problem, size=n), dtype=np.float64).reshape(-1, 1)
        can = (choices > 1)[None, :]
        mutate = (random_state.random((n, n_var)) < prob_var) & can
        if self.at_least_one and can.any():
            idle = np.flatnonzero(~mutate.any(axis=1))
            options = np.flatnonzero(can[0])
            mutate[idle, options[random_state.integers(0, len(options), size=len(idle))]] = True
        # a shift in 1..k-1 modulo k is a uniform draw among the other k-1 choices
        shift = random_state.integers(1, np.maximum(choices, 2), size=(n, n_var))
        offset = X - np.asarray(problem.xl, dtype=np.int64)
        moved = (offset + shift) % np.maximum(choices, 1) + np.asarray(problem.xl, dtype=np.int64)
        return np.where(mutate, moved, X)


class ArchiveDuplicateElimination(DefaultDuplicateElimination):
    """Duplicate elimination that also drops genomes already in ``problem.archive``."""

    def __init__(self, problem: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.problem = problem

    def do(self, pop, *args, return_indices=False, to_itself=True):
        if len(pop) and not return_indices:
            X = np.asarray(self.func(pop))
            seen = self.problem.archive.seen(self.problem.canonical(X))
            if seen.any():
                pop = pop[~seen]
        return super().do(pop, *args, return_indices=return_indices, to_itself=to_itself)


class ImmigrantMating(Mating):
    """Mating that tops a short offspring list up with random new archs."""

    def __init__(self, *args: Any, immigrants: bool = True, immigrant_rounds: int = 5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.immigrants = immigrants
        self.immigrant_rounds = immigrant_rounds

    def do(self, problem, pop, n_offsprings, random_state=None, **kwargs):
        off = super().do(problem, pop, n_offsprings, random_state=random_state, **kwargs)
        missing = n_offsprings - len(off)
        if self.immigrants and missing > 0:
            X = sample_distinct(problem, missing, random_state, feasible_first=True,
                                max_rounds=self.immigrant_rounds, exclude=[np.asarray(off.get("X")).reshape(-1, problem.n_var)] if len(off) else [])
            if len(X):
                off = Population.merge(off, Population.new("X", X))
        return off


class FeasibleSampling(Sampling):
    """Distinct canonical random genomes, feasible ones first.

    Draws uniformly random genomes in rounds; keeps those meeting every cost
    constraint (checked with the problem's cost callables, no evaluation) until
    ``n_samples`` are found or ``max_rounds`` rounds are spent, then fills up with the
    least-violating infeasible ones. With ``feasible_first=False`` it is plain
    distinct random sampling.
    """

    def __init__(self, feasible_first: bool = True, max_rounds: int = 50):
        super().__init__()
        self.feasible_first = feasible_first
        self.max_rounds = max_rounds

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        return sample_distinct(problem, n_samples, random_state, feasible_first=self.feasible_first,
                               max_rounds=self.max_rounds)


def sample_distinct(problem: Any, n_samples: int, rng: np.random.Generator, feasible_first: bool = True,
                    max_rounds: int = 50, exclude: "list[np.ndarray] | None" = None) -> np.ndarray:
    """Up to ``n_samples`` distinct canonical genomes, none in ``problem.archive`` or ``exclude``."""
    space = problem.space
    seen: set[bytes] = {np.ascontiguousarray(g, dtype=np.int64).tobytes()
                        for block in (exclude or []) for g in problem.canonical(block)}
    good: list[np.ndarray] = []
    bad: list[tuple[float, np.ndarray]] = []
    batch = max(64, 2 * n_samples)
    for _ in range(max_rounds):
        raw = rng.integers(0, space.num_choices, size=(batch, space.num_layers))
        cand = problem.canonical(raw)
        fresh = ~problem.archive.seen(cand)
        if feasible_first and problem.limits:
            G = problem.constraint_values(problem.cost_values(cand))
            violation = np.clip(G, 0, None).sum(axis=1)
        else:
            violation = np.zeros(len(cand))
        for g, v, ok in zip(cand, violation, fresh):
            key = g.tobytes()
            if not ok or key in seen:
                continue
            seen.add(key)
            if v <= 0:
                good.append(g)
            else:
                bad.append((float(v), g))
        if len(good) >= n_samples:
            break
    if len(good) < n_samples and bad:
        bad.sort(key=lambda t: t[0])
        good.extend(g for _, g in bad[: n_samples - len(good)])
    if not good:
        return np.zeros((0, space.num_layers), dtype=np.int64)
    return np.stack(good[:n_samples]).astype(np.int64)


def make_crossover(name: str = "uniform", prob: float = 0.9) -> Crossover:
    """``uniform`` (UX), ``one_point`` or ``two_point`` crossover."""
    if name in ("uniform", "ux"):
        return UniformCrossover(prob=prob)
    if name == "one_point":
        return SinglePointCrossover(prob=prob)
    if name == "two_point":
        return TwoPointCrossover(prob=prob)
    raise ValueError(f"unknown crossover {name!r}; choose one of {list(CROSSOVERS)}")
