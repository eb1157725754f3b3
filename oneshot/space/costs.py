"""Analytic FLOPs / params from per-(layer, choice) tables, vectorised over archs.

Conventions (NAS-Bench-Macro's, reproduced exactly): FLOPs are multiply-accumulates
of conv and linear layers (BN, bias and activations excluded); params count every
parameter, BN affine weights and the classifier bias included.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .ops import OpSpec, conv_cost
from .space import LayerSpec, SearchSpace


def op_cost(layer: LayerSpec, op: OpSpec) -> tuple[int, int]:
    """(MACs, params) of one candidate op at one layer (the op kind computes it)."""
    return op.cost(layer)


def fixed_cost(space: SearchSpace) -> tuple[int, int]:
    """(MACs, params) of the parts every arch shares: stem, head conv, classifier."""
    stem_m, stem_p, _ = conv_cost(space.in_channels, space.stem_channels, space.stem_kernel,
                              space.stem_stride, space.input_size)
    head_m, head_p, _ = conv_cost(space.final_channels, space.head_channels, 1, 1, space.final_size)
    mix = space.head_mix_channels * space.head_channels  # feature mix: 1x1 conv on the pooled map
    fc_m = (space.head_mix_channels or space.head_channels) * space.num_classes
    fc_p = fc_m + space.num_classes
    return stem_m + head_m + mix + fc_m, stem_p + head_p + mix + fc_p


class CostModel:
    """FLOPs and params of any arch as a sum over per-(layer, choice) tables.

    ``flops(genomes)`` / ``params(genomes)`` take an ``(n, layers)`` integer array
    (or a list of archs) and return float arrays: 100,000 archs cost a few ms.
    """

    metrics = ("flops", "params")

    def __init__(self, space: SearchSpace):
        self.space = space
        width = int(space.num_choices.max())
        self.tables = {m: np.zeros((space.num_layers, width), dtype=np.float64) for m in self.metrics}
        for layer in space.layers:
            for c, op in enumerate(layer.candidates):
                macs, params = op.cost(layer)
                self.tables["flops"][layer.index, c] = macs
                self.tables["params"][layer.index, c] = params
        self.base = dict(zip(self.metrics, map(float, fixed_cost(space))))
        self._rows = np.arange(space.num_layers)

    def _genomes(self, archs: "np.ndarray | Sequence[Sequence[int]]") -> np.ndarray:
        g = np.asarray(archs, dtype=np.int64)
        if g.ndim == 1:
            g = g[None, :]
        if g.shape[1] != self.space.num_layers:
            raise ValueError(f"archs have {g.shape[1]} layers, space {self.space.name!r} has {self.space.num_layers}")
        return g

    def cost(self, metric: str, archs: "np.ndarray | Sequence[Sequence[int]]") -> np.ndarray:
        if metric not in self.tables:
            raise KeyError(f"unknown cost metric {metric!r}; available: {list(self.tables)}")
        g = self._genomes(archs)
        return self.tables[metric][self._rows, g].sum(axis=1) + self.base[metric]

    def flops(self, archs: "np.ndarray | Sequence[Sequence[int]]") -> np.ndarray:
        return self.cost("flops", archs)

    def params(self, archs: "np.ndarray | Sequence[Sequence[int]]") -> np.ndarray:
        return self.cost("params", archs)

    def bounds(self, metric: str) -> tuple[float, float]:
        """Smallest and largest value any arch of the space can have."""
        t = self.tables[metric]
        valid = np.arange(t.shape[1])[None, :] < self.space.num_choices[:, None]
        lo = np.where(valid, t, np.inf).min(axis=1).sum() + self.base[metric]
        hi = np.where(valid, t, -np.inf).max(axis=1).sum() + self.base[metric]
        return float(lo), float(hi)

    def extreme(self, metric: str, largest: bool):
        from .arch import Arch

        t = self.tables[metric]
        valid = np.arange(t.shape[1])[None, :] < self.space.num_choices[:, None]
        if largest:
            return Arch(np.where(valid, t, -np.inf).argmax(axis=1))
        return Arch(np.where(valid, t, np.inf).argmin(axis=1))
