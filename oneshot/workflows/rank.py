"""Ranking as a function of a config: how well does a supernet order archs like the ground truth?

``rank(cfg, out_dir)`` draws a seeded FLOPs-stratified sample of distinct archs,
evaluates each through :class:`SupernetEvaluator` (its cache, BN recalibration per
``evaluator.recalibrate``), looks up or trains the ground truth, and writes

* ``sample.csv`` -- the archs (written first, so they can be trained elsewhere),
* ``ranking.csv`` -- arch, supernet accuracy, ground truth, the free proxies' scores, ranks,
* ``ranking_summary.csv`` -- one row per predictor (supernet, fused, the free proxies):
  Kendall tau with bootstrap CI, Spearman rho, top-k overlap, precision@k, regret@k,
* ``ranking_constrained.csv`` -- per predictor: tau inside equal-depth groups and inside the
  FLOPs band below each cap, with bootstrap CIs (:mod:`oneshot.evaluate.constrained`),
* ``ranking_bands.csv`` -- with ``rank.band_sample=N``: the archs behind the band taus (the sample's
  own band members plus archs drawn inside each band until it has N), scored like ``ranking.csv``,
* ``ranking_gains.csv`` -- paired-bootstrap gains of the supernet (and fused) over every proxy,
  for global, depth-group and band taus,
* ``ranking_picks.csv`` -- constrained-pick regret per cap: each free proxy's pick over the whole
  table, a random pick, and (``rank.search_picks=true``) NSGA-II over the supernet per seed,
* ``ranking_summary.json`` -- the same plus the run's settings and ``vs_best_proxy``: the
  supernet's tau gain over the best free proxy (zero-cost ones included) with a paired bootstrap CI,
* ``kendall.png`` -- supernet accuracy against ground truth, tau in the title.

Free proxies: FLOPs, params, non-identity layers, and the zero-cost proxies of ``rank.zero_cost``
(:mod:`oneshot.evaluate.zero_cost`). ``rank.fuse=<proxy>`` adds ``fused_<proxy>``, the mean of the
supernet's and that proxy's normalised ranks; the proxy is fixed by config, since choosing it by
its tau would let the ground truth in.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from .. import build, runtime
from ..evaluate import ground_truth as gt
from ..evaluate.constrained import band_sample
from ..evaluate.ranking import PROXIES, fuse_ranks, paired_tau_gain, proxy_scores, ranking_table, stratified_sample
from ..evaluate.rank_options import RankOptions
from ..evaluate.supernet_evaluator import SupernetEvaluator
from . import rank_constrained as rc
from ..space.arch import Arch
from ..space.space import SearchSpace
from ..io import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class RankResult:
    frame: pd.DataFrame  # ranking.csv
    table: pd.DataFrame  # ranking_summary.csv
    summary: dict[str, Any]  # ranking_summary.json
    out_dir: Path
    space: SearchSpace


def _ground_truth(opts: RankOptions, cfg: DictConfig, space: SearchSpace, data, ckpt: Path):
    # the standalone store is written to; the other ground truths are read-only inputs
    where = build.output_path if opts.ground_truth == "standalone" else build.resolve_path
    path = where(opts.ground_truth_path) if opts.ground_truth_path else None
    if opts.ground_truth == "csv":
        return gt.csv_truth(path, space, opts.arch_column, opts.accuracy_column)
    if opts.ground_truth == "nas_bench_macro":
        return gt.nas_bench_macro_truth(space, path, opts.table_seed)
    store = path or ckpt.parent / f"standalone_{space.name}_{space.fingerprint()}.csv"
    return gt.StandaloneTruth(space, data, build.train_settings(cfg), store, split=cfg.evaluator.split,
                              val_images=cfg.evaluator.val_images, device=cfg.runtime.device,
                              progress=cfg.runtime.progress)


def _check_data(state: dict, cfg: DictConfig, opts: RankOptions) -> list[str]:
    notes = []
    trained_on = ((state.get("config") or {}).get("data") or {}).get("name")
    if trained_on and trained_on != cfg.data.name:
        log.warning("checkpoint was trained on data %r but ranking evaluates on %r: pass data=%s",
                    trained_on, cfg.data.name, trained_on)
    if opts.ground_truth == "nas_bench_macro":
        notes.append("NAS-Bench-Macro accuracies: genuine CIFAR-10, 50 epochs, mean of 3 seeds "
                     "(table noise ceiling tau 0.88)")
        if cfg.data.name not in ("cifar10", "arrays"):
            log.warning("NAS-Bench-Macro holds CIFAR-10 accuracies but the supernet is evaluated on %r",
                        cfg.data.name)
        if "from_jpeg" in str(cfg.data.get("path") or ""):
            notes.append("supernet evaluated on the JPEG-decoded CIFAR-10 copy (lossy pixels)")
    return notes


def rank(cfg: DictConfig, out_dir: "str | Path") -> RankResult:
    """Rank a sample of archs by the supernet ``checkpoint=`` and by the ground truth; write the files."""
    from ..evaluate.supernet_evaluator import open_supernet

    opts = build.rank_options(cfg)
    if cfg.evaluator.kind != "supernet":
        raise ValueError(f"rank scores a supernet: evaluator.kind must be supernet, not {cfg.evaluator.kind!r} "
                         "(the ground truth is chosen with rank.ground_truth)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runtime.set_threads(cfg.runtime.threads)
    ckpt = build.checkpoint_path(cfg)
    opened = open_supernet(ckpt)
    space, state = opened.space, opened.state
    if not (state.get("train") or {}).get("complete", True):
        log.warning("%s is a partly trained checkpoint (step %s)", ckpt, state["train"].get("step"))
    log.info("ranking %s (space %r from the checkpoint) against %s", ckpt, space.name, opts.ground_truth)
    notes = _check_data(state, cfg, opts)
    data = build.data_from_config(cfg, space)
    truth = _ground_truth(opts, cfg, space, data, ckpt)
    cache = build.output_path(cfg.evaluator.cache) if cfg.evaluator.cache else None
    evaluator = build.evaluator_class(cfg).from_supernet(opened, data, build.eval_settings(cfg), cache=cache,
                                                         device=cfg.runtime.device, progress=cfg.runtime.progress)
    context = {"checkpoint": str(ckpt), "data": cfg.data.name, "evaluator": build.plain(cfg.evaluator)}
    return rank_supernet(evaluator, truth, opts, out_dir, context=context, notes=notes)


def rank_supernet(evaluator: SupernetEvaluator, truth: gt.GroundTruth, opts: RankOptions, out_dir: "str | Path", *,
                  context: dict[str, Any] | None = None, notes: list[str] | None = None) -> RankResult:
    """Rank a FLOPs-stratified sample of ``evaluator.space``'s archs by the supernet behind
    ``evaluator`` and by ``truth``, score both, the free proxies (zero-cost included) and the
    constrained metrics, and write the files into ``out_dir``.

    ``context`` adds keys to the summary (checkpoint, data, evaluator settings); ``notes`` are
    caveats carried into it."""
    opts.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    space, notes = evaluator.space, list(notes or [])
    context = {"checkpoint": evaluator.checkpoint_id, "data": evaluator.data.name,
               "evaluator": asdict(evaluator.settings), **(context or {})}

    candidates = None
    if opts.sample == "ground_truth":
        candidates = truth.known()
        if not candidates:
            raise ValueError(f"rank.sample=ground_truth but {truth.name} knows no archs yet: use rank.sample=space")
    archs = stratified_sample(space, opts.sample_size, opts.sample_seed, strata=opts.strata, pool=opts.pool,
                              candidates=candidates)
    if len(archs) < 2:
        raise ValueError(f"the sample has {len(archs)} arch: a ranking needs at least 2")
    extra = band_sample(space, opts.caps, opts.band_sample, opts.sample_seed, low=opts.band_low, have=archs,
                        pool=opts.pool, candidates=candidates) if opts.band_sample else []
    everything = archs + extra
    proxies = proxy_scores(space, everything)
    in_sample = np.arange(len(everything)) < len(archs)
    sample = pd.DataFrame({"arch": [str(a) for a in everything], "in_sample": in_sample,
                           **{k: proxies[k] for k in PROXIES}})
    atomic_write_text(out_dir / "sample.csv", sample.to_csv(index=False))

    truth_acc = truth.accuracy(everything)  # first: a table missing archs fails before any compute
    ev = evaluator.evaluate(everything)
    zero_cost = _zero_cost(opts, evaluator, everything)

    scored = pd.DataFrame({"arch": ev["arch"], "supernet_accuracy": ev["accuracy"], "supernet_loss": ev["loss"],
                           "ground_truth": truth_acc, "flops": ev["flops"], "params": ev["params"],
                           "non_identity": proxies["non_identity"].astype(int), **zero_cost, "cached": ev["cached"]})
    frame = _ranked(scored[in_sample].reset_index(drop=True), opts.fuse)
    bands = _ranked(scored, opts.fuse) if extra else None

    proxy_names = [*PROXIES, *zero_cost]
    predictors = ["supernet"] + ([f"fused_{opts.fuse}"] if opts.fuse else [])
    main_set = _scored_set(frame, predictors, proxy_names)
    band_set = _scored_set(bands, predictors, proxy_names) if bands is not None else None
    scores, y = main_set.scores, main_set.truth
    table = ranking_table(scores, y, top_k=opts.top_k, relevant=opts.precision_top,
                          bootstrap=opts.bootstrap, confidence=opts.confidence, seed=opts.sample_seed)
    main = table.iloc[0].to_dict()
    taus = rc.taus_table(main_set, opts, band_set)
    gains = rc.gains_table(main_set, predictors, proxy_names, opts, band_set)
    best_by = rc.best_by_metric(taus, table, proxy_names)
    best = best_by["global"]
    vs_best = paired_tau_gain(scores["supernet"], scores[best], y, opts.bootstrap, opts.confidence, opts.sample_seed)
    picks = _picks(opts, truth, evaluator, zero_cost)
    summary = {
        "checkpoint": context["checkpoint"], "space": space.name, "data": context["data"],
        "ground_truth": truth.name, "recalibrate": bool(evaluator.settings.recalibrate), "n": len(frame),
        **{k: _clean(v) for k, v in main.items() if k != "predictor"},
        "proxies": {row["predictor"]: {k: _clean(v) for k, v in row.items() if k != "predictor"}
                    for row in table.iloc[len(predictors):].to_dict("records")},
        "vs_best_proxy": {"proxy": best, **{k: _clean(v) for k, v in vs_best.items()}},
        "constrained": {name: {r["metric"]: _clean(r["tau"]) for _, r in rows.iterrows()}
                        for name, rows in taus.groupby("predictor", sort=False)},
        "constrained_archs": {r["metric"]: int(r["n"]) for _, r in taus[taus.predictor == "supernet"].iterrows()},
        "band_sample_added": len(extra),
        "vs_best_proxy_by_metric": {
            metric: {"proxy": proxy, **{k: _clean(v) for k, v in gains[(gains.predictor == "supernet")
                                                                       & (gains.baseline == proxy)
                                                                       & (gains.metric == metric)].iloc[0].items()
                                        if k not in ("predictor", "baseline", "metric")}}
            for metric, proxy in best_by.items()},
        "picks": rc.pick_summary(picks) if len(picks) else {},
        "options": asdict(opts), "evaluator": context["evaluator"], "notes": notes,
        "evaluated": int(evaluator.stats["computed"]), "cache_hits": int(evaluator.stats["cache_hits"]),
    }
    if opts.fuse:
        fused = table.iloc[1].to_dict()
        summary["fused"] = {"proxy": opts.fuse, **{k: _clean(v) for k, v in fused.items() if k != "predictor"},
                            "vs_best_proxy": {"proxy": best, **{k: _clean(v) for k, v in paired_tau_gain(
                                scores[predictors[1]], scores[best], y, opts.bootstrap, opts.confidence,
                                opts.sample_seed).items()}}}
    if isinstance(truth, gt.StandaloneTruth):
        summary["standalone_store"] = str(truth.store)
        summary["standalone_trained"] = truth.trained
    atomic_write_text(out_dir / "ranking.csv", frame.to_csv(index=False))
    if bands is not None:
        atomic_write_text(out_dir / "ranking_bands.csv", bands.to_csv(index=False))
    atomic_write_text(out_dir / "ranking_summary.csv", table.to_csv(index=False))
    atomic_write_text(out_dir / "ranking_constrained.csv", taus.to_csv(index=False))
    atomic_write_text(out_dir / "ranking_gains.csv", gains.to_csv(index=False))
    if len(picks):
        atomic_write_text(out_dir / "ranking_picks.csv", picks.to_csv(index=False))
    atomic_write_text(out_dir / "ranking_summary.json", json.dumps(summary, indent=2) + "\n")
    if opts.plot:
        plot_kendall(frame, summary, out_dir / "kendall.png")
    log.info("Kendall tau %.3f [%.3f, %.3f], Spearman %.3f, top-%d overlap %.2f over %d archs; proxies: %s",
             main["tau"], main["tau_ci_low"], main["tau_ci_high"], main["rho"], main["top_k"],
             main["top_k_overlap"], len(frame),
             ", ".join(f"{r.predictor} {r.tau:.3f}" for r in table.iloc[1:].itertuples()))
    log.info("tau gain over the best proxy (%s): %+.3f, paired bootstrap CI [%+.3f, %+.3f]",
             best, vs_best["gain"], vs_best["ci_low"], vs_best["ci_high"])
    depth_gain = summary["vs_best_proxy_by_metric"]["depth_group"]
    log.info("depth-group tau %.3f; gain over the best proxy there (%s): %+.3f [%+.3f, %+.3f]",
             summary["constrained"]["supernet"]["depth_group"] or float("nan"), depth_gain["proxy"],
             *(depth_gain[k] if depth_gain[k] is not None else float("nan") for k in ("gain", "ci_low", "ci_high")))
    return RankResult(frame, table, summary, out_dir, space)


def _ranked(scored: pd.DataFrame, fuse: str | None) -> pd.DataFrame:
    """``scored`` with the fused score (ranks normalised within these archs), both ranks, sorted by truth."""
    frame = scored.copy()
    if fuse:
        frame[f"fused_{fuse}"] = fuse_ranks(frame["supernet_accuracy"], frame[fuse])
    frame["rank_supernet"] = frame["supernet_accuracy"].rank(ascending=False, method="min").astype(int)
    frame["rank_truth"] = frame["ground_truth"].rank(ascending=False, method="min").astype(int)
    return frame.sort_values(["rank_truth", "arch"]).reset_index(drop=True)


def _scored_set(frame: pd.DataFrame, predictors: list[str], proxies: list[str]) -> rc.ScoredSet:
    scores = {"supernet": frame["supernet_accuracy"].to_numpy(),
              **{k: frame[k].to_numpy(float) for k in predictors[1:] + proxies}}
    return rc.ScoredSet(scores, frame["ground_truth"].to_numpy(), frame["non_identity"].to_numpy(),
                        frame["flops"].to_numpy(float))


def _zero_cost(opts: RankOptions, evaluator: SupernetEvaluator, archs) -> dict[str, np.ndarray]:
    """The zero-cost proxies' scores of ``archs`` on the evaluator's data, through its cache."""
    if not opts.zero_cost:
        return {}
    from ..evaluate.zero_cost import zero_cost_scores

    return zero_cost_scores(evaluator.space, evaluator.data, archs, opts.zero_cost, batch_size=opts.zero_cost_batch,
                            seed=opts.zero_cost_seed, cache=evaluator.cache, device=evaluator.device,
                            progress=evaluator.progress)


def _proxy_scorer(opts: RankOptions, evaluator: SupernetEvaluator):
    """archs (strings) -> the ``rank.fuse`` proxy's scores (a cost proxy, or a zero-cost one through the cache)."""
    def score(archs: list[str]) -> np.ndarray:
        genomes = [Arch.from_string(a) for a in archs]
        if opts.fuse in PROXIES:
            return proxy_scores(evaluator.space, np.asarray([tuple(g) for g in genomes]))[opts.fuse]
        return _zero_cost(replace(opts, zero_cost=[opts.fuse]), evaluator, genomes)[opts.fuse]
    return score


def _picks(opts: RankOptions, truth, evaluator: SupernetEvaluator, zero_cost: dict) -> pd.DataFrame:
    """Constrained-pick regret per cap over the ground truth's whole table (empty without a table)."""
    space = evaluator.space
    known = truth.known() if opts.picks or opts.search_picks else None
    if not known:
        if opts.picks or opts.search_picks:
            log.info("pick regret needs a ground-truth table (%s knows no archs up front): skipped", truth.name)
        return pd.DataFrame()
    known = list(dict.fromkeys(space.canonical(a) for a in known))
    table = rc.table_frame(space, known, truth.accuracy(known))
    proxies = list(PROXIES)
    if opts.zero_cost_picks and zero_cost:
        table, pickable = rc.under_largest_cap(table, known, opts.caps)
        table = table.assign(**_zero_cost(opts, evaluator, pickable))
        proxies += list(zero_cost)
    frames = [rc.proxy_picks(table, proxies, opts.caps)] if opts.picks else []
    if opts.search_picks:
        frames.append(rc.search_picks(space, evaluator, table, opts.caps, budget=opts.pick_budget,
                                      seeds=range(opts.pick_seeds), progress=evaluator.progress,
                                      fuse=(opts.fuse, _proxy_scorer(opts, evaluator)) if opts.fuse else None))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _clean(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


# ------------------------------------------------------------------ plots
def _figure(size=(5.6, 4.6)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: "str | Path") -> Path:
    atomic_write_bytes(path, lambda f: fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", dpi=120))
    return Path(path)


def plot_kendall(frame: pd.DataFrame, summary: dict, path: "str | Path | None" = None, ax=None):
    """Supernet accuracy against ground truth; the supernet's top-k highlighted; tau in the title."""
    fig = None
    if ax is None:
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
    k = int(summary.get("top_k") or 0)
    top = frame["rank_supernet"] <= k
    ax.scatter(frame.loc[~top, "ground_truth"], frame.loc[~top, "supernet_accuracy"], s=16, alpha=0.6,
               c="tab:blue", label="sampled archs")
    ax.scatter(frame.loc[top, "ground_truth"], frame.loc[top, "supernet_accuracy"], s=26, c="tab:orange",
               edgecolors="k", linewidths=0.5, label=f"supernet top-{k}")
    lo, hi = summary.get("tau_ci_low"), summary.get("tau_ci_high")
    ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
    tau, rho = summary.get("tau"), summary.get("rho")
    rho_text = f", rho={rho:.2f}" if rho is not None else ""
    ax.set_title(f"Kendall tau = {tau:.3f}{ci}   (n={summary.get('n')}{rho_text})"
                 if tau is not None else "Kendall tau undefined (constant values)", fontsize=9)
    ax.set_xlabel(f"ground truth accuracy (%) [{summary.get('ground_truth')}]")
    ax.set_ylabel("supernet accuracy (%)" + (" + BN recal" if summary.get("recalibrate") else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if fig is not None and path is not None:
        fig.tight_layout()
        _save(fig, path)
    return fig if fig is not None else ax


def plot_op_preference(pref: pd.DataFrame, path: "str | Path | None" = None, ax=None, ylabel: str = "mean accuracy (%)"):
    """Mean accuracy per (layer, op) as one line per op across layers (from :func:`op_preference`)."""
    fig = None
    if ax is None:
        fig = _figure((6.4, 4.0))
        ax = fig.add_subplot(1, 1, 1)
    for op, rows in pref.groupby("op", sort=False):
        ax.plot(rows["layer"], rows["mean"], marker="o", label=op)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_xticks(sorted(pref["layer"].unique()))
    ax.set_title("op preference: mean over sampled archs with that choice", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if fig is not None and path is not None:
        fig.tight_layout()
        _save(fig, path)
    return fig if fig is not None else ax
