import numpy as np
import pytest
import torch

from oneshot.dnas import ArchParameters, CostLoss, CostLossSettings, DnasStrategy, flops_table, latency_table
from oneshot.errors import UserInputError
from oneshot.latency import LatencyLUT, Row
from oneshot.latency.keys import fixed_keys, layer_keys
from oneshot.space.costs import CostModel


def _lut(space, seed=0):
    rng = np.random.default_rng(seed)
    keys = {k for row in layer_keys(space) for k in row} | set(fixed_keys(space))
    rows = {k: Row(float(v), float(v) * 0.9, float(v) * 1.1, 5) for k, v in zip(sorted(keys), rng.uniform(0.1, 2, len(keys)))}
    return LatencyLUT(rows, {"profile": "test", "kind": "cpu", "batch": "1", "threads": "1", "source": "measured"})


def _one_hot(space, arch):
    probs = torch.zeros(space.num_layers, int(space.num_choices.max()), dtype=torch.float64)
    probs[torch.arange(space.num_layers), torch.tensor(list(arch))] = 1.0
    return probs


def test_expected_latency_of_one_hot_alpha_is_the_lut_sum(tiny_space):
    model = _lut(tiny_space).model(tiny_space, corrected=False)
    table = latency_table(model)
    rng = np.random.default_rng(1)
    for arch in tiny_space.sample(rng, 6):
        want = float(model.predict([arch])[0])
        assert float(table.expected(_one_hot(tiny_space, arch))) == pytest.approx(want, rel=1e-9)
        assert table.of(arch) == pytest.approx(want, rel=1e-9)
    lo, hi = table.bounds()
    assert (lo, hi) == pytest.approx(model.bounds())


def test_expected_flops_of_one_hot_alpha_is_the_analytic_cost(tiny_space):
    table, model = flops_table(tiny_space), CostModel(tiny_space)
    for arch in tiny_space.sample(np.random.default_rng(2), 4):
        assert float(table.expected(_one_hot(tiny_space, arch))) == pytest.approx(float(model.flops([arch])[0]))


@pytest.mark.parametrize("form", ["mul_log", "add", "hinge"])
def test_cost_loss_pushes_alpha_towards_cheaper_ops(tiny_space, form):
    table = flops_table(tiny_space)
    lo, hi = table.bounds()
    settings = CostLossSettings(form=form, weight=1.0, exponent=0.6, target=lo * 1.5 if form != "mul_log" else None)
    if form == "mul_log":  # FLOPs of the tiny space are below 1 MFLOP: mul_log refuses them
        with pytest.raises(UserInputError, match="cost.form=mul_log"):
            CostLoss(settings, table, DnasStrategy.uniform_probs(tiny_space))
        return
    loss = CostLoss(settings, table, DnasStrategy.uniform_probs(tiny_space))
    alpha = ArchParameters(tiny_space.num_choices)
    total, expected = loss(torch.tensor(1.0), alpha.probs())
    total.backward()
    grad, flops = alpha.logits.grad, torch.as_tensor(table.table, dtype=torch.float32)
    # descending the gradient raises the logit of the cheapest candidate of every layer
    assert float(expected.detach()) > lo
    assert (grad.argmin(dim=1) == flops.argmin(dim=1)).all() and (grad.argmax(dim=1) == flops.argmax(dim=1)).all()


def test_target_below_the_smallest_cost_is_refused_naming_the_minimum(tiny_space):
    table = flops_table(tiny_space)
    lo, _ = table.bounds()
    with pytest.raises(UserInputError, match=f"{lo:.6g}"):
        CostLoss(CostLossSettings(form="add", target=lo / 2), table)
