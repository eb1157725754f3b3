"""The `Sampler` protocol: which archs are trained (gradients summed) at each step."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..space.arch import Arch


@runtime_checkable
class Sampler(Protocol):
    """Hands out the archs of one optimizer step.

    Every draw is a function of ``(seed, step)`` -- never of a per-process RNG -- so
    a resumed run and every DDP rank draw the same archs at the same step.
    Optional attributes a sampler may define: ``same_batch`` (bool: all archs of a
    step see one batch instead of one batch each), ``teacher(step)`` -> ``(arch,
    weight)`` or ``None`` for knowledge distillation, ``on_step_start(step, model, optimizer)`` (a hook that changes weights in place
    must keep the optimizer's per-parameter state in step),
    ``describe(step)`` -> dict of columns for progress bars and metrics.csv, and for
    samplers with their own schedule ``total_epochs``, ``configure(steps_per_epoch,
    total_batches, base_lr)`` and ``lr_at(step, batch)``.
    """

    def step_archs(self, step: int) -> list[Arch]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def step_rng(seed: int, step: int, salt: int = 0) -> np.random.Generator:
    """Independent, reproducible generator for one step."""
    return np.random.default_rng([int(seed), int(step), int(salt)])


class SeededSampler:
    """Base for samplers whose only state is their seed and name."""

    name = "base"
    same_batch = True

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"sampler state is for {state.get('name')!r}, this sampler is {self.name!r}")
        self.seed = int(state["seed"])

    def describe(self, step: int) -> dict[str, Any]:
        return {"sampler": self.name}
