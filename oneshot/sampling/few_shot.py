"""Few-shot training schedule: one slice's sampler per step, slices taken in turn."""
from __future__ import annotations

from typing import Any, Sequence

from ..space.arch import Arch
from .base import Sampler, overridden_hooks


class FewShotSampler(Sampler):
    """Round-robin over K slice samplers (one per sub-supernet of a few-shot split).

    Step ``s`` belongs to slice ``(s // steps_per_turn) % K`` and returns that slice's
    sampler's archs for step ``s`` (the global step: the slices' draws never repeat one
    another, and every draw stays a function of ``(seed, step)``, so resume and DDP are
    exact as for any sampler). Each sub-supernet therefore gets ``1/K`` of the steps, and
    the Trainer's one cosine schedule runs across the slices' turns together (one
    interruption leaves every sub-supernet equally far). ``epochs_per_slice`` (optional)
    sets the run's length to ``K * epochs_per_slice`` epochs, overriding ``train.epochs``
    as progressive shrinking's phases do; without it ``train.epochs`` is split across K.

    The slice samplers must be plain ones (uniform, fair: ``step_archs`` and a seed, no
    schedule, teacher or ``before_step`` hook) restricted to their slice's allowed choices;
    :meth:`after_step` feedback goes to the slice sampler that drew the step.
    """

    name = "few_shot"

    def __init__(self, slice_samplers: Sequence[Sampler], split: dict[str, Any], steps_per_turn: int = 1,
                 epochs_per_slice: float | None = None):
        if not slice_samplers:
            raise ValueError("a few-shot sampler needs one sampler per slice, got none")
        hooks = sorted({h for s in slice_samplers for h in overridden_hooks(s)})
        if hooks:
            raise ValueError(f"sampler {getattr(slice_samplers[0], 'name', '?')!r} has {hooks} hooks, which a "
                             "few-shot split does not drive: use sampler=uniform or sampler=fair")
        if isinstance(steps_per_turn, bool) or int(steps_per_turn) != steps_per_turn or steps_per_turn < 1:
            raise ValueError(f"supernet.steps_per_turn must be an integer >= 1, got {steps_per_turn!r}")
        if epochs_per_slice is not None and not float(epochs_per_slice) > 0:
            raise ValueError(f"supernet.epochs_per_slice must be > 0 (or null), got {epochs_per_slice!r}")
        self.samplers = list(slice_samplers)
        self.split = {"split_layers": list(split["split_layers"]), "slices": [list(s) for s in split["slices"]]}
        if len(self.split["slices"]) != len(self.samplers):
            raise ValueError(f"{len(self.samplers)} slice samplers for {len(self.split['slices'])} slices")
        self.steps_per_turn = int(steps_per_turn)
        self.epochs_per_slice = None if epochs_per_slice is None else float(epochs_per_slice)

    @property
    def num_slices(self) -> int:
        return len(self.samplers)

    @property
    def same_batch(self) -> bool:
        return self.samplers[0].same_batch

    @property
    def total_epochs(self) -> float | None:
        """``K * epochs_per_slice`` (the Trainer's run length) when set."""
        return None if self.epochs_per_slice is None else self.num_slices * self.epochs_per_slice

    def slice_at(self, step: int) -> int:
        return (int(step) // self.steps_per_turn) % self.num_slices

    def step_archs(self, step: int) -> list[Arch]:
        return self.samplers[self.slice_at(step)].step_archs(step)

    def check_model(self, model: Any) -> None:
        for sampler in self.samplers:
            sampler.check_model(model)

    def after_step(self, step: int, archs: Sequence[Arch], losses: Sequence[float]) -> None:
        self.samplers[self.slice_at(step)].after_step(step, archs, losses)

    def describe(self, step: int) -> dict[str, Any]:
        inner = self.samplers[0].name
        return {"sampler": f"{self.name}:{inner}", "slice": self.slice_at(step)}

    # ------------------------------------------------------------------ state
    def _schedule(self) -> dict[str, Any]:
        return {"split": self.split, "steps_per_turn": self.steps_per_turn, "epochs_per_slice": self.epochs_per_slice}

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self._schedule(), "slices": [s.state_dict() for s in self.samplers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"sampler state is for {state.get('name')!r}, this sampler is {self.name!r}: the "
                             "checkpoint was not trained as a few-shot split (use another checkpoint name)")
        mine = self._schedule()
        diff = sorted(k for k in mine if state.get(k) != mine[k])
        if diff:
            raise ValueError(f"cannot resume the few-shot run: the checkpoint's {diff} differ from this config "
                             f"({ {k: state.get(k) for k in diff} } vs { {k: mine[k] for k in diff} }); resume "
                             "with the original supernet settings or use a new checkpoint name")
        for sampler, sub in zip(self.samplers, state["slices"]):
            sampler.load_state_dict(sub)

