"""Latency-LUT benchmark: prediction throughput, and LUT-vs-measured agreement.

(a) ``LatencyLUT.predict`` on 100,000 random archs (numpy array and list of ``Arch``)
    against a pure-python per-arch dict-lookup baseline in the same run, on
    nas_bench_macro (measured table) and mobilenet_like (21 layers, synthetic rows:
    throughput does not depend on the values).
(b) For each device profile (default ``cpu_2t`` = batch 1 and ``cpu_2t_b32`` = batch
    32, both 2 threads; ``cpu_1t`` is a cheap one-thread reference): measure a fresh table for nas_bench_macro, then
    ``validate_lut`` on 50 random networks, with the affine correction fitted on 20
    separate calibration networks: Kendall tau, Pearson r, MAPE for the plain sum and
    the corrected sum, with table and samples summarised by their median and, from the
    same samples, by their 25th percentile (``statistic: p25``, robust on a busy CPU).
    The affine correction is monotone, so tau and r are those of the plain sum.

Writes ``benchmarks/results/lut_throughput.csv``, ``lut_validation_summary.csv`` (one
row per profile; rows of profiles not run this time are kept),
``lut_validation_<profile>.{csv,png}`` and the tables ``lut_table_<profile>.csv``.
The machine's load average is recorded with every row: on a shared CPU the
absolute latencies and their agreement depend on it.

    python benchmarks/lut_benchmark.py [--profiles cpu_2t,cpu_2t_b32] [--n-archs 50] [--n-calib 20]
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from pathlib import Path

import numpy as np

from oneshot.latency import (DeviceProfile, LatencyLUT, Row, agreement, build_lut, fit_affine, layer_keys,
                             space_keys, validate_lut)
from oneshot.latency.keys import fixed_keys
from oneshot.space import Arch, load_space

RESULTS = Path(__file__).resolve().parent / "results"
N_PREDICT = 100_000


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def python_baseline(lut: LatencyLUT, space, archs: list[tuple[int, ...]]) -> list[float]:
    """What one would write without the table compilation: a dict lookup per (layer, choice)."""
    rows = {k: lut.latency(k) for row in layer_keys(space) for k in row}
    keys = layer_keys(space)
    base = sum(lut.latency(k) for k in fixed_keys(space))
    return [base + sum(rows[keys[i][c]] for i, c in enumerate(a)) for a in archs]


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def throughput(space_name: str, lut: LatencyLUT) -> dict:
    space = load_space(space_name)
    genomes = np.random.default_rng(0).integers(0, space.num_choices, size=(N_PREDICT, space.num_layers))
    arch_list = [Arch(g) for g in genomes]
    tuples = [tuple(a) for a in arch_list]
    t0 = time.perf_counter()
    first = lut.predict(genomes, space, corrected=False)  # includes compiling the (layers, choices) table
    first_s = time.perf_counter() - t0
    array_s = best_of(lambda: lut.predict(genomes, space, corrected=False))
    list_s = best_of(lambda: lut.predict(arch_list, space, corrected=False), 3)
    base_s = best_of(lambda: python_baseline(lut, space, tuples), 2)
    np.testing.assert_allclose(first[:1000], python_baseline(lut, space, tuples[:1000]), rtol=1e-9)
    return {"space": space_name, "layers": space.num_layers, "n_archs": N_PREDICT,
            "predict_first_call_s": round(first_s, 4), "predict_array_s": round(array_s, 4),
            "predict_arch_list_s": round(list_s, 4), "python_dict_baseline_s": round(base_s, 4),
            "speedup_array": round(base_s / array_s, 1), "speedup_arch_list": round(base_s / list_s, 1),
            "archs_per_s": int(N_PREDICT / array_s), "load1": load1()}


def synthetic_table(space_name: str) -> LatencyLUT:
    space = load_space(space_name)
    rng = np.random.default_rng(0)
    return LatencyLUT({k: Row(float(v), float(v), float(v), 1) for k, v in
                       zip(space_keys(space), rng.uniform(0.01, 5, len(space_keys(space))), strict=True)},
                      {"profile": "synthetic", "kind": "cpu", "batch": "1", "source": "measured"})


def validation(profile_name: str, n_archs: int, n_calib: int, seed: int, progress: bool, reuse: bool) -> dict:
    profile = DeviceProfile.load(profile_name)
    space = load_space("nas_bench_macro")
    table = RESULTS / f"lut_table_{profile.name}.csv"
    load_start, t0 = load1(), time.perf_counter()
    lut = build_lut(space, profile, table, progress=progress, overwrite=not reuse)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = validate_lut(space, profile, lut, n_archs=n_archs, n_calib=n_calib, seed=seed, out_dir=RESULTS,
                          progress=progress, stem=f"lut_validation_{profile.name}")
    print(report.summary(), flush=True)
    row = {"profile": profile.name, "batch": profile.batch, "threads": profile.threads,
           "omp_wait_policy": profile.omp_wait_policy or "", "space": space.name, "n_val": report.plain.n,
           "n_calib": report.n_calib, "profile_statistic": report.statistic}
    for stat in ("median", "p25"):
        row.update(both_statistics(lut, space, report.csv_path, stat))
    row.update({"build_s": round(build_s, 1), "validate_s": round(time.perf_counter() - t1, 1),
                "load1_start": load_start, "load1_end": load1()})
    return row


def both_statistics(lut: LatencyLUT, space, csv_path: Path, stat: str) -> dict:
    """Agreement when table and end-to-end samples are summarised by ``stat`` (same run, same samples)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    archs = [[int(c, 36) for c in r["arch"]] for r in rows]
    measured = np.array([float(r["measured_median" if stat == "median" else "measured_p25"]) for r in rows])
    calib = np.array([r["split"] == "calib" for r in rows])
    table = LatencyLUT(lut.rows, {**lut.metadata, "statistic": stat})
    predicted = table.predict(archs, space, corrected=False)
    plain = agreement(predicted[~calib], measured[~calib])
    out = {f"{stat}_plain_tau": round(plain.kendall_tau, 4), f"{stat}_plain_r": round(plain.pearson_r, 4),
           f"{stat}_plain_mape_pct": round(plain.mape, 2)}
    if calib.sum() >= 2:
        slope, intercept = fit_affine(predicted[calib], measured[calib])
        corr = agreement(predicted[~calib] * slope + intercept, measured[~calib])
        out.update({f"{stat}_corr_mape_pct": round(corr.mape, 2), f"{stat}_slope": round(slope, 4),
                    f"{stat}_intercept_ms": round(intercept, 4), f"{stat}_goal_met": corr.meets_goal()})
    else:
        out[f"{stat}_goal_met"] = plain.meets_goal()
    return out


def write(name: str, rows: list[dict], merge_on: str | None = None) -> Path:
    """Write rows; with ``merge_on``, rows of earlier runs with other ``merge_on`` values are kept."""
    path = RESULTS / name
    if merge_on and path.is_file():
        with open(path, newline="") as f:
            done = {r[merge_on] for r in rows}
            rows = [r for r in csv.DictReader(f) if r.get(merge_on) not in done] + rows
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[-1]))
        w.writeheader()
        w.writerows(rows)
    return path


def main() -> None:
    from oneshot.runtime import tune_cpu_allocator

    tune_cpu_allocator()  # as the oneshot CLI does: no per-tensor mmap (batch-32 activations page-fault otherwise)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", default="cpu_2t,cpu_2t_b32")
    ap.add_argument("--n-archs", type=int, default=50)
    ap.add_argument("--n-calib", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="resume existing tables instead of measuring afresh")
    ap.add_argument("--skip-validation", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    rows = []
    if not args.skip_validation:
        for name in args.profiles.split(","):
            rows.append(validation(name.strip(), args.n_archs, args.n_calib, args.seed, not args.no_progress,
                                   args.reuse))
        print("wrote", write("lut_validation_summary.csv", rows, merge_on="profile"))

    measured = RESULTS / "lut_table_cpu_2t.csv"
    tp = [throughput("nas_bench_macro", LatencyLUT.load(measured) if measured.is_file()
                     else synthetic_table("nas_bench_macro")),
          throughput("mobilenet_like", synthetic_table("mobilenet_like"))]
    for r in tp:
        print(f"predict {r['n_archs']} archs on {r['space']}: {r['predict_array_s'] * 1e3:.1f} ms (array), "
              f"{r['predict_arch_list_s'] * 1e3:.1f} ms (list of Arch), python dict baseline "
              f"{r['python_dict_baseline_s'] * 1e3:.0f} ms -> {r['speedup_array']}x / {r['speedup_arch_list']}x")
    print("wrote", write("lut_throughput.csv", tp))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
