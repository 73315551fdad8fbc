"""Huge values: never NaN, never a raw RuntimeWarning (they are errors in this suite).

Rows far outside a fitted model (1e154 and beyond, where squares overflow float64)
get finite posteriors that sum to one and a log-density of ``-inf`` when the true
value is below float64's range. Oracles: the direct float64 evaluation at a
moderate distance along the same direction (the posterior is one-hot there
already and cannot change further out), and scipy's log-density of the one
component that matters. Data whose sums of squares overflow float64 are refused
at fit with a message that says to rescale.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

import lookalike as la
from conftest import COVARIANCE_TYPES, fitted_at, make_overlapping

FAR = [1e155, 1e200, 1e300, np.finfo(np.float64).max]
DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.6, 0.8, 0.0], [-0.5, 0.5, 0.7]])


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def mixture(request) -> la.GaussianMixture:
    return la.GaussianMixture(3, covariance_type=request.param, random_state=0).fit(
        make_overlapping(300, seed=1)
    )


@pytest.mark.parametrize("distance", FAR)
def test_far_rows_have_finite_posteriors_and_minus_infinite_log_density(mixture, distance):
    rows = distance * DIRECTIONS / np.abs(DIRECTIONS).max(axis=1, keepdims=True)
    scores = mixture.score_samples(rows)
    assert_array_equal(scores, -np.inf)
    proba = mixture.predict_proba(rows)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # At 1e8 (no overflow: squares 1e16) the posterior is already one-hot and it does
    # not change further out along the same direction.
    reference = mixture.predict_proba(1e8 * DIRECTIONS)
    assert_allclose(reference.max(axis=1), 1.0)
    assert_allclose(proba, reference, atol=1e-12)
    assert_array_equal(mixture.predict(rows), reference.argmax(axis=1))


def test_tied_components_far_away_are_told_apart_by_their_means():
    # Shared covariance: the quadratic terms are equal and the winner far out along x
    # is the component whose mean lies furthest along x, on either side.
    X = np.random.default_rng(2).standard_normal((50, 2))
    params = {
        "weights": np.array([0.5, 0.5]),
        "means": np.array([[-1.0, 0.0], [1.0, 0.0]]),
        "precisions": np.eye(2),
    }
    model = fitted_at(params, X, "tied")
    rows = np.array([[1e300, 0.0], [-1e300, 0.0], [1e200, 5.0]])
    assert_allclose(model.predict_proba(rows), [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert_array_equal(model.score_samples(rows), -np.inf)


def test_row_that_overflows_in_one_tight_component_only():
    # Variance 1e-200 makes the tight component's square overflow at 1e60, while the
    # broad one's log-density is about -5e119: exact, from scipy, with posterior [0, 1].
    X = np.random.default_rng(3).standard_normal((50, 2))
    params = {
        "weights": np.array([0.3, 0.7]),
        "means": np.zeros((2, 2)),
        "precisions": np.stack([1e200 * np.eye(2), np.eye(2)]),
    }
    model = fitted_at(params, X, "full")
    rows = np.array([[1e60, 0.0], [3e70, -2e70]])
    expected = np.log(0.7) + stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(rows)
    assert_allclose(model.score_samples(rows), expected, rtol=1e-12)
    assert_allclose(model.predict_proba(rows), [[0.0, 1.0], [0.0, 1.0]])


def test_float32_queries_far_away_give_minus_infinity_in_float32():
    X = make_overlapping(300, seed=1).astype(np.float32)
    model = la.GaussianMixture(2, random_state=0).fit(X)
    rows = np.array([[1e30, 0.0, 0.0], [3e38, 3e38, -3e38], [1e10, 0.0, 0.0]], np.float32)
    scores = model.score_samples(rows)
    assert scores.dtype == np.float32
    # 1e30 and 3e38: below float32's range; 1e10: about -1e20 nats, representable.
    assert_array_equal(scores[:2], -np.inf)
    assert np.isfinite(scores[2])
    assert np.all(np.isfinite(model.predict_proba(rows)))


def test_missing_entries_with_far_values_are_refused_not_nan():
    X = make_overlapping(300, seed=1)
    model = la.GaussianMixture(2, missing="em", random_state=0).fit(X)
    with pytest.raises(ValueError, match="rescale"):
        model.score_samples(np.array([[1e300, np.nan, 0.0]]))
    # Without the far value the same row is fine.
    assert np.isfinite(model.score_samples(np.array([[1.0, np.nan, 0.0]]))).all()


@pytest.mark.parametrize("estimator", [la.GaussianMixture(2), la.Gaussian()])
@pytest.mark.parametrize("scale", [1e155, 1e200, 1e300])
def test_data_whose_squares_overflow_are_refused_at_fit(estimator, scale):
    X = make_overlapping(100, seed=2) * scale
    with pytest.raises(ValueError, match=r"overflow float64.*Rescale"):
        estimator.fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tol=0 on purpose
def test_large_but_safe_data_fit_like_the_rescaled_data():
    # 1e100: squares of 1e200 are fine. Without reg_covar (which does not scale), EM
    # from rescaled initial parameters is the rescaled EM: means scale, densities
    # differ by -d log(1e100).
    X = make_overlapping(300, seed=3)
    scale = 1e100
    start = la.GaussianMixture(3, random_state=0).fit(X)
    kwargs = {"n_components": 3, "reg_covar": 0.0, "tol": 0.0, "max_iter": 10}
    small = la.GaussianMixture(
        **kwargs,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
    ).fit(X)
    large = la.GaussianMixture(
        **kwargs,
        weights_init=start.weights_,
        means_init=start.means_ * scale,
        precisions_init=start.precisions_ / scale**2,
    ).fit(X * scale)
    assert_allclose(large.means_, small.means_ * scale, rtol=1e-9)
    assert_allclose(
        large.score_samples(X * scale), small.score_samples(X) - 3 * np.log(scale), rtol=1e-9
    )


def test_gaussian_far_rows():
    X = make_overlapping(300, seed=4)
    model = la.Gaussian().fit(X)
    oracle = stats.multivariate_normal(model.mean_, model.covariance_)
    rows = np.array([[1e300, 0.0, 0.0], [1e100, -1e100, 0.0], [10.0, 0.0, 0.0]])
    scores = model.score_samples(rows)
    assert scores[0] == -np.inf
    assert_allclose(scores[1:], oracle.logpdf(rows[1:]), rtol=1e-10)
