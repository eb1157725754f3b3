import numpy as np
import pandas as pd
import pytest

from oneshot.search import NASProblem, run_search
from oneshot.search.algorithms.surrogate_nsga2 import hypervolume_greedy


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


def test_bad_options(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    with pytest.raises(ValueError, match="unknown predictor 'svm'"):
        run_search(problem, "surrogate_nsga2", predictors=["ridge", "svm"])
    with pytest.raises(ValueError, match="selection"):
        run_search(problem, "surrogate_nsga2", selection="best")
