"""`NasBenchMacroEvaluator`: accuracy by lookup in the NAS-Bench-Macro table.

NAS-Bench-Macro (Su et al., CVPR 2021) trained all 6,561 archs of its 8-layer,
3-op space on CIFAR-10 (3 seeds each). This evaluator answers from that table,
so it is the ground truth for search-quality benchmarks: every answer is
``cached=True`` (no compute), and it counts how often it was asked.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..paths import shared_data_dir
from ..space import Arch, load_space
from ..space.space import SearchSpace

TABLE_RELPATH = Path("nas-bench-macro") / "nas-bench-macro_cifar10.json"
SOURCE = ("GitHub xiusu/NAS-Bench-Macro, file data/nas-bench-macro_cifar10.json "
          "(commit 61a2bfc2ca0dce04d0997e6cf498047c27d6acf2, Apache-2.0)")


def default_table_path() -> Path:
    return shared_data_dir() / TABLE_RELPATH


class NasBenchMacroEvaluator:
    """Evaluator protocol by table lookup.

    Args:
        path: the table JSON; default ``<shared data>/nas-bench-macro/nas-bench-macro_cifar10.json``
            (``$ONESHOT_SHARED_DATA`` moves the shared data folder).
        seed: ``None`` for ``mean_acc`` (mean of 3 seeds), or 0..2 for one seed's ``test_acc``.

    Attributes:
        n_lookups: archs looked up so far (every row of every ``evaluate`` call).
        distinct: the distinct canonical arch strings looked up so far.
    """

    def __init__(self, path: "str | Path | None" = None, seed: int | None = None):
        self.space: SearchSpace = load_space("nas_bench_macro")
        self.path = Path(path) if path is not None else default_table_path()
        if not self.path.is_file():
            raise FileNotFoundError(
                f"NAS-Bench-Macro table not found at {self.path}. Get nas-bench-macro_cifar10.json from "
                f"{SOURCE} and pass NasBenchMacroEvaluator(path='.../nas-bench-macro_cifar10.json'), or put it "
                f"at <shared data>/{TABLE_RELPATH.as_posix()} (the shared data folder is {shared_data_dir()}; "
                "set ONESHOT_SHARED_DATA to move it)")
        if seed is not None and seed not in (0, 1, 2):
            raise ValueError(f"seed must be None (mean of 3 seeds) or 0, 1, 2; got {seed!r}")
        self.seed = seed
        with open(self.path) as f:
            raw = json.load(f)
        self.table = _to_frame(raw, self.space)
        column = "mean_acc" if seed is None else f"test_acc_{seed}"
        self._accuracy: dict[str, float] = dict(zip(self.table.index, self.table[column].astype(float)))
        self.n_lookups = 0
        self.distinct: set[str] = set()
        self._range: tuple[float, float] | None = None

    def evaluate(self, archs: Sequence[Sequence[int]]) -> pd.DataFrame:
        keys = [str(self.space.canonical(_as_arch(a, self.space))) for a in archs]
        self.n_lookups += len(keys)
        self.distinct.update(keys)
        acc = [self._accuracy[k] for k in keys]
        return pd.DataFrame({"arch": keys, "accuracy": np.array(acc, dtype=np.float64),
                             "cached": np.ones(len(keys), dtype=bool)})

    def canonical_table(self) -> pd.DataFrame:
        """One row per distinct network (canonical arch): arch, accuracy, flops, params, ..."""
        canon = self.table[self.table["canonical"]].copy()
        column = "mean_acc" if self.seed is None else f"test_acc_{self.seed}"
        canon.insert(0, "accuracy", canon[column].astype(float))
        return canon.reset_index().rename(columns={"index": "arch"})

    @property
    def accuracy_range(self) -> tuple[float, float]:
        """Lowest and highest accuracy of the table's distinct networks (hypervolumes normalise with it)."""
        if self._range is None:
            acc = self.canonical_table()["accuracy"]
            self._range = (float(acc.min()), float(acc.max()))
        return self._range

    def __repr__(self) -> str:
        return f"NasBenchMacroEvaluator({str(self.path)!r}, seed={self.seed})"


def _as_arch(arch: "str | Sequence[int]", space: SearchSpace) -> Arch:
    return space.parse(arch)


def _to_frame(raw: dict, space: SearchSpace) -> pd.DataFrame:
    if not isinstance(raw, dict) or not raw:
        raise ValueError("NAS-Bench-Macro table: expected a JSON object keyed by arch strings")
    rows = {}
    for key, entry in raw.items():
        test = list(entry.get("test_acc", []))
        rows[str(key)] = {"mean_acc": entry["mean_acc"], "std": entry.get("std", np.nan),
                          "test_acc_0": test[0] if len(test) > 0 else np.nan,
                          "test_acc_1": test[1] if len(test) > 1 else np.nan,
                          "test_acc_2": test[2] if len(test) > 2 else np.nan,
                          "flops": entry.get("flops", np.nan), "params": entry.get("params", np.nan)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if len(frame) != space.size:
        raise ValueError(f"NAS-Bench-Macro table has {len(frame)} entries, space {space.name!r} has "
                         f"{space.size} archs: is this the CIFAR-10 table?")
    genomes = np.array([[int(c) for c in k] for k in frame.index], dtype=np.int64)
    frame["canonical"] = space.is_canonical_batch(genomes)
    return frame
