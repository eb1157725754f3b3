"""Progressive shrinking (Cai et al., Once-for-All) as a sampler of the one Trainer.

Training runs through configured *phases*, each enabling a set of elastic dimensions
(see :mod:`oneshot.supernet.elastic_dims`): OFA's order is the full network, then
elastic kernel, then elastic depth, then elastic expand::

    phases:
      - {name: largest, dims: [], epochs: 2}
      - {name: kernel, dims: [kernel], epochs: 2, lr: 0.03}
      - {name: depth, dims: [kernel, depth], epochs: 2, lr: 0.01}
      - {name: expand, dims: [kernel, depth, expand], epochs: 2, lr: 0.01}

Phase keys: ``name`` (default: its dims joined by ``+``, or ``largest``), ``dims``
(default none), ``epochs`` (> 0, may be fractional), ``lr`` (default: ``train.lr``)
and ``archs_per_step`` (random archs per step; default: the sampler's, which defaults
to 1, or 2 with ``sandwich``). Everything is a function of
``(seed, step)`` once :meth:`ProgressiveSampler.configure` has turned epochs into steps,
so a resumed run (or any DDP rank) is in the same phase at the same step.

Per step the sampler hands out OFA-style random archs of the active phase
(:func:`~oneshot.supernet.elastic_dims.sample_arch`); with ``sandwich`` the largest arch
and the phase's smallest arch come first (BigNAS's sandwich rule: 2 + ``archs_per_step``
archs). The Trainer sums their gradients on one batch and steps once. A phase without
elastic dims has one arch, the largest, and trains it alone.

Decisions:

* **Teacher.** After the first phase every step distils from the largest arch
  (``teacher(step) -> (largest, kd_weight)``). The teacher is the *in-place* supernet's
  largest path (BigNAS-style), not OFA's frozen copy: the Trainer computes its logits
  from the same model under ``no_grad``, so no second network, checkpoint or device
  copy is needed, and resume stays exact. Consequences: the teacher keeps improving
  (it is trained whenever the largest arch is sampled, always with ``sandwich``), and
  its forward runs in train mode (batch statistics; it also updates the largest arch's
  BN running stats, which the evaluator recalibrates anyway).
* **Learning rate.** ``lr_at`` is a cosine from the phase's ``lr`` to 0 within each
  phase (OFA restarts the schedule per phase); ``train.warmup_epochs`` is not applied.
* **Channel re-sorting.** At the first step of each phase that newly enables
  ``expand`` (the previous phase did not), :meth:`before_step` asks the supernet to
  ``reorder_channels_by_importance(0, optimizer)``: the elastic blocks permute their
  weights and the optimizer's per-parameter state (SGD momentum, Adam moments) with
  them. The largest arch computes the same function afterwards.
"""
from __future__ import annotations

import bisect
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..space.arch import Arch
from ..space.space import SearchSpace
from ..supernet.elastic_dims import (ELASTIC_DIMS, available_dims, check_dims, check_elastic_space,
                                     largest_arch, sample_arch, smallest_arch)
from .base import SeededSampler, checked_kd_weight, step_rng
from .registry import register_sampler

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

PHASE_KEYS: tuple[str, ...] = ("name", "dims", "epochs", "lr", "archs_per_step")
_EXAMPLE = ("e.g. [{name: largest, dims: [], epochs: 2}, {name: kernel, dims: [kernel], epochs: 2}, "
            "{name: depth, dims: [kernel, depth], epochs: 2}, {name: expand, dims: [kernel, depth, expand], "
            "epochs: 2}] (conf/sampler/progressive.yaml, or ofa_phases(space))")


@dataclass(frozen=True)
class Phase:
    """One stage of progressive shrinking."""

    name: str
    dims: tuple[str, ...]  # in ELASTIC_DIMS order
    epochs: float
    lr: float | None = None
    archs_per_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dims": list(self.dims), "epochs": self.epochs, "lr": self.lr,
                "archs_per_step": self.archs_per_step}


def ofa_phases(space: SearchSpace, epochs: float = 1.0) -> list[dict[str, Any]]:
    """OFA's order for the dims ``space`` has: largest, +kernel, +depth, +expand."""
    phases: list[dict[str, Any]] = [{"name": "largest", "dims": [], "epochs": epochs}]
    dims: list[str] = []
    for d in available_dims(space):
        dims.append(d)
        phases.append({"name": d, "dims": list(dims), "epochs": epochs})
    return phases


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def parse_phases(space: SearchSpace, phases: Any) -> tuple[Phase, ...]:
    """Validate a phase list against ``space``; errors name the phase and the fix."""
    if phases is None or isinstance(phases, (str, Mapping)) or not isinstance(phases, Sequence) or not phases:
        raise ValueError(f"sampler=progressive needs a non-empty list of phases (sampler.phases), got {phases!r}; "
                         + _EXAMPLE)
    out = []
    for i, raw in enumerate(phases):
        if not isinstance(raw, Mapping):
            raise ValueError(f"progressive phase {i} must be a mapping with keys {list(PHASE_KEYS)}, got {raw!r}")
        label = f"progressive phase {i}" + (f" ({raw['name']!r})" if "name" in raw else "")
        unknown = sorted(set(raw) - set(PHASE_KEYS))
        if unknown:
            raise ValueError(f"{label} has unknown key(s) {unknown}: allowed keys are {list(PHASE_KEYS)}")
        if "epochs" not in raw:
            raise ValueError(f"{label} has no 'epochs': give it a positive number of epochs")
        epochs = _number(raw["epochs"], f"{label}: epochs")
        dims_raw = raw.get("dims") or ()
        try:
            dims = check_dims(space, dims_raw)
        except ValueError as e:
            raise ValueError(f"{label}: {e}; fix this phase's dims") from None
        dims_t = tuple(d for d in ELASTIC_DIMS if d in dims)
        lr = raw.get("lr")
        lr = None if lr is None else _number(lr, f"{label}: lr")
        k = raw.get("archs_per_step")
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0):
            raise ValueError(f"{label}: archs_per_step must be an integer >= 0, got {k!r}")
        name = str(raw.get("name") or ("+".join(dims_t) or "largest"))
        out.append(Phase(name, dims_t, epochs, lr, None if k is None else int(k)))
    for prev, cur in zip(out, out[1:]):
        dropped = sorted(set(prev.dims) - set(cur.dims))
        if dropped:
            log.warning("progressive phase %r turns off %s that phase %r enabled (OFA only adds dimensions)",
                        cur.name, dropped, prev.name)
    if out[0].dims:
        log.warning("progressive: the first phase %r is not the full network (dims []); the KD teacher "
                    "(largest arch) from phase 2 on is trained only when sampled", out[0].name)
    return tuple(out)


class ProgressiveSampler(SeededSampler):
    """Once-for-All progressive shrinking: phases of elastic dims, sandwich option, KD.

    Call :meth:`configure` (the Trainer does) before asking for archs: it maps the
    phases' epochs to optimizer steps. ``total_epochs`` is the sum of the phases' epochs
    and overrides ``train.epochs``. ``requires_sharing`` names the supernet it trains
    (the Trainer refuses any other at construction).
    """

    name = "progressive"
    same_batch = True
    requires_sharing = frozenset({"elastic"})

    def __init__(self, space: SearchSpace, phases: Any = None, sandwich: bool = False, kd_weight: float = 1.0,
                 seed: int = 0, archs_per_step: int | None = None):
        super().__init__(seed)
        bad = sorted({op.name for layer in space.layers for op in layer.candidates
                      if op.elastic_role == "none"})
        if bad:
            raise ValueError(f"sampler=progressive needs an elastic space (only elastic op kinds: mbconv_k<k>_e<e>, mbconv_se_k<k>_e<e> and 'skip', "
                             f"trained with supernet=elastic), but space {space.name!r} has op(s) {bad}: use an "
                             "elastic space (e.g. space=ofa_like_cifar supernet=elastic), or sampler=uniform / "
                             "fair for this space")
        try:
            check_elastic_space(space)
        except ValueError as e:
            raise ValueError(f"sampler=progressive: {e}") from None
        self.space = space
        self.phases = parse_phases(space, phases)
        self.sandwich = bool(sandwich)
        self.kd_weight = checked_kd_weight(kd_weight)
        if archs_per_step is None:
            archs_per_step = 2 if self.sandwich else 1
        low = 0 if self.sandwich else 1
        for where, k in [("sampler.archs_per_step", archs_per_step)] + \
                [(f"progressive phase {p.name!r}: archs_per_step", p.archs_per_step) for p in self.phases]:
            if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < low):
                raise ValueError(f"{where} (random archs per step) must be an integer >= {low}"
                                 f"{' without sandwich' if low else ''}, got {k!r}")
        self.archs_per_step = int(archs_per_step)
        self.largest = largest_arch(space)
        self.smallest = [smallest_arch(space, p.dims) for p in self.phases]
        # re-sort channels where 'expand' comes on
        self.resort = [("expand" in p.dims) and (i == 0 or "expand" not in self.phases[i - 1].dims)
                       for i, p in enumerate(self.phases)]
        self._ends: list[int] | None = None
        self._base_lr: float | None = None

    # ----------------------------------------------------------- schedule
    @property
    def total_epochs(self) -> float:
        return float(sum(p.epochs for p in self.phases))

    def configure(self, steps_per_epoch: int, total_batches: int | None = None, base_lr: float = 0.05) -> None:
        """Turn the phases' epochs into step boundaries (round of cumulative epochs)."""
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        ends, cum = [], 0.0
        for p in self.phases:
            cum += p.epochs
            ends.append(int(round(cum * steps_per_epoch)))
        starts = [0] + ends[:-1]
        for p, a, b in zip(self.phases, starts, ends):
            if b <= a:
                raise ValueError(f"progressive phase {p.name!r} ({p.epochs:g} epochs) gets no optimizer step at "
                                 f"{steps_per_epoch} steps per epoch; give it more epochs")
        if total_batches is not None and total_batches != ends[-1]:
            log.warning("progressive: the Trainer plans %d batches but the phases sum to %d steps; steps past "
                        "the end stay in the last phase", total_batches, ends[-1])
        self._ends, self._base_lr = ends, float(base_lr)
        log.info("progressive shrinking: %s", ", ".join(
            f"{p.name} steps {a}-{b - 1} lr {self.phase_lr(i):g}"
            for i, (p, a, b) in enumerate(zip(self.phases, starts, ends))))

    def _bounds(self) -> list[int]:
        if self._ends is None:
            raise RuntimeError("ProgressiveSampler.configure(steps_per_epoch, total_batches, base_lr) must be "
                               "called before sampling (the Trainer does it)")
        return self._ends

    def phase_index(self, step: int) -> int:
        ends = self._bounds()
        return min(bisect.bisect_right(ends, int(step)), len(ends) - 1)

    def phase_span(self, index: int) -> tuple[int, int]:
        """``[start, end)`` optimizer steps of phase ``index``."""
        ends = self._bounds()
        return (0 if index == 0 else ends[index - 1]), ends[index]

    def phase_at(self, step: int) -> Phase:
        return self.phases[self.phase_index(step)]

    def phase_lr(self, index: int) -> float:
        lr = self.phases[index].lr
        return lr if lr is not None else (self._base_lr if self._base_lr is not None else 0.05)

    def lr_at(self, step: int, batch: int | None = None) -> float:
        """Cosine from the phase's lr towards 0 within each phase."""
        i = self.phase_index(step)
        start, end = self.phase_span(i)
        t = min(1.0, max(0.0, (step - start) / (end - start)))
        return 0.5 * self.phase_lr(i) * (1 + math.cos(math.pi * t))

    # ----------------------------------------------------------- archs
    def step_archs(self, step: int) -> list[Arch]:
        i = self.phase_index(step)
        phase = self.phases[i]
        if not phase.dims:
            return [self.largest]  # the only arch of a phase without elastic dims
        k = self.archs_per_step if phase.archs_per_step is None else phase.archs_per_step
        rng = step_rng(self.seed, step)
        archs = [sample_arch(self.space, phase.dims, rng) for _ in range(k)]
        return [self.largest, self.smallest[i], *archs] if self.sandwich else archs

    def teacher(self, step: int) -> tuple[Arch, float] | None:
        """(largest arch, kd_weight) after the first phase; the in-place supernet is the teacher."""
        if self.kd_weight <= 0 or self.phase_index(step) == 0:
            return None
        return self.largest, self.kd_weight

    def before_step(self, step: int, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Re-sort hidden channels by importance at the first step of a phase enabling 'expand'."""
        i = self.phase_index(step)
        if not self.resort[i] or step != self.phase_span(i)[0]:
            return
        getattr(model, "module", model).reorder_channels_by_importance(0, optimizer)
        log.info("step %d (phase %r): re-sorted channels by importance%s", step, self.phases[i].name,
                 "" if optimizer is not None else " (no optimizer given: its momentum was not permuted)")

    def describe(self, step: int) -> dict[str, Any]:
        i = self.phase_index(step)
        start, end = self.phase_span(i)
        return {"sampler": self.name, "phase": self.phases[i].name,
                "phase_progress": round((min(step, end - 1) - start + 1) / (end - start), 4)}

    # ----------------------------------------------------------- state
    def _schedule(self) -> dict[str, Any]:
        return {"phases": [p.to_dict() for p in self.phases], "sandwich": self.sandwich,
                "kd_weight": self.kd_weight, "archs_per_step": self.archs_per_step}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **self._schedule()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        mine = self._schedule()
        diff = sorted(k for k in mine if k in state and state[k] != mine[k])
        if diff:
            raise ValueError(f"cannot resume progressive shrinking: the checkpoint's {diff} differ from this "
                             f"config ({ {k: state[k] for k in diff} } vs { {k: mine[k] for k in diff} }); "
                             "resume with the original sampler settings or use a new checkpoint name")


register_sampler("progressive", ProgressiveSampler)
