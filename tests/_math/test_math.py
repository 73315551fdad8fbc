"""The pure kernels in lookalike._math against brute-force formulas.

Brute force means dense matrices, scipy densities and explicit loops over
components; the kernels are compared at rtol 1e-10 unless stated.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from sklearn.exceptions import ConvergenceWarning

import lookalike as la
from conftest import COVARIANCE_TYPES, brute_log_joint, dense_covariances, random_parameters
from lookalike._math import blocks
from lookalike._math import gaussian as gm
from lookalike._math.em import (
    COUNT_FLOOR,
    Moments,
    e_step_block,
    log_joint_block,
    m_step,
    moments_from_responsibilities,
    normalise_log_columns,
    tied_origin_correction,
)
from lookalike.exceptions import DegenerateComponentWarning

# --------------------------------------------------------------------------------------
# Quadratic features and packing


def test_outer_triu_and_symmetric_round_trip():
    rng = np.random.default_rng(0)
    d, b = 5, 7
    xt = rng.standard_normal((d, b))
    packed = gm.outer_triu(xt)
    assert packed.shape == (d * (d + 1) // 2, b)
    rows, cols = np.triu_indices(d)
    for i in range(b):
        outer = np.outer(xt[:, i], xt[:, i])
        assert_allclose(packed[:, i], outer[rows, cols], rtol=1e-15)
        assert_allclose(gm.symmetric_from_triu(packed[:, i], d), outer, rtol=1e-15)
    # Batched: symmetric_from_triu works on the last axis of any stack.
    stacked = gm.symmetric_from_triu(packed.T, d)
    assert stacked.shape == (b, d, d)
    assert_allclose(stacked, np.einsum("ib,jb->bij", xt, xt), rtol=1e-15)


def test_triu_with_doubled_offdiagonal_gives_quadratic_forms():
    rng = np.random.default_rng(1)
    d = 4
    matrices = np.stack([np.cov(rng.standard_normal((d, 10))) for _ in range(3)])
    xt = rng.standard_normal((d, 6))
    packed = gm.triu_with_doubled_offdiagonal(matrices)
    expected = np.einsum("ib,kij,jb->kb", xt, matrices, xt)
    assert_allclose(packed @ gm.outer_triu(xt), expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_quadratic_features(covariance_type):
    xt = np.random.default_rng(2).standard_normal((3, 5))
    features = gm.quadratic_features(xt, covariance_type)
    expected = {
        "full": gm.outer_triu(xt),
        "tied": xt,
        "diag": xt**2,
        "spherical": (xt**2).sum(axis=0, keepdims=True),
    }[covariance_type]
    assert_allclose(features, expected, rtol=1e-15)


def test_centred_block():
    rows = np.random.default_rng(3).standard_normal((6, 3)).astype(np.float32)
    shift = np.array([0.5, -1.0, 2.0])
    block = gm.centred_block(rows, shift)
    assert block.shape == (3, 6) and block.dtype == np.float64
    assert block.flags.c_contiguous
    assert_allclose(block, (rows.astype(np.float64) - shift).T, rtol=1e-15)


# --------------------------------------------------------------------------------------
# Precision factors


def test_precision_cholesky_conversions():
    rng = np.random.default_rng(4)
    d = 4
    a = rng.standard_normal((d, d))
    covariance = a @ a.T + np.eye(d)
    precision = np.linalg.inv(covariance)

    factor = gm.precision_cholesky_of_matrix(covariance)
    assert_array_equal(factor, np.triu(factor))
    assert np.all(np.diag(factor) > 0)
    assert_allclose(factor @ factor.T, precision, rtol=1e-10)

    from_precision = gm.precision_cholesky_of_precision(precision)
    assert_array_equal(from_precision, np.triu(from_precision))
    assert_allclose(from_precision, factor, rtol=1e-10)
    assert_allclose(gm.covariance_of_precision_cholesky(factor), covariance, rtol=1e-10)

    with pytest.raises(np.linalg.LinAlgError):
        gm.precision_cholesky_of_matrix(-covariance)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_covariances_and_log_determinants(covariance_type):
    rng = np.random.default_rng(5)
    k, d = 3, 4
    params = random_parameters(rng, k, d, covariance_type)
    precisions = params["precisions"]
    if covariance_type == "full":
        factors = np.stack([gm.precision_cholesky_of_precision(p) for p in precisions])
    elif covariance_type == "tied":
        factors = gm.precision_cholesky_of_precision(precisions)
    else:
        factors = np.sqrt(precisions)
    assert_allclose(gm.precisions_from_cholesky(factors, covariance_type), precisions, rtol=1e-12)

    covariances = gm.covariances_from_precisions_cholesky(factors, covariance_type)
    dense = dense_covariances(precisions, covariance_type, k, d)
    if covariance_type == "full":
        assert_allclose(covariances, dense, rtol=1e-10)
    elif covariance_type == "tied":
        assert_allclose(covariances, dense[0], rtol=1e-10)
    elif covariance_type == "diag":
        assert_allclose(covariances, np.diagonal(dense, axis1=1, axis2=2), rtol=1e-12)
    else:
        assert_allclose(covariances, dense[:, 0, 0], rtol=1e-12)

    half_log_det = gm.log_det_precision_cholesky(factors, covariance_type, d)
    expected = -0.5 * np.linalg.slogdet(dense)[1]
    assert_allclose(np.broadcast_to(half_log_det, (k,)), expected, rtol=1e-10)


@pytest.mark.parametrize(
    ("covariance_type", "expected"),
    [("full", 3 * 10), ("tied", 10), ("diag", 3 * 4), ("spherical", 3)],
)
def test_n_covariance_parameters(covariance_type, expected):
    assert gm.n_covariance_parameters(covariance_type, 3, 4) == expected


# --------------------------------------------------------------------------------------
# Log-densities


def expanded_for(params: dict, covariance_type: str, shift: np.ndarray):
    precisions = params["precisions"]
    if covariance_type == "full":
        factors = np.stack([gm.precision_cholesky_of_precision(p) for p in precisions])
    elif covariance_type == "tied":
        factors = gm.precision_cholesky_of_precision(precisions)
    else:
        factors = np.sqrt(precisions)
    return gm.expand_gaussians(params["means"] - shift, factors, covariance_type)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_expanded_log_gaussians_equal_scipy(covariance_type):
    rng = np.random.default_rng(6)
    k, d = 4, 3
    params = random_parameters(rng, k, d, covariance_type)
    X = 3.0 * rng.standard_normal((50, d)) + 1.0
    shift = X.mean(axis=0)
    expanded = expanded_for(params, covariance_type, shift)
    xt = gm.centred_block(X, shift)
    features = gm.quadratic_features(xt, covariance_type)
    log_densities = gm.log_gaussians(xt, features, expanded, covariance_type)
    assert log_densities.shape == (k, len(X))
    covariances = dense_covariances(params["precisions"], covariance_type, k, d)
    expected = brute_log_joint(X, np.ones(k), params["means"], covariances)
    assert_allclose(log_densities.T, expected, rtol=1e-10)

    log_weights = np.log(params["weights"])
    joint = log_joint_block(xt, expanded, log_weights, covariance_type)
    assert_allclose(joint, log_densities + log_weights[:, None], rtol=1e-12)


def test_normalise_log_columns_is_stable():
    rng = np.random.default_rng(7)
    log_joint = rng.standard_normal((3, 8)) * 5 - 2000.0  # exp would underflow to 0
    log_joint[:, 0] = [1000.0, 999.0, -1000.0]  # exp would overflow
    resp = log_joint.copy()
    log_norm = normalise_log_columns(resp)
    assert_allclose(log_norm, logsumexp(log_joint, axis=0), rtol=1e-14)
    assert_allclose(resp, softmax(log_joint, axis=0), rtol=1e-12, atol=1e-300)
    assert_allclose(resp.sum(axis=0), 1.0, rtol=1e-14)


# --------------------------------------------------------------------------------------
# E-step and moments


def brute_moments(X, sample_weight, params, covariance_type, shift):
    """Moments with explicit responsibilities and loops, about ``shift``."""
    k, d = params["means"].shape
    covariances = dense_covariances(params["precisions"], covariance_type, k, d)
    log_joint = brute_log_joint(X, params["weights"], params["means"], covariances)
    log_norm = logsumexp(log_joint, axis=1)
    resp = np.exp(log_joint - log_norm[:, None])
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    weighted = resp * w[:, None]
    Xc = X - shift
    counts = weighted.sum(axis=0)
    sums = np.stack([weighted[:, j] @ Xc for j in range(k)])
    outer = [sum(weighted[i, j] * np.outer(Xc[i], Xc[i]) for i in range(len(X))) for j in range(k)]
    if covariance_type == "full":
        rows, cols = np.triu_indices(d)
        second = np.stack([m[rows, cols] for m in outer])
    elif covariance_type == "tied":
        second = sum(w[i] * np.outer(Xc[i], Xc[i]) for i in range(len(X)))
    elif covariance_type == "diag":
        second = np.stack([np.diag(m) for m in outer])
    else:
        second = np.array([[np.trace(m)] for m in outer])
    return resp, Moments(counts, sums, second, float(w @ log_norm), float(w.sum()))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_block_equals_explicit_responsibilities(covariance_type, weighted):
    rng = np.random.default_rng(8)
    k, d, n = 3, 3, 40
    params = random_parameters(rng, k, d, covariance_type, spread=1.5)
    X = 2.0 * rng.standard_normal((n, d)) + 0.5
    sample_weight = rng.uniform(0.0, 3.0, n) if weighted else None
    shift = X.mean(axis=0)
    expanded = expanded_for(params, covariance_type, shift)
    xt = gm.centred_block(X, shift)
    moments = e_step_block(xt, sample_weight, expanded, np.log(params["weights"]), covariance_type)
    _, expected = brute_moments(X, sample_weight, params, covariance_type, shift)
    assert_allclose(moments.counts, expected.counts, rtol=1e-10)
    assert_allclose(moments.sums, expected.sums, rtol=1e-9, atol=1e-12)
    assert_allclose(moments.second, expected.second, rtol=1e-9, atol=1e-12)
    assert moments.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-11)
    assert moments.total_weight == pytest.approx(expected.total_weight, rel=1e-14)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_moments_of_two_half_blocks_add_up_to_one_block(covariance_type):
    rng = np.random.default_rng(9)
    k, d, n = 3, 4, 61
    params = random_parameters(rng, k, d, covariance_type)
    X = 3.0 * rng.standard_normal((n, d))
    sample_weight = rng.uniform(0.5, 2.0, n)
    shift = X.mean(axis=0)
    expanded = expanded_for(params, covariance_type, shift)
    log_weights = np.log(params["weights"])

    def moments_of(rows: slice) -> Moments:
        xt = gm.centred_block(X[rows], shift)
        return e_step_block(xt, sample_weight[rows], expanded, log_weights, covariance_type)

    whole = moments_of(slice(0, n))
    halves = moments_of(slice(0, 25)) + moments_of(slice(25, n))
    for name in ("counts", "sums", "second"):
        assert_allclose(getattr(halves, name), getattr(whole, name), rtol=1e-12, atol=1e-12)
    assert halves.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-13)
    assert halves.total_weight == pytest.approx(whole.total_weight, rel=1e-15)


def direct_parameters(X, resp, sample_weight, covariance_type, reg_covar):
    """Weighted mean and covariance of every component, by definition."""
    k, d = resp.shape[1], X.shape[1]
    weighted = resp * sample_weight[:, None]
    counts = weighted.sum(axis=0) + COUNT_FLOOR
    means = (weighted.T @ X) / counts[:, None]
    full = np.stack(
        [(weighted[:, j, None] * (X - means[j])).T @ (X - means[j]) / counts[j] for j in range(k)]
    )
    if covariance_type == "full":
        covariances = full + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        covariances = np.einsum("k,kij->ij", counts, full) / counts.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        covariances = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    else:
        covariances = np.diagonal(full, axis1=1, axis2=2).mean(axis=1) + reg_covar
    return counts / counts.sum(), means, covariances


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_equals_direct_weighted_means_and_covariances(covariance_type):
    rng = np.random.default_rng(10)
    k, d, n = 3, 3, 80
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + [5.0, -3.0, 1.0]
    resp = rng.dirichlet(np.ones(k), n)
    sample_weight = rng.uniform(0.2, 2.0, n)
    shift = np.average(X, axis=0, weights=sample_weight)
    xt = gm.centred_block(X, shift)
    features = gm.quadratic_features(xt, covariance_type)
    weighted_resp = np.ascontiguousarray((resp * sample_weight[:, None]).T)
    moments = moments_from_responsibilities(
        xt, features, weighted_resp, covariance_type, sample_weight
    )
    result = m_step(moments, covariance_type, reg_covar=1e-3)
    weights, means, covariances = direct_parameters(X, resp, sample_weight, covariance_type, 1e-3)
    assert_allclose(result.weights, weights, rtol=1e-12)
    assert_allclose(result.means + shift, means, rtol=1e-10)
    assert_allclose(result.covariances, covariances, rtol=1e-9)
    assert result.empty_components.size == 0


def test_m_step_full_covariance_of_one_row_is_reg_covar():
    """scikit-learn's two-pass scatter of a one-row component is exactly zero.

    The one-pass formula with the count floor would give COUNT_FLOOR * x x^T
    (10 eps |x|^2); the two-pass factor leaves only rounding, about eps |x|^2.
    """
    rng = np.random.default_rng(13)
    X = rng.standard_normal((30, 3)) * 1e4
    shift = X.mean(axis=0)
    xt = gm.centred_block(X, shift)
    resp = np.zeros((2, 30))
    resp[0, 5] = 1.0  # a seed row
    resp[1, 6:] = 1.0
    moments = moments_from_responsibilities(xt, gm.outer_triu(xt), resp, "full")
    result = m_step(moments, "full", reg_covar=1e-6)
    size = float(np.sum((X[5] - shift) ** 2))
    eps = np.finfo(np.float64).eps
    assert np.abs(result.covariances[0] - 1e-6 * np.eye(3)).max() < 4 * eps * size
    assert np.abs(result.covariances[0] - 1e-6 * np.eye(3)).max() < COUNT_FLOOR * size / 2


def test_m_step_reports_empty_components():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((20, 2))
    resp = np.zeros((3, 20))
    resp[0, :12] = 1.0
    resp[2, 12:] = 1.0
    xt = gm.centred_block(X, X.mean(axis=0))
    moments = moments_from_responsibilities(xt, gm.outer_triu(xt), resp, "full")
    result = m_step(moments, "full", reg_covar=1e-6, empty_threshold=1e-9)
    assert_array_equal(result.empty_components, [1])
    assert np.all(np.isfinite(result.means))
    assert np.all(np.isfinite(result.covariances))


def test_tied_origin_correction_reproduces_the_uncentred_formula():
    """scikit-learn's tied estimate from one-hot responsibilities on k seed rows."""
    rng = np.random.default_rng(12)
    n, k, d = 50, 3, 3
    X = rng.standard_normal((n, d)) + np.array([30.0, -10.0, 4.0])
    resp = np.zeros((n, k))
    resp[[4, 17, 33], np.arange(k)] = 1.0  # seeds; other rows have no responsibility
    counts = resp.sum(axis=0) + COUNT_FLOOR
    means = resp.T @ X / counts[:, None]
    expected = (X.T @ X - (counts * means.T) @ means) / counts.sum() + 1e-6 * np.eye(d)

    shift = X.mean(axis=0)
    xt = gm.centred_block(X, shift)
    moments = moments_from_responsibilities(xt, xt, np.ascontiguousarray(resp.T), "tied")
    result = m_step(moments, "tied", reg_covar=1e-6, tied_origin=-shift)
    assert_allclose(result.covariances, expected, rtol=1e-10)
    # Without the origin, the estimate is the (different) centred one.
    centred = m_step(moments, "tied", reg_covar=1e-6)
    assert not np.allclose(centred.covariances, expected, rtol=1e-3)
    # When every row's responsibilities sum to one, the origin does not matter.
    full_resp = rng.dirichlet(np.ones(k), n)
    moments = moments_from_responsibilities(xt, xt, np.ascontiguousarray(full_resp.T), "tied")
    assert_allclose(tied_origin_correction(moments, -shift), 0.0, atol=1e-10)


# --------------------------------------------------------------------------------------
# Blocks


def test_block_rows_respects_bounds_and_budget():
    assert blocks.block_rows(8 * 100, budget=8 * 100 * 1000) == 1000
    assert blocks.block_rows(10**9) == blocks.MIN_BLOCK_ROWS
    assert blocks.block_rows(1) == blocks.MAX_BLOCK_ROWS
    assert blocks.block_rows(0) == blocks.MAX_BLOCK_ROWS


def test_block_rows_reads_the_module_budget(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 800 * 100)
    assert blocks.block_rows(800) == 100


@pytest.mark.parametrize(("n", "size"), [(1, 64), (64, 64), (65, 64), (1000, 7)])
def test_row_slices_cover_rows_in_order(n, size):
    slices = blocks.row_slices(n, size)
    covered = np.concatenate([np.arange(n)[s] for s in slices])
    assert_array_equal(covered, np.arange(n))
    assert all(s.stop - s.start <= size for s in slices)
    assert len(slices) == -(-n // size)


# --------------------------------------------------------------------------------------
# Properties of the estimator on random shapes and dtypes

problem = st.fixed_dictionaries(
    {
        "n": st.integers(4, 60),
        "d": st.integers(1, 5),
        "k": st.integers(1, 4),
        "covariance_type": st.sampled_from(COVARIANCE_TYPES),
        "dtype": st.sampled_from([np.float32, np.float64]),
        "seed": st.integers(0, 2**16),
        "scale": st.sampled_from([1e-3, 1.0, 1e3]),
    }
)


@settings(max_examples=40, deadline=None)
@given(problem)
def test_estimator_outputs_have_the_right_shapes_and_are_finite(case):
    rng = np.random.default_rng(case["seed"])
    n, d, k = case["n"], case["d"], min(case["k"], case["n"])
    X = (case["scale"] * rng.standard_normal((n, d)) + case["scale"]).astype(case["dtype"])
    model = la.GaussianMixture(k, covariance_type=case["covariance_type"], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        model.fit(X)
    assert model.means_.shape == (k, d)
    assert model.means_.dtype == case["dtype"]
    scores = model.score_samples(X)
    assert scores.shape == (n,)
    assert np.all(np.isfinite(scores))
    labels = model.predict(X)
    assert labels.shape == (n,)
    assert labels.min() >= 0 and labels.max() < k
    proba = model.predict_proba(X)
    assert proba.shape == (n, k)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    # float32 data give float32 posteriors, as in scikit-learn.
    assert proba.dtype == case["dtype"]
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-10 if case["dtype"] == np.float64 else 1e-6)
    samples, sample_labels = model.sample(5, random_state=np.random.default_rng(0))
    assert samples.shape == (5, d) and np.all(np.isfinite(samples))
    assert sample_labels.shape == (5,)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 9),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 1000),
)
def test_outer_triu_properties(d, b, dtype, seed):
    xt = np.random.default_rng(seed).standard_normal((d, b)).astype(dtype)
    packed = gm.outer_triu(xt)
    assert packed.shape == (d * (d + 1) // 2, b)
    assert packed.dtype == dtype
    full = gm.symmetric_from_triu(packed.T, d)
    assert_allclose(full, np.einsum("ib,jb->bij", xt, xt), rtol=1e-6)
