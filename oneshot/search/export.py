"""Export a chosen arch as a JSON subnet config (and read it back)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..space import Arch, CostModel, SearchSpace
from ..io import write_json

SUBNET_FORMAT_VERSION = 1


def subnet_config(space: SearchSpace, arch: "str | Sequence[int]", **metrics: Any) -> dict[str, Any]:
    """Plain dict describing one subnet: space name + fingerprint, arch, per-layer ops, metrics.

    ``flops`` and ``params`` are computed from the space unless given; any other
    keyword (``accuracy=...``, ``latency=...``) is stored as given.
    """
    arch = space.parse(arch)
    model = CostModel(space)
    config: dict[str, Any] = {
        "format_version": SUBNET_FORMAT_VERSION,
        "space": space.name,
        "space_fingerprint": space.fingerprint(),
        "arch": str(arch),
        "canonical_arch": str(space.canonical(arch)),
        "ops": [space.layers[i].candidates[c].name for i, c in enumerate(arch)],
        "flops": float(model.flops([arch])[0]),
        "params": float(model.params([arch])[0]),
    }
    for key, value in metrics.items():
        config[key] = value.item() if isinstance(value, np.generic) else value
    return config


def export_subnet(space: SearchSpace, arch: "str | Sequence[int]", path: "str | Path", **metrics: Any) -> Path:
    """Write :func:`subnet_config` as JSON to ``path`` (atomically); returns the path."""
    return write_json(path, subnet_config(space, arch, **metrics))


def load_subnet(path: "str | Path", space: SearchSpace | None = None) -> tuple[Arch, dict[str, Any]]:
    """Read a subnet JSON; with ``space``, check the fingerprint and parse the arch in it."""
    import json

    with open(path) as f:
        config = json.load(f)
    for key in ("arch", "space", "space_fingerprint"):
        if key not in config:
            raise ValueError(f"{path}: not a subnet config (missing {key!r})")
    if space is None:
        return Arch.from_string(config["arch"]), config
    if config["space_fingerprint"] != space.fingerprint():
        raise ValueError(f"{path}: subnet was exported from space {config['space']!r} "
                         f"(fingerprint {config['space_fingerprint']}), not from {space.name!r} "
                         f"(fingerprint {space.fingerprint()})")
    return space.parse(config["arch"]), config
