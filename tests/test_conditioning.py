"""Conditionals, marginals and imputation of Gaussian models against independent oracles.

The oracles are the textbook Schur-complement formulas written with
``np.linalg.inv`` and scipy's multivariate normal, Monte Carlo rejection from
the joint, and identities between densities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from conftest import (
    COVARIANCE_TYPES,
    brute_score_samples,
    dense_covariances_of,
    fitted_at,
    random_parameters,
)
from lookalike._math import blocks
from lookalike.gaussian import Gaussian
from lookalike.mixture import GaussianMixture

# False-failure rate of each goodness-of-fit assertion below (one KS test at this level;
# where a test makes several, each is at ALPHA and the count is stated).
ALPHA = 1e-4

D = 4
KNOWN_SETS = [[0], [1, 3], [0, 2, 3]]


def mixture(covariance_type: str, seed: int = 0, k: int = 3, d: int = D) -> GaussianMixture:
    rng = np.random.default_rng(seed)
    params = random_parameters(rng, k, d, covariance_type, spread=1.5)
    return fitted_at(params, rng.standard_normal((20, d)), covariance_type)


def gaussian(covariance_type: str, seed: int = 0, d: int = D) -> Gaussian:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, d)) @ (rng.standard_normal((d, d)) + 2 * np.eye(d))
    return Gaussian(covariance_type=covariance_type).fit(X)


MODELS = [("GaussianMixture", t) for t in COVARIANCE_TYPES] + [
    ("Gaussian", t) for t in ("full", "diag", "spherical")
]
MODEL_IDS = [f"{name}-{t}" for name, t in MODELS]


def make(name: str, covariance_type: str, seed: int = 0):
    return (mixture if name == "GaussianMixture" else gaussian)(covariance_type, seed)


def dense_of(model) -> np.ndarray:
    return dense_covariances_of(
        np.asarray(model.covariances_),
        model.covariance_type,
        len(model.weights_),
        model.n_features_in_,
    )


def oracle_condition(model, known, x_known):
    """Weights, means and covariances of x_m | x_o by the textbook formulas."""
    known = np.asarray(known)
    missing = np.setdiff1d(np.arange(model.n_features_in_), known)
    log_weights, means, covariances = [], [], []
    for w, mu, S in zip(model.weights_, model.means_, dense_of(model), strict=True):
        S_oo, S_mo = S[np.ix_(known, known)], S[np.ix_(missing, known)]
        inverse = np.linalg.inv(S_oo)
        means.append(mu[missing] + S_mo @ inverse @ (x_known - mu[known]))
        covariances.append(S[np.ix_(missing, missing)] - S_mo @ inverse @ S_mo.T)
        log_weights.append(np.log(w) + stats.multivariate_normal(mu[known], S_oo).logpdf(x_known))
    log_weights = np.array(log_weights)
    return np.exp(log_weights - logsumexp(log_weights)), np.array(means), np.array(covariances)


def mixture_log_density(model, X):
    return brute_score_samples(X, model.weights_, model.means_, dense_of(model))


# --------------------------------------------------------------------------------------
# condition() against the Schur formulas


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
@pytest.mark.parametrize("known", KNOWN_SETS, ids=str)
def test_condition_matches_schur_oracle(name, covariance_type, known):
    model = make(name, covariance_type)
    x_known = np.random.default_rng(7).normal(size=len(known))
    row = np.full(D, np.nan)
    row[known] = x_known
    given = model.condition(row)
    weights, means, covariances = oracle_condition(model, known, x_known)

    assert type(given) is type(model)
    assert given.covariance_type == covariance_type
    assert given.n_features_in_ == D - len(known)
    assert_allclose(given.weights_, weights, rtol=1e-9, atol=1e-14)
    assert_allclose(given.means_, means, rtol=1e-10, atol=1e-12)
    assert_allclose(dense_of(given), covariances, rtol=1e-10, atol=1e-12)
    # The structure is kept: diag stays (k, m), spherical (k,), tied (m, m).
    m = D - len(known)
    shapes = {"full": (len(weights), m, m), "tied": (m, m), "diag": (len(weights), m)}
    assert np.shape(given.covariances_) == shapes.get(covariance_type, (len(weights),))
    # A dict of the known features gives the same model.
    from_dict = model.condition({int(j): float(v) for j, v in zip(known, x_known, strict=True)})
    assert_allclose(from_dict.means_, given.means_, rtol=1e-14)
    assert_allclose(from_dict.weights_, given.weights_, rtol=1e-14)


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
def test_conditional_is_a_working_fitted_model(name, covariance_type):
    model = make(name, covariance_type)
    given = model.condition({2: 0.3})
    U = np.asarray(given.precisions_cholesky_)
    if covariance_type == "full":
        assert_allclose(U @ np.swapaxes(U, 1, 2), np.linalg.inv(given.covariances_), rtol=1e-9)
    elif covariance_type == "tied":
        assert_allclose(U @ U.T, np.linalg.inv(given.covariances_), rtol=1e-9)
    else:
        assert_allclose(U**2 * given.covariances_, 1.0, rtol=1e-12)
    X = np.random.default_rng(1).normal(size=(30, 3))
    assert_allclose(given.score_samples(X), mixture_log_density(given, X), rtol=1e-10)
    assert sampled(given, 5, 0).shape == (5, 3)
    assert np.isfinite(given.bic(X))
    if name == "GaussianMixture":
        assert given.predict(X).shape == (30,)
        assert given.converged_ is True and given.n_iter_ == 0
        assert np.isnan(given.lower_bound_)
        assert given.n_components == model.n_components
    else:
        assert given.mean_.shape == (3,)


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
def test_conditional_density_identity(name, covariance_type):
    # log p(x_m | x_o) = log p(x) - log p(x_o)
    model = make(name, covariance_type)
    known, missing = [1, 3], [0, 2]
    x_known = np.array([0.4, -1.1])
    given = model.condition({1: 0.4, 3: -1.1})
    rows_missing = np.random.default_rng(2).normal(size=(40, 2))
    full_rows = np.empty((40, D))
    full_rows[:, known] = x_known
    full_rows[:, missing] = rows_missing
    marginal = model.marginal(known)
    expected = model.score_samples(full_rows) - marginal.score_samples(x_known[None, :])
    assert_allclose(given.score_samples(rows_missing), expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_conditioning_twice_equals_conditioning_once(covariance_type):
    model = mixture(covariance_type)
    both = model.condition({0: 0.5, 2: -0.7})
    # After conditioning on feature 0, old feature 2 is new feature 1.
    twice = model.condition({0: 0.5}).condition({1: -0.7})
    assert_allclose(twice.weights_, both.weights_, rtol=1e-10)
    assert_allclose(twice.means_, both.means_, rtol=1e-10, atol=1e-12)
    assert_allclose(dense_of(twice), dense_of(both), rtol=1e-10, atol=1e-12)


def test_far_component_weight_underflows_without_warnings():
    # Component 1 sits 1e4 standard deviations away: its conditional weight is exp(-5e7).
    model = fitted_at(
        {
            "weights": np.array([0.5, 0.5]),
            "means": np.array([[0.0, 0.0], [1e4, 0.0]]),
            "precisions": np.ones((2, 2)),
        },
        np.random.default_rng(0).normal(size=(10, 2)),
        "diag",
    )
    given = model.condition([0.0, np.nan])
    assert given.weights_[0] == pytest.approx(1.0)
    assert 0 < given.weights_[1] < 1e-300
    x = np.array([[0.5]])
    assert_allclose(given.score_samples(x), stats.norm.logpdf(0.5), rtol=1e-12)


# --------------------------------------------------------------------------------------
# Monte Carlo: rejection from the joint


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_condition_matches_rejection_sampling(covariance_type):
    model = mixture(covariance_type, seed=3, d=3)
    draws = model.sample(600_000, random_state=np.random.default_rng(11))[0]
    x0, half_width = float(np.median(draws[:, 0])), 0.05
    kept = draws[np.abs(draws[:, 0] - x0) < half_width, 1:]
    assert len(kept) > 2000
    given = model.condition({0: x0})
    ours = given.sample(len(kept), random_state=np.random.default_rng(12))[0]
    # Two features, each: means within 4.5 standard errors (two-sided rate 7e-6) and a
    # two-sample KS test at ALPHA: at most 2 * (7e-6 + 1e-4) false failures in all. The
    # window biases the kept rows by O(half_width^2), far below the KS resolution (~0.05).
    # (Component standard deviations are at least 0.58.)
    standard_error = np.sqrt(kept.var(axis=0) / len(kept) + ours.var(axis=0) / len(ours))
    assert np.all(np.abs(kept.mean(axis=0) - ours.mean(axis=0)) < 4.5 * standard_error)
    for j in range(2):
        assert stats.ks_2samp(kept[:, j], ours[:, j]).pvalue > ALPHA


# --------------------------------------------------------------------------------------
# marginal(), mean(), covariance()


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
def test_marginal_density_and_moments(name, covariance_type):
    model = make(name, covariance_type)
    features = [3, 1]
    marginal = model.marginal(features)
    covariances = dense_of(model)[:, features][:, :, features]
    X = np.random.default_rng(4).normal(size=(25, 2))
    oracle = brute_score_samples(X, model.weights_, model.means_[:, features], covariances)
    assert_allclose(marginal.score_samples(X), oracle, rtol=1e-10)

    # mean and covariance of the mixture: E[x] and E[x x^T] - E[x] E[x]^T.
    w = model.weights_
    mean = w @ model.means_
    second = np.einsum("k,kij->ij", w, dense_of(model)) + np.einsum(
        "k,ki,kj->ij", w, model.means_, model.means_
    )
    assert_allclose(model.mean(), mean, rtol=1e-12, atol=1e-14)
    assert_allclose(model.covariance(), second - np.outer(mean, mean), rtol=1e-10, atol=1e-12)
    assert_allclose(marginal.mean(), mean[features], rtol=1e-12, atol=1e-14)


def test_marginal_mean_and_covariance_by_monte_carlo():
    model = mixture("full", seed=5)
    draws = model.sample(200_000, random_state=np.random.default_rng(0))[0]
    # Sample moments of 2e5 draws: errors of a few 1e-3 at unit scale; 0.05 is > 10 sigma.
    assert_allclose(model.mean(), draws.mean(axis=0), atol=0.05)
    assert_allclose(model.covariance(), np.cov(draws, rowvar=False), atol=0.05)


# --------------------------------------------------------------------------------------
# impute()


def sampled(model, n, random_state):
    draws = model.sample(n, random_state=random_state)
    return draws[0] if isinstance(draws, tuple) else draws


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
def test_impute_mean_equals_the_conditional_mean(name, covariance_type):
    model = make(name, covariance_type)
    rng = np.random.default_rng(3)
    X = sampled(model, 120, rng)
    mask = rng.random(X.shape) < 0.4
    mask[:5], mask[5:8] = False, True
    X[mask] = np.nan
    filled = model.impute(X)
    assert filled.dtype == np.float64
    assert not np.isnan(filled).any()
    assert_array_equal(filled[~mask], X[~mask])
    for i in range(len(X)):
        if mask[i].all():
            assert_allclose(filled[i], model.mean(), rtol=1e-12)
        elif mask[i].any():
            assert_allclose(filled[i, mask[i]], model.condition(X[i]).mean(), rtol=1e-10)
    assert np.isnan(X[mask]).all(), "the input must not change"


def test_impute_over_several_blocks_equals_one_block(monkeypatch):
    model = mixture("full")
    X = sampled(model, 400, np.random.default_rng(0))
    X[:, 1] = np.nan
    X[::3, 2] = np.nan
    whole = model.impute(X)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)  # 64-row blocks
    assert_allclose(model.impute(X), whole, rtol=1e-13)


@pytest.mark.parametrize(("name", "covariance_type"), MODELS, ids=MODEL_IDS)
def test_impute_sample_reproducible_and_only_fills_nan(name, covariance_type):
    model = make(name, covariance_type)
    rng = np.random.default_rng(5)
    X = sampled(model, 60, rng)
    mask = rng.random(X.shape) < 0.5
    mask[:3], mask[3:6] = False, True
    X[mask] = np.nan
    first = model.impute(X, method="sample", random_state=0)
    assert_array_equal(first, model.impute(X, method="sample", random_state=0))
    generator = model.impute(X, method="sample", random_state=np.random.default_rng(1))
    assert_array_equal(
        generator, model.impute(X, method="sample", random_state=np.random.default_rng(1))
    )
    assert not np.isnan(first).any()
    assert_array_equal(first[~mask], X[~mask])
    assert not np.array_equal(first, model.impute(X, method="sample", random_state=1))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "spherical"])
def test_impute_sample_matches_condition_sample(covariance_type):
    model = mixture(covariance_type, seed=2)
    n = 3000
    X = np.full((2 * n, D), np.nan)
    X[:n, 1] = 0.8  # one pattern, one known value; the other n rows are all missing
    filled = model.impute(X, method="sample", random_state=np.random.default_rng(0))
    reference = model.condition({1: 0.8}).sample(n, random_state=np.random.default_rng(1))[0]
    joint = model.sample(n, random_state=np.random.default_rng(2))[0]
    # 3 + 4 two-sample KS tests, each at ALPHA: at most 7e-4 false failures in all.
    for j, feature in enumerate([0, 2, 3]):
        assert stats.ks_2samp(filled[:n, feature], reference[:, j]).pvalue > ALPHA
    for feature in range(D):
        assert stats.ks_2samp(filled[n:, feature], joint[:, feature]).pvalue > ALPHA


def test_impute_dataframe_and_names():
    model_array = gaussian("full")
    X = sampled(model_array, 50, np.random.default_rng(0))
    columns = ["a", "b", "c", "d"]
    model = Gaussian().fit(pd.DataFrame(sampled(model_array, 300, 1), columns=columns))
    X[::2, 1] = np.nan
    frame = pd.DataFrame(X, columns=columns)
    filled = model.impute(frame)
    assert isinstance(filled, np.ndarray)
    assert_allclose(
        filled[0, 1], model.condition({"a": X[0, 0], "c": X[0, 2], "d": X[0, 3]}).mean()[0]
    )
    assert_array_equal(model.marginal(["d", "a"]).feature_names_in_, ["d", "a"])


def test_impute_sample_does_not_depend_on_threads():
    model = mixture("full")
    X = sampled(model, 300, np.random.default_rng(0))
    X[np.random.default_rng(1).random(X.shape) < 0.4] = np.nan
    threaded = model.impute(X, method="sample", random_state=3)
    serial = clone(model).set_params(n_jobs=1)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "n_features_in_"):
        setattr(serial, name, getattr(model, name))
    assert_array_equal(serial.impute(X, method="sample", random_state=3), threaded)


def test_impute_with_more_than_64_features():
    # Patterns of more than 64 features are compared as packed bytes, not as one integer.
    rng = np.random.default_rng(0)
    model = Gaussian(covariance_type="diag").fit(rng.normal(size=(100, 70)))
    X = rng.normal(size=(6, 70))
    X[:3, 65:] = np.nan
    X[3:, :2] = np.nan
    filled = model.impute(X)
    assert_allclose(filled[0, 65:], model.mean_[65:], rtol=1e-12)
    assert_allclose(filled[4, :2], model.mean_[:2], rtol=1e-12)
    assert_array_equal(filled[:, 2:65], X[:, 2:65])


def test_impute_nothing_missing_and_no_rows():
    model = mixture("diag")
    X = sampled(model, 10, 0)
    assert_array_equal(model.impute(X), X)
    assert model.impute(np.empty((0, D))).shape == (0, D)


# --------------------------------------------------------------------------------------
# Errors


def test_condition_errors():
    model = mixture("full")
    with pytest.raises(ValueError, match="Nothing is known"):
        model.condition(np.full(D, np.nan))
    with pytest.raises(ValueError, match="Nothing is known"):
        model.condition({})
    with pytest.raises(ValueError, match="Every feature is known"):
        model.condition(np.zeros(D))
    with pytest.raises(ValueError, match="Every feature is known"):
        model.condition(dict.fromkeys(range(D), 0.0))
    with pytest.raises(ValueError, match="one row of 4 values"):
        model.condition([1.0, np.nan])
    with pytest.raises(ValueError, match="one row of 4 values"):
        model.condition(np.zeros((2, D)))
    with pytest.raises(ValueError, match="infinity"):
        model.condition([np.inf, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="fitted without feature names"):
        model.condition({"a": 1.0})
    with pytest.raises(ValueError, match="out of range"):
        model.condition({4: 1.0})
    with pytest.raises(ValueError, match="out of range"):
        model.marginal([-1])
    with pytest.raises(ValueError, match="finite number"):
        model.condition({0: np.nan})
    with pytest.raises(ValueError, match="only once"):
        model.marginal([0, 0])
    with pytest.raises(ValueError, match="integer index or by name"):
        model.marginal([True])
    with pytest.raises(ValueError, match="at least one feature"):
        model.marginal([])


def test_unknown_feature_name():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=["a", "b", "c"])
    model = GaussianMixture(2, random_state=0).fit(frame)
    with pytest.raises(ValueError, match="Unknown feature name 'z'"):
        model.condition({"z": 1.0})
    given = model.condition({"b": 0.0})
    assert_array_equal(given.feature_names_in_, ["a", "c"])
    assert np.isfinite(given.score_samples(pd.DataFrame([[0.0, 0.0]], columns=["a", "c"]))).all()


@pytest.mark.parametrize("cls", [GaussianMixture, Gaussian])
def test_not_fitted_errors(cls):
    model = cls()
    with pytest.raises(NotFittedError):
        model.condition({0: 1.0})
    with pytest.raises(NotFittedError):
        model.marginal([0])
    with pytest.raises(NotFittedError):
        model.impute(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        model.mean()
    with pytest.raises(NotFittedError):
        model.covariance()


def test_impute_errors():
    model = mixture("full")
    with pytest.raises(ValueError, match="infinity"):
        model.impute([[np.inf, np.nan, 0.0, 0.0]])
    with pytest.raises(ValueError, match="features"):
        model.impute(np.zeros((3, D + 1)))
    with pytest.raises(ValueError, match="method"):
        model.impute(np.zeros((3, D)), method="median")
