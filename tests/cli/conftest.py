from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from oneshot.config import register_configs
from oneshot.paths import conf_dir

register_configs()


@pytest.fixture
def make_cfg():
    """Compose an app's config with overrides, as the console script would."""

    def make(app: str, *overrides: str):
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name=app, overrides=list(overrides))

    return make
