"""Named spaces: the YAML files in ``conf/space/`` are the single source."""
from __future__ import annotations

from pathlib import Path

import yaml

from ..paths import conf_dir
from .space import SearchSpace


def preset_names() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "space").glob("*.yaml"))


def load_space(name_or_path: "str | Path") -> SearchSpace:
    """Build a preset (``"nas_bench_macro"``) or a space YAML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = conf_dir() / "space" / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"space {name_or_path!r} not found; presets: {preset_names()}")
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    config.pop("defaults", None)
    return SearchSpace(config)
