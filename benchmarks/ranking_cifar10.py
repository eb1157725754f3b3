"""Sampler comparison on CIFAR-10: Kendall tau of each supernet vs NAS-Bench-Macro.

    python benchmarks/ranking_cifar10.py [--samplers uniform fair] [--fidelity cpu|gpu]

For each sampler: train a nas_bench_macro supernet on the offline JPEG-decoded CIFAR-10
copy (../shared/data/cifar10/cifar10_from_jpeg.npz; its pixels are lossy while the
NAS-Bench-Macro accuracies come from the genuine images) -- or reuse
checkpoints/cifar_<sampler>.pt if it is complete -- then rank a seeded, FLOPs-stratified
sample of canonical archs by supernet accuracy (BN recalibrated per arch) against the
table's mean accuracy, next to the free proxies (FLOPs, params, non-identity layers)
on the same sample. No setting here was tuned on this sample.

CPU fidelity: 10,000 training images, 15 epochs of batch 64 (conf/train/cifar_cpu.yaml).
GPU fidelity: all 45,000 training images, 100 epochs (conf/train/cifar_gpu.yaml).
Writes benchmarks/results/ranking_cifar10.csv and .md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot.config import register_configs  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402
from oneshot.train.checkpoint import load_checkpoint  # noqa: E402
from oneshot.workflows.rank import rank  # noqa: E402
from oneshot.workflows.train import train_supernet  # noqa: E402

FIDELITY = {
    "cpu": ["train=cifar_cpu"],
    "gpu": ["train=cifar_gpu"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samplers", nargs="+", default=["uniform", "fair"])
    ap.add_argument("--fidelity", choices=sorted(FIDELITY), default="cpu")
    ap.add_argument("--sample-size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--evaluator", default="default", help="evaluator preset (recal / val sizes)")
    args = ap.parse_args()
    register_configs()
    rows = []
    for sampler in args.samplers:
        name = f"cifar_{sampler}" + ("" if args.fidelity == "cpu" else "_gpu")
        common = ["data=cifar10_npz", f"sampler={sampler}", f"name={name}", f"runtime.threads={args.threads}",
                  "runtime.progress=false", *FIDELITY[args.fidelity]]
        out = Path("runs") / name
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            train_cfg = compose("train", common)
            rank_cfg = compose("rank", common + [f"evaluator={args.evaluator}",
                                                 f"rank.sample_size={args.sample_size}"])
        ckpt = Path("checkpoints") / f"{name}.pt"
        start = time.time()
        if not (ckpt.exists() and load_checkpoint(ckpt)["train"]["complete"]):
            train_supernet(train_cfg, out)
        state = load_checkpoint(ckpt)
        train_seconds = sum(r["seconds"] for r in state["history"]) if state["history"] else time.time() - start
        start = time.time()
        result = rank(rank_cfg, out / "rank")
        rank_seconds = time.time() - start
        s = result.summary
        row = {"sampler": sampler, "fidelity": args.fidelity, "n_archs": s["n"], "tau": s["tau"],
               "tau_ci_low": s["tau_ci_low"], "tau_ci_high": s["tau_ci_high"], "rho": s["rho"],
               "top_k_overlap": s["top_k_overlap"],
               **{f"tau_{p}": v["tau"] for p, v in s["proxies"].items()},
               "train_minutes": train_seconds / 60, "rank_minutes": rank_seconds / 60,
               "final_train_acc": state["history"][-1]["train_acc"] if state["history"] else float("nan"),
               **environment()}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("sampler", "tau", "tau_ci_low", "tau_ci_high")}))
    frame = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / f"ranking_cifar10_{args.fidelity}.csv", index=False)
    cols = ["sampler", "n_archs", "tau", "tau_ci_low", "tau_ci_high", "rho", "top_k_overlap", "tau_flops",
            "tau_params", "tau_non_identity", "train_minutes", "rank_minutes"]
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        md.append("| " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    (RESULTS / f"ranking_cifar10_{args.fidelity}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
