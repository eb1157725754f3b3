"""Random search as a sampling-only pymoo algorithm: distinct random archs, feasible ones first."""
from __future__ import annotations

from dataclasses import dataclass

from pymoo.core.algorithm import Algorithm
from pymoo.core.population import Population

from ..operators import FeasibleSampling
from .registry import register


@dataclass
class RandomOptions:
    pop_size: int = 20  # archs per generation
    feasible_sampling: bool = True


class RandomSearch(Algorithm):
    """Each iteration: ``pop_size`` distinct archs the search has not proposed before."""

    def __init__(self, pop_size: int, sampling: FeasibleSampling, **kwargs):
        super().__init__(**kwargs)
        self.pop_size = pop_size
        self.sampling = sampling

    def _initialize_infill(self) -> Population:
        return self._infill()

    def _infill(self) -> Population:
        return self.sampling.do(self.problem, self.pop_size, random_state=self.random_state)

    def _advance(self, infills=None, **kwargs) -> None:
        self.pop = infills


@register("random", RandomOptions, "distinct uniformly random archs (feasible first)")
def make_random(problem, options: RandomOptions) -> RandomSearch:
    if options.pop_size < 1:
        raise ValueError(f"pop_size must be >= 1, got {options.pop_size}")
    return RandomSearch(options.pop_size, FeasibleSampling(feasible_first=options.feasible_sampling))
