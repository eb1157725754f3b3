"""Per-generation bookkeeping and the result files of a search.

``history.csv`` (rewritten atomically every generation): generation, evaluations
(distinct archs evaluated so far), proposed (distinct archs proposed so far),
hypervolume (see :class:`HypervolumeMeter`), best_accuracy / best_arch (best
feasible so far), feasible_fraction (share of this generation's new archs that
meet every constraint), cache_hit_rate (share of evaluations answered from the
evaluator's cache, from its ``cached`` column), hypervolume_normalisation (the
bounds each objective was scaled with, :meth:`HypervolumeMeter.describe`).

At the end: ``pareto.csv``, ``pareto.png``, ``hypervolume.png`` (hypervolume
against distinct evaluations) and ``all_evaluated.csv``.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
from tqdm.auto import tqdm

from ..io import write_csv
from .costs import COST_METRICS
from .pareto import HypervolumeMeter, evaluated_rows, pareto_front
from .plot import plot_hypervolume, plot_pareto
from .problem import NASProblem

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("generation", "evaluations", "proposed", "hypervolume", "best_accuracy", "best_arch",
                   "feasible_fraction", "cache_hit_rate", "hypervolume_normalisation")

GenerationCallback = Callable[[dict], Any]


def result_columns(problem: NASProblem) -> list[str]:
    return ["arch", "accuracy", *problem.metrics, "feasible"]


def best_feasible(frame: pd.DataFrame, objectives: Sequence[str] = ()) -> pd.Series | None:
    """The evaluated, feasible row with the highest accuracy.

    Ties on accuracy go to the cheapest row: the lexicographically smallest costs,
    the cost ``objectives`` first, then the other cost columns (flops, params,
    latency). That row is never dominated by another row of the tie, so it is on
    the Pareto front.
    """
    rows = evaluated_rows(frame)
    if rows.empty:
        return None
    tied = rows[rows["accuracy"] == rows["accuracy"].max()]
    costs = [o for o in objectives if o != "accuracy" and o in tied]
    costs += [m for m in COST_METRICS if m in tied and m not in costs]
    if costs:
        tied = tied.sort_values(costs, kind="stable")
    return tied.iloc[0]


class SearchRecorder:
    """Collects one history row per generation and writes the run's files."""

    def __init__(self, problem: NASProblem, meter: HypervolumeMeter, out_dir: "str | Path | None" = None,
                 callback: GenerationCallback | None = None, total: int | None = None,
                 progress: bool = False, write_every: int = 1, desc: str = "search"):
        self.problem = problem
        self.meter = meter
        self.out_dir = Path(out_dir) if out_dir is not None else None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.callback = callback
        self.write_every = max(1, int(write_every))
        self.rows: list[dict] = []
        self._normalisation = meter.describe()
        self._seen = 0
        self._bar = tqdm(total=total, disable=not progress, desc=desc, unit="gen", leave=False)

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS))

    def record(self, generation: int) -> dict:
        archive = self.problem.archive
        frame = archive.to_frame()
        new = frame.iloc[self._seen:]
        self._seen = len(frame)
        best = best_feasible(frame, self.problem.objectives)
        row = {
            "generation": int(generation),
            "evaluations": archive.n_evaluated,
            "proposed": len(archive),
            "hypervolume": self.meter.of_frame(frame),
            "best_accuracy": float(best["accuracy"]) if best is not None else math.nan,
            "best_arch": str(best["arch"]) if best is not None else "",
            "feasible_fraction": float(new["feasible"].mean()) if len(new) else math.nan,
            "cache_hit_rate": archive.cache_hit_rate,
            "hypervolume_normalisation": self._normalisation,
        }
        self.rows.append(row)
        logger.debug("generation %d: %d evaluated, hv %.4f, best %.2f", generation, row["evaluations"],
                     row["hypervolume"], row["best_accuracy"])
        self._bar.update(1)
        self._bar.set_postfix(evals=row["evaluations"], hv=f"{row['hypervolume']:.4f}",
                              best=f"{row['best_accuracy']:.2f}", refresh=False)
        if self.out_dir is not None and len(self.rows) % self.write_every == 0:
            write_csv(self.out_dir / "history.csv", self.history)
        if self.callback is not None:
            self.callback(dict(row))
        return row

    def finish(self, title: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Close the bar, write every result file; returns ``(all_evaluated, pareto)``."""
        self._bar.close()
        problem = self.problem
        frame = problem.archive.to_frame()
        front = pareto_front(frame, problem.objectives)
        cols = result_columns(problem)
        pareto = front[cols].reset_index(drop=True) if len(front) else pd.DataFrame(columns=cols)
        if pareto.empty:
            logger.warning("no feasible arch was evaluated: pareto.csv is empty")
        if self.out_dir is not None:
            write_csv(self.out_dir / "history.csv", self.history)
            write_csv(self.out_dir / "all_evaluated.csv", frame)
            write_csv(self.out_dir / "pareto.csv", pareto)
            plot_pareto(frame, pareto, self.out_dir / "pareto.png", problem.objectives, problem.limits,
                        title=title)
            plot_hypervolume(self.history, self.out_dir / "hypervolume.png", title=title)
        return frame, pareto
