"""`ArchArchive`: every distinct (canonical) arch a search has proposed, in order.

The archive is the search's memory: an arch is sent to the evaluator at most once
per search, whatever the algorithm proposes again later, and the archive's order
is the evaluation order (so "the front after the first N evaluations" is exact).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..space import Arch

#: columns of :meth:`ArchArchive.to_frame` besides the cost metrics
BASE_COLUMNS = ("arch", "accuracy", "feasible", "evaluated", "cached", "generation", "eval_index")


class ArchArchive:
    """Insertion-ordered records keyed by canonical arch string."""

    def __init__(self, metrics: Iterable[str]):
        self.metrics = tuple(metrics)
        self._index: dict[str, int] = {}
        self._rows: list[dict] = []
        self._keys: set[bytes] = set()
        self.n_evaluated = 0
        self.n_cached = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, arch: object) -> bool:
        return str(arch) in self._index

    def seen(self, genomes: np.ndarray) -> np.ndarray:
        """Boolean mask: which (canonical) genomes are already in the archive."""
        g = np.ascontiguousarray(genomes, dtype=np.int64)
        return np.array([row.tobytes() in self._keys for row in g], dtype=bool)

    def get(self, arch: "str | Arch") -> dict | None:
        i = self._index.get(str(arch))
        return None if i is None else self._rows[i]

    def add(self, genome: np.ndarray, costs: Mapping[str, float], feasible: bool, generation: int) -> dict:
        """Record a newly proposed arch (not evaluated yet)."""
        arch = Arch(genome)
        key = str(arch)
        if key in self._index:
            return self._rows[self._index[key]]
        row = {"arch": key, "accuracy": math.nan, "feasible": bool(feasible), "evaluated": False,
               "cached": False, "generation": int(generation), "eval_index": -1,
               "_genome": tuple(int(c) for c in genome)}
        row.update({m: float(costs[m]) for m in self.metrics})
        self._index[key] = len(self._rows)
        self._rows.append(row)
        self._keys.add(np.asarray(row["_genome"], dtype=np.int64).tobytes())
        return row

    def set_accuracy(self, arch: str, accuracy: float, cached: bool) -> None:
        row = self._rows[self._index[arch]]
        if row["evaluated"]:
            raise RuntimeError(f"arch {arch} was already evaluated in this search")
        row.update(accuracy=float(accuracy), evaluated=True, cached=bool(cached), eval_index=self.n_evaluated)
        self.n_evaluated += 1
        self.n_cached += int(bool(cached))

    @property
    def cache_hit_rate(self) -> float:
        return self.n_cached / self.n_evaluated if self.n_evaluated else math.nan

    def to_frame(self) -> pd.DataFrame:
        """One row per arch: arch, accuracy (NaN if never evaluated), costs, flags."""
        cols = list(BASE_COLUMNS[:2]) + list(self.metrics) + list(BASE_COLUMNS[2:])
        if not self._rows:
            return pd.DataFrame({c: pd.Series(dtype=object if c == "arch" else float) for c in cols})
        frame = pd.DataFrame(self._rows)
        return frame[cols]

    def genomes(self, rows: "pd.DataFrame | None" = None) -> np.ndarray:
        archs = rows["arch"] if rows is not None else [r["arch"] for r in self._rows]
        return np.array([self._rows[self._index[a]]["_genome"] for a in archs], dtype=np.int64)
