import numpy as np

from oneshot.search import NASProblem
from oneshot.search.operators import CanonicalRepair, RandomResetMutation, make_crossover, sample_distinct
from pymoo.core.population import Population

import pytest


def test_random_reset_mutation(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(500, 8))
    Y = RandomResetMutation(prob_var=0.5)._do(problem, X.copy(), random_state=np.random.default_rng(1))
    assert Y.dtype.kind == "i" and Y.min() >= 0 and Y.max() <= 2
    changed = Y != X
    assert 0.4 < changed.mean() < 0.6  # about prob_var of the genes are reset, each to another value
    Z = RandomResetMutation(prob_var=0.0, at_least_one=True)._do(problem, X.copy(),
                                                                random_state=np.random.default_rng(2))
    assert ((Z != X).sum(axis=1) == 1).all()


def test_canonical_repair(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    pop = Population.new("X", np.array([[1, 1, 1, 0, 2, 1, 0, 2]]))
    out = CanonicalRepair().do(problem, pop)
    assert out.get("X").tolist() == [[1, 1, 1, 2, 0, 1, 2, 0]]


def test_sample_distinct_feasible_first(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic, constraints={"flops_max": 20e6})
    X = sample_distinct(problem, 60, np.random.default_rng(0))
    assert len(X) == 60 and len({tuple(x) for x in X}) == 60
    assert all(nbm_space.is_canonical(x) for x in X)
    feasible = problem.feasible(X)
    # only 22 networks meet 20M FLOPs; they come first, the rest are the least violating
    assert feasible[: feasible.sum()].all() and 10 <= feasible.sum() <= 22


def test_make_crossover():
    for name in ("uniform", "one_point", "two_point"):
        assert make_crossover(name).n_parents == 2
    with pytest.raises(ValueError, match="unknown crossover"):
        make_crossover("sbx")
