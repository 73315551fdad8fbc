"""Gaussian: one normal distribution, checked against scipy.stats and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from lookalike.exceptions import InvalidParameterError
from lookalike.gaussian import Gaussian

TYPES = ("full", "diag", "spherical")

# False-failure rate of every goodness-of-fit test below (each is one test at this level).
ALPHA = 1e-4


def correlated(n: int = 400, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) + 2.0 * np.eye(d)
    return rng.standard_normal((n, d)) @ mixing + rng.normal(0.0, 5.0, d)


def dense(model: Gaussian) -> np.ndarray:
    """The fitted covariance as a (d, d) matrix, from covariance_ only."""
    d = model.n_features_in_
    if model.covariance_type == "full":
        return model.covariance_
    if model.covariance_type == "diag":
        return np.diag(model.covariance_)
    return model.covariance_ * np.eye(d)


def _expected_failures(estimator: Gaussian) -> dict[str, str]:
    # That check fits 15 rows in 30 dimensions: the full ML covariance is singular, and
    # Gaussian(reg_covar=0) raises by design. With reg_covar > 0 (below) the check passes.
    if estimator.covariance_type == "full" and estimator.reg_covar == 0:
        return {
            "check_sample_weight_equivalence_on_dense_data": "n_features > n_samples: "
            "singular covariance raises when reg_covar=0"
        }
    return {}


@parametrize_with_checks(
    [Gaussian(), Gaussian(reg_covar=1e-6), Gaussian("diag"), Gaussian("spherical")],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_singular_check_is_the_only_expected_failure():
    # The one expected failure above is the documented singular-covariance error.
    rng = np.random.RandomState(42)
    X = rng.rand(27, 30)
    with pytest.raises(ValueError, match="ReducedDensity"):
        Gaussian().fit(X)
    assert np.isfinite(Gaussian(reg_covar=1e-6).fit(X).score_samples(X)).all()


# --------------------------------------------------------------------------------------
# One dimension: scipy.stats.norm


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_dimension_matches_norm_fit_and_logpdf(covariance_type):
    x = np.random.default_rng(1).normal(3.0, 2.5, 500)
    model = Gaussian(covariance_type=covariance_type).fit(x[:, None])
    loc, scale = stats.norm.fit(x)
    assert_allclose(model.mean_, [loc], rtol=1e-12)
    assert_allclose(np.sqrt(np.ravel(model.covariance_)), [scale], rtol=1e-12)
    grid = np.linspace(-10, 15, 50)
    assert_allclose(
        model.score_samples(grid[:, None]), stats.norm(loc, scale).logpdf(grid), rtol=1e-12
    )
    assert model.score(x[:, None]) == pytest.approx(stats.norm(loc, scale).logpdf(x).mean())


def test_one_dimension_samples_follow_the_fitted_normal():
    x = np.random.default_rng(2).normal(-1.0, 0.3, 200)
    model = Gaussian().fit(x[:, None])
    draws = model.sample(3000, random_state=np.random.default_rng(3))[:, 0]
    scale = float(np.sqrt(model.covariance_[0, 0]))
    # One-sample KS against norm(mean, std): fails by chance with probability ALPHA.
    assert stats.kstest(draws, stats.norm(model.mean_[0], scale).cdf).pvalue > ALPHA


# --------------------------------------------------------------------------------------
# d dimensions: scipy.stats.multivariate_normal and numpy


@pytest.mark.parametrize("covariance_type", TYPES)
def test_fit_and_density_match_numpy_and_scipy(covariance_type):
    X = correlated()
    model = Gaussian(covariance_type=covariance_type).fit(X)
    mean = X.mean(axis=0)
    full = np.cov(X, rowvar=False, ddof=0)
    expected = {
        "full": full,
        "diag": np.diag(np.diag(full)),
        "spherical": np.mean(np.diag(full)) * np.eye(3),
    }[covariance_type]
    assert_allclose(model.mean_, mean, rtol=1e-12)
    assert_allclose(dense(model), expected, rtol=1e-11, atol=1e-12)
    queries = correlated(60, seed=5)
    oracle = stats.multivariate_normal(mean, expected).logpdf(queries)
    assert_allclose(model.score_samples(queries), oracle, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_mixture_shaped_attributes_are_consistent(covariance_type):
    model = Gaussian(covariance_type=covariance_type).fit(correlated())
    d = 3
    shape = {"full": (1, d, d), "diag": (1, d), "spherical": (1,)}[covariance_type]
    assert model.n_components == 1
    assert_array_equal(model.weights_, [1.0])
    assert_array_equal(model.means_, model.mean_[None, :])
    assert model.covariances_.shape == shape
    assert model.precisions_.shape == shape
    assert model.precisions_cholesky_.shape == shape
    if covariance_type == "full":
        u = model.precisions_cholesky_[0]
        assert_array_equal(u, np.triu(u))
        assert_allclose(u @ u.T, np.linalg.inv(model.covariance_), rtol=1e-10)
        assert_allclose(model.precisions_[0], np.linalg.inv(model.covariance_), rtol=1e-10)
    else:
        assert_allclose(model.precisions_cholesky_**2 * model.covariances_, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="exactly one component"):
        model.n_components = 2


def test_large_offset_keeps_accuracy():
    # Two passes about the mean: an offset of 1e6 standard deviations costs nothing.
    X = correlated(seed=3)
    shifted = Gaussian().fit(X + 1e6)
    plain = Gaussian().fit(X)
    assert_allclose(shifted.covariance_, plain.covariance_, rtol=1e-9)
    assert_allclose(shifted.mean_ - 1e6, plain.mean_, atol=1e-8)


def test_float32_input_uses_float64_statistics_and_returns_float32():
    # float64 statistics (equal to the float64 fit up to the final rounding), stored in
    # X's dtype as a one-component mixture of scikit-learn's would be.
    X = correlated().astype(np.float32)
    model = Gaussian().fit(X)
    reference = Gaussian().fit(X.astype(np.float64))
    theirs = SkGaussianMixture(1, reg_covar=0.0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(model, name).dtype == getattr(theirs, name).dtype == np.float32
    assert model.mean_.dtype == model.covariance_.dtype == np.float32
    assert_allclose(model.covariance_, reference.covariance_, rtol=1e-6)
    scores = model.score_samples(X)
    assert scores.dtype == theirs.score_samples(X).dtype == np.float32
    assert_allclose(scores, reference.score_samples(X), rtol=1e-6)
    assert model.score_samples(X.astype(np.float64)).dtype == np.float64
    assert reference.score_samples(X).dtype == np.float64


def test_dataframe_feature_names():
    X = correlated()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = Gaussian().fit(frame)
    assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    assert_allclose(model.score_samples(frame), Gaussian().fit(X).score_samples(X))
    given = model.condition({"b": 1.0})
    assert_array_equal(given.feature_names_in_, ["a", "c"])
    assert isinstance(given, Gaussian)
    assert given.covariance_.shape == (2, 2)
    assert_array_equal(given.mean_, given.means_[0])


# --------------------------------------------------------------------------------------
# Sample weights


@pytest.mark.parametrize("covariance_type", TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = correlated(50)
    counts = np.random.default_rng(4).integers(0, 4, 50)
    weighted = Gaussian(covariance_type=covariance_type).fit(X, sample_weight=counts)
    repeated = Gaussian(covariance_type=covariance_type).fit(np.repeat(X, counts, axis=0))
    assert_allclose(weighted.mean_, repeated.mean_, rtol=1e-12)
    assert_allclose(weighted.covariance_, repeated.covariance_, rtol=1e-11)
    assert_allclose(weighted.score_samples(X), repeated.score_samples(X), rtol=1e-11)


def test_constant_weights_change_nothing():
    X = correlated(50)
    plain = Gaussian().fit(X)
    constant = Gaussian().fit(X, sample_weight=np.full(50, 3.7))
    assert_allclose(constant.covariance_, plain.covariance_, rtol=1e-12)
    assert_allclose(constant.mean_, plain.mean_, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Sampling


@pytest.mark.parametrize("covariance_type", TYPES)
def test_samples_agree_with_the_density(covariance_type):
    # Squared Mahalanobis distances of exact draws follow chi2(d).
    model = Gaussian(covariance_type=covariance_type).fit(correlated())
    draws = model.sample(4000, random_state=np.random.default_rng(6))
    centred = draws - model.mean_
    distances = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(dense(model)), centred)
    assert stats.kstest(distances, stats.chi2(3).cdf).pvalue > ALPHA


def test_sample_random_state():
    model = Gaussian().fit(correlated())
    assert_array_equal(model.sample(5, random_state=0), model.sample(5, random_state=0))
    assert_array_equal(
        model.sample(5, random_state=np.random.default_rng(1)),
        model.sample(5, random_state=np.random.default_rng(1)),
    )
    assert not np.array_equal(model.sample(5), model.sample(5))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_samples"):
            model.sample(bad)


# --------------------------------------------------------------------------------------
# Information criteria


@pytest.mark.parametrize("covariance_type", TYPES)
def test_bic_and_aic_by_formula(covariance_type):
    X = correlated()
    n, d = X.shape
    model = Gaussian(covariance_type=covariance_type).fit(X)
    covariance_parameters = {"full": d * (d + 1) // 2, "diag": d, "spherical": 1}
    p = d + covariance_parameters[covariance_type]
    log_likelihood = stats.multivariate_normal(model.mean_, dense(model)).logpdf(X).sum()
    assert model.bic(X) == pytest.approx(-2 * log_likelihood + p * np.log(n), rel=1e-12)
    assert model.aic(X) == pytest.approx(-2 * log_likelihood + 2 * p, rel=1e-12)


# --------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("make", "feature"),
    [
        (lambda X: X[:3], None),  # more features than rows
        (lambda X: np.column_stack([X, np.full(len(X), 7.0)]), "feature 3"),
        (lambda X: np.column_stack([X, X[:, 0] - 2 * X[:, 1]]), "feature 3"),
    ],
    ids=["d>n", "constant", "collinear"],
)
def test_singular_covariance_names_the_fix(make, feature):
    X = make(correlated(50, d=3))
    with pytest.raises(ValueError, match="ReducedDensity") as info:
        Gaussian().fit(X)
    assert "reg_covar" in str(info.value)
    if feature is not None:
        assert feature in str(info.value)
    assert np.all(np.isfinite(Gaussian(reg_covar=1e-3).fit(X).score_samples(X)))


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_constant_feature_in_diagonal_models(covariance_type):
    X = np.column_stack([correlated(50, d=2), np.full(50, 1e6)])
    if covariance_type == "diag":
        with pytest.raises(ValueError, match="feature 2"):
            Gaussian(covariance_type=covariance_type).fit(X)
    else:  # the common variance stays positive
        model = Gaussian(covariance_type=covariance_type).fit(X)
        assert model.covariance_ > 0


@pytest.mark.parametrize(
    "params", [{"covariance_type": "tied"}, {"reg_covar": -1.0}, {"reg_covar": "x"}]
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        Gaussian(**params).fit(correlated())


def test_not_fitted():
    model = Gaussian()
    for method in (model.score_samples, model.score, model.bic, model.aic):
        with pytest.raises(NotFittedError):
            method(correlated(5))
    with pytest.raises(NotFittedError):
        model.sample(2)
    with pytest.raises(NotFittedError):
        model.condition([1.0, np.nan])
