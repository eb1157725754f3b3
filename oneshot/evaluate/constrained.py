"""What a constrained search needs from an evaluator: order archs of similar cost, pick well under a cap.

A user picks ONE arch per cost cap, so besides global Kendall tau this module measures

* :func:`group_tau` -- tau inside groups of archs (e.g. equal depth: the same number of
  non-identity layers), the size-weighted mean over groups. A group counts when it has
  at least 2 archs and its ground truth is not constant (otherwise there is nothing to
  order); a predictor constant inside a group scores 0 there (every pair tied: it
  carries no information), not NaN. Tau is tau-b (ties on either side handled as scipy).
* :func:`flops_band` -- the group of archs with ``low * cap <= FLOPs <= cap`` (the
  candidates a search under that cap ends up comparing); :func:`band_sample` draws extra archs
  inside each band, since a FLOPs-stratified sample puts only a few in the narrow low-cost bands;
* :func:`group_tau_stats` / :func:`paired_group_gain` -- seeded percentile bootstrap CI and
  paired-bootstrap gain over a baseline (the same resampled archs for both, as
  :func:`~oneshot.evaluate.ranking.paired_tau_gain` does for global tau);
* :func:`proxy_pick` / :func:`pick_regrets` / :func:`random_pick_regret` -- constrained-pick
  regret: the table's best accuracy under a cap minus the accuracy of the arch a scorer
  picks (max score, ties broken by max FLOPs, then by table order), or the expected
  regret of a uniformly random feasible pick.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace
from .ranking import _bootstrap, _percentile_ci, canonical_pool

#: FLOPs caps of the constrained metrics (NAS-Bench-Macro's networks span 7.7M to 106M FLOPs)
DEFAULT_CAPS = (20e6, 30e6, 40e6, 60e6)
#: a cap's band starts at this fraction of the cap
BAND_LOW = 0.8


def cap_label(cap: float) -> str:
    """``30e6 -> "30M"`` (column names, report rows)."""
    return f"{cap / 1e6:g}M"


def _tau_b(p: np.ndarray, t: np.ndarray) -> float:
    """Kendall tau-b by pairwise signs (as scipy's, vectorised for the many small groups of a bootstrap).

    NaN when the ground truth is constant; 0 when only the prediction is.
    """
    sp = np.sign(p[:, None] - p[None, :])
    st = np.sign(t[:, None] - t[None, :])
    untied_t = np.abs(st).sum()
    if untied_t == 0:
        return float("nan")
    untied_p = np.abs(sp).sum()
    if untied_p == 0:
        return 0.0
    return float((sp * st).sum() / np.sqrt(untied_p * untied_t))


def _arrays(pred, truth, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    g = np.asarray(groups, dtype=np.int64).ravel()
    if not len(p) == len(t) == len(g):
        raise ValueError(f"predictions ({len(p)}), ground truth ({len(t)}) and groups ({len(g)}) differ in length")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("group tau got NaN/inf values: every arch needs a prediction and a ground truth")
    return p, t, g


def _group_tau(p: np.ndarray, t: np.ndarray, g: np.ndarray) -> tuple[float, int, int]:
    """(weighted tau, archs in counted groups, counted groups); groups with a negative label are left out."""
    total, weight, count = 0.0, 0, 0
    for label in np.unique(g[g >= 0]):
        member = g == label
        n = int(member.sum())
        if n < 2:
            continue
        tau = _tau_b(p[member], t[member])
        if np.isnan(tau):
            continue
        total, weight, count = total + n * tau, weight + n, count + 1
    return (total / weight if weight else float("nan")), weight, count


def group_tau(pred: Sequence[float], truth: Sequence[float], groups: Sequence[int]) -> float:
    """Size-weighted mean of Kendall tau-b inside each group (label < 0: left out); NaN if no group counts."""
    return _group_tau(*_arrays(pred, truth, groups))[0]


def group_tau_stats(pred: Sequence[float], truth: Sequence[float], groups: Sequence[int], resamples: int = 1000,
                    confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Group tau with a seeded percentile bootstrap CI (archs resampled with replacement).

    Keys: tau, ci_low, ci_high, n (archs in counted groups), groups (counted groups).
    """
    p, t, g = _arrays(pred, truth, groups)
    tau, n, count = _group_tau(p, t, g)
    out = {"tau": tau, "ci_low": float("nan"), "ci_high": float("nan"), "n": n, "groups": count}
    if resamples >= 1 and n:
        taus = _bootstrap(len(p), lambda i: _group_tau(p[i], t[i], g[i])[0], resamples, seed)
        if len(taus):
            out["ci_low"], out["ci_high"] = _percentile_ci(taus, confidence)
    return out


def paired_group_gain(pred: Sequence[float], baseline: Sequence[float], truth: Sequence[float],
                      groups: Sequence[int], resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0) -> dict[str, float]:
    """Group tau of ``pred`` minus that of ``baseline``, paired bootstrap CI, ``p_not_better``."""
    p, t, g = _arrays(pred, truth, groups)
    b, _, _ = _arrays(baseline, truth, groups)
    gain = _group_tau(p, t, g)[0] - _group_tau(b, t, g)[0]
    out = {"gain": float(gain), "ci_low": float("nan"), "ci_high": float("nan"), "p_not_better": float("nan")}
    if resamples >= 1 and np.isfinite(gain):
        gains = _bootstrap(len(p), lambda i: _group_tau(p[i], t[i], g[i])[0] - _group_tau(b[i], t[i], g[i])[0],
                           resamples, seed)
        if len(gains):
            lo, hi = _percentile_ci(gains, confidence)
            out.update(ci_low=lo, ci_high=hi, p_not_better=float(np.mean(gains <= 0)))
    return out


def flops_band(flops: Sequence[float], cap: float, low: float = BAND_LOW) -> np.ndarray:
    """Group labels: 0 for archs with ``low * cap <= FLOPs <= cap``, -1 (left out) for the rest."""
    if not 0 <= low < 1 or cap <= 0:
        raise ValueError(f"FLOPs band needs cap > 0 and 0 <= low < 1, got cap={cap}, low={low}")
    f = np.asarray(flops, dtype=np.float64)
    return np.where((f >= low * cap) & (f <= cap), 0, -1)


def band_sample(space: SearchSpace, caps: Sequence[float], size: int, seed: int = 0, *,
                low: float = BAND_LOW, have: Sequence[Sequence[int]] = (), pool: int = 20_000,
                candidates: "Sequence[Sequence[int]] | None" = None) -> list[Arch]:
    """Seeded distinct canonical archs that top up each cap's FLOPs band to ``size`` archs.

    Archs in ``have`` (e.g. the main ranking sample) count towards a band and are never drawn
    again; a band with fewer candidates than ``size`` gives all it has. Returns only the new
    archs, sorted by FLOPs. The pool is :func:`~oneshot.evaluate.ranking.canonical_pool`'s.
    """
    if size < 0:
        raise ValueError(f"band sample size must be >= 0, got {size}")
    genomes = canonical_pool(space, pool, seed, candidates)
    flops = CostModel(space).flops(genomes)
    have_rows = np.asarray([tuple(space.canonical(a)) for a in have], dtype=np.int64).reshape(-1, space.num_layers)
    taken = np.zeros(len(genomes), dtype=bool)
    if len(have_rows):
        taken |= (genomes[:, None, :] == have_rows[None, :, :]).all(-1).any(1)
    chosen = np.zeros(len(genomes), dtype=bool)
    rng = np.random.default_rng([seed, 0xBA4D])
    for cap in caps:
        member = flops_band(flops, cap, low) == 0
        missing = size - int((member & (taken | chosen)).sum())
        free = np.flatnonzero(member & ~taken & ~chosen)
        if missing > 0 and len(free):
            chosen[rng.permutation(free)[:missing]] = True
    order = np.flatnonzero(chosen)
    order = order[np.argsort(flops[order], kind="stable")]
    return [Arch(g) for g in genomes[order]]


def _metric_groups(depth: "Sequence[int] | None", flops: Sequence[float], caps: Sequence[float],
                   band_low: float) -> dict[str, np.ndarray]:
    metrics = {} if depth is None else {"depth_group": np.asarray(depth, dtype=np.int64)}
    metrics.update({f"band_{cap_label(c)}": flops_band(flops, c, band_low) for c in caps})
    return metrics


def constrained_taus(scores: Mapping[str, Sequence[float]], truth: Sequence[float], depth: "Sequence[int] | None",
                     flops: Sequence[float], caps: Sequence[float] = DEFAULT_CAPS, *, band_low: float = BAND_LOW,
                     resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per (predictor, metric): ``depth_group`` and ``band_<cap>`` tau with CI and the archs counted.

    ``depth=None`` leaves the depth-group metric out (e.g. for archs drawn inside the bands only)."""
    metrics = _metric_groups(depth, flops, caps, band_low)
    rows = []
    for name, values in scores.items():
        for metric, groups in metrics.items():
            rows.append({"predictor": name, "metric": metric,
                         **group_tau_stats(values, truth, groups, resamples, confidence, seed)})
    return pd.DataFrame(rows)


def constrained_gains(scores: Mapping[str, Sequence[float]], baselines: Sequence[str], truth: Sequence[float],
                      depth: "Sequence[int] | None", flops: Sequence[float], caps: Sequence[float] = DEFAULT_CAPS, *,
                      band_low: float = BAND_LOW, resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0, predictors: Sequence[str] = ()) -> pd.DataFrame:
    """Paired gains of each of ``predictors`` over each of ``baselines`` (names in ``scores``), per metric."""
    metrics = _metric_groups(depth, flops, caps, band_low)
    rows = []
    for name in predictors:
        for base in baselines:
            for metric, groups in metrics.items():
                rows.append({"predictor": name, "baseline": base, "metric": metric,
                             **paired_group_gain(scores[name], scores[base], truth, groups, resamples, confidence,
                                                 seed)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ pick regret
def _feasible(flops: np.ndarray, cap: float) -> np.ndarray:
    feasible = np.flatnonzero(flops <= cap)
    if len(feasible) == 0:
        raise ValueError(f"no arch has FLOPs <= {cap:g}: the cap is below the smallest network")
    return feasible


def best_under_cap(accuracy: Sequence[float], flops: Sequence[float], cap: float) -> float:
    """The best accuracy among archs with FLOPs <= cap."""
    acc, f = np.asarray(accuracy, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    return float(acc[_feasible(f, cap)].max())


def proxy_pick(scores: Sequence[float], flops: Sequence[float], cap: float) -> int:
    """Index of the feasible arch with the highest score; ties: the highest FLOPs, then the first."""
    s, f = np.asarray(scores, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    feasible = _feasible(f, cap)
    return int(feasible[np.lexsort((-f[feasible], -s[feasible]))[0]])


def random_pick_regret(accuracy: Sequence[float], flops: Sequence[float], cap: float) -> float:
    """Expected regret of a uniformly random feasible pick: best minus mean accuracy under the cap."""
    acc, f = np.asarray(accuracy, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    feasible = _feasible(f, cap)
    return float(acc[feasible].max() - acc[feasible].mean())


def pick_regrets(archs: Sequence[str], accuracy: Sequence[float], flops: Sequence[float],
                 scores: Mapping[str, Sequence[float]], caps: Sequence[float] = DEFAULT_CAPS,
                 random: bool = True) -> pd.DataFrame:
    """Each scorer's pick per cap over a whole table (``archs``, ``accuracy``, ``flops``, aligned).

    Columns: predictor, cap, arch, flops, accuracy, best, regret (percentage points), feasible.
    ``random=True`` adds the expected regret of a random feasible pick (predictor ``random``).
    """
    acc, f = np.asarray(accuracy, dtype=np.float64), np.asarray(flops, dtype=np.float64)
    rows = []
    for cap in caps:
        best = best_under_cap(acc, f, cap)
        feasible = int((f <= cap).sum())
        for name, values in scores.items():
            i = proxy_pick(values, f, cap)
            rows.append({"predictor": name, "cap": cap, "arch": str(archs[i]), "flops": f[i], "accuracy": acc[i],
                         "best": best, "regret": best - acc[i], "feasible": feasible})
        if random:
            regret = random_pick_regret(acc, f, cap)
            rows.append({"predictor": "random", "cap": cap, "arch": "", "flops": float("nan"),
                         "accuracy": best - regret, "best": best, "regret": regret, "feasible": feasible})
    return pd.DataFrame(rows)
