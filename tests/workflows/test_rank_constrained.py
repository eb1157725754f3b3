"""Pick regret by NSGA-II over an evaluator, and the evaluator=zero_cost config path."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from oneshot import build
from oneshot.config import register_configs
from oneshot.evaluate.ranking import proxy_scores
from oneshot.evaluate.zero_cost import ZeroCostEvaluator
from oneshot.paths import conf_dir
from oneshot.workflows import rank_constrained as rc

register_configs()


class TableEvaluator:
    """Answers from a table (arch -> accuracy) plus an offset, like a supernet that is off by a constant."""

    def __init__(self, space, table: dict, offset: float = 0.0):
        self.space, self.table, self.offset = space, table, offset

    def evaluate(self, archs):
        keys = [str(self.space.canonical(a)) for a in archs]
        return pd.DataFrame({"arch": keys, "accuracy": [self.table[k] + self.offset for k in keys],
                             "cached": [False] * len(keys)})


@pytest.fixture
def table(tiny_space):
    archs = tiny_space.canonical_archs()
    scores = proxy_scores(tiny_space, archs)
    acc = 50 + 40 * scores["flops"] / scores["flops"].max() + np.random.default_rng(0).normal(0, 2, len(archs))
    return rc.table_frame(tiny_space, archs, acc)


def test_search_picks_with_the_truth_as_evaluator_have_zero_regret(tiny_space, table):
    caps = [4e5, 8e5]
    evaluator = TableEvaluator(tiny_space, dict(zip(table["arch"], table["accuracy"])), offset=-10)
    # a budget above the number of networks: NSGA-II sees every feasible one and picks the true best
    picks = rc.search_picks(tiny_space, evaluator, table, caps, budget=len(table), seeds=[0, 1])
    assert list(picks["seed"]) == [0, 1, 0, 1] and (picks["regret"].abs() < 1e-12).all()
    assert (picks["flops"] <= picks["cap"]).all() and (picks["score"] == picks["accuracy"] - 10).all()
    small = rc.search_picks(tiny_space, evaluator, table, caps[:1], budget=5, seeds=[0])
    assert small["evaluated"].iloc[0] <= 5 and small["regret"].iloc[0] >= 0
    summary = rc.pick_summary(pd.concat([picks, rc.proxy_picks(table, ["flops", "non_identity"], caps)]))
    assert summary["supernet"]["0.4M"] == {"regret": 0.0, "per_seed": [0.0, 0.0]}
    assert summary["flops"]["0.8M"]["regret"] >= 0 and "per_seed" not in summary["flops"]["0.8M"]
    assert summary["random"]["0.4M"]["regret"] > 0


def test_zero_cost_evaluator_from_config(tiny_space, tiny_data, tmp_path):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("search", ["evaluator=zero_cost", "evaluator.proxy=snip", "evaluator.batch_size=8",
                                 f"evaluator.cache={tmp_path}/c.sqlite", "runtime.device=cpu",
                                 "runtime.progress=false"])
    evaluator = build.zero_cost_evaluator(cfg, tiny_space, tiny_data)
    assert isinstance(evaluator, ZeroCostEvaluator) and evaluator.settings.proxy == "snip"
    assert evaluator.settings.batch_size == 8 and evaluator.settings.split == "train"
    frame = evaluator.evaluate([[1, 0, 2, 0, 0]])
    assert np.isfinite(frame["accuracy"]).all() and (tmp_path / "c.sqlite").is_file()
