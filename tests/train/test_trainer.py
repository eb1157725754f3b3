import math

import pandas as pd
import pytest
import torch

from oneshot.sampling import FairSampler, FixedSampler, UniformSampler
from oneshot.supernet import SubNet, SuperNet
from oneshot.train import NonFiniteLossError, Trainer, TrainSettings, load_checkpoint
from oneshot.train.checkpoint import NonFiniteCheckpointError


def _trainer(space, data, tmp_path, sampler=None, name="ck.pt", **settings):
    torch.manual_seed(0)
    model = SuperNet(space)
    sampler = sampler or UniformSampler(space, seed=0)
    s = TrainSettings(**{"epochs": 2, "batch_size": 32, "lr": 0.05, **settings})
    return Trainer(model, sampler, data, s, checkpoint_path=tmp_path / name, metrics_path=tmp_path / "metrics.csv",
                   device="cpu", extra_state={"space": space.to_config()}, progress=False)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("sampler_name", ["uniform", "fair"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tiny_space, tiny_data, tmp_path, sampler_name):
    make = (lambda: UniformSampler(tiny_space, seed=0)) if sampler_name == "uniform" else \
        (lambda: FairSampler(tiny_space, seed=0))
    full = _trainer(tiny_space, tiny_data, tmp_path, make(), name="full.pt")
    full.fit()
    half = _trainer(tiny_space, tiny_data, tmp_path, make(), name="half.pt", max_steps=full.step // 2)
    half.fit()
    assert half.step == full.step // 2
    resumed = _trainer(tiny_space, tiny_data, tmp_path, make(), name="half.pt")
    assert resumed.resume()
    resumed.fit()
    assert resumed.step == full.step
    a, b = _weights(full.model), _weights(resumed.model)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0, msg=k)


def test_fair_step_consumes_one_batch_per_arch(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path, FairSampler(tiny_space, seed=0), epochs=1)
    t.fit()
    assert t.batch == t.total_batches + (-t.total_batches % 3) or t.batch >= t.total_batches
    assert t.step == math.ceil(t.total_batches / 3)


def test_metrics_csv_and_checkpoint_contents(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path)
    t.fit()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.epoch) == [0, 1]
    assert {"train_loss", "train_acc", "lr", "images_per_s", "sampler"} <= set(metrics.columns)
    state = load_checkpoint(tmp_path / "ck.pt", tiny_space)
    assert state["train"]["complete"] and state["sampler"]["name"] == "uniform"
    assert {"model", "optimizer", "rng", "space"} <= set(state)


def test_training_reduces_loss_on_learnable_data(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path, epochs=8, lr=0.1, batch_size=16)
    history = t.fit()
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0] * 0.8


def test_nan_loss_stops_with_clear_error_and_keeps_last_checkpoint(tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path, checkpoint_every=2)
    for _ in range(2):
        t.train_step()
    t.save()
    saved = (tmp_path / "ck.pt").read_bytes()
    with torch.no_grad():
        t.model.head.classifier.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"step 2: loss is nan .* last good checkpoint .* \(step 2\) is kept"):
        t.fit()
    assert (tmp_path / "ck.pt").read_bytes() == saved


def _all_finite(state) -> bool:
    if isinstance(state, dict):
        return all(_all_finite(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return all(_all_finite(v) for v in state)
    return not (isinstance(state, torch.Tensor) and state.is_floating_point()) or bool(torch.isfinite(state).all())


@pytest.mark.parametrize("grad_clip", [5.0, None])
def test_diverging_run_never_writes_a_non_finite_checkpoint(tiny_space, tiny_data, tmp_path, grad_clip):
    # issue 14: lr=1e9 made the step-4 checkpoint hold inf weights while being reported as "good"
    t = _trainer(tiny_space, tiny_data, tmp_path, lr=1e9, checkpoint_every=1, max_steps=20, grad_clip=grad_clip)
    with pytest.raises((NonFiniteLossError, NonFiniteCheckpointError), match="is kept|no checkpoint was written"):
        t.fit()
    path = tmp_path / "ck.pt"
    assert path.exists() and t.last_saved_step is not None and t.last_saved_step <= t.step
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert _all_finite(state)
    assert state["train"]["step"] == t.last_saved_step
    load_checkpoint(path, tiny_space)  # the kept file is usable


def test_standalone_training_uses_the_same_loop(tiny_space, tiny_data, tmp_path):
    arch = tiny_space.parse("22222")
    model = SubNet.build(tiny_space, arch)
    t = Trainer(model, FixedSampler(tiny_space, arch), tiny_data, TrainSettings(epochs=3, batch_size=32, lr=0.1),
                device="cpu", progress=False)
    history = t.fit()
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]


def test_resume_refuses_a_different_plan(tiny_space, tiny_data, tmp_path):
    _trainer(tiny_space, tiny_data, tmp_path, max_steps=2).fit()
    other = _trainer(tiny_space, tiny_data, tmp_path, epochs=5)
    with pytest.raises(ValueError, match="planned for"):
        other.resume()


def test_max_steps_below_one_epoch_records_a_partial_row_and_resume_reports_the_whole_epoch(
        tiny_space, tiny_data, tmp_path):
    t = _trainer(tiny_space, tiny_data, tmp_path, epochs=1, max_steps=2)
    assert t.steps_per_epoch == 4
    table = t.fit()
    assert len(table) == 1 and bool(table.partial[0]) and table.step[0] == 2
    assert table.train_loss[0] > 0 and table.images_per_s[0] > 0
    on_disk = pd.read_csv(tmp_path / "metrics.csv")
    assert list(on_disk.partial) == [True] and list(on_disk.step) == [2]
    resumed = _trainer(tiny_space, tiny_data, tmp_path, epochs=1)
    assert resumed.resume()
    table = resumed.fit()
    # the partial row is a report, not history: the resumed run reports epoch 0 once, whole
    assert list(table.epoch) == [0] and not table.partial[0] and table.step[0] == 4
    assert resumed._epoch_acc["steps"] == 0


def test_ctrl_c_saves_a_resumable_checkpoint_and_raises_training_interrupted(tiny_space, tiny_data, tmp_path):
    from oneshot.train import TrainingInterrupted

    class StopAt:
        def on_step_end(self, trainer, info):
            if trainer.step == 3:
                raise KeyboardInterrupt

    t = _trainer(tiny_space, tiny_data, tmp_path)
    t.callbacks.append(StopAt())
    with pytest.raises(TrainingInterrupted) as caught:
        t.fit()
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.step == 3 and caught.value.checkpoint == tmp_path / "ck.pt"
    assert load_checkpoint(tmp_path / "ck.pt")["train"]["step"] == 3


@pytest.mark.parametrize("setting, value", [("epochs", -1), ("epochs", 0), ("batch_size", 0), ("lr", float("nan")),
                                            ("checkpoint_every", -1), ("max_steps", 0), ("momentum", 1.0),
                                            ("grad_clip", -1.0)])
def test_settings_out_of_range_are_refused_naming_the_key(setting, value):
    with pytest.raises(ValueError, match=rf"train\.{setting}=.* is invalid: it must be"):
        TrainSettings(**{setting: value})
