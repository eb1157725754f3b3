import copy

import pandas as pd
import torch

from oneshot.evaluate import EvalSettings, SupernetEvaluator
from oneshot.evaluate.reference import ReferenceSubnets, reference_archs
from oneshot.sampling import UniformSampler
from oneshot.space import CostModel
from oneshot.supernet import SuperNet
from oneshot.train import Trainer, TrainSettings


def _trainer(space, data, tmp_path, callbacks=()):
    torch.manual_seed(0)
    return Trainer(SuperNet(space), UniformSampler(space, seed=0), data, TrainSettings(epochs=2, batch_size=32),
                   metrics_path=tmp_path / "metrics.csv", device="cpu", progress=False, callbacks=callbacks)


def test_reference_archs_are_the_smallest_middle_and_largest_by_flops(tiny_space):
    archs = reference_archs(tiny_space)
    flops = dict(zip(archs, CostModel(tiny_space).flops(list(archs.values()))))
    lo, hi = CostModel(tiny_space).bounds("flops")
    assert flops["smallest"] == lo and flops["largest"] == hi
    assert lo < flops["middle"] < hi
    assert str(archs["middle"]) == "11111"  # identity / k3e3 / k5e6 in every layer: the k3e3


def test_reference_columns_match_a_fresh_evaluator_and_leave_training_unchanged(tiny_space, tiny_data, tmp_path):
    reference = ReferenceSubnets(tiny_space, recal_images=64, val_images=64, batch_size=32)
    checked = _trainer(tiny_space, tiny_data, tmp_path, [reference])
    checked.fit()
    plain = _trainer(tiny_space, tiny_data, tmp_path / "plain")
    plain.fit()
    for (name, a), b in zip(checked.model.state_dict().items(), plain.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)  # BN statistics restored, no RNG drawn
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.epoch) == [0, 1]
    evaluator = SupernetEvaluator(copy.deepcopy(checked.model), tiny_space, tiny_data,
                                  EvalSettings(recal_images=64, val_images=64, batch_size=32, recal_batch_size=32,
                                               channels_last=False), device="cpu", progress=False)
    fresh = evaluator.evaluate(list(reference_archs(tiny_space).values())).accuracy
    assert [metrics[f"ref_{n}_acc"].iloc[-1] for n in ("smallest", "middle", "largest")] == list(fresh)
