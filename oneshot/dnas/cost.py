"""Differentiable hardware cost: expected latency (LUT) or FLOPs under ``softmax(alpha)``, and
the cost loss forms (FBNet / ProxylessNAS multiplicative, additive, hinge) with a target."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import UserInputError
from ..space.costs import CostModel
from ..space.space import SearchSpace
from .settings import CostLossSettings


@dataclass
class CostTable:
    """``cost(arch) = slope * (base + sum_l table[l, arch[l]]) + intercept`` in ``unit``.

    ``table`` is ``(layers, width)`` (padding ignored), ``display`` the factor from the
    unit to the one the loss uses (FLOPs -> MFLOPs; ms -> ms)."""

    metric: str
    table: np.ndarray
    base: float
    num_choices: np.ndarray
    slope: float = 1.0
    intercept: float = 0.0
    unit: str = ""
    display: float = 1.0

    def of(self, arch: Sequence[int]) -> float:
        raw = self.table[np.arange(len(arch)), np.asarray(arch)].sum() + self.base
        return float(raw * self.slope + self.intercept)

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        """``sum_l probs[l] . table[l]`` (+ base, corrected): differentiable in ``probs``."""
        table = torch.as_tensor(self.table, dtype=probs.dtype, device=probs.device)
        return (probs * table).sum() * self.slope + self.base * self.slope + self.intercept

    def bounds(self) -> tuple[float, float]:
        valid = np.arange(self.table.shape[1])[None, :] < self.num_choices[:, None]
        lo = np.where(valid, self.table, np.inf).min(axis=1).sum() + self.base
        hi = np.where(valid, self.table, -np.inf).max(axis=1).sum() + self.base
        return tuple(sorted((lo * self.slope + self.intercept, hi * self.slope + self.intercept)))  # type: ignore


def flops_table(space: SearchSpace) -> CostTable:
    model = CostModel(space)
    return CostTable("flops", model.tables["flops"].copy(), model.base["flops"], space.num_choices,
                     unit="FLOPs", display=1e-6)


def latency_table(model) -> CostTable:
    """From a :class:`~oneshot.latency.table.LatencyModel` (its table, base and correction)."""
    return CostTable("latency", model.table.copy(), float(model.base), model.space.num_choices,
                     float(model.slope), float(model.intercept), unit="ms")


class CostLoss:
    """The alpha loss ``f(CE, E)`` of :class:`CostLossSettings` over a :class:`CostTable`."""

    def __init__(self, settings: CostLossSettings, table: CostTable | None, uniform_probs: torch.Tensor | None = None):
        self.settings, self.table = settings, table
        if table is None:
            self.target = None
            return
        lo, hi = table.bounds()
        target = settings.target
        if target is None:
            if uniform_probs is None:
                raise ValueError("CostLoss: no cost.target and no uniform alpha to take it from")
            target = float(table.expected(uniform_probs.double()))
        elif target < lo:
            raise UserInputError(f"cost.target={target:g} {table.unit} is below the smallest {table.metric} of the "
                                 f"space ({lo:.6g} {table.unit}): set cost.target >= {lo:.6g}")
        self.target = float(target)
        if settings.form == "mul_log" and self.target * table.display <= 1.0:
            raise UserInputError(f"cost.form=mul_log needs a target above 1 {'MFLOPs' if table.metric == 'flops' else 'ms'}"
                                 f" (log of the cost), got {self.target:g} {table.unit}: use cost.form=add or hinge")

    def __call__(self, ce: torch.Tensor, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(loss, expected cost in the table's unit) for cross-entropy ``ce`` under ``probs``."""
        if self.table is None:
            return ce, None
        s, expected = self.settings, self.table.expected(probs.float())
        if s.form == "mul_log":
            scale = self.table.display
            ratio = torch.log(expected * scale) / math.log(self.target * scale)
            return ce * s.weight * ratio.clamp_min(1e-6) ** s.exponent, expected
        excess = (expected - self.target) / self.target
        if s.form == "hinge":
            excess = excess.clamp_min(0.0)
        return ce + s.weight * excess, expected
