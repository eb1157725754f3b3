"""Hydra callback: after a multirun, gather each job's best arch into sweep_summary.csv."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummaryCallback(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ..search import summarize_sweep

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        summary = summarize_sweep(sweep_dir)
        log.info("sweep summary of %d jobs: %s", len(summary), sweep_dir / "sweep_summary.csv")
