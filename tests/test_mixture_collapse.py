"""Collapsed mixture components: scikit-learn's error by default, repair on request.

A component collapses when its covariance is singular: it sits on repeated rows, or
on fewer rows than features. scikit-learn raises ValueError when that happens
(only possible with ``reg_covar=0``); ``on_collapse="raise"`` (the default) does
the same and ``on_collapse="repair"`` keeps the fit finite. Every case below that
expects an error checks that scikit-learn raises on it too.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import lookalike as la
from conftest import COVARIANCE_TYPES, INIT_PARAMS, dense_covariances_of
from lookalike.exceptions import DegenerateComponentWarning, InvalidParameterError

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")

# The reproduction from the issue: 10 rows on two points, 10 components.
DEGENERATE = np.vstack((np.ones((5, 5)), np.zeros((5, 5))))


def assert_finite_fit(model: la.GaussianMixture, X: np.ndarray) -> None:
    for name in FITTED:
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.lower_bound_)
    assert np.all(np.isfinite(model.score_samples(X)))
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    # The stored covariances are the ones used: positive definite and consistent
    # with the precision factors.
    k, d = model.means_.shape
    covariances = dense_covariances_of(model.covariances_, model.covariance_type, k, d)
    assert np.all(np.linalg.eigvalsh(covariances) > 0)
    factors = model.precisions_cholesky_
    if model.covariance_type in ("diag", "spherical"):
        factors = dense_covariances_of(factors, model.covariance_type, k, d)  # diag(U)
    inverses = np.linalg.inv(np.broadcast_to(factors, (k, d, d)))
    implied = np.swapaxes(inverses, 1, 2) @ inverses  # Sigma = U^-T U^-1
    assert_allclose(implied, covariances, rtol=1e-6, atol=1e-9 * np.abs(covariances).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_duplicated_points_with_reg_covar_zero_warn_and_stay_finite(covariance_type):
    # Three distinct points, each repeated: every component collapses onto one.
    X = np.repeat([[0.0, 0.0], [5.0, 1.0], [1.0, 6.0]], 10, axis=0)
    model = la.GaussianMixture(
        3, covariance_type=covariance_type, reg_covar=0.0, random_state=0, on_collapse="repair"
    )
    with pytest.warns(DegenerateComponentWarning, match="positive definite") as record:
        model.fit(X)
    expected = r"\[0\]" if covariance_type == "tied" else r"\[0, 1, 2\]"
    assert any(re.search(expected, str(warning.message)) for warning in record)
    assert_finite_fit(model, X)
    assert_allclose(np.sort(model.means_[:, 0]), [0.0, 1.0, 5.0], atol=1e-9)


def test_singular_cluster_with_reg_covar_zero_warns_and_stays_finite():
    rng = np.random.default_rng(12)
    t = rng.standard_normal(40)
    on_a_line = np.column_stack([t, 2.0 * t])  # rank-one cluster
    blob = rng.standard_normal((40, 2)) + np.array([10.0, 0.0])
    X = np.vstack([on_a_line, blob])
    model = la.GaussianMixture(2, reg_covar=0.0, random_state=0, on_collapse="repair")
    with pytest.warns(DegenerateComponentWarning):
        model.fit(X)
    assert_finite_fit(model, X)
    line_component = int(np.argmin(np.abs(model.means_[:, 0])))
    assert np.all(model.predict(on_a_line) == line_component)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_component_without_mass_keeps_its_parameters(covariance_type):
    X = np.random.default_rng(13).standard_normal((100, 2))
    far = np.array([1e3, 1e3])
    precisions = {
        "full": np.stack([np.eye(2)] * 2),
        "diag": np.ones((2, 2)),
        "spherical": np.ones(2),
    }[covariance_type]
    model = la.GaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=[0.5, 0.5],
        means_init=np.vstack([[0.0, 0.0], far]),
        precisions_init=precisions,
        max_iter=5,
    )
    with pytest.warns(DegenerateComponentWarning, match=r"\[1\] received no responsibility"):
        model.fit(X)
    assert_finite_fit(model, X)
    assert_allclose(model.means_[1], far)
    assert model.weights_[1] < 1e-12
    assert_allclose(model.means_[0], X.mean(axis=0), atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_data_fit_finitely_with_default_reg_covar(covariance_type):
    X = np.tile([1.0, -2.0, 3.0], (30, 1))
    model = la.GaussianMixture(1, covariance_type=covariance_type).fit(X)
    assert_finite_fit(model, X)
    assert_allclose(model.means_, [[1.0, -2.0, 3.0]])
    covariances = dense_covariances_of(model.covariances_, covariance_type, 1, 3)
    assert_allclose(covariances[0], 1e-6 * np.eye(3), rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_data_with_more_components_than_distinct_rows(covariance_type, init_params):
    X = np.tile([1.0, -2.0, 3.0], (30, 1))
    model = la.GaussianMixture(
        2, covariance_type=covariance_type, init_params=init_params, random_state=0
    )
    with warnings.catch_warnings():
        # KMeans warns that it found one distinct cluster; an empty component warns too.
        warnings.simplefilter("ignore", SkConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        model.fit(X)
    assert_finite_fit(model, X)
    assert_allclose(model.weights_.sum(), 1.0)
    occupied = model.weights_ > 1e-6
    assert_allclose(model.means_[occupied], np.tile([1.0, -2.0, 3.0], (occupied.sum(), 1)))


def test_constant_feature_with_reg_covar_zero_is_named():
    X = np.random.default_rng(14).standard_normal((30, 3))
    X[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"Feature\(s\) \[1\] are constant.*reg_covar"):
        la.GaussianMixture(2, reg_covar=0.0).fit(X)


# --------------------------------------------------------------------------------------
# scikit-learn's behaviour by default; the repair under on_collapse="repair"


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_reg_covar_zero_on_degenerate_data_raises_like_sklearn(covariance_type):
    kwargs = {"n_components": 10, "covariance_type": covariance_type, "reg_covar": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)  # KMeans: 2 distinct points
        with pytest.raises(ValueError, match="ill-defined empirical covariance"):
            SkGaussianMixture(**kwargs, random_state=0).fit(DEGENERATE)
        with pytest.raises(ValueError, match="ill-defined empirical covariance") as info:
            la.GaussianMixture(**kwargs, random_state=0).fit(DEGENERATE)
    # The message says what to do, including lookalike's way out.
    message = str(info.value)
    assert "increase reg_covar" in message
    assert "on_collapse='repair'" in message


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_on_collapse_repair_fits_the_degenerate_data(covariance_type):
    model = la.GaussianMixture(
        10, covariance_type=covariance_type, reg_covar=0.0, on_collapse="repair", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        with pytest.warns(DegenerateComponentWarning):
            model.fit(DEGENERATE)
    assert_finite_fit(model, DEGENERATE)
    occupied = model.weights_ > 1e-6
    assert_allclose(np.sort(model.means_[occupied, 0]), [0.0, 1.0], atol=1e-9)


def test_on_collapse_is_validated_at_fit():
    model = la.GaussianMixture(2, on_collapse="ignore")  # stored, not checked, by __init__
    assert model.get_params()["on_collapse"] == "ignore"
    with pytest.raises(InvalidParameterError, match="on_collapse"):
        model.fit(np.random.default_rng(0).standard_normal((20, 2)))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_repeated_rows_far_from_the_mean_fit_with_default_reg_covar(covariance_type):
    # reg_covar=1e-6 is below the rounding noise of one-pass statistics at 1e5
    # (about 1e-16 * 1e10): scikit-learn's exact two-pass arithmetic still fits, so
    # lookalike must not raise; it repairs the collapsed components and says so.
    X = np.repeat([[1e5, 2e5], [1.5e5, 2e5], [1e5, 3e5]], 20, axis=0)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0}
    SkGaussianMixture(**kwargs).fit(X)
    model = la.GaussianMixture(**kwargs)
    with pytest.warns(DegenerateComponentWarning):
        model.fit(X)
    assert_finite_fit(model, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_features_on_very_different_scales_are_not_taken_for_collapsed(covariance_type):
    # One feature in units of 1e4, another in units of 1e-4: the collapse floor is per
    # feature, so the small one keeps its variance (reg_covar included) instead of a
    # jitter sized for the large one (which lowered the mean log-likelihood by 0.9).
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(5e4, 1e4, 2000), rng.normal(0.0, 1e-4, 2000)])
    kwargs = {"n_components": 2, "covariance_type": covariance_type, "random_state": 0}
    theirs = SkGaussianMixture(**kwargs).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        ours = la.GaussianMixture(**kwargs).fit(X)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-8)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6)
