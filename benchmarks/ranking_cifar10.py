"""Sampler comparison on CIFAR-10: how each supernet ranks archs vs NAS-Bench-Macro, beside every free proxy.

    python benchmarks/ranking_cifar10.py [--samplers uniform fair uniform:canonical=true] [--fidelity cpu|gpu|demo]
        [--fuse naswot] [--search-picks --pick-budget 300 --pick-seeds 3] [--no-zero-cost] [--zero-cost-picks]
        [--band-sample 30] [--tag zc] [--label NAME --override ...] [--quiet]   # progress goes to stderr

A sampler is a config name, optionally with ``:key=value,...`` sampler options
(``uniform:canonical=true`` is uniform over distinct networks).

For each sampler: train a nas_bench_macro supernet on the offline JPEG-decoded CIFAR-10
copy (../shared/data/cifar10/cifar10_from_jpeg.npz; its pixels are lossy while the
NAS-Bench-Macro accuracies come from the genuine images) -- or reuse
checkpoints/cifar_<sampler>.pt if it is complete -- then rank a seeded, FLOPs-stratified
sample of canonical archs by supernet accuracy (BN recalibrated per arch) against the
table's mean accuracy. Beside it, on the same sample, every free proxy: FLOPs, params,
non-identity layers and the zero-cost proxies (synflow, snip, grad_norm, fisher, jacob_cov,
naswot, zen; ``--no-zero-cost`` drops them), and optionally ``fused_<proxy>`` (``--fuse``:
mean normalised rank of supernet and that proxy, fixed in advance -- no ground truth enters).

Per configuration and sample: global tau, tau inside equal-depth groups, tau inside the FLOPs
band 0.8*cap..cap per cap, each with the supernet's paired-bootstrap gain over the best proxy of
that metric (``*_p_not_better``: share of resamples where it does not beat it; ``--band-sample N``
tops each band up to N archs drawn inside it, since the stratified sample puts few archs in the
narrow low-cost bands -- global and depth-group taus stay on the stratified sample); pick regret per
cap: free proxies' picks over the whole table, a random pick, and with ``--search-picks`` NSGA-II
over the supernet (budget of distinct evaluations x seeds; the evaluator cache makes repeated
archs free) and, with ``--fuse``, the fused score's pick among the archs each search evaluated. No training setting here was tuned on the held-out samples (seeds 0 and 2).

CPU fidelity: all 45,000 training images, 20 epochs of batch 64 (conf/train/cifar_cpu.yaml).
GPU fidelity: all 45,000 training images, 100 epochs (conf/train/cifar_gpu.yaml).
demo fidelity: 2,048 training images, one epoch (checks the pipeline, not the supernet).
Writes benchmarks/results/ranking_cifar10_<fidelity>[_<tag>].csv and .md (rows of other samplers
kept), plus _metrics.csv (every predictor's taus), _gains.csv (paired gains over every proxy)
and _picks.csv (every pick).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot import runtime  # noqa: E402
from oneshot.config import register_configs  # noqa: E402
from oneshot.io import write_csv, write_text  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402
from oneshot.train.checkpoint import load_checkpoint  # noqa: E402
from oneshot.workflows.rank import rank  # noqa: E402
from oneshot.workflows.train import train_supernet  # noqa: E402

FIDELITY = {
    "cpu": ["train=cifar_cpu"],
    "gpu": ["train=cifar_gpu"],
    "demo": ["train=tiny", "train.max_steps=null", "train.batch_size=64", "data.train_images=2048"],
}
METRIC_COLUMNS = {"global": "tau", "depth_group": "depth_tau"}


def _parse_spec(spec: str) -> tuple[str, list[tuple[str, str]]]:
    name, _, rest = spec.partition(":")
    options = [tuple(kv.split("=", 1)) for kv in rest.split(",") if kv]
    if any(len(kv) != 2 for kv in options):
        raise SystemExit(f"sampler spec {spec!r}: write name:key=value,key=value (e.g. uniform:canonical=true)")
    return name, options


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samplers", nargs="+", default=["uniform", "fair"])
    ap.add_argument("--fidelity", choices=sorted(FIDELITY), default="cpu")
    ap.add_argument("--sample-size", type=int, default=100)
    ap.add_argument("--sample-seeds", type=int, nargs="+", default=[0, 1],
                    help="one FLOPs-stratified sample per seed; seed 1 picks recipes, seeds 0 and 2 are held out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--evaluator", default="default", help="evaluator preset (recal / val sizes)")
    ap.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for train and rank")
    ap.add_argument("--no-zero-cost", action="store_true", help="leave the zero-cost proxies out")
    ap.add_argument("--fuse", default=None, help="add fused_<proxy>: supernet + that proxy by mean normalised rank")
    ap.add_argument("--caps", type=float, nargs="+", default=[20e6, 30e6, 40e6, 60e6])
    ap.add_argument("--band-sample", type=int, default=0,
                    help="archs per FLOPs band: extra archs drawn inside each band (0 = the sample's own)")
    ap.add_argument("--search-picks", action="store_true", help="NSGA-II picks over the supernet per cap and seed")
    ap.add_argument("--pick-budget", type=int, default=300)
    ap.add_argument("--pick-seeds", type=int, default=3)
    ap.add_argument("--zero-cost-picks", action="store_true",
                    help="zero-cost proxies' picks over the whole table (scores all 3,969 networks once; cached)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--label", default=None,
                    help="name of the configuration (rows, checkpoints/cifar_<label>.pt) when --override makes it "
                         "more than its sampler, e.g. a few-shot supernet; one sampler only")
    ap.add_argument("--quiet", action="store_true", help="no progress lines (epochs, ranking) on stderr")
    args = ap.parse_args()
    if args.label is not None and len(args.samplers) != 1:
        ap.error("--label names one configuration: give exactly one --samplers entry")
    return args


def _label(spec: str, label: "str | None") -> tuple[str, list[tuple[str, str]], str]:
    """(sampler, its options, the configuration's label): ``label`` if given, else sampler + options."""
    sampler, options = _parse_spec(spec)
    derived = "_".join([sampler, *(k if v == "true" else f"{k}-{v}" for k, v in options)])
    return sampler, options, label or derived


def _rank_overrides(args, seed: int) -> list[str]:
    out = [f"evaluator={args.evaluator}", f"rank.sample_size={args.sample_size}", f"rank.sample_seed={seed}",
           f"rank.caps=[{','.join(f'{c:g}' for c in args.caps)}]", f"rank.bootstrap={args.bootstrap}",
           f"rank.band_sample={args.band_sample}",
           f"rank.search_picks={str(args.search_picks).lower()}", f"rank.pick_budget={args.pick_budget}",
           f"rank.pick_seeds={args.pick_seeds}", f"rank.zero_cost_picks={str(args.zero_cost_picks).lower()}"]
    if args.no_zero_cost:
        out.append("rank.zero_cost=[]")
    if args.fuse:
        out.append(f"rank.fuse={args.fuse}")
    return out


def _row(label: str, seed: int, args, result, state, train_seconds: float, rank_seconds: float) -> dict:
    s = result.summary
    row = {"sampler": label, "sample_seed": seed, "fidelity": args.fidelity, "n_archs": s["n"],
           "tau": s["tau"], "tau_ci_low": s["tau_ci_low"], "tau_ci_high": s["tau_ci_high"], "rho": s["rho"],
           "top_k_overlap": s["top_k_overlap"], **{f"tau_{p}": v["tau"] for p, v in s["proxies"].items()}}
    for metric, value in s["constrained"]["supernet"].items():
        row[METRIC_COLUMNS.get(metric, f"{metric}_tau")] = value
    for metric, n in s.get("constrained_archs", {}).items():
        row[f"{metric}_n"] = n
    for metric, vs in s["vs_best_proxy_by_metric"].items():
        prefix = "gain" if metric == "global" else f"{metric}_gain"
        row.update({f"{prefix}_best_proxy": vs["proxy"], f"{prefix}": vs["gain"], f"{prefix}_ci_low": vs["ci_low"],
                    f"{prefix}_ci_high": vs["ci_high"], f"{prefix}_p_not_better": vs["p_not_better"]})
    if "fused" in s:
        row.update({"fused_tau": s["fused"]["tau"], "fused_gain": s["fused"]["vs_best_proxy"]["gain"],
                    "fused_gain_ci_low": s["fused"]["vs_best_proxy"]["ci_low"],
                    "fused_gain_ci_high": s["fused"]["vs_best_proxy"]["ci_high"]})
    picks = s.get("picks", {})
    for cap in args.caps:
        label_cap = f"{cap / 1e6:g}M"
        proxies = {p: v[label_cap]["regret"] for p, v in picks.items()
                   if label_cap in v and p not in ("supernet", "random") and not p.startswith("fused_")}
        if proxies:
            best = min(proxies, key=proxies.get)
            row.update({f"best_proxy_pick_{label_cap}": best, f"best_proxy_regret_{label_cap}": proxies[best]})
        if "random" in picks and label_cap in picks["random"]:
            row[f"random_regret_{label_cap}"] = picks["random"][label_cap]["regret"]
        for name in ("supernet", "fused"):  # NSGA-II's pick, and the fused score's among what it evaluated
            key = "supernet" if name == "supernet" else f"fused_{args.fuse}"
            if key in picks and label_cap in picks[key]:
                row[f"{name}_regret_{label_cap}"] = picks[key][label_cap]["regret"]
                row[f"{name}_regret_{label_cap}_per_seed"] = " ".join(
                    f"{r:.2f}" for r in picks[key][label_cap].get("per_seed", []))
    row.update({"train_minutes": train_seconds / 60, "rank_minutes": rank_seconds / 60,
                "train_steps": state["train"]["step"],
                "final_train_acc": state["history"][-1]["train_acc"] if state["history"] else float("nan"),
                **environment()})
    return row


def _long_tables(label: str, seed: int, out: Path) -> dict[str, pd.DataFrame]:
    glob = pd.read_csv(out / "ranking_summary.csv")[["predictor", "tau", "tau_ci_low", "tau_ci_high"]]
    glob = glob.rename(columns={"tau_ci_low": "ci_low", "tau_ci_high": "ci_high"}).assign(metric="global")
    metrics = pd.concat([glob, pd.read_csv(out / "ranking_constrained.csv")], ignore_index=True)
    tables = {"metrics": metrics, "gains": pd.read_csv(out / "ranking_gains.csv")}
    if (out / "ranking_picks.csv").is_file():
        tables["picks"] = pd.read_csv(out / "ranking_picks.csv", dtype={"arch": str})
    return {k: v.assign(sampler=label, sample_seed=seed) for k, v in tables.items()}


def _merge(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Keep rows of other (sampler, sample_seed) pairs already in ``path`` (samplers run one at a time)."""
    if path.exists():
        old = pd.read_csv(path, dtype={"arch": str})  # genome strings keep their leading zeros
        if "sample_seed" not in old:
            old["sample_seed"] = 0
        keys = set(zip(frame["sampler"], frame["sample_seed"]))
        keep = [(a, b) not in keys for a, b in zip(old["sampler"], old["sample_seed"])]
        frame = pd.concat([old[keep], frame], ignore_index=True)
    write_csv(path, frame)
    return frame


def _markdown(frame: pd.DataFrame, caps: list[float]) -> str:
    def cell(v) -> str:
        return f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))

    def table(cols: list[str]) -> list[str]:
        cols = [c for c in cols if c in frame.columns]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        return lines + ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in frame.to_dict("records")]

    proxies = [c for c in frame.columns if c.startswith("tau_") and c not in ("tau_ci_low", "tau_ci_high")]
    md = ["Global Kendall tau (supernet, every free proxy) and the gain over the best proxy (paired bootstrap):", ""]
    md += table(["sampler", "sample_seed", "n_archs", "tau", "tau_ci_low", "tau_ci_high", *proxies, "gain_best_proxy",
                 "gain", "gain_ci_low", "gain_ci_high", "gain_p_not_better", "fused_tau", "fused_gain",
                 "fused_gain_ci_low", "fused_gain_ci_high", "train_minutes", "rank_minutes"])
    bands = [f"band_{c / 1e6:g}M" for c in caps]
    md += ["", "Tau inside equal-depth groups and FLOPs bands (0.8 cap..cap), gain over that metric's best proxy:", ""]
    md += table(["sampler", "sample_seed", "depth_tau", "depth_group_gain_best_proxy", "depth_group_gain",
                 "depth_group_gain_ci_low", "depth_group_gain_ci_high",
                 *[c for b in bands for c in (f"{b}_n", f"{b}_tau", f"{b}_gain_best_proxy", f"{b}_gain",
                                              f"{b}_gain_ci_low", f"{b}_gain_ci_high")]])
    labels = [f"{c / 1e6:g}M" for c in caps]
    md += ["", "Pick regret per cap (points below the table's best under the cap): NSGA-II over the supernet "
           "(mean over seeds), the fused score's pick among the archs each search evaluated, the best free "
           "proxy's pick over the whole table, a random feasible pick:", ""]
    md += table(["sampler", "sample_seed", *[c for lab in labels for c in (
        f"supernet_regret_{lab}", f"supernet_regret_{lab}_per_seed", f"fused_regret_{lab}",
        f"fused_regret_{lab}_per_seed", f"best_proxy_pick_{lab}", f"best_proxy_regret_{lab}",
        f"random_regret_{lab}")]])
    return "\n".join(md) + "\n"


def main() -> None:
    args = _args()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    register_configs()
    runtime.tune_cpu_allocator()  # as the CLI does (fair steps spent 22 % of their time in page faults without)
    rows, longs = [], {"metrics": [], "gains": [], "picks": []}
    for spec in args.samplers:
        sampler, options, label = _label(spec, args.label)
        name = f"cifar_{label}" + ("" if args.fidelity == "cpu" else f"_{args.fidelity}")
        common = ["data=cifar10_npz", f"sampler={sampler}", *(f"sampler.{k}={v}" for k, v in options),
                  f"name={name}", f"runtime.threads={args.threads}",
                  "runtime.progress=false", *FIDELITY[args.fidelity], *args.override]
        out = Path("runs") / name
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            train_cfg = compose("train", common)
            rank_cfgs = {seed: compose("rank", common + _rank_overrides(args, seed)) for seed in args.sample_seeds}
        ckpt = Path("checkpoints") / f"{name}.pt"
        start = time.time()
        if not (ckpt.exists() and load_checkpoint(ckpt)["train"]["complete"]):
            train_supernet(train_cfg, out)
        state = load_checkpoint(ckpt)
        train_seconds = sum(r["seconds"] for r in state["history"]) if state["history"] else time.time() - start
        for seed, rank_cfg in rank_cfgs.items():
            start = time.time()
            result = rank(rank_cfg, out / f"rank_seed{seed}")
            rows.append(_row(label, seed, args, result, state, train_seconds, time.time() - start))
            for key, table in _long_tables(label, seed, out / f"rank_seed{seed}").items():
                longs[key].append(table)
            print(json.dumps({k: rows[-1].get(k) for k in ("sampler", "sample_seed", "tau", "depth_tau", "gain",
                                                            "depth_group_gain")}), flush=True)
    RESULTS.mkdir(exist_ok=True)
    stem = f"ranking_cifar10_{args.fidelity}" + (f"_{args.tag}" if args.tag else "")
    frame = _merge(RESULTS / f"{stem}.csv", pd.DataFrame(rows))
    for key, tables in longs.items():
        if tables:
            _merge(RESULTS / f"{stem}_{key}.csv", pd.concat(tables, ignore_index=True))
    md = _markdown(frame, args.caps)
    write_text(RESULTS / f"{stem}.md", md)
    print(md)


if __name__ == "__main__":
    main()
