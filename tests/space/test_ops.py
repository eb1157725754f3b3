"""Op kinds as registered classes: grammar, cost against torch, squeeze-excite width."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models._utils import _make_divisible

from oneshot.space import SearchSpace
from oneshot.space.ops import IdentityOp, MBConvOp, OpSpec, SEMBConvOp, SkipOp, make_divisible, se_channels
from oneshot.space.space import LayerSpec


def layer(cin: int, cout: int, stride: int, size: int) -> LayerSpec:
    return LayerSpec(0, 0, 0, cin, cout, stride, size, ())


@pytest.mark.parametrize("name, op", [
    ("identity", IdentityOp()), ("skip", SkipOp()), ("mbconv_k5_e6", MBConvOp(5, 6)),
    ("mbconv_k3_e4_hswish", MBConvOp(3, 4, "hswish")), ("mbconv_se_k7_e3", SEMBConvOp(7, 3)),
    ("mbconv_se_k3_e1_relu", SEMBConvOp(3, 1, "relu")),
])
def test_names_parse_to_their_op_and_back(name, op):
    assert OpSpec.parse(name) == op and op.name == name == str(op)


def test_kinds_are_registered_and_never_equal_across_kinds():
    assert {"identity", "skip", "mbconv", "mbconv_se"} <= set(OpSpec.registered())
    assert MBConvOp(3, 6) != SEMBConvOp(3, 6) and MBConvOp(3, 6) != MBConvOp(3, 6, "relu")
    assert len({MBConvOp(3, 6), MBConvOp(3, 6), SEMBConvOp(3, 6)}) == 2


@pytest.mark.parametrize("bad, match", [
    ("conv_k3", "mbconv_se_k<kernel>_e<expand>"), ("mbconv_k3_e6_gelu", "unknown op"),
    ("mbconv_se_k4_e6", "odd"), ("mbconv_k3_e0", "expand >= 1"),
])
def test_bad_names_say_what_is_known(bad, match):
    with pytest.raises(ValueError, match=match):
        OpSpec.parse(bad)


def test_a_kind_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        type("Again", (MBConvOp,), {"kind": "mbconv"})


def test_se_width_is_ofas_make_divisible():
    for channels in range(8, 1200, 4):
        assert se_channels(channels) == _make_divisible(channels // 4, 8) == make_divisible(channels // 4, 8)
    assert se_channels(72) == 24  # rounding down 18 -> 16 would lose more than 10 %


OPS = [MBConvOp(3, 1), MBConvOp(5, 4, "hswish"), SEMBConvOp(3, 1), SEMBConvOp(5, 3, "relu"),
       SEMBConvOp(7, 6, "hswish"), IdentityOp(), SkipOp()]
LAYERS = [layer(16, 16, 1, 14), layer(24, 40, 2, 28), layer(40, 40, 1, 7)]


@pytest.mark.parametrize("op", OPS, ids=str)
@pytest.mark.parametrize("where", LAYERS, ids=lambda la: f"{la.in_channels}-{la.out_channels}-s{la.stride}")
def test_cost_equals_torch_flop_counter_and_parameter_count(op, where):
    module = op.build(where, "relu6").eval()
    x = torch.randn(2, where.in_channels, where.in_size, where.in_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = module(x)
    assert tuple(y.shape) == (2, where.out_channels, where.out_size, where.out_size)
    macs, params = op.cost(where)
    assert counter.get_total_flops() // 2 == 2 * macs  # 2 images, 2 FLOPs per MAC
    assert sum(p.numel() for p in module.parameters()) == params


def test_activation_suffix_overrides_the_space_activation():
    where = layer(16, 16, 1, 8)
    acts = [type(m).__name__ for m in MBConvOp(3, 4, "hswish").build(where, "relu").modules()]
    assert "Hardswish" in acts and "ReLU" not in acts
    se = [type(m).__name__ for m in SEMBConvOp(3, 4).build(where, "relu").modules()]
    assert se.count("ReLU") == 3 and "Hardsigmoid" in se  # expand, depthwise, SE bottleneck; h-sigmoid gate


def test_squeeze_excite_computes_ofas_se():
    torch.manual_seed(0)
    block = SEMBConvOp(3, 4).build(layer(8, 8, 1, 6), "relu").eval()
    se = block.se
    assert se.reduce.out_channels == se_channels(32)
    h = torch.randn(2, 32, 6, 6)
    y = torch.relu(se.reduce(h.mean(3, keepdim=True).mean(2, keepdim=True)))
    expected = h * torch.nn.functional.relu6(se.expand(y) + 3.0) / 6.0  # OFA's Hsigmoid
    torch.testing.assert_close(se(h), expected)


def test_space_accepts_new_ops_per_stage():
    space = SearchSpace({"name": "t", "ops": ["mbconv_se_k3_e4", "skip"], "activation": "hswish",
                         "stages": [{"layers": 2, "channels": 16, "stride": 2},
                                    {"layers": 1, "channels": 16, "ops": ["mbconv_k5_e3_relu"]}]})
    assert [op.name for op in space.layers[0].candidates] == ["mbconv_se_k3_e4"]  # no skip at a stride
    assert space.op(1, 1) == SkipOp() and space.op(2, 0) == MBConvOp(5, 3, "relu")
    with pytest.raises(ValueError, match="unknown op 'mbconv_se_k3'"):
        SearchSpace({"name": "t", "ops": ["mbconv_se_k3"], "stages": [{"layers": 1, "channels": 8}]})
