"""Settings of differentiable search: the relaxation and its optimiser (:class:`DnasSettings`,
``method=``) and the cost loss (:class:`CostLossSettings`, ``cost.*``). They are the Hydra schemas."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional

from ..checks import check_settings, fraction, non_negative, optional, positive
from ..errors import UserInputError

METHODS = ("fbnet", "gdas", "proxyless")
TAU_SCHEDULES = ("exp", "linear", "none")
COST_METRICS = ("latency", "flops", "none")
COST_FORMS = ("mul_log", "add", "hinge")

DNAS_RULES = {
    "arch_lr": (positive, "a number > 0"),
    "arch_weight_decay": (non_negative, "a number >= 0"),
    "arch_eps": (positive, "a number > 0"),
    "warmup_epochs": (non_negative, "a number >= 0 (epochs of weight-only training)"),
    "arch_fraction": (lambda x: fraction(x) and x > 0, "in (0, 1): the share of training images for alpha steps"),
    "tau_start": (positive, "a number > 0"),
    "tau_end": (positive, "a number > 0"),
    "tau_decay": (non_negative, "a number >= 0"),
}
COST_RULES = {
    "weight": (non_negative, "a number >= 0"),
    "exponent": (non_negative, "a number >= 0"),
    "target": (optional(positive), "a number > 0 (ms for latency, multiply-adds for flops), or null"),
}


@dataclass
class DnasSettings:
    """One differentiable relaxation and its published defaults (``conf/method/<name>.yaml``).

    ``name``: ``fbnet`` (Gumbel-softmax weighted sum of every candidate), ``gdas`` (one hard
    Gumbel sample per layer, straight-through gradient) or ``proxyless`` (binary gates: one
    active path for the weight step, two sampled paths for the alpha step).
    Temperature per epoch ``e``: ``exp``: ``tau_start * exp(-tau_decay * e)`` (FBNet);
    ``linear``: ``tau_start`` to ``tau_end`` over the run (GDAS); ``none``: 1.
    """

    name: str = "fbnet"
    arch_lr: float = 0.01
    arch_betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    arch_weight_decay: float = 5e-4
    arch_eps: float = 1e-8
    warmup_epochs: float = 0.0  # weights only (alpha frozen) for this many epochs
    arch_fraction: float = 0.2  # of the training images, held out for the alpha steps
    tau_schedule: str = "exp"
    tau_start: float = 5.0
    tau_end: float = 0.1
    tau_decay: float = 0.045
    seed: Optional[int] = None  # Gumbel / path draws (defaults to train.seed)

    def __post_init__(self) -> None:
        if self.name not in METHODS:
            raise UserInputError(f"method.name={self.name!r} is unknown: use method=fbnet, gdas or proxyless")
        if self.tau_schedule not in TAU_SCHEDULES:
            raise UserInputError(f"method.tau_schedule={self.tau_schedule!r}: use one of {', '.join(TAU_SCHEDULES)}")
        if len(self.arch_betas) != 2 or not all(0 <= b < 1 for b in self.arch_betas):
            raise UserInputError(f"method.arch_betas={list(self.arch_betas)} must be two numbers in [0, 1)")
        check_settings(vars(self), DNAS_RULES, "method.")

    def temperature(self, epoch: int, total_epochs: float) -> float:
        """Gumbel temperature of (0-based) ``epoch`` of a ``total_epochs`` run."""
        if self.tau_schedule == "exp":
            return self.tau_start * math.exp(-self.tau_decay * epoch)
        if self.tau_schedule == "linear":
            last = max(1.0, math.ceil(total_epochs) - 1)
            return self.tau_start - (self.tau_start - self.tau_end) * min(1.0, epoch / last)
        return 1.0


@dataclass
class CostLossSettings:
    """The hardware cost in the alpha loss.

    ``metric``: ``latency`` (the device profile's LUT, ms), ``flops`` (analytic multiply-adds)
    or ``none``. ``form`` with ``E`` the expected cost and ``T`` the target:
    ``mul_log``: ``CE * weight * (log E / log T) ** exponent`` (FBNet, ProxylessNAS ``mul#log``;
    costs in ms / MFLOPs, so ``T`` must exceed 1 ms / 1 MFLOP); ``add``:
    ``CE + weight * (E - T) / T`` (ProxylessNAS's additive form); ``hinge``:
    ``CE + weight * max(0, E - T) / T`` (only a cost over the target is penalised).
    ``target`` null: the expected cost of uniform alpha at the start.
    """

    metric: str = "flops"
    form: str = "mul_log"
    weight: float = 0.2
    exponent: float = 0.6
    target: Optional[float] = None

    def __post_init__(self) -> None:
        if self.metric not in COST_METRICS:
            raise UserInputError(f"cost.metric={self.metric!r}: use latency, flops or none")
        if self.form not in COST_FORMS:
            raise UserInputError(f"cost.form={self.form!r}: use mul_log, add or hinge")
        check_settings(vars(self), COST_RULES, "cost.")
