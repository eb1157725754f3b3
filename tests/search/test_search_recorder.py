import numpy as np
import pandas as pd
import pytest

from oneshot.search import HypervolumeMeter, NASProblem, run_search
from oneshot.search.recorder import best_feasible


def _frame(rows):
    return pd.DataFrame([{"arch": a, "accuracy": acc, "flops": f, "params": p, "latency": lat, "feasible": feas,
                          "evaluated": True} for a, acc, f, p, lat, feas in rows])


def test_accuracy_tie_goes_to_the_cheapest_arch():
    # the audit's case: the first-evaluated arch of a tie is the dominated one
    frame = _frame([("0101343121", 35.33, 5.49e6, 2.0e5, 3.0, True),
                    ("0101343021", 35.33, 5.38e6, 2.0e5, 3.1, True),
                    ("9999999999", 36.00, 5.00e6, 1.0e5, 1.0, False),  # infeasible
                    ("0000000000", 30.00, 1.00e6, 1.0e5, 1.0, True)])
    assert best_feasible(frame)["arch"] == "0101343021"
    # the cost objectives of the search decide first
    assert best_feasible(frame, ("accuracy", "latency"))["arch"] == "0101343121"


class _ConstantEvaluator:
    """Every arch ties: the best arch must be the cheapest evaluated one, which is on the front."""

    def __init__(self, space):
        self.space = space

    def evaluate(self, archs):
        keys = [str(self.space.canonical(self.space.parse(list(a)))) for a in archs]
        return pd.DataFrame({"arch": keys, "accuracy": 50.0, "cached": False})


def test_search_best_on_a_tie_is_on_the_front(nbm_space):
    problem = NASProblem(nbm_space, _ConstantEvaluator(nbm_space))
    result = run_search(problem, pop_size=8, generations=2, seed=1)  # its first arch is not the cheapest
    done = result.archive[result.archive["evaluated"]]
    assert done["accuracy"].nunique() == 1 and len(done) > 1
    assert done["flops"].iloc[0] > done["flops"].min()
    assert result.best["flops"] == done["flops"].min()
    assert result.best["arch"] in result.pareto_archs


def test_history_states_its_normalisation_and_matches_the_shared_meter(nbm_space, make_synthetic, tmp_path):
    evaluator = make_synthetic(nbm_space)
    evaluator.accuracy_range = (40.0, 60.0)  # an evaluator that knows its range (as a ground-truth table does)
    problem = NASProblem(nbm_space, evaluator)
    result = run_search(problem, pop_size=8, generations=3, seed=0, out_dir=tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")  # plain pandas, no options
    meter = HypervolumeMeter.for_problem(problem)
    assert meter.accuracy_bounds == (40.0, 60.0)
    assert history["hypervolume"].iloc[-1] == pytest.approx(meter.of_frame(result.archive), abs=1e-12)
    lo, hi = problem.bounds["flops"].low, problem.bounds["flops"].high
    assert set(history["hypervolume_normalisation"]) == {
        f"accuracy 40..60 % -> 1..0; flops {lo:.6g}..{hi:.6g} -> 0..1; reference point 1"}
    # an evaluator without a declared range is normalised over 0..100 %
    plain = NASProblem(nbm_space, make_synthetic(nbm_space))
    assert HypervolumeMeter.for_problem(plain).accuracy_bounds == (0.0, 100.0)
    assert not np.isclose(HypervolumeMeter.for_problem(plain).of_frame(result.archive),
                          history["hypervolume"].iloc[-1])
