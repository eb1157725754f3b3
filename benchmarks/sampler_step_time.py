"""Benchmark: Trainer step time per sampler (fair vs uniform; progressive phases vs uniform).

Every number is a full ``Trainer.train_step()`` (sampling, forward + backward of each arch
of the step, KD teacher forward where the sampler asks for one, gradient clipping, one SGD
step) on CPU, batch 64, synthetic 32x32 data, all measured in the same run:

* ``nas_bench_macro`` (separate-weight supernet): one fair step (``m = 3`` archs, one
  optimizer step) vs ``m`` consecutive uniform steps (``m`` optimizer steps). Expected
  ratio ~1: both run ``m`` forward/backward passes.
* ``ofa_like_cifar`` (elastic supernet): one uniform step vs one progressive-shrinking
  step in each phase of ``conf/sampler/progressive.yaml`` (and the expand phase with
  ``sandwich``). Ratios are per step and per trained arch.

Units are timed round-robin (one unit of every row per repetition, order rotated) and
reported as medians, so a machine shared with other jobs slows all rows alike. The
progressive trainer is placed mid-phase before each timed step (the sampler is a pure
function of the step), never at a phase start, so no channel re-sort is timed.

    python benchmarks/sampler_step_time.py [--reps 12] [--threads 2] [--batch 64]

Writes ``benchmarks/results/sampler_step_time.csv`` and ``.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import yaml

from oneshot.data import load_synthetic
from oneshot.paths import conf_dir
from oneshot.sampling import FairSampler, UniformSampler
from oneshot.sampling.progressive import ProgressiveSampler
from oneshot.space import load_space
from oneshot.supernet import ElasticSuperNet, SuperNet
from oneshot.train import Trainer, TrainSettings

RESULTS = Path(__file__).resolve().parent / "results"


def make_trainer(model: torch.nn.Module, sampler, data, batch: int) -> Trainer:
    settings = TrainSettings(epochs=1, batch_size=batch, lr=0.05, seed=0)
    return Trainer(model, sampler, data, settings, device="cpu", progress=False)


def unit(trainer: Trainer, steps: int = 1,
         at: Callable[[int], int] | None = None) -> Callable[[int], tuple[float, float]]:
    """A timed unit: ``steps`` train steps (placed at step ``at(rep)`` if given);
    returns (wall seconds, process CPU seconds)."""
    def run(rep: int) -> tuple[float, float]:
        if at is not None:
            trainer.step = trainer.batch = at(rep)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            trainer.train_step()
        return time.perf_counter() - wall, time.process_time() - cpu
    return run


def build_units(batch: int) -> list[dict]:
    data = load_synthetic(size=32, channels=3, num_classes=10, train_images=batch * 8, val_images=batch,
                          test_images=batch)
    rows: list[dict] = []
    torch.manual_seed(0)
    macro = load_space("nas_bench_macro")
    fair = FairSampler(macro, seed=0)
    m = fair.m
    rows.append({"group": "nas_bench_macro", "row": f"uniform x{m} steps", "archs": m, "teacher_fwd": 0,
                 "opt_steps": m, "run": unit(make_trainer(SuperNet(macro), UniformSampler(macro, seed=0), data,
                                                          batch), steps=m)})
    rows.append({"group": "nas_bench_macro", "row": f"fair (1 step = {m} archs)", "archs": m, "teacher_fwd": 0,
                 "opt_steps": 1, "run": unit(make_trainer(SuperNet(macro), fair, data, batch))})

    ofa = load_space("ofa_like_cifar")
    rows.append({"group": "ofa_like_cifar", "row": "uniform (1 arch)", "archs": 1, "teacher_fwd": 0,
                 "opt_steps": 1, "run": unit(make_trainer(ElasticSuperNet(ofa), UniformSampler(ofa, seed=0), data,
                                                          batch))})
    conf = yaml.safe_load((conf_dir() / "sampler" / "progressive.yaml").read_text())
    for sandwich in (False, True):
        sampler = ProgressiveSampler(ofa, phases=conf["phases"], sandwich=sandwich, kd_weight=conf["kd_weight"])
        trainer = make_trainer(ElasticSuperNet(ofa), sampler, data, batch)
        for i, phase in enumerate(sampler.phases):
            if sandwich and phase.name != "expand":
                continue
            start, end = sampler.phase_span(i)
            archs = len(sampler.step_archs(start + 1))
            teacher = sum(1 for a in sampler.step_archs(start + 1) if sampler.teacher(start + 1)
                          and tuple(a) != tuple(sampler.largest))
            at = (lambda s, e: lambda rep: s + 1 + rep % max(1, e - s - 1))(start, end)
            label = f"progressive {phase.name}" + (" sandwich" if sandwich else "")
            rows.append({"group": "ofa_like_cifar", "row": f"{label} ({archs} arch{'s' * (archs > 1)})",
                         "archs": archs, "teacher_fwd": teacher, "opt_steps": 1, "run": unit(trainer, at=at)})
    return rows


def measure(rows: list[dict], reps: int, warmup: int) -> None:
    for r in rows:
        r["times"], r["cpu"] = [], []
    for rep in range(warmup + reps):
        k = rep % len(rows)
        for r in rows[k:] + rows[:k]:  # rotate the order every repetition
            wall, cpu = r["run"](rep)
            if rep >= warmup:
                r["times"].append(wall)
                r["cpu"].append(cpu)
        print(f"rep {rep + 1}/{warmup + reps} load1 {os.getloadavg()[0]:.2f}", flush=True)


def table(rows: list[dict], reps: int, threads: int, batch: int) -> pd.DataFrame:
    out = []
    for r in rows:
        ts = sorted(r["times"])
        med = statistics.median(ts)
        q = statistics.quantiles(ts, n=4) if len(ts) > 1 else [med, med, med]
        out.append({"group": r["group"], "row": r["row"], "archs": r["archs"], "teacher_fwd": r["teacher_fwd"],
                    "opt_steps": r["opt_steps"], "median_s": round(med, 4), "q1_s": round(q[0], 4),
                    "q3_s": round(q[2], 4), "cpu_s": round(statistics.median(r["cpu"]), 4),
                    "per_arch_s": round(med / r["archs"], 4), "reps": reps,
                    "threads": threads, "batch": batch})
    df = pd.DataFrame(out)
    base = {g: df[(df.group == g)].iloc[0] for g in df.group.unique()}  # first row of a group = baseline
    df["ratio_vs_baseline"] = [round(r.median_s / base[r.group].median_s, 3) for r in df.itertuples()]
    df["per_arch_ratio"] = [round(r.per_arch_s / base[r.group].per_arch_s, 3) for r in df.itertuples()]
    # paired: median over repetitions of (row time / baseline time in the same repetition),
    # robust to the load drifting between repetitions
    first = {r["group"]: r for r in reversed(rows)}
    df["paired_ratio"] = [round(statistics.median(t / b for t, b in zip(r["times"], first[r["group"]]["times"])), 3)
                          for r in rows]
    df["cpu_ratio"] = [round(r.cpu_s / base[r.group].cpu_s, 3) for r in df.itertuples()]
    return df


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def markdown(df: pd.DataFrame, meta: dict) -> str:
    cols = ["group", "row", "archs", "teacher_fwd", "opt_steps", "median_s", "q1_s", "q3_s", "ratio_vs_baseline",
            "paired_ratio", "per_arch_ratio", "cpu_s", "cpu_ratio"]
    lines = ["# Sampler step time (CPU)", "",
             f"Full `Trainer.train_step()` times, batch {meta['batch']}, {meta['threads']} threads, "
             f"{meta['reps']} interleaved repetitions (medians, quartiles), torch {meta['torch']}, "
             f"{meta['cpu']}, load average {meta['load_start']:.2f} at start / {meta['load_end']:.2f} at end "
             f"(the machine is shared; the ratios are the numbers to read). Baseline of each group = its "
             f"first row; `paired_ratio` = median over repetitions of row / baseline within the same repetition "
             f"(robust to load drift). `teacher_fwd`: extra no-grad forwards of the largest arch for "
             f"distillation (the Trainer runs one per student arch). `cpu_s`: median process CPU time of the "
             f"unit (both threads), less sensitive to other jobs than wall time; `cpu_ratio` its ratio.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df[cols].itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in r) + " |")
    lines += ["", "Reading: a fair step runs the same m forward/backward passes as m uniform steps but one "
              "optimizer step, so its ratio should be ~1 (slightly below). Progressive phases after the first "
              "pay the no-grad teacher forward per student arch (in-place distillation); the full-network "
              "phase trains the largest arch, larger than the average uniform arch.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", type=Path, default=RESULTS / "sampler_step_time.csv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    rows = build_units(args.batch)
    measure(rows, args.reps, args.warmup)
    df = table(rows, args.reps, args.threads, args.batch)
    meta = {"batch": args.batch, "threads": args.threads, "reps": args.reps, "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "load_start": load_start,
            "load_end": os.getloadavg()[0]}
    atomic_write(args.out, df.to_csv(index=False))
    atomic_write(args.out.with_suffix(".md"), markdown(df, meta))
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
