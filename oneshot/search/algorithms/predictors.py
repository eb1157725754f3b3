"""Accuracy predictors on one-hot per-layer choices, picked by cross-validated Kendall tau.

After NSGANetV2's ``acc_predictor`` (Lu et al., ECCV 2020): a pool of regressors
(their RBF is a cubic kernel with a linear tail, as here through scipy; their
"adaptive switching" fits each on k folds and keeps the one with the best
``mean(tau) - std(tau)``, then refits it on all the data). Ours: a ridge model
(regularised linear), that cubic RBF, gradient-boosted trees and a small MLP
(scikit-learn), with Kendall tau from scipy.stats.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.stats import kendalltau
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPRegressor

logger = logging.getLogger(__name__)


class Regressor(Protocol):
    def fit(self, X: np.ndarray, y: np.ndarray) -> "Regressor": ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


def one_hot(genomes: np.ndarray, num_choices: Sequence[int]) -> np.ndarray:
    """``(n, layers)`` choice indices -> ``(n, sum(num_choices))`` 0/1 features."""
    genomes = np.asarray(genomes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(num_choices)[:-1]]).astype(np.int64)
    X = np.zeros((len(genomes), int(np.sum(num_choices))), dtype=np.float64)
    X[np.arange(len(genomes))[:, None], genomes + offsets[None, :]] = 1.0
    return X


class CubicRBF:
    """NSGANetV2's RBF surrogate: cubic kernel, linear tail (scipy's ``RBFInterpolator``)."""

    def __init__(self, smoothing: float = 0.0):
        self.smoothing = smoothing
        self.model: RBFInterpolator | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> "CubicRBF":
        # one-hot columns are collinear (each layer's sum to 1), so the linear tail is fitted on
        # a basis of the features' span; a sample too small for it falls back to a constant tail
        centred = X - X.mean(axis=0)
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        rank = int(np.sum(sv > 1e-8 * max(1.0, sv[0] if len(sv) else 1.0)))
        self.mean, self.basis = X.mean(axis=0), vt[:rank].T
        Z = self._project(X)
        try:
            self.model = RBFInterpolator(Z, y, kernel="cubic", degree=1, smoothing=self.smoothing)
        except np.linalg.LinAlgError:
            self.model = RBFInterpolator(Z, y, kernel="cubic", degree=0, smoothing=max(self.smoothing, 1e-6))
        return self

    def _project(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) @ self.basis

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model(self._project(X))

    def min_samples(self, n_features: int) -> int:
        return n_features + 2  # the linear tail needs more points than dimensions


class _QuietMLP(MLPRegressor):
    def fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(X, y)


#: name -> factory(seed); add a predictor here
PREDICTORS: dict[str, Callable[[int], Regressor]] = {
    "ridge": lambda seed: RidgeCV(alphas=np.logspace(-3, 3, 13)),
    "rbf": lambda seed: CubicRBF(),
    "gbr": lambda seed: GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.1,
                                                  subsample=0.8, random_state=seed),
    "mlp": lambda seed: _QuietMLP(hidden_layer_sizes=(32,), alpha=1e-2, learning_rate_init=1e-2,
                                  max_iter=500, random_state=seed),
}


def make_predictor(name: str, seed: int = 0) -> Regressor:
    try:
        return PREDICTORS[name](seed)
    except KeyError:
        raise ValueError(f"unknown predictor {name!r}; choose from {sorted(PREDICTORS)}") from None


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    tau = kendalltau(a, b).statistic
    return float(tau) if np.isfinite(tau) else 0.0


@dataclass
class PredictorFit:
    """The chosen predictor (refit on all data) and every candidate's fold taus."""

    name: str
    model: Regressor
    fold_taus: dict[str, list[float]] = field(default_factory=dict)
    fold_rmse: dict[str, float] = field(default_factory=dict)  # held-out error of each candidate

    @property
    def rmse(self) -> float:
        return float(self.fold_rmse.get(self.name, float("nan")))

    @property
    def cv_tau(self) -> float:
        taus = self.fold_taus.get(self.name, [])
        return float(np.mean(taus)) if taus else float("nan")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(X), dtype=np.float64).reshape(-1)


def fit_predictor(X: np.ndarray, y: np.ndarray, names: Sequence[str], folds: int = 5, seed: int = 0) -> PredictorFit:
    """Fit every predictor in ``names`` on ``folds`` folds; refit the best on all of ``(X, y)``.

    Best = highest ``mean(tau) - std(tau)`` over the folds (NSGANetV2's rule); a
    single name skips the cross-validation.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not names:
        raise ValueError("fit_predictor needs at least one predictor name")
    taus: dict[str, list[float]] = {n: [] for n in names}
    errors: dict[str, list[float]] = {n: [] for n in names}
    if len(names) > 1:
        n_splits = max(2, min(folds, len(y) // 4))
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for train, test in splitter.split(X):
            for name in names:
                model = make_predictor(name, seed)
                need = getattr(model, "min_samples", lambda d: 2)(X.shape[1])
                if len(train) < need:
                    taus[name].append(-1.0)
                    continue
                model.fit(X[train], y[train])
                predicted = np.asarray(model.predict(X[test])).reshape(-1)
                taus[name].append(_tau(predicted, y[test]))
                errors[name].extend(predicted - y[test])
        score = {n: np.mean(t) - np.std(t) for n, t in taus.items()}
        best = max(names, key=lambda n: score[n])
    else:
        best = names[0]
    model = make_predictor(best, seed)
    need = getattr(model, "min_samples", lambda d: 2)(X.shape[1])
    if len(y) < need:
        best, model = "ridge", make_predictor("ridge", seed)
    model.fit(X, y)
    logger.debug("predictor %s (cv tau %s) on %d archs", best,
                 {n: round(float(np.mean(t)), 3) for n, t in taus.items() if t}, len(y))
    rmse = {n: float(np.sqrt(np.mean(np.square(e)))) for n, e in errors.items() if e}
    return PredictorFit(best, model, taus, rmse)
