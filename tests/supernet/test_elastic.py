"""Elastic (Once-for-All-style) supernet: weight sharing, extraction, channel sorting, dims."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from oneshot.nn.blocks import MBConv
from oneshot.nn.elastic import ElasticBatchNorm2d, ElasticMBConv
from oneshot.space import CostModel, SearchSpace, load_space
from oneshot.supernet import (
    ElasticSuperNet,
    SubNet,
    allowed_choices,
    allowed_mask,
    available_dims,
    build_supernet,
    check_dims,
    largest_arch,
    sample_arch,
    smallest_arch,
    sort_channels,
)

OPS = [f"mbconv_k{k}_e{e}" for k in (3, 5, 7) for e in (2, 3)] + ["skip"]


def elastic_space(**over) -> SearchSpace:
    cfg = dict(name="tiny_elastic", input_size=16, stem_channels=8, head_channels=32,
               activation="hswish", ops=OPS,
               stages=[dict(layers=3, channels=8, stride=1, min_depth=1),
                       dict(layers=2, channels=16, stride=2, min_depth=1)])
    cfg.update(over)
    return SearchSpace(cfg)


def randomise(net: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN stats / affine params and kernel transforms, so equality tests bite."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".transform_" in name:
                p.add_(0.2 * torch.randn(p.shape, generator=g))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
                m.running_mean.normal_(0, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)



@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return elastic_space()


@pytest.fixture()
def net(space) -> ElasticSuperNet:
    torch.manual_seed(0)
    model = ElasticSuperNet(space)
    randomise(model)
    return model.eval()


def op_arch(space: SearchSpace, names: list[str]) -> tuple[int, ...]:
    return tuple(layer.candidates.index(next(op for op in layer.candidates if op.name == n))
                 for layer, n in zip(space.layers, names))


# ------------------------------------------------------------------ structure / extract
def test_init_matches_separate_supernet_convention(space):
    model = ElasticSuperNet(space)
    for block in model.layers:
        assert bool(block.project_bn.weight.abs().sum() == 0) == block.residual


def test_one_weight_per_layer_sized_by_max_op(net, space):
    assert len(net.layers) == space.num_layers
    for block, layer in zip(net.layers, space.layers):
        assert block.depthwise.conv.weight.shape == (layer.in_channels * 3, 1, 7, 7)
        assert block.expand_conv.weight.shape == (layer.in_channels * 3, layer.in_channels, 1, 1)
        assert {n for n, _ in block.depthwise.named_parameters()} == {
            "conv.weight", "transform_7to5", "transform_5to3"}
    assert build_supernet(space, "elastic").sharing == "elastic"
    with pytest.raises(ValueError, match="elastic"):
        build_supernet(space, "nope")


def test_extract_matches_supernet_path(net, space):
    rng = np.random.default_rng(0)
    archs = [largest_arch(space), smallest_arch(space),
             op_arch(space, ["mbconv_k3_e2", "mbconv_k5_e3", "skip", "mbconv_k7_e2", "skip"])]
    archs += space.sample(rng, 5)
    x = torch.randn(4, 3, 16, 16)
    for arch in archs:
        sub = net.extract(arch)
        assert isinstance(sub, SubNet) and not sub.training
        assert all(isinstance(m, (MBConv, nn.Identity)) for m in sub.layers)
        assert not any(isinstance(m, (ElasticMBConv, ElasticBatchNorm2d)) for m in sub.modules())
        with torch.no_grad():
            torch.testing.assert_close(sub(x), net(x, arch), atol=1e-5, rtol=1e-5)


def test_extract_equality_on_ofa_like_cifar():
    space = load_space("ofa_like_cifar")
    torch.manual_seed(1)
    model = ElasticSuperNet(space)
    randomise(model, 1)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    cost = CostModel(space)
    for arch in [largest_arch(space), smallest_arch(space), *space.sample(np.random.default_rng(1), 2)]:
        sub = model.extract(arch)
        assert sum(p.numel() for p in sub.parameters()) == cost.params([arch])[0]
        with torch.no_grad():
            torch.testing.assert_close(sub(x), model(x, arch), atol=1e-5, rtol=1e-5)


def test_forward_holds_no_per_call_state(net, space):
    a = op_arch(space, ["mbconv_k3_e2", "mbconv_k3_e2", "skip", "mbconv_k3_e2", "skip"])
    b = largest_arch(space)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ya, yb = net(x, a), net(x, b)
        for _ in range(2):
            torch.testing.assert_close(net(x, a), ya, rtol=0, atol=0)
            torch.testing.assert_close(net(x, b), yb, rtol=0, atol=0)
    assert not torch.allclose(ya, yb)
    with pytest.raises(ValueError, match="layer 0 choice 9"):
        net(x, (9, 0, 0, 0, 0))


def test_path_modules_and_state_dict_round_trip(net, space):
    arch = op_arch(space, ["mbconv_k3_e2", "mbconv_k5_e3", "skip", "mbconv_k7_e2", "skip"])
    mods = net.path_modules(arch)
    assert len(mods) == space.num_layers + 2
    assert mods[3] is net.skip and mods[2] is net.layers[1]
    other = ElasticSuperNet(space).eval()
    other.load_state_dict(net.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(other(x, arch), net(x, arch), rtol=0, atol=0)


# ------------------------------------------------------------------ kernel transforms
def test_small_kernel_trains_transforms_and_shares_7x7(space):
    torch.manual_seed(0)
    model = ElasticSuperNet(space).train()
    randomise(model)  # residual blocks start with a zero last-BN gamma: no gradient inside
    x = torch.randn(4, 3, 16, 16)
    k3 = op_arch(space, ["mbconv_k3_e3"] * 5)
    model(x, k3).square().mean().backward()
    dw = model.layers[0].depthwise
    assert dw.transform(7, 5).grad is not None and dw.transform(7, 5).grad.abs().sum() > 0
    assert dw.transform(5, 3).grad.abs().sum() > 0
    g = dw.conv.weight.grad  # the one shared 7x7 tensor gets the k3 gradient in its centre
    assert g.shape[-2:] == (7, 7) and g[..., 2:5, 2:5].abs().sum() > 0
    assert g[..., :1, :].abs().sum() == 0 and g[..., :, 6:].abs().sum() == 0

    model.zero_grad(set_to_none=True)
    k5 = op_arch(space, ["mbconv_k5_e3"] * 5)
    model(x, k5).square().mean().backward()
    assert dw.transform(7, 5).grad.abs().sum() > 0 and dw.transform(5, 3).grad is None
    model.zero_grad(set_to_none=True)
    model(x, largest_arch(space)).square().mean().backward()
    assert dw.transform(7, 5).grad is None and dw.conv.weight.grad[..., 0, 0].abs().sum() > 0


def test_kernel_transform_follows_ofa():
    """k3 = T53 applied to centre crop of (T75 applied to centre crop of the 7x7)."""
    block = ElasticMBConv(4, 4, [3, 5, 7], [2], 1)
    dw = block.depthwise
    with torch.no_grad():
        dw.transform(7, 5).copy_(torch.randn(25, 25))
        dw.transform(5, 3).copy_(torch.randn(9, 9))
    w7 = dw.conv.weight.detach()
    w5 = (w7[:, :, 1:6, 1:6].reshape(8, 25) @ dw.transform(7, 5).detach().T).view(8, 1, 5, 5)
    w3 = (w5[:, :, 1:4, 1:4].reshape(8, 9) @ dw.transform(5, 3).detach().T).view(8, 1, 3, 3)
    torch.testing.assert_close(dw.weight(5).detach(), w5)
    torch.testing.assert_close(dw.weight(3).detach(), w3)
    fresh = ElasticMBConv(4, 4, [3, 5, 7], [2], 1).depthwise  # identity init = centre crop
    torch.testing.assert_close(fresh.weight(3).detach(), fresh.conv.weight.detach()[:, :, 2:5, 2:5])
    with pytest.raises(ValueError, match="kernel 9"):
        dw.weight(9)


# ------------------------------------------------------------------ channel sorting
def test_reorder_keeps_largest_function_and_sorts_importance(net, space):
    x = torch.randn(3, 3, 16, 16)
    big = largest_arch(space)
    with torch.no_grad():
        before = net(x, big)
        importance = [b.channel_importance().clone() for b in net.layers]
    perms = sort_channels(net)
    with torch.no_grad():
        torch.testing.assert_close(net(x, big), before, atol=1e-5, rtol=1e-5)
    for block, imp, perm in zip(net.layers, importance, perms):
        now = block.channel_importance()
        assert torch.all(now[:-1] >= now[1:])  # most important first
        hidden = block.hidden(2)  # the smaller expand takes the top channels
        top = set(torch.topk(imp, hidden).indices.tolist())
        assert set(perm[:hidden].tolist()) == top
    with pytest.raises(TypeError):
        sort_channels(nn.Linear(2, 2))


def test_reorder_with_expand_stage_keeps_bands():
    torch.manual_seed(0)
    block = ElasticMBConv(2, 4, [3], [2, 4, 6], 1)
    widths = (12, 8, 4)
    imp = block.channel_importance().clone()
    perm = block.reorder_channels(expand_stage=1)  # channels 8..11 stay outside width 8
    assert set(perm[8:].tolist()) == set(range(8, 12))
    assert set(perm[:8].tolist()) == set(range(8))
    assert torch.all(imp[perm[:8]][:-1] >= imp[perm[:8]][1:])
    block2 = ElasticMBConv(2, 4, [3], [2, 4, 6], 1)
    perm2 = block2.reorder_channels(expand_stage=2)
    assert [set(perm2[a:b].tolist()) for a, b in ((0, 4), (4, 8), (8, 12))] == [
        set(range(0, 4)), set(range(4, 8)), set(range(8, 12))]
    assert widths[0] == block.max_hidden


# ------------------------------------------------------------------ BN recalibration
def test_sliced_bn_recalibration_matches_subnet(net, space):
    arch = op_arch(space, ["mbconv_k3_e2", "mbconv_k5_e2", "skip", "mbconv_k7_e2", "mbconv_k3_e3"])
    sub = net.extract(arch)
    batches = [torch.randn(8, 3, 16, 16) for _ in range(3)]

    def recalibrate(model, modules, call):
        bns = [m for mod in modules for m in mod.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        with torch.no_grad():
            for b in batches:
                call(b)
        model.eval()

    recalibrate(net, net.path_modules(arch), lambda b: net(b, arch))
    recalibrate(sub, [sub], sub)
    block = net.layers[0]
    h = block.hidden(2)
    torch.testing.assert_close(block.expand_bn.running_mean[:h], sub.layers[0].expand[1].running_mean)
    torch.testing.assert_close(block.depthwise_bn.running_var[:h], sub.layers[0].depthwise[1].running_var)
    assert int(block.expand_bn.num_batches_tracked) == 3
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x, arch), sub(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(net.extract(arch)(x), sub(x), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("ops,match,where", [
    (["identity", "mbconv_k3_e3"], "'identity'", "layer 1"),  # layer 0 < min_depth: no identity
    (["mbconv_k3_e1", "mbconv_k3_e3"], "expand 1", "layer 0"),
])
def test_clear_errors_for_unsupported_candidates(ops, match, where):
    space = elastic_space(ops=ops)
    with pytest.raises(ValueError, match=match) as err:
        ElasticSuperNet(space)
    assert "tiny_elastic" in str(err.value) and where in str(err.value)
    with pytest.raises(ValueError, match=match):
        build_supernet(space, "elastic")


def test_all_e1_layers_work():
    space = elastic_space(ops=["mbconv_k3_e1", "mbconv_k5_e1", "skip"])
    model = ElasticSuperNet(space).eval()
    assert model.layers[0].expand_conv is None and model.reorder_channels_by_importance()[0] is None
    x = torch.randn(2, 3, 16, 16)
    arch = (0, 1, 2, 0, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.extract(arch)(x), model(x, arch), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ elastic dimensions
def test_allowed_choices_per_dimension(space):
    names = lambda dims, layer: sorted(space.layers[layer].candidates[c].name  # noqa: E731
                                       for c in allowed_choices(space, dims)[layer])
    assert names((), 1) == ["mbconv_k7_e3"]
    assert names(["kernel"], 1) == ["mbconv_k3_e3", "mbconv_k5_e3", "mbconv_k7_e3"]
    assert names(["kernel", "depth"], 1) == ["mbconv_k3_e3", "mbconv_k5_e3", "mbconv_k7_e3", "skip"]
    assert names(["kernel", "depth"], 0) == ["mbconv_k3_e3", "mbconv_k5_e3", "mbconv_k7_e3"]  # < min_depth
    assert names(["expand"], 1) == ["mbconv_k7_e2", "mbconv_k7_e3"]
    assert len(names(["kernel", "depth", "expand"], 1)) == 7
    mask = allowed_mask(space, ["depth"])
    assert mask.shape == (5, 7) and mask.sum(axis=1).tolist() == [1, 2, 2, 1, 2]
    assert available_dims(space) == ("kernel", "depth", "expand")


def test_largest_smallest_and_sampling(space):
    assert largest_arch(space) == space.largest()
    assert [space.op(i, c).name for i, c in enumerate(largest_arch(space))] == ["mbconv_k7_e3"] * 5
    assert [space.op(i, c).name for i, c in enumerate(smallest_arch(space))] == [
        "mbconv_k3_e2", "skip", "skip", "mbconv_k3_e2", "skip"]
    assert smallest_arch(space) == space.smallest()
    assert [space.op(i, c).name for i, c in enumerate(smallest_arch(space, ["kernel"]))] == ["mbconv_k3_e3"] * 5
    rng = np.random.default_rng(0)
    for dims in [(), ("kernel",), ("kernel", "depth"), ("kernel", "depth", "expand")]:
        allowed = allowed_choices(space, dims)
        for _ in range(20):
            arch = sample_arch(space, dims, rng)
            assert all(c in ok for c, ok in zip(arch, allowed)) and space.is_canonical(arch)
    depths = {sum(space.op(i, c).kind == "skip" for i, c in enumerate(sample_arch(space, ["depth"], rng)))
              for _ in range(50)}
    assert depths == {0, 1, 2, 3}


def test_dimension_validation_names_dimension_and_space():
    one_kernel = elastic_space(name="k5_only", ops=["mbconv_k5_e2", "mbconv_k5_e3", "skip"])
    assert available_dims(one_kernel) == ("depth", "expand")
    with pytest.raises(ValueError, match="'k5_only' has no elastic 'kernel'"):
        allowed_choices(one_kernel, ["kernel"])
    no_skip = elastic_space(name="deep", ops=OPS[:-1])
    with pytest.raises(ValueError, match="'deep' has no elastic 'depth'"):
        check_dims(no_skip, {"depth"})
    with pytest.raises(ValueError, match="unknown elastic dimension"):
        check_dims(no_skip, ["width"])
    with pytest.raises(ValueError, match="'identity'"):
        available_dims(elastic_space(ops=["identity", "mbconv_k3_e3"]))


# ------------------------------------------------------------------ presets
@pytest.mark.parametrize("name,lo,hi", [("ofa_like", (80e6, 200e6), (400e6, 700e6)),
                                        ("ofa_like_cifar", (1e6, 10e6), (10e6, 40e6))])
def test_ofa_presets_load_with_sane_flops(name, lo, hi):
    space = load_space(name)
    assert space.name == name and available_dims(space) == ("kernel", "depth", "expand")
    per_stage = 4 if name == "ofa_like" else 3
    assert space.num_layers == (5 if name == "ofa_like" else 4) * per_stage
    for layer in space.layers:  # skip only at positions >= min_depth 2
        assert (layer.noop_choice() is not None) == (layer.position >= 2)
    cost = CostModel(space)
    fmin, fmax = cost.bounds("flops")
    assert lo[0] < fmin < lo[1] and hi[0] < fmax < hi[1]
    assert cost.flops([largest_arch(space)])[0] == fmax
    assert cost.flops([smallest_arch(space)])[0] == fmin
    if name == "ofa_like":
        assert (space.input_size, space.stem_channels, space.stem_stride, space.num_classes) == (224, 16, 2, 1000)
        assert [layer.out_channels for layer in space.layers[::4]] == [24, 40, 80, 112, 160]
        assert [layer.stride for layer in space.layers[::4]] == [2, 2, 2, 1, 2]
        assert space.head_channels == 1280
    else:
        assert (space.input_size, space.stem_stride, space.num_classes) == (32, 1, 10)


# ------------------------------------------------------------------ squeeze-excite ops
SE_OPS = [f"mbconv_se_k{k}_e{e}" for k in (3, 5) for e in (2, 3, 4)] + ["skip"]


def randomise_se(net: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".se." in name:
                p.normal_(0, 0.3, generator=g)


def test_se_ops_share_one_sliced_block_and_extract_exactly():
    space = elastic_space(ops=SE_OPS)
    torch.manual_seed(0)
    model = ElasticSuperNet(space)
    randomise(model, 2)
    randomise_se(model, 2)
    model.eval()
    assert [b.se.reduce.out_channels for b in model.layers] == [8, 8, 8, 8, 16]  # make_divisible(8 * 4 // 4, 8), (16 * 4 // 4)
    x = torch.randn(2, 3, 16, 16)
    archs = [largest_arch(space), smallest_arch(space), *space.sample(np.random.default_rng(3), 4)]
    cost = CostModel(space)
    for arch in archs:
        sub = model.extract(arch)
        assert sum(p.numel() for p in sub.parameters()) == cost.params([arch])[0]
        with torch.no_grad():
            torch.testing.assert_close(sub(x), model(x, arch), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        before = [model(x, a) for a in archs[:1]]
        sort_channels(model)  # the SE's input / output channels move with the hidden channels
        torch.testing.assert_close(model(x, archs[0]), before[0], atol=1e-5, rtol=1e-5)
        for arch in archs:
            torch.testing.assert_close(model.extract(arch)(x), model(x, arch), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("ops, match", [
    (["mbconv_k3_e2", "mbconv_se_k3_e3"], "different shared blocks"),
    (["mbconv_k3_e2", "mbconv_k5_e2_relu"], "different shared blocks"),  # space activation is hswish
])
def test_elastic_refuses_layers_mixing_block_kinds(ops, match):
    with pytest.raises(ValueError, match=match):
        ElasticSuperNet(elastic_space(ops=ops))
    ElasticSuperNet(elastic_space(ops=["mbconv_k3_e2", "mbconv_k5_e3_hswish"]))  # same block: fine


def test_ofa_like_se_trains_elastic():
    space = SearchSpace({**load_space("ofa_like_se").to_config(), "input_size": 32, "num_classes": 10})
    assert available_dims(space) == ("kernel", "depth", "expand")
    torch.manual_seed(0)
    model = ElasticSuperNet(space).eval()
    x = torch.randn(1, 3, 32, 32)
    for arch in [largest_arch(space), sample_arch(space, ["kernel", "depth", "expand"], np.random.default_rng(0))]:
        with torch.no_grad():
            torch.testing.assert_close(model.extract(arch)(x), model(x, arch), atol=1e-5, rtol=1e-5)
