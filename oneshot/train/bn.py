"""BatchNorm recalibration: the statistics of one subnet, measured on training images."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batchnorms(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor], arch: Sequence[int] | None = None,
                   forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None) -> int:
    """Reset every BN's running statistics and re-estimate them for ``arch``.

    Forwards ``batches`` (already normalised images) in train mode with
    ``momentum=None``, i.e. a cumulative average over all batches -- the mean of
    per-batch statistics, as SPOS and Once-for-All do. Leaves the model in eval mode
    and returns the number of images used.
    """
    bns = batchnorms(model)
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    seen = 0
    try:
        for x in batches:
            if forward is not None:
                forward(model, x)
            elif arch is None:
                model(x)
            else:
                model(x, arch)
            seen += len(x)
    finally:
        for bn, m in zip(bns, saved):
            bn.momentum = m
        model.eval()
    if seen == 0:
        raise ValueError("BN recalibration got no images: set evaluator.recal_images >= 1 or disable recalibration")
    return seen
