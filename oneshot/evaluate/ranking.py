"""Ranking quality: how well a predictor (a supernet, a free proxy) orders archs like a ground truth.

Every metric takes two aligned 1-d arrays, ``pred`` (higher = predicted better) and
``truth`` (higher = better, e.g. stand-alone accuracy):

* :func:`kendall_tau` / :func:`spearman_rho` -- rank correlations (scipy; tau-b handles ties);
* :func:`top_k_overlap` -- share of the predictor's top-k that are also the ground truth's top-k;
* :func:`precision_at_k` -- share of the predictor's top-k inside the ground truth's best
  ``relevant`` fraction of the sample (a softer hit criterion than the overlap);
* :func:`regret_at_k` -- best ground truth overall minus the best among the predictor's top-k
  (what a search that keeps k candidates would lose);
* :func:`bootstrap_tau` -- seeded percentile bootstrap confidence interval of tau;
* :func:`paired_tau_gain` -- is one predictor really better than another on this sample?
  (paired bootstrap: both taus on the same resampled archs).

Plus the free proxies (FLOPs, params, non-identity layers) and a seeded FLOPs-stratified
sample of distinct (canonical) archs, so every estimator is scored on the same sample.
"""
from __future__ import annotations

import logging
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..space.arch import Arch
from ..space.costs import CostModel
from ..space.space import SearchSpace

log = logging.getLogger(__name__)

#: proxies every ranking reports next to the supernet (all computed from the arch alone)
PROXIES = ("flops", "params", "non_identity")


# ------------------------------------------------------------------ metrics
def _pair(pred: Sequence[float], truth: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predictions ({len(p)}) and ground truth ({len(t)}) differ in length")
    if len(p) < 2:
        raise ValueError(f"ranking metrics need at least 2 archs, got {len(p)}")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("ranking metrics got NaN/inf values: every arch needs a prediction and a ground truth")
    return p, t


def kendall_tau(pred: Sequence[float], truth: Sequence[float]) -> float:
    """Kendall's tau-b (NaN when one side is constant)."""
    p, t = _pair(pred, truth)
    return float(stats.kendalltau(p, t).statistic)


def spearman_rho(pred: Sequence[float], truth: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN when one side is constant)."""
    p, t = _pair(pred, truth)
    if np.ptp(p) == 0 or np.ptp(t) == 0:
        return float("nan")
    return float(stats.spearmanr(p, t).statistic)


def top_k_indices(values: Sequence[float], k: int) -> np.ndarray:
    """Indices of the ``k`` largest values; ties go to the earlier index (deterministic)."""
    v = np.asarray(values, dtype=np.float64)
    if not 1 <= k <= len(v):
        raise ValueError(f"top_k={k} must be between 1 and the sample size {len(v)}")
    return np.argsort(-v, kind="stable")[:k]


def top_k_overlap(pred: Sequence[float], truth: Sequence[float], k: int) -> float:
    """|top-k by ``pred`` ∩ top-k by ``truth``| / k (1 = the same k archs)."""
    p, t = _pair(pred, truth)
    return len(set(top_k_indices(p, k)) & set(top_k_indices(t, k))) / k


def precision_at_k(pred: Sequence[float], truth: Sequence[float], k: int, relevant: float = 0.2) -> float:
    """Share of the predictor's top-k whose ground truth is in the best ``relevant`` fraction.

    The relevant set holds at least ``k`` archs, so a perfect predictor scores 1.
    """
    p, t = _pair(pred, truth)
    if not 0 < relevant <= 1:
        raise ValueError(f"relevant={relevant} must be a fraction in (0, 1]")
    m = max(k, int(math.ceil(relevant * len(t))))
    return len(set(top_k_indices(p, k)) & set(top_k_indices(t, m))) / k


def regret_at_k(pred: Sequence[float], truth: Sequence[float], k: int) -> float:
    """Best ground truth of the sample minus the best ground truth among the predictor's top-k."""
    p, t = _pair(pred, truth)
    return float(t.max() - t[top_k_indices(p, k)].max())


def bootstrap_tau(pred: Sequence[float], truth: Sequence[float], resamples: int = 1000,
                  confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of Kendall's tau: resample arch pairs with replacement."""
    p, t = _pair(pred, truth)
    if resamples < 1:
        return float("nan"), float("nan")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1)")
    taus = _bootstrap(len(p), lambda i: stats.kendalltau(p[i], t[i]).statistic, resamples, seed)
    if len(taus) == 0:
        return float("nan"), float("nan")
    return _percentile_ci(taus, confidence)


def _bootstrap(n: int, statistic, resamples: int, seed: int) -> np.ndarray:
    """``statistic(idx)`` on ``resamples`` seeded resamples (with replacement) of n items; finite values only."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    values = np.array([statistic(i) for i in idx], dtype=np.float64)
    return values[np.isfinite(values)]


def _percentile_ci(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


def paired_tau_gain(pred: Sequence[float], baseline: Sequence[float], truth: Sequence[float],
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """tau(pred) - tau(baseline) on one sample, with a paired percentile bootstrap.

    Both predictors are scored on the same resampled archs, so the shared sampling noise
    cancels: the CI is much tighter than comparing two separate tau CIs. ``p_not_better`` is
    the share of resamples where ``pred`` does not beat ``baseline`` (a one-sided bootstrap
    p-value for "pred ranks better").
    """
    p, t = _pair(pred, truth)
    b, _ = _pair(baseline, truth)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1)")
    gain = float(stats.kendalltau(p, t).statistic - stats.kendalltau(b, t).statistic)
    out = {"gain": gain, "ci_low": float("nan"), "ci_high": float("nan"), "p_not_better": float("nan")}
    if resamples < 1:
        return out
    def gain_on(i: np.ndarray) -> float:
        return stats.kendalltau(p[i], t[i]).statistic - stats.kendalltau(b[i], t[i]).statistic

    gains = _bootstrap(len(p), gain_on, resamples, seed)
    if len(gains):
        lo, hi = _percentile_ci(gains, confidence)
        out.update(ci_low=lo, ci_high=hi, p_not_better=float(np.mean(gains <= 0)))
    return out


def ranking_metrics(pred: Sequence[float], truth: Sequence[float], *, top_k: int = 10, relevant: float = 0.2,
                    bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Every metric of one predictor against the ground truth, as a flat dict."""
    p, t = _pair(pred, truth)
    k = min(top_k, len(p))
    lo, hi = bootstrap_tau(p, t, bootstrap, confidence, seed)
    tau = stats.kendalltau(p, t)
    return {
        "tau": float(tau.statistic), "tau_ci_low": lo, "tau_ci_high": hi, "tau_p": float(tau.pvalue),
        "rho": spearman_rho(p, t), "top_k": k, "top_k_overlap": top_k_overlap(p, t, k),
        "precision_at_k": precision_at_k(p, t, k, relevant), "regret_at_k": regret_at_k(p, t, k),
    }


def ranking_table(scores: Mapping[str, Sequence[float]], truth: Sequence[float], **kwargs) -> pd.DataFrame:
    """One row per predictor (``scores`` name -> values), metrics as columns, same sample for all."""
    rows = [{"predictor": name, **ranking_metrics(values, truth, **kwargs)} for name, values in scores.items()]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ proxies
def _genomes(space: SearchSpace, archs: "Sequence[Sequence[int]] | np.ndarray") -> np.ndarray:
    g = np.asarray([tuple(a) for a in archs] if not isinstance(archs, np.ndarray) else archs, dtype=np.int64)
    if g.ndim != 2 or g.shape[1] != space.num_layers:
        raise ValueError(f"archs must be (n, {space.num_layers}) choice indices for space {space.name!r}, "
                         f"got shape {g.shape}")
    return g


def non_identity_layers(space: SearchSpace, archs: "Sequence[Sequence[int]] | np.ndarray") -> np.ndarray:
    """Number of layers whose op is not a no-op kind (identity/skip), per arch."""
    width = int(space.num_choices.max())
    table = np.zeros((space.num_layers, width), dtype=np.int64)
    for layer in space.layers:
        for c, op in enumerate(layer.candidates):
            table[layer.index, c] = not op.is_noop_kind
    g = _genomes(space, archs)
    return table[np.arange(space.num_layers), g].sum(axis=1)


def proxy_scores(space: SearchSpace, archs: "Sequence[Sequence[int]] | np.ndarray") -> dict[str, np.ndarray]:
    """The free proxies of :data:`PROXIES` (bigger = predicted better)."""
    g = _genomes(space, archs)
    costs = CostModel(space)
    return {"flops": costs.flops(g), "params": costs.params(g),
            "non_identity": non_identity_layers(space, g).astype(np.float64)}


def fuse_ranks(*scores: Sequence[float]) -> np.ndarray:
    """Parameter-free rank fusion: the mean over scorers of each arch's normalised rank on this sample.

    Ranks are averaged over ties and scaled to 0 (worst) .. 1 (best). Only the scores enter: which
    scorers to fuse must be fixed in advance (choosing them by their tau would use the ground truth).
    """
    if not scores:
        raise ValueError("fuse_ranks needs at least one score array")
    arrays = [np.asarray(s, dtype=np.float64).ravel() for s in scores]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays) or n < 2:
        raise ValueError(f"fuse_ranks needs equal-length score arrays of at least 2 archs, got {[len(a) for a in arrays]}")
    return np.mean([(stats.rankdata(a) - 1) / (n - 1) for a in arrays], axis=0)


# ------------------------------------------------------------------ sampling
def _all_genomes(space: SearchSpace) -> np.ndarray:
    grids = np.meshgrid(*(np.arange(n) for n in space.num_choices), indexing="ij")
    return np.stack([x.ravel() for x in grids], axis=1).astype(np.int64)


def canonical_pool(space: SearchSpace, size: int = 20_000, seed: int = 0,
                   candidates: "Sequence[Sequence[int]] | None" = None) -> np.ndarray:
    """Distinct canonical genomes, sorted: ``candidates`` if given, every network of a space with
    at most ``size`` arch strings, else the networks of ``size`` seeded uniform draws."""
    if candidates is not None:
        g = np.asarray([tuple(space.validate(a)) for a in candidates], dtype=np.int64).reshape(-1, space.num_layers)
    elif space.size <= size:
        g = _all_genomes(space)
    else:
        g = np.random.default_rng([seed, 0x5EED]).integers(0, space.num_choices, size=(size, space.num_layers))
    return np.unique(space.canonical_batch(g), axis=0)


def stratified_sample(space: SearchSpace, n: int | None, seed: int = 0, *, strata: int = 10,
                      pool: int = 20_000, candidates: "Sequence[Sequence[int]] | None" = None) -> list[Arch]:
    """A seeded sample of ``n`` distinct canonical archs, stratified over FLOPs quantile bins.

    The candidate pool (:func:`canonical_pool`) is cut into ``strata`` bins of equal
    count by FLOPs; each bin gives ``n / strata`` archs drawn without replacement
    (a bin short of archs passes its quota on). ``n=None`` or ``n`` >= the pool
    returns the whole pool. The result is sorted by FLOPs.
    """
    genomes = canonical_pool(space, pool, seed, candidates)
    if len(genomes) == 0:
        raise ValueError("no candidate archs to sample from")
    flops = CostModel(space).flops(genomes)
    if n is None or n >= len(genomes):
        if n is not None and n > len(genomes):
            log.info("sample_size=%d exceeds the %d distinct networks available: taking all", n, len(genomes))
        chosen = np.arange(len(genomes))
    else:
        if n < 1:
            raise ValueError(f"sample size must be >= 1, got {n}")
        chosen = _stratify(flops, n, max(1, min(strata, n)), np.random.default_rng([seed, 0x57A7]))
    order = chosen[np.lexsort((np.arange(len(chosen)), flops[chosen]))]
    return [Arch(g) for g in genomes[order]]


def _stratify(values: np.ndarray, n: int, strata: int, rng: np.random.Generator) -> np.ndarray:
    edges = np.quantile(values, np.linspace(0, 1, strata + 1)[1:-1])
    bins = np.searchsorted(edges, values, side="right")
    members = [rng.permutation(np.flatnonzero(bins == b)) for b in range(strata)]
    quota = np.full(strata, n // strata)
    quota[rng.choice(strata, n % strata, replace=False)] += 1
    sizes = np.array([len(m) for m in members])
    take = np.minimum(quota, sizes)
    deficit = int(quota.sum() - take.sum())
    while deficit > 0:  # hand short bins' quotas to bins with spare archs, round-robin
        spare = np.flatnonzero(take < sizes)
        for b in rng.permutation(spare)[:deficit]:
            take[b] += 1
            deficit -= 1
    return np.concatenate([m[:t] for m, t in zip(members, take)])


# ------------------------------------------------------------------ analysis
def op_preference(space: SearchSpace, archs: Sequence[Sequence[int]], scores: Sequence[float]) -> pd.DataFrame:
    """Mean score per (layer, op choice): which op each layer of the sample favours.

    Columns: layer, stage, choice, op, mean, std, count (count 0 and NaN mean for unsampled choices).
    """
    g = _genomes(space, archs)
    s = np.asarray(scores, dtype=np.float64)
    if len(s) != len(g):
        raise ValueError(f"{len(g)} archs but {len(s)} scores")
    rows = []
    for layer in space.layers:
        for c, op in enumerate(layer.candidates):
            hit = s[g[:, layer.index] == c]
            rows.append({"layer": layer.index, "stage": layer.stage, "choice": c, "op": op.name,
                         "mean": float(hit.mean()) if len(hit) else float("nan"),
                         "std": float(hit.std()) if len(hit) > 1 else float("nan"), "count": len(hit)})
    return pd.DataFrame(rows)
