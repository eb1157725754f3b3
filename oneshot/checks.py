"""Range checks of user settings: one rule per setting, one error naming the key, the value and the rule."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .errors import UserInputError

Rule = tuple[Callable[[Any], bool], str]  # (test, what the value must be)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def positive(x: Any) -> bool:
    return _number(x) and x > 0


def non_negative(x: Any) -> bool:
    return _number(x) and x >= 0


def probability(x: Any) -> bool:
    return _number(x) and 0 <= x <= 1


def fraction(x: Any) -> bool:
    """In [0, 1)."""
    return _number(x) and 0 <= x < 1


def integer_at_least(low: int) -> Callable[[Any], bool]:
    return lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= low


def optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda x: x is None or test(x)


def check_settings(values: Mapping[str, Any], rules: Mapping[str, Rule], prefix: str) -> None:
    """Raise :class:`UserInputError` for the first ``values[key]`` its rule refuses."""
    for key, (ok, rule) in rules.items():
        if key in values and not ok(values[key]):
            raise UserInputError(f"{prefix}{key}={values[key]!r} is invalid: it must be {rule}")


TRAIN_RULES: dict[str, Rule] = {  # :class:`~oneshot.train.TrainSettings`
    "epochs": (positive, "a number > 0 (fractions allowed)"),
    "batch_size": (integer_at_least(1), "an integer >= 1"),
    "lr": (positive, "a number > 0"),
    "momentum": (fraction, "in [0, 1)"),
    "weight_decay": (non_negative, "a number >= 0"),
    "warmup_epochs": (non_negative, "a number >= 0"),
    "label_smoothing": (fraction, "in [0, 1)"),
    "grad_clip": (optional(non_negative), "a number >= 0, or null (0 or null: no clipping)"),
    "checkpoint_every": (integer_at_least(0), "an integer >= 0 (optimizer steps; 0: at each epoch end only)"),
    "max_steps": (optional(integer_at_least(1)), "an integer >= 1, or null (no limit)"),
    "kd_temperature": (positive, "a number > 0"),
}

SEARCH_RULES: dict[str, Rule] = {  # :func:`~oneshot.search.run_search` and the algorithms' options (``search.*``, ``search.options.*``)
    "pop_size": (integer_at_least(1), "an integer >= 1"),
    "generations": (optional(integer_at_least(1)), "an integer >= 1, or null (no cap: set max_evaluations)"),
    "max_evaluations": (optional(integer_at_least(1)), "an integer >= 1, or null (no cap)"),
    "patience": (optional(integer_at_least(1)), "an integer >= 1, or null (never stop early)"),
    "crossover_prob": (probability, "a probability in [0, 1]"),
    "mutation_prob": (optional(probability), "a probability per gene in [0, 1], or null (1 / layers)"),
}
