"""The Sampler base class: no-op defaults, loss feedback through after_step, declared requirements."""
from __future__ import annotations

import copy
import importlib
import sys
from typing import Any, Sequence

import pytest
import torch
import torch.nn.functional as F

from oneshot.sampling import Sampler, UniformSampler
from oneshot.sampling.base import overridden_hooks, step_rng
from oneshot.sampling.few_shot import FewShotSampler
from oneshot.space.arch import Arch
from oneshot.supernet import SuperNet
from oneshot.train import Trainer, TrainSettings


class RecordingSampler(UniformSampler):
    """Uniform draws; remembers what the Trainer fed back."""

    def __init__(self, space, **kw):
        super().__init__(space, **kw)
        self.fed: list[tuple[int, list[Arch], list[float]]] = []

    def after_step(self, step: int, archs: Sequence[Arch], losses: Sequence[float]) -> None:
        self.fed.append((step, list(archs), list(losses)))


class HardestFirstSampler(Sampler):
    """An adaptive sampler built only from the hooks: trains, each step, the pool arch whose last
    loss was highest (untried archs first), so it needs the losses the Trainer passes back."""

    name = "hardest_first"

    def __init__(self, space, pool: int = 3, seed: int = 0):
        self.pool = [space.sample(step_rng(seed, 0, salt=i)) for i in range(pool)]
        self.last_loss: dict[str, float] = {}

    def step_archs(self, step: int) -> list[Arch]:
        return [max(self.pool, key=lambda a: self.last_loss.get(str(a), float("inf")))]

    def after_step(self, step: int, archs: Sequence[Arch], losses: Sequence[float]) -> None:
        self.last_loss.update({str(a): float(v) for a, v in zip(archs, losses)})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "last_loss": dict(self.last_loss)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.last_loss = dict(state["last_loss"])


def _trainer(space, data, sampler, model=None) -> Trainer:
    torch.manual_seed(0)
    return Trainer(model or SuperNet(space), sampler, data, TrainSettings(epochs=1, batch_size=16, seed=0),
                   device="cpu", progress=False)


def test_defaults_are_explicit_no_ops(tiny_space):
    s = UniformSampler(tiny_space)
    assert (s.total_epochs, s.lr_at(3, 3), s.teacher(3), s.same_batch, s.requires_sharing) == \
        (None, None, None, True, None)
    assert s.describe(0) == {"sampler": "uniform"} and overridden_hooks(s) == []
    with pytest.raises(TypeError):
        Sampler()  # step_archs is abstract


def test_trainer_feeds_back_each_archs_loss(tiny_space, tiny_data):
    t = _trainer(tiny_space, tiny_data, RecordingSampler(tiny_space, archs_per_step=3, seed=4))
    for _ in range(2):
        archs = t.sampler.step_archs(t.step)
        x, y = t.batch_at(t.batch)
        ref = copy.deepcopy(t.model).train()
        rng = torch.get_rng_state()
        with torch.no_grad():
            expected = [F.cross_entropy(ref(x, a), y, label_smoothing=t.settings.label_smoothing).item() for a in archs]
        torch.set_rng_state(rng)
        step = t.step
        info = t.train_step()
        got_step, got_archs, got_losses = t.sampler.fed[-1]
        assert (got_step, got_archs) == (step, archs)
        assert got_losses == pytest.approx(expected, rel=1e-5)
        assert len(set(got_losses)) == 3  # one loss per arch, not the step's mean repeated
        assert info["loss"] == pytest.approx(sum(got_losses) / 3)


def test_adaptive_sampler_follows_the_losses(tiny_space, tiny_data):
    sampler = HardestFirstSampler(tiny_space, pool=3)
    t = _trainer(tiny_space, tiny_data, sampler)
    trained = []
    for _ in range(5):
        trained.append(sampler.step_archs(t.step)[0])
        before = dict(sampler.last_loss)
        t.train_step()
        if len(before) == 3:  # every arch tried: the one with the highest loss was picked
            assert str(trained[-1]) == max(before, key=before.get)
    assert {str(a) for a in trained[:3]} == {str(a) for a in sampler.pool}  # untried ones first
    assert set(sampler.last_loss) == {str(a) for a in sampler.pool}
    clone = HardestFirstSampler(tiny_space, pool=3)
    clone.load_state_dict(sampler.state_dict())
    assert clone.step_archs(t.step) == sampler.step_archs(t.step)


def test_declared_sharing_is_checked_at_start(tiny_space, tiny_data):
    class ElasticOnly(UniformSampler):
        requires_sharing = frozenset({"elastic"})

    with pytest.raises(ValueError, match=r"sampler=uniform trains a supernet with elastic weight sharing, got "
                                         r"SuperNet \(sharing='separate'\): set supernet=elastic"):
        _trainer(tiny_space, tiny_data, ElasticOnly(tiny_space))


def test_few_shot_refuses_slices_with_schedule_hooks(tiny_space):
    class WithTeacher(UniformSampler):
        def teacher(self, step):
            return None

    split = {"split_layers": [0], "slices": [[0]]}
    with pytest.raises(ValueError, match=r"\['teacher'\] hooks"):
        FewShotSampler([WithTeacher(tiny_space)], split)
    assert FewShotSampler([UniformSampler(tiny_space)], split).same_batch is True


def test_a_new_sampler_module_registers_itself(tiny_space, tmp_path, monkeypatch):
    """Adding a sampler touches its own module (and yaml), not the registry."""
    import oneshot.sampling as package
    from oneshot.sampling import registry

    module = tmp_path / "tmp_sampler_plugin.py"
    module.write_text("from .registry import register_sampler\nfrom .uniform import UniformSampler\n"
                      "register_sampler('tmp_plugin', UniformSampler)\n")
    importlib.invalidate_caches()
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    try:
        assert "tmp_plugin" in registry.sampler_names()
        assert isinstance(registry.build_sampler("tmp_plugin", tiny_space), UniformSampler)
    finally:
        sys.modules.pop("oneshot.sampling.tmp_sampler_plugin", None)
