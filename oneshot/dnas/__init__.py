"""Differentiable hardware-aware search on the separate-weights supernet: FBNet (Gumbel-softmax),
GDAS (hard Gumbel, straight-through) and ProxylessNAS (binary gates), with an expected-latency
(LUT) or FLOPs cost loss, as a :class:`~oneshot.train.strategy.TrainingStrategy` of the one Trainer."""
from .alpha import ArchParameters
from .cost import CostLoss, CostTable, flops_table, latency_table
from .settings import CostLossSettings, DnasSettings
from .split import arch_split
from .strategy import DnasStrategy

__all__ = ["ArchParameters", "CostLoss", "CostLossSettings", "CostTable", "DnasSettings", "DnasStrategy",
           "arch_split", "flops_table", "latency_table"]
