"""The whole two-stage run: train a supernet, then search it under the configured constraint."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, open_dict

from .search import run_search_from_config
from .train import train_supernet

log = logging.getLogger(__name__)


def run_pipeline(cfg: DictConfig, out_dir: Path):
    ckpt = train_supernet(cfg, out_dir)
    with open_dict(cfg):
        cfg.checkpoint = str(ckpt)
    log.info("stage one done (%s); stage two: %s search, constraint %s", ckpt, cfg.search.algorithm,
             {k: v for k, v in cfg.constraint.items() if v is not None} or "none")
    return run_search_from_config(cfg, out_dir)
