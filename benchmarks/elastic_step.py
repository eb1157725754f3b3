"""Micro benchmark: training-step time of the elastic supernet vs the same arch stand-alone.

One step = forward + cross-entropy + backward (no optimizer), batch 64, CPU, on
``ofa_like_cifar``. For the largest, a middle and the smallest arch it times
``ElasticSuperNet(x, arch)`` and ``ElasticSuperNet.extract(arch)`` (plain MBConv blocks)
interleaved, and reports medians and their ratio (the cost of slicing/transforming the
shared weights on every call). ``load1`` is the machine's 1-minute load average at the end
of a row: on a shared machine absolute times vary with it, the ratio much less. Writes ``benchmarks/results/elastic_step.csv``.

    python benchmarks/elastic_step.py [--threads 1] [--steps 10] [--space ofa_like_cifar]
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from oneshot.space import CostModel, load_space
from oneshot.supernet import ElasticSuperNet, largest_arch, sample_arch, smallest_arch

RESULTS = Path(__file__).resolve().parent / "results" / "elastic_step.csv"


def step_time(model: torch.nn.Module, arch, x: torch.Tensor, y: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    F.cross_entropy(model(x, arch), y).backward()
    return time.perf_counter() - start


def bench(space_name: str, batch: int, steps: int, warmup: int, seed: int) -> list[dict]:
    space = load_space(space_name)
    torch.manual_seed(seed)
    net = ElasticSuperNet(space).train()
    cost = CostModel(space)
    x = torch.randn(batch, space.in_channels, space.input_size, space.input_size)
    y = torch.randint(0, space.num_classes, (batch,))
    archs = {"largest": largest_arch(space),
             "random": sample_arch(space, ("kernel", "depth", "expand"), np.random.default_rng(seed)),
             "smallest": smallest_arch(space)}
    rows = []
    for label, arch in archs.items():
        sub = net.extract(arch).train()
        times: dict[str, list[float]] = {"elastic": [], "subnet": []}
        for i in range(warmup + steps):
            for kind, model in (("elastic", net), ("subnet", sub)):
                t = step_time(model, arch, x, y)
                if i >= warmup:
                    times[kind].append(t)
        el, st = statistics.median(times["elastic"]), statistics.median(times["subnet"])
        rows.append({"space": space_name, "arch_label": label, "arch": str(arch),
                     "mflops": round(float(cost.flops([arch])[0]) / 1e6, 2), "batch": batch,
                     "threads": torch.get_num_threads(), "steps": steps,
                     "elastic_ms": round(el * 1e3, 2), "subnet_ms": round(st * 1e3, 2),
                     "ratio": round(el / st, 3), "load1": round(os.getloadavg()[0], 2),
                     "torch": torch.__version__,
                     "cpu": platform.processor() or platform.machine()})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="ofa_like_cifar")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = bench(args.space, args.batch, args.steps, args.warmup, args.seed)
    write_csv(rows, args.out)
    for r in rows:
        print(f"{r['arch_label']:>8} {r['arch']} {r['mflops']:6.2f} MFLOPs  elastic {r['elastic_ms']:7.1f} ms"
              f"  subnet {r['subnet_ms']:7.1f} ms  ratio {r['ratio']:.3f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
