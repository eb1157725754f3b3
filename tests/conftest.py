"""Shared fixtures: a tiny space and learnable synthetic data, so tests run in seconds on CPU."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from oneshot.data import load_synthetic
from oneshot.paths import shared_data_dir
from oneshot.space import SearchSpace

# one thread: tiny tensors gain nothing from a second one, and idle OpenMP threads spin
torch.set_num_threads(1)

TINY_SPACE = {
    "name": "tiny",
    "input_size": 16,
    "stem_channels": 8,
    "head_channels": 32,
    "num_classes": 4,
    "ops": ["identity", "mbconv_k3_e3", "mbconv_k5_e6"],
    "stages": [
        {"layers": 2, "channels": 16, "stride": 2},
        {"layers": 3, "channels": 24, "stride": 2},
    ],
}


@pytest.fixture
def tiny_space() -> SearchSpace:
    return SearchSpace(TINY_SPACE)


@pytest.fixture
def tiny_data():
    return load_synthetic(size=16, num_classes=4, train_images=128, val_images=64, test_images=32)


@pytest.fixture
def make_cfg():
    """Compose an app's config with overrides, as the console script would."""
    from hydra import compose, initialize_config_dir

    from oneshot.config import register_configs
    from oneshot.paths import conf_dir

    register_configs()

    def make(app: str, *overrides: str):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name=app, overrides=list(overrides))

    return make


@pytest.fixture
def nas_bench_macro_json() -> Path:
    path = shared_data_dir() / "nas-bench-macro" / "nas-bench-macro_cifar10.json"
    if not path.is_file():
        pytest.skip(f"NAS-Bench-Macro table not found at {path} (the offline ../shared/data folder is absent)")
    return path
