"""Export a chosen arch as a JSON subnet config (and read it back)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..space import Arch, CostModel, SearchSpace
from ..errors import UserInputError
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
    """Read a subnet JSON and check it against its space: fingerprint, arch, per-layer ``ops``.

    Without ``space`` the preset the file names is used; a subnet of another space
    needs that space passed in.
    """
    import json

    try:
        with open(path) as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserInputError(f"{path} is not a subnet config (not JSON: {e})") from None
    if not isinstance(config, dict):
        raise UserInputError(f"{path}: not a subnet config (a JSON object is expected)")
    for key in ("arch", "space", "space_fingerprint"):
        if key not in config:
            raise UserInputError(f"{path}: not a subnet config (missing {key!r})")
    if space is None:
        space = _named_space(path, config)
    if config["space_fingerprint"] != space.fingerprint():
        raise UserInputError(f"{path}: subnet was exported from space {config['space']!r} "
                             f"(fingerprint {config['space_fingerprint']}), not from {space.name!r} "
                             f"(fingerprint {space.fingerprint()})")
    if not isinstance(config["arch"], str):
        raise UserInputError(f"{path}: 'arch' must be the arch string, got {config['arch']!r}")
    try:
        arch = space.parse(config["arch"])
    except ValueError as e:
        raise UserInputError(f"{path}: {e}") from None
    ops = [space.layers[i].candidates[c].name for i, c in enumerate(arch)]
    if "ops" in config and config["ops"] != ops:
        raise UserInputError(f"{path}: 'ops' {config['ops']} do not match arch {arch} ({ops}): the file was edited; "
                             "re-export it")
    return arch, config


def _named_space(path: "str | Path", config: dict[str, Any]) -> SearchSpace:
    from ..space import load_space, preset_names

    name = config["space"]
    if name in preset_names():
        preset = load_space(name)
        if preset.fingerprint() == config["space_fingerprint"]:
            return preset
    raise UserInputError(f"{path}: subnet of space {name!r} (fingerprint {config['space_fingerprint']}), which no "
                         "preset matches: pass that space, load_subnet(path, space)")
