"""Shared plumbing of the Hydra entry points (config dir, logging, output dir, errors)."""
from __future__ import annotations

import logging
import re
import shlex
import sys
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from ..config import register_configs
from ..errors import OneshotError, UserInputError
from ..paths import conf_dir
from . import help as app_help

register_configs()
OmegaConf.register_new_resolver("oneshot_help", lambda app, _root_: app_help.render(app, _root_), replace=True)

log = logging.getLogger("oneshot")

#: config groups of every app (a file given to one of them gets a hint, not Hydra's lookup error)
CONFIG_GROUPS = ("space", "supernet", "data", "sampler", "train", "evaluator", "search", "constraint", "device",
                 "runtime", "method")


def config_file_hint(args: list[str]) -> str | None:
    """A one-line hint for ``space=/path/to/my.yaml``: groups take option names, files come via --config-dir."""
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in CONFIG_GROUPS:
            continue
        path = Path(value).expanduser()
        if path.suffix not in (".yaml", ".yml") and "/" not in value:
            continue
        if path.parent.name == key:
            how = f"run with --config-dir {path.parent.parent} {key}={path.stem}"
        else:
            how = f"put it at <dir>/{key}/{path.stem}.yaml and pass --config-dir <dir> {key}={path.stem}"
        return (f"{key}={value}: a config group takes the name of an option, not a file; {how} "
                f"(README: \"Your own space or device profile\")")
    return None


def moved_setting_hint(args: list[str]) -> str | None:
    """A one-line hint for the free-form ``extra.*`` settings of older versions: each is a typed group now."""
    from dataclasses import fields

    from ..evaluate.rank_options import RankOptions
    from ..latency.lut_settings import LutSettings

    moved = {"force": "device.force_lut", "force_lut": "device.force_lut", "inherit": "retrain.inherit",
             **{f.name: f"lut.{f.name}" for f in fields(LutSettings)},
             **{f.name: f"rank.{f.name}" for f in fields(RankOptions)}}
    for arg in args:
        key, _, value = arg.lstrip("+~").partition("=")
        if key == "extra" or key.startswith("extra."):
            name = key.partition(".")[2]
            new = moved.get(name)
            if new:
                return f"{arg}: extra.{name} is now {new} (pass {new}={value or '...'} without a '+')"
            return f"{arg}: there are no extra.* settings any more; each app's settings are typed groups (see --help)"
    return None


def output_dir(cfg: DictConfig) -> Path:
    """``out_dir=`` if given, else Hydra's run (or multirun job) directory; never chdir."""
    if cfg.get("out_dir"):
        path = Path(cfg.out_dir)
    else:
        path = Path(HydraConfig.get().runtime.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resume_command(argv: list[str] | None = None) -> str:
    """The command line that was run, as a user would type it again, with ``train.resume=true``."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name
    if not program.startswith("oneshot-"):  # python -m oneshot.cli.<app>
        program = f"python -m oneshot.cli.{Path(argv[0]).stem}"
    args = [a for a in argv[1:] if not a.lstrip("+~").startswith("train.resume=")]
    if len(args) < len(argv) - 1:
        args.append("train.resume=true")
    return " ".join([program, *map(shlex.quote, args)])


def _interrupted(e: KeyboardInterrupt) -> None:
    """Ctrl-C: one line saying what was kept and how to go on; exit code 130 (128 + SIGINT)."""
    checkpoint = getattr(e, "checkpoint", None)
    if checkpoint is not None:
        print(f"interrupted at step {e.step}: resumable checkpoint saved to {checkpoint}; resume with: "
              f"{resume_command()}", file=sys.stderr)
    else:
        print("interrupted", file=sys.stderr)
    sys.exit(130)


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


def hydra_app(config_name: str, body: Callable[[DictConfig, Path], object], doc: str | None = None,
              groups: tuple[str, ...] = CONFIG_GROUPS, keys: tuple[str, ...] = ("name", "out_dir")
              ) -> Callable[[], None]:
    """A console-script ``main`` running ``body(cfg, out_dir)`` under Hydra.

    Expected user errors (bad arch, missing data, infeasible constraint ...) end
    with a one-line message and exit code 2 instead of a traceback; Ctrl-C with one
    line (how to resume, when a checkpoint was saved) and exit code 130. ``doc`` (the
    app module's docstring), ``groups`` and ``keys`` (what the app reads) make its
    ``--help``.
    """
    app_help.register(config_name, doc, groups, keys)

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
        except KeyboardInterrupt as e:
            if rank == 0:
                _interrupted(e)
            sys.exit(130)
        except USER_ERRORS as e:
            if cfg.runtime.log_level == "DEBUG":
                raise
            message = one_line(e)
            log.error("%s: %s", type(e).__name__, message)
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    def main() -> object:
        hint = config_file_hint(sys.argv[1:]) or moved_setting_hint(sys.argv[1:])
        if hint:
            print(f"error: {hint}", file=sys.stderr)
            sys.exit(2)
        return _main()

    return main
