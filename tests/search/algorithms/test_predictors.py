import numpy as np
import pytest
from scipy.stats import kendalltau

from oneshot.search.algorithms.predictors import PREDICTORS, fit_predictor, make_predictor, one_hot


def test_one_hot_marks_one_column_per_layer():
    X = one_hot(np.array([[0, 2, 1], [1, 0, 0]]), [2, 3, 2])
    assert X.shape == (2, 7)
    np.testing.assert_array_equal(X[0], [1, 0, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(X[1], [0, 1, 1, 0, 0, 1, 0])


def _data(n, seed, interaction):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, size=(n, 8))
    y = g @ rng.uniform(0, 1, 8)
    if interaction:  # dominated by a term a one-hot linear model cannot express
        y = 0.1 * y + 4.0 * (g[:, 0] == g[:, 1])
    return one_hot(g, [3] * 8), y


@pytest.mark.parametrize("name", sorted(PREDICTORS))
def test_each_predictor_ranks_an_additive_target(name):
    X, y = _data(150, 0, interaction=False)
    Xt, yt = _data(300, 1, interaction=False)
    model = make_predictor(name, seed=0).fit(X, y)
    assert kendalltau(model.predict(Xt), yt).statistic > 0.4  # far above chance (0)


def test_cross_validation_prefers_a_non_linear_model_when_the_target_needs_one():
    X, y = _data(200, 2, interaction=True)
    fit = fit_predictor(X, y, ["ridge", "gbr"], folds=5, seed=0)
    assert fit.name == "gbr"
    assert np.mean(fit.fold_taus["gbr"]) > np.mean(fit.fold_taus["ridge"])
    assert fit.rmse > 0 and fit.cv_tau == pytest.approx(np.mean(fit.fold_taus["gbr"]))
    X, y = _data(200, 3, interaction=False)
    assert fit_predictor(X, y, ["gbr", "ridge"], folds=5, seed=0).name == "ridge"


def test_unknown_predictor():
    with pytest.raises(ValueError, match="unknown predictor 'svm'"):
        make_predictor("svm")
