from __future__ import annotations

import pytest
import torch

from oneshot.latency import (build_module, fixed_keys, is_noop_key, layer_keys, op_descriptor, parse_key,
                             space_keys)
from oneshot.latency.keys import example_input
from oneshot.space import SearchSpace, load_space

PRESETS = ("nas_bench_macro", "mobilenet_like")


@pytest.mark.parametrize("name", PRESETS)
def test_every_layer_choice_has_a_key_and_keys_are_deterministic(name):
    space = load_space(name)
    keys = layer_keys(space)
    assert [len(row) for row in keys] == list(space.num_choices)
    assert all(isinstance(k, str) and k for row in keys for k in row)
    assert keys == layer_keys(load_space(name))  # deterministic across builds
    for k in [*fixed_keys(space), *(k for row in keys for k in row)]:
        assert parse_key(k).key == k  # canonical round trip


@pytest.mark.parametrize("name", PRESETS)
def test_identical_shapes_share_a_key(name):
    space = load_space(name)
    keys = layer_keys(space)
    by_shape: dict[tuple, list[str]] = {}
    for layer, row in zip(space.layers, keys, strict=True):
        for op, key in zip(layer.candidates, row, strict=True):
            sig = (layer.in_channels, layer.out_channels, layer.stride, layer.in_size, op)
            by_shape.setdefault(sig, []).append(key)
    for sig, ks in by_shape.items():
        assert len(set(ks)) == 1, (sig, ks)
    # and different shapes never collide
    sig_of = {}
    for sig, ks in by_shape.items():
        noop = is_noop_key(ks[0])
        assert noop or sig_of.setdefault(ks[0], sig) == sig


def test_known_key_strings():
    space = load_space("nas_bench_macro")
    keys = layer_keys(space)
    assert keys[0] == ["proj-in32x32x32-out16x16x64-s2", "mbconv-in32x32x32-out16x16x64-k3-e3-s2-relu",
                       "mbconv-in32x32x32-out16x16x64-k5-e6-s2-relu"]
    assert keys[1][0] == "identity-in16x16x64"
    assert keys[3] == keys[4]  # two 128-channel stride-1 layers
    assert fixed_keys(space) == ["stem-in32x32x3-out32x32x32-k3-s1-relu", "head-in4x4x256-c1280-out10-relu"]
    assert len(space_keys(space)) == 17  # noops excluded
    assert "identity-in16x16x64" in space_keys(space, include_noops=True)


def test_projection_identity_and_noop_differ_and_activation_is_in_the_key():
    space = load_space("nas_bench_macro")
    proj = op_descriptor(space.layers[0], space.layers[0].candidates[0], space.activation)
    noop = op_descriptor(space.layers[1], space.layers[1].candidates[0], space.activation)
    assert proj.kind == "proj" and noop.kind == "identity" and noop.is_noop and not proj.is_noop
    relu6 = SearchSpace({**space.to_config(), "activation": "relu6"})
    a, b = set(space_keys(space)), set(space_keys(relu6))
    assert {k for k in a if k.startswith("proj-")} == {k for k in b if k.startswith("proj-")}  # no activation
    assert {k for k in a if k.startswith("mbconv-")}.isdisjoint(b)


@pytest.mark.parametrize("bad", ["conv-in1x1x1", "mbconv-in4x4x8-out4x4x8-k3-e3-s1-gelu",
                                 "mbconv-in4x4x8-out4x4x8-s1-k3-e3-relu", "identity"])
def test_parse_rejects_bad_keys(bad):
    with pytest.raises(ValueError):
        parse_key(bad)


def test_modules_built_from_keys_have_the_key_shapes():
    space = load_space("nas_bench_macro")
    for key in space_keys(space, include_noops=True):
        d = parse_key(key)
        with torch.inference_mode():
            y = build_module(d).eval()(example_input(d, 2))
        if d.kind == "head":
            assert tuple(y.shape) == (2, d.num_classes)
        else:
            assert tuple(y.shape) == (2, d.out_shape[2], d.out_shape[0], d.out_shape[1]), key


def test_new_op_kinds_have_keys_that_round_trip_and_build():
    space = load_space("ofa_like_se")
    keys = layer_keys(space)
    assert keys[0] == ["mbconv-in112x112x24-out112x112x24-k3-e1-s1-relu"]  # relu pinned in an hswish space
    assert keys[5][0] == "mbconv_se-in56x56x32-out28x28x48-k3-e3-s2-relu"
    assert keys[13][8] == "mbconv_se-in14x14x96-out14x14x136-k7-e6-s1-hswish"
    assert fixed_keys(space)[1] == "head-in7x7x192-c1152-m1536-out1000-hswish"
    for key in space_keys(space, include_noops=True):
        d = parse_key(key)
        assert d.key == key
        if d.kind in ("mbconv", "mbconv_se"):
            assert d.op().name.startswith(d.kind)
            where = d.layer()
            assert op_descriptor(where, d.op(), "relu6") == d  # the op pins its activation
    for key in ["mbconv_se-in14x14x96-out7x7x136-k5-e4-s2-hswish", fixed_keys(space)[1]]:
        d = parse_key(key)
        with torch.inference_mode():
            y = build_module(d).eval()(example_input(d, 1))
        assert tuple(y.shape) == ((1, d.num_classes) if d.kind == "head" else (1, 136, 7, 7))


@pytest.mark.parametrize("bad", ["mbconv_se-in8x8x8-out8x8x8-k3-e3-s2-relu",  # stride 2 keeps the size
                                 "proj-in8x8x8-out8x8x8-s1",  # shape kept: an identity, not a projection
                                 "mbconv_se-in8x8x8-out8x8x8-k4-e3-s1-relu"])
def test_parse_rejects_keys_whose_geometry_or_op_is_inconsistent(bad):
    with pytest.raises(ValueError, match="latency key"):
        parse_key(bad)
