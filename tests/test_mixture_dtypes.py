"""GaussianMixture's dtypes against scikit-learn's, and the single-precision E-step.

The dtype test asks scikit-learn (installed) for its dtypes rather than listing them,
so a change in a future scikit-learn release shows up here.

Tolerances of the float32 E-step against the float64 one on the same float32 rows:
float32 products summed over a block of b = 3,000 rows carry about
sqrt(b) * 6e-8 = 3e-6 relative error of the largest statistic, and the
log-densities about 6e-8 * (squared Mahalanobis distance of the means from the
shift, at most 1e3 here) = 6e-5 nats each: counts, sums and second moments are
compared at rtol 1e-5 of their largest entry, the log-likelihood at 1e-6
relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import lookalike as la
from conftest import COVARIANCE_TYPES, make_blobs
from lookalike._math import gaussian as gm
from lookalike._math.em import Moments, e_step_rows

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def kind(value: object) -> object:
    """The dtype of an array, else the type of a scalar (np.float32, float...)."""
    return value.dtype if isinstance(value, np.ndarray) else type(value)


def sklearn_sample(model: SkGaussianMixture, n: int) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        # scikit-learn's float32 covariances may fail its own PSD check when sampling.
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.sample(n)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_attribute_and_output_has_sklearns_dtype(dtype, covariance_type):
    X = make_blobs(300, seed=4)[0].astype(dtype)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0}
    ours = la.GaussianMixture(**kwargs).fit(X)
    theirs = SkGaussianMixture(**kwargs).fit(X)
    for name in FITTED:
        assert getattr(ours, name).dtype == getattr(theirs, name).dtype, name
    assert kind(ours.lower_bound_) == kind(theirs.lower_bound_)
    assert {kind(v) for v in ours.lower_bounds_} == {kind(v) for v in theirs.lower_bounds_}
    assert kind(ours.converged_) == kind(theirs.converged_)
    assert kind(ours.n_iter_) == kind(theirs.n_iter_)
    for query_dtype in (np.float32, np.float64):
        Q = X.astype(query_dtype)
        for method in ("score_samples", "predict_proba", "predict", "score", "bic", "aic"):
            assert kind(getattr(ours, method)(Q)) == kind(getattr(theirs, method)(Q)), method
    assert kind(clone(ours).fit_predict(X)) == kind(clone(theirs).fit_predict(X))
    for mine, reference in zip(ours.sample(5), sklearn_sample(theirs, 5), strict=True):
        assert kind(mine) == kind(reference)


def test_warm_start_keeps_the_dtype_of_the_lower_bound():
    X = make_blobs(300, seed=4)[0].astype(np.float32)
    model = la.GaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        model.fit(X)
        model.fit(X)
    assert type(model.lower_bound_) is np.float32
    assert model.weights_.dtype == np.float32


# --------------------------------------------------------------------------------------
# The single-precision E-step


def e_step_setup(X: np.ndarray, covariance_type: str, spread: float = 1.0):
    """Parameters of a short fit, centred, with their expanded forms."""
    model = la.GaussianMixture(
        4, covariance_type=covariance_type, max_iter=3, tol=0.0, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        model.fit(X)
    shift = X.mean(axis=0, dtype=np.float64).astype(np.float32).astype(np.float64)
    means = (model.means_.astype(np.float64) - shift) * spread
    factors = model.precisions_cholesky_.astype(np.float64)
    expanded = gm.expand_gaussians(means, factors, covariance_type)
    return shift, means, expanded, np.log(model.weights_.astype(np.float64))


def assert_moments_close(narrow: Moments, wide: Moments, rtol: float) -> None:
    for name in ("counts", "sums", "second"):
        mine, reference = getattr(narrow, name), getattr(wide, name)
        assert mine.dtype == np.float64
        assert_allclose(mine, reference, rtol=0, atol=rtol * np.abs(reference).max())
    assert narrow.log_likelihood == pytest.approx(wide.log_likelihood, rel=1e-6)
    assert narrow.total_weight == wide.total_weight


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_rows_run_in_single_precision_with_float64_moments(covariance_type):
    X = make_blobs(3000, seed=5)[0].astype(np.float32)
    shift, means, expanded, log_weights = e_step_setup(X, covariance_type)
    single = gm.single_precision(expanded, means)
    assert single is not None and single.linear.dtype == np.float32
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    args = (shift, expanded)
    narrow = e_step_rows(X, weights, *args, single, log_weights, covariance_type)
    wide = e_step_rows(X.astype(np.float64), weights, *args, None, log_weights, covariance_type)
    assert_moments_close(narrow, wide, rtol=1e-5)
    # Not the float64 pass in disguise: single precision rounds differently.
    assert not np.array_equal(narrow.second, wide.second)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_components_far_from_the_mean_keep_float64(covariance_type):
    # Means 100 times further out: squared Mahalanobis distances of 1e4 and more, where
    # float32 would lose 1e-3 nats; the gate keeps float64, so the pass is the float64
    # one exactly.
    X = make_blobs(500, seed=5)[0].astype(np.float32)
    shift, means, expanded, log_weights = e_step_setup(X, covariance_type, spread=100.0)
    single = gm.single_precision(expanded, means)
    assert single is None
    narrow = e_step_rows(X, None, shift, expanded, single, log_weights, covariance_type)
    wide = e_step_rows(X.astype(np.float64), None, shift, expanded, None, log_weights,
                       covariance_type)  # fmt: skip
    assert_allclose(narrow.second, wide.second, rtol=0, atol=0)
    assert narrow.log_likelihood == wide.log_likelihood


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_overflow_is_redone_in_float64_without_warnings(covariance_type):
    # Squares of 1e25 overflow float32 (3.4e38) but not float64: the block is redone in
    # float64, silently (RuntimeWarnings are errors in this suite) and exactly.
    X = make_blobs(500, seed=5)[0].astype(np.float32)
    shift, means, expanded, log_weights = e_step_setup(X, covariance_type)
    single = gm.single_precision(expanded, means)
    assert single is not None
    rows = X.copy()
    rows[7] = 1e25
    narrow = e_step_rows(rows, None, shift, expanded, single, log_weights, covariance_type)
    wide = e_step_rows(rows.astype(np.float64), None, shift, expanded, None, log_weights,
                       covariance_type)  # fmt: skip
    assert narrow.is_finite()
    for name in ("counts", "sums", "second", "log_likelihood"):
        assert_allclose(getattr(narrow, name), getattr(wide, name), rtol=0, atol=0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_fit_from_the_same_start_reaches_the_float64_lower_bound(covariance_type):
    # The benchmark's target (lower bound within 1e-5 relative of the float64 fit), on
    # 20,000 rows in 8 dimensions, 5 EM iterations from the same parameters.
    centres = 3.0 * np.random.default_rng(6).standard_normal((3, 8))
    X = make_blobs(20_000, seed=6, centres=centres)[0]
    start = la.GaussianMixture(5, covariance_type=covariance_type, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        start.fit(X[:2000])
        kwargs = {
            "n_components": 5,
            "covariance_type": covariance_type,
            "max_iter": 5,
            "tol": 0.0,
            "weights_init": start.weights_,
            "means_init": start.means_,
            "precisions_init": start.precisions_,
        }
        narrow = la.GaussianMixture(**kwargs).fit(X.astype(np.float32))
        wide = la.GaussianMixture(**kwargs).fit(X.astype(np.float32).astype(np.float64))
    assert narrow.lower_bound_ == pytest.approx(wide.lower_bound_, rel=1e-5)
    scale = np.abs(wide.means_).max()
    assert_allclose(narrow.means_, wide.means_, rtol=0, atol=1e-4 * scale)
