"""KernelDensity.condition and KernelDensity.marginal (Gaussian kernel).

Oracles: the conditional log-density as log sum_i w_i N(x | x_i, H) minus
log sum_i w_i N(x_o | x_i,o, H_oo), each term from scipy.stats.multivariate_normal
in a loop; the identity with the joint and the marginal; rejection sampling from
the joint; the integral of a density over a grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError

from lookalike._math.kde_conditioning import condition_gaussian_kde
from lookalike.kde import KernelDensity

N_POINTS = 60
D = 3
# Monte Carlo checks: each KS test fails by chance with probability ALPHA; each mean
# comparison at MEAN_SIGMAS standard errors with probability about 6e-7.
ALPHA = 1e-4
MEAN_SIGMAS = 5.0


def _data(seed: int = 0, n: int = N_POINTS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.array([[1.0, 0.0, 0.0], [0.7, 0.6, 0.0], [-0.4, 0.3, 0.8]])
    centres = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, -1.0]])
    labels = rng.integers(0, 2, n)
    return centres[labels] + rng.standard_normal((n, D)) @ mixing


BANDWIDTHS = {
    "scalar": 0.45,
    "per-feature": np.array([0.3, 0.5, 0.4]),
    "matrix": np.array([[0.30, 0.12, -0.05], [0.12, 0.25, 0.08], [-0.05, 0.08, 0.20]]),
}


def _covariance(bandwidth: float | np.ndarray) -> np.ndarray:
    """The Gaussian kernel's covariance H for any form of bandwidth."""
    band = np.asarray(bandwidth, dtype=np.float64)
    if band.ndim == 0:
        return float(band) ** 2 * np.eye(D)
    if band.ndim == 1:
        return np.diag(band**2)
    return band


def _log_mixture(points, log_w, cov, queries):
    """log sum_i w_i N(q | x_i, cov) per query, one scipy call per training point."""
    terms = np.array(
        [
            lw + np.atleast_1d(stats.multivariate_normal(mean=p, cov=cov).logpdf(queries))
            for p, lw in zip(points, log_w, strict=True)
        ]
    )
    return logsumexp(terms, axis=0)


def _oracle(X, weights, bandwidth, known, x_o, x_m):
    """Brute-force conditional log-density at rows x_m given x_o."""
    unknown = np.setdiff1d(np.arange(D), known)
    H = _covariance(bandwidth)
    log_w = np.zeros(len(X)) if weights is None else np.log(weights)
    full = np.empty((len(x_m), D))
    full[:, known] = x_o
    full[:, unknown] = x_m
    joint = _log_mixture(X, log_w, H, full)
    marginal = _log_mixture(X[:, known], log_w, H[np.ix_(known, known)], x_o[None, :])
    return joint - marginal


def _row(x_o, known):
    row = np.full(D, np.nan)
    row[known] = x_o
    return row


KNOWN_SETS = {"one known": np.array([1]), "two known": np.array([0, 2])}


@pytest.mark.parametrize("kind", list(BANDWIDTHS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("known_name", list(KNOWN_SETS))
def test_conditional_matches_brute_force(kind, weighted, known_name):
    X = _data()
    rng = np.random.default_rng(1)
    weights = rng.uniform(0.2, 3.0, len(X)) if weighted else None
    known = KNOWN_SETS[known_name]
    unknown = np.setdiff1d(np.arange(D), known)
    kde = KernelDensity(bandwidth=BANDWIDTHS[kind]).fit(X, sample_weight=weights)
    x_o = X[7, known] + 0.3
    cond = kde.condition(_row(x_o, known))
    # Queries in the bulk of the conditional and out in its tail.
    x_m = np.vstack([X[:4, unknown], X[4, unknown] + 3.0])
    expected = _oracle(X, weights, BANDWIDTHS[kind], known, x_o, x_m)
    np.testing.assert_allclose(cond.score_samples(x_m), expected, rtol=1e-8, atol=1e-12)
    assert cond.n_features_in_ == len(unknown)
    assert cond.kernel == "gaussian"


@pytest.mark.parametrize("kind", list(BANDWIDTHS))
def test_conditional_equals_joint_minus_marginal(kind):
    X = _data(seed=2)
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(X))
    kde = KernelDensity(bandwidth=BANDWIDTHS[kind]).fit(X, sample_weight=weights)
    known, unknown = np.array([0]), np.array([1, 2])
    x_o = np.array([0.8])
    x_m = np.random.default_rng(4).normal(size=(6, 2))
    full = np.column_stack([np.full(len(x_m), x_o[0]), x_m])
    expected = kde.score_samples(full) - kde.marginal(known).score_samples(x_o[None, :])
    actual = kde.condition(_row(x_o, known)).score_samples(x_m)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)
    assert unknown.size == actual.ndim + 1


@pytest.mark.parametrize("kind", list(BANDWIDTHS))
def test_marginal_matches_brute_force(kind):
    X = _data(seed=5)
    weights = np.random.default_rng(6).uniform(0.2, 3.0, len(X))
    kde = KernelDensity(bandwidth=BANDWIDTHS[kind]).fit(X, sample_weight=weights)
    features = np.array([2, 0])  # any order: the marginal's features follow it
    marginal = kde.marginal(features)
    queries = np.random.default_rng(7).normal(size=(5, 2))
    H = _covariance(BANDWIDTHS[kind])[np.ix_(features, features)]
    expected = _log_mixture(X[:, features], np.log(weights), H, queries) - np.log(weights.sum())
    np.testing.assert_allclose(marginal.score_samples(queries), expected, rtol=1e-8, atol=1e-12)
    assert np.ndim(marginal.bandwidth_) == np.ndim(kde.bandwidth_)


def test_log_marginal_sum_and_dropped_points():
    """Far from the data most weights underflow relative to the largest: dropped, still exact."""
    X = _data(seed=8)
    H = 0.1 * BANDWIDTHS["matrix"]  # kernel standard deviation 0.17 along feature 0
    known, unknown = np.array([0]), np.array([1, 2])
    x_o = np.array([X[:, 0].max() + 3.0])  # 17 kernel widths beyond the last point
    result = condition_gaussian_kde(X, None, H, known, unknown, x_o)
    assert 0 < result.kept.size < len(X)
    np.testing.assert_allclose(result.weights.sum(), 1.0, rtol=1e-12)
    oracle = _log_mixture(X[:, known], np.zeros(len(X)), H[:1, :1], x_o[None, :])
    np.testing.assert_allclose(result.log_marginal_sum, oracle[0], rtol=1e-10)
    cond = KernelDensity(bandwidth=H).fit(X).condition(_row(x_o, known))
    nearest = int(np.argmax(X[:, 0]))
    x_m = X[[nearest], :][:, unknown] + np.array([[0.0, 0.0], [0.2, -0.1]])
    expected = _oracle(X, None, H, known, x_o, x_m)
    np.testing.assert_allclose(cond.score_samples(x_m), expected, rtol=1e-8)


@pytest.mark.parametrize("kind", ["per-feature", "matrix"])
def test_conditional_sample_matches_rejection_from_joint(kind):
    """Rows of the joint whose known feature falls in a narrow window vs cond.sample."""
    X = _data(seed=9, n=200)
    weights = np.random.default_rng(10).uniform(0.2, 3.0, len(X))
    kde = KernelDensity(bandwidth=BANDWIDTHS[kind]).fit(X, sample_weight=weights)
    x0, window = 0.5, 0.02
    joint = kde.sample(400_000, random_state=np.random.default_rng(11))
    accepted = joint[np.abs(joint[:, 0] - x0) < window][:, 1:]
    assert len(accepted) > 2_000
    drawn = kde.condition([x0, np.nan, np.nan]).sample(20_000, random_state=12)
    for j in range(2):
        assert stats.ks_2samp(accepted[:, j], drawn[:, j]).pvalue > ALPHA
        error = np.sqrt(accepted[:, j].var() / len(accepted) + drawn[:, j].var() / len(drawn))
        assert abs(accepted[:, j].mean() - drawn[:, j].mean()) < MEAN_SIGMAS * error


@pytest.mark.parametrize("kind", list(BANDWIDTHS))
def test_conditional_integrates_to_one_on_a_grid(kind):
    X = _data(seed=13)
    kde = KernelDensity(bandwidth=BANDWIDTHS[kind]).fit(X)
    cond = kde.condition({0: 0.4, 2: -0.2})
    axes, log_density = cond.score_grid(n_points=4001)
    integral = np.trapezoid(np.exp(log_density), axes[0])
    np.testing.assert_allclose(integral, 1.0, rtol=1e-6)


def test_integer_weights_equal_repeated_rows():
    X = _data(seed=14, n=30)
    counts = np.random.default_rng(15).integers(0, 4, len(X))
    counts[0] = 1
    H = BANDWIDTHS["matrix"]
    weighted = KernelDensity(bandwidth=H).fit(X, sample_weight=counts)
    repeated = KernelDensity(bandwidth=H).fit(np.repeat(X, counts, axis=0))
    x_m = np.random.default_rng(16).normal(size=(4, 1))
    row = [0.2, np.nan, 0.7]
    np.testing.assert_allclose(
        weighted.condition(row).score_samples(x_m),
        repeated.condition(row).score_samples(x_m),
        rtol=1e-10,
    )


def test_row_shapes_and_dict_by_index_agree():
    X = _data(seed=17)
    kde = KernelDensity(bandwidth=BANDWIDTHS["per-feature"]).fit(X)
    x_m = np.random.default_rng(18).normal(size=(3, 1))
    from_row = kde.condition([0.1, np.nan, -0.3]).score_samples(x_m)
    from_2d = kde.condition([[0.1, np.nan, -0.3]]).score_samples(x_m)
    from_dict = kde.condition({2: -0.3, 0: 0.1}).score_samples(x_m)
    np.testing.assert_array_equal(from_2d, from_row)
    np.testing.assert_array_equal(from_dict, from_row)


def test_feature_names_by_dict_and_marginal():
    X = _data(seed=19)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    named = KernelDensity(bandwidth=BANDWIDTHS["matrix"]).fit(frame)
    plain = KernelDensity(bandwidth=BANDWIDTHS["matrix"]).fit(X)
    cond = named.condition({"b": 0.5})
    np.testing.assert_array_equal(cond.feature_names_in_, ["a", "c"])
    x_m = np.random.default_rng(20).normal(size=(4, 2))
    np.testing.assert_allclose(
        cond.score_samples(pd.DataFrame(x_m, columns=["a", "c"])),
        plain.condition({1: 0.5}).score_samples(x_m),
        rtol=1e-12,
    )
    mixed = named.condition({"a": 0.1, 2: 0.3})
    np.testing.assert_array_equal(mixed.feature_names_in_, ["b"])
    marginal = named.marginal(["c", "a"])
    np.testing.assert_array_equal(marginal.feature_names_in_, ["c", "a"])
    np.testing.assert_allclose(
        marginal.score_samples(pd.DataFrame(x_m, columns=["c", "a"])),
        plain.marginal([2, 0]).score_samples(x_m),
        rtol=1e-12,
    )
    assert not hasattr(plain.condition({1: 0.5}), "feature_names_in_")


OTHER_KERNELS = ["tophat", "epanechnikov", "exponential", "linear", "cosine"]


@pytest.mark.parametrize("kernel", OTHER_KERNELS)
def test_other_kernels_are_refused(kernel):
    kde = KernelDensity(kernel=kernel, bandwidth=0.5).fit(_data())
    with pytest.raises(ValueError, match="kernel='gaussian'"):
        kde.condition([0.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="kernel='gaussian'"):
        kde.marginal([0, 1])


def test_other_metrics_are_refused():
    kde = KernelDensity(metric="manhattan", bandwidth=0.5).fit(_data())
    with pytest.raises(ValueError, match="metric='euclidean'"):
        kde.condition({0: 0.0})
    with pytest.raises(ValueError, match="metric='euclidean'"):
        kde.marginal(0)


def test_input_errors():
    X = _data()
    kde = KernelDensity(bandwidth=0.5).fit(X)
    named = KernelDensity(bandwidth=0.5).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    cases = [
        (kde.condition, [np.nan] * 3, "at least one known"),
        (kde.condition, {}, "at least one known"),
        (kde.condition, [0.0, 1.0, 2.0], "at least one unknown"),
        (kde.condition, {0: 0.0, 1: 1.0, 2: 2.0}, "at least one unknown"),
        (kde.condition, [0.0, np.nan], "shape"),
        (kde.condition, [[0.0, np.nan, 1.0]] * 2, "shape"),
        (kde.condition, [np.inf, np.nan, 1.0], "finite"),
        (kde.condition, {0: np.nan}, "finite"),
        (kde.condition, {3: 1.0}, "out of range"),
        (kde.condition, {"a": 1.0}, "without feature names"),
        (named.condition, {"z": 1.0}, "Unknown feature name 'z'"),
        (named.condition, {"a": 1.0, 0: 2.0}, "given twice"),
        (kde.marginal, [], "empty"),
        (kde.marginal, [0, 0], "repeats"),
        (kde.marginal, [-1], "out of range"),
        (named.marginal, ["a", "nope"], "Unknown feature name 'nope'"),
    ]
    for method, argument, message in cases:
        with pytest.raises(ValueError, match=message):
            method(argument)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        KernelDensity().condition([0.0, np.nan])
    with pytest.raises(NotFittedError):
        KernelDensity().marginal([0])
