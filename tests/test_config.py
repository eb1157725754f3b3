"""The Hydra schemas are the library's own dataclasses (or generated from them): no mirrored copy."""
from __future__ import annotations

from dataclasses import MISSING, fields, replace

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from oneshot import build
from oneshot.config import DeviceSchema, EvaluatorSchema, OneshotConfig, register_configs, schema_of
from oneshot.evaluate import EvalSettings
from oneshot.evaluate.rank_options import RankOptions
from oneshot.latency import DeviceProfile
from oneshot.latency.lut_settings import LutSettings
from oneshot.paths import conf_dir
from oneshot.space import load_space
from oneshot.space.space import SearchSpace, SpaceConfig


def _defaults(cls) -> dict:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def compose_app(app: str, *overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(app, list(overrides))


@pytest.mark.parametrize("library, schema, own", [(DeviceProfile, DeviceSchema, {"force_lut"}),
                                                  (EvalSettings, EvaluatorSchema,
                                                   {"kind", "prefix_sharing", "cache", "table", "proxy", "repeat"})])
def test_generated_schemas_carry_the_library_fields_and_defaults(library, schema, own):
    lib, gen = _defaults(library), _defaults(schema)
    assert {f.name for f in fields(schema)} == {f.name for f in fields(library)} | own
    assert {k: gen[k] for k in lib} == lib  # same defaults: nothing to drift apart


def test_the_library_dataclasses_are_the_group_types():
    types = {f.name: f.type for f in fields(OneshotConfig)}
    assert types["space"] == "SpaceConfig" and types["rank"] == "RankOptions" and types["lut"] == "LutSettings"
    assert not any(f.name == "extra" for f in fields(OneshotConfig))


def test_schema_of_a_frozen_dataclass_accepts_overrides():
    cfg = OmegaConf.structured(schema_of(EvalSettings, "S"))
    cfg.val_images = 7  # a frozen dataclass as schema would be read-only
    assert cfg.val_images == 7
    with pytest.raises(Exception):
        cfg.val_imgs = 1


def test_config_groups_convert_to_library_objects():
    cfg = compose_app("search", "device=cpu_1t", "device.rounds=3", "evaluator.val_images=123", "rank.top_k=4",
                      "lut.action=validate")
    profile, force = build.device_profile(cfg)
    assert profile == replace(DeviceProfile.load("cpu_1t"), rounds=3) and not force
    assert build.eval_settings(cfg) == EvalSettings(val_images=123)
    assert build.rank_options(cfg) == RankOptions(top_k=4)
    assert build.lut_settings(cfg) == LutSettings(action="validate")
    assert build.space_from_config(cfg) == load_space("nas_bench_macro")


def test_space_config_defaults_build_the_same_space_as_a_plain_dict(tiny_space):
    from tests.conftest import TINY_SPACE

    assert SearchSpace(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(SpaceConfig), TINY_SPACE))) == tiny_space


def test_lut_settings_are_checked():
    with pytest.raises(ValueError, match="lut.source"):
        build.lut_settings(compose_app("lut", "lut.action=import"))
    with pytest.raises(ValueError, match="lut.action"):
        build.lut_settings(compose_app("lut", "lut.action=measure"))
