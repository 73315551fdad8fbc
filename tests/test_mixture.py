"""GaussianMixture against scikit-learn and against brute-force formulas.

Tolerances:
- log-densities from the same parameters: rtol 1e-10 (the expanded quadratic form
  loses about eps * (distance in standard deviations)^2, far below that here);
- fits from the same random_state: lower bound rtol 1e-8, means and covariances
  atol 1e-8 (only summation order differs from scikit-learn);
- float32 against float64 fits: rtol 1e-4 (float32 inputs carry 6e-8 relative
  rounding, amplified by a few EM iterations).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.exceptions import NotFittedError as SkNotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import lookalike as la
import lookalike._math.blocks as blocks_module
from conftest import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    brute_score_samples,
    dense_covariances,
    dense_covariances_of,
    fitted_at,
    make_blobs,
    make_overlapping,
    random_parameters,
    sklearn_copy,
)

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def quiet_fit(estimator, X, **kwargs):
    """Fit, ignoring ConvergenceWarning (for runs that stop at max_iter on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        return estimator.fit(X, **kwargs)


def initial_parameters_of(X: np.ndarray, k: int, covariance_type: str) -> dict:
    """Deterministic initial parameters from k rows spread along the first axis."""
    order = np.argsort(X[:, 0])
    rows = order[np.linspace(0, len(X) - 1, k).astype(int)]
    d = X.shape[1]
    precisions = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": X[rows],
        "precisions_init": precisions,
    }


# --------------------------------------------------------------------------------------
# Log-densities from the same parameters


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_equal_sklearn_and_scipy_for_same_parameters(covariance_type):
    rng = np.random.default_rng(1)
    k, d = 3, 4
    params = random_parameters(rng, k, d, covariance_type)
    X = 3.0 * rng.standard_normal((150, d))
    ours = fitted_at(params, X, covariance_type)
    # The stored parameters are the given ones; U is upper triangular with U U^T = P.
    assert_allclose(ours.weights_, params["weights"], rtol=1e-15)
    assert_allclose(ours.means_, params["means"], rtol=1e-14, atol=1e-14)
    assert_allclose(ours.precisions_, params["precisions"], rtol=1e-12)
    factors = ours.precisions_cholesky_
    if covariance_type in ("full", "tied"):
        assert_array_equal(factors, np.triu(factors))
        products = factors @ np.swapaxes(factors, -1, -2)
        assert_allclose(products, params["precisions"], rtol=1e-12)
    else:
        assert_allclose(factors**2, params["precisions"], rtol=1e-14)
    # scikit-learn with max_iter=0 and all three initial arrays leaves covariances_
    # unset, so its estimator gets our parameters copied in instead.
    theirs = sklearn_copy(ours)
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)

    covariances = dense_covariances(params["precisions"], covariance_type, k, d)
    expected = brute_score_samples(X, params["weights"], params["means"], covariances)
    assert_allclose(ours.score_samples(X), expected, rtol=1e-10)
    assert_allclose(
        dense_covariances_of(ours.covariances_, covariance_type, k, d), covariances, rtol=1e-10
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fitted_parameters_copied_into_sklearn_give_same_scores(covariance_type, overlapping):
    ours = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    ours.fit(overlapping)
    theirs = sklearn_copy(ours)
    query = np.vstack([overlapping, overlapping + 5.0])
    assert_allclose(ours.score_samples(query), theirs.score_samples(query), rtol=1e-10)
    assert_allclose(ours.predict_proba(query), theirs.predict_proba(query), atol=1e-10)
    k, d = 3, overlapping.shape[1]
    expected = brute_score_samples(
        query,
        ours.weights_,
        ours.means_,
        dense_covariances_of(ours.covariances_, covariance_type, k, d),
    )
    assert_allclose(ours.score_samples(query), expected, rtol=1e-10)


def test_score_samples_far_from_the_data_stays_accurate():
    """Far queries: the expanded form is centred, so the error stays small."""
    rng = np.random.default_rng(2)
    params = random_parameters(rng, 2, 3, "full")
    X = rng.standard_normal((60, 3))
    ours = fitted_at(params, X, "full")
    query = rng.standard_normal((20, 3)) * 40.0
    covariances = dense_covariances(params["precisions"], "full", 2, 3)
    expected = brute_score_samples(query, params["weights"], params["means"], covariances)
    assert_allclose(ours.score_samples(query), expected, rtol=1e-9)


# --------------------------------------------------------------------------------------
# Fits from the same random_state


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_equals_sklearn_for_same_random_state(covariance_type, init_params, overlapping):
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 0,
        "tol": 1e-5,
        "max_iter": 30,
    }
    ours = quiet_fit(la.GaussianMixture(**kwargs), overlapping)
    theirs = quiet_fit(SkGaussianMixture(**kwargs), overlapping)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-8)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-8)
    for name in FITTED:
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6, atol=1e-8)
    assert_array_equal(ours.predict(overlapping), theirs.predict(overlapping))


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_tied_seeded_initialisation_reproduces_sklearn_far_from_origin(init_params):
    """scikit-learn's tied estimate from k seed rows depends on the data's origin."""
    X = make_overlapping(150, seed=3) + np.array([20.0, -7.0, 3.0])
    kwargs = {
        "n_components": 3,
        "covariance_type": "tied",
        "init_params": init_params,
        "random_state": 1,
        "max_iter": 0,
    }
    ours = la.GaussianMixture(**kwargs).fit(X)
    theirs = SkGaussianMixture(**kwargs).fit(X)
    assert_allclose(ours.weights_, theirs.weights_, rtol=1e-12)
    assert_allclose(ours.means_, theirs.means_, rtol=1e-12)
    assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-9)
    assert_allclose(ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=1e-7)


def test_n_init_equals_sklearn(overlapping):
    kwargs = {"n_components": 4, "init_params": "random", "n_init": 3, "random_state": 5}
    ours = quiet_fit(la.GaussianMixture(**kwargs), overlapping)
    theirs = quiet_fit(SkGaussianMixture(**kwargs), overlapping)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-8)
    assert_allclose(ours.means_, theirs.means_, atol=1e-7)


# --------------------------------------------------------------------------------------
# Behaviour


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recovers_means_and_weights_of_separated_blobs(covariance_type):
    X, labels = make_blobs(900, seed=4)
    model = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    centres = np.array([[0.0, 0.0], [8.0, 1.0], [2.0, 9.0]])
    # Match components to centres by nearest mean; each blob has >= 180 unit-variance
    # rows, so a mean is within 4 standard errors (4 / sqrt(180) = 0.3) of its centre.
    order = [int(np.argmin(np.linalg.norm(model.means_ - c, axis=1))) for c in centres]
    assert sorted(order) == [0, 1, 2]
    assert_allclose(model.means_[order], centres, atol=0.3)
    assert_allclose(model.weights_[order], [0.5, 0.3, 0.2], atol=0.01)
    # Blobs are >= 7 standard deviations apart: at most a few points cross over.
    assert np.mean(np.asarray(order)[labels] == model.predict(X)) > 0.99


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_proba_rows_sum_to_one_and_argmax_is_predict(covariance_type, overlapping):
    model = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(overlapping)
    proba = model.predict_proba(overlapping)
    assert proba.shape == (len(overlapping), 3)
    assert np.all(proba >= 0)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_array_equal(proba.argmax(axis=1), model.predict(overlapping))
    assert model.predict(overlapping).dtype.kind == "i"


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_predict_equals_fit_then_predict(covariance_type, overlapping):
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "random_state": 3,
        "max_iter": 3,
        "init_params": "random",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        labels = la.GaussianMixture(**kwargs).fit_predict(overlapping)
        model = la.GaussianMixture(**kwargs).fit(overlapping)
    # After only 3 iterations the parameters still move, so this checks the final
    # E-step uses the stored parameters.
    assert_array_equal(labels, model.predict(overlapping))


def expected_n_parameters(covariance_type: str, k: int, d: int) -> int:
    covariance = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return covariance + k * d + (k - 1)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bic_and_aic_follow_their_definitions(covariance_type, overlapping):
    model = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(overlapping)
    n, d = overlapping.shape
    p = expected_n_parameters(covariance_type, 3, d)
    log_likelihood = model.score_samples(overlapping).sum()
    assert model.bic(overlapping) == pytest.approx(-2 * log_likelihood + p * math.log(n))
    assert model.aic(overlapping) == pytest.approx(-2 * log_likelihood + 2 * p)
    theirs = sklearn_copy(model)
    assert model.bic(overlapping) == pytest.approx(theirs.bic(overlapping), rel=1e-10)
    assert model.aic(overlapping) == pytest.approx(theirs.aic(overlapping), rel=1e-10)


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_lower_bounds_never_decrease(covariance_type, reg_covar, overlapping):
    model = la.GaussianMixture(
        4,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        init_params="random",
        random_state=2,
        tol=0.0,
        max_iter=40,
    )
    quiet_fit(model, overlapping)
    bounds = np.asarray(model.lower_bounds_)
    assert len(bounds) == model.n_iter_ == 40
    assert np.all(np.diff(bounds) >= -1e-10)
    assert bounds[-1] == model.lower_bound_
    # lower_bound_ is the mean log-likelihood under the parameters before the last
    # M-step; the final parameters can only be better.
    assert model.score(overlapping) >= model.lower_bound_ - 1e-10


def test_same_random_state_gives_identical_fits(overlapping):
    first = la.GaussianMixture(3, init_params="random", random_state=7).fit(overlapping)
    second = la.GaussianMixture(3, init_params="random", random_state=7).fit(overlapping)
    for name in FITTED:
        assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.lower_bound_ == second.lower_bound_
    other = la.GaussianMixture(3, init_params="random", random_state=8).fit(overlapping)
    assert not np.array_equal(first.means_, other.means_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_threads_and_blocks_do_not_change_the_numbers(covariance_type, monkeypatch):
    X = make_overlapping(2000, seed=6)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0}
    single_block = la.GaussianMixture(**kwargs, n_jobs=1).fit(X)

    monkeypatch.setattr(blocks_module, "BLOCK_BYTES", 1024)
    assert blocks_module.block_rows(100) == blocks_module.MIN_BLOCK_ROWS  # 2000 / 64 blocks
    one_thread = la.GaussianMixture(**kwargs, n_jobs=1).fit(X)
    two_threads = la.GaussianMixture(**kwargs, n_jobs=2).fit(X)
    # Blocks are reduced in order, so the thread count changes nothing at all.
    for name in FITTED:
        assert_array_equal(getattr(one_thread, name), getattr(two_threads, name))
    assert one_thread.lower_bound_ == two_threads.lower_bound_
    assert_array_equal(one_thread.score_samples(X), two_threads.score_samples(X))
    # Many blocks against one block: only summation order differs.
    assert one_thread.n_iter_ == single_block.n_iter_
    assert one_thread.lower_bound_ == pytest.approx(single_block.lower_bound_, rel=1e-12)
    for name in FITTED:
        assert_allclose(getattr(one_thread, name), getattr(single_block, name), rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_input_is_close_to_float64_and_keeps_its_dtype(covariance_type, blobs):
    X = blobs[0]
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "random_state": 0}
    wide = la.GaussianMixture(**kwargs).fit(X)
    narrow = la.GaussianMixture(**kwargs).fit(X.astype(np.float32))
    theirs = SkGaussianMixture(**kwargs).fit(X.astype(np.float32))
    for name in FITTED:
        assert getattr(narrow, name).dtype == getattr(theirs, name).dtype == np.float32
        assert_allclose(getattr(narrow, name), getattr(wide, name), rtol=1e-4, atol=1e-5)
    assert narrow.lower_bound_ == pytest.approx(wide.lower_bound_, rel=1e-5)
    scores = narrow.score_samples(X.astype(np.float32))
    assert np.all(np.isfinite(scores))
    assert_allclose(scores, wide.score_samples(X), rtol=1e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_translation_far_from_the_origin_changes_only_the_means(covariance_type, overlapping):
    """Shifted statistics keep one-pass covariances exact on uncentred data."""
    offset = np.array([1e8, -3e7, 5e6])
    init = initial_parameters_of(overlapping, 3, covariance_type)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "tol": 0.0, "max_iter": 10}
    near = quiet_fit(la.GaussianMixture(**kwargs, **init), overlapping)
    init["means_init"] = init["means_init"] + offset
    far = quiet_fit(la.GaussianMixture(**kwargs, **init), overlapping + offset)
    # Rows at 1e8 carry an absolute rounding error of 1e8 * eps = 1.5e-8.
    assert_allclose(far.means_ - offset, near.means_, atol=1e-6)
    assert_allclose(far.covariances_, near.covariances_, rtol=1e-6)
    assert_allclose(far.weights_, near.weights_, rtol=1e-6)
    assert far.lower_bound_ == pytest.approx(near.lower_bound_, rel=1e-6)
    assert_allclose(
        far.score_samples(overlapping + offset), near.score_samples(overlapping), rtol=1e-6
    )


def test_dataframe_input_records_feature_names(overlapping):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(overlapping, columns=["a", "b", "c"])
    model = la.GaussianMixture(2, random_state=0).fit(frame)
    assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = model.score_samples(overlapping)
    assert_allclose(model.score_samples(frame), plain)
    with pytest.raises(ValueError, match="feature names"):
        model.score_samples(frame.rename(columns={"a": "z"}))


# --------------------------------------------------------------------------------------
# Sample weights


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type, overlapping):
    rng = np.random.default_rng(8)
    weights = rng.integers(0, 4, len(overlapping))
    init = initial_parameters_of(overlapping, 3, covariance_type)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "tol": 0.0, "max_iter": 15}
    weighted = quiet_fit(la.GaussianMixture(**kwargs, **init), overlapping, sample_weight=weights)
    repeated = quiet_fit(la.GaussianMixture(**kwargs, **init), np.repeat(overlapping, weights, 0))
    for name in FITTED:
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9, atol=1e-12)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-10)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_constant_weights_change_nothing(init_params, overlapping):
    kwargs = {"n_components": 3, "init_params": init_params, "random_state": 0, "max_iter": 20}
    plain = quiet_fit(la.GaussianMixture(**kwargs), overlapping)
    weighted = quiet_fit(
        la.GaussianMixture(**kwargs), overlapping, sample_weight=np.full(len(overlapping), 3.7)
    )
    for name in FITTED:
        assert_allclose(getattr(weighted, name), getattr(plain, name), rtol=1e-8, atol=1e-10)
    assert weighted.lower_bound_ == pytest.approx(plain.lower_bound_, rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weights_equal_removing_rows(covariance_type, overlapping):
    keep = np.random.default_rng(9).random(len(overlapping)) < 0.6
    init = initial_parameters_of(overlapping[keep], 3, covariance_type)
    kwargs = {"n_components": 3, "covariance_type": covariance_type, "tol": 0.0, "max_iter": 15}
    weighted = quiet_fit(
        la.GaussianMixture(**kwargs, **init), overlapping, sample_weight=keep.astype(float)
    )
    removed = quiet_fit(la.GaussianMixture(**kwargs, **init), overlapping[keep])
    for name in FITTED:
        assert_allclose(getattr(weighted, name), getattr(removed, name), rtol=1e-9, atol=1e-12)
    assert weighted.lower_bound_ == pytest.approx(removed.lower_bound_, rel=1e-10)


# --------------------------------------------------------------------------------------
# Iteration control


def test_warm_start_continues_from_the_previous_solution(overlapping):
    kwargs = {"n_components": 3, "init_params": "random", "random_state": 4, "tol": 0.0}
    stepped = la.GaussianMixture(**kwargs, max_iter=1, warm_start=True)
    for _ in range(6):
        quiet_fit(stepped, overlapping)
        assert stepped.n_iter_ == 1
    straight = quiet_fit(la.GaussianMixture(**kwargs, max_iter=6), overlapping)
    for name in FITTED:
        assert_allclose(getattr(stepped, name), getattr(straight, name), rtol=1e-9)
    assert stepped.lower_bound_ == pytest.approx(straight.lower_bound_, rel=1e-12)

    cold = la.GaussianMixture(**kwargs, max_iter=1, warm_start=False)
    for _ in range(2):
        quiet_fit(cold, overlapping)
    once = quiet_fit(la.GaussianMixture(**kwargs, max_iter=1), overlapping)
    assert_array_equal(cold.means_, once.means_)


@pytest.mark.slow
def test_n_init_keeps_the_best_lower_bound(overlapping, capsys):
    kwargs = {"n_components": 4, "init_params": "random", "random_state": 5, "max_iter": 200}
    best = la.GaussianMixture(**kwargs, n_init=4, verbose=2).fit(overlapping)
    printed = [
        float(value) for value in re.findall(r"lower bound (-?\d+\.\d+)", capsys.readouterr().out)
    ]
    assert len(printed) == 4
    assert len(set(printed)) > 1, "the restarts should reach different optima"
    assert best.lower_bound_ == pytest.approx(max(printed), abs=1e-5)
    # The first restart uses the same random draws as a single initialisation.
    single = la.GaussianMixture(**kwargs, n_init=1).fit(overlapping)
    assert single.lower_bound_ == pytest.approx(printed[0], abs=1e-5)
    assert best.lower_bound_ >= single.lower_bound_


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_zero_keeps_the_initial_parameters(covariance_type, init_params, overlapping):
    kwargs = {
        "n_components": 3,
        "covariance_type": covariance_type,
        "init_params": init_params,
        "random_state": 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = la.GaussianMixture(**kwargs, max_iter=0).fit(overlapping)
        theirs = SkGaussianMixture(**kwargs, max_iter=0).fit(overlapping)
    assert ours.n_iter_ == 0
    assert ours.lower_bound_ == theirs.lower_bound_ == -np.inf
    assert not ours.converged_
    # With "k-means++"/"random_from_data" a component starts from one seed row, so
    # its covariance is reg_covar = 1e-6 exactly in scikit-learn (two-pass) and
    # 1e-6 +- eps * |x|^2 (about 1e-15) in the one-pass statistics: precisions
    # agree to about 1e-8 of their size.
    for name in FITTED:
        expected = getattr(theirs, name)
        assert_allclose(
            getattr(ours, name), expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max()
        )
    one = quiet_fit(la.GaussianMixture(**kwargs, max_iter=1), overlapping)
    assert not np.allclose(one.means_, ours.means_, rtol=1e-6)


def test_convergence_warning_when_max_iter_is_too_small(overlapping):
    model = la.GaussianMixture(3, init_params="random", max_iter=2, tol=0.0, random_state=0)
    with pytest.warns(SkConvergenceWarning, match="did not converge"):
        model.fit(overlapping)
    assert not model.converged_
    assert model.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        converged = la.GaussianMixture(3, random_state=0).fit(overlapping)
    assert converged.converged_
    assert converged.n_iter_ < converged.max_iter


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints_like_sklearn(verbose, overlapping, capsys):
    kwargs = {
        "n_components": 3,
        "random_state": 0,
        "verbose": verbose,
        "verbose_interval": 1,
        "n_init": 2,
    }
    la.GaussianMixture(**kwargs).fit(overlapping)
    ours = capsys.readouterr().out
    SkGaussianMixture(**kwargs).fit(overlapping)
    theirs = capsys.readouterr().out
    assert "Initialization 0" in ours and "Initialization 1" in ours
    assert "Initialization converged" in ours

    def without_numbers(text: str) -> list[str]:
        return [re.sub(r"[-+]?(\d+\.\d*|inf)", "#", line) for line in text.splitlines()]

    if verbose == 1:
        assert ours == theirs
    else:
        assert "time lapse" in ours and "ll change" in ours and "lower bound" in ours
        assert without_numbers(ours) == without_numbers(theirs)
    la.GaussianMixture(3, random_state=0).fit(overlapping)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------------------
# Sampling


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def fitted_mixture(request) -> la.GaussianMixture:
    X = make_overlapping(300, seed=10)
    return la.GaussianMixture(3, covariance_type=request.param, random_state=0).fit(X)


def test_sample_shapes_labels_and_counts(fitted_mixture):
    X, labels = fitted_mixture.sample(500, random_state=np.random.default_rng(0))
    assert X.shape == (500, 3) and X.dtype == np.float64
    assert labels.shape == (500,) and labels.dtype.kind == "i"
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert np.all(np.diff(labels) >= 0), "rows are grouped by component"
    X1, labels1 = fitted_mixture.sample(1)
    assert X1.shape == (1, 3) and labels1.shape == (1,)


@pytest.mark.parametrize("random_state", [None, 3, "RandomState"])
def test_sample_equals_sklearn_for_legacy_random_states(fitted_mixture, random_state):
    def source():
        return np.random.RandomState(11) if random_state == "RandomState" else random_state

    theirs = sklearn_copy(fitted_mixture, random_state=source() if random_state else 0)
    expected_X, expected_y = theirs.sample(400)
    if random_state is None:
        ours = fitted_mixture.sample(400)  # the estimator's own random_state=0
    else:
        ours = fitted_mixture.sample(400, random_state=source())
    assert_allclose(ours[0], expected_X, rtol=1e-12, atol=1e-12)
    assert_array_equal(ours[1], expected_y)
    # An int (or the estimator's int) gives the same rows on every call, as in sklearn.
    if random_state != "RandomState":
        again = fitted_mixture.sample(400, random_state=source())
        assert_array_equal(again[0], ours[0])


def mixture_cdf_along(model: la.GaussianMixture, direction: np.ndarray):
    """CDF of ``direction @ x`` for x from the mixture: a 1-D normal mixture."""
    k, d = model.n_components, model.means_.shape[1]
    covariances = dense_covariances_of(model.covariances_, model.covariance_type, k, d)
    locations = model.means_ @ direction
    scales = np.sqrt(np.einsum("i,kij,j->k", direction, covariances, direction))

    def cdf(values: np.ndarray) -> np.ndarray:
        return stats.norm.cdf(values[:, None], locations, scales) @ model.weights_

    return cdf


def test_generator_samples_follow_the_density(fitted_mixture):
    """Goodness of fit of ``sample`` against the fitted density.

    Kolmogorov-Smirnov along 5 directions (3 axes + 2 diagonals, which see the
    correlations) and a chi-square of labels against weights: 6 tests at level
    1e-3 each, so a correct sampler fails for at most 0.6% of seeds (the seed is
    fixed, so the test itself is deterministic).
    """
    n = 3000
    X, labels = fitted_mixture.sample(n, random_state=np.random.default_rng(2024))
    directions = [*np.eye(3), np.array([1.0, 1.0, 0.0]), np.array([1.0, -1.0, 1.0])]
    for direction in directions:
        result = stats.kstest(X @ direction, mixture_cdf_along(fitted_mixture, direction))
        assert result.pvalue > 1e-3, (direction, result)
    counts = np.bincount(labels, minlength=3)
    chi2 = stats.chisquare(counts, n * fitted_mixture.weights_ / fitted_mixture.weights_.sum())
    assert chi2.pvalue > 1e-3


def test_generator_sampler_is_not_the_legacy_one_but_agrees(fitted_mixture):
    """KS two-sample test of the Cholesky sampler against scikit-learn's (level 1e-3)."""
    fast, _ = fitted_mixture.sample(2000, random_state=np.random.default_rng(5))
    legacy, _ = sklearn_copy(fitted_mixture, random_state=5).sample(2000)
    assert not np.allclose(fast, legacy)
    for j in range(3):
        assert stats.ks_2samp(fast[:, j], legacy[:, j]).pvalue > 1e-3


def test_one_generator_gives_new_draws_on_each_call(fitted_mixture):
    rng = np.random.default_rng(0)
    first, _ = fitted_mixture.sample(50, random_state=rng)
    second, _ = fitted_mixture.sample(50, random_state=rng)
    assert not np.allclose(first, second)
    replay, _ = fitted_mixture.sample(50, random_state=np.random.default_rng(0))
    assert_array_equal(first, replay)


def test_sample_rejects_bad_arguments(fitted_mixture):
    with pytest.raises(ValueError, match="n_samples"):
        fitted_mixture.sample(0)
    with pytest.raises(ValueError, match="seed"):
        fitted_mixture.sample(3, random_state="abc")
    with pytest.raises(ValueError, match="seed"):
        fitted_mixture.sample(3, random_state=-1)
    with pytest.raises(SkNotFittedError):
        la.GaussianMixture().sample(3)


# --------------------------------------------------------------------------------------
# Bad input

_X = np.random.default_rng(15).standard_normal((40, 2))


def _with(value: float) -> np.ndarray:
    X = _X.copy()
    X[3, 1] = value
    return X


BAD_FITS = {
    "nan": ({}, _with(np.nan), None, "NaN"),
    "inf": ({}, _with(np.inf), None, "infinity"),
    "strings": ({}, [["a", "b"], ["c", "d"], ["e", "f"]], None, "could not convert"),
    "1-D": ({}, _X[:, 0], None, "Expected 2D array"),
    "3-D": ({}, _X[:, :, None], None, "dim 3"),
    "one row": ({"n_components": 1}, _X[:1], None, "minimum of 2"),
    "no features": ({}, np.zeros((5, 0)), None, "0 feature"),
    "fewer samples than components": ({"n_components": 5}, _X[:3], None, "n_samples >="),
    "negative weight": ({}, _X, -np.ones(40), "Negative"),
    "NaN weight": ({}, _X, np.full(40, np.nan), "NaN"),
    "short weights": ({}, _X, np.ones(3), "shape"),
    "zero weights": ({}, _X, np.zeros(40), "positive"),
    "n_components=0": ({"n_components": 0}, _X, None, "n_components"),
    "n_components=2.5": ({"n_components": 2.5}, _X, None, "n_components"),
    "covariance_type": ({"covariance_type": "bogus"}, _X, None, "covariance_type"),
    "tol": ({"tol": -1}, _X, None, "tol"),
    "reg_covar": ({"reg_covar": -1e-3}, _X, None, "reg_covar"),
    "max_iter": ({"max_iter": -1}, _X, None, "max_iter"),
    "n_init": ({"n_init": 0}, _X, None, "n_init"),
    "init_params": ({"init_params": "x"}, _X, None, "init_params"),
    "random_state": ({"random_state": "x"}, _X, None, "random_state"),
    "negative seed": ({"random_state": -1}, _X, None, "random_state"),
    "warm_start": ({"warm_start": "yes"}, _X, None, "warm_start"),
    "verbose": ({"verbose": -1}, _X, None, "verbose"),
    "weights_init shape": ({"weights_init": [1.0]}, _X, None, "'weights' should have the shape"),
    "weights_init sum": ({"weights_init": [0.5, 0.6]}, _X, None, "normalized"),
    "weights_init range": ({"weights_init": [-0.5, 1.5]}, _X, None, r"range \[0, 1\]"),
    "means_init shape": ({"means_init": np.zeros((3, 2))}, _X, None, "'means' should have"),
    "means_init NaN": ({"means_init": [[np.nan, 0], [0, 0]]}, _X, None, "NaN"),
    "precisions_init shape": (
        {"precisions_init": np.ones((2, 2))},
        _X,
        None,
        "'full precision' should have the shape",
    ),
    "precisions_init not PD": (
        {"precisions_init": np.stack([np.eye(2), -np.eye(2)])},
        _X,
        None,
        "positive-definite",
    ),
    "precisions_init asymmetric": (
        {"precisions_init": np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])},
        _X,
        None,
        "symmetric",
    ),
    "tied precisions_init not PD": (
        {"covariance_type": "tied", "precisions_init": [[1.0, 2.0], [2.0, 1.0]]},
        _X,
        None,
        "positive-definite",
    ),
    "diag precisions_init": (
        {"covariance_type": "diag", "precisions_init": -np.ones((2, 2))},
        _X,
        None,
        "positive",
    ),
    "spherical precisions_init": (
        {"covariance_type": "spherical", "precisions_init": [1.0, 0.0]},
        _X,
        None,
        "positive",
    ),
}


@pytest.mark.parametrize("case", BAD_FITS.keys())
def test_bad_fit_input_raises_value_error(case):
    params, X, sample_weight, message = BAD_FITS[case]
    model = la.GaussianMixture(**{"n_components": 2, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NaN arithmetic either
        with pytest.raises(ValueError, match=message):
            model.fit(X, sample_weight=sample_weight)
    assert not hasattr(model, "means_")
    # scikit-learn rejects the same input with the same type.
    if sample_weight is None and case not in ("negative seed",):
        with warnings.catch_warnings(), pytest.raises(ValueError):
            warnings.simplefilter("ignore")
            SkGaussianMixture(**{"n_components": 2, **params}).fit(X)


def test_hyper_parameters_are_validated_at_fit_not_init():
    model = la.GaussianMixture(n_components=-3, covariance_type="bogus")
    assert model.get_params()["n_components"] == -3
    with pytest.raises(ValueError, match="n_components"):
        model.fit(_X)


def test_inference_with_wrong_features_or_before_fit():
    model = la.GaussianMixture(2, random_state=0).fit(_X)
    for method in (model.predict, model.predict_proba, model.score_samples, model.score):
        with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture"):
            method(np.zeros((4, 3)))
        with pytest.raises(ValueError, match="NaN"):
            method(_with(np.nan))
    unfitted = la.GaussianMixture(2)
    for method in (unfitted.predict, unfitted.predict_proba, unfitted.score_samples):
        with pytest.raises(SkNotFittedError):
            method(_X)
    with pytest.raises(SkNotFittedError):
        unfitted.bic(_X)


def test_input_arrays_and_hyper_parameters_are_not_modified():
    X = _X.copy()
    weights = np.ones(len(X))
    means_init = np.array([[0.0, 0.0], [1.0, 1.0]])
    model = la.GaussianMixture(2, means_init=means_init, random_state=0)
    model.fit(X, sample_weight=weights)
    assert_array_equal(X, _X)
    assert_array_equal(weights, 1.0)
    assert model.means_init is means_init
    assert_array_equal(means_init, [[0.0, 0.0], [1.0, 1.0]])
