"""`DnasStrategy`: one step of differentiable search under the one :class:`~oneshot.train.Trainer`.

Each step: a weight step on a batch of the weight split (the relaxation's forward with alpha
detached, the Trainer's SGD, schedule, AMP scaler and clipping), then -- after the weight-only
warm-up -- an alpha step on a batch of the held-out arch split (Adam on alpha; the loss of
:class:`~oneshot.dnas.cost.CostLoss`; gradients averaged over DDP ranks). Every draw is a
function of ``(seed, step)`` and the arch batches of the count of alpha steps, so a resumed
search lands on the same alpha.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .. import runtime
from ..data.tensors import ImageData
from ..space.arch import Arch
from ..space.space import SearchSpace
from ..train.distributed import average_gradients
from ..train.strategy import StepResult, TrainingStrategy
from .alpha import ArchParameters, binary_gates, gumbel_hard, gumbel_softmax, rescale_pairs, sample_arch, step_generator
from .cost import CostLoss
from .mixed import gated_forward, hard_forward, soft_forward
from .settings import DnasSettings

if TYPE_CHECKING:
    from ..train.trainer import Trainer

log = logging.getLogger(__name__)

_WEIGHT_SALT, _ARCH_SALT = 1, 2


class DnasStrategy(TrainingStrategy):
    """FBNet / GDAS / ProxylessNAS search of ``space`` (``settings.name``) on a separate-weights supernet.

    ``arch_data`` holds the arch split (its ``train`` images feed the alpha steps).
    """

    checkpoint_key = "strategy"

    def __init__(self, space: SearchSpace, settings: DnasSettings, cost: CostLoss, arch_data: ImageData,
                 seed: int = 0):
        self.space, self.settings, self.cost = space, settings, cost
        self.name = settings.name  # type: ignore[misc]
        self.seed = int(settings.seed if settings.seed is not None else seed)
        self.alpha = ArchParameters(space.num_choices)
        self.arch_data = arch_data
        self.optimizer = self._make_optimizer()
        self.arch_steps = 0
        self.trajectory: list[dict[str, Any]] = []  # per epoch: probabilities, temperature, expected cost
        self.steps_per_epoch, self.total_batches = 1, 1
        self._last: dict[str, Any] = {}

    def _make_optimizer(self) -> torch.optim.Optimizer:
        s = self.settings
        return torch.optim.Adam([self.alpha.logits], lr=s.arch_lr, betas=tuple(s.arch_betas), eps=s.arch_eps,
                                weight_decay=s.arch_weight_decay)

    @staticmethod
    def uniform_probs(space: SearchSpace) -> torch.Tensor:
        """``softmax`` of all-zero alpha: the start of every search."""
        return ArchParameters(space.num_choices).probs().detach()

    # ------------------------------------------------------------------ setup
    def check_model(self, model: nn.Module) -> None:
        net = getattr(model, "module", model)
        if getattr(net, "sharing", None) != "separate" or not hasattr(net, "layers"):
            raise ValueError(f"method={self.name} searches a separate-weights supernet, got {type(net).__name__}: "
                             "set supernet=separate")

    def configure(self, steps_per_epoch: int, total_batches: int, base_lr: float) -> None:
        self.steps_per_epoch, self.total_batches = steps_per_epoch, total_batches

    def attach(self, trainer: "Trainer") -> None:
        device = trainer.device
        state = self.optimizer.state_dict()
        self.alpha.to(device)
        self.optimizer = self._make_optimizer()  # the parameter moved: rebuild, keep the state
        self.optimizer.load_state_dict(state)
        self.arch_data = self.arch_data.to(device)
        if len(self.arch_data.train) < trainer.settings.batch_size:
            raise ValueError(f"the arch split has {len(self.arch_data.train)} images, fewer than train.batch_size="
                             f"{trainer.settings.batch_size}: raise method.arch_fraction or lower the batch size")
        if not self.trajectory:
            self.record(0)

    # ------------------------------------------------------------------ schedule
    @property
    def total_epochs_planned(self) -> float:
        return self.total_batches / self.steps_per_epoch

    def epoch_of(self, batch: int) -> int:
        return batch // self.steps_per_epoch

    def temperature(self, batch: int) -> float:
        return self.settings.temperature(self.epoch_of(batch), self.total_epochs_planned)

    def searching(self, batch: int) -> bool:
        """Past the weight-only warm-up at training batch ``batch``."""
        return batch >= round(self.settings.warmup_epochs * self.steps_per_epoch)

    # ------------------------------------------------------------------ forwards
    def weight_forward(self, net: nn.Module, x: torch.Tensor, step: int, tau: float) -> torch.Tensor:
        """The relaxation's forward for the weight step (alpha detached)."""
        gen = step_generator(self.seed, step, _WEIGHT_SALT)
        counts = self.alpha.counts
        with torch.no_grad():
            if self.name == "fbnet":
                weights = gumbel_softmax(self.alpha, tau, gen)
            elif self.name == "gdas":
                _, arch = gumbel_hard(self.alpha, tau, gen)
            else:
                arch = sample_arch(self.alpha, gen)
        if self.name == "fbnet":
            return soft_forward(net, x, weights, counts)
        return net(x, arch)

    def arch_forward(self, net: nn.Module, x: torch.Tensor, step: int, tau: float) -> tuple[torch.Tensor, Any]:
        """The relaxation's forward for the alpha step (differentiable in alpha), and what it drew."""
        gen = step_generator(self.seed, step, _ARCH_SALT)
        counts = self.alpha.counts
        if self.name == "fbnet":
            return soft_forward(net, x, gumbel_softmax(self.alpha, tau, gen), counts), None
        if self.name == "gdas":
            hard, arch = gumbel_hard(self.alpha, tau, gen)
            return hard_forward(net, x, hard, arch, counts), arch
        gates = binary_gates(self.alpha, gen)
        return gated_forward(net, x, gates.pairs, gates.active, gates.gates), gates

    # ------------------------------------------------------------------ the step
    def run_step(self, trainer: "Trainer") -> StepResult:
        step, batch = trainer.step, trainer.batch
        tau = self.temperature(batch)
        lr = trainer.set_lr()
        trainer.train_mode()
        net = getattr(trainer.model, "module", trainer.model)
        # weight step
        trainer.optimizer.zero_grad(set_to_none=True)
        x, y = trainer.batch_at(batch)
        with runtime.autocast(trainer.device, trainer.amp_dtype):
            logits = self.weight_forward(net, x, step, tau)
            loss = trainer.criterion(logits, y)
        trainer.check_loss(loss, f"the {self.name} weight step")
        trainer.scaler.scale(loss).backward()
        average_gradients([p for g in trainer.optimizer.param_groups for p in g["params"]], trainer.dist)
        trainer.clip_and_step()
        correct = int((logits.argmax(1) == y).sum().item())
        self._last = {"tau": tau, "weight_loss": float(loss.item())}
        if self.searching(batch):
            self.arch_step(trainer, net, step, tau)
        return StepResult(loss=float(loss.item()), forwards=1, correct=correct, images=len(y), batches=1, lr=lr)

    def arch_step(self, trainer: "Trainer", net: nn.Module, step: int, tau: float) -> None:
        bs = trainer.settings.batch_size
        x, y = trainer.prepare(*self.arch_data.train_batch(self.arch_steps, bs, self.seed + 1))
        with runtime.autocast(trainer.device, trainer.amp_dtype):
            logits, drawn = self.arch_forward(net, x, step, tau)
            ce = trainer.criterion(logits.float(), y)
        loss, expected = self.cost(ce, self.alpha.probs())
        trainer.check_loss(loss, f"the {self.name} alpha step")
        before = self.alpha.logits.detach().clone()
        (grad,) = torch.autograd.grad(loss, [self.alpha.logits])  # weights get no gradient here
        self.optimizer.zero_grad(set_to_none=True)
        self.alpha.logits.grad = grad
        average_gradients([self.alpha.logits], trainer.dist)
        self.optimizer.step()
        if self.name == "proxyless":
            rescale_pairs(self.alpha, drawn.pairs, before)
        self.arch_steps += 1
        self._last.update(arch_loss=float(loss.item()), arch_ce=float(ce.item()))
        if expected is not None:
            self._last["expected_cost"] = float(expected.item())

    # ------------------------------------------------------------------ reporting
    def derived_arch(self) -> Arch:
        return self.alpha.derived()

    def record(self, epoch: int) -> dict[str, Any]:
        """Append ``epoch``'s probabilities (after ``epoch`` epochs) to the trajectory."""
        with torch.no_grad():
            probs = self.alpha.probs().float().cpu()
        arch = self.derived_arch()
        row = {"epoch": epoch, "probs": [p[:n].tolist() for p, n in zip(probs, self.alpha.counts)],
               "arch": str(arch), "tau": self.temperature(epoch * self.steps_per_epoch)}
        if self.cost.table is not None:
            row["expected_cost"] = float(self.cost.table.expected(probs.double()))
            row["derived_cost"] = self.cost.table.of(arch)
        self.trajectory.append(row)
        return row

    def describe(self, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.name, "derived_arch": str(self.derived_arch())}
        out.update({k: v for k, v in self._last.items() if not (isinstance(v, float) and math.isnan(v))})
        return out

    def finite_state(self) -> dict[str, Any]:
        return {"alpha": self.alpha.logits.detach(), "arch_optimizer": self.optimizer.state_dict()}

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "alpha": self.alpha.logits.detach().cpu().clone(),
                "arch_optimizer": self.optimizer.state_dict(), "arch_steps": self.arch_steps, "seed": self.seed,
                "trajectory": list(self.trajectory), "settings": asdict(self.settings),
                "cost": asdict(self.cost.settings), "cost_target": self.cost.target, "last": dict(self._last)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for key, mine in (("settings", asdict(self.settings)), ("cost", asdict(self.cost.settings))):
            if state[key] != mine:
                diff = sorted(k for k in mine if state[key].get(k) != mine[k])
                raise ValueError(f"cannot resume: the checkpoint's search used other {'method' if key == 'settings' else 'cost'}"
                                 f" settings ({', '.join(diff)}); use a new name= or train.resume=false")
        with torch.no_grad():
            self.alpha.logits.copy_(state["alpha"])
        self.optimizer.load_state_dict(state["arch_optimizer"])
        self.arch_steps, self.seed = int(state["arch_steps"]), int(state["seed"])
        self.trajectory = list(state["trajectory"])
        self._last = dict(state.get("last", {}))
