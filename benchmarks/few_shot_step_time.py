"""Benchmark: Trainer step time of a few-shot split (K sub-supernets) vs the one-shot supernet.

Full ``Trainer.train_step()`` calls on CPU, nas_bench_macro, synthetic 32x32 images, batch 64:
one-shot ``SuperNet`` vs ``FewShotSuperNet`` split on layer 1 (K=3, round robin), for the
uniform and the fair sampler. Timed round-robin and reported as medians (a shared machine
slows all rows alike), plus the checkpoint size of each model.

    python benchmarks/few_shot_step_time.py [--reps 15] [--threads 2] [--batch 64] [--space tests/conf/space/tiny.yaml]

Writes ``benchmarks/results/few_shot_step_time.csv`` and ``.md``.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, environment, interleaved_medians, markdown_table  # noqa: E402
from oneshot.data import load_synthetic  # noqa: E402
from oneshot.sampling import FairSampler, UniformSampler  # noqa: E402
from oneshot.sampling.few_shot import FewShotSampler  # noqa: E402
from oneshot.space import load_space  # noqa: E402
from oneshot.supernet import SuperNet  # noqa: E402
from oneshot.supernet.few_shot import FewShotSuperNet  # noqa: E402
from oneshot.train import Trainer, TrainSettings  # noqa: E402


def trainers(batch: int, split_layers: list[int], space_name: str) -> dict[str, Trainer]:
    space = load_space(space_name)
    data = load_synthetic(size=space.input_size, channels=3, num_classes=space.num_classes, train_images=batch * 12,
                          val_images=batch, test_images=batch)
    settings = TrainSettings(epochs=1000, batch_size=batch, lr=0.05, seed=0)
    out = {}
    for kind, make in [("uniform", lambda a=None: UniformSampler(space, seed=0, allowed=a)),
                       ("fair", lambda a=None: FairSampler(space, seed=0, allowed=a))]:
        torch.manual_seed(0)
        out[f"one-shot {kind}"] = Trainer(SuperNet(space), make(), data, settings, device="cpu", progress=False)
        few = FewShotSuperNet(space, split_layers)
        sampler = FewShotSampler([make(few.split.allowed(k)) for k in range(len(few.split))], few.split.to_dict())
        out[f"few-shot K={len(few.split)} {kind}"] = Trainer(few, sampler, data, settings, device="cpu",
                                                            progress=False)
    return out


def checkpoint_mb(trainer: Trainer) -> float:
    buf = io.BytesIO()
    torch.save(trainer.state_dict(), buf)
    return buf.tell() / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--split-layers", type=int, nargs="+", default=[1])
    p.add_argument("--space", default="nas_bench_macro", help="preset name or yaml path (tests/conf/space/tiny.yaml)")
    p.add_argument("--out", default="few_shot_step_time", help="results file stem")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runs = trainers(args.batch, args.split_layers, args.space)
    medians = interleaved_medians({k: t.train_step for k, t in runs.items()}, args.reps, args.warmup,
                                  torch.device("cpu"))
    rows = []
    for name, t in runs.items():
        base = medians[f"one-shot {name.split()[-1]}"]  # same sampler, one-shot supernet
        rows.append({"row": name, "median_s_per_step": round(medians[name], 4),
                     "ratio_vs_one_shot": round(medians[name] / base, 3),
                     "archs_per_step": len(t.sampler.step_archs(0)), "checkpoint_mb": round(checkpoint_mb(t), 1),
                     "reps": args.reps, "threads": args.threads, "batch": args.batch, "space": args.space})
    df = pd.DataFrame(rows)
    env = environment()
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / f"{args.out}.csv", index=False)
    md = [f"# Few-shot vs one-shot Trainer step ({env['date']}, {env['threads']} threads, load {env['load_avg_1m']})",
          "", markdown_table(df), ""]
    (RESULTS / f"{args.out}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
