"""Every registered algorithm: known optimum found, exact budget, same seed same run."""
import pandas as pd
import pytest

from oneshot.search import NASProblem, run_search
from oneshot.space import CostModel

BUDGET = {"nsga2": 300, "surrogate_nsga2": 120, "reinforce": 400}


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_finds_the_known_optimum_under_a_cap(nbm_space, additive, name):
    cap = 40e6
    flops = CostModel(nbm_space).flops
    best_arch, best_acc = additive.best(lambda g: flops(g) <= cap)
    problem = NASProblem(nbm_space, additive, constraints={"flops_max": cap})
    result = run_search(problem, name, seed=0, generations=None, max_evaluations=BUDGET[name], patience=40)
    assert result.best["arch"] == best_arch and result.best["accuracy"] == pytest.approx(best_acc)
    frame = result.archive
    assert not frame.loc[~frame["feasible"], "evaluated"].any()  # infeasible archs are never evaluated


def test_random_search_exhausts_a_small_space(three_layer_space, make_additive):
    evaluator = make_additive(three_layer_space)
    best_arch, _ = evaluator.best()
    result = run_search(NASProblem(three_layer_space, evaluator), "random", seed=0, pop_size=4, generations=20)
    assert result.best["arch"] == best_arch and max(evaluator.calls.values()) == 1


@pytest.mark.parametrize("name", ["nsga2", "random", "surrogate_nsga2", "reinforce"])
@pytest.mark.parametrize("budget", [37, 90])
def test_budget_is_exactly_n_distinct_evaluations(nbm_space, make_synthetic, name, budget):
    evaluator = make_synthetic(nbm_space)
    problem = NASProblem(nbm_space, evaluator)
    result = run_search(problem, name, seed=1, generations=None, max_evaluations=budget, patience=50)
    assert problem.n_evaluated == budget == len(evaluator.calls) == int(result.archive["evaluated"].sum())
    assert max(evaluator.calls.values()) == 1
    assert result.history["evaluations"].iloc[-1] == budget


@pytest.mark.parametrize("name", ["nsga2", "random", "surrogate_nsga2", "reinforce"])
def test_same_seed_same_run(nbm_space, make_synthetic, name):
    def run(seed):
        problem = NASProblem(nbm_space, make_synthetic(nbm_space), constraints={"flops_max": 50e6})
        return run_search(problem, name, seed=seed, generations=None, max_evaluations=70)

    a, b, c = run(5), run(5), run(6)
    pd.testing.assert_frame_equal(a.archive, b.archive)
    pd.testing.assert_frame_equal(a.history, b.history)
    assert list(a.archive["arch"]) != list(c.archive["arch"])


def test_a_search_needs_an_end(nbm_space, synthetic):
    with pytest.raises(ValueError, match="generations or max_evaluations"):
        run_search(NASProblem(nbm_space, synthetic), "random", generations=None, max_evaluations=None)
