"""Ranking metrics, ground-truth sources and the `rank` workflow (tiny space, synthetic data)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from scipy import stats

from oneshot.build import rank_options
from oneshot.config import register_configs
from oneshot.data import load_synthetic
from oneshot.evaluate import ground_truth as gt
from oneshot.evaluate.constrained import flops_band, group_tau
from oneshot.evaluate.zero_cost import ZERO_COST_PROXIES
from oneshot.evaluate.ranking import (bootstrap_tau, fuse_ranks, paired_tau_gain, canonical_pool, kendall_tau, non_identity_layers,
                                      op_preference, precision_at_k, proxy_scores, ranking_metrics, regret_at_k,
                                      spearman_rho, stratified_sample, top_k_overlap)
from oneshot.paths import conf_dir
from oneshot.sampling import UniformSampler
from oneshot.space import CostModel, load_space
from oneshot.supernet import SuperNet
from oneshot.train import Trainer, TrainSettings
from oneshot.workflows.rank import rank

register_configs()



def make_cfg(app: str, *overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=app, overrides=list(overrides))


# ------------------------------------------------------------------ metrics
def test_perfect_and_reversed_rankings():
    truth = np.arange(20.0)
    m = ranking_metrics(truth * 2 + 1, truth, top_k=5, bootstrap=50)
    assert m["tau"] == pytest.approx(1) and m["rho"] == pytest.approx(1)
    assert m["top_k_overlap"] == 1 and m["precision_at_k"] == 1 and m["regret_at_k"] == 0
    r = ranking_metrics(-truth, truth, top_k=5, bootstrap=50)
    assert r["tau"] == pytest.approx(-1) and r["rho"] == pytest.approx(-1)
    assert r["top_k_overlap"] == 0 and r["regret_at_k"] == pytest.approx(15)


def test_metrics_match_scipy_with_ties():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=60)
    pred = np.round(truth + rng.normal(scale=0.7, size=60), 1)  # ties in the prediction
    assert kendall_tau(pred, truth) == pytest.approx(stats.kendalltau(pred, truth).statistic)
    assert spearman_rho(pred, truth) == pytest.approx(stats.spearmanr(pred, truth).statistic)
    assert np.isnan(spearman_rho(np.ones(5), np.arange(5.0)))


def test_top_k_known_values():
    truth = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    pred = [10, 1, 9, 8, 0, 0, 0, 0, 0, 0]  # top-3 by pred: archs 0, 2, 3; true top-3: 0, 1, 2
    assert top_k_overlap(pred, truth, 3) == pytest.approx(2 / 3)
    # relevant = best 40 % = archs 0..3: all of the predictor's top-3 are hits
    assert precision_at_k(pred, truth, 3, relevant=0.4) == 1
    assert regret_at_k(pred, truth, 1) == 0 and regret_at_k([0, 1, 0], [5, 3, 1], 1) == 2
    with pytest.raises(ValueError, match="top_k=11"):
        top_k_overlap(pred, truth, 11)
    with pytest.raises(ValueError, match="differ in length"):
        kendall_tau([1, 2], [1, 2, 3])


def test_bootstrap_ci_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=50)
    pred = truth + rng.normal(scale=1.0, size=50)
    tau = kendall_tau(pred, truth)
    lo, hi = bootstrap_tau(pred, truth, resamples=300, seed=7)
    assert lo < tau < hi and -1 <= lo and hi <= 1
    assert bootstrap_tau(pred, truth, resamples=300, seed=7) == (lo, hi)
    assert bootstrap_tau(pred, truth, resamples=300, seed=8) != (lo, hi)
    narrow = bootstrap_tau(pred, truth, resamples=300, confidence=0.5, seed=7)
    assert lo <= narrow[0] and narrow[1] <= hi


def test_paired_tau_gain_is_tighter_than_two_separate_intervals_and_signs_the_comparison():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=80)
    good = truth + rng.normal(scale=0.5, size=80)
    worse = good + np.random.default_rng(1).normal(scale=0.35, size=80)  # good's errors plus its own
    g = paired_tau_gain(good, worse, truth, resamples=400, seed=3)
    assert g["gain"] == pytest.approx(kendall_tau(good, truth) - kendall_tau(worse, truth))
    assert g["ci_low"] < g["gain"] < g["ci_high"]
    assert g["ci_low"] > 0 and g["p_not_better"] < 0.025  # clearly better, and the test sees it
    (lo_a, hi_a), (_, hi_b) = bootstrap_tau(good, truth, 400, seed=3), bootstrap_tau(worse, truth, 400, seed=3)
    assert lo_a < hi_b  # the separate intervals overlap: only the paired one separates them
    assert g["ci_high"] - g["ci_low"] < (hi_a - lo_a)
    swapped = paired_tau_gain(worse, good, truth, resamples=400, seed=3)
    assert swapped["gain"] == pytest.approx(-g["gain"]) and swapped["p_not_better"] > 0.975
    same = paired_tau_gain(good, good, truth, resamples=50)
    assert same["gain"] == 0 and same["p_not_better"] == 1


# ------------------------------------------------------------------ sample and proxies
def test_stratified_sample_is_canonical_distinct_seeded_and_spread_over_flops():
    space = load_space("nas_bench_macro")
    a = stratified_sample(space, 40, seed=1, strata=8)
    assert len(a) == 40 and len(set(a)) == 40
    assert all(space.is_canonical(x) for x in a)
    assert a == stratified_sample(space, 40, seed=1, strata=8)
    assert a != stratified_sample(space, 40, seed=2, strata=8)
    pool = canonical_pool(space)
    assert len(pool) == 3969  # every distinct network of NAS-Bench-Macro
    flops = CostModel(space).flops(pool)
    edges = np.quantile(flops, np.linspace(0, 1, 9)[1:-1])
    counts = np.bincount(np.searchsorted(edges, CostModel(space).flops(a), side="right"), minlength=8)
    assert (counts == 5).all()
    assert list(CostModel(space).flops(a)) == sorted(CostModel(space).flops(a))


def test_stratified_sample_of_a_large_space_and_of_given_candidates(tiny_space):
    big = load_space("mobilenet_like")
    a = stratified_sample(big, 15, seed=0, pool=500)
    assert len(set(a)) == 15 and all(big.is_canonical(x) for x in a)
    cands = ["12210", "12201", "22222", "11111", "21100"]  # the first two are one network
    got = stratified_sample(tiny_space, None, candidates=[tiny_space.parse(c) for c in cands])
    assert sorted(map(str, got)) == ["11111", "12210", "21100", "22222"]
    assert len(stratified_sample(tiny_space, 10_000)) == len(tiny_space.canonical_archs())


def test_proxies(tiny_space):
    archs = [tiny_space.parse(s) for s in ["00000", "12121", "10200"]]
    assert list(non_identity_layers(tiny_space, archs)) == [0, 5, 2]
    p = proxy_scores(tiny_space, archs)
    costs = CostModel(tiny_space)
    assert np.allclose(p["flops"], costs.flops(archs)) and np.allclose(p["params"], costs.params(archs))
    pref = op_preference(tiny_space, archs, [1.0, 3.0, 2.0])
    row = pref[(pref.layer == 0) & (pref.op == "mbconv_k3_e3")].iloc[0]
    assert row["mean"] == 2.5 and row["count"] == 2
    assert len(pref) == int(tiny_space.num_choices.sum())


# ------------------------------------------------------------------ ground truth
def test_csv_truth_merges_equivalent_archs_and_names_what_is_missing(tiny_space, tmp_path):
    path = tmp_path / "gt.csv"
    pd.DataFrame({"arch": ["12210", "12201", "00000"], "accuracy": [50.0, 52.0, 10.0]}).to_csv(path, index=False)
    truth = gt.csv_truth(path, tiny_space)
    assert list(truth.accuracy([tiny_space.parse("12201"), (0, 0, 0, 0, 0)])) == [51.0, 10.0]
    with pytest.raises(gt.GroundTruthError, match=r"no accuracy for 1 of the 2 archs: 22222"):
        truth.accuracy([(2, 2, 2, 2, 2), (0, 0, 0, 0, 0)])
    pd.DataFrame({"arch": ["12210"], "acc": [1.0]}).to_csv(path, index=False)
    with pytest.raises(gt.GroundTruthError, match=r"lacks column\(s\) \['accuracy'\]; it has \['arch', 'acc'\]"):
        gt.csv_truth(path, tiny_space)
    assert gt.csv_truth(path, tiny_space, accuracy_column="acc").table == {"12210": 1.0}
    pd.DataFrame({"arch": ["1221"], "accuracy": [1.0]}).to_csv(path, index=False)
    with pytest.raises(gt.GroundTruthError, match="row 0: arch '1221' has 4 layers"):
        gt.csv_truth(path, tiny_space)
    with pytest.raises(FileNotFoundError, match="ground_truth_path"):
        gt.csv_truth(tmp_path / "none.csv", tiny_space)


def test_nas_bench_macro_truth(nas_bench_macro_json, tiny_space):
    space = load_space("nas_bench_macro")
    truth = gt.nas_bench_macro_truth(space, nas_bench_macro_json)
    assert truth.accuracy([space.parse("22212220")])[0] == pytest.approx(93.13, abs=0.01)
    assert len(truth.known()) == 3969
    with pytest.raises(gt.GroundTruthError, match="nas_bench_macro layout"):
        gt.nas_bench_macro_truth(tiny_space, nas_bench_macro_json)


def test_standalone_truth_trains_with_the_trainer_and_scores_the_val_split(tiny_space, tiny_data, tmp_path):
    truth = gt.StandaloneTruth(tiny_space, tiny_data, TrainSettings(epochs=1, batch_size=32, max_steps=1),
                               tmp_path / "s.csv", val_images=32, device="cpu", progress=False)
    acc = truth.accuracy([(1, 2, 1, 0, 0)])
    assert truth.trained == 1 and 0 <= acc[0] <= 100
    row = pd.read_csv(tmp_path / "s.csv", dtype={"arch": str, "key": str}).iloc[0]
    assert row.arch == "12100" and row.key == truth.key and row.accuracy == acc[0]


def test_standalone_truth_builds_up_a_store_across_runs(tiny_space, tiny_data, tmp_path, monkeypatch):
    trained = []

    def fake_train(self, arch):
        trained.append(str(arch))
        return float(sum(arch)), 0.5, 0.0

    monkeypatch.setattr(gt.StandaloneTruth, "train_one", fake_train)
    store = tmp_path / "standalone.csv"
    settings = TrainSettings(epochs=1, batch_size=32)
    first = gt.StandaloneTruth(tiny_space, tiny_data, settings, store, device="cpu", progress=False)
    a = first.accuracy([(1, 2, 1, 0, 0), (2, 2, 2, 2, 2), (2, 2, 2, 2, 2)])
    assert list(a) == [4.0, 10.0, 10.0] and trained == ["12100", "22222"]
    second = gt.StandaloneTruth(tiny_space, tiny_data, settings, store, device="cpu", progress=False)
    b = second.accuracy([(2, 2, 2, 2, 2), (1, 2, 0, 1, 0), (1, 2, 0, 0, 1)])  # the last two are one network
    assert list(b) == [10.0, 4.0, 4.0] and trained[2:] == ["12010"] and second.trained == 1
    assert len(pd.read_csv(store)) == 3
    other = gt.StandaloneTruth(tiny_space, tiny_data, TrainSettings(epochs=2, batch_size=32), store,
                               device="cpu", progress=False)
    assert other.key != first.key and other.results() == {} and len(other._read()) == 3
    assert [str(x) for x in second.known()] == ["12100", "22222", "12010"]


def test_standalone_truth_key_covers_the_data_content_not_only_its_name(tiny_space, tiny_data, tmp_path):
    """Same source, sizes and settings, another data seed (other images in each split): the rows of one
    must never be served as the ground truth of the other."""
    settings = TrainSettings(epochs=1, batch_size=32)
    reseeded = load_synthetic(size=16, num_classes=4, train_images=128, val_images=64, test_images=32, seed=5)
    assert reseeded.name == tiny_data.name and len(reseeded.train) == len(tiny_data.train)
    keys = {gt.StandaloneTruth(tiny_space, data, settings, tmp_path / "s.csv", split=split, progress=False).key
            for data in (tiny_data, reseeded) for split in ("val", "test")}
    assert len(keys) == 4
    same = gt.StandaloneTruth(tiny_space, load_synthetic(size=16, num_classes=4, train_images=128, val_images=64,
                                                          test_images=32), settings, tmp_path / "s.csv", progress=False)
    assert same.key == gt.StandaloneTruth(tiny_space, tiny_data, settings, tmp_path / "s.csv", progress=False).key


# ------------------------------------------------------------------ the workflow
_CHECKPOINT: dict = {}


@pytest.fixture
def checkpoint(tiny_space, tmp_path_factory):
    """One tiny supernet for the module (trained once: the CPU is shared)."""
    if "path" in _CHECKPOINT:
        return _CHECKPOINT["path"]
    path = tmp_path_factory.mktemp("supernet") / "s.pt"
    # the data `data=synthetic` builds for this space; 8 steps leave archs with distinct accuracies
    data = load_synthetic(size=16, num_classes=4, train_images=256, val_images=64, test_images=64)
    torch.manual_seed(0)
    t = Trainer(SuperNet(tiny_space), UniformSampler(tiny_space), data,
                TrainSettings(epochs=1, batch_size=32, lr=0.1, label_smoothing=0.0),
                checkpoint_path=path, device="cpu",
                extra_state={"space": tiny_space.to_config(), "supernet": {"sharing": "separate"},
                             "config": {"data": {"name": "synthetic"}}}, progress=False)
    t.fit()
    _CHECKPOINT["path"] = path
    return path


@pytest.fixture
def truth_csv(tiny_space, tmp_path):
    archs = tiny_space.canonical_archs()
    flops = CostModel(tiny_space).flops(archs)
    acc = 60 + 30 * (flops - flops.min()) / np.ptp(flops) + np.random.default_rng(0).normal(0, 3, len(archs))
    path = tmp_path / "truth.csv"
    pd.DataFrame({"arch": [str(a) for a in archs], "accuracy": acc}).to_csv(path, index=False)
    return path


def _rank_cfg(checkpoint, tmp_path, *extra):
    return make_cfg("rank", "data=synthetic", f"checkpoint={checkpoint}", "evaluator=quick",
                    "evaluator.recal_images=64", "evaluator.val_images=64", "evaluator.batch_size=64",
                    f"evaluator.cache={tmp_path}/cache.sqlite", "runtime.device=cpu", "runtime.threads=1",
                    "runtime.progress=false",
                    "rank.sample_size=12", "rank.top_k=4", "rank.bootstrap=100", "rank.strata=4", *extra)


def test_rank_end_to_end_with_a_csv_ground_truth(checkpoint, truth_csv, tmp_path):
    out = tmp_path / "out"
    cfg = _rank_cfg(checkpoint, tmp_path, "rank.ground_truth=csv", f"rank.ground_truth_path={truth_csv}",
                    "rank.fuse=naswot", "rank.zero_cost_batch=16", "rank.caps=[4e5,6e5,8e5]")
    res = rank(cfg, out)
    frame = pd.read_csv(out / "ranking.csv", dtype={"arch": str})
    assert len(frame) == 12 and frame.arch.is_unique
    assert {"arch", "supernet_accuracy", "ground_truth", "flops", "params", "non_identity"} <= set(frame.columns)
    truth = pd.read_csv(truth_csv, dtype={"arch": str}).set_index("arch")["accuracy"]
    assert np.allclose(frame.ground_truth, truth.loc[frame.arch].to_numpy())
    summary = json.loads((out / "ranking_summary.json").read_text())
    assert summary["tau"] == pytest.approx(kendall_tau(frame.supernet_accuracy, frame.ground_truth))
    assert summary["tau_ci_low"] <= summary["tau"] <= summary["tau_ci_high"]
    assert summary["proxies"]["flops"]["tau"] == pytest.approx(kendall_tau(frame.flops, frame.ground_truth))
    assert set(summary["proxies"]) == {"flops", "params", "non_identity", *ZERO_COST_PROXIES}
    assert summary["proxies"]["naswot"]["tau"] == pytest.approx(kendall_tau(frame.naswot, frame.ground_truth))
    assert summary["n"] == 12 and summary["top_k"] == 4 and summary["space"] == "tiny"
    best = max(summary["proxies"], key=lambda k: summary["proxies"][k]["tau"] if summary["proxies"][k]["tau"]
               is not None else -2)
    vs = summary["vs_best_proxy"]
    assert vs["proxy"] == best and vs["gain"] == pytest.approx(summary["tau"] - summary["proxies"][best]["tau"])
    assert vs["ci_low"] <= vs["ci_high"] and 0 <= vs["p_not_better"] <= 1
    table = pd.read_csv(out / "ranking_summary.csv")
    assert list(table.predictor) == ["supernet", "fused_naswot", "flops", "params", "non_identity",
                                     *ZERO_COST_PROXIES]
    assert np.allclose(frame.fused_naswot, fuse_ranks(frame.supernet_accuracy, frame.naswot))
    # constrained metrics: depth groups and FLOPs bands per cap, gains over every proxy, picks over the table
    assert summary["constrained"]["supernet"]["depth_group"] == pytest.approx(
        group_tau(frame.supernet_accuracy, frame.ground_truth, frame.non_identity))
    band = flops_band(frame.flops, 6e5)
    assert summary["constrained"]["flops"]["band_0.6M"] == pytest.approx(
        group_tau(frame.flops, frame.ground_truth, band), nan_ok=True)
    gains = pd.read_csv(out / "ranking_gains.csv")
    assert set(gains.metric) == {"global", "depth_group", "band_0.4M", "band_0.6M", "band_0.8M"}
    assert set(gains.baseline) == {"flops", "params", "non_identity", *ZERO_COST_PROXIES}
    assert set(gains.predictor) == {"supernet", "fused_naswot"}
    by_metric = summary["vs_best_proxy_by_metric"]
    assert by_metric["global"]["proxy"] == best and set(by_metric) == set(gains.metric)
    picks = pd.read_csv(out / "ranking_picks.csv", dtype={"arch": str})
    assert set(picks.predictor) == {"flops", "params", "non_identity", "random"} and set(picks.cap) == {4e5, 6e5, 8e5}
    assert (picks.regret >= 0).all() and (picks.flops.dropna() <= picks.cap[picks.flops.notna()]).all()
    assert summary["picks"]["random"]["0.6M"]["regret"] == pytest.approx(
        picks[(picks.predictor == "random") & (picks.cap == 6e5)].regret.iloc[0])
    assert (out / "kendall.png").stat().st_size > 1000 and (out / "sample.csv").is_file()
    assert res.summary["evaluated"] == 12
    again = rank(cfg, tmp_path / "out2")  # the evaluator cache answers the second run
    assert again.summary["evaluated"] == 0 and again.summary["tau"] == summary["tau"]
    # without BN recalibration: another cache key, still a complete ranking
    norecal = rank(_rank_cfg(checkpoint, tmp_path, "rank.ground_truth=csv", f"rank.ground_truth_path={truth_csv}",
                             "evaluator.recalibrate=false", "rank.plot=false", "rank.sample_size=5",
                             "rank.zero_cost=[]"),
                   tmp_path / "out3")
    assert norecal.summary["evaluated"] == 5 and not norecal.summary["recalibrate"]


def test_rank_band_sample_fills_the_bands_and_leaves_the_sample_alone(checkpoint, truth_csv, tmp_path):
    common = ("rank.ground_truth=csv", f"rank.ground_truth_path={truth_csv}", "rank.plot=false",
              "rank.zero_cost=[naswot]", "rank.zero_cost_batch=16", "rank.fuse=naswot", "rank.caps=[4e5,8e5]")
    plain = rank(_rank_cfg(checkpoint, tmp_path, *common), tmp_path / "plain")
    res = rank(_rank_cfg(checkpoint, tmp_path, *common, "rank.band_sample=8"), tmp_path / "bands")
    frame = pd.read_csv(tmp_path / "bands" / "ranking.csv", dtype={"arch": str})
    bands = pd.read_csv(tmp_path / "bands" / "ranking_bands.csv", dtype={"arch": str})
    assert sorted(frame.arch) == sorted(plain.frame.arch)  # global and depth-group taus: the same 12 archs
    assert res.summary["tau"] == plain.summary["tau"]
    assert res.summary["constrained"]["supernet"]["depth_group"] == plain.summary["constrained"]["supernet"][
        "depth_group"]
    assert set(frame.arch) < set(bands.arch) and len(bands) == 12 + res.summary["band_sample_added"]
    for cap, label in ((4e5, "band_0.4M"), (8e5, "band_0.8M")):
        member = flops_band(bands.flops, cap)
        assert res.summary["constrained_archs"][label] == (member == 0).sum() >= 8
        assert res.summary["constrained"]["supernet"][label] == pytest.approx(
            group_tau(bands.supernet_accuracy, bands.ground_truth, member))
        fused = fuse_ranks(bands.supernet_accuracy, bands.naswot)  # normalised within the band archs' set
        assert res.summary["constrained"]["fused_naswot"][label] == pytest.approx(
            group_tau(fused, bands.ground_truth, member))
    sample = pd.read_csv(tmp_path / "bands" / "sample.csv", dtype={"arch": str})
    assert sample.in_sample.sum() == 12 and len(sample) == len(bands)


def test_rank_on_the_csv_archs_and_missing_archs(checkpoint, tiny_space, tmp_path):
    path = tmp_path / "few.csv"
    pd.DataFrame({"arch": ["22222", "11111", "12100", "21000"], "accuracy": [80, 70, 60, 50]}).to_csv(path, index=False)
    res = rank(_rank_cfg(checkpoint, tmp_path, "rank.ground_truth=csv", f"rank.ground_truth_path={path}",
                         "rank.sample=ground_truth", "rank.plot=false", "rank.zero_cost=[]"), tmp_path / "o")
    assert sorted(res.frame.arch) == ["11111", "12100", "21000", "22222"]
    with pytest.raises(gt.GroundTruthError, match=r"no accuracy for \d+ of the 12 archs"):
        rank(_rank_cfg(checkpoint, tmp_path, "rank.ground_truth=csv", f"rank.ground_truth_path={path}",
                       "rank.zero_cost=[]"), tmp_path / "o2")
    assert (tmp_path / "o2" / "sample.csv").is_file()  # the archs to train are written before the error


def test_rank_options_are_checked(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="sampel_size"):
        make_cfg("rank", "rank.sampel_size=3")  # a typo fails at composition, before any work
    with pytest.raises(ValueError, match="needs rank.ground_truth_path"):
        rank_options(make_cfg("rank", "rank.ground_truth=csv"))
    with pytest.raises(ValueError, match="use one of"):
        rank_options(make_cfg("rank", "rank.ground_truth=oracle"))
    with pytest.raises(ValueError, match="rank.zero_cost: unknown proxies"):
        rank_options(make_cfg("rank", "rank.zero_cost=[naswot,nwot]"))
    with pytest.raises(ValueError, match="rank.fuse='zen'"):
        rank_options(make_cfg("rank", "rank.zero_cost=[naswot]", "rank.fuse=zen"))
    assert rank_options(make_cfg("rank")).sample_size == 100
    with pytest.raises(ValueError, match="evaluator.kind must be supernet"):
        rank(make_cfg("rank", "evaluator=nas_bench_macro"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_missing_checkpoint_is_one_clear_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "oneshot.cli.rank", f"checkpoint={tmp_path}/none.pt",
                          f"out_dir={tmp_path}"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert out.returncode == 2, out.stderr
    assert f"error: checkpoint {tmp_path}/none.pt not found" in out.stderr and "Traceback" not in out.stderr


def test_rank_search_picks_with_fusion_pick_for_both_predictors(checkpoint, truth_csv, tmp_path):
    res = rank(_rank_cfg(checkpoint, tmp_path, "rank.ground_truth=csv", f"rank.ground_truth_path={truth_csv}",
                         "rank.plot=false", "rank.zero_cost=[naswot]", "rank.zero_cost_batch=16", "rank.fuse=naswot",
                         "rank.caps=[8e5]", "rank.search_picks=true", "rank.pick_budget=8", "rank.pick_seeds=2"),
               tmp_path / "out")
    picks = pd.read_csv(tmp_path / "out" / "ranking_picks.csv", dtype={"arch": str})
    searched = picks[picks.seed >= 0]
    assert sorted(searched.predictor) == ["fused_naswot", "fused_naswot", "supernet", "supernet"]
    assert (searched.flops <= 8e5).all() and (searched.evaluated <= 8).all() and (searched.regret >= 0).all()
    assert set(res.summary["picks"]) >= {"supernet", "fused_naswot", "flops", "random"}
    assert len(res.summary["picks"]["fused_naswot"]["0.8M"]["per_seed"]) == 2
