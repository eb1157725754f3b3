import numpy as np
import pytest

from oneshot.space import SearchSpace, load_space, preset_names
from oneshot.space.ops import MBConvOp, OpSpec


def test_presets_load():
    assert {"nas_bench_macro", "mobilenet_like"} <= set(preset_names())
    nbm = load_space("nas_bench_macro")
    assert nbm.num_layers == 8 and nbm.size == 6561
    assert [layer.stride for layer in nbm.layers] == [2, 1, 2, 1, 1, 2, 1, 1]
    assert [layer.out_channels for layer in nbm.layers] == [64, 64, 128, 128, 128, 256, 256, 256]
    mob = load_space("mobilenet_like")
    assert 18 <= mob.num_layers <= 24
    # skip only where the layer keeps its shape
    for layer in mob.layers:
        has_skip = any(op.kind == "skip" for op in layer.candidates)
        assert has_skip == layer.keeps_shape


def test_nas_bench_macro_has_3969_distinct_networks():
    space = load_space("nas_bench_macro")
    assert len(space.canonical_archs()) == 3969


def test_canonical_moves_identity_to_stage_end():
    space = load_space("nas_bench_macro")
    # stage 2 = layers 2,3,4; the identity at layer 3 (stride 1) moves to layer 4
    assert str(space.canonical(space.parse("22202220"))) == "22220220"
    # identity at a stride-2 first layer is a conv: it does not move
    assert str(space.canonical(space.parse("02212220"))) == "02212220"


def test_canonical_batch_matches_scalar():
    space = load_space("nas_bench_macro")
    genomes = np.random.default_rng(0).integers(0, 3, (500, 8))
    batch = space.canonical_batch(genomes)
    for g, c in zip(genomes, batch):
        assert tuple(space.canonical(g)) == tuple(c)
    mask = space.is_canonical_batch(genomes)
    assert list(mask) == [space.is_canonical(g) for g in genomes] and 0 < mask.sum() < len(genomes)


def test_sampling_is_uniform_and_seeded():
    space = load_space("nas_bench_macro")
    a = space.sample(np.random.default_rng(1), 3000)
    b = space.sample(np.random.default_rng(1), 3000)
    assert a == b
    counts = np.bincount(np.array(a)[:, 0], minlength=3)
    assert counts.min() > 900


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown key"):
        SearchSpace({"name": "x", "stages": [{"layers": 1, "channels": 8}], "typo": 1})
    with pytest.raises(ValueError, match="unknown op 'conv9'"):
        SearchSpace({"name": "x", "ops": ["conv9"], "stages": [{"layers": 1, "channels": 8}]})
    with pytest.raises(ValueError, match="stages"):
        SearchSpace({"name": "x", "stages": []})


def test_min_depth_removes_noops_from_leading_layers():
    space = SearchSpace({"name": "d", "ops": ["mbconv_k3_e3", "skip"],
                         "stages": [{"layers": 4, "channels": 8, "stride": 1, "min_depth": 2}]})
    # first layer changes channels (32 -> 8): no skip; layer 1 is below min_depth
    assert [len(layer.candidates) for layer in space.layers] == [1, 1, 2, 2]


def test_opspec_parse():
    assert OpSpec.parse("mbconv_k5_e6") == MBConvOp(5, 6)
    with pytest.raises(ValueError, match="odd"):
        OpSpec.parse("mbconv_k4_e6")


def test_to_config_round_trip():
    space = load_space("mobilenet_like")
    assert SearchSpace(space.to_config()) == space
    assert SearchSpace(space.to_config()).fingerprint() == space.fingerprint()
