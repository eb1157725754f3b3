"""An additive synthetic problem whose optimum is known by enumeration."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pandas as pd
import pytest


class AdditiveEvaluator:
    """Accuracy = 50 + sum of per-layer gains of the canonical arch (counts every call)."""

    def __init__(self, space, seed: int = 0):
        self.space = space
        self.gain = np.random.default_rng(seed).uniform(0, 5, size=(space.num_layers, int(space.num_choices.max())))
        self.calls: Counter[str] = Counter()

    def accuracy(self, genomes: np.ndarray) -> np.ndarray:
        g = self.space.canonical_batch(np.asarray(genomes, dtype=np.int64))
        return 50.0 + self.gain[np.arange(self.space.num_layers), g].sum(axis=1)

    def evaluate(self, archs) -> pd.DataFrame:
        g = self.space.canonical_batch(np.asarray([list(a) for a in archs], dtype=np.int64))
        keys = ["".join(map(str, r)) for r in g]
        self.calls.update(keys)
        return pd.DataFrame({"arch": keys, "accuracy": self.accuracy(g), "cached": False})

    def best(self, feasible=None) -> tuple[str, float]:
        """The true best canonical arch (optionally among genomes where ``feasible(genomes)``)."""
        genomes = np.array(list(itertools.product(*[range(int(k)) for k in self.space.num_choices])))
        genomes = np.unique(self.space.canonical_batch(genomes), axis=0)
        if feasible is not None:
            genomes = genomes[feasible(genomes)]
        acc = self.accuracy(genomes)
        i = int(np.argmax(acc))
        return "".join(map(str, genomes[i])), float(acc[i])


@pytest.fixture()
def additive(nbm_space):
    return AdditiveEvaluator(nbm_space)


@pytest.fixture(scope="session")
def make_additive():
    """The :class:`AdditiveEvaluator` class."""
    return AdditiveEvaluator
