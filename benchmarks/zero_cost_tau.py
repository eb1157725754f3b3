"""Zero-cost proxies vs NAS-Bench-Macro: Kendall tau of every free proxy on the ranking samples (no supernet).

    python benchmarks/zero_cost_tau.py [--seeds 0 1 2] [--sizes 100 100 500] [--batch-size 64]

For each sample seed: the same seeded FLOPs-stratified sample of canonical archs that
``oneshot-rank`` / ``benchmarks/ranking_cifar10.py`` rank, every zero-cost proxy computed on
the arch's stand-alone network at its seeded init with a seeded minibatch of the offline
CIFAR-10 copy (../shared/data/cifar10/cifar10_from_jpeg.npz), plus FLOPs / params /
non-identity layers; tau (bootstrap CI), tau inside equal-depth groups, against the table's
mean accuracy. Scores go to the evaluator cache (checkpoints/eval_cache.sqlite by default),
so a rerun or a larger sample recomputes nothing it has. Results are written after each
seed: benchmarks/results/zero_cost_tau.csv and .md, with seconds per arch (wall and CPU).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot import build  # noqa: E402
from oneshot.config import register_configs  # noqa: E402
from oneshot.evaluate.constrained import group_tau_stats  # noqa: E402
from oneshot.evaluate.ground_truth import nas_bench_macro_truth  # noqa: E402
from oneshot.evaluate.ranking import bootstrap_tau, kendall_tau, proxy_scores, stratified_sample  # noqa: E402
from oneshot.evaluate.zero_cost import ZERO_COST_PROXIES, ZeroCostEvaluator, ZeroCostSettings  # noqa: E402
from oneshot.io import write_csv, write_text  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 100, 500], help="sample size per seed")
    ap.add_argument("--proxies", nargs="+", default=list(ZERO_COST_PROXIES))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--init-seed", type=int, default=0, help="network init and minibatch seed")
    ap.add_argument("--cache", default="checkpoints/eval_cache.sqlite")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    if len(args.sizes) != len(args.seeds):
        ap.error(f"--sizes needs one size per seed ({len(args.seeds)}), got {len(args.sizes)}")
    torch.set_num_threads(args.threads)
    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("rank", ["data=cifar10_npz"])
    space = build.space_from_config(cfg)
    data = build.data_from_config(cfg, space)
    truth = nas_bench_macro_truth(space)
    evaluator = ZeroCostEvaluator(space, data, ZeroCostSettings(args.proxies[0], args.batch_size, args.init_seed),
                                  cache=build.resolve_path(args.cache), progress=True)
    rows = []
    for seed, size in zip(args.seeds, args.sizes):
        archs = stratified_sample(space, size, seed)
        acc = truth.accuracy(archs)
        wall, cpu, computed = time.perf_counter(), time.process_time(), evaluator.stats["computed"]
        frames = evaluator.evaluate_many(archs, args.proxies)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        new_archs = (evaluator.stats["computed"] - computed) / max(1, len(args.proxies))
        scores = {**{p: f["score"].to_numpy() for p, f in frames.items()}, **proxy_scores(space, archs)}
        depth = scores["non_identity"].astype(int)
        for name, values in scores.items():
            lo, hi = bootstrap_tau(values, acc, args.bootstrap, seed=seed)
            grouped = group_tau_stats(values, acc, depth, args.bootstrap, seed=seed)
            rows.append({"sample_seed": seed, "n": len(archs), "proxy": name, "tau": kendall_tau(values, acc),
                         "tau_ci_low": lo, "tau_ci_high": hi, "depth_group_tau": grouped["tau"],
                         "depth_group_ci_low": grouped["ci_low"], "depth_group_ci_high": grouped["ci_high"],
                         "batch_size": args.batch_size, "new_archs": new_archs,
                         "wall_s_per_arch": wall / new_archs if new_archs else np.nan,
                         "cpu_s_per_arch": cpu / new_archs if new_archs else np.nan, **environment()})
        write(pd.DataFrame(rows), args.tag)


def write(frame: pd.DataFrame, tag: str) -> None:
    name = f"zero_cost_tau{'_' + tag if tag else ''}"
    write_csv(RESULTS / f"{name}.csv", frame)
    cols = ["sample_seed", "n", "proxy", "tau", "tau_ci_low", "tau_ci_high", "depth_group_tau",
            "depth_group_ci_low", "depth_group_ci_high"]
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame[cols].to_dict("records"):
        md.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    timing = frame.drop_duplicates("sample_seed")[["sample_seed", "new_archs", "wall_s_per_arch", "cpu_s_per_arch",
                                                    "load_avg_1m"]]
    md += ["", "Seconds per newly scored arch (all proxies together; load = 1-minute load average):", "",
           "| sample_seed | new archs | wall s/arch | CPU s/arch | load |", "|---|---|---|---|---|"]
    md += [f"| {r.sample_seed} | {r.new_archs:.0f} | {r.wall_s_per_arch:.2f} | {r.cpu_s_per_arch:.2f} | "
           f"{r.load_avg_1m} |" for r in timing.itertuples()]
    write_text(RESULTS / f"{name}.md", "\n".join(md) + "\n")
    print("\n".join(md), flush=True)


if __name__ == "__main__":
    main()
