"""Shared plumbing of the Hydra entry points (config dir, logging, output dir, errors)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config import register_configs
from ..paths import conf_dir

register_configs()

log = logging.getLogger("oneshot")


def output_dir(cfg: DictConfig) -> Path:
    """``out_dir=`` if given, else Hydra's run (or multirun job) directory; never chdir."""
    if cfg.get("out_dir"):
        path = Path(cfg.out_dir)
    else:
        path = Path(HydraConfig.get().runtime.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def hydra_app(config_name: str, body: Callable[[DictConfig, Path], object]) -> Callable[[], None]:
    """A console-script ``main`` running ``body(cfg, out_dir)`` under Hydra.

    Expected user errors (bad arch, missing data, infeasible constraint ...) end
    with a one-line message and exit code 2 instead of a traceback.
    """

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name=config_name)
    def _main(cfg: DictConfig) -> object:
        import os

        # under torchrun only rank 0 speaks below WARNING
        rank = int(os.environ.get("RANK", "0"))
        if cfg.runtime.get("tune_allocator", True):
            from ..runtime import tune_cpu_allocator

            tune_cpu_allocator()
        logging.getLogger("oneshot").setLevel(cfg.runtime.log_level if rank == 0 else "WARNING")
        try:
            return body(cfg, output_dir(cfg))
        except (ValueError, FileNotFoundError, RuntimeError, KeyError) as e:
            if cfg.runtime.log_level == "DEBUG":
                raise
            log.error("%s: %s", type(e).__name__, e)
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return _main
