"""Stage two: search a frozen accuracy evaluator under hard cost constraints.

The CLI builds a :class:`NASProblem` and calls :func:`run_search` with a registered
algorithm (:mod:`.algorithms`); results are tables (``SearchResult``) and files
(history.csv, pareto.csv, pareto.png, all_evaluated.csv) in the run's output dir.
"""
from .algorithms import algorithm_names, get_algorithm
from .costs import (ConstraintError, CostBounds, InfeasibleConstraintError, check_constraints, cost_bounds,
                    cost_functions, normalise_limits)
from .export import export_subnet, load_subnet, subnet_config
from .pareto import HypervolumeMeter, non_dominated, pareto_front
from .problem import NASProblem
from .runner import SearchResult, run_search
from .sweep import summarize_sweep

__all__ = [
    "ConstraintError", "CostBounds", "HypervolumeMeter", "InfeasibleConstraintError",
    "NASProblem", "SearchResult", "algorithm_names", "check_constraints", "cost_bounds", "cost_functions",
    "export_subnet", "get_algorithm", "load_subnet", "non_dominated", "normalise_limits", "pareto_front", "run_search", "subnet_config",
    "summarize_sweep",
]
