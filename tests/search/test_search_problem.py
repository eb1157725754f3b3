import numpy as np
import pytest

from oneshot.search import ConstraintError, NASProblem
from oneshot.space import CostModel


def test_shapes_bounds_and_sign_convention(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic, constraints={"flops_max": 30e6})
    assert problem.n_var == nbm_space.num_layers and problem.n_obj == 2 and problem.n_ieq_constr == 1
    assert problem.vtype is int
    np.testing.assert_array_equal(problem.xl, 0)
    np.testing.assert_array_equal(problem.xu, nbm_space.num_choices - 1)
    X = np.array([[0] * 8, [2] * 8, [1, 0, 1, 1, 0, 1, 0, 0]])
    F, G = problem.evaluate(X, return_values_of=["F", "G"])
    assert F.shape == (3, 2) and G.shape == (3, 1)
    flops = CostModel(nbm_space).flops(X)
    np.testing.assert_allclose(G[:, 0], flops / 30e6 - 1)
    assert G[0, 0] < 0 < G[1, 0]  # smallest arch feasible, largest not
    np.testing.assert_allclose(F[:, 1], flops)
    # accuracy enters negated (pymoo minimises); the infeasible arch was not evaluated
    acc = synthetic.evaluate(X[[0, 2]])["accuracy"].to_numpy()
    np.testing.assert_allclose(-F[[0, 2], 0], acc)
    assert F[1, 0] == 0.0
    assert problem.archive.get("22222222")["evaluated"] is False


def test_evaluating_infeasible_when_asked(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic, constraints={"flops": 30e6}, skip_infeasible=False)
    F, G = problem.evaluate(np.array([[2] * 8]))
    assert F[0, 0] < 0 and G[0, 0] > 0
    assert problem.n_evaluated == 1


def test_objectives_params_and_latency(nbm_space, synthetic):
    calls = []

    def latency(genomes):
        calls.append(len(genomes))
        return 1.0 + np.asarray(genomes).sum(axis=1) * 0.5

    problem = NASProblem(nbm_space, synthetic, objectives=("accuracy", "params", "latency"),
                         constraints={"latency_max": 6.0}, latency=latency)
    F, G = problem.evaluate(np.array([[1] * 8, [0] * 8]), return_values_of=["F", "G"])
    assert F.shape == (2, 3)
    np.testing.assert_allclose(F[:, 2], [5.0, 1.0])
    np.testing.assert_allclose(G[:, 0], [5.0 / 6 - 1, 1.0 / 6 - 1])
    assert problem.bounds["latency"].low == pytest.approx(1.0)
    assert problem.bounds["latency"].high == pytest.approx(9.0)


def test_bad_objectives(nbm_space, synthetic):
    with pytest.raises(ConstraintError, match="accuracy"):
        NASProblem(nbm_space, synthetic, objectives=("flops", "params"))
    with pytest.raises(ConstraintError, match="one of"):
        NASProblem(nbm_space, synthetic, objectives=("accuracy", "energy"))
    with pytest.raises(ConstraintError, match="latency model"):
        NASProblem(nbm_space, synthetic, objectives=("accuracy", "latency"))


def test_evaluator_of_another_space_is_refused(nbm_space, three_layer_space, make_synthetic):
    with pytest.raises(ValueError, match="not the search space"):
        NASProblem(nbm_space, make_synthetic(three_layer_space))


def test_equivalent_genomes_are_one_arch(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic)
    # identity at layer 3 moves to layer 4: same network
    F = problem.evaluate(np.array([[1, 1, 1, 0, 2, 1, 1, 1], [1, 1, 1, 2, 0, 1, 1, 1]]))
    np.testing.assert_allclose(F[0], F[1])
    assert problem.n_evaluated == 1
    assert list(synthetic.calls) == ["11120111"]
