"""Shared plumbing of the Hydra entry points (config dir, logging, output dir, errors)."""
from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..config import register_configs
from ..errors import OneshotError, UserInputError
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


# Library conventions that predate OneshotError: a ValueError / FileNotFoundError raised in
# oneshot names a bad input. KeyError, TypeError, RuntimeError ... are bugs and keep their traceback.
USER_ERRORS = (OneshotError, ValueError, FileNotFoundError)


def one_line(error: BaseException) -> str:
    """The error's message on one line (multi-line messages, e.g. YAML's, joined with '; ')."""
    parts = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(parts) or type(error).__name__


def check_typed_arch(cfg: DictConfig) -> None:
    """Refuse an ``arch=`` override Hydra read as a number (``2221_2220`` -> 22212220, ``1e5`` -> 1e5)."""
    if cfg.get("arch") is None:
        return
    for override in HydraConfig.get().overrides.task:
        key, _, typed = override.partition("=")
        if key.lstrip("+~") != "arch":
            continue
        quoted = re.fullmatch(r"""(['"])(.*)\1""", typed)
        if (quoted.group(2) if quoted else typed) != str(cfg.arch):
            raise UserInputError(
                f"arch={typed} was read as the number {cfg.arch}, not as an arch string: write the choice "
                "digits only (0-9, a-z, one per layer), e.g. arch=22212220")


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
            check_typed_arch(cfg)
            return body(cfg, output_dir(cfg))
        except USER_ERRORS as e:
            if cfg.runtime.log_level == "DEBUG":
                raise
            message = one_line(e)
            log.error("%s: %s", type(e).__name__, message)
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    return _main
