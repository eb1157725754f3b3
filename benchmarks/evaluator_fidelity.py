"""How many images do BN recalibration and validation need? Tau and seconds per arch.

    python benchmarks/evaluator_fidelity.py --checkpoint checkpoints/cifar_fair.pt [--archs 100] [--grid full]

On one fixed CIFAR-10 supernet checkpoint (trained on the offline JPEG-decoded copy) and a
seeded FLOPs-stratified sample of canonical nas_bench_macro archs, evaluate every arch with
each recalibration / validation size of the grid: recal in {250, 500, 1000, 2000} x val in
{500, 1000, 2000, 5000} (``--grid full``), or the cross through 1000 / 2000 (``--grid cross``).
For each: Kendall tau vs NAS-Bench-Macro (its mean accuracy over seeds), its difference
from the 2000/2000 setting's tau with a paired bootstrap CI, tau vs the 2000/2000 ranking,
and evaluator wall seconds per arch (prefix-shared, this machine, run alone). Each
setting's accuracies are kept in evaluator_fidelity_accuracies.csv, so an interrupted
study resumes where it stopped. Writes benchmarks/results/evaluator_fidelity.csv
and .md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot import runtime  # noqa: E402
from oneshot.data import load_arrays  # noqa: E402
from oneshot.evaluate import EvalSettings  # noqa: E402
from oneshot.evaluate.ground_truth import nas_bench_macro_truth  # noqa: E402
from oneshot.evaluate.prefix import PrefixSharingEvaluator  # noqa: E402
from oneshot.evaluate.ranking import kendall_tau, paired_tau_gain, proxy_scores, stratified_sample  # noqa: E402
from oneshot.evaluate.supernet_evaluator import load_supernet  # noqa: E402
from oneshot.io import write_csv  # noqa: E402
from oneshot.paths import shared_data_dir  # noqa: E402

RECAL, VAL = (250, 500, 1000, 2000), (500, 1000, 2000, 5000)
GRIDS = {
    "full": [(r, v) for r in RECAL for v in VAL],
    "cross": [(r, 2000) for r in RECAL] + [(1000, v) for v in VAL if v != 2000] + [(2000, 5000)],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/cifar_fair.pt")
    ap.add_argument("--archs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid", choices=sorted(GRIDS), default="full")
    ap.add_argument("--train-images", type=int, default=None,
                    help="as the supernet was trained with (default: all 45,000)")
    args = ap.parse_args()
    runtime.set_threads(args.threads)
    runtime.tune_cpu_allocator()
    model, space, _ = load_supernet(args.checkpoint)
    data = load_arrays(shared_data_dir() / "cifar10" / "cifar10_from_jpeg.npz", val_images=5000,
                       train_images=args.train_images, seed=0)
    archs = stratified_sample(space, args.archs, seed=0)
    truth = nas_bench_macro_truth(space).accuracy(archs)
    proxies = proxy_scores(space, archs)
    store = RESULTS / "evaluator_fidelity_accuracies.csv"
    done = pd.read_csv(store, dtype={"arch": str}) if store.exists() else pd.DataFrame()
    if not done.empty and (done["checkpoint"].iloc[0] != args.checkpoint
                           or list(done["arch"]) != [str(a) for a in archs]):
        done = pd.DataFrame()  # another checkpoint or sample: start over
    results, rows = {}, []
    for recal, val in GRIDS[args.grid]:
        col = f"{recal}/{val}"
        if col in done:
            acc, sec = done[col].to_numpy(), float(done[f"{col} s"].iloc[0])
        else:
            ev = PrefixSharingEvaluator(model, space, data, EvalSettings(recal_images=recal, val_images=val),
                                        device="cpu", progress=False)
            start = time.perf_counter()
            acc = ev.evaluate(archs).accuracy.to_numpy()
            sec = (time.perf_counter() - start) / len(archs)
            if done.empty:
                done = pd.DataFrame({"checkpoint": args.checkpoint, "arch": [str(a) for a in archs]})
            done[col], done[f"{col} s"] = acc, sec
            RESULTS.mkdir(exist_ok=True)
            write_csv(store, done)
        results[(recal, val)] = acc
        rows.append({"recal_images": recal, "val_images": val, "tau_vs_nas_bench_macro": kendall_tau(acc, truth),
                     "seconds_per_arch": sec})
        print(rows[-1])
    ref = results[(2000, 2000)]
    for row in rows:
        acc = results[(row["recal_images"], row["val_images"])]
        row["tau_vs_2000_2000"] = kendall_tau(acc, ref)
        gain = paired_tau_gain(acc, ref, truth, seed=0)  # same resampled archs for both settings
        row.update(gain_vs_2000_2000=gain["gain"], gain_ci_low=gain["ci_low"], gain_ci_high=gain["ci_high"])
    for name, score in proxies.items():
        rows.append({"recal_images": None, "val_images": None, "proxy": name,
                     "tau_vs_nas_bench_macro": kendall_tau(score, truth)})
    frame = pd.DataFrame(rows)
    for k, v in environment().items():
        frame[k] = v
    frame["checkpoint"] = args.checkpoint
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / "evaluator_fidelity.csv", index=False)
    md = ["| recal images | val images | tau vs NAS-Bench-Macro | minus 2000/2000's [paired 95 % CI] "
          "| tau vs 2000/2000 ranking | s / arch |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("proxy"):
            md.append(f"| proxy: {r['proxy']} | | {r['tau_vs_nas_bench_macro']:.3f} | | | 0 |")
        else:
            md.append(f"| {r['recal_images']} | {r['val_images']} | {r['tau_vs_nas_bench_macro']:.3f} | "
                      f"{r['gain_vs_2000_2000']:+.3f} [{r['gain_ci_low']:+.3f}, {r['gain_ci_high']:+.3f}] | "
                      f"{r['tau_vs_2000_2000']:.3f} | {r['seconds_per_arch']:.2f} |")
    (RESULTS / "evaluator_fidelity.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
