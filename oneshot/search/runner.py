"""`run_search`: one ``minimize``-style driver for every registered search algorithm.

Like ``pymoo.optimize.minimize(problem, algorithm, termination)``: the problem says
what to optimise, a registered algorithm (:mod:`oneshot.search.algorithms`) how,
and the termination when to stop -- a budget of distinct accuracy evaluations
(the problem's archive counts them, whatever the algorithm proposes), a number of
generations (iterations of the algorithm), or ``patience`` generations without a
new evaluation. The recorder writes the run's files.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from pymoo.core.callback import Callback
from pymoo.core.termination import Termination
from pymoo.optimize import minimize

from ..space import Arch
from ..checks import SEARCH_RULES, check_settings
from .algorithms import AlgorithmSpec, algorithm_names, get_algorithm
from .pareto import HypervolumeMeter
from .problem import NASProblem
from .recorder import GenerationCallback, SearchRecorder, best_feasible

logger = logging.getLogger(__name__)


@dataclass
class SearchResult:
    """What a search found. ``archive``: every distinct arch proposed (evaluated or not)."""

    algorithm: str
    seed: int
    archive: pd.DataFrame
    pareto: pd.DataFrame
    history: pd.DataFrame
    out_dir: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> pd.Series | None:
        """Best feasible arch by accuracy (a row of ``archive``), or None."""
        return best_feasible(self.archive)

    @property
    def best_arch(self) -> Arch | None:
        best = self.best
        return None if best is None else Arch.from_string(str(best["arch"]))

    @property
    def pareto_archs(self) -> list[str]:
        return self.pareto["arch"].astype(str).tolist()


def _stalled(counts: list[int], patience: int | None) -> bool:
    """True when the last ``patience`` generations brought no new evaluation.

    ``counts``: distinct evaluations after each generation so far.
    """
    if patience is None or len(counts) <= patience:
        return False
    return counts[-1] == counts[-1 - patience]


class EvaluationBudget(Termination):
    """Stop after ``generations`` generations, ``max_evaluations`` distinct evaluations,
    or ``patience`` generations without a new evaluation (``None``: no such limit)."""

    def __init__(self, problem: NASProblem, generations: int | None, max_evaluations: int | None,
                 patience: int | None):
        super().__init__()
        self.problem, self.generations = problem, generations
        self.max_evaluations, self.patience = max_evaluations, patience
        self.counts: list[int] = []

    def _update(self, algorithm) -> float:
        progress = algorithm.n_gen / self.generations if self.generations else 0.0
        if self.max_evaluations:
            progress = max(progress, self.problem.n_evaluated / self.max_evaluations)
        self.counts.append(self.problem.n_evaluated)
        if _stalled(self.counts, self.patience):
            logger.info("no new arch evaluated for %d generations: stopping", self.patience)
            progress = 1.0
        return progress


class _Record(Callback):
    def __init__(self, recorder: SearchRecorder):
        super().__init__()
        self.recorder = recorder

    def notify(self, algorithm) -> None:
        self.recorder.record(algorithm.n_gen)


def _check(generations: int | None, max_evaluations: int | None, patience: int | None) -> None:
    if generations is not None and generations < 1:
        raise ValueError(f"generations must be >= 1 or None, got {generations}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 or None, got {patience}")
    if max_evaluations is not None and max_evaluations < 1:
        raise ValueError(f"max_evaluations must be >= 1 or None, got {max_evaluations}")
    if generations is None and max_evaluations is None:
        raise ValueError("set generations or max_evaluations (or both): a search needs an end")


def run_search(problem: NASProblem, algorithm: "str | AlgorithmSpec" = "nsga2",
               options: "Mapping[str, Any] | Any | None" = None, *, seed: int = 0,
               generations: int | None = 50, max_evaluations: int | None = None, patience: int | None = 10,
               out_dir: "str | Path | None" = None, callback: GenerationCallback | None = None,
               progress: bool = False, accuracy_bounds: tuple[float, float] | None = None,
               **option_overrides: Any) -> SearchResult:
    """Search ``problem`` with a registered algorithm and write the run's files into ``out_dir``.

    Args:
        problem: a :class:`NASProblem` (its archive is reset: one problem, one run at a time).
        algorithm: a registered name (:func:`algorithm_names`) or spec.
        options: the algorithm's options (its dataclass, or a mapping of its fields);
            ``option_overrides`` (e.g. ``pop_size=16``) replace single fields.
        seed: seeds everything random in the run; same seed, same history.
        generations: iterations of the algorithm (the first is generation 1); ``None``: no cap.
        max_evaluations: budget of distinct accuracy evaluations (``None``: no cap).
        patience: stop after this many generations in a row without a new evaluation
            (e.g. every feasible network has been evaluated); ``None``: never.
        out_dir: where history.csv, all_evaluated.csv, pareto.csv, pareto.png (and the
            algorithm's own files, e.g. the controller's probabilities) go.
        callback: called with each history row (a dict) after every generation.
        progress: show a tqdm bar over generations.
        accuracy_bounds: accuracy range (percent) the hypervolume normalises with
            (default: :func:`~oneshot.search.pareto.accuracy_bounds` of the evaluator).
    """
    spec = algorithm if isinstance(algorithm, AlgorithmSpec) else get_algorithm(algorithm)
    opts = spec.make_options(options, **option_overrides)
    _check(generations, max_evaluations, patience)
    check_settings(vars(opts), SEARCH_RULES, "search.options.")
    problem.reset()
    problem.max_evaluations = max_evaluations
    method = spec.build(problem, opts)
    meter = HypervolumeMeter.for_problem(problem, accuracy_bounds)
    recorder = SearchRecorder(problem, meter, out_dir, callback, total=generations, progress=progress,
                              desc=spec.name)
    logger.info("%s search: %s, %s generations, budget %s, seed %d, objectives %s, constraints %s",
                spec.name, opts, generations, max_evaluations, seed, list(problem.objectives), problem.limits)
    try:
        minimize(problem, method, termination=EvaluationBudget(problem, generations, max_evaluations, patience),
                 seed=seed, callback=_Record(recorder), verbose=False, copy_algorithm=False,
                 copy_termination=False)
    finally:
        frame, pareto = recorder.finish(title=f"{spec.name} on {problem.space.name}, seed {seed}")
    extra: dict = {}
    if out_dir is not None and hasattr(method, "write_files"):
        extra["files"] = method.write_files(Path(out_dir))
    if hasattr(method, "report"):
        extra.update(method.report())
    result = SearchResult(spec.name, seed, frame, pareto, recorder.history,
                          Path(out_dir) if out_dir is not None else None, extra)
    best = result.best
    logger.info("%s done: %d archs evaluated, %d on the front, best feasible %s", spec.name,
                problem.n_evaluated, len(pareto),
                "none" if best is None else f"{best['arch']} ({best['accuracy']:.2f} %)")
    return result


__all__ = ["EvaluationBudget", "SearchResult", "algorithm_names", "run_search"]
