"""DnasStrategy under the one Trainer: resume lands on the same alpha, the split, the trajectory."""
import pytest
import torch

from oneshot.dnas import arch_split
from oneshot.supernet import SuperNet
from oneshot.train.trainer import Trainer, TrainSettings

SETTINGS = dict(epochs=3, batch_size=16, lr=0.05, seed=0)


def _trainer(space, strategy, data, ckpt, **over):
    torch.manual_seed(0)
    return Trainer(SuperNet(space), strategy, data, TrainSettings(**{**SETTINGS, **over}), checkpoint_path=ckpt,
                   device="cpu", progress=False)


@pytest.mark.parametrize("method", ["fbnet", "gdas", "proxyless"])
def test_interrupted_search_resumes_to_the_same_alpha(method, tiny_space, small_data, make_strategy, tmp_path):
    weights, arch = arch_split(small_data, 0.25, seed=0)
    full = make_strategy(method, arch, warmup_epochs=1)
    _trainer(tiny_space, full, weights, tmp_path / "full.pt").fit()
    cut = make_strategy(method, arch, warmup_epochs=1)
    first = _trainer(tiny_space, cut, weights, tmp_path / "cut.pt", max_steps=7)
    first.fit()
    assert first.step == 7 and cut.arch_steps > 0
    resumed_strategy = make_strategy(method, arch, warmup_epochs=1)
    resumed = _trainer(tiny_space, resumed_strategy, weights, tmp_path / "cut.pt")
    assert resumed.resume()
    assert torch.equal(resumed_strategy.alpha.logits, cut.alpha.logits)
    resumed.fit()
    assert resumed_strategy.arch_steps == full.arch_steps
    assert torch.equal(resumed_strategy.alpha.logits, full.alpha.logits)  # bit-identical
    assert not torch.equal(full.alpha.logits, torch.zeros_like(full.alpha.logits))


def test_warmup_trains_weights_only(tiny_space, small_data, make_strategy):
    weights, arch = arch_split(small_data, 0.25, seed=0)
    strategy = make_strategy("proxyless", arch, warmup_epochs=1)
    trainer = _trainer(tiny_space, strategy, weights, None, max_steps=2)
    trainer.fit()
    assert strategy.arch_steps == 0 and torch.equal(strategy.alpha.logits, torch.zeros_like(strategy.alpha.logits))
    assert strategy.searching(trainer.steps_per_epoch) and not strategy.searching(trainer.steps_per_epoch - 1)


def test_resume_refuses_other_method_settings(tiny_space, small_data, make_strategy, tmp_path):
    weights, arch = arch_split(small_data, 0.25, seed=0)
    _trainer(tiny_space, make_strategy("fbnet", arch), weights, tmp_path / "a.pt", max_steps=2).fit()
    other = _trainer(tiny_space, make_strategy("fbnet", arch, arch_lr=0.5), weights, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="arch_lr"):
        other.resume()


def test_arch_split_is_disjoint_and_seeded(small_data):
    w, a = arch_split(small_data, 0.2, seed=3)
    assert len(w.train) + len(a.train) == len(small_data.train) and len(a.train) == round(0.2 * len(small_data.train))
    assert w.val is small_data.val
    w2, a2 = arch_split(small_data, 0.2, seed=3)
    assert torch.equal(a.train.x, a2.train.x)
    rows = {bytes(x.numpy()) for x in w.train.x}
    assert not any(bytes(x.numpy()) in rows for x in a.train.x)
