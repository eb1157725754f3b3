"""`run_search`: NSGA-II or random search over a :class:`NASProblem`, one call.

In the spirit of ``pymoo.optimize.minimize(problem, algorithm, termination)``:
the problem says what to optimise, ``algorithm`` names the method, and
``generations`` / ``max_evaluations`` end it. Both methods share the problem's
archive, so the budget -- distinct archs whose accuracy was evaluated -- means
the same for both.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymoo.algorithms.moo.nsga2 import NSGA2, binary_tournament
from pymoo.core.callback import Callback
from pymoo.core.termination import Termination
from pymoo.operators.selection.tournament import TournamentSelection
from pymoo.optimize import minimize

from ..space import Arch
from ..checks import SEARCH_RULES, check_settings
from .operators import (ArchiveDuplicateElimination, CanonicalRepair, FeasibleSampling, ImmigrantMating,
                        RandomResetMutation, make_crossover, sample_distinct)
from .pareto import HypervolumeMeter
from .problem import NASProblem
from .recorder import GenerationCallback, SearchRecorder, best_feasible

logger = logging.getLogger(__name__)

ALGORITHMS = ("nsga2", "random")

#: defaults tuned on NAS-Bench-Macro (benchmarks/search_quality.py)
#: (10 seeds, 1,000 evaluations: smaller populations win at such budgets; see the
#: ablation in benchmarks/results/search_quality_ablation.md). Larger spaces with
#: larger budgets may want a larger population.
DEFAULTS: dict[str, Any] = dict(pop_size=20, generations=50, crossover="two_point", crossover_prob=0.9,
                                mutation_prob_var=None, mutation_at_least_one=True, immigrants=True,
                                mating_retries=10, feasible_sampling=True, patience=10)


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


class _Budget(Termination):
    """Stop after ``generations`` generations, ``max_evaluations`` distinct evaluations,
    or ``patience`` generations without a new evaluation."""

    def __init__(self, problem: NASProblem, generations: int, max_evaluations: int | None,
                 patience: int | None):
        super().__init__()
        self.problem, self.generations = problem, generations
        self.max_evaluations, self.patience = max_evaluations, patience
        self.counts: list[int] = []

    def _update(self, algorithm) -> float:
        progress = algorithm.n_gen / self.generations
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


def run_search(problem: NASProblem, algorithm: str = "nsga2", *, pop_size: int = DEFAULTS["pop_size"],
               generations: int = DEFAULTS["generations"], seed: int = 0, max_evaluations: int | None = None,
               out_dir: "str | Path | None" = None, callback: GenerationCallback | None = None,
               progress: bool = False, accuracy_bounds: tuple[float, float] = (0.0, 100.0),
               crossover: str = DEFAULTS["crossover"], crossover_prob: float = DEFAULTS["crossover_prob"],
               mutation_prob_var: float | None = DEFAULTS["mutation_prob_var"],
               mutation_at_least_one: bool = DEFAULTS["mutation_at_least_one"],
               immigrants: bool = DEFAULTS["immigrants"], mating_retries: int = DEFAULTS["mating_retries"],
               feasible_sampling: bool = DEFAULTS["feasible_sampling"],
               patience: int | None = DEFAULTS["patience"]) -> SearchResult:
    """Search ``problem`` and write the run's files into ``out_dir`` (if given).

    Args:
        problem: a :class:`NASProblem` (its archive is reset: one problem, one run at a time).
        algorithm: ``"nsga2"`` or ``"random"`` (distinct uniformly random archs, those
            meeting the constraints first, ``pop_size`` per generation).
        pop_size / generations: population size and number of generations (the
            initial population is generation 1).
        seed: seeds everything random in the run; same seed, same history.
        max_evaluations: budget of distinct accuracy evaluations (``None``: no cap).
        patience: stop after this many generations in a row without a new evaluation
            (e.g. every feasible network has been evaluated); ``None``: never.
        out_dir: where history.csv, all_evaluated.csv, pareto.csv, pareto.png go.
        callback: called with each history row (a dict) after every generation.
        progress: show a tqdm bar over generations.
        accuracy_bounds: accuracy range (percent) the hypervolume normalises with.
        crossover / crossover_prob: NSGA-II crossover (``uniform``, ``one_point``,
            ``two_point``) and its probability per mating.
        mutation_prob_var / mutation_at_least_one: per-gene random-reset probability
            (default 1/layers); reset one gene when the draw reset none.
        immigrants / mating_retries: after ``mating_retries`` rounds of mating that
            could not fill the offspring with new archs, top up with random new ones.
        feasible_sampling: initial population meets the constraints first.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown search algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    check_settings(dict(pop_size=pop_size, generations=generations, max_evaluations=max_evaluations,
                        patience=patience, crossover_prob=crossover_prob, mutation_prob=mutation_prob_var),
                   SEARCH_RULES, "search.")
    problem.reset()
    problem.max_evaluations = max_evaluations
    meter = HypervolumeMeter(problem.objectives, problem.bounds, accuracy_bounds)
    recorder = SearchRecorder(problem, meter, out_dir, callback, total=generations, progress=progress,
                              desc=algorithm)
    logger.info("%s search: pop %d, %d generations, budget %s, seed %d, objectives %s, constraints %s",
                algorithm, pop_size, generations, max_evaluations, seed, list(problem.objectives), problem.limits)
    try:
        if algorithm == "nsga2":
            _run_nsga2(problem, recorder, pop_size, generations, seed, max_evaluations, patience, crossover,
                       crossover_prob, mutation_prob_var, mutation_at_least_one, immigrants, mating_retries,
                       feasible_sampling)
        else:
            _run_random(problem, recorder, pop_size, generations, seed, max_evaluations, patience)
    finally:
        frame, pareto = recorder.finish(title=f"{algorithm} on {problem.space.name}, seed {seed}")
    result = SearchResult(algorithm, seed, frame, pareto, recorder.history,
                          Path(out_dir) if out_dir is not None else None)
    best = result.best
    logger.info("%s done: %d archs evaluated, %d on the front, best feasible %s", algorithm,
                problem.n_evaluated, len(pareto),
                "none" if best is None else f"{best['arch']} ({best['accuracy']:.2f} %)")
    return result


def _run_nsga2(problem: NASProblem, recorder: SearchRecorder, pop_size: int, generations: int, seed: int,
               max_evaluations: int | None, patience: int | None, crossover: str, crossover_prob: float,
               mutation_prob_var: float | None, mutation_at_least_one: bool, immigrants: bool,
               mating_retries: int, feasible_sampling: bool) -> None:
    repair = CanonicalRepair()
    dedup = ArchiveDuplicateElimination(problem)
    mating = ImmigrantMating(TournamentSelection(func_comp=binary_tournament),
                             make_crossover(crossover, crossover_prob),
                             RandomResetMutation(prob_var=mutation_prob_var, at_least_one=mutation_at_least_one),
                             repair=repair, eliminate_duplicates=dedup, n_max_iterations=mating_retries,
                             immigrants=immigrants)
    algorithm = NSGA2(pop_size=pop_size, sampling=FeasibleSampling(feasible_first=feasible_sampling),
                      mating=mating, repair=repair, eliminate_duplicates=dedup)
    minimize(problem, algorithm, termination=_Budget(problem, generations, max_evaluations, patience),
             seed=seed, callback=_Record(recorder), verbose=False, copy_algorithm=False,
             copy_termination=False)


def _run_random(problem: NASProblem, recorder: SearchRecorder, pop_size: int, generations: int, seed: int,
                max_evaluations: int | None, patience: int | None) -> None:
    rng = np.random.default_rng(seed)
    for generation in range(1, generations + 1):
        X = sample_distinct(problem, pop_size, rng, feasible_first=True)
        if len(X) == 0:
            logger.info("random search: no new arch left to sample after %d generations", generation - 1)
            break
        problem.evaluate(X)
        recorder.record(generation)
        if max_evaluations is not None and problem.n_evaluated >= max_evaluations:
            break
        if _stalled([row["evaluations"] for row in recorder.rows], patience):
            logger.info("no new arch evaluated for %d generations: stopping", patience)
            break
