"""One short CIFAR-10 run per training mode: wall time per step and supernet accuracy of a few archs.

    python benchmarks/cifar_modes.py [--progressive-images 5000]

uniform and fair: the nas_bench_macro checkpoints of benchmarks/ranking_cifar10.py
(checkpoints/cifar_{uniform,fair}.pt, 10,000 images, 15 epochs; trained there if absent).
progressive: trains the elastic ofa_like_cifar supernet with the OFA phases (largest ->
kernel -> depth -> expand, one epoch each) on a CIFAR-10 subset. For each mode: seconds
per optimizer step and per image from its metrics, and the BN-recalibrated validation
accuracy of the largest, the smallest and two seeded random archs (prefix-shared
evaluator, 1000 recal / 2000 val images). Data: the offline JPEG-decoded CIFAR-10 copy.
Writes benchmarks/results/cifar_modes.csv and .md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

from oneshot import build, runtime  # noqa: E402
from oneshot.config import register_configs  # noqa: E402
from oneshot.evaluate import EvalSettings  # noqa: E402
from oneshot.evaluate.prefix import PrefixSharingEvaluator  # noqa: E402
from oneshot.evaluate.supernet_evaluator import load_supernet  # noqa: E402
from oneshot.paths import conf_dir  # noqa: E402
from oneshot.train.checkpoint import load_checkpoint  # noqa: E402
from oneshot.workflows.train import train_supernet  # noqa: E402

PHASES = ("[{name:largest,dims:[],epochs:1,lr:0.05},{name:kernel,dims:[kernel],epochs:1,lr:0.03},"
          "{name:depth,dims:[kernel,depth],epochs:1,lr:0.02,archs_per_step:2},"
          "{name:expand,dims:[kernel,depth,expand],epochs:1,lr:0.02,archs_per_step:2}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--progressive-images", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    register_configs()
    runtime.set_threads(args.threads)
    runtime.tune_cpu_allocator()
    modes = {
        "uniform": ["sampler=uniform", "name=cifar_uniform", "train=cifar_cpu", "data.train_images=10000"],
        "fair": ["sampler=fair", "name=cifar_fair", "train=cifar_cpu", "data.train_images=10000"],
        "progressive": ["space=ofa_like_cifar", "supernet=elastic", "sampler=progressive", "name=cifar_progressive",
                        f"data.train_images={args.progressive_images}", "train=cifar_cpu",
                        f"sampler.phases={PHASES}"],
    }
    rows = []
    for mode, overrides in modes.items():
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", ["data=cifar10_npz", f"runtime.threads={args.threads}", "runtime.progress=false",
                                    *overrides])
        ckpt = build.checkpoint_path(cfg)
        if not (ckpt.exists() and load_checkpoint(ckpt)["train"]["complete"]):
            train_supernet(cfg, Path("runs") / cfg.name)
        state = load_checkpoint(ckpt)
        hist = pd.DataFrame(state["history"])
        model, space, _ = load_supernet(ckpt)
        data = build.data_from_config(cfg, space)
        ev = PrefixSharingEvaluator(model, space, data, EvalSettings(), device="cpu", progress=False)
        archs = {"largest": space.largest(), "smallest": space.smallest(),
                 **{f"random{i}": a for i, a in enumerate(space.sample(np.random.default_rng(0), 2))}}
        accs = ev.evaluate(list(archs.values()))
        row = {"mode": mode, "space": space.name, "train_images": len(data.train), "epochs": len(hist),
               "steps": int(state["train"]["step"]), "seconds": float(hist.seconds.sum()),
               "seconds_per_step": float(hist.seconds.sum() / state["train"]["step"]),
               "ms_per_image": 1000 * float(hist.seconds.sum() / (len(hist) * len(data.train))),
               **{f"acc_{k}": float(a) for k, a in zip(archs, accs.accuracy)},
               **{f"arch_{k}": str(a) for k, a in zip(archs, accs.arch)}, **environment()}
        rows.append(row)
        print({k: row[k] for k in ("mode", "seconds_per_step", "acc_largest", "acc_smallest")})
    frame = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / "cifar_modes.csv", index=False)
    md = ["| mode | space | train images x epochs | steps | s / step | ms / image | acc largest | acc smallest | "
          "acc random 0 | acc random 1 |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['mode']} | {r['space']} | {r['train_images']} x {r['epochs']} | {r['steps']} | "
                  f"{r['seconds_per_step']:.3f} | {r['ms_per_image']:.2f} | {r['acc_largest']:.1f} | "
                  f"{r['acc_smallest']:.1f} | {r['acc_random0']:.1f} | {r['acc_random1']:.1f} |")
    (RESULTS / "cifar_modes.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
