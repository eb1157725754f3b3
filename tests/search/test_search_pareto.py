import numpy as np
import pandas as pd
import pytest

from oneshot.search import HypervolumeMeter, non_dominated, pareto_front


def test_non_dominated():
    F = np.array([[1, 5], [2, 2], [3, 3], [5, 1], [2, 2], [1, 6]])
    assert non_dominated(F).tolist() == [True, True, False, True, False, False]


def test_pareto_front_uses_evaluated_feasible_rows():
    frame = pd.DataFrame({"arch": list("abcd"), "accuracy": [90, 80, 95, 99], "flops": [10, 5, 20, 1],
                          "feasible": [True, True, True, False], "evaluated": [True, True, True, True]})
    front = pareto_front(frame, ("accuracy", "flops"))
    assert front["arch"].tolist() == ["b", "a", "c"]


def test_hypervolume_fixed_reference():
    meter = HypervolumeMeter(("accuracy", "flops"), {"flops": (0.0, 100.0)}, accuracy_bounds=(0.0, 100.0))
    # one point at 50 % accuracy, 50 flops: a quarter of the unit square
    assert meter(np.array([[-50.0, 50.0]])) == pytest.approx(0.25)
    assert meter(np.array([[-50.0, 50.0], [-20.0, 10.0]])) == pytest.approx(0.25 + 0.2 * 0.4)
    assert meter(np.zeros((0, 2))) == 0.0
    assert meter(np.array([[10.0, 50.0]])) == 0.0  # worse than the reference: nothing
