"""Zero-cost proxies' constrained picks over the whole NAS-Bench-Macro table (no supernet).

    python benchmarks/zero_cost_picks.py [--proxies naswot jacob_cov ...] [--caps 20e6 30e6 40e6 60e6]

A user who trusts a zero-cost proxy picks, under a FLOPs cap, the feasible arch it scores highest.
This scores every canonical arch of the table whose FLOPs are under the largest cap (an arch
above every cap can never be picked) with each proxy, on its stand-alone network at the seeded
init with the seeded minibatch ``oneshot-rank`` uses, and reports per cap the pick's regret:
the table's best mean accuracy under the cap minus the pick's (ties: the higher FLOPs, as for
every proxy). Beside them, on the same table: the cost proxies' picks (FLOPs, params,
non-identity layers) and a random feasible pick's expected regret. Scores go to the evaluator
cache (checkpoints/eval_cache.sqlite), one arch at a time, so a stopped run resumes where it
stopped. Rows (proxy, cap) not in this run are kept, so proxies and caps can be added one run at a time.
Writes benchmarks/results/zero_cost_picks.csv and .md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot import build  # noqa: E402
from oneshot.config import register_configs  # noqa: E402
from oneshot.evaluate.constrained import DEFAULT_CAPS, cap_label, pick_regrets  # noqa: E402
from oneshot.evaluate.ground_truth import nas_bench_macro_truth  # noqa: E402
from oneshot.evaluate.ranking import PROXIES  # noqa: E402
from oneshot.evaluate.zero_cost import ZERO_COST_PROXIES, ZeroCostEvaluator, ZeroCostSettings  # noqa: E402
from oneshot.io import write_csv, write_text  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402
from oneshot.workflows.rank_constrained import table_frame, under_largest_cap  # noqa: E402

CSV = RESULTS / "zero_cost_picks.csv"


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxies", nargs="+", default=list(ZERO_COST_PROXIES), choices=list(ZERO_COST_PROXIES))
    ap.add_argument("--caps", type=float, nargs="+", default=list(DEFAULT_CAPS))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--init-seed", type=int, default=0, help="network init and minibatch seed")
    ap.add_argument("--cache", default="checkpoints/eval_cache.sqlite")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


def main() -> None:
    args = _args()
    torch.set_num_threads(args.threads)
    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("rank", ["data=cifar10_npz"])
    space = build.space_from_config(cfg)
    truth = nas_bench_macro_truth(space)
    known = list(dict.fromkeys(space.canonical(a) for a in truth.known()))
    table = table_frame(space, known, truth.accuracy(known))
    cheapest = float(table["flops"].min())
    if min(args.caps) < cheapest:
        print(f"zero_cost_picks.py: --caps {min(args.caps):g} admits no network (the cheapest has "
              f"{cheapest:g} FLOPs): give caps of at least {cheapest:g}", file=sys.stderr)
        raise SystemExit(2)
    table, archs = under_largest_cap(table, known, args.caps)
    data = build.data_from_config(cfg, space)
    evaluator = ZeroCostEvaluator(space, data, ZeroCostSettings(args.proxies[0], args.batch_size, args.init_seed),
                                  cache=build.resolve_path(args.cache), progress=True)
    wall, cpu = time.perf_counter(), time.process_time()
    frames = evaluator.evaluate_many(archs, args.proxies)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    computed = evaluator.stats["computed"] / len(args.proxies)
    scores = {**{p: frames[p]["score"].to_numpy() for p in args.proxies},
              **{p: table[p].to_numpy(float) for p in PROXIES}}
    picks = pick_regrets(table["arch"].tolist(), table["accuracy"], table["flops"], scores, args.caps)
    picks = picks.assign(scored_archs=len(archs), batch_size=args.batch_size, init_seed=args.init_seed,
                         new_archs=computed, wall_s_per_arch=wall / computed if computed else float("nan"),
                         cpu_s_per_arch=cpu / computed if computed else float("nan"), **environment())
    if CSV.exists():
        picks = merge(pd.read_csv(CSV, dtype={"arch": str}), picks)
    write_csv(CSV, picks)
    write_text(CSV.with_suffix(".md"), _markdown(picks))
    print(_markdown(picks), flush=True)


def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` plus the rows of ``old`` whose (predictor, cap) it does not have."""
    new_keys = set(zip(new["predictor"], new["cap"]))
    keep = [k not in new_keys for k in zip(old["predictor"], old["cap"])]
    return pd.concat([old[keep], new], ignore_index=True)


def _markdown(picks: pd.DataFrame) -> str:
    caps = sorted(picks["cap"].unique())
    wide = picks.pivot_table(index="predictor", columns="cap", values="regret", sort=False)
    md = ["Regret (points below the table's best mean accuracy under the cap) of each scorer's pick:", "",
          "| predictor | " + " | ".join(cap_label(c) for c in caps) + " |", "|---|" + "---:|" * len(caps)]
    for name, row in wide.iterrows():
        md.append(f"| {name} | " + " | ".join("" if pd.isna(row[c]) else f"{row[c]:.2f}" for c in caps) + " |")
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
