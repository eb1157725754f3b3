"""Latency tables as a function of a config: build (measure), validate, import."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from .. import build

log = logging.getLogger(__name__)



def run_lut(cfg: DictConfig, out_dir: Path):
    """``lut.action``: build (measure every missing key of the space), validate, or import."""
    from ..latency import build_lut, import_published_lut, validate_lut

    opts = build.lut_settings(cfg)
    profile, force = build.device_profile(cfg)
    space = build.space_from_config(cfg)
    path = build.output_path(cfg.device.lut) if cfg.device.lut else profile.lut_path()
    if opts.action == "import":
        result = import_published_lut(build.resolve_path(opts.source), fmt=opts.format,
                                      profile=profile.name, batch=profile.batch, out=path)
        log.info("%s", result.summary())
        return result
    if opts.action == "build":
        lut = build_lut([space], profile, path, progress=cfg.runtime.progress, force=force)
        log.info("latency table %s: %d keys for space %r on profile %r", path, len(lut), space.name, profile.name)
        return lut
    report = validate_lut(space, profile, n_archs=opts.n_archs, n_calib=opts.n_calib, seed=opts.seed,
                          out_dir=out_dir, progress=cfg.runtime.progress, force=force)
    log.info("%s", report.summary())
    return report
