"""Cost callables (genomes -> values), their bounds over a space, and constraint checks.

A cost is any vectorised callable ``(n, layers) int array -> (n,) float array``:
``CostModel.flops`` / ``CostModel.params`` for the analytic costs, and whatever the
caller supplies for latency (e.g. a latency LUT's ``predict``). Nothing here
evaluates accuracy, so every check in this module is free.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ..space import Arch, CostModel, SearchSpace
from ..errors import UserInputError

logger = logging.getLogger(__name__)

CostFn = Callable[[np.ndarray], np.ndarray]

#: metrics a search can optimise or constrain besides accuracy
COST_METRICS = ("flops", "params", "latency")
UNITS = {"flops": "multiply-accumulates", "params": "parameters", "latency": "the latency model's unit"}


class ConstraintError(UserInputError):
    """A constraint that cannot be meant as given (zero, negative, wrong unit)."""


class InfeasibleConstraintError(ConstraintError):
    """No arch of the space can meet a constraint."""


@dataclass(frozen=True)
class CostBounds:
    """Smallest / largest value of one cost over a space, with the archs reaching them."""

    low: float
    high: float
    argmin: Arch
    argmax: Arch
    exact: bool = True  # False: estimated from samples (the cost is not additive per layer)


def cost_functions(space: SearchSpace, latency: CostFn | None = None,
                   extra: Mapping[str, CostFn] | None = None) -> dict[str, CostFn]:
    """``{"flops": ..., "params": ..., ["latency": ...]}`` for ``space``."""
    model = CostModel(space)
    costs: dict[str, CostFn] = {"flops": model.flops, "params": model.params}
    if latency is not None:
        costs["latency"] = latency
    costs.update(extra or {})
    return costs


def evaluate_cost(fn: CostFn, genomes: np.ndarray) -> np.ndarray:
    """Call a cost callable on a batch and check the shape of what it returns."""
    genomes = np.asarray(genomes, dtype=np.int64)
    values = np.asarray(fn(genomes), dtype=np.float64).reshape(-1)
    if values.shape[0] != genomes.shape[0]:
        raise ValueError(f"cost callable {fn!r} returned {values.shape[0]} values for {genomes.shape[0]} archs")
    return values


def cost_bounds(space: SearchSpace, name: str, fn: CostFn, rng_seed: int = 0) -> CostBounds:
    """Bounds of a cost over ``space``.

    FLOPs / params come exactly from :meth:`CostModel.bounds`. Any other callable is
    probed one layer at a time (``1 + sum(num_choices - 1)`` archs, one batch) which
    gives exact bounds when the cost is a sum of per-layer terms (a LUT); the
    additivity is checked on random archs, and when it fails the bounds are the min /
    max over those samples instead (``exact=False``).
    """
    if name in CostModel.metrics and getattr(fn, "__self__", None) is not None \
            and isinstance(fn.__self__, CostModel):
        model: CostModel = fn.__self__
        lo, hi = model.bounds(name)
        return CostBounds(lo, hi, model.extreme(name, largest=False), model.extreme(name, largest=True))
    n_layers, choices = space.num_layers, space.num_choices
    base = np.zeros(n_layers, dtype=np.int64)
    probes = [base]
    index = []
    for layer in range(n_layers):
        for c in range(1, int(choices[layer])):
            g = base.copy()
            g[layer] = c
            probes.append(g)
            index.append((layer, c))
    values = evaluate_cost(fn, np.stack(probes))
    table = np.zeros((n_layers, int(choices.max())))
    for (layer, c), v in zip(index, values[1:]):
        table[layer, c] = v - values[0]
    valid = np.arange(table.shape[1])[None, :] < choices[:, None]
    low_arch = np.where(valid, table, np.inf).argmin(axis=1)
    high_arch = np.where(valid, table, -np.inf).argmax(axis=1)
    rng = np.random.default_rng(rng_seed)
    sample = rng.integers(0, choices, size=(64, n_layers))
    checks = np.vstack([sample, low_arch, high_arch])
    predicted = values[0] + table[np.arange(n_layers), checks].sum(axis=1)
    actual = evaluate_cost(fn, checks)
    if np.allclose(predicted, actual, rtol=1e-6, atol=1e-9 * max(1.0, float(np.abs(actual).max()))):
        return CostBounds(float(actual[-2]), float(actual[-1]), Arch(low_arch), Arch(high_arch))
    logger.warning("cost %r is not a sum of per-layer terms; its bounds are estimated from samples", name)
    sample = rng.integers(0, choices, size=(4096, n_layers))
    vals = evaluate_cost(fn, sample)
    return CostBounds(float(vals.min()), float(vals.max()), Arch(sample[vals.argmin()]),
                      Arch(sample[vals.argmax()]), exact=False)


def normalise_limits(constraints: Mapping[str, float | None] | None) -> dict[str, float]:
    """``{"flops_max": 3e7, "params": None}`` -> ``{"flops": 3e7}`` (keys checked)."""
    limits: dict[str, float] = {}
    for key, value in (constraints or {}).items():
        name = key[:-4] if key.endswith("_max") else key
        if name not in COST_METRICS:
            raise ConstraintError(f"unknown constraint {key!r}: use one of {[m + '_max' for m in COST_METRICS]}")
        if value is None:
            continue
        try:
            limit = float(value)
        except (TypeError, ValueError):
            raise ConstraintError(f"constraint {name}_max={value!r} is not a number") from None
        if not math.isfinite(limit):
            raise ConstraintError(f"constraint {name}_max={value!r} must be finite (leave it unset for no limit)")
        limits[name] = limit
    return limits


def _suggest(limit: float, low: float) -> str | None:
    for exp in (3, 6, 9):
        if limit * 10 ** exp >= low:
            return f"{limit:g}e{exp}"
    return None


def check_constraints(space: SearchSpace, constraints: Mapping[str, float | None] | None,
                      costs: Mapping[str, CostFn],
                      bounds: Mapping[str, CostBounds] | None = None) -> dict[str, CostBounds]:
    """Refuse constraints that no arch can meet or that are in the wrong unit.

    Runs before any accuracy evaluation. Returns the bounds of every constrained cost.
    Raises :class:`ConstraintError` for a limit <= 0 or one that looks like it is in the
    wrong unit (``flops_max=30`` in a space of 1e7..1e8 FLOPs: "did you mean 30e6?"),
    :class:`InfeasibleConstraintError` when the smallest achievable value is above it.
    """
    limits = normalise_limits(constraints)
    found: dict[str, CostBounds] = dict(bounds or {})
    for name, limit in limits.items():
        if name not in costs:
            raise ConstraintError(f"constraint {name}_max={limit:g} needs a {name} model, and none was given "
                                  f"(pass a vectorised callable archs -> {name}, e.g. a latency LUT's predict)")
        if limit <= 0:
            raise ConstraintError(f"constraint {name}_max={limit:g} must be > 0 (leave it unset for no limit)")
        b = found.get(name) or cost_bounds(space, name, costs[name])
        found[name] = b
        unit = UNITS[name]
        span = f"{name} in space {space.name!r} ranges from {b.low:.4g} to {b.high:.4g} ({unit})"
        if limit < b.low:
            hint = _suggest(limit, b.low) if limit * 100 < b.low else None
            if hint is not None:
                raise ConstraintError(f"constraint {name}_max={limit:g} looks like it is in the wrong unit: {span}; "
                                      f"did you mean {name}_max={hint}?")
            raise InfeasibleConstraintError(
                f"constraint {name}_max={limit:g} cannot be met: the smallest achievable {name} is {b.low:.6g} "
                f"(arch {b.argmin}){'' if b.exact else ' (estimated from samples)'}; {span}")
        if limit > 1000 * b.high:
            logger.warning("constraint %s_max=%g is over 1000x the largest %s in the space (%.4g): "
                           "it is inactive; check its unit", name, limit, name, b.high)
    return found
