"""TensorBoard logging of supernet training (``runtime.tensorboard=true``), via torch.utils.tensorboard."""
from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from ..errors import UnsatisfiableError


def summary_writer(log_dir: "str | Path"):
    """A ``SummaryWriter`` on ``log_dir``, or a clear error naming the package to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch imports the tensorboard package lazily
        raise UnsatisfiableError("runtime.tensorboard=true needs the tensorboard package: pip install tensorboard "
                           "(or set runtime.tensorboard=false)") from e
    return SummaryWriter(log_dir=str(log_dir))


class TensorBoardLogger:
    """A :class:`~oneshot.train.Trainer` callback writing scalars against the optimizer step.

    Per step: ``train/loss``, ``train/acc``, ``train/lr``, ``train/images_per_s``, the sampler's
    numeric state (``sampler/phase_index``, ``sampler/phase_progress`` ...). Per epoch: every
    numeric column of the metrics row as ``epoch/<column>`` (reference-subnet accuracies included).
    Give it to rank 0 only.
    """

    def __init__(self, log_dir: "str | Path"):
        self.writer = summary_writer(log_dir)

    def on_step_end(self, trainer: Any, info: dict[str, Any]) -> None:
        step = trainer.step
        for key in ("loss", "acc", "lr", "images_per_s"):
            self.writer.add_scalar(f"train/{key}", info[key], step)
        self._sampler_state(trainer, step)

    def _sampler_state(self, trainer: Any, step: int) -> None:
        sampler = trainer.sampler
        phase_index = getattr(sampler, "phase_index", None)
        if phase_index is not None:
            self.writer.add_scalar("sampler/phase_index", phase_index(step - 1), step)
        describe = getattr(sampler, "describe", None)
        for key, value in (describe(step - 1) if describe is not None else {}).items():
            if _is_number(value):
                self.writer.add_scalar(f"sampler/{key}", value, step)

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if _is_number(value) and key not in ("epoch", "step", "batch"):
                self.writer.add_scalar(f"epoch/{key}", value, trainer.step)
        self.writer.flush()

    def on_fit_end(self, trainer: Any) -> None:
        self.writer.flush()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
