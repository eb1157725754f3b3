import os

import numpy as np
import pandas as pd
import pytest

from oneshot.search import NASProblem, run_search
from oneshot.space import CostModel


def _run(space, evaluator, tmp_path=None, **kwargs):
    problem = NASProblem(space, evaluator, constraints=kwargs.pop("constraints", None))
    args = dict(pop_size=16, generations=6, seed=0)
    args.update(kwargs)
    return problem, run_search(problem, out_dir=tmp_path, **args)


@pytest.mark.parametrize("algorithm", ["nsga2", "random"])
def test_pareto_archs_meet_the_constraint(nbm_space, synthetic, tmp_path, algorithm):
    cap = 30e6
    problem, result = _run(nbm_space, synthetic, tmp_path, algorithm=algorithm, constraints={"flops_max": cap})
    pareto = pd.read_csv(tmp_path / "pareto.csv", dtype={"arch": str})
    assert len(pareto) > 0 and pareto["feasible"].all()
    flops = CostModel(nbm_space).flops([nbm_space.parse(a) for a in pareto["arch"]])
    assert np.all(flops <= cap)
    np.testing.assert_allclose(pareto["flops"], flops)
    best = result.best
    assert best is not None and best["flops"] <= cap
    assert str(result.best_arch) == best["arch"] == pareto.loc[pareto["accuracy"].idxmax(), "arch"]
    # infeasible archs were proposed (the population leaves the region) but never evaluated
    frame = result.archive
    assert not frame.loc[~frame["feasible"], "evaluated"].any()


def test_files_and_history(nbm_space, synthetic, tmp_path):
    seen = []
    _, result = _run(nbm_space, synthetic, tmp_path, constraints={"flops_max": 40e6}, callback=seen.append)
    for name in ("history.csv", "pareto.csv", "pareto.png", "all_evaluated.csv"):
        assert (tmp_path / name).is_file(), name
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temp files
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "history.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["generation"]) == list(range(1, 7))
    assert [row["generation"] for row in seen] == list(range(1, 7))
    assert history["evaluations"].is_monotonic_increasing
    assert history["hypervolume"].is_monotonic_increasing  # the archive only grows
    assert history["hypervolume"].iloc[-1] > 0
    assert ((history["feasible_fraction"] >= 0) & (history["feasible_fraction"] <= 1)).all()
    assert (history["cache_hit_rate"] == 0).all()  # the synthetic evaluator never caches
    assert history["evaluations"].iloc[-1] == result.archive["evaluated"].sum()
    all_eval = pd.read_csv(tmp_path / "all_evaluated.csv", dtype={"arch": str})
    assert len(all_eval) == len(result.archive)
    pareto = pd.read_csv(tmp_path / "pareto.csv")
    assert list(pareto.columns) == ["arch", "accuracy", "flops", "params", "feasible"]


@pytest.mark.parametrize("algorithm", ["nsga2", "random"])
def test_same_seed_same_history(nbm_space, make_synthetic, algorithm):
    runs = [_run(nbm_space, make_synthetic(nbm_space), algorithm=algorithm, seed=s)[1] for s in (3, 3, 4)]
    pd.testing.assert_frame_equal(runs[0].history, runs[1].history)
    pd.testing.assert_frame_equal(runs[0].archive, runs[1].archive)
    assert list(runs[0].archive["arch"]) != list(runs[2].archive["arch"])


@pytest.mark.parametrize("algorithm", ["nsga2", "random"])
def test_no_arch_is_evaluated_twice(nbm_space, synthetic, algorithm):
    problem, result = _run(nbm_space, synthetic, algorithm=algorithm, pop_size=40, generations=15)
    assert max(synthetic.calls.values()) == 1
    assert sum(synthetic.calls.values()) == problem.n_evaluated == result.archive["evaluated"].sum()
    archs = result.archive["arch"]
    assert archs.is_unique
    assert all(nbm_space.is_canonical(nbm_space.parse(a)) for a in archs)
    # every generation after the first brings pop_size new networks (duplicates eliminated)
    assert (result.history["proposed"].diff().dropna() == 40).all()


def test_budget_is_exact(nbm_space, synthetic):
    problem, result = _run(nbm_space, synthetic, pop_size=30, generations=50, max_evaluations=100)
    assert problem.n_evaluated == 100 == len(synthetic.calls)
    assert result.history["evaluations"].iloc[-1] == 100
    assert len(result.history) == 4  # 30, 60, 90, then 10 of the fourth generation


def test_small_space_is_exhausted_cleanly(three_layer_space, make_synthetic):
    evaluator = make_synthetic(three_layer_space)
    for algorithm in ("nsga2", "random"):
        evaluator.calls.clear()
        problem = NASProblem(three_layer_space, evaluator)
        result = run_search(problem, algorithm, pop_size=8, generations=20, seed=1)
        assert len(result.archive) <= 21 and max(evaluator.calls.values()) == 1
        assert len(result.pareto) >= 1


def test_bad_arguments(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    with pytest.raises(ValueError, match="unknown search algorithm"):
        run_search(problem, "annealing")
    with pytest.raises(ValueError, match="pop_size"):
        run_search(problem, pop_size=0)
    with pytest.raises(ValueError, match="max_evaluations"):
        run_search(problem, max_evaluations=0)
    with pytest.raises(ValueError, match=r"search.options.mutation_prob=5 is invalid: it must be a probability"):
        run_search(problem, mutation_prob=5)
    with pytest.raises(ValueError, match=r"search.options.crossover_prob=-0.1 is invalid"):
        run_search(problem, crossover_prob=-0.1)


def test_latency_objective_end_to_end(nbm_space, synthetic, tmp_path):
    table = np.linspace(0.1, 2.4, 24).reshape(8, 3)

    def latency(genomes):
        return 0.5 + table[np.arange(8), np.asarray(genomes)].sum(axis=1)

    problem = NASProblem(nbm_space, synthetic, objectives=("accuracy", "latency"),
                         constraints={"latency_max": 10.5}, latency=latency)
    result = run_search(problem, pop_size=16, generations=5, seed=0, out_dir=tmp_path)
    assert len(result.pareto) and (result.pareto["latency"] <= 10.5).all()
    assert "latency" in pd.read_csv(tmp_path / "pareto.csv").columns


@pytest.mark.parametrize("algorithm", ["nsga2", "random"])
def test_patience_stops_when_nothing_new_is_feasible(nbm_space, synthetic, algorithm):
    # only 22 networks meet 20M FLOPs: once they are evaluated nothing new can be
    problem = NASProblem(nbm_space, synthetic, constraints={"flops_max": 20e6})
    result = run_search(problem, algorithm, pop_size=20, generations=200, seed=0, patience=5)
    history = result.history
    assert problem.n_evaluated <= 22
    assert len(history) < 200
    assert (history["evaluations"].iloc[-6:] == history["evaluations"].iloc[-1]).all()
