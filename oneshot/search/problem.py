"""`NASProblem`: a pymoo problem over integer genomes (one variable per layer).

Objectives (pymoo minimises): ``accuracy`` enters as ``-accuracy``; ``flops``,
``params`` and ``latency`` as they are. Hard constraints are
``G = value / limit - 1 <= 0``. Genomes are evaluated in batches: costs from the
vectorised cost callables, accuracy from the evaluator -- once per canonical arch
per search (the :class:`ArchArchive` remembers), and by default only for archs
that meet every constraint (an infeasible arch can never be chosen, and its costs
alone tell pymoo how infeasible it is).
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
from pymoo.core.problem import Problem

from ..evaluate.base import Evaluator
from ..space import Arch, SearchSpace
from .archive import ArchArchive
from .costs import (COST_METRICS, ConstraintError, CostBounds, CostFn, check_constraints, cost_bounds,
                    cost_functions, evaluate_cost, normalise_limits)

logger = logging.getLogger(__name__)

OBJECTIVES = ("accuracy",) + COST_METRICS
#: accuracy used in F for archs that were not evaluated (infeasible, or over budget)
UNEVALUATED_ACCURACY = 0.0


class NASProblem(Problem):
    """Architecture search as a pymoo problem.

    Args:
        space: the search space (genome = one choice index per layer).
        evaluator: the only door to accuracy (``evaluate(archs) -> DataFrame``).
        objectives: any of ``accuracy`` (maximised), ``flops``, ``params``, ``latency``
            (minimised). Default: accuracy vs FLOPs.
        constraints: ``{"flops": 3e7}`` or ``{"flops_max": 3e7, "latency_max": None}``;
            ``None`` values mean no limit.
        latency: vectorised callable ``(n, layers) int array -> (n,) latencies``, needed
            for a latency objective or constraint.
        costs: override the cost callables entirely (``{"flops": fn, ...}``).
        bounds: known bounds per cost (skips probing).
        skip_infeasible: do not evaluate accuracy of archs that violate a constraint.
        max_evaluations: stop sending archs to the evaluator after this many.
    """

    def __init__(self, space: SearchSpace, evaluator: Evaluator,
                 objectives: Sequence[str] = ("accuracy", "flops"),
                 constraints: Mapping[str, float | None] | None = None,
                 latency: CostFn | None = None,
                 costs: Mapping[str, CostFn] | None = None,
                 bounds: Mapping[str, CostBounds] | None = None,
                 skip_infeasible: bool = True,
                 max_evaluations: int | None = None):
        self.space = space
        self.evaluator = evaluator
        self.objectives = tuple(objectives)
        if not self.objectives or "accuracy" not in self.objectives:
            raise ConstraintError(f"objectives {list(self.objectives)} must include 'accuracy'")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown or len(set(self.objectives)) != len(self.objectives):
            raise ConstraintError(f"objectives {list(self.objectives)}: each must be one of {list(OBJECTIVES)}, once")
        evaluator_space = getattr(evaluator, "space", None)
        if evaluator_space is not None and evaluator_space != space:
            raise ValueError(f"evaluator's space {evaluator_space!r} is not the search space {space!r}")
        self.costs: dict[str, CostFn] = dict(costs) if costs else cost_functions(space, latency)
        for o in self.objectives:
            if o != "accuracy" and o not in self.costs:
                raise ConstraintError(f"objective {o!r} needs a {o} model: pass latency=<callable archs -> values>")
        self.limits = normalise_limits(constraints)
        self.bounds: dict[str, CostBounds] = check_constraints(space, self.limits, self.costs, bounds)
        for name in self.objectives:
            if name != "accuracy" and name not in self.bounds:
                self.bounds[name] = cost_bounds(space, name, self.costs[name])
        self.metrics = tuple(m for m in COST_METRICS if m in self.costs)
        self.skip_infeasible = skip_infeasible
        self.max_evaluations = max_evaluations
        super().__init__(n_var=space.num_layers, n_obj=len(self.objectives), n_ieq_constr=len(self.limits),
                         xl=np.zeros(space.num_layers, dtype=np.int64), xu=space.num_choices - 1,
                         vtype=int, elementwise=False)
        self.reset()

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget every arch (a new search); the evaluator keeps its own cache."""
        self.archive = ArchArchive(self.metrics)
        self.generation = 0

    @property
    def n_evaluated(self) -> int:
        return self.archive.n_evaluated

    @property
    def budget_left(self) -> float:
        if self.max_evaluations is None:
            return float("inf")
        return max(0, self.max_evaluations - self.archive.n_evaluated)

    # ------------------------------------------------------------ helpers
    def canonical(self, X: np.ndarray) -> np.ndarray:
        """Round, clip to the bounds and map to canonical genomes."""
        g = np.rint(np.asarray(X, dtype=np.float64)).astype(np.int64)
        g = np.clip(g, 0, self.space.num_choices - 1)
        return self.space.canonical_batch(g)

    def cost_values(self, genomes: np.ndarray) -> dict[str, np.ndarray]:
        return {m: evaluate_cost(self.costs[m], genomes) for m in self.metrics}

    def constraint_values(self, costs: Mapping[str, np.ndarray]) -> np.ndarray:
        """``G`` of shape ``(n, n_constraints)``: ``value / limit - 1`` (<= 0 is feasible)."""
        n = len(next(iter(costs.values()))) if costs else 0
        cols = [costs[name] / limit - 1.0 for name, limit in self.limits.items()]
        return np.column_stack(cols) if cols else np.zeros((n, 0))

    def feasible(self, genomes: np.ndarray) -> np.ndarray:
        """Which genomes meet every constraint (costs only, no evaluation)."""
        G = self.constraint_values(self.cost_values(np.asarray(genomes, dtype=np.int64)))
        return np.all(G <= 0, axis=1)

    def objective_matrix(self, accuracy: np.ndarray, costs: Mapping[str, np.ndarray]) -> np.ndarray:
        cols = [-np.asarray(accuracy, dtype=np.float64) if o == "accuracy" else costs[o] for o in self.objectives]
        return np.column_stack(cols)

    # ------------------------------------------------------------ evaluate
    def _evaluate(self, X, out, *args, **kwargs):
        self.generation += 1
        genomes = self.canonical(X)
        costs = self.cost_values(genomes)
        G = self.constraint_values(costs)
        feasible = np.all(G <= 0, axis=1)
        archs = [str(Arch(g)) for g in genomes]
        pending: dict[str, np.ndarray] = {}
        for i, key in enumerate(archs):
            row = self.archive.get(key)
            if row is None:
                row = self.archive.add(genomes[i], {m: costs[m][i] for m in self.metrics},
                                       bool(feasible[i]), self.generation)
            wanted = feasible[i] or not self.skip_infeasible
            if wanted and not row["evaluated"] and key not in pending:
                pending[key] = genomes[i]
        if pending:
            self._evaluate_accuracy(pending)
        accuracy = np.array([self.archive.get(a)["accuracy"] for a in archs], dtype=np.float64)
        accuracy = np.where(np.isnan(accuracy), UNEVALUATED_ACCURACY, accuracy)
        out["F"] = self.objective_matrix(accuracy, costs)
        if self.n_ieq_constr:
            out["G"] = G

    def _evaluate_accuracy(self, pending: Mapping[str, np.ndarray]) -> None:
        keys = list(pending)
        if self.max_evaluations is not None:
            keys = keys[: int(self.budget_left)]
            if len(keys) < len(pending):
                logger.debug("evaluation budget %d reached: %d archs left unevaluated",
                             self.max_evaluations, len(pending) - len(keys))
        if not keys:
            return
        frame = self.evaluator.evaluate([pending[k] for k in keys])
        if len(frame) != len(keys):
            raise RuntimeError(f"evaluator returned {len(frame)} rows for {len(keys)} archs")
        returned = frame["arch"].astype(str).tolist()
        if returned != keys:
            bad = next(i for i, (a, b) in enumerate(zip(returned, keys)) if a != b)
            raise RuntimeError(f"evaluator returned arch {returned[bad]!r} for canonical arch {keys[bad]!r}: "
                               "an evaluator must answer in input order with canonical arch strings")
        cached = frame["cached"].to_numpy(dtype=bool) if "cached" in frame else np.zeros(len(keys), bool)
        for key, acc, hit in zip(keys, frame["accuracy"].to_numpy(dtype=np.float64), cached):
            self.archive.set_accuracy(key, acc, hit)
