"""The train / arch split of the training images (weights on one part, alpha on the other)."""
from __future__ import annotations

from dataclasses import replace

import torch

from ..data.tensors import ImageData


def arch_split(data: ImageData, fraction: float, seed: int) -> tuple[ImageData, ImageData]:
    """``(weight data, arch data)``: a seeded ``fraction`` of ``data.train`` moves to the arch
    data's ``train``; val and test are shared (the search's val split stays untouched)."""
    n = len(data.train)
    held = int(round(n * fraction))
    if not 0 < held < n:
        raise ValueError(f"method.arch_fraction={fraction} leaves {held} of {n} training images for alpha: "
                         "use a fraction that keeps both parts non-empty")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed) + 4049)).to(data.train.x.device)
    weights, arch = data.train.subset(perm[held:]), data.train.subset(perm[:held])
    info = {**data.info, "arch_fraction": fraction}
    return replace(data, train=weights, info=info), replace(data, train=arch, info=info)
