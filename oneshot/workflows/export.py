"""Export as a function of a config: pick the arch (arch= or a search's best_subnet.json), write the files."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from .. import build, runtime
from ..search.deploy import ExportSettings, check_formats, export_model
from ..search.export import load_subnet
from ..space.space import SearchSpace
from ..train.checkpoint import load_checkpoint

log = logging.getLogger(__name__)


def export_settings(cfg: DictConfig) -> ExportSettings:
    e = cfg.export
    return ExportSettings(formats=tuple(e.formats), recal_images=e.recal_images, recal_batch_size=e.recal_batch_size,
                          check_images=e.check_images, seed=e.seed, opset=e.opset, tolerance=e.tolerance)


def chosen_arch(cfg: DictConfig, space: SearchSpace) -> tuple[str, dict[str, Any]]:
    """``arch=`` or the arch of ``export.subnet`` (with its search metrics), checked against ``space``."""
    if cfg.arch and cfg.export.subnet:
        raise ValueError("give either arch=<arch> or export.subnet=<best_subnet.json>, not both")
    if cfg.export.subnet:
        path = build.resolve_path(cfg.export.subnet)
        if not path.is_file():
            raise FileNotFoundError(f"export.subnet={cfg.export.subnet}: no such file (oneshot-search writes "
                                    "best_subnet.json into its output folder)")
        arch, config = load_subnet(path, space)
        return str(arch), {k: config[k] for k in ("accuracy", "latency") if k in config}
    if not cfg.arch:
        raise ValueError("oneshot-export needs arch=<arch string> or export.subnet=<best_subnet.json>")
    return str(space.parse(str(cfg.arch))), {}


def run_export(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    """Write subnet.json, subnet.pt, subnet.pt2, subnet.onnx and export_report.json into ``out_dir``."""
    runtime.set_threads(cfg.runtime.threads)
    settings = export_settings(cfg)
    check_formats(settings.formats)  # a missing optional package fails before any work
    ckpt = build.checkpoint_path(cfg)
    space = SearchSpace(load_checkpoint(ckpt)["space"])
    arch, metrics = chosen_arch(cfg, space)
    data = build.data_from_config(cfg, space)
    report = export_model(ckpt, arch, data, out_dir, settings, **metrics)
    log.info("exported %s to %s (%s)", arch, out_dir, ", ".join(Path(p).name for p in report["files"].values()))
    if not report["within_tolerance"]:
        log.warning("an exported model differs from PyTorch by more than export.tolerance=%g: see %s",
                    settings.tolerance, out_dir / "export_report.json")
    return report
