import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from oneshot.space import CostModel, load_space
from oneshot.supernet import SubNet


def test_matches_nas_bench_macro_flops_and_params_for_all_6561(nas_bench_macro_json):
    table = json.loads(nas_bench_macro_json.read_text())
    space = load_space("nas_bench_macro")
    cm = CostModel(space)
    archs = np.array([[int(c) for c in k] for k in table])
    np.testing.assert_array_equal(cm.flops(archs), [v["flops"] for v in table.values()])
    np.testing.assert_array_equal(cm.params(archs), [v["params"] for v in table.values()])


@pytest.mark.parametrize("preset", ["nas_bench_macro", "mobilenet_like", "ofa_like_se"])
def test_agrees_with_torch_flop_counter_and_parameter_count(preset):
    space = load_space(preset)
    cm = CostModel(space)
    rng = np.random.default_rng(0)
    for arch in space.sample(rng, 3) + [space.largest(), space.smallest()]:
        net = SubNet.build(space, arch).eval()
        x = torch.zeros(1, space.in_channels, space.input_size, space.input_size)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(x)
        # the flop counter counts 2 FLOPs per multiply-accumulate (conv + linear)
        assert counter.get_total_flops() // 2 == cm.flops([arch])[0]
        assert sum(p.numel() for p in net.parameters()) == cm.params([arch])[0]


def test_bounds_and_extremes():
    space = load_space("nas_bench_macro")
    cm = CostModel(space)
    lo, hi = cm.bounds("flops")
    assert (lo, hi) == (7713280.0, 105660928.0)
    assert cm.flops([space.largest()])[0] == hi and cm.flops([space.smallest()])[0] == lo


def test_unknown_metric_and_wrong_width():
    cm = CostModel(load_space("nas_bench_macro"))
    with pytest.raises(KeyError, match="unknown cost metric"):
        cm.cost("energy", [[0] * 8])
    with pytest.raises(ValueError, match="7 layers"):
        cm.flops([[0] * 7])
