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


def test_zero_cost_picks_score_only_archs_under_the_largest_cap(tiny_space, table, monkeypatch):
    from types import SimpleNamespace

    from oneshot.evaluate import zero_cost
    from oneshot.evaluate.rank_options import RankOptions
    from oneshot.space.arch import Arch
    from oneshot.workflows.rank import _picks

    flops = dict(zip(table["arch"], table["flops"]))
    scored = []

    def fake_scores(space, data, archs, proxies, **_):  # scores -FLOPs: the pick is the cheapest feasible arch
        scored.extend(str(a) for a in archs)
        return {p: np.array([-flops[str(a)] for a in archs]) for p in proxies}

    monkeypatch.setattr(zero_cost, "zero_cost_scores", fake_scores)
    caps = [float(np.quantile(table["flops"], 0.3)), float(np.quantile(table["flops"], 0.6))]
    truth = SimpleNamespace(known=lambda: [Arch.from_string(a) for a in table["arch"]],
                            accuracy=lambda archs: np.array([dict(zip(table["arch"], table["accuracy"]))[str(a)]
                                                             for a in archs]))
    evaluator = SimpleNamespace(space=tiny_space, data=None, cache=None, device="cpu", progress=False)
    opts = RankOptions(zero_cost=["naswot"], zero_cost_picks=True, caps=caps)
    picks = _picks(opts, truth, evaluator, {"naswot": None})
    assert scored and max(flops[a] for a in scored) <= caps[1] < table["flops"].max()
    assert len(scored) == int((table["flops"] <= caps[1]).sum())
    naswot = picks[picks["predictor"] == "naswot"].set_index("cap")
    assert naswot.loc[caps[0], "flops"] == table["flops"].min()
    flops_pick = picks[picks["predictor"] == "flops"].set_index("cap")
    assert (flops_pick["flops"] <= flops_pick.index).all() and (flops_pick["flops"] > table["flops"].min()).all()


def test_fused_search_pick_reranks_the_archs_the_search_evaluated(tiny_space, table):
    caps = [8e5]
    truth = dict(zip(table["arch"], table["accuracy"]))
    flat = TableEvaluator(tiny_space, {a: 0.0 for a in truth})  # every arch ties: the fused rank is the proxy's
    picks = rc.search_picks(tiny_space, flat, table, caps, budget=len(table), seeds=[0],
                            fuse=("oracle", lambda archs: np.array([truth[a] for a in archs])))
    by = picks.set_index("predictor")
    assert by.loc["fused_oracle", "regret"] == 0.0  # the search saw every network; the proxy knows the truth
    assert by.loc["supernet", "regret"] > 0  # its tie goes to the cheapest arch
    assert by.loc["fused_oracle", "flops"] <= caps[0] and 0 <= by.loc["fused_oracle", "score"] <= 1


def test_proxy_scorer_serves_cost_and_zero_cost_proxies(tiny_space, table, monkeypatch):
    from types import SimpleNamespace

    from oneshot.evaluate import zero_cost
    from oneshot.evaluate.rank_options import RankOptions
    from oneshot.workflows.rank import _proxy_scorer

    asked = []
    monkeypatch.setattr(zero_cost, "zero_cost_scores", lambda space, data, archs, proxies, **_: (
        asked.append(list(proxies)) or {p: np.arange(len(archs), dtype=float) for p in proxies}))
    evaluator = SimpleNamespace(space=tiny_space, data=None, cache=None, device="cpu", progress=False)
    archs = table["arch"].tolist()[:5]
    flops = _proxy_scorer(RankOptions(fuse="flops"), evaluator)(archs)
    assert list(flops) == list(table["flops"][:5]) and not asked
    naswot = _proxy_scorer(RankOptions(fuse="naswot", zero_cost=["naswot", "snip"]), evaluator)(archs)
    assert list(naswot) == [0, 1, 2, 3, 4] and asked == [["naswot"]]  # only the fused proxy is scored
