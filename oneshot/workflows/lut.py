"""Latency tables as a function of a config: build (measure), validate, import."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from .. import build

log = logging.getLogger(__name__)

ACTIONS = ("build", "validate", "import")
EXTRA_KEYS = ("action", "n_archs", "n_calib", "seed", "source", "format")


def run_lut(cfg: DictConfig, out_dir: Path):
    """``extra.action``: build (measure every missing key of the space), validate, or import."""
    from ..latency import build_lut, import_published_lut, validate_lut

    build.refuse_extra(cfg, EXTRA_KEYS)
    opts = dict(cfg.extra or {})
    action = opts.get("action", "build")
    if action not in ACTIONS:
        raise ValueError(f"unknown oneshot-lut action {action!r}: use one of {ACTIONS}")
    profile, force = build.device_profile(cfg)
    space = build.space_from_config(cfg)
    path = build.output_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
    if action == "import":
        source = opts.get("source")
        if not source:
            raise ValueError("oneshot-lut import needs extra.source=<published table .yaml> "
                             "(e.g. ../shared/data/luts/nsganetv2/i7-8700K_lut.yaml)")
        result = import_published_lut(build.resolve_path(source), fmt=opts.get("format", "auto"),
                                      profile=profile.name, batch=profile.batch, out=path)
        log.info("%s", result.summary())
        return result
    if action == "build":
        lut = build_lut([space], profile, path, progress=cfg.runtime.progress, force=force)
        log.info("latency table %s: %d keys for space %r on profile %r", path, len(lut), space.name, profile.name)
        return lut
    report = validate_lut(space, profile, n_archs=int(opts.get("n_archs", 50)), n_calib=int(opts.get("n_calib", 20)),
                          seed=int(opts.get("seed", 0)), out_dir=out_dir, progress=cfg.runtime.progress,
                          force=force)
    log.info("%s", report.summary())
    return report
