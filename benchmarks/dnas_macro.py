"""Differentiable search (FBNet, GDAS, ProxylessNAS) on NAS-Bench-Macro with the offline CIFAR-10 copy.

For each method and each cost target (FLOPs ~30M and ~60M, and one latency target on a measured
CPU profile's LUT), run ``oneshot-dnas`` under a budget, then report the derived arch's true
accuracy (the table's mean over its seeds) and cost, next to the table's best arch under the
same cap. ``method=two_stage`` is the answer of the two-stage path on the same budget: ONE
supernet (``--sampler``) trained for the same epochs on the same images, then one NSGA-II search
per target under the hard cap (``constraint.*``), its ``best_subnet.json`` looked up in the table;
its ``seconds`` are the search's, ``train_seconds`` the shared training's.
One row per (method, target, seed) in ``benchmarks/results/dnas_macro[_smoke].csv``; a re-run
skips the rows already there and resumes an interrupted training from its checkpoint (``--work``).

``--init-from CKPT`` runs both paths from ONE trained supernet (stage one of the two-stage path,
e.g. ``checkpoints/cifar_fair.pt`` of ``ranking_cifar10.py``): every DNAS search starts its weights
from it (``supernet.init_from``; the weight-only warm-up FBNet and ProxylessNAS run first is that
training, so ``--warmup-epochs`` defaults to 0) and searches alpha for ``--epochs`` more, while
``two_stage`` searches it with NSGA-II. Every row's ``train_seconds`` is that shared training.
Rows go to ``dnas_macro_from_supernet.csv``.

    python benchmarks/dnas_macro.py --epochs 30 --seeds 0 1 2       # the lead's run (idle machine)
    python benchmarks/dnas_macro.py --epochs 3 --train-images 10000 --seeds 0   # the README's run (~70 min)
    python benchmarks/dnas_macro.py --init-from checkpoints/cifar_fair.pt --epochs 1 \
        --dnas-override train=cifar_cpu train.lr=0.01 train.warmup_epochs=0   # from stage one's supernet
    python benchmarks/dnas_macro.py --smoke                          # a couple of minutes, checks the plumbing
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARCH_COLUMNS = {"arch": str, "table_best_arch": str}  # genome strings keep their leading zeros


def compose(overrides: list[str], app: str = "dnas"):
    from hydra import compose as hydra_compose, initialize_config_dir

    from oneshot.config import register_configs
    from oneshot.paths import conf_dir

    register_configs()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name=app, overrides=overrides)


def table_best(table: pd.DataFrame, cost: np.ndarray, cap: float) -> tuple[str, float, float]:
    """(arch, mean accuracy, cost) of the table's most accurate distinct arch with cost <= cap."""
    ok = cost <= cap
    if not ok.any():
        return "", float("nan"), float("nan")
    i = int(np.argmax(np.where(ok, table["accuracy"].to_numpy(), -np.inf)))
    return str(table["arch"].iloc[i]), float(table["accuracy"].iloc[i]), float(cost[i])


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=["fbnet", "gdas", "proxyless", "two_stage"],
                   help="DNAS methods, and two_stage (supernet + NSGA-II pick)")
    p.add_argument("--sampler", default="fair", help="two_stage: the supernet's sampler")
    p.add_argument("--search-evaluations", type=int, default=400, help="two_stage: NSGA-II evaluations per target")
    p.add_argument("--search-val-images", type=int, default=1000, help="two_stage: supernet accuracy on this many")
    p.add_argument("--work", default="outputs/dnas_macro", help="checkpoints and run folders (resumable)")
    p.add_argument("--flops-targets", nargs="+", type=float, default=[30e6, 60e6])
    p.add_argument("--latency-target", type=float, default=None,
                   help="ms on --device's LUT (default: the middle of the space's latency range)")
    p.add_argument("--no-latency", action="store_true", help="FLOPs targets only")
    p.add_argument("--device", default="cpu_2t", help="latency device profile")
    p.add_argument("--lut", default=str(REPO / "benchmarks" / "results" / "lut_table_cpu_2t.csv"))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=float, default=30, help="train.epochs per search (the wall-clock budget)")
    p.add_argument("--max-steps", type=int, default=None, help="stop each search after this many steps")
    p.add_argument("--train-images", type=int, default=None, help="use only this many training images")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="cifar10_npz")
    p.add_argument("--warmup-epochs", type=float, default=None, help="method.warmup_epochs (default: the method's)")
    p.add_argument("--cost-form", default=None, choices=["mul_log", "add", "hinge"],
                   help="cost.form for every DNAS method (default: each method's published form); rows are "
                        "labelled method[form]")
    p.add_argument("--dnas-override", nargs="*", default=[],
                   help="extra Hydra overrides for the DNAS runs only, e.g. train=cifar_cpu train.lr=0.01")
    p.add_argument("--init-from", default=None,
                   help="a trained one-shot supernet checkpoint both paths start from (two_stage trains none)")
    p.add_argument("--smoke", action="store_true", help="tiny budget: 2 x 4 steps on 1,024 images, one method set")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.smoke:
        args.epochs, args.max_steps, args.train_images, args.batch_size, args.warmup_epochs = 2, 6, 1024, 64, 0.2
        args.search_evaluations, args.search_val_images = 40, 500
    if args.init_from and args.warmup_epochs is None:
        args.warmup_epochs = 0.0  # the supernet's training was the weight-only warm-up
    logging.basicConfig(level=logging.WARNING)

    from oneshot.dnas import flops_table, latency_table
    from oneshot.evaluate.nasbench import NasBenchMacroEvaluator
    from oneshot.latency import DeviceProfile, LatencyLUT
    from oneshot.space import load_space
    from oneshot.workflows.dnas import run_dnas

    space = load_space("nas_bench_macro")
    bench = NasBenchMacroEvaluator()
    table = bench.canonical_table()
    genomes = np.array([[int(c) for c in a] for a in table["arch"]])
    flops = flops_table(space)
    table_flops = np.array([flops.of(g) for g in genomes])
    lut = LatencyLUT.load(args.lut, profile=DeviceProfile.load(args.device), space=space, force=True)
    lat = latency_table(lut.model(space, corrected=False))
    table_lat = np.array([lat.of(g) for g in genomes])
    lat_target = args.latency_target or float(np.median(table_lat))
    targets = [("flops", t) for t in args.flops_targets] + ([] if args.no_latency else [("latency", lat_target)])

    stem = "dnas_macro" + ("_from_supernet" if args.init_from else "") + ("_smoke" if args.smoke else "")
    out = Path(args.out) if args.out else RESULTS / f"{stem}.csv"
    shared = shared_supernet(args.init_from) if args.init_from else {}
    rows = pd.read_csv(out, dtype=ARCH_COLUMNS).to_dict("records") if out.is_file() else []
    done = {(r["method"], r["metric"], float(r["target"]), int(r["seed"])) for r in rows}
    work = Path(args.work) / ("smoke" if args.smoke else f"e{args.epochs:g}_n{args.train_images or 'all'}")
    if args.init_from:
        work = work.with_name(f"{work.name}_from_{Path(args.init_from).stem}")
    if args.dnas_override:  # another recipe must not resume these runs' checkpoints
        work = work.with_name(f"{work.name}_{hashlib.sha1(' '.join(args.dnas_override).encode()).hexdigest()[:8]}")
    common = [f"data={args.data}", f"train.epochs={args.epochs}", f"train.batch_size={args.batch_size}",
              f"device={args.device}", f"device.lut={args.lut}", "device.force_lut=true",
              "device.latency_correction=false", f"runtime.threads={args.threads}", "runtime.progress=false",
              "train.reference_subnets=false"]
    if args.max_steps:
        common.append(f"train.max_steps={args.max_steps}")
    if args.train_images:
        common += [f"data.train_images={args.train_images}", "data.val_images=500",
                   "evaluator.val_images=500", "evaluator.recal_images=256"]
    for seed in args.seeds:
        supernet: dict = dict(shared)
        for metric, target in targets:
            best_arch, best_acc, best_cost = table_best(table, table_flops if metric == "flops" else table_lat, target)
            for method in args.methods:
                label = f"{method}[{args.cost_form}]" if args.cost_form and method != "two_stage" else method
                if (label, metric, float(target), seed) in done:
                    continue
                run = work / f"{label}_{metric}_{target:g}_{seed}".replace("[", "_").replace("]", "")
                start = time.perf_counter()
                if method == "two_stage":
                    if not supernet:
                        supernet.update(train_supernet_once(args, common, work / f"supernet_{args.sampler}_{seed}", seed))
                        start = time.perf_counter()  # the training is train_seconds, shared by every target
                    best = search_supernet(args, common, supernet["checkpoint"], metric, target, seed, run)
                    extra = {"train_seconds": supernet["seconds"], "sampler": args.sampler}
                    if args.init_from:
                        extra.update(sampler=shared["sampler"], init_from=args.init_from)
                else:
                    overrides = [*common, f"method={method}", f"cost.metric={metric}", f"cost.target={target}",
                                 f"train.seed={seed}", "train.resume=true", f"checkpoint={run}/dnas.pt",
                                 f"out_dir={run}", "evaluator.cache=null"]
                    if args.cost_form:
                        overrides.append(f"cost.form={args.cost_form}")
                    if args.warmup_epochs is not None:
                        overrides.append(f"method.warmup_epochs={args.warmup_epochs}")
                    if args.init_from:
                        overrides.append(f"supernet.init_from={args.init_from}")
                    overrides += args.dnas_override
                    best = json.loads(run_dnas(compose(overrides), run).read_text())
                    extra = {"alpha_steps": best["dnas"]["alpha_steps"], "dnas_override": " ".join(args.dnas_override)}
                    if args.init_from:
                        extra.update(train_seconds=shared["seconds"], init_from=args.init_from)
                seconds = time.perf_counter() - start
                arch = space.parse(best["arch"])
                cost = flops.of(arch) if metric == "flops" else lat.of(arch)
                rows.append({"method": label, "metric": metric, "target": target, "seed": seed, "arch": str(arch),
                             "true_accuracy": float(bench.evaluate([arch])["accuracy"].iloc[0]),
                             "flops": flops.of(arch), "latency_ms": lat.of(arch), "cost": cost,
                             "feasible": cost <= target, "supernet_accuracy": best["accuracy"],
                             "seconds": round(seconds, 1), "table_best_arch": best_arch,
                             "table_best_accuracy": best_acc, "table_best_cost": best_cost,
                             "epochs": args.epochs, "max_steps": args.max_steps, "train_images": args.train_images,
                             **extra, **environment()})
                print(pd.DataFrame(rows[-1:]).iloc[:, :14].to_string(index=False), flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_suffix(".csv.tmp")
                pd.DataFrame(rows).to_csv(tmp, index=False)
                tmp.replace(out)  # a row per finished run: an interrupted benchmark loses at most one run
                out.with_suffix(".md").write_text(report(pd.DataFrame(rows)))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return pd.DataFrame(rows)


def report(rows: pd.DataFrame) -> str:
    """Markdown: per target, each method's derived arch (true accuracy, cost, regret vs the table's best
    under the same cap), mean over seeds, and the wall-clock it took (with a shared supernet training,
    ``train_seconds``, that training plus this target's search)."""
    lines = ["| target | method | seeds | arch (seed 0) | true accuracy % | cost | feasible | regret (points) | minutes |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for (metric, target), group in rows.groupby(["metric", "target"], sort=False):
        unit = (lambda v: f"{v / 1e6:.1f}M") if metric == "flops" else (lambda v: f"{v:.2f} ms")
        label = f"{metric} <= {unit(target)}"
        best = group.iloc[0]
        lines.append(f"| {label} | table best | | {best['table_best_arch']} | {best['table_best_accuracy']:.2f} | "
                     f"{unit(best['table_best_cost'])} | | 0 | |")
        for method, runs in group.groupby("method", sort=False):
            shared = runs["train_seconds"].fillna(0) if "train_seconds" in runs else 0
            minutes = runs["seconds"] + shared
            regret = runs["table_best_accuracy"] - runs["true_accuracy"]
            lines.append(f"| {label} | {method} | {len(runs)} | {runs['arch'].iloc[0]} | "
                         f"{runs['true_accuracy'].mean():.2f} | {unit(runs['cost'].mean())} | "
                         f"{int(runs['feasible'].sum())}/{len(runs)} | {regret.mean():.2f} | {minutes.mean() / 60:.1f} |")
    return "\n".join(lines) + "\n"


def shared_supernet(path: str) -> dict:
    """``--init-from``: the trained supernet both paths start from, its training seconds (summed
    over its epochs, so a resumed training counts every session) and its sampler."""
    from oneshot.build import resolve_path
    from oneshot.errors import OneshotError
    from oneshot.train.checkpoint import load_checkpoint

    ckpt = resolve_path(path)
    try:
        state = load_checkpoint(ckpt)
    except OneshotError as e:
        print(f"dnas_macro.py: --init-from: {e}", file=sys.stderr)
        raise SystemExit(2)
    if state.get("kind", "supernet") != "supernet" or not (state.get("train") or {}).get("complete", True):
        print(f"dnas_macro.py: --init-from {path} is not a completely trained one-shot supernet checkpoint: "
              "train one with oneshot-train or benchmarks/ranking_cifar10.py", file=sys.stderr)
        raise SystemExit(2)
    seconds = sum(float(h.get("seconds", 0.0)) for h in state.get("history", []))
    return {"checkpoint": ckpt, "seconds": round(seconds, 1), "sampler": (state.get("sampler") or {}).get("name")}


def train_supernet_once(args, common: list[str], folder: Path, seed: int) -> dict:
    """The two-stage path's one supernet on the DNAS runs' budget (resumed if a checkpoint is there)."""
    from oneshot.train.checkpoint import load_checkpoint
    from oneshot.workflows.train import train_supernet

    ckpt = folder / "supernet.pt"
    resumed = ckpt.is_file()
    start = time.perf_counter()
    train_supernet(compose([*common, f"sampler={args.sampler}", "supernet=separate", f"train.seed={seed}",
                            "train.resume=true", f"checkpoint={ckpt}", f"out_dir={folder}"], "train"), folder)
    seconds = time.perf_counter() - start
    metrics = folder / "metrics.csv"
    if resumed and metrics.is_file():  # the step time of every session of the training, not this one's only
        seconds = float(pd.read_csv(metrics)["seconds"].sum())
    load_checkpoint(ckpt)  # verified (finite, checksum) before any search reads it
    return {"checkpoint": ckpt, "seconds": round(seconds, 1)}


def search_supernet(args, common: list[str], ckpt: Path, metric: str, target: float, seed: int, run: Path) -> dict:
    """NSGA-II on the supernet under the hard cap; its ``best_subnet.json``."""
    from oneshot.workflows.search import run_search_from_config

    cap = f"constraint.flops_max={target}" if metric == "flops" else f"constraint.latency_max={target}"
    objectives = "[accuracy,flops]" if metric == "flops" else "[accuracy,latency]"
    common = [o for o in common if not o.startswith("evaluator.val_images=")]
    overrides = [*common, "constraint=none", cap, f"search.objectives={objectives}", f"search.seed={seed}",
                 f"search.max_evaluations={args.search_evaluations}", f"checkpoint={ckpt}", f"out_dir={run}",
                 f"evaluator.val_images={args.search_val_images}", f"evaluator.cache={ckpt.parent / 'cache.sqlite'}"]
    run_search_from_config(compose(overrides, "search"), run)
    return json.loads((run / "best_subnet.json").read_text())


if __name__ == "__main__":
    main()
