"""Fixtures for the search tests: a synthetic evaluator that needs no data."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd
import pytest

from oneshot.space import SearchSpace, load_space


class SyntheticEvaluator:
    """Accuracy = a fixed function of the canonical arch (per-layer gains + a pair term).

    Counts every arch it is asked about, so tests can check nothing is paid twice.
    """

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        rng = np.random.default_rng(seed)
        width = int(space.num_choices.max())
        self.gain = rng.uniform(0.0, 6.0, size=(space.num_layers, width))
        self.calls: Counter[str] = Counter()
        self.batches = 0

    def evaluate(self, archs: Sequence[Sequence[int]]) -> pd.DataFrame:
        g = self.space.canonical_batch(np.asarray([list(a) for a in archs], dtype=np.int64))
        rows = np.arange(self.space.num_layers)
        acc = 40.0 + self.gain[rows, g].sum(axis=1) + 2.0 * np.sin(g @ np.arange(1, self.space.num_layers + 1))
        keys = ["".join(map(str, r)) for r in g]
        self.calls.update(keys)
        self.batches += 1
        return pd.DataFrame({"arch": keys, "accuracy": np.minimum(acc, 99.0), "cached": False})


@pytest.fixture(scope="session")
def nbm_space() -> SearchSpace:
    return load_space("nas_bench_macro")


@pytest.fixture(scope="session")
def make_synthetic():
    """The :class:`SyntheticEvaluator` class (tests import nothing from conftest)."""
    return SyntheticEvaluator


@pytest.fixture()
def synthetic(nbm_space) -> SyntheticEvaluator:
    return SyntheticEvaluator(nbm_space)


@pytest.fixture()
def three_layer_space() -> SearchSpace:
    """Two shape-keeping layers and one stride-2 layer: 27 genomes, 21 distinct networks."""
    return SearchSpace({"name": "tiny", "stem_channels": 8, "head_channels": 32,
                        "stages": [{"layers": 2, "channels": 8, "stride": 1},
                                   {"layers": 1, "channels": 16, "stride": 2}]})
