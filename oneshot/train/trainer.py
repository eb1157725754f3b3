"""One training loop for every sampler and training strategy: checkpoints, resume, AMP, DDP, metrics."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import runtime
from ..data.tensors import ImageData
from ..sampling.base import Sampler
from ..io import atomic_write_text
from .checkpoint import (NonFiniteCheckpointError, load_checkpoint, non_finite_tensors, rng_state, save_checkpoint,
                         set_rng_state)
from .distributed import DistContext, all_reduce_scalar, shard
from .strategy import TrainingStrategy, as_strategy
from ..checks import TRAIN_RULES, check_settings
from ..errors import OneshotError

log = logging.getLogger(__name__)


class NonFiniteLossError(OneshotError, FloatingPointError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Trainer.fit`, after a resumable checkpoint was saved (``checkpoint`` is None
    when the trainer has no checkpoint path)."""

    def __init__(self, step: int, checkpoint: Path | None):
        super().__init__(f"interrupted at step {step}")
        self.step, self.checkpoint = step, checkpoint


@dataclass
class TrainSettings:
    epochs: float = 10
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5
    decay_bn_and_bias: bool = False
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.1
    grad_clip: float | None = 5.0
    amp: str = "auto"
    channels_last: str = "auto"
    seed: int = 0
    checkpoint_every: int = 0  # optimizer steps; 0 = at each epoch end only
    max_steps: int | None = None  # stop early (the run stays resumable)
    kd_temperature: float = 1.0
    freeze_bn: bool = False  # BN in eval mode while training (fine-tuning; exact DDP equivalence)

    def __post_init__(self) -> None:
        check_settings(vars(self), TRAIN_RULES, "train.")


class Trainer:
    """Trains a supernet (or a stand-alone subnet) with any :class:`Sampler` or
    :class:`~oneshot.train.strategy.TrainingStrategy` (a sampler is run by
    :class:`~oneshot.train.strategy.SamplerStrategy`; differentiable search is another strategy).

    The strategy owns one optimizer step (:meth:`train_step` calls ``strategy.run_step(self)``
    and keeps the books); the helpers it uses are :meth:`batch_at`, :meth:`set_lr`,
    :meth:`train_mode`, :meth:`loss`, :meth:`check_loss` and :meth:`clip_and_step`.
    With a sampler, each optimizer step asks the sampler for its archs, runs forward/backward for
    each (one shared batch, or one batch each when ``sampler.same_batch`` is False),
    sums their gradients, clips and steps once. Batches, archs and augmentation are
    pure functions of ``(seed, step)``, so :meth:`resume` continues to exactly the
    result of an uninterrupted run.

    The sampler's hooks (see :class:`~oneshot.sampling.base.Sampler`): ``check_model`` and
    ``configure`` once here, ``total_epochs`` (overrides ``settings.epochs``); per step
    ``before_step``, ``step_archs``, ``teacher``, ``lr_at`` (None: this trainer's schedule),
    ``after_step`` with each arch's loss, and ``describe`` for progress and metrics.

    ``callbacks`` are objects with any of ``on_step_end(trainer, info)``,
    ``on_epoch_end(trainer, row)`` (may add columns to the metrics row, on every rank)
    and ``on_fit_end(trainer)``: reference-subnet validation, TensorBoard.
    """

    def __init__(self, model: nn.Module, sampler: "Sampler | TrainingStrategy", data: ImageData,
                 settings: TrainSettings, *,
                 checkpoint_path: "str | Path | None" = None, metrics_path: "str | Path | None" = None,
                 device: "str | torch.device" = "auto", extra_state: dict[str, Any] | None = None,
                 progress: bool = True, dist: DistContext | None = None, callbacks: Sequence[Any] = ()):
        self.settings = settings
        self.dist = dist or DistContext.current()
        self.device = runtime.resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device)
        self.channels_last = runtime.use_channels_last(settings.channels_last, self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.strategy = as_strategy(sampler)
        self.strategy.check_model(model)
        #: the sampler (the strategy itself when it is not a sampler's)
        self.sampler = getattr(self.strategy, "sampler", self.strategy)
        self.data = data.to(self.device)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.metrics_path = Path(metrics_path) if metrics_path else None
        self.extra_state = extra_state or {}
        self.callbacks = list(callbacks)
        self.progress = progress and self.dist.is_main
        self.amp_dtype = runtime.amp_dtype(settings.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.optimizer = self._make_optimizer()
        self.steps_per_epoch = data.batches_per_epoch(settings.batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(f"train.batch_size={settings.batch_size} exceeds the {len(data.train)} training images")
        # a sampler with its own schedule (progressive shrinking's phases) sets the length
        epochs = self.strategy.total_epochs or settings.epochs
        self.total_batches = max(1, int(round(epochs * self.steps_per_epoch)))
        self.strategy.configure(steps_per_epoch=self.steps_per_epoch, total_batches=self.total_batches,
                                base_lr=settings.lr)
        self.step = 0  # optimizer steps taken
        self.batch = 0  # training batches consumed
        self.history: list[dict[str, Any]] = []
        self._epoch_acc = self._new_acc()
        self.last_saved_step: int | None = None
        self._last_lr = settings.lr
        self.strategy.attach(self)

    # ---------------------------------------------------------------- setup
    def _make_optimizer(self) -> torch.optim.Optimizer:
        s = self.settings
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if (p.ndim <= 1 and not s.decay_bn_and_bias) else decay).append(p)
        groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.SGD([g for g in groups if g["params"]], lr=s.lr, momentum=s.momentum,
                               nesterov=s.nesterov and s.momentum > 0)

    def lr_at(self, progress: float) -> float:
        """Linear warm-up then cosine decay, as a function of the fraction of batches seen."""
        s = self.settings
        warm = s.warmup_epochs * self.steps_per_epoch / self.total_batches
        if progress < warm:
            return s.lr * (progress + 1e-3) / warm
        t = (progress - warm) / max(1e-8, 1 - warm)
        return 0.5 * s.lr * (1 + math.cos(math.pi * min(1.0, t)))

    @staticmethod
    def _new_acc() -> dict[str, float]:
        return {"loss": 0.0, "correct": 0.0, "images": 0.0, "forwards": 0.0, "seconds": 0.0, "steps": 0.0}

    # --------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            **self.extra_state,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            self.strategy.checkpoint_key: self.strategy.state_dict(),
            "train": {"step": self.step, "batch": self.batch, "total_batches": self.total_batches,
                      "complete": self.batch >= self.total_batches, "settings": asdict(self.settings)},
            "epoch_acc": dict(self._epoch_acc),
            "history": list(self.history),
            "rng": rng_state(),
        }

    def save(self) -> None:
        self._check_finite()
        if self.checkpoint_path is None or not self.dist.is_main:
            self.last_saved_step = self.step
            return
        save_checkpoint(self.checkpoint_path, self.state_dict())
        self.last_saved_step = self.step
        log.debug("saved %s at step %d", self.checkpoint_path, self.step)

    def _check_finite(self) -> None:
        """Stop (every rank together) when a weight, BN statistic or optimizer state became NaN/inf:
        a finite loss can still leave them so, and such a state is never a "good" checkpoint."""
        bad = non_finite_tensors({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                                  self.strategy.checkpoint_key: self.strategy.finite_state()})
        if all_reduce_scalar(float(bool(bad)), self.dist, self.device) == 0.0:
            return
        kept = (f"last good checkpoint {self.checkpoint_path} (step {self.last_saved_step}) is kept"
                if self.last_saved_step is not None else "no checkpoint was written")
        what = (f"{len(bad)} tensor(s) became NaN/inf (first: {bad[0]})" if bad
                else "tensors became NaN/inf on another rank")
        raise NonFiniteCheckpointError(f"step {self.step}: {what}, so nothing was saved; {kept}. Lower train.lr, "
                                       "keep train.grad_clip on, or check the data", bad)

    def resume(self) -> bool:
        """Continue from ``checkpoint_path`` if it exists; returns whether it did."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return False
        state = load_checkpoint(self.checkpoint_path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.strategy.load_state_dict(state[self.strategy.checkpoint_key])
        self.step, self.batch = int(state["train"]["step"]), int(state["train"]["batch"])
        if int(state["train"]["total_batches"]) != self.total_batches:
            raise ValueError(
                f"cannot resume {self.checkpoint_path}: it was planned for {state['train']['total_batches']} "
                f"batches, this run for {self.total_batches} (train.epochs/batch_size/data changed); "
                "use a new checkpoint name or the original settings"
            )
        self._epoch_acc = {k: float(v) for k, v in state["epoch_acc"].items()}
        self.history = list(state["history"])
        set_rng_state(state["rng"])
        self.last_saved_step = self.step
        log.info("resumed %s at step %d (batch %d of %d)", self.checkpoint_path, self.step, self.batch,
                 self.total_batches)
        return True

    # --------------------------------------------------------------- training
    def batch_at(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Global training batch ``index``, this rank's shard, in the model's memory format."""
        return self.prepare(*self.data.train_batch(index, self.settings.batch_size, self.settings.seed))

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = shard(x, self.dist), shard(y, self.dist)  # every rank slices the same global batch
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def set_lr(self, lr: float | None = None) -> float:
        """Set the weight optimizer's learning rate (None: this trainer's schedule); returns it."""
        if lr is None:
            lr = self.lr_at(self.batch / self.total_batches)
        self._last_lr = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def train_mode(self) -> None:
        """Model in train mode (BN frozen in eval mode with ``train.freeze_bn``)."""
        self.model.train()
        if self.settings.freeze_bn:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    def check_loss(self, loss: torch.Tensor, what: str) -> None:
        """Stop (every rank together) on a NaN/inf loss, naming ``what`` produced it."""
        finite = bool(torch.isfinite(loss))
        if self.dist.enabled:  # every rank stops together, or none does
            finite = all_reduce_scalar(0.0 if finite else 1.0, self.dist, self.device) == 0.0
        if not finite:
            kept = (f"last good checkpoint {self.checkpoint_path} (step {self.last_saved_step}) is kept"
                    if self.last_saved_step is not None else "no checkpoint was written yet")
            raise NonFiniteLossError(f"step {self.step}: loss is {loss.item()} for {what}; {kept}. "
                                     "Lower train.lr, keep train.grad_clip on, or check the data")

    def clip_and_step(self) -> None:
        """Unscale, clip (``train.grad_clip``) and step the weight optimizer; update the AMP scaler."""
        if self.settings.grad_clip:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.settings.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def teacher_logits(self, x: torch.Tensor, arch) -> torch.Tensor:
        with torch.no_grad(), runtime.autocast(self.device, self.amp_dtype):
            return self.model(x, arch)

    def loss(self, x: torch.Tensor, y: torch.Tensor, arch, teacher,
             t_logits: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy of ``arch`` on ``(x, y)`` (plus distillation from ``teacher``), and its logits."""
        with runtime.autocast(self.device, self.amp_dtype):
            logits = self.model(x, arch)
            loss = self.criterion(logits, y)
            if teacher is not None:
                t_arch, weight = teacher
                if weight > 0 and tuple(t_arch) != tuple(arch):
                    if t_logits is None:
                        with torch.no_grad():
                            t_logits = self.model(x, t_arch)
                    temp = self.settings.kd_temperature
                    kd = F.kl_div(F.log_softmax(logits / temp, 1), F.softmax(t_logits / temp, 1),
                                  reduction="batchmean") * temp * temp
                    loss = loss + weight * kd
        return loss, logits

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.settings.label_smoothing)

    def train_step(self) -> dict[str, Any]:
        """One optimizer step: the strategy's step for ``self.step``, then the step's bookkeeping."""
        start = time.perf_counter()
        r = self.strategy.run_step(self)
        self.batch += r.batches
        self.step += 1
        acc = self._epoch_acc
        acc["loss"] += r.loss
        acc["correct"] += r.correct
        acc["images"] += r.images
        acc["forwards"] += r.forwards
        acc["seconds"] += time.perf_counter() - start
        acc["steps"] += 1
        return {"loss": r.loss / max(1, r.forwards), "lr": r.lr, "archs": r.forwards,
                "acc": 100 * r.correct / max(1, r.images),
                "images_per_s": r.images / max(1e-9, time.perf_counter() - start)}

    def _notify(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            hook = getattr(callback, event, None)
            if hook is not None:
                hook(self, *args)

    def _epoch_row(self, epoch: int, partial: bool) -> dict[str, Any]:
        acc = self._epoch_acc
        row = {
            "epoch": epoch, "step": self.step, "batch": self.batch, "lr": self._last_lr,
            "train_loss": acc["loss"] / max(1, acc["forwards"]),
            "train_acc": 100 * acc["correct"] / max(1, acc["images"]),
            "seconds": acc["seconds"], "images_per_s": acc["images"] / max(1e-9, acc["seconds"]),
            "archs_per_step": acc["forwards"] / max(1, acc["steps"]), "partial": partial,
        }
        row.update(self.strategy.describe(max(0, self.step - 1)))
        self._notify("on_epoch_end", row)
        log.info("epoch %d%s: loss %.4f acc %.2f%% (%.1f img/s)", epoch, " (partial)" if partial else "",
                 row["train_loss"], row["train_acc"], row["images_per_s"])
        return row

    def _end_epoch(self, epoch: int) -> None:
        self.history.append(self._epoch_row(epoch, partial=False))
        self._epoch_acc = self._new_acc()
        self._write_metrics(self.history)

    def _write_metrics(self, rows: list[dict[str, Any]]) -> None:
        if self.metrics_path is not None and self.dist.is_main:
            atomic_write_text(self.metrics_path, pd.DataFrame(rows).to_csv(index=False))

    def _partial_rows(self) -> list[dict[str, Any]]:
        """History plus a row for the steps of an unfinished epoch (``max_steps``, Ctrl-C). The epoch
        accumulator is kept, so a resumed run still reports that epoch whole."""
        if not self._epoch_acc["steps"]:
            return list(self.history)
        rows = [*self.history, self._epoch_row(self.batch // self.steps_per_epoch, partial=True)]
        self._write_metrics(rows)
        return rows

    def fit(self) -> pd.DataFrame:
        """Train until ``epochs`` are done (or ``max_steps``); checkpoints along the way."""
        s = self.settings
        torch.manual_seed(s.seed)
        bar = tqdm(total=self.total_batches, initial=self.batch, unit="batch", desc="train",
                   disable=not self.progress, dynamic_ncols=True)
        try:
            while self.batch < self.total_batches and (s.max_steps is None or self.step < s.max_steps):
                epoch_before = self.batch // self.steps_per_epoch
                before = self.batch
                info = self.train_step()
                bar.update(self.batch - before)
                self._notify("on_step_end", info)
                post = {"loss": f"{info['loss']:.3f}", "lr": f"{info['lr']:.4f}"}
                post.update({k: v for k, v in self.strategy.describe(self.step - 1).items()
                             if k not in ("sampler", "strategy")})
                bar.set_postfix(post, refresh=False)
                epoch_now = self.batch // self.steps_per_epoch
                ended = epoch_now > epoch_before or self.batch >= self.total_batches
                if ended:
                    self._end_epoch(epoch_before)
                if ended or (s.checkpoint_every and self.step % s.checkpoint_every == 0):
                    self.save()
            rows = self._partial_rows()
        except KeyboardInterrupt:
            log.info("interrupted at step %d; saving a resumable checkpoint", self.step)
            self.save()
            raise TrainingInterrupted(self.step, self.checkpoint_path) from None
        finally:
            bar.close()
            self._notify("on_fit_end")
        if self.last_saved_step != self.step:
            self.save()
        return pd.DataFrame(rows)
