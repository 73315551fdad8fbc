"""KernelDensity at extreme magnitudes: exact, finite or -inf, never +inf or NaN (issue 17).

The exact engine expands squared distances as ``|q|^2 + |x|^2 - 2 q.x``, which
rounds by about ``eps (|q|^2 + |x|^2)`` at any magnitude. These tests compare
it with a brute-force oracle that never expands: differences ``q - x`` in the
data's own units, divided by the bandwidth before squaring (so 1e300 data do
not overflow), log-kernels in closed form and ``logsumexp``.

The contract checked: every log-density is finite or ``-inf`` (never ``+inf``,
never NaN, no RuntimeWarning: pytest turns them into errors), ``-inf`` exactly
where the oracle is (every term zero in float64: outside a compact kernel's
support, or ``s / 2`` resp. ``sqrt(s)`` beyond the largest float), and within
``1e-9 (|oracle| + 1)`` of the oracle elsewhere. The ``+ 1`` keeps the
comparison meaningful where a log-density is near zero.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.model_selection import KFold

import lookalike as la
import lookalike._math.kernel_sums as engine
from lookalike._math.kernels import KERNELS

KERNEL_NAMES = tuple(KERNELS)
RTOL = 1e-9


# --------------------------------------------------------------------------------------
# The oracle


def log_kernel(kernel: str, r: np.ndarray) -> np.ndarray:
    """``log k`` at scaled distances ``r`` (``inf`` allowed), in closed form, never squaring
    where that could overflow."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = r < 1.0
        if kernel == "gaussian":
            return -((r * math.sqrt(0.5)) ** 2)
        if kernel == "exponential":
            return -r
        s = np.where(inside, r, 0.0) ** 2
        if kernel == "tophat":
            values = np.zeros_like(r)
        elif kernel == "epanechnikov":
            values = np.log1p(-s)
        elif kernel == "linear":
            values = np.log1p(-np.where(inside, r, 0.0))
        else:
            values = np.log(np.cos(0.5 * np.pi * np.where(inside, r, 0.0)))
        return np.where(inside, values, -np.inf)


def oracle(
    queries: np.ndarray,
    data: np.ndarray,
    bandwidth: float,
    kernel: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Log-densities from differences divided by the bandwidth, never from expanded norms.

    Distances by ``hypot`` over the features, which never overflows before the
    distance itself does.
    """
    d = data.shape[1]
    w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore"):
        scaled = np.abs(queries[:, np.newaxis, :] - data[np.newaxis, :, :]) / bandwidth
        r = np.hypot.reduce(scaled, axis=2)
        log_terms = log_kernel(kernel, r) + np.log(w)
    # The normaliser -log(C_d h^d) is tested against quadrature in test_kde.py.
    log_norm = KERNELS[kernel].log_norm(d, bandwidth)
    return logsumexp(log_terms, axis=1) - math.log(w.sum()) + log_norm


def assert_matches_oracle(ours: np.ndarray, expected: np.ndarray) -> None:
    assert not np.any(np.isnan(ours)), "NaN log-density"
    assert not np.any(ours == np.inf), "+inf log-density"
    assert_array_equal(ours == -np.inf, expected == -np.inf)
    finite = np.isfinite(expected)
    assert_allclose(ours[finite], expected[finite], rtol=RTOL, atol=RTOL)


# --------------------------------------------------------------------------------------
# The reproducers


def normal_500x3() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(500, 3))


def test_query_far_along_an_axis_is_finite_and_exact():
    X = normal_500x3()
    queries = np.array([[2.707011526863334e16, 0.0, 0.0]])
    ours = la.KernelDensity(bandwidth=1.0).fit(X).score_samples(queries)
    assert_matches_oracle(ours, oracle(queries, X, 1.0, "gaussian"))


def test_query_far_with_scott_bandwidth_is_finite_and_exact():
    X = normal_500x3()
    queries = np.array([[6767528817165645.0, 0.0, 0.0]])
    model = la.KernelDensity(bandwidth="scott").fit(X)
    ours = model.score_samples(queries)
    assert_matches_oracle(ours, oracle(queries, X, model.bandwidth_, "gaussian"))


def test_training_rows_far_from_their_mean_score_as_scikit_learn():
    X2 = np.array([[4.276184870118352e16, 2.7724922280087754e17], [0.0, 0.0]])
    ours = la.KernelDensity(bandwidth=1.0).fit(X2).score_samples(X2)
    # Each row is alone within 1e17 bandwidths: log(1/2) - log(2 pi).
    assert_allclose(ours, [-math.log(2.0) - math.log(2.0 * math.pi)] * 2, rtol=1e-14)
    assert_matches_oracle(ours, oracle(X2, X2, 1.0, "gaussian"))


@pytest.mark.parametrize("bandwidth", [0.5, "scott"])
def test_random_queries_1e9_to_1e13_away_are_all_exact(bandwidth):
    """The issue's sweep: 2,000 queries at 1e9..1e13, where 15-40% were +inf."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    directions = rng.normal(size=(2000, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    queries = directions * 10.0 ** rng.uniform(9.0, 13.0, (2000, 1))
    model = la.KernelDensity(bandwidth=bandwidth).fit(X)
    ours = model.score_samples(queries)
    assert np.all(np.isfinite(ours))
    assert_matches_oracle(ours, oracle(queries, X, model.bandwidth_, "gaussian"))
    assert np.isfinite(model.score(queries))


def test_far_queries_give_a_classifier_finite_probabilities():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 3.0])
    y = np.repeat([0, 1], 100)
    queries = rng.normal(size=(300, 3)) * 1e12
    classifier = la.GenerativeClassifier(la.KernelDensity(bandwidth=0.5)).fit(X, y)
    probabilities = classifier.predict_proba(queries)
    assert np.all(np.isfinite(probabilities))
    assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Property test: magnitudes 1e-300 to 1e300, shifts, scales, d = 1..32, every kernel


@st.composite
def problems(draw):
    """Data ``shift + scale Z``, a bandwidth, weights and four kinds of queries.

    The bandwidth is ``scale * 10^b``. The library works in coordinates
    ``(x - mean) / h``, rounded to ``eps |x - mean| / h`` bandwidths, which is
    the data's own resolution when the shift is small and exact (Sterbenz)
    when it is large. Queries within a few bandwidths of a training row but not
    on it would see that rounding when the data span more than ~1e6
    bandwidths, so they are drawn only when the data span at most 1e4;
    training rows themselves, random queries and far queries are drawn at any
    ratio (down to a bandwidth 1e-20 of the spread).
    """
    seed = draw(st.integers(0, 2**32 - 1))
    d = draw(st.integers(1, 32))
    n = draw(st.integers(1, 40))
    scale = 10.0 ** draw(st.floats(-300.0, 300.0))
    shift = draw(st.sampled_from([0.0, 1.0, -1.0])) * 10.0 ** draw(st.floats(-300.0, 300.0))
    relative_bandwidth = 10.0 ** draw(st.floats(-20.0, 2.0))
    weighted = draw(st.sampled_from(["no", "yes", "wide"]))
    rng = np.random.default_rng(seed)
    data = shift + scale * rng.standard_normal((n, d))
    if n > 2 and draw(st.booleans()):
        data[-1] = data[0]  # a duplicated row
    bandwidth = scale * relative_bandwidth
    weights = None
    if weighted == "yes":
        weights = rng.uniform(0.1, 10.0, n)
    elif weighted == "wide":
        weights = 10.0 ** rng.uniform(-150.0, 150.0, n)
    # Far queries: up to 1e16 spreads out, kept below 1e306 in magnitude.
    room = math.log10(1e306 / (abs(shift) + 4.0 * scale)) if scale < 1e305 else 0.0
    far_decades = rng.uniform(0.0, max(0.0, min(16.0, room)), (10, 1))
    directions = rng.standard_normal((10, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    parts = [
        data[rng.integers(0, n, 5)],
        shift + scale * rng.standard_normal((5, d)),
        shift + scale * directions * 10.0**far_decades,
    ]
    if relative_bandwidth >= 1e-4:
        offsets = bandwidth * rng.standard_normal((10, d)) * 10.0 ** rng.uniform(-3, 1, (10, 1))
        parts.append(data[rng.integers(0, n, 10)] + offsets)
    queries = np.vstack(parts)
    assert np.all(np.isfinite(queries)) and np.all(np.isfinite(data))
    return data, queries, bandwidth, weights


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problem=problems())
def test_log_densities_equal_the_difference_oracle_at_any_magnitude(kernel, problem):
    data, queries, bandwidth, weights = problem
    model = la.KernelDensity(bandwidth=bandwidth, kernel=kernel).fit(data, sample_weight=weights)
    ours = model.score_samples(queries)
    assert_matches_oracle(ours, oracle(queries, data, bandwidth, kernel, weights))
    score = model.score(queries)
    assert not math.isnan(score) and score != math.inf


# --------------------------------------------------------------------------------------
# Many blocks: pruning, the online log-sum-exp and the repairs across blocks


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_many_blocks_far_queries_wide_weights_and_spread_data(kernel, monkeypatch):
    monkeypatch.setattr(engine, "QUERY_BLOCK_ROWS", 16)
    monkeypatch.setattr(engine, "TRAIN_BLOCK_ROWS", 64)
    rng = np.random.default_rng(3)
    # Three clusters 1e6 bandwidths apart, 1e8 from the origin.
    centres = np.array([[0.0, 0.0], [1e6, 0.0], [0.0, 1e6]]) + 1e8
    X = centres[rng.integers(0, 3, 600)] + rng.normal(size=(600, 2))
    weights = 10.0 ** rng.uniform(-100, 100, 600)
    directions = rng.normal(size=(40, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    queries = np.vstack(
        [
            X[:40],
            X[40:80] + rng.normal(size=(40, 2)) * 0.3,
            # 30 to 300 bandwidths out: every term underflows, and the nearest
            # terms' rounding (1e6 bandwidths from the mean) still matters.
            X[80:120] + directions * rng.uniform(20, 200, (40, 1)),
            rng.normal(size=(40, 2)) * 10.0 ** rng.uniform(3, 15, (40, 1)),
        ]
    )
    model = la.KernelDensity(bandwidth=0.7, kernel=kernel).fit(X, sample_weight=weights)
    assert_matches_oracle(model.score_samples(queries), oracle(queries, X, 0.7, kernel, weights))


@pytest.mark.parametrize("kernel", ["linear", "exponential"])
def test_kernels_of_r_are_exact_at_their_own_training_rows(kernel):
    """``sqrt`` turns a rounding of 1e-12 in ``s`` near 0 into 1e-6 in ``r``."""
    X = np.random.default_rng(11).normal(size=(300, 3))
    model = la.KernelDensity(bandwidth=0.3, kernel=kernel).fit(X)
    assert_matches_oracle(model.score_samples(X), oracle(X, X, 0.3, kernel))


@pytest.mark.parametrize("kernel", ["tophat", "epanechnikov"])
def test_pruning_allows_for_the_rounding_of_projections(kernel, monkeypatch):
    """Points 1e17 bandwidths out, queries 0.5 from them: the projections on the
    principal axis round by 16, so without allowing for that a block holding the
    query's neighbour looks out of reach (on x86-64 4 of these 500 pairs do)."""
    monkeypatch.setattr(engine, "QUERY_BLOCK_ROWS", 1)
    monkeypatch.setattr(engine, "TRAIN_BLOCK_ROWS", 1)
    j = np.arange(500)
    near = np.column_stack([1e17 + 64.0 * j, 3e15 + 0.5 * j])
    points = np.vstack([near, [[8e16, 6e16], [-8e16, -6e16]]])
    queries = near + np.array([0.0, 0.5])
    training = engine.prepare_training_points(points, None)
    ours = engine.log_kernel_sums(queries, training, KERNELS[kernel])  # serial by default
    # Only the pair's own point is within reach (the others are 64 apart).
    expected = log_kernel(kernel, np.full(len(queries), 0.5))
    assert_allclose(ours, expected, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Overflow: the contract at the edge of float64


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("scale", [1e152, 1e300])
def test_data_spanning_huge_numbers_of_bandwidths_are_exact(kernel, scale):
    """Squared norms past 1e300 (where the expansion could overflow): exact distances,
    squared only where that cannot overflow."""
    X = np.random.default_rng(4).normal(size=(30, 3)) * scale
    queries = np.vstack([X[:10], X[:5] * 0.5])
    ours = la.KernelDensity(bandwidth=1.0, kernel=kernel).fit(X).score_samples(queries)
    expected = oracle(queries, X, 1.0, kernel)
    assert np.all(np.isfinite(expected[:10]))
    # r ~ scale bandwidths from every row: r^2 / 2 overflows at 1e300, r does not.
    finite = kernel == "exponential" or (kernel == "gaussian" and scale < 1e154)
    assert np.all(np.isfinite(expected[10:]) == finite)
    assert_matches_oracle(ours, expected)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
def test_minus_inf_only_where_the_log_density_is_below_the_most_negative_float(kernel):
    """At r = 1.5e154 bandwidths r^2 overflows but -r^2 / 2 and -r do not."""
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    queries = np.array([[1.5e154, 0.0], [0.0, -1.8e154], [-1e308, 0.0], [0.5, 0.5]])
    ours = la.KernelDensity(bandwidth=1.0, kernel=kernel).fit(X).score_samples(queries)
    expected = oracle(queries, X, 1.0, kernel)
    assert np.all(np.isfinite(expected[:2]))
    assert np.isfinite(expected[2]) == (kernel == "exponential")
    assert_matches_oracle(ours, expected)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_queries_beyond_the_largest_float_in_bandwidths_get_minus_inf(kernel):
    X = np.random.default_rng(5).normal(size=(50, 2))
    model = la.KernelDensity(bandwidth=1e-10, kernel=kernel).fit(X)
    queries = np.array([[1e300, 0.0], [-1e300, 1e300], [0.0, 0.0]])
    ours = model.score_samples(queries)
    assert_array_equal(ours[:2], [-np.inf, -np.inf])
    assert_matches_oracle(ours, oracle(queries, X, 1e-10, kernel))


def test_data_wider_than_the_largest_float_in_bandwidths_raise_at_fit():
    X = np.array([[-1e300], [1e300]])
    with pytest.raises(ValueError, match="bandwidth"):
        la.KernelDensity(bandwidth=1e-10).fit(X)


# --------------------------------------------------------------------------------------
# Cross-validation, the binned path and other metrics


def brute_cv_scores(X, grid, kernel, folds):
    scores = []
    for train, test in KFold(folds).split(X):
        scores.append([oracle(X[test], X[train], h, kernel).sum() for h in grid])
    return np.array(scores)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize(
    "scale, shift", [(1e-300, 0.0), (1e300, 0.0), (1.0, 1e12), (1e150, -1e152)]
)
def test_cross_validation_equals_brute_force_at_any_magnitude(kernel, scale, shift):
    rng = np.random.default_rng(6)
    X = shift + scale * np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(3, 2)) * 1e5])
    grid = scale * np.logspace(-1, 0.5, 4)
    curve = la.cross_validate_bandwidth(X, grid, kernel=kernel, cv=3)
    expected = brute_cv_scores(X, grid, kernel, 3)
    assert_array_equal(curve.fold_scores == -np.inf, expected == -np.inf)
    finite = np.isfinite(expected)
    assert_allclose(curve.fold_scores[finite], expected[finite], rtol=RTOL)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
def test_cross_validation_repairs_rounding_at_small_bandwidths(kernel):
    """Data 1e4 bandwidths from their mean: expanded distances alone are off by nats."""
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(size=(80, 3)), rng.normal(size=(80, 3)) + 2e4])
    grid = np.array([1e-3, 0.1, 1.0])
    curve = la.cross_validate_bandwidth(X, grid, kernel=kernel, cv=4)
    expected = brute_cv_scores(X, grid, kernel, 4)
    assert_allclose(curve.fold_scores, expected, rtol=RTOL)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
@pytest.mark.parametrize("algorithm", ["auto", "binned"])
def test_binned_and_auto_paths_stay_finite_and_close_far_away(kernel, algorithm):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(5000, 1))
    queries = np.vstack(
        [
            rng.normal(size=(2000, 1)),
            rng.normal(size=(100, 1)) * 10.0 ** rng.uniform(2, 14, (100, 1)),
        ]
    )
    model = la.KernelDensity(bandwidth=0.1, kernel=kernel, algorithm=algorithm, rtol=1e-4)
    ours = model.fit(X).score_samples(queries)
    assert np.all(np.isfinite(ours))
    exact = la.KernelDensity(bandwidth=0.1, kernel=kernel).fit(X).score_samples(queries)
    assert_allclose(ours, exact, rtol=2e-4, atol=2e-4)
    assert np.isfinite(model.score(queries))


def test_other_metrics_far_away_give_minus_inf_without_warnings():
    X = np.random.default_rng(9).normal(size=(40, 2))
    model = la.KernelDensity(bandwidth=1e-10, metric="manhattan").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = model.score_samples([[1e300, 1e300], [0.1, 0.2]])
    assert ours[0] == -np.inf and np.isfinite(ours[1])


@pytest.mark.parametrize("d", [1, 2, 3])
def test_data_spanning_1e200_bandwidths_bin_never_and_auto_stays_exact(d):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(3000, d)) * 1e200
    queries = np.vstack([X[:5], rng.normal(size=(50, d))])
    auto = la.KernelDensity(bandwidth=1.0, algorithm="auto", rtol=1e-3).fit(X)
    assert_matches_oracle(auto.score_samples(queries), oracle(queries, X, 1.0, "gaussian"))
    binned = la.KernelDensity(bandwidth=1.0, algorithm="binned", rtol=1e-3).fit(X)
    with pytest.raises(ValueError, match="grid larger than allowed"):
        binned.score_samples(queries)


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_constant_data_far_from_the_origin_at_a_tiny_bandwidth(kernel):
    # Regression: the rounded mean of seven rows of 1e93 misses 1e93 by an ulp (1e77),
    # 1e309 bandwidths at h = 1e-232, and fit refused the data. A constant sample is
    # the same estimate anywhere: the oracle is the same data at the origin.
    X = np.full((7, 1), 1e93)
    kde = la.KernelDensity(bandwidth=1e-232, kernel=kernel).fit(X)
    oracle = la.KernelDensity(bandwidth=1e-232, kernel=kernel).fit(np.zeros((7, 1)))
    np.testing.assert_allclose(
        kde.score_samples(X[:2]), oracle.score_samples(np.zeros((2, 1))), rtol=1e-12
    )
