"""The sandwich rule with in-place distillation for any single-path supernet."""
from __future__ import annotations

import numbers
from typing import Any

from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace
from .base import SeededSampler, checked_kd_weight, step_rng
from .registry import register_sampler
from .uniform import draw_archs


class SandwichSampler(SeededSampler):
    """Largest arch, smallest arch and ``archs_per_step`` random ones per step, gradients summed
    (the sandwich rule of slimmable networks and BigNAS, Yu et al. 2019/2020).

    The largest and smallest are the archs of most and fewest FLOPs (per layer the costliest /
    cheapest choice), in canonical form. With ``kd_weight > 0`` every other arch of the step
    also distils from the largest arch's logits on the same batch (in-place distillation; the
    largest itself learns from the labels only). Unlike ``sampler=progressive`` this trains
    the separate-weights supernet of any space (e.g. NAS-Bench-Macro); the random archs are
    drawn uniformly over distinct networks with ``canonical=True`` (as ``sampler=uniform``).
    """

    name = "sandwich"
    same_batch = True  # the teacher's logits are for the step's one batch

    def __init__(self, space: SearchSpace, seed: int = 0, archs_per_step: int = 2, kd_weight: float = 1.0,
                 canonical: bool = True, max_tries: int = 10_000):
        super().__init__(seed)
        if isinstance(archs_per_step, bool) or not isinstance(archs_per_step, numbers.Integral) or archs_per_step < 0:
            raise ValueError(f"sampler.archs_per_step (random archs besides the largest and smallest) must be an "
                             f"integer >= 0, got {archs_per_step!r}")
        costs = CostModel(space)
        self.space = space
        self.largest = space.canonical(costs.extreme("flops", largest=True))
        self.smallest = space.canonical(costs.extreme("flops", largest=False))
        if tuple(self.largest) == tuple(self.smallest):
            raise ValueError(f"sampler=sandwich: space {space.name!r} has a single network (its largest and "
                             "smallest archs are the same); use sampler=uniform")
        self.archs_per_step = int(archs_per_step)
        self.kd_weight = checked_kd_weight(kd_weight)
        self.canonical = bool(canonical)
        self.max_tries = int(max_tries)

    def step_archs(self, step: int) -> list[Arch]:
        middle = draw_archs(step_rng(self.seed, step), self.space, self.archs_per_step, self.canonical,
                            self.max_tries, step)
        return [self.largest, self.smallest, *middle]

    def teacher(self, step: int) -> tuple[Arch, float] | None:
        return (self.largest, self.kd_weight) if self.kd_weight > 0 else None

    def describe(self, step: int) -> dict[str, Any]:
        return {"sampler": self.name, "kd_weight": self.kd_weight}


register_sampler("sandwich", SandwichSampler)
