"""Constrained-search metrics on synthetic rankings with known answers, and the NAS-Bench-Macro pick check."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from oneshot.evaluate.constrained import (band_sample, best_under_cap, constrained_gains, constrained_taus, flops_band,
                                          group_tau, group_tau_stats, paired_group_gain, pick_regrets, proxy_pick,
                                          random_pick_regret)
from oneshot.evaluate.ranking import fuse_ranks, non_identity_layers, stratified_sample
from oneshot.space.costs import CostModel


def test_group_tau_weights_groups_by_size_and_handles_degenerate_groups():
    truth = np.array([1, 2, 3, 4, 1, 2, 5, 5, 7])
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3])
    # group 0 (4 archs) perfectly ordered, group 1 (2 archs) reversed, group 2 constant truth: left out,
    # group 3 a single arch: left out  -> (4 * 1 + 2 * -1) / 6
    pred = np.array([1, 2, 3, 4, 9, 8, 0, 1, 0])
    assert group_tau(pred, truth, groups) == pytest.approx(2 / 6)
    # a predictor constant inside every group carries no information: 0, not NaN
    assert group_tau(groups, truth, groups) == 0
    # negative labels are left out; no counted group -> NaN
    assert group_tau(pred, truth, np.where(groups == 0, 0, -1)) == pytest.approx(1)
    assert np.isnan(group_tau(pred, truth, np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])))


def test_group_tau_matches_scipy_tau_b_with_ties():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=40)
    pred = np.round(truth + rng.normal(scale=0.5, size=40), 0)  # many ties
    assert group_tau(pred, truth, np.zeros(40)) == pytest.approx(stats.kendalltau(pred, truth).statistic)


def test_group_tau_bootstrap_and_paired_gain():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=80)
    depth = rng.integers(3, 7, size=80)
    good = truth + rng.normal(scale=0.3, size=80)
    bad = truth + rng.normal(scale=3.0, size=80)
    s = group_tau_stats(good, truth, depth, resamples=200, seed=3)
    assert s["ci_low"] < s["tau"] < s["ci_high"] and s["n"] == 80 and s["groups"] == 4
    assert group_tau_stats(good, truth, depth, resamples=200, seed=3) == s  # seeded
    gain = paired_group_gain(good, bad, truth, depth, resamples=200, seed=3)
    assert gain["gain"] == pytest.approx(group_tau(good, truth, depth) - group_tau(bad, truth, depth))
    assert gain["ci_low"] > 0 and gain["p_not_better"] == 0
    same = paired_group_gain(good, good, truth, depth, resamples=50)
    assert same["gain"] == 0 and same["ci_low"] == 0 == same["ci_high"]


def test_flops_band_and_constrained_tables():
    flops = np.array([10, 16, 20, 24, 30, 31]) * 1e6
    assert flops_band(flops, 20e6).tolist() == [-1, 0, 0, -1, -1, -1]
    assert flops_band(flops, 30e6).tolist() == [-1, -1, -1, 0, 0, -1]
    truth = np.array([1, 2, 3, 4, 5, 6.0])
    depth = np.array([1, 1, 2, 2, 2, 3])
    scores = {"up": truth, "down": -truth}
    table = constrained_taus(scores, truth, depth, flops, caps=(20e6, 30e6), resamples=0)
    assert set(table["metric"]) == {"depth_group", "band_20M", "band_30M"}
    up = table[table.predictor == "up"].set_index("metric")
    assert up.loc["depth_group", "tau"] == 1 and up.loc["depth_group", "n"] == 5
    assert up.loc["band_20M", "tau"] == 1 and up.loc["band_20M", "n"] == 2
    gains = constrained_gains(scores, ["down"], truth, depth, flops, caps=(20e6,), resamples=0, predictors=["up"])
    assert gains.set_index("metric").loc["depth_group", "gain"] == 2
    bands_only = constrained_taus(scores, truth, None, flops, caps=(20e6,), resamples=0)
    assert set(bands_only["metric"]) == {"band_20M"}


def test_band_sample_tops_up_each_band_with_new_distinct_archs(tiny_space):
    flops_of = CostModel(tiny_space).flops
    everything = tiny_space.canonical_archs()
    all_flops = flops_of(everything)
    caps = [float(np.quantile(all_flops, q)) for q in (0.3, 0.9)]
    have = stratified_sample(tiny_space, 6, seed=1, strata=3)
    extra = band_sample(tiny_space, caps, 5, seed=1, have=have)
    assert len({str(a) for a in extra}) == len(extra) and not {str(a) for a in extra} & {str(a) for a in have}
    assert all(tiny_space.canonical(a) == a for a in extra)
    both, f_extra = have + extra, flops_of(extra)
    assert list(f_extra) == sorted(f_extra)
    for cap in caps:
        in_band = (flops_of(both) >= 0.8 * cap) & (flops_of(both) <= cap)
        available = int(((all_flops >= 0.8 * cap) & (all_flops <= cap)).sum())
        have_in_band = int((flops_band(flops_of(have), cap) == 0).sum())
        assert in_band.sum() == max(min(5, available), have_in_band)
    assert all(any(flops_band([f], c)[0] == 0 for c in caps) for f in f_extra)  # nothing outside the bands
    assert band_sample(tiny_space, caps, 5, seed=1, have=have) == extra  # seeded
    assert band_sample(tiny_space, caps, 0, seed=1, have=have) == []
    with pytest.raises(ValueError, match=">= 0"):
        band_sample(tiny_space, caps, -1)


def test_picks_and_regret_on_a_small_table():
    acc = np.array([70, 75, 80, 72, 90.0])
    flops = np.array([10, 20, 20, 15, 50.0])
    score = np.array([1, 3, 3, 2, 9.0])  # tie between archs 1 and 2 at the same FLOPs: the first wins
    assert best_under_cap(acc, flops, 20) == 80
    assert proxy_pick(score, flops, 20) == 1
    assert proxy_pick([1, 1, 1, 1, 1], flops, 20) == 1  # all tied: max FLOPs, then first
    assert random_pick_regret(acc, flops, 20) == pytest.approx(80 - np.mean([70, 75, 80, 72]))
    table = pick_regrets(list("abcde"), acc, flops, {"s": score}, caps=(20, 60))
    s20 = table[(table.predictor == "s") & (table.cap == 20)].iloc[0]
    assert s20["arch"] == "b" and s20["regret"] == 5 and s20["feasible"] == 4
    assert table[(table.predictor == "s") & (table.cap == 60)].iloc[0]["regret"] == 0
    with pytest.raises(ValueError, match="no arch has FLOPs"):
        proxy_pick(score, flops, 5)


def test_fuse_ranks_is_the_mean_normalised_rank():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [40.0, 30.0, 20.0, 10.0]
    assert fuse_ranks(a, b).tolist() == [0.5] * 4
    assert fuse_ranks(a, a).tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert fuse_ranks([1, 1, 2], [0, 0, 5]).tolist() == pytest.approx([0.25, 0.25, 1])  # ties averaged


def test_nas_bench_macro_free_proxy_picks(nas_bench_macro_json):
    """Issue 18's numbers: max non-identity layers (ties: max FLOPs) and max FLOPs over the whole table."""
    from oneshot.evaluate.nasbench import NasBenchMacroEvaluator
    from oneshot.space import CostModel

    bench = NasBenchMacroEvaluator(nas_bench_macro_json)
    table = bench.canonical_table()
    assert len(table) == 3969
    genomes = np.array([[int(c) for c in a] for a in table["arch"]])
    flops = CostModel(bench.space).flops(genomes)
    depth = non_identity_layers(bench.space, genomes)
    picks = pick_regrets(table["arch"].tolist(), table["accuracy"], flops, {"non_identity": depth, "flops": flops})
    regret = picks.pivot(index="predictor", columns="cap", values="regret").round(2)
    assert regret.loc["non_identity"].tolist() == [7.08, 0.43, 0.50, 0.44]
    assert regret.loc["flops"].tolist() == [7.08, 4.60, 0.50, 2.52]
    assert (regret.loc["random"] > regret.loc["non_identity"]).all()
