"""Training strategies: what one optimizer step of the :class:`~oneshot.train.Trainer` does.

The Trainer owns the loop, batches, checkpoints, resume, AMP, DDP and metrics; a strategy owns
one step. :class:`SamplerStrategy` is the simplest (a :class:`~oneshot.sampling.base.Sampler`
hands out archs, their gradients are summed, one SGD step); differentiable search
(:mod:`oneshot.dnas`) is another (alternating weight and architecture-parameter steps).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from ..sampling.base import Sampler
from .distributed import average_gradients, mean_over_ranks

if TYPE_CHECKING:
    from .trainer import Trainer


@dataclass
class StepResult:
    """What a step reports to the Trainer's metrics: summed loss over ``forwards`` training
    forwards, correct predictions over ``images``, training batches consumed, learning rate."""

    loss: float
    forwards: int
    correct: int
    images: int
    batches: int
    lr: float


class TrainingStrategy(abc.ABC):
    """One optimizer step of training, and the state it needs to resume exactly.

    The Trainer calls :meth:`check_model` and :meth:`configure` once at construction, then
    :meth:`attach` (model on its device, weight optimizer built); :meth:`run_step` per step;
    :meth:`describe` for progress and metrics rows. :meth:`state_dict` goes into the
    checkpoint under :attr:`checkpoint_key`; :meth:`finite_state` is checked with the weights
    before every save.
    """

    name: ClassVar[str] = "strategy"
    #: the checkpoint entry holding :meth:`state_dict`
    checkpoint_key: ClassVar[str] = "strategy"

    @property
    def total_epochs(self) -> float | None:
        """The run's length when the strategy owns it (overrides ``train.epochs``); None: the Trainer's."""
        return None

    def check_model(self, model: nn.Module) -> None:
        """Refuse, with one line saying what to set, a model this strategy cannot train."""

    def configure(self, steps_per_epoch: int, total_batches: int, base_lr: float) -> None:
        """Called once before the first step (turn epochs into steps)."""

    def attach(self, trainer: "Trainer") -> None:
        """Called once after the model is on its device and the weight optimizer exists."""

    @abc.abstractmethod
    def run_step(self, trainer: "Trainer") -> StepResult:
        """Optimizer step ``trainer.step`` (batch ``trainer.batch`` onwards); the Trainer advances both."""

    def describe(self, step: int) -> dict[str, Any]:
        return {"strategy": self.name}

    def finite_state(self) -> dict[str, Any]:
        """Tensors (beside the model and weight optimizer) that must be finite in a good checkpoint."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint strategy state is for {state.get('name')!r}, this run is {self.name!r}")


class SamplerStrategy(TrainingStrategy):
    """The single-path one-shot step: the sampler's archs, gradients summed, one weight step."""

    checkpoint_key = "sampler"

    def __init__(self, sampler: Sampler):
        self.sampler = sampler
        self.name = sampler.name  # type: ignore[misc]

    @property
    def total_epochs(self) -> float | None:
        return self.sampler.total_epochs

    def check_model(self, model: nn.Module) -> None:
        self.sampler.check_model(model)

    def configure(self, steps_per_epoch: int, total_batches: int, base_lr: float) -> None:
        self.sampler.configure(steps_per_epoch=steps_per_epoch, total_batches=total_batches, base_lr=base_lr)

    def describe(self, step: int) -> dict[str, Any]:
        return self.sampler.describe(step)

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)

    def run_step(self, trainer: "Trainer") -> StepResult:
        sampler, step = self.sampler, trainer.step
        sampler.before_step(step, trainer.model, trainer.optimizer)
        archs = sampler.step_archs(step)
        teacher = sampler.teacher(step)
        lr = sampler.lr_at(step, trainer.batch)
        lr = trainer.set_lr(lr)
        trainer.train_mode()
        trainer.optimizer.zero_grad(set_to_none=True)
        same = sampler.same_batch
        x, y = trainer.batch_at(trainer.batch)
        arch_losses: list[float] = []
        correct, images = 0, 0
        t_logits = None
        if teacher is not None and same and teacher[1] > 0 and any(tuple(a) != tuple(teacher[0]) for a in archs):
            t_logits = trainer.teacher_logits(x, teacher[0])  # one teacher forward per step
        for j, arch in enumerate(archs):
            if j > 0 and not same:
                x, y = trainer.batch_at(trainer.batch + j)
            loss, logits = trainer.loss(x, y, arch, teacher, t_logits if same else None)
            trainer.check_loss(loss, f"arch {arch}")
            trainer.scaler.scale(loss).backward()
            arch_losses.append(loss.item())
            correct += (logits.argmax(1) == y).sum().item()
            images += len(y)
        params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
        average_gradients(params, trainer.dist)  # one all-reduce per step, after all archs (no_sync)
        trainer.clip_and_step()
        sampler.after_step(step, archs, mean_over_ranks(arch_losses, trainer.dist, trainer.device))
        return StepResult(loss=sum(arch_losses), forwards=len(archs), correct=correct, images=images,
                          batches=1 if same else len(archs), lr=lr)


def as_strategy(sampler_or_strategy: "Sampler | TrainingStrategy") -> TrainingStrategy:
    if isinstance(sampler_or_strategy, TrainingStrategy):
        return sampler_or_strategy
    return SamplerStrategy(sampler_or_strategy)
