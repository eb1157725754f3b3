"""The `Sampler` base class: which archs are trained (gradients summed) at each step, and the
hooks through which a sampler shapes the rest of a training step."""
from __future__ import annotations

import abc
import numbers
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from ..space.arch import Arch

if TYPE_CHECKING:  # samplers stay importable without torch (search-only installs)
    import torch
    from torch import nn

#: hooks a sampler may override; a wrapper that drives only ``step_archs`` (the few-shot
#: round robin) refuses samplers that override any of them
SCHEDULE_HOOKS: tuple[str, ...] = ("configure", "before_step", "teacher", "lr_at")


class Sampler(abc.ABC):
    """Hands out the archs of one optimizer step; every other hook is an explicit no-op default.

    Every draw is a function of ``(seed, step)`` -- never of a per-process RNG -- so a resumed
    run and every DDP rank draw the same archs at the same step. The Trainer calls, per run:
    :meth:`check_model` and :meth:`configure` once at construction; per optimizer step, in
    order: :meth:`before_step`, :meth:`step_archs`, :meth:`teacher`, :meth:`lr_at`, then
    forward/backward of each arch, then :meth:`after_step` with each arch's loss;
    :meth:`describe` for progress bars and metrics rows.

    A subclass implements :meth:`step_archs` and overrides only the hooks it needs. State the
    sampler changes from feedback (:meth:`after_step`) must go into :meth:`state_dict`, so a
    resumed run continues exactly.
    """

    #: registry name; stored with the state and checked on resume
    name: ClassVar[str] = "sampler"
    #: supernet sharing kinds this sampler can train (``model.sharing``); None: any
    requires_sharing: ClassVar[frozenset[str] | None] = None
    #: True: all archs of a step see one batch; False: one batch each (FairNAS's setting)
    same_batch: bool = True

    @abc.abstractmethod
    def step_archs(self, step: int) -> list[Arch]:
        """The archs whose gradients are summed into optimizer step ``step``."""

    # ------------------------------------------------------------------ schedule
    @property
    def total_epochs(self) -> float | None:
        """The run's length when the sampler owns the schedule (overrides ``train.epochs``); None: the Trainer's."""
        return None

    def configure(self, steps_per_epoch: int, total_batches: int, base_lr: float) -> None:
        """Called once by the Trainer before the first step (turn epochs into steps)."""

    def lr_at(self, step: int, batch: int) -> float | None:
        """Learning rate of optimizer step ``step`` (``batch`` batches consumed); None: the Trainer's schedule."""
        return None

    def teacher(self, step: int) -> tuple[Arch, float] | None:
        """``(teacher arch, distillation weight)`` for step ``step``, or None for no distillation."""
        return None

    # ------------------------------------------------------------------ step hooks
    def check_model(self, model: "nn.Module") -> None:
        """Refuse, with one line saying what to set, a model this sampler cannot train."""
        net = getattr(model, "module", model)
        sharing = getattr(net, "sharing", None)
        if self.requires_sharing is not None and sharing not in self.requires_sharing:
            need = " or ".join(sorted(self.requires_sharing))
            raise ValueError(f"sampler={self.name} trains a supernet with {need} weight sharing, got "
                             f"{type(net).__name__} (sharing={sharing!r}): set supernet={sorted(self.requires_sharing)[0]}")

    def before_step(self, step: int, model: "nn.Module", optimizer: "torch.optim.Optimizer") -> None:
        """Before step ``step`` draws its archs. A hook that changes weights in place must keep the
        optimizer's per-parameter state (momentum) in step with them."""

    def after_step(self, step: int, archs: Sequence[Arch], losses: Sequence[float]) -> None:
        """After step ``step``: ``losses[j]`` is the training loss of ``archs[j]`` (mean over the
        step's batch, over every rank under DDP), so adaptive samplers can learn from it."""

    def describe(self, step: int) -> dict[str, Any]:
        """Columns for progress bars and metrics.csv at step ``step``."""
        return {"sampler": self.name}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"sampler state is for {state.get('name')!r}, this sampler is {self.name!r}")


def overridden_hooks(sampler: Sampler, hooks: Sequence[str] = SCHEDULE_HOOKS) -> list[str]:
    """The ``hooks`` that ``sampler``'s class overrides (i.e. are not the base's no-ops)."""
    return [h for h in hooks if getattr(type(sampler), h) is not getattr(Sampler, h)]


def checked_kd_weight(value: Any) -> float:
    """``sampler.kd_weight`` as a float, or raise: a number >= 0 (0 turns distillation off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"sampler.kd_weight must be >= 0 (0 turns distillation off), got {value!r}")
    return float(value)


def step_rng(seed: int, step: int, salt: int = 0) -> np.random.Generator:
    """Independent, reproducible generator for one step."""
    return np.random.default_rng([int(seed), int(step), int(salt)])


class SeededSampler(Sampler):
    """Base for samplers whose only state is their seed and name."""

    name = "base"

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.seed = int(state["seed"])
