import dataclasses

import pytest
import torch

from oneshot.data import load_synthetic

from oneshot.evaluate import EvalSettings, SupernetEvaluator
from oneshot.sampling import UniformSampler
from oneshot.supernet import SuperNet
from oneshot.train import CheckpointError, Trainer, TrainSettings
from oneshot.space import SearchSpace

SETTINGS = EvalSettings(recal_images=64, val_images=64, batch_size=32, recal_batch_size=32)


@pytest.fixture
def checkpoint(tiny_space, tiny_data, tmp_path):
    torch.manual_seed(0)
    t = Trainer(SuperNet(tiny_space), UniformSampler(tiny_space), tiny_data, TrainSettings(epochs=1, batch_size=32),
                checkpoint_path=tmp_path / "s.pt", device="cpu",
                extra_state={"space": tiny_space.to_config(), "supernet": {"sharing": "separate"}}, progress=False)
    t.fit()
    return tmp_path / "s.pt"


def test_equivalent_archs_are_evaluated_once_and_results_keep_input_order(checkpoint, tiny_data, tmp_path):
    ev = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, cache=tmp_path / "c.sqlite",
                                           device="cpu", progress=False)
    # "12201" and "12210" are one network (the identity at layer 3 moves to the stage end)
    df = ev.evaluate([ev.space.parse(a) for a in ["12201", "12210", "22222"]])
    assert list(df.arch) == ["12210", "12210", "22222"]
    assert df.accuracy[0] == df.accuracy[1]
    assert ev.stats["computed"] == 2
    assert list(df.cached) == [False, True, False]
    again = ev.evaluate([ev.space.parse("22222")])
    assert bool(again.cached[0]) and again.accuracy[0] == df.accuracy[2]
    assert ev.stats["computed"] == 2


def test_cache_is_shared_across_evaluators_and_keyed_by_settings(checkpoint, tiny_data, tmp_path):
    cache = tmp_path / "c.sqlite"
    archs = [(1, 2, 1, 2, 1), (0, 0, 0, 0, 0)]
    first = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, cache=cache, device="cpu",
                                              progress=False).evaluate(archs)
    second = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, cache=cache, device="cpu",
                                               progress=False)
    df = second.evaluate(archs)
    assert df.cached.all() and second.stats["computed"] == 0
    assert list(df.accuracy) == list(first.accuracy)
    other = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data,
                                              EvalSettings(**{**SETTINGS.__dict__, "recal_images": 32}),
                                              cache=cache, device="cpu", progress=False)
    assert not other.evaluate(archs).cached.any()


def test_cache_key_covers_the_data_actually_used(checkpoint, tiny_data, tmp_path):
    # same dataset name, settings and sizes; only the validation images differ
    cache = tmp_path / "c.sqlite"
    archs = [(1, 2, 1, 2, 1), (2, 2, 2, 2, 2)]
    first = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, cache=cache, device="cpu",
                                              progress=False)
    first.evaluate(archs)
    other_val = dataclasses.replace(tiny_data, val=tiny_data.train.subset(torch.arange(len(tiny_data.val))))
    other = SupernetEvaluator.from_checkpoint(checkpoint, other_val, SETTINGS, cache=cache, device="cpu",
                                              progress=False)
    assert other.settings_key != first.settings_key
    assert not other.evaluate(archs).cached.any()
    reseeded = load_synthetic(size=16, num_classes=4, train_images=128, val_images=64, test_images=32, seed=5)
    assert SupernetEvaluator.from_checkpoint(checkpoint, reseeded, SETTINGS, cache=cache, device="cpu",
                                             progress=False).settings_key != first.settings_key
    same = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, cache=cache, device="cpu",
                                             progress=False)
    assert same.settings_key == first.settings_key and same.evaluate(archs).cached.all()


def test_cached_value_equals_fresh_value(checkpoint, tiny_data, tmp_path):
    arch = [(2, 1, 2, 1, 2)]
    fresh = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, device="cpu", progress=False)
    a = fresh.evaluate(arch).accuracy[0]
    b = fresh.evaluate(arch).accuracy[0]  # no cache: recomputed, recalibration is deterministic
    assert a == b


def test_accuracy_and_costs_columns(checkpoint, tiny_data):
    ev = SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, device="cpu", progress=False)
    df = ev.evaluate([(2, 2, 2, 2, 2)])
    assert {"arch", "accuracy", "loss", "flops", "params", "cached"} <= set(df.columns)
    assert 0 <= df.accuracy[0] <= 100


def test_checkpoint_of_another_space_is_refused(checkpoint, tiny_data, tiny_space):
    other = SearchSpace({**tiny_space.to_config(), "name": "wide", "stem_channels": 16})
    with pytest.raises(CheckpointError, match="trained on space 'tiny'"):
        SupernetEvaluator.from_checkpoint(checkpoint, tiny_data, SETTINGS, space=other, device="cpu")


def test_class_count_mismatch_is_refused(checkpoint):
    from oneshot.data import load_synthetic

    data = load_synthetic(size=16, num_classes=3)
    with pytest.raises(ValueError, match="3 classes, space 'tiny' has 4"):
        SupernetEvaluator.from_checkpoint(checkpoint, data, SETTINGS, device="cpu")
