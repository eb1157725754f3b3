"""FairNAS strict fairness: every candidate of every layer trained once per step."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..space.arch import Arch
from ..space.space import SearchSpace
from .base import SeededSampler, step_rng
from .uniform import check_allowed


class FairSampler(SeededSampler):
    """Strict fairness (Chu et al., FairNAS).

    Each step draws, for every layer independently, a random permutation of its
    choices; the ``m`` archs read column-wise are trained and their gradients
    summed before one optimizer step. ``m`` is the largest number of choices of any
    layer. A layer with ``n < m`` choices fills its column with a random permutation
    of its choices repeated and cut to length ``m`` (then shuffled), so within a step
    its choices' counts differ by at most one -- and are equal when ``n`` divides ``m``.

    ``same_batch=False`` (the paper's setting) feeds each of the ``m`` archs its own batch.

    ``allowed`` (per layer, the choice indices to permute; default all) gives strict
    fairness inside a product set, e.g. one few-shot slice: a layer with one allowed
    choice (a split layer) is that choice in every arch, and ``m`` is the largest number
    of allowed choices.
    """

    name = "fair"

    def __init__(self, space: SearchSpace, seed: int = 0, same_batch: bool = False,
                 allowed: Sequence[Sequence[int]] | None = None):
        super().__init__(seed)
        if allowed is None:
            for layer in space.layers:
                if len(layer.candidates) < 2:
                    raise ValueError(
                        f"fair sampling needs >= 2 candidates in every layer; layer {layer.index} has only "
                        f"{layer.candidates[0].name!r}: give it more ops or use sampler=uniform"
                    )
        self.space = space
        self.same_batch = bool(same_batch)
        self.allowed = check_allowed(space, allowed)
        self._choices = [np.asarray(a) for a in self.allowed] if self.allowed is not None else None
        self.m = int(max(len(a) for a in self.allowed)) if self.allowed is not None else int(space.num_choices.max())

    def columns(self, rng: np.random.Generator) -> np.ndarray:
        """An ``(m, layers)`` array: row j is the j-th arch of the step."""
        cols = []
        sizes = self.space.num_choices if self._choices is None else [len(c) for c in self._choices]
        for i, n in enumerate(sizes):
            reps = -(-self.m // int(n))
            col = np.concatenate([rng.permutation(int(n)) for _ in range(reps)])[: self.m]
            col = rng.permutation(col) if reps > 1 else col
            cols.append(col if self._choices is None else self._choices[i][col])
        return np.stack(cols, axis=1)

    def step_archs(self, step: int) -> list[Arch]:
        return [Arch(row) for row in self.columns(step_rng(self.seed, step))]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "same_batch": self.same_batch}
