import numpy as np
import pandas as pd
import pytest

from oneshot.search import NASProblem, run_search
from oneshot.search.algorithms.controller import probability_columns


@pytest.mark.parametrize("policy", ["independent", "lstm"])
def test_trajectories_are_written_and_are_distributions(nbm_space, make_synthetic, tmp_path, policy):
    problem = NASProblem(nbm_space, make_synthetic(nbm_space), constraints={"flops_max": 40e6})
    result = run_search(problem, "reinforce", seed=0, generations=12, out_dir=tmp_path, policy=policy)
    frame = pd.read_csv(tmp_path / "controller.csv")
    assert (tmp_path / "controller.png").is_file()
    assert list(frame["update"]) == list(range(13))  # the initial policy, then one row per update
    probs = frame[probability_columns(nbm_space.num_choices)].to_numpy().reshape(len(frame), 8, 3)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs[0], 1 / 3, atol=0.02 if policy == "lstm" else 1e-6)  # starts uniform
    assert not np.allclose(probs[-1], probs[0])  # it learned something
    archive = result.archive
    assert archive["feasible"].all()  # infeasible samples are rejected before they reach the problem


def test_soft_reward_needs_a_target(nbm_space, synthetic):
    with pytest.raises(ValueError, match="positive target"):
        run_search(NASProblem(nbm_space, synthetic), "reinforce", reward="soft")
    result = run_search(NASProblem(nbm_space, synthetic), "reinforce", reward="soft", target=30e6, w=-0.5,
                        generations=5)
    assert result.archive["evaluated"].sum() > 0


def test_soft_reward_moves_towards_cheaper_archs(nbm_space, make_synthetic):
    def mean_flops(**kw):
        problem = NASProblem(nbm_space, make_synthetic(nbm_space))
        result = run_search(problem, "reinforce", seed=0, generations=40, patience=None, **kw)
        return result.archive.tail(40)["flops"].mean()

    assert mean_flops(reward="soft", target=20e6, w=-2.0) < mean_flops(reward="accuracy")
