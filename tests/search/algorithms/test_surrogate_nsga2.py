import itertools

import numpy as np
import pandas as pd
import pytest

from oneshot.search import NASProblem, run_search
from oneshot.search.algorithms.predictors import PredictorFit
from oneshot.search.algorithms.surrogate_nsga2 import (SurrogateNSGA2, SurrogateNSGA2Options, hypervolume_greedy,
                                                      neighbours)


def test_hypervolume_greedy_skips_dominated_and_fills_gaps():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    candidates = np.array([[0.5, 0.5],  # fills the gap: the largest gain
                           [0.9, 0.9],  # dominated by nothing, small gain
                           [1.0, 1.0],  # weakly dominated: never picked
                           [0.6, 0.6]])
    picked = hypervolume_greedy(front, candidates, 3)
    assert picked[0] == 0 and 2 not in picked
    assert hypervolume_greedy(front, candidates[[2]], 3) == []


def test_files_and_per_iteration_accounting(nbm_space, make_synthetic, tmp_path):
    problem = NASProblem(nbm_space, make_synthetic(nbm_space))
    result = run_search(problem, "surrogate_nsga2", seed=0, generations=4, max_evaluations=None, out_dir=tmp_path,
                        initial=30, per_iteration=6, inner_generations=5)
    history = result.history
    assert list(history["evaluations"]) == [30, 36, 42, 48]  # the initial design, then 6 per iteration
    log = pd.read_csv(tmp_path / "surrogate.csv")
    assert len(log) == 3 and set(log["predictor"]) <= {"ridge", "rbf", "gbr"}
    assert (log["selected"] == 6).all() and log["cv_tau"].between(-1, 1).all()


def test_all_of_an_iteration_can_go_to_local_refinement(nbm_space, make_synthetic):
    problem = NASProblem(nbm_space, make_synthetic(nbm_space))
    result = run_search(problem, "surrogate_nsga2", seed=0, generations=3, max_evaluations=None,
                        initial=30, per_iteration=5, exploit=5, inner_generations=3)
    assert list(result.history["evaluations"]) == [30, 35, 40]


def test_bad_options(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    with pytest.raises(ValueError, match="unknown predictor 'svm'"):
        run_search(problem, "surrogate_nsga2", predictors=["ridge", "svm"])
    with pytest.raises(ValueError, match="selection"):
        run_search(problem, "surrogate_nsga2", selection="best")
    with pytest.raises(ValueError, match="exploit_radius"):
        run_search(problem, "surrogate_nsga2", exploit_radius=0)


def test_neighbours_are_every_genome_within_the_radius():
    genome = np.array([0, 1, 2])
    near = neighbours(genome, [3, 3, 3], 2)
    distance = (near != genome).sum(axis=1)
    assert len(near) == 3 * 2 + 3 * 4 and len(np.unique(near, axis=0)) == len(near)
    assert set(distance) == {1, 2}
    assert len(neighbours(genome, [3, 3, 3], 1)) == 6


class _ExactAdditive:
    """The additive evaluator's accuracy as a predictor on one-hot features."""

    def __init__(self, evaluator):
        self.weights = evaluator.gain.reshape(-1)

    def predict(self, X):
        return 50.0 + X @ self.weights


def _within(genome, radius, space, problem):
    """Brute force: canonical feasible genomes 1..radius genes from ``genome`` (itself excluded)."""
    every = np.array(list(itertools.product(*[range(int(k)) for k in space.num_choices])))
    near = every[((every != genome).sum(axis=1) >= 1) & ((every != genome).sum(axis=1) <= radius)]
    near = np.unique(space.canonical_batch(near), axis=0)
    near = near[problem.feasible(near) & ~(near == genome).all(axis=1)]
    return {"".join(map(str, g)) for g in near}


def _exploit(problem, evaluator, **options):
    algorithm = SurrogateNSGA2(SurrogateNSGA2Options(**options))
    algorithm.problem = problem
    done = problem.archive.to_frame()
    done = done[done["evaluated"].astype(bool)]
    return algorithm._exploit(PredictorFit("exact", _ExactAdditive(evaluator)), done)


def test_exploit_picks_the_best_predicted_untried_neighbours_of_the_incumbent(nbm_space, make_additive):
    evaluator = make_additive(nbm_space, seed=3)
    problem = NASProblem(nbm_space, evaluator, constraints={"flops_max": 40e6})
    best, _ = evaluator.best(problem.feasible)
    best = np.array([int(c) for c in best])
    rng = np.random.default_rng(0)
    start = problem.canonical(rng.integers(0, 3, size=(40, nbm_space.num_layers)))
    problem.evaluate(start[problem.feasible(start)])
    done = problem.archive.to_frame()
    incumbent = problem.archive.genomes(done[done["feasible"].astype(bool)].nlargest(1, "accuracy"))[0]
    picked = _exploit(problem, evaluator, exploit=3, exploit_radius=2)
    keys = ["".join(map(str, g)) for g in picked]
    candidates = _within(incumbent, 2, nbm_space, problem) - set(done["arch"])
    ranked = sorted(candidates, key=lambda a: -evaluator.accuracy(np.array([[int(c) for c in a]]))[0])
    assert keys == ranked[:3]

    # the incumbent's neighbourhood spent: the next-best evaluated arch's neighbours come next
    problem.evaluate(np.array([best]))
    spent = np.array([[int(c) for c in a] for a in _within(best, 1, nbm_space, problem)])
    problem.evaluate(spent)
    done = problem.archive.to_frame()
    runner_up = problem.archive.genomes(done[done["feasible"].astype(bool)].nlargest(2, "accuracy"))[1]
    picked = _exploit(problem, evaluator, exploit=2, exploit_radius=1)
    assert len(picked) == 2
    assert {"".join(map(str, g)) for g in picked} <= _within(runner_up, 1, nbm_space, problem) - set(done["arch"])
    assert len(_exploit(problem, evaluator, exploit=0)) == 0
