"""Which layer to split a supernet on (few-shot NAS): two measures of how much a layer's choice matters.

* :func:`variance_explained` -- from a table of accuracies (e.g. NAS-Bench-Macro): the share
  of the variance of accuracy over the distinct networks that lies between the groups of
  equal (canonical) choice at a layer (eta squared of a one-way ANOVA). It needs ground
  truth, so choosing a split with it leaks the table into any ranking judged on that table.
* :func:`gradient_disagreement` -- from the trained supernet alone (GM-NAS, Hu et al.,
  ICLR 2022: split where the shared weights' gradients disagree most across the
  choices): for each layer, the gradient of the loss w.r.t. every weight *outside* that
  layer, accumulated over the same minibatches and paired random archs with the layer
  set to each of its choices (each slice of :class:`~oneshot.supernet.few_shot.SupernetSplit`),
  then ``1 - mean pairwise cosine similarity`` of those gradients. High disagreement: the
  slices pull the shared weights in different directions, which one set of weights
  cannot serve -- the interference few-shot splitting removes.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..space.space import SearchSpace
from .few_shot import SupernetSplit


def variance_explained(space: SearchSpace, genomes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per layer, between-group sum of squares / total sum of squares of ``values``
    grouped by the layer's choice in each arch's canonical form (0 = the choice does not
    matter, 1 = it decides everything). Pass one row per distinct network."""
    canon = space.canonical_batch(np.asarray(genomes, dtype=np.int64))
    values = np.asarray(values, dtype=np.float64)
    if len(values) != len(canon) or len(values) < 2:
        raise ValueError(f"need one value per arch and at least 2 archs, got {len(values)} values for "
                         f"{len(canon)} archs")
    centred = values - values.mean()
    total = float((centred ** 2).sum())
    if total == 0:
        raise ValueError("all values are equal: no variance to explain")
    out = np.zeros(space.num_layers)
    for i in range(space.num_layers):
        for c in np.unique(canon[:, i]):
            group = centred[canon[:, i] == c]
            out[i] += len(group) * group.mean() ** 2
    return out / total


def _paired_archs(split: SupernetSplit, base: Sequence[int], spare: Sequence[int]) -> list[list[int]]:
    """``base`` moved into every slice: a layer keeps its choice where the slice allows it,
    else takes allowed choice ``spare[i] % len(allowed)`` (the same spare for every slice)."""
    out = []
    for k in range(len(split)):
        allowed = split.allowed(k)
        out.append([c if c in a else a[s % len(a)] for c, a, s in zip(base, allowed, spare)])
    return out


def gradient_disagreement(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                          layers: Sequence[int] | None = None, archs_per_batch: int = 1,
                          seed: int = 0) -> list[dict[str, float]]:
    """Per layer: ``disagreement`` (1 - mean pairwise cosine of the slices' accumulated
    gradients of the weights outside the layer), ``min_cosine`` and ``slices``.

    ``model`` is a separate-weights supernet (``forward(x, arch)``, parameters of layer
    ``i`` named ``layers.<i>.*``); ``batches`` are normalised training batches. Each batch
    is paired with ``archs_per_batch`` uniformly random base archs, moved into every
    slice, so the slices' gradients differ only through the layer's choice. Runs in
    train mode (batch statistics, as in training); BN running stats change, weights don't.
    """
    space: SearchSpace = model.space
    layers = list(range(space.num_layers)) if layers is None else [int(i) for i in layers]
    rng = np.random.default_rng(seed)
    draws = [(space.sample(rng), rng.integers(0, 1 << 30, space.num_layers)) for _ in batches
             for _ in range(archs_per_batch)]
    was_training = model.training
    model.train()
    rows = []
    try:
        for layer in layers:
            split = SupernetSplit(space, [layer])
            shared = [p for name, p in model.named_parameters() if not name.startswith(f"layers.{layer}.")]
            sums = [torch.zeros(sum(p.numel() for p in shared), dtype=torch.float64) for _ in range(len(split))]
            for j, (x, y) in enumerate(batches):
                for base, spare in draws[j * archs_per_batch:(j + 1) * archs_per_batch]:
                    for k, arch in enumerate(_paired_archs(split, base, spare)):
                        model.zero_grad(set_to_none=True)
                        F.cross_entropy(model(x, arch), y).backward()
                        sums[k] += torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                                              for p in shared]).double().cpu()
            cos = [float(F.cosine_similarity(a, b, dim=0)) for a, b in itertools.combinations(sums, 2)]
            rows.append({"layer": layer, "slices": len(split), "disagreement": 1.0 - float(np.mean(cos)),
                         "min_cosine": float(np.min(cos))})
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return rows
