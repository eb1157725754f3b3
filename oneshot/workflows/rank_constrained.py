"""The constrained-search part of a ranking report: in-group taus, paired gains, pick regret per cap.

Used by :func:`oneshot.workflows.rank.rank`. Scorers are the supernet (and a fused score,
if asked); proxies are every free proxy (FLOPs, params, non-identity layers and the
zero-cost proxies), all on the same sample. Picks:

* free proxies: max score over the whole ground-truth table's archs under each cap
  (ties: max FLOPs), the expected regret of a random feasible pick beside them;
* the supernet: NSGA-II over its evaluator under each cap with a budget of distinct
  evaluations and several search seeds (``rank.search_picks=true``; through the
  evaluator's cache, so archs seen before cost nothing); with ``rank.fuse``, also the fused
  score's pick among the feasible archs each search evaluated.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..evaluate.constrained import cap_label, constrained_gains, constrained_taus, pick_regrets
from ..evaluate.ranking import fuse_ranks, paired_tau_gain, proxy_scores
from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace

log = logging.getLogger(__name__)


@dataclass
class ScoredSet:
    """Archs scored by every predictor and proxy, aligned: ``scores[name][i]`` is arch i's score."""

    scores: Mapping[str, np.ndarray]
    truth: np.ndarray
    depth: np.ndarray
    flops: np.ndarray


def gains_table(main: ScoredSet, predictors: Sequence[str], proxies: Sequence[str], opts,
                bands: ScoredSet | None = None) -> pd.DataFrame:
    """Paired-bootstrap gains of each predictor over each proxy: global and depth-group tau on ``main``,
    band tau per cap on ``bands`` (``main`` when None)."""
    rows = []
    for name in predictors:
        for base in proxies:
            gain = paired_tau_gain(main.scores[name], main.scores[base], main.truth, opts.bootstrap, opts.confidence,
                                   opts.sample_seed)
            rows.append({"predictor": name, "baseline": base, "metric": "global", **gain})
    frames = [pd.DataFrame(rows)]
    for part, depth, caps in _parts(main, bands, opts.caps):
        frames.append(constrained_gains(part.scores, proxies, part.truth, depth, part.flops, caps,
                                        band_low=opts.band_low, resamples=opts.bootstrap, confidence=opts.confidence,
                                        seed=opts.sample_seed, predictors=predictors))
    return pd.concat(frames, ignore_index=True)


def taus_table(main: ScoredSet, opts, bands: ScoredSet | None = None) -> pd.DataFrame:
    """Depth-group tau on ``main`` and band tau per cap on ``bands`` (``main`` when None), with CIs."""
    return pd.concat([constrained_taus(part.scores, part.truth, depth, part.flops, caps, band_low=opts.band_low,
                                       resamples=opts.bootstrap, confidence=opts.confidence, seed=opts.sample_seed)
                      for part, depth, caps in _parts(main, bands, opts.caps)], ignore_index=True)


def _parts(main: ScoredSet, bands: ScoredSet | None, caps: Sequence[float]):
    if bands is None:
        return [(main, main.depth, caps)]
    return [(main, main.depth, ()), (bands, None, caps)]


def best_by_metric(taus: pd.DataFrame, global_table: pd.DataFrame, proxies: Sequence[str]) -> dict[str, str]:
    """For each metric, the proxy with the highest tau on this sample (ties: the first in ``proxies``)."""
    out = {}
    glob = global_table.set_index("predictor")["tau"]
    out["global"] = max(proxies, key=lambda p: (_num(glob.get(p)), -proxies.index(p)))
    for metric, rows in taus.groupby("metric", sort=False):
        tau = rows.set_index("predictor")["tau"]
        out[metric] = max(proxies, key=lambda p: (_num(tau.get(p)), -proxies.index(p)))
    return out


def _num(value: Any) -> float:
    return -math.inf if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def table_frame(space: SearchSpace, known: Sequence[Arch], accuracy: np.ndarray) -> pd.DataFrame:
    """The ground-truth table as arch, accuracy, flops (the space's cost model), the cheap proxies."""
    genomes = np.asarray([tuple(a) for a in known], dtype=np.int64)
    return pd.DataFrame({"arch": [str(a) for a in known], "accuracy": accuracy,
                         **proxy_scores(space, genomes)})


def under_largest_cap(table: pd.DataFrame, archs: Sequence[Arch], caps: Sequence[float]
                      ) -> tuple[pd.DataFrame, list[Arch]]:
    """The rows of ``table`` (and their ``archs``, aligned) with FLOPs <= the largest cap: an arch above
    every cap is never picked, so a costly scorer need not score it."""
    keep = (table["flops"] <= max(caps)).to_numpy()
    return table[keep].reset_index(drop=True), [a for a, k in zip(archs, keep) if k]


def proxy_picks(table: pd.DataFrame, proxies: Sequence[str], caps: Sequence[float]) -> pd.DataFrame:
    """Free proxies' picks over the whole table (columns of ``table``) and a random pick's expected regret."""
    usable = [c for c in caps if (table["flops"] <= c).any()]
    for c in set(caps) - set(usable):
        log.warning("no arch of the table has FLOPs <= %s: no picks for that cap", cap_label(c))
    picks = pick_regrets(table["arch"].tolist(), table["accuracy"], table["flops"],
                         {p: table[p].to_numpy(float) for p in proxies}, usable)
    picks.insert(2, "seed", -1)
    return picks


def search_picks(space: SearchSpace, evaluator, table: pd.DataFrame, caps: Sequence[float], *, budget: int,
                 seeds: Sequence[int], predictor: str = "supernet", progress: bool = False,
                 fuse: "tuple[str, Callable[[list[str]], np.ndarray]] | None" = None) -> pd.DataFrame:
    """NSGA-II over ``evaluator`` per cap and seed (accuracy vs FLOPs, FLOPs <= cap); regret from ``table``.

    ``fuse=(name, score)`` adds the pick ``fused_<name>``: of the feasible archs the same search evaluated,
    the one with the best mean normalised rank of evaluator accuracy and ``score(archs)`` (ties: higher
    FLOPs) -- the fused predictor's choice at no extra evaluator cost.
    """
    from ..search import NASProblem, run_search

    truth = dict(zip(table["arch"], table["accuracy"]))
    costs = CostModel(space)
    rows = []
    for cap in caps:
        feasible = table["flops"] <= cap
        if not feasible.any():
            continue
        best = float(table.loc[feasible, "accuracy"].max())
        problem = NASProblem(space, evaluator, objectives=("accuracy", "flops"), constraints={"flops_max": cap})
        for seed in seeds:
            result = run_search(problem, "nsga2", seed=seed, max_evaluations=budget, generations=None,
                                progress=progress)
            pick = result.best
            if pick is None:
                log.warning("NSGA-II seed %d found no feasible arch under %s", seed, cap_label(cap))
                continue
            arch = str(pick["arch"])
            picked = [(predictor, arch, float(pick["accuracy"]))]
            if fuse is not None:
                picked.append((f"fused_{fuse[0]}", *_fused_pick(result.archive, fuse[1])))
            for name, arch, score in picked:
                if arch not in truth:
                    raise ValueError(f"the ground truth has no accuracy for the picked arch {arch}: search picks "
                                     "need a complete table (rank.ground_truth=nas_bench_macro)")
                rows.append({"predictor": name, "cap": cap, "seed": seed, "arch": arch,
                             "flops": float(costs.flops([Arch.from_string(arch)])[0]), "accuracy": truth[arch],
                             "best": best, "regret": best - truth[arch], "feasible": int(feasible.sum()),
                             "score": score, "evaluated": int(problem.n_evaluated)})
                log.info("NSGA-II %s seed %d under %s: picked %s, regret %.2f", name, seed, cap_label(cap), arch,
                         best - truth[arch])
    return pd.DataFrame(rows)


def _fused_pick(archive: pd.DataFrame, score: "Callable[[list[str]], np.ndarray]") -> tuple[str, float]:
    """(arch, fused score) of the evaluated feasible archive row with the best fused rank."""
    from ..search.pareto import evaluated_rows

    rows = evaluated_rows(archive)
    archs = rows["arch"].astype(str).tolist()
    if len(archs) == 1:
        return archs[0], 1.0
    fused = fuse_ranks(rows["accuracy"].to_numpy(float), score(archs))
    i = int(np.lexsort((-rows["flops"].to_numpy(float), -fused))[0])
    return archs[i], float(fused[i])


def pick_summary(picks: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{predictor: {cap label: mean regret (and per-seed regrets for searches)}}."""
    out: dict[str, dict[str, Any]] = {}
    for (name, cap), rows in picks.groupby(["predictor", "cap"], sort=False):
        entry: dict[str, Any] = {"regret": float(rows["regret"].mean())}
        if (rows["seed"] >= 0).any():
            entry["per_seed"] = [float(r) for r in rows.sort_values("seed")["regret"]]
        out.setdefault(name, {})[cap_label(cap)] = entry
    return out
