"""Import of published tables; needs ../shared/data/luts (skipped when absent)."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import yaml

from oneshot.latency import (DeviceProfile, LatencyLUT, MissingKeysError, fixed_keys, import_published_lut,
                             layer_keys)
from oneshot.paths import shared_data_dir
from oneshot.space import SearchSpace, load_space

LUTS = shared_data_dir() / "luts"
pytestmark = pytest.mark.skipif(not LUTS.is_dir(), reason=f"published LUTs not found at {LUTS} "
                                "(set ONESHOT_SHARED_DATA to the shared data folder)")

OPS = [f"mbconv_k{k}_e{e}" for k in (3, 5, 7) for e in (3, 4, 6)] + ["skip"]


def mbv3_prefix(input_size: int, stem: int, channels: int) -> SearchSpace:
    """The first two stages of a MobileNetV3 (no SE, ReLU): shapes the published tables have."""
    return SearchSpace({"name": "mbv3_prefix", "input_size": input_size, "num_classes": 1000,
                        "stem_channels": stem, "stem_stride": 2, "activation": "relu", "ops": OPS,
                        "stages": [{"layers": 1, "channels": stem, "stride": 1, "ops": ["mbconv_k3_e1"]},
                                   {"layers": 4, "channels": channels, "stride": 2, "min_depth": 2}]})


def check_prefix_space(result, space):
    lut = result.lut
    with pytest.raises(MissingKeysError) as err:  # stem activation / head structure differ
        lut.predict([[0] * 5], space)
    assert any(k.startswith("head-") for k in err.value.missing) and "imported" in str(err.value)
    archs = space.sample(np.random.default_rng(0), 50)
    got = lut.predict(archs, space, include_fixed=False)
    keys = layer_keys(space)
    assert got.tolist() == pytest.approx([sum(lut.latency(keys[i][c]) for i, c in enumerate(a)) for a in archs])
    assert np.all(got > 0)


def test_nsganetv2_import(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        result = import_published_lut(LUTS / "nsganetv2" / "i7-8700K_lut.yaml", profile="nsganetv2_i7_8700k",
                                      out=tmp_path / "i7.csv")
    assert len(result.mapped) == 4050 and not result.unmapped  # SE blocks and head chains map too
    assert "could not be mapped" not in caplog.text
    key = "MBConv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0-se:0"
    assert result.mapped[key] == "mbconv-in112x112x16-out56x56x24-k3-e3-s2-relu"
    se = "MBConv-input:28x28x40-output:28x28x40-expand:6-kernel:5-stride:1-idskip:1-se:1"
    assert result.mapped[se] == "mbconv_se-in28x28x40-out28x28x40-k5-e6-s1-relu"
    heads = {v for k, v in result.mapped.items() if k.startswith("final_expand_layer-")}
    assert "head-in7x7x192-c1152-m1536-out1000-hswish" in heads and len(heads) == 12  # one per input size
    assert {v for k, v in result.mapped.items() if k.startswith("classifier-")} <= heads  # shared parts
    lut = LatencyLUT.load(tmp_path / "i7.csv", profile=DeviceProfile.load("nsganetv2_i7_8700k"))  # shipped profile
    assert lut.metadata["kind"] == "external" and lut.metadata["profile"] == "nsganetv2_i7_8700k"
    assert len(lut) == len(set(result.mapped.values())) == len(result.mapped) - 4  # 4 head parts shared
    check_prefix_space(result, mbv3_prefix(224, 16, 24))
    with pytest.raises(MissingKeysError, match="relu6"):
        lut.predict([[0] * 21], load_space("mobilenet_like"))


@pytest.mark.parametrize("res", [160, 224])
def test_ofa_import(res):
    result = import_published_lut(LUTS / "ofa_note10" / f"{res}_lookup_table.yaml")
    assert len(result.mapped) == 96 and not result.unmapped
    assert any(v.startswith("stem-") and v.endswith("-hswish") for v in result.mapped.values())
    assert any("-hswish" in v and v.startswith("mbconv-") for v in result.mapped.values())  # hs:1
    assert any(v.startswith("mbconv_se-") for v in result.mapped.values())  # se:1
    check_prefix_space(result, mbv3_prefix(res, 24, 32))


@pytest.mark.parametrize("res", [160, 224])
def test_ofa_like_se_is_predicted_whole_from_the_note10_table(res):
    """Every key of the OFA-MBv3 layout is in the table; a prediction is the sum of the
    published means of exactly the parts the arch runs (head: its four parts)."""
    table = yaml.safe_load((LUTS / "ofa_note10" / f"{res}_lookup_table.yaml").read_text())
    result = import_published_lut(LUTS / "ofa_note10" / f"{res}_lookup_table.yaml")
    space = SearchSpace({**load_space("ofa_like_se").to_config(), "input_size": res})
    published: dict[str, float] = {}
    for source, key in result.mapped.items():
        published[key] = published.get(key, 0.0) + table[source]["mean"]
    assert sum(k.startswith("head-") for k in published) == 1
    archs = space.sample(np.random.default_rng(1), 20) + [space.largest(), space.smallest()]
    keys, fixed = layer_keys(space), fixed_keys(space)
    expected = [sum(published[k] for k in fixed) + sum(published.get(keys[i][c], 0.0) for i, c in enumerate(a))
                for a in archs]  # skips are not in the table: cost 0
    assert result.lut.predict(archs, space).tolist() == pytest.approx(expected)
