"""The evaluator protocol: the only door to accuracy."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import pandas as pd

from ..space.space import SearchSpace

#: columns every evaluator returns (accuracy in percent, 0..100)
EVAL_COLUMNS = ("arch", "accuracy", "cached")


@runtime_checkable
class Evaluator(Protocol):
    """Maps a batch of archs to accuracies.

    ``evaluate(archs)`` returns a DataFrame with one row per input arch, in input
    order, with at least ``arch`` (canonical arch string), ``accuracy`` (percent) and
    ``cached`` (bool: the value came from a cache or table without new compute).
    Equivalent archs (same canonical form) must get the same accuracy.
    """

    space: SearchSpace

    def evaluate(self, archs: Sequence[Sequence[int]]) -> pd.DataFrame: ...
