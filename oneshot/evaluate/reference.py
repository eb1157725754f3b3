"""Reference subnets: the smallest, middle and largest arch, validated every epoch of supernet training.

Their BN-recalibrated validation accuracy is what tells a user the supernet is learning (train
loss and accuracy mix every sampled path). Evaluation goes through :class:`SupernetEvaluator`
on the training model itself; its BatchNorm statistics are restored afterwards, so training
continues exactly as without the check.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace
from ..train.bn import batchnorms
from .supernet_evaluator import EvalSettings, SupernetEvaluator

log = logging.getLogger(__name__)


def reference_archs(space: SearchSpace) -> dict[str, Arch]:
    """``smallest`` / ``largest``: the least / most FLOPs op in every layer; ``middle``: the median-FLOPs
    op of every layer."""
    flops = CostModel(space).tables["flops"]
    middle = [int(np.argsort(flops[i, :n], kind="stable")[(n - 1) // 2]) for i, n in enumerate(space.num_choices)]
    return {"smallest": space.smallest(), "middle": Arch(middle), "largest": space.largest()}


class ReferenceSubnets:
    """A :class:`~oneshot.train.Trainer` callback adding ``ref_<name>_acc`` columns to every epoch row:
    BN recalibrated on ``recal_images`` fixed training images, accuracy on the first ``val_images``
    of the search-validation split (the trainer's data).

    Runs on every rank (under torchrun the evaluator splits the archs over ranks and gathers);
    only rank 0 writes the metrics the columns end up in.
    """

    def __init__(self, space: SearchSpace, *, recal_images: int = 128, val_images: int = 256,
                 batch_size: int = 256, seed: int = 0):
        self.space = space
        self.archs = reference_archs(space)
        self.settings = EvalSettings(recal_images=recal_images, val_images=val_images, batch_size=batch_size,
                                     recal_batch_size=min(batch_size, recal_images), seed=seed)
        self._evaluator: SupernetEvaluator | None = None

    def _evaluator_for(self, trainer: Any) -> SupernetEvaluator:
        if self._evaluator is None or self._evaluator.model is not trainer.model:
            # the trainer's model, data (already on its device) and memory format
            settings = replace(self.settings, channels_last=trainer.channels_last)
            self._evaluator = SupernetEvaluator(trainer.model, self.space, trainer.data, settings,
                                                device=trainer.device, progress=False)
        return self._evaluator

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        model: nn.Module = trainer.model
        saved = _bn_buffers(model)
        try:
            table = self._evaluator_for(trainer).evaluate(list(self.archs.values()))
        finally:
            _restore(saved)
        for name, acc in zip(self.archs, table.accuracy):
            row[f"ref_{name}_acc"] = float(acc)
        log.info("reference subnets: %s", ", ".join(f"{n} {row[f'ref_{n}_acc']:.2f}%" for n in self.archs))


def _bn_buffers(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(buf, buf.detach().clone()) for bn in batchnorms(model) for buf in bn.buffers()]


@torch.no_grad()
def _restore(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    for buf, value in saved:
        buf.copy_(value)
