import logging

import numpy as np
import pytest

from oneshot.search import (ConstraintError, InfeasibleConstraintError, NASProblem, check_constraints,
                            cost_bounds, cost_functions)
from oneshot.space import CostModel


def test_infeasible_constraint_names_smallest_value(nbm_space, synthetic):
    lo, _ = CostModel(nbm_space).bounds("flops")
    with pytest.raises(InfeasibleConstraintError, match=r"smallest achievable flops is 7\.71328e\+06") as err:
        NASProblem(nbm_space, synthetic, constraints={"flops_max": 5e6})
    assert "00000000" in str(err.value)
    assert lo == 7713280
    assert not synthetic.calls  # nothing was evaluated


def test_wrong_unit_suggests_scale(nbm_space, synthetic):
    with pytest.raises(ConstraintError, match=r"did you mean flops_max=30e6\?"):
        NASProblem(nbm_space, synthetic, constraints={"flops_max": 30})
    with pytest.raises(ConstraintError, match=r"did you mean params_max=0\.5e6\?"):
        NASProblem(nbm_space, synthetic, constraints={"params_max": 0.5})


@pytest.mark.parametrize("limit", [0, -1.0])
def test_non_positive_limit(nbm_space, synthetic, limit):
    with pytest.raises(ConstraintError, match="must be > 0"):
        NASProblem(nbm_space, synthetic, constraints={"flops_max": limit})


def test_unknown_and_missing_models(nbm_space, synthetic):
    with pytest.raises(ConstraintError, match="unknown constraint"):
        NASProblem(nbm_space, synthetic, constraints={"energy_max": 1.0})
    with pytest.raises(ConstraintError, match="needs a latency model"):
        NASProblem(nbm_space, synthetic, constraints={"latency_max": 10.0})
    with pytest.raises(ConstraintError, match="not a number"):
        NASProblem(nbm_space, synthetic, constraints={"flops_max": "lots"})


def test_none_limit_means_no_constraint(nbm_space, synthetic):
    problem = NASProblem(nbm_space, synthetic, constraints={"flops_max": None, "params_max": None})
    assert problem.n_ieq_constr == 0 and problem.limits == {}


def test_latency_lut_min_over_layers(nbm_space):
    table = np.random.default_rng(1).uniform(0.1, 2.0, size=(8, 3))

    def lut(genomes):
        g = np.asarray(genomes)
        return 0.7 + table[np.arange(8), g].sum(axis=1)

    b = cost_bounds(nbm_space, "latency", lut)
    assert b.exact
    assert b.low == pytest.approx(0.7 + table.min(axis=1).sum())
    assert b.high == pytest.approx(0.7 + table.max(axis=1).sum())
    costs = {**cost_functions(nbm_space), "latency": lut}
    with pytest.raises(InfeasibleConstraintError, match="smallest achievable latency"):
        check_constraints(nbm_space, {"latency_max": b.low * 0.9}, costs)
    with pytest.raises(ConstraintError, match="did you mean latency_max=.*e3"):
        check_constraints(nbm_space, {"latency_max": b.low / 1000}, costs)
    assert "latency" in check_constraints(nbm_space, {"latency_max": b.low * 1.5}, costs)


def test_non_additive_cost_is_estimated(nbm_space, caplog):
    def quadratic(genomes):
        s = np.asarray(genomes).sum(axis=1)
        return 1.0 + s * s

    with caplog.at_level(logging.WARNING):
        b = cost_bounds(nbm_space, "latency", quadratic)
    assert not b.exact and "not a sum" in caplog.text
    assert b.low >= 1.0


def test_inactive_limit_warns(nbm_space, synthetic, caplog):
    with caplog.at_level(logging.WARNING):
        NASProblem(nbm_space, synthetic, constraints={"flops_max": 1e15})
    assert "inactive" in caplog.text
