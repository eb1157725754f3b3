"""Pareto fronts and a hypervolume that is comparable across runs.

Objectives are normalised with *fixed* bounds -- cost bounds of the space
(``CostModel.bounds`` / the latency model's) and an accuracy range (see
:func:`accuracy_bounds`: the evaluator's own range when it knows one, as a
ground-truth table does, else 0..100 %) -- and the hypervolume is pymoo's HV with
the reference point at 1 in every normalised objective. Two runs over the same
space and evaluator therefore report numbers on the same scale, whatever they
found; ``history.csv`` and ``benchmarks/search_quality.py`` both build their
meter with :meth:`HypervolumeMeter.for_problem`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from pymoo.indicators.hv import HV

from .costs import CostBounds

#: accuracy range (percent) of evaluators that do not declare one
DEFAULT_ACCURACY_BOUNDS = (0.0, 100.0)


def accuracy_bounds(evaluator: object) -> tuple[float, float]:
    """The accuracy range hypervolumes normalise with.

    An evaluator that knows its range (a ground-truth table: the lowest and highest
    accuracy in it) says so with an ``accuracy_range`` attribute; any other
    evaluator (a supernet) gets 0..100 %.
    """
    declared = getattr(evaluator, "accuracy_range", None)
    if declared is None:
        return DEFAULT_ACCURACY_BOUNDS
    return float(declared[0]), float(declared[1])


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` (minimised) no other row dominates.

    Of several identical rows only the first is kept.
    """
    F = np.asarray(F, dtype=np.float64)
    n = len(F)
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return keep
    order = np.lexsort(F.T[::-1])  # sort by the first objective, then the next...
    kept: list[int] = []
    for i in order:
        f = F[i]
        dominated = False
        for j in kept:
            g = F[j]
            if np.all(g <= f):  # g dominates f, or equals it (then f is a duplicate)
                dominated = True
                break
        if dominated:
            keep[i] = False
        else:
            kept.append(i)
    return keep


def objective_frame(frame: pd.DataFrame, objectives: Sequence[str]) -> np.ndarray:
    """Minimisation matrix from a results table (accuracy negated)."""
    return np.column_stack([-frame[o].to_numpy(dtype=np.float64) if o == "accuracy"
                            else frame[o].to_numpy(dtype=np.float64) for o in objectives])


def evaluated_rows(frame: pd.DataFrame, feasible_only: bool = True) -> pd.DataFrame:
    """The rows of a results table that were evaluated (and, with ``feasible_only``, are feasible);
    a table without those flag columns is taken as all evaluated / feasible."""
    rows = frame
    if "evaluated" in rows:
        rows = rows[rows["evaluated"].astype(bool)]
    if feasible_only and "feasible" in rows:
        rows = rows[rows["feasible"].astype(bool)]
    return rows


def pareto_front(frame: pd.DataFrame, objectives: Sequence[str], feasible_only: bool = True) -> pd.DataFrame:
    """Non-dominated evaluated rows of ``frame`` (sorted by the second objective)."""
    rows = evaluated_rows(frame, feasible_only)
    if rows.empty:
        return rows.copy()
    mask = non_dominated(objective_frame(rows, objectives))
    front = rows[mask]
    sort_by = [o for o in objectives if o != "accuracy"] + ["accuracy"]
    return front.sort_values(sort_by).reset_index(drop=True)


class HypervolumeMeter:
    """Hypervolume of normalised objectives with a fixed reference point.

    ``accuracy_bounds``: the accuracy range mapped to 0..1 (accuracy at the lower
    bound sits on the reference point); ``cost_bounds``: per cost objective, usually
    the space's smallest and largest value.
    """

    def __init__(self, objectives: Sequence[str], cost_bounds: Mapping[str, "CostBounds | tuple[float, float]"],
                 accuracy_bounds: tuple[float, float] = DEFAULT_ACCURACY_BOUNDS):
        self.objectives = tuple(objectives)
        self.accuracy_bounds = (float(accuracy_bounds[0]), float(accuracy_bounds[1]))
        lows, highs = [], []
        for o in self.objectives:
            if o == "accuracy":
                lo, hi = accuracy_bounds
                lows.append(-float(hi))
                highs.append(-float(lo))
            else:
                b = cost_bounds[o]
                lo, hi = (b.low, b.high) if isinstance(b, CostBounds) else b
                lows.append(float(lo))
                highs.append(float(hi))
        self.ideal = np.array(lows)
        self.nadir = np.array(highs)
        span = self.nadir - self.ideal
        if np.any(span <= 0):
            raise ValueError(f"hypervolume bounds must have low < high, got ideal {self.ideal}, nadir {self.nadir}")
        self._span = span
        self._hv = HV(ref_point=np.ones(len(self.objectives)))

    @classmethod
    def for_problem(cls, problem: object,
                    accuracy_range: "tuple[float, float] | None" = None) -> "HypervolumeMeter":
        """The meter of a :class:`~oneshot.search.problem.NASProblem`: its objectives, the
        space's cost bounds and :func:`accuracy_bounds` of its evaluator (unless given)."""
        bounds = accuracy_range if accuracy_range is not None else accuracy_bounds(problem.evaluator)
        return cls(problem.objectives, problem.bounds, bounds)

    def describe(self) -> str:
        """The normalisation in words (written beside every hypervolume in ``history.csv``)."""
        parts = []
        for o, lo, hi in zip(self.objectives, self.ideal, self.nadir):
            if o == "accuracy":
                parts.append(f"accuracy {-hi:.6g}..{-lo:.6g} % -> 1..0")
            else:
                parts.append(f"{o} {lo:.6g}..{hi:.6g} -> 0..1")
        return "; ".join(parts) + "; reference point 1"

    def normalise(self, F: np.ndarray) -> np.ndarray:
        return (np.asarray(F, dtype=np.float64) - self.ideal) / self._span

    def __call__(self, F: np.ndarray) -> float:
        """Hypervolume of minimisation rows ``F`` (raw units); 0 for an empty set."""
        F = np.asarray(F, dtype=np.float64).reshape(-1, len(self.objectives))
        if len(F) == 0:
            return 0.0
        Z = self.normalise(F)
        Z = Z[np.all(Z < 1.0, axis=1)]
        if len(Z) == 0:
            return 0.0
        return float(self._hv(Z))

    def of_frame(self, frame: pd.DataFrame, feasible_only: bool = True) -> float:
        """Hypervolume of the evaluated (and feasible) rows of a results table."""
        rows = evaluated_rows(frame, feasible_only)
        return self(objective_frame(rows, self.objectives)) if len(rows) else 0.0
