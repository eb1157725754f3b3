"""Supernet training throughput vs the same arch trained stand-alone.

    python benchmarks/train_throughput.py [--device auto] [--batch 64] [--repeats 20]

(1) images/s of a supernet training step (forward + backward + SGD step on one path
    of the nas_bench_macro supernet) vs the identical arch as a stand-alone network,
    same batch, timed interleaved in one run; the ratio is the cost of weight
    sharing (goal >= 0.95).
Evaluator speed (archs/minute with BN recalibration) has its own benchmark:
benchmarks/evaluator_speed.py. Writes benchmarks/results/train_throughput_<device>.csv.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, interleaved_medians, write_results  # noqa: E402

from oneshot import runtime  # noqa: E402
from oneshot.space import load_space  # noqa: E402
from oneshot.supernet import SubNet, SuperNet  # noqa: E402


def step_fn(model, arch, x, y, channels_last):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x, arch) if arch is not None else model(x)
        F.cross_entropy(out, y).backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    runtime.set_threads(args.threads)
    device = runtime.resolve_device(args.device)
    channels_last = device.type == "cuda"
    space = load_space("nas_bench_macro")
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    rows = []
    for arch_str in ["22212220", "11111111", "21102110"]:
        arch = space.parse(arch_str)
        supernet = SuperNet(space).to(device)
        standalone = SubNet.build(space, arch).to(device)
        t = interleaved_medians({"supernet": step_fn(supernet, arch, x, y, channels_last),
                                 "standalone": step_fn(standalone, None, x, y, channels_last)},
                                repeats=args.repeats, warmup=3, device=device)
        rows.append({"arch": arch_str, "device": device.type, "batch": args.batch,
                     "supernet_img_s": args.batch / t["supernet"], "standalone_img_s": args.batch / t["standalone"],
                     "ratio": t["standalone"] / t["supernet"], **environment()})
        print(f"{arch_str}: supernet {rows[-1]['supernet_img_s']:.0f} img/s, stand-alone "
              f"{rows[-1]['standalone_img_s']:.0f} img/s, ratio {rows[-1]['ratio']:.3f}")
    print("wrote", write_results(f"train_throughput_{device.type}", rows))



if __name__ == "__main__":
    main()
