"""Summarise a Hydra multirun sweep of searches: the best feasible arch of each job."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from ..io import write_csv
from .recorder import best_feasible

logger = logging.getLogger(__name__)


def _overrides(job_dir: Path) -> dict[str, str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    with open(path) as f:
        items = yaml.safe_load(f) or []
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        out[key.lstrip("+~")] = value if sep else ""
    return out


def summarize_sweep(sweep_dir: "str | Path", write: bool = True) -> pd.DataFrame:
    """One row per job under ``sweep_dir`` that has a ``pareto.csv``.

    Columns: ``job`` (path relative to the sweep dir), every override key of the
    sweep (from ``.hydra/overrides.yaml``), then the best feasible arch of the job's
    Pareto front (``arch``, ``accuracy``, costs) and ``pareto_size``. A job whose
    front is empty gets an empty arch. Written to ``sweep_dir/sweep_summary.csv``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep dir {sweep_dir} does not exist")
    rows = []
    for pareto_path in sorted(sweep_dir.rglob("pareto.csv")):
        job_dir = pareto_path.parent
        row: dict = {"job": job_dir.relative_to(sweep_dir).as_posix()}
        row.update(_overrides(job_dir))
        front = pd.read_csv(pareto_path, dtype={"arch": str})
        if "feasible" in front:
            front = front[front["feasible"].astype(bool)]
        row["pareto_size"] = len(front)
        best = best_feasible(front)
        if best is not None:
            row.update({k: best[k] for k in front.columns if k != "feasible"})
        else:
            row["arch"] = ""
        rows.append(row)
    if not rows:
        logger.warning("no pareto.csv found under %s", sweep_dir)
    summary = pd.DataFrame(rows)
    if write:
        write_csv(sweep_dir / "sweep_summary.csv", summary)
    return summary
