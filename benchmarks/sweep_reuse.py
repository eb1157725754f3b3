"""One supernet, a 4-constraint sweep, run cold and then warm: what the shared cache saves.

    python benchmarks/sweep_reuse.py [--caps 20e6 30e6 40e6 60e6]

Trains (or reuses) a small digits supernet, then runs the same sweep of NSGA-II
searches (one per FLOPs cap) twice over one evaluator cache: cold (empty cache) and
warm. Reports, per job, the archs the search asked for, how many the evaluator had to
compute, and the wall time. Writes benchmarks/results/sweep_reuse.csv and .md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot.config import register_configs  # noqa: E402
from oneshot.evaluate import EvalCache  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402
from oneshot.workflows.search import run_search_from_config  # noqa: E402
from oneshot.workflows.train import train_supernet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--caps", nargs="+", default=["20e6", "30e6", "40e6", "60e6"])
    ap.add_argument("--work", default="runs/sweep_reuse")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    register_configs()
    work = Path(args.work)
    cache = work / "cache.sqlite"
    if cache.exists():
        cache.unlink()
    common = [f"checkpoint={work}/supernet.pt", f"runtime.threads={args.threads}", "runtime.progress=false",
              "evaluator=quick", f"evaluator.cache={cache}"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        train_cfg = compose("train", common + ["train.epochs=3", "train.resume=true"])
        jobs = {cap: compose("search", common + [f"constraint.flops_max={cap}", "search=quick"]) for cap in args.caps}
    train_supernet(train_cfg, work)
    rows = []
    for run in ("cold", "warm"):
        for cap, cfg in jobs.items():
            before = EvalCache(cache).count() if cache.exists() else 0
            start = time.time()
            result = run_search_from_config(cfg, work / run / cap)
            seconds = time.time() - start
            ev_archs = int(result.history["evaluations"].iloc[-1])
            computed = EvalCache(cache).count() - before  # rows the supernet had to compute
            rows.append({"run": run, "flops_max": float(cap), "archs_evaluated": ev_archs, "computed": computed,
                         "cache_hit_rate": 1 - computed / max(1, ev_archs),
                         "seconds": seconds, **environment()})
            print(rows[-1]["run"], cap, rows[-1]["archs_evaluated"], rows[-1]["computed"], f"{rows[-1]['seconds']:.1f}s")
    frame = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / "sweep_reuse.csv", index=False)
    total = frame.groupby("run")[["archs_evaluated", "computed", "seconds"]].sum()
    md = ["| run | job (FLOPs cap) | archs evaluated | computed by the supernet | cache hit rate | seconds |",
          "|---|---|---:|---:|---:|---:|"]
    md += [f"| {r.run} | {r.flops_max:.0e} | {r.archs_evaluated} | {r.computed} | {r.cache_hit_rate:.2f} | "
           f"{r.seconds:.1f} |" for r in frame.itertuples()]
    for run, r in total.iterrows():
        md.append(f"| **{run} total** | | {int(r.archs_evaluated)} | {int(r.computed)} | | {r.seconds:.1f} |")
    (RESULTS / "sweep_reuse.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
