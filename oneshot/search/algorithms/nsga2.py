"""NSGA-II (pymoo's) with the operators of :mod:`oneshot.search.operators`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
from pymoo.operators.selection.tournament import TournamentSelection

from ..operators import (ArchiveDuplicateElimination, CanonicalRepair, FeasibleSampling, ImmigrantMating,
                         RandomResetMutation, make_crossover)
from .registry import register


@dataclass
class NSGA2Options:
    """Defaults tuned on NAS-Bench-Macro (benchmarks/search_quality.py --ablation): at budgets of
    ~1,000 evaluations small populations win; larger spaces and budgets may want a larger one."""

    pop_size: int = 20
    crossover: str = "two_point"  # uniform | one_point | two_point
    crossover_prob: float = 0.9
    mutation_prob: Optional[float] = None  # per gene; None = 1 / layers
    mutation_at_least_one: bool = True  # a mutated genome always differs
    immigrants: bool = True  # fill offspring that mating cannot make new with random new archs
    mating_retries: int = 10
    feasible_sampling: bool = True  # initial population meets the constraints first


def make_nsga2(problem, options: NSGA2Options) -> NSGA2:
    """An NSGA-II whose every generation brings ``pop_size`` new canonical archs (when any are left)."""
    if options.pop_size < 1:
        raise ValueError(f"pop_size must be >= 1, got {options.pop_size}")
    repair = CanonicalRepair()
    dedup = ArchiveDuplicateElimination(problem)
    mating = ImmigrantMating(TournamentSelection(func_comp=binary_tournament),
                             make_crossover(options.crossover, options.crossover_prob),
                             RandomResetMutation(prob_var=options.mutation_prob,
                                                 at_least_one=options.mutation_at_least_one),
                             repair=repair, eliminate_duplicates=dedup, n_max_iterations=options.mating_retries,
                             immigrants=options.immigrants)
    return NSGA2(pop_size=options.pop_size, sampling=FeasibleSampling(feasible_first=options.feasible_sampling),
                 mating=mating, repair=repair, eliminate_duplicates=dedup)


register("nsga2", NSGA2Options, "pymoo NSGA-II, canonical repair, archive-wide dedupe, immigrants")(make_nsga2)
