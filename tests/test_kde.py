"""KernelDensity against brute-force formulas, scikit-learn and scipy.

Oracles: a direct sum over all training points with exact distances
(scipy's cdist) and a normalising constant integrated numerically (scipy's
quad), independent of lookalike's closed forms; scikit-learn's KernelDensity
where it is exact; scipy.stats.gaussian_kde for bandwidth matrices.

Tolerances:
- exact path vs brute force and vs scikit-learn: 1e-10 absolute on
  log-densities (the engine's rounding model allows 1e-12 per term);
- scikit-learn's tree evaluation is not exact where its log-density is below
  about -30 (it returns finite values beyond a compact kernel's support, and is
  off by nats at small bandwidths), so comparisons with it keep the rows where
  its value is above -30 and check the others against brute force instead;
- integrals of densities: 1e-6 (adaptive quadrature);
- goodness of fit of samplers: Kolmogorov-Smirnov at level 1e-3 per test
  (false-failure rate 0.1% per test for a correct sampler; seeds are fixed, so
  the suite is deterministic).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import integrate, stats
from scipy.spatial.distance import cdist
from scipy.special import gammaln, logsumexp
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity as SkKernelDensity

import lookalike as la
import lookalike._math.kernel_sums as engine
from lookalike._math.kernels import KERNELS

KERNEL_NAMES = tuple(KERNELS)
PROFILES = {
    "gaussian": lambda r: np.exp(-0.5 * r * r),
    "tophat": lambda r: np.where(r < 1, 1.0, 0.0),
    "epanechnikov": lambda r: np.where(r < 1, 1 - r * r, 0.0),
    "exponential": lambda r: np.exp(-r),
    "linear": lambda r: np.where(r < 1, 1 - r, 0.0),
    "cosine": lambda r: np.where(r < 1, np.cos(0.5 * np.pi * r), 0.0),
}


# --------------------------------------------------------------------------------------
# Oracles


def log_normaliser_by_quadrature(kernel: str, d: int) -> float:
    """log of the integral of the profile over R^d, by 1-D quadrature in the radius."""
    upper = 1.0 if KERNELS[kernel].support == 1.0 else np.inf
    radial, _ = integrate.quad(
        lambda r: r ** (d - 1) * PROFILES[kernel](r), 0, upper, epsabs=0, epsrel=1e-13
    )
    log_sphere = math.log(2) + 0.5 * d * math.log(math.pi) - gammaln(0.5 * d)
    return log_sphere + math.log(radial)


def brute_log_density(
    queries: np.ndarray,
    data: np.ndarray,
    bandwidth: float,
    kernel: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Direct sum over every training point, exact distances, quadrature normaliser."""
    d = data.shape[1]
    r = cdist(queries, data) / bandwidth
    with np.errstate(divide="ignore"):
        log_terms = np.log(PROFILES[kernel](r))
    if kernel in ("gaussian", "exponential"):  # avoid exp underflow in the oracle
        log_terms = -0.5 * r * r if kernel == "gaussian" else -r
    w = np.ones(len(data)) if weights is None else weights
    with np.errstate(divide="ignore"):
        log_terms = log_terms + np.log(w)
    return (
        logsumexp(log_terms, axis=1)
        - math.log(w.sum())
        - log_normaliser_by_quadrature(kernel, d)
        - d * math.log(bandwidth)
    )


def assert_log_densities_equal(ours: np.ndarray, expected: np.ndarray, atol: float = 1e-10):
    finite = np.isfinite(expected)
    assert_array_equal(np.isfinite(ours), finite)
    assert_array_equal(ours[~finite], expected[~finite])
    assert_allclose(ours[finite], expected[finite], rtol=0, atol=atol)


def data(n: int = 300, d: int = 2, seed: int = 0) -> np.ndarray:
    """Two correlated clusters, shifted away from the origin."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / math.sqrt(d) + np.eye(d)
    X = rng.standard_normal((n, d)) @ mixing
    X[: n // 3] += 4.0
    return X + 10.0


# --------------------------------------------------------------------------------------
# The kernels: closed forms against quadrature and scikit-learn


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 8, 17])
def test_kernel_normaliser_equals_quadrature(kernel, d):
    ours = KERNELS[kernel].log_normaliser(d)
    assert ours == pytest.approx(log_normaliser_by_quadrature(kernel, d), abs=1e-11)


# scikit-learn's cosine normalisation holds for odd dimensions only (see below).
SKLEARN_VALID = [
    (kernel, d) for kernel in KERNEL_NAMES for d in (1, 2, 3, 5) if kernel != "cosine" or d % 2
]


@pytest.mark.parametrize(("kernel", "d"), SKLEARN_VALID)
def test_kernel_normaliser_equals_sklearn_where_sklearn_is_right(kernel, d):
    from sklearn.neighbors._kd_tree import kernel_norm

    expected = kernel_norm(0.7, d, kernel, return_log=True)
    assert KERNELS[kernel].log_norm(d, 0.7) == pytest.approx(expected, abs=1e-12)


def test_sklearn_cosine_normalisation_is_wrong_in_even_dimensions():
    """Documents why lookalike's cosine log-densities differ from scikit-learn's at even d."""
    from sklearn.neighbors._kd_tree import kernel_norm

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = kernel_norm(1.0, 2, "cosine", return_log=True)
        theirs4 = kernel_norm(1.0, 4, "cosine", return_log=True)
    truth = -log_normaliser_by_quadrature("cosine", 2)
    assert abs(theirs - truth) > 0.5
    assert not np.isfinite(theirs4)
    assert KERNELS["cosine"].log_norm(2) == pytest.approx(truth, abs=1e-12)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_kernel_variance_equals_quadrature(kernel, d):
    upper = 1.0 if KERNELS[kernel].support == 1.0 else np.inf
    profile = PROFILES[kernel]

    def moment(power: int) -> float:
        value, _ = integrate.quad(lambda r: r**power * profile(r), 0, upper, epsrel=1e-12)
        return value

    expected = moment(d + 1) / moment(d - 1) / d
    assert KERNELS[kernel].variance(d) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_profiles_work_in_place_and_match_the_definitions(kernel):
    s = np.linspace(0.0, 4.0, 401)
    with np.errstate(divide="ignore"):
        expected_log = np.log(PROFILES[kernel](np.sqrt(s)))
    assert_allclose(KERNELS[kernel].log_profile(s), expected_log, rtol=1e-13, atol=1e-15)
    buffer = s.copy()
    assert KERNELS[kernel].log_profile(buffer, out=buffer) is buffer
    assert_allclose(buffer, expected_log, rtol=1e-13, atol=1e-15)
    if KERNELS[kernel].profile is not None:
        assert_allclose(KERNELS[kernel].profile(s), PROFILES[kernel](np.sqrt(s)), atol=1e-15)


# --------------------------------------------------------------------------------------
# Samplers of the unit kernels: radius law against the profile (goodness of fit)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_kernel_sampler_radius_follows_the_profile(kernel, d):
    """KS test of draw radii against r^(d-1) k(r), normalised by quadrature (level 1e-3)."""
    rng = np.random.default_rng(100 + d)
    draws = KERNELS[kernel].sample(rng, 4000, d)
    assert draws.shape == (4000, d)
    radii = np.linalg.norm(draws, axis=1)
    upper = 1.0 if KERNELS[kernel].support == 1.0 else np.inf
    profile = PROFILES[kernel]
    total, _ = integrate.quad(lambda r: r ** (d - 1) * profile(r), 0, upper)

    def cdf(values):
        values = np.atleast_1d(values)
        return np.array(
            [
                integrate.quad(lambda r: r ** (d - 1) * profile(r), 0, min(v, upper))[0] / total
                for v in values
            ]
        )

    assert stats.kstest(radii, cdf).pvalue > 1e-3
    if d > 1:  # directions are uniform: the mean of unit vectors is near zero
        directions = draws / radii[:, None]
        assert np.linalg.norm(directions.mean(axis=0)) < 4 / math.sqrt(4000)


# --------------------------------------------------------------------------------------
# Log-densities: exact path against brute force and scikit-learn


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_score_samples_equal_brute_force(kernel, d, weighted):
    rng = np.random.default_rng(d)
    X = data(250, d, seed=d)
    weights = rng.uniform(0.0, 3.0, len(X)) if weighted else None
    if weighted:
        weights[:5] = 0.0  # zero weights are allowed and drop out
    queries = np.vstack([X[:20], data(60, d, seed=50 + d) * 1.3, X[:3] + 25.0])
    bandwidth = 0.9
    model = la.KernelDensity(bandwidth=bandwidth, kernel=kernel).fit(X, sample_weight=weights)
    expected = brute_log_density(queries, X, bandwidth, kernel, weights)
    assert_log_densities_equal(model.score_samples(queries), expected)
    assert model.score(queries) == pytest.approx(np.sum(expected), rel=1e-12)


@pytest.mark.parametrize(("kernel", "d"), SKLEARN_VALID)
def test_score_samples_equal_sklearn(kernel, d):
    X = data(300, d, seed=10 + d)
    rng = np.random.default_rng(d)
    weights = rng.uniform(0.2, 2.0, len(X))
    queries = np.vstack([X[:30], data(100, d, seed=20 + d)])
    for sample_weight in (None, weights):
        ours = la.KernelDensity(bandwidth=1.3, kernel=kernel).fit(X, sample_weight=sample_weight)
        theirs = SkKernelDensity(bandwidth=1.3, kernel=kernel).fit(X, sample_weight=sample_weight)
        expected = theirs.score_samples(queries)
        reliable = expected > -30
        assert reliable.mean() > 0.5
        assert_allclose(ours.score_samples(queries)[reliable], expected[reliable], atol=1e-10)


@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_sklearn_bandwidth_rules_are_reproduced(rule):
    X = data(200, 3) * 100.0
    ours = la.KernelDensity(bandwidth=rule).fit(X)
    theirs = SkKernelDensity(bandwidth=rule).fit(X)
    assert ours.bandwidth_ == theirs.bandwidth_
    assert isinstance(ours.bandwidth_, float)
    assert_allclose(ours.score_samples(X[:50]), theirs.score_samples(X[:50]), atol=1e-10)
    # scikit-learn counts rows, not weights, for these rules: keep that.
    weighted = la.KernelDensity(bandwidth=rule).fit(X, sample_weight=np.full(len(X), 3.0))
    assert weighted.bandwidth_ == theirs.bandwidth_


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev", ("minkowski", {"p": 3})])
def test_other_metrics_equal_sklearn(metric):
    name, params = metric if isinstance(metric, tuple) else (metric, None)
    X = data(200, 3, seed=4)
    queries = data(50, 3, seed=5)
    ours = la.KernelDensity(bandwidth=1.5, metric=name, metric_params=params).fit(X)
    theirs = SkKernelDensity(bandwidth=1.5, metric=name, metric_params=params).fit(X)
    expected = theirs.score_samples(queries)
    reliable = expected > -30
    assert_allclose(ours.score_samples(queries)[reliable], expected[reliable], atol=1e-10)
    r = cdist(queries, X, {"manhattan": "cityblock"}.get(name, name), **(params or {})) / 1.5
    brute = logsumexp(-0.5 * r * r, axis=1) - math.log(len(X)) - 1.5 * math.log(2 * math.pi)
    assert_allclose(ours.score_samples(queries), brute - 3 * math.log(1.5), atol=1e-10)


def test_far_tails_and_small_bandwidths_stay_exact():
    """Where scikit-learn's tree is off by nats, the exact path matches brute force."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2000, 8))
    held_out = rng.standard_normal((200, 8))
    far = rng.standard_normal((20, 8)) * 3 + 30.0
    for bandwidth in (0.05, 0.3, 1.0):
        model = la.KernelDensity(bandwidth=bandwidth).fit(X)
        for queries in (held_out, far):
            expected = brute_log_density(queries, X, bandwidth, "gaussian")
            assert_log_densities_equal(model.score_samples(queries), expected, atol=1e-9)
    theirs = SkKernelDensity(bandwidth=0.05).fit(X).score_samples(held_out)
    ours = la.KernelDensity(bandwidth=0.05).fit(X).score_samples(held_out)
    assert np.abs(theirs - ours).max() > 1.0, "scikit-learn is not exact here"


@pytest.mark.parametrize("kernel", ["gaussian", "exponential", "linear", "tophat"])
def test_tiny_bandwidths_on_uncentred_data_stay_exact(kernel):
    """Rounding of the expanded distances is repaired where it would matter."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((500, 3)) * 1000.0 + 1e4
    queries = np.vstack([X[:50], X[:50] + 1e-3, X[:50] + 0.5])
    for bandwidth in (1e-2, 1.0):
        model = la.KernelDensity(bandwidth=bandwidth, kernel=kernel).fit(X)
        expected = brute_log_density(queries, X, bandwidth, kernel)
        assert_log_densities_equal(model.score_samples(queries), expected, atol=1e-9)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_threads_blocks_and_pruning_do_not_change_the_numbers(kernel, monkeypatch):
    X = data(700, 2, seed=3)
    queries = data(300, 2, seed=4)
    model = la.KernelDensity(bandwidth=0.4, kernel=kernel).fit(X)
    reference = model.score_samples(queries)
    monkeypatch.setattr(engine, "QUERY_BLOCK_ROWS", 7)
    monkeypatch.setattr(engine, "TRAIN_BLOCK_ROWS", 13)
    for n_jobs in (1, 2):
        model.set_params(n_jobs=n_jobs)
        assert_allclose(model.score_samples(queries), reference, rtol=0, atol=1e-12)
    expected = brute_log_density(queries, X, 0.4, kernel)
    assert_log_densities_equal(reference, expected)


# --------------------------------------------------------------------------------------
# Densities integrate to one


def _integral_1d(model: la.KernelDensity, low: float, high: float) -> float:
    value, _ = integrate.quad(
        lambda x: math.exp(model.score_samples([[x]])[0]), low, high, limit=400, epsabs=1e-10
    )
    return value


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_1d_density_integrates_to_one(kernel):
    X = np.array([[0.0], [0.3], [2.0], [5.0]])
    model = la.KernelDensity(bandwidth=0.7, kernel=kernel).fit(X, sample_weight=[1, 2, 1, 0.5])
    reach = 50.0 if kernel in ("gaussian", "exponential") else 1.0
    # Integrate piece by piece so that quad sees every kink.
    edges = np.unique(np.concatenate([X[:, 0] - reach, X[:, 0], X[:, 0] + reach]))
    if kernel not in ("gaussian", "exponential"):
        edges = np.unique(np.concatenate([edges, X[:, 0] - 0.7, X[:, 0] + 0.7]))
    total = sum(_integral_1d(model, a, b) for a, b in itertools.pairwise(edges))
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize(
    "bandwidth", [0.8, np.array([0.5, 1.2]), np.array([[0.6, 0.3], [0.3, 0.9]])], ids=str
)
def test_2d_density_integrates_to_one(kernel, bandwidth):
    """Integral over a fine grid (midpoint rule) of a one-point estimate; 2e-3 tolerance."""
    model = la.KernelDensity(bandwidth=bandwidth, kernel=kernel).fit([[0.0, 0.0]])
    reach = 25.0 if kernel == "exponential" else (8.0 if kernel == "gaussian" else 2.0)
    step = reach / 300
    axis = np.arange(-reach, reach, step) + step / 2
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    total = np.exp(model.score_samples(grid)).sum() * step * step
    assert total == pytest.approx(1.0, abs=2e-3)


# --------------------------------------------------------------------------------------
# Anisotropic bandwidths


def test_per_feature_bandwidth_equals_rescaled_isotropic():
    X = data(200, 3, seed=6)
    queries = data(40, 3, seed=7)
    scales = np.array([0.5, 2.0, 1.5])
    per_feature = la.KernelDensity(bandwidth=scales, kernel="epanechnikov").fit(X)
    rescaled = la.KernelDensity(bandwidth=1.0, kernel="epanechnikov").fit(X / scales)
    expected = rescaled.score_samples(queries / scales) - np.log(scales).sum()
    assert_log_densities_equal(per_feature.score_samples(queries), expected, atol=1e-12)
    assert_array_equal(per_feature.bandwidth_, scales)


@pytest.mark.parametrize("weighted", [False, True])
def test_bandwidth_matrix_equals_scipy_gaussian_kde(weighted):
    X = data(300, 3, seed=8)
    weights = np.random.default_rng(0).uniform(0.1, 1.0, len(X)) if weighted else None
    reference = stats.gaussian_kde(X.T, bw_method="scott", weights=weights)
    model = la.KernelDensity(bandwidth=reference.covariance).fit(X, sample_weight=weights)
    queries = np.vstack([data(50, 3, seed=9), X[:10] + 8.0])
    assert_allclose(model.score_samples(queries), reference.logpdf(queries.T), atol=1e-10)


def test_bandwidth_matrix_samples_have_the_kernel_covariance():
    H = np.array([[2.0, 0.8], [0.8, 0.5]])
    model = la.KernelDensity(bandwidth=H).fit([[1.0, -1.0]])
    draws = model.sample(20000, random_state=np.random.default_rng(1))
    assert_allclose(np.cov(draws.T), H, rtol=0.05, atol=0.02)
    assert_allclose(draws.mean(axis=0), [1.0, -1.0], atol=0.05)


# --------------------------------------------------------------------------------------
# Weights


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_integer_weights_equal_repeated_rows(kernel):
    X = data(60, 2, seed=11)
    counts = np.random.default_rng(2).integers(0, 4, len(X))
    counts[0] = 1
    queries = data(30, 2, seed=12)
    weighted = la.KernelDensity(bandwidth=1.1, kernel=kernel).fit(X, sample_weight=counts)
    repeated = la.KernelDensity(bandwidth=1.1, kernel=kernel).fit(np.repeat(X, counts, axis=0))
    assert_allclose(weighted.score_samples(queries), repeated.score_samples(queries), atol=1e-12)


def test_constant_weights_change_nothing():
    X = data(80, 2)
    plain = la.KernelDensity(bandwidth=0.8).fit(X)
    weighted = la.KernelDensity(bandwidth=0.8).fit(X, sample_weight=np.full(len(X), 2.5))
    assert_allclose(weighted.score_samples(X), plain.score_samples(X), atol=1e-12)
    assert_array_equal(weighted.sample(20, random_state=3), plain.sample(20, random_state=3))


# --------------------------------------------------------------------------------------
# Sampling


@pytest.mark.parametrize("kernel", ["gaussian", "tophat"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sample_equals_sklearn_for_legacy_random_states(kernel, weighted):
    X = data(100, 3)
    weights = np.random.default_rng(0).uniform(0.0, 1.0, len(X)) if weighted else None
    ours = la.KernelDensity(bandwidth=0.6, kernel=kernel).fit(X, sample_weight=weights)
    theirs = SkKernelDensity(bandwidth=0.6, kernel=kernel).fit(X, sample_weight=weights)
    assert_allclose(ours.sample(50, random_state=4), theirs.sample(50, random_state=4), atol=1e-14)
    assert_allclose(
        ours.sample(50, random_state=np.random.RandomState(5)),
        theirs.sample(50, random_state=np.random.RandomState(5)),
        atol=1e-14,
    )


def _kde_cdf(model: la.KernelDensity, low: float, high: float, n: int = 20001):
    """CDF of a 1-D estimate by cumulative trapezoid on a fine grid."""
    grid = np.linspace(low, high, n)
    density = np.exp(model.score_samples(grid[:, None]))
    cumulative = integrate.cumulative_trapezoid(density, grid, initial=0.0)
    cumulative /= cumulative[-1]
    return lambda x: np.interp(x, grid, cumulative)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.parametrize("source", ["generator", "legacy"])
def test_1d_samples_follow_the_density(kernel, source):
    """KS test of weighted-estimate samples against the CDF of score_samples (level 1e-3)."""
    rng = np.random.default_rng(21)
    X = np.concatenate([rng.normal(0, 1, 40), rng.normal(6, 0.5, 20)])[:, None]
    weights = rng.uniform(0.1, 2.0, len(X))
    model = la.KernelDensity(bandwidth=0.8, kernel=kernel).fit(X, sample_weight=weights)
    random_state = np.random.default_rng(5) if source == "generator" else 5
    draws = model.sample(3000, random_state=random_state)[:, 0]
    assert stats.kstest(draws, _kde_cdf(model, -40, 50)).pvalue > 1e-3


def _projected_cdf(model: la.KernelDensity, direction: np.ndarray, reach: float):
    """CDF of ``direction @ x`` for x from a 2-D estimate, by integrating it on a grid."""
    u = direction / np.linalg.norm(direction)
    v = np.array([-u[1], u[0]])
    centre = model._data.mean(axis=0)
    t = np.linspace(-reach, reach, 1201)
    s = np.linspace(-reach, reach, 801)
    points = centre + t[:, None, None] * u + s[None, :, None] * v
    density = np.exp(model.score_samples(points.reshape(-1, 2))).reshape(len(t), len(s))
    marginal = integrate.trapezoid(density, s, axis=1)
    cumulative = integrate.cumulative_trapezoid(marginal, t, initial=0.0)
    cumulative /= cumulative[-1]
    offset = centre @ u
    return lambda x: np.interp(x - offset, t, cumulative)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
@pytest.mark.slow
def test_2d_samples_follow_the_density_along_directions(kernel):
    """KS along 3 directions against the density's projection (level 1e-3 each)."""
    X = data(30, 2, seed=31)
    model = la.KernelDensity(bandwidth=np.array([0.7, 1.4]), kernel=kernel).fit(X)
    draws = model.sample(3000, random_state=np.random.default_rng(6))
    assert np.all(np.isfinite(model.score_samples(draws))), "draws lie where f > 0"
    reach = 40.0 if kernel == "exponential" else 14.0
    for direction in (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])):
        projected = draws @ (direction / np.linalg.norm(direction))
        cdf = _projected_cdf(model, direction, reach)
        assert stats.kstest(projected, cdf).pvalue > 1e-3, direction


def test_sample_reproducible_and_fresh_with_generators():
    model = la.KernelDensity(bandwidth=0.5, kernel="cosine").fit(data(50, 2))
    assert_array_equal(model.sample(10, random_state=3), model.sample(10, random_state=3))
    rng = np.random.default_rng(0)
    first, second = model.sample(10, random_state=rng), model.sample(10, random_state=rng)
    assert not np.allclose(first, second)
    assert_array_equal(first, model.sample(10, random_state=np.random.default_rng(0)))
    assert model.sample(0).shape == (0, 2)


# --------------------------------------------------------------------------------------
# Cross-validated bandwidths


@pytest.fixture(scope="module")
def digits15() -> np.ndarray:
    return PCA(15, random_state=0).fit_transform(load_digits().data)


@pytest.mark.slow
def test_seed_workflow_chooses_what_grid_search_chooses(digits15):
    grid = np.logspace(-1, 1, 20)
    search = GridSearchCV(SkKernelDensity(), {"bandwidth": grid}, cv=5).fit(digits15)
    curve = la.cross_validate_bandwidth(digits15, grid)
    assert curve.best_bandwidth == search.best_params_["bandwidth"]
    assert curve.best_bandwidth == pytest.approx(3.79, abs=0.005)
    # Every fold score equals brute force; scikit-learn's equals it only at the
    # largest bandwidths (its tree is off by up to 15 nats per fold at h = 3).
    folds = list(KFold(5).split(digits15))
    for k, (train, test) in enumerate(folds):
        for g in (0, 7, 15, 19):
            log_f = brute_log_density(digits15[test], digits15[train], grid[g], "gaussian")
            assert curve.fold_scores[k, g] == pytest.approx(log_f.sum(), rel=1e-10)
        theirs = search.cv_results_[f"split{k}_test_score"]
        assert_allclose(curve.fold_scores[k, -3:], theirs[-3:], rtol=1e-10)
    model = la.KernelDensity(bandwidth="cv", bandwidth_grid=grid).fit(digits15)
    assert model.bandwidth_ == curve.best_bandwidth
    assert_array_equal(model.cv_results_["fold_scores"], curve.fold_scores)


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_cv_curve_equals_refitting_per_bandwidth_and_fold(kernel):
    X = data(120, 2, seed=13)
    rng = np.random.default_rng(3)
    weights = rng.uniform(0.5, 2.0, len(X))
    grid = np.array([0.3, 0.7, 1.5, 4.0])
    cv = KFold(4, shuffle=True, random_state=0)
    curve = la.cross_validate_bandwidth(X, grid, kernel=kernel, cv=cv, sample_weight=weights)
    for k, (train, test) in enumerate(cv.split(X)):
        for g, h in enumerate(grid):
            log_f = brute_log_density(X[test], X[train], h, kernel, weights[train])
            with np.errstate(invalid="ignore"):
                expected = np.sum(np.where(weights[test] > 0, log_f * weights[test], 0.0))
            assert curve.fold_scores[k, g] == pytest.approx(expected, rel=1e-10, abs=1e-9)
    total = curve.fold_scores.sum(axis=0) / weights.sum()
    assert_allclose(curve.mean_log_likelihood, total, rtol=1e-12)


def test_cv_with_automatic_grid_finds_an_interior_optimum():
    X = np.random.default_rng(4).standard_normal((400, 1)) * 50.0
    model = la.KernelDensity(bandwidth="cv").fit(X)
    bandwidths = model.cv_results_["bandwidths"]
    best = int(np.argmax(model.cv_results_["mean_log_likelihood"]))
    assert 0 < best < len(bandwidths) - 1
    # Normal reference for N(0, 50^2), n = 320 per training fold: about 50 * 320^(-1/5).
    assert 0.4 * 50 * 320 ** (-0.2) < model.bandwidth_ < 2.5 * 50 * 320 ** (-0.2)


def test_cv_warns_when_the_best_bandwidth_is_at_the_edge_of_a_given_grid():
    X = np.random.default_rng(4).standard_normal((200, 1))
    with pytest.warns(la.exceptions.BandwidthEdgeWarning, match="edge"):
        la.KernelDensity(bandwidth="cv", bandwidth_grid=[10.0, 20.0, 40.0]).fit(X)


# --------------------------------------------------------------------------------------
# Bad input

_X = data(30, 2)


def _with(value: float) -> np.ndarray:
    X = _X.copy()
    X[3, 1] = value
    return X


BAD_FITS = {
    "nan": ({}, _with(np.nan), None, "NaN"),
    "inf": ({}, _with(np.inf), None, "infinity"),
    "strings": ({}, [["a", "b"], ["c", "d"]], None, "could not convert"),
    "1-D": ({}, _X[:, 0], None, "Expected 2D array"),
    "3-D": ({}, _X[:, :, None], None, "dim 3"),
    "empty": ({}, np.zeros((0, 2)), None, "0 sample"),
    "no features": ({}, np.zeros((5, 0)), None, "0 feature"),
    "negative weight": ({}, _X, -np.ones(30), "Negative"),
    "short weights": ({}, _X, np.ones(3), "shape"),
    "zero weights": ({}, _X, np.zeros(30), "positive"),
    "bandwidth 0": ({"bandwidth": 0.0}, _X, None, "bandwidth"),
    "bandwidth -1": ({"bandwidth": -1.0}, _X, None, "bandwidth"),
    "bandwidth nan": ({"bandwidth": np.nan}, _X, None, "bandwidth"),
    "bandwidth name": ({"bandwidth": "bogus"}, _X, None, "bandwidth"),
    "bandwidth shape": ({"bandwidth": [1.0, 2.0, 3.0]}, _X, None, "shape"),
    "bandwidth negative entry": ({"bandwidth": [1.0, -2.0]}, _X, None, "positive"),
    "bandwidth matrix not PD": (
        {"bandwidth": [[1.0, 2.0], [2.0, 1.0]]},
        _X,
        None,
        "positive definite",
    ),
    "kernel": ({"kernel": "triangle"}, _X, None, "kernel"),
    "algorithm": ({"algorithm": "fast"}, _X, None, "algorithm"),
    "metric": ({"metric": "cosine-ish"}, _X, None, "metric"),
    "metric for kd_tree": ({"algorithm": "kd_tree", "metric": "canberra"}, _X, None, "metric"),
    "rtol": ({"rtol": -1.0}, _X, None, "rtol"),
    "leaf_size": ({"leaf_size": 0}, _X, None, "leaf_size"),
    "cv": ({"bandwidth": "cv", "cv": 1}, _X, None, "cv"),
    "grid": ({"bandwidth": "cv", "bandwidth_grid": [1.0, -1.0]}, _X, None, "bandwidth_grid"),
    "anisotropic with metric": (
        {"bandwidth": [1.0, 2.0], "metric": "manhattan"},
        _X,
        None,
        "euclidean",
    ),
}


@pytest.mark.parametrize("case", BAD_FITS.keys())
def test_bad_fit_input_raises_value_error(case):
    params, X, sample_weight, message = BAD_FITS[case]
    model = la.KernelDensity(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            model.fit(X, sample_weight=sample_weight)
    assert not hasattr(model, "bandwidth_")


def test_inference_with_wrong_features_nan_or_before_fit():
    model = la.KernelDensity().fit(_X)
    for method in (model.score_samples, model.score):
        with pytest.raises(ValueError, match="X has 3 features, but KernelDensity"):
            method(np.zeros((4, 3)))
        with pytest.raises(ValueError, match="NaN"):
            method(_with(np.nan))
    with pytest.raises(la.exceptions.NotFittedError):
        la.KernelDensity().score_samples(_X)
    with pytest.raises(la.exceptions.NotFittedError):
        la.KernelDensity().sample()
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(-1)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(2.5)


def test_hyper_parameters_are_validated_at_fit_not_init():
    model = la.KernelDensity(bandwidth=-3, kernel="bogus")
    assert model.get_params()["bandwidth"] == -3
    with pytest.raises(ValueError, match="bandwidth"):
        model.fit(_X)


def test_float32_input_is_scored_in_float64():
    X = data(100, 2).astype(np.float32)
    ours = la.KernelDensity(bandwidth=0.5).fit(X)
    assert ours.score_samples(X).dtype == np.float64
    as64 = X.astype(np.float64)
    expected = la.KernelDensity(bandwidth=0.5).fit(as64).score_samples(as64)
    assert_allclose(ours.score_samples(X), expected, atol=1e-12)


# --------------------------------------------------------------------------------------
# The binned path through the estimator (its maths: tests/test_binned.py)


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
@pytest.mark.parametrize("d", [1, 2])
def test_binned_score_samples_are_within_rtol_of_exact(kernel, d):
    X = data(3000, d, seed=40 + d)
    weights = np.random.default_rng(d).uniform(0.2, 2.0, len(X))
    # Queries in the bulk, in the tails and outside the grid (evaluated exactly).
    queries = np.vstack([data(400, d, seed=50 + d), X[:20] + 3.0, X[:5] + 60.0])
    # The exponential kernel's binning error is first order in the spacing.
    rtol = {1: 1e-3, 2: 1e-2 if kernel == "gaussian" else 3e-2}[d]
    exact = la.KernelDensity(bandwidth=0.6, kernel=kernel).fit(X, sample_weight=weights)
    binned = la.KernelDensity(bandwidth=0.6, kernel=kernel, algorithm="binned", rtol=rtol)
    binned.fit(X, sample_weight=weights)
    expected = exact.score_samples(queries)
    ours = binned.score_samples(queries)
    assert np.abs(ours - expected).max() <= rtol
    assert_allclose(ours[-5:], expected[-5:], atol=1e-10)  # outside the grid: exact
    assert not np.array_equal(ours[:400], expected[:400]), "the binned path was used"


@pytest.mark.slow
def test_auto_bins_only_when_rtol_allows_and_it_pays(monkeypatch):
    import lookalike._math.binned as binned_module

    calls = []
    original = binned_module.log_sums_at

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(binned_module, "log_sums_at", counting)
    X = np.random.default_rng(0).standard_normal((20000, 1))
    queries = np.random.default_rng(1).standard_normal((20000, 1))
    exact = la.KernelDensity(bandwidth=0.1).fit(X).score_samples(queries)
    assert not calls
    approximate = la.KernelDensity(bandwidth=0.1, rtol=1e-4).fit(X).score_samples(queries)
    assert len(calls) == 1
    assert np.abs(approximate - exact).max() <= 1e-4
    la.KernelDensity(bandwidth=0.1, rtol=1e-4).fit(X[:100]).score_samples(queries[:100])
    assert len(calls) == 1, "too small to pay: exact"
    la.KernelDensity(bandwidth=0.1, rtol=1e-4, kernel="tophat").fit(X).score_samples(queries)
    assert len(calls) == 1, "no log-error model for compact kernels: exact"


@pytest.mark.parametrize("bandwidth", [0.5, np.array([0.4, 0.9])], ids=["scalar", "per-feature"])
def test_score_grid_binned_equals_exact_within_tolerance(bandwidth):
    X = data(2000, 2, seed=60)
    exact = la.KernelDensity(bandwidth=bandwidth).fit(X)
    binned = la.KernelDensity(bandwidth=bandwidth, algorithm="binned", rtol=0.02).fit(X)
    axes, expected = exact.score_grid(48)
    binned_axes, ours = binned.score_grid(48)
    for axis, binned_axis in zip(axes, binned_axes, strict=True):
        assert_array_equal(axis, binned_axis)
    assert ours.shape == expected.shape == (48, 48)
    assert np.abs(ours - expected).max() <= 0.02
    # Node (i, j) is the density at (axes[0][i], axes[1][j]).
    point = np.array([[axes[0][10], axes[1][30]]])
    assert expected[10, 30] == pytest.approx(exact.score_samples(point)[0], abs=1e-12)


def test_score_grid_far_tails_stay_accurate_in_one_dimension():
    """Bounds 30 bandwidths beyond the data: the FFT alone would be noise there."""
    X = np.random.default_rng(3).standard_normal((50000, 1))
    h = 0.05
    bounds = [[X.min() - 30 * h, X.max() + 30 * h]]
    axes, ours = (
        la.KernelDensity(bandwidth=h, algorithm="binned").fit(X).score_grid(4096, bounds=bounds)
    )
    expected = la.KernelDensity(bandwidth=h).fit(X).score_samples(axes[0][:, None])
    tails = (axes[0] < X.min() - 10 * h) | (axes[0] > X.max() + 10 * h)
    assert tails.sum() > 50 and expected[tails].max() < -50
    assert np.abs(ours - expected).max() <= la.kde.DEFAULT_BINNED_TOLERANCE


@pytest.mark.parametrize("kernel", ["tophat", "epanechnikov", "linear", "cosine"])
def test_binned_compact_kernels_are_close_in_density(kernel):
    """Compact kernels have no log-error bound (edges); their densities agree closely."""
    X = data(3000, 1, seed=70)
    exact = la.KernelDensity(bandwidth=0.7, kernel=kernel).fit(X)
    binned = la.KernelDensity(bandwidth=0.7, kernel=kernel, algorithm="binned").fit(X)
    axes, expected = exact.score_grid(512)
    _, ours = binned.score_grid(512)
    peak = np.exp(expected).max()
    assert np.abs(np.exp(ours) - np.exp(expected)).max() <= 0.05 * peak
    assert integrate.trapezoid(np.exp(ours), axes[0]) == pytest.approx(1.0, abs=5e-3)


def test_binned_and_grid_misuse_raise_value_errors():
    X4 = data(50, 4)
    with pytest.raises(ValueError, match="1 to 3 features"):
        la.KernelDensity(algorithm="binned").fit(X4)
    with pytest.raises(ValueError, match="1 to 3 features"):
        la.KernelDensity().fit(X4).score_grid()
    with pytest.raises(ValueError, match="euclidean"):
        la.KernelDensity(algorithm="binned", metric="manhattan").fit(_X)
    model = la.KernelDensity(algorithm="binned", rtol=1e-9).fit(_X)
    with pytest.raises(ValueError, match="rtol"):
        model.score_samples(_X)
    fitted = la.KernelDensity().fit(_X)
    with pytest.raises(ValueError, match="bounds"):
        fitted.score_grid(10, bounds=[[0, 1]])
    with pytest.raises(ValueError, match="bounds"):
        fitted.score_grid(10, bounds=[[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="n_points"):
        fitted.score_grid(1)


# --------------------------------------------------------------------------------------
# Per-query error control on the binned path (Gaussian kernel): every value whose own
# error bound exceeds rtol, or that lies outside the grid, is evaluated exactly


def _two_modes(n: int, seed: int) -> np.ndarray:
    """Two unit normals 12 apart along the first axis: a gap of about 20 bandwidths."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    X[: n // 2, 0] -= 6.0
    X[n // 2 :, 0] += 6.0
    return X


def _tail_queries(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    directions = rng.standard_normal((n, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * rng.uniform(low, high, (n, 1))


def _recording_bounds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[np.ndarray, ...]]:
    """Record what the estimator's binned evaluations return (values, outside, bound)."""
    import lookalike._math.binned as binned_module

    calls: list[tuple[np.ndarray, ...]] = []
    original = binned_module.log_sums_at

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(tuple(np.copy(part) for part in result))
        return result

    monkeypatch.setattr(binned_module, "log_sums_at", recording)
    return calls


@pytest.mark.slow
def test_binned_gaussian_is_within_rtol_everywhere_on_20k_normal_points(monkeypatch):
    n, rtol = 20000, 1e-3
    rng = np.random.default_rng(200)
    X = rng.standard_normal((n, 2))
    h = n ** (-1 / 6)
    # The bulk, the tails (3.5 to 6 standard deviations), and queries in a gap between
    # two far modes of the same data (the data's own spread leaves none).
    queries = np.vstack([rng.standard_normal((2000, 2)), _tail_queries(rng, 500, 3.5, 6.0)])
    exact = la.KernelDensity(bandwidth=h).fit(X).score_samples(queries)
    calls = _recording_bounds(monkeypatch)
    model = la.KernelDensity(bandwidth=h, algorithm="binned", rtol=rtol).fit(X)
    ours = model.score_samples(queries)
    assert np.abs(ours - exact).max() <= rtol
    _, outside, bound = calls[0]
    redone = outside | (bound > rtol)
    assert redone[2000:].mean() > 0.2, "the far tails are evaluated exactly"
    assert redone[:2000].mean() < 0.01, "the bulk is binned"

    gap = _two_modes(n, 201)
    middle = np.column_stack([rng.uniform(-4.0, 4.0, 500), rng.uniform(-2.0, 2.0, 500)])
    queries = np.vstack([gap[rng.integers(0, n, 1000)], middle])
    exact = la.KernelDensity(bandwidth=h).fit(gap).score_samples(queries)
    model = la.KernelDensity(bandwidth=h, algorithm="binned", rtol=rtol).fit(gap)
    assert np.abs(model.score_samples(queries) - exact).max() <= rtol


def test_queries_sent_to_the_exact_path_are_bit_identical_to_exact_ones(monkeypatch):
    rtol = 1e-3
    rng = np.random.default_rng(210)
    X = _two_modes(4000, 211)
    queries = np.vstack(
        [
            X[rng.integers(0, len(X), 600)] + 0.1 * rng.standard_normal((600, 2)),
            np.column_stack([rng.uniform(-3.0, 3.0, 200), rng.uniform(-1.0, 1.0, 200)]),
            _tail_queries(rng, 200, 9.0, 12.0),
            _tail_queries(rng, 20, 40.0, 60.0),  # outside the grid
        ]
    )
    calls = _recording_bounds(monkeypatch)
    model = la.KernelDensity(bandwidth=0.3, algorithm="binned", rtol=rtol).fit(X)
    ours = model.score_samples(queries)
    _, outside, bound = calls[0]
    redone = outside | (bound > rtol * (1 + la.kde.TOLERANCE_SLACK))
    assert 0.1 < redone.mean() < 0.9 and outside[-20:].all()
    exact = la.KernelDensity(bandwidth=0.3, algorithm="exact").fit(X)
    assert_array_equal(ours[redone], exact.score_samples(queries[redone]))
    expected = exact.score_samples(queries)
    assert np.abs(ours - expected).max() <= rtol
    assert not np.array_equal(ours[~redone], expected[~redone]), "the rest is binned"


def test_score_grid_binned_is_within_rtol_at_every_node_in_two_dimensions():
    X = _two_modes(3000, 220)
    rtol = 1e-3
    exact = la.KernelDensity(bandwidth=0.4).fit(X)
    binned = la.KernelDensity(bandwidth=0.4, algorithm="binned", rtol=rtol).fit(X)
    # Bounds well beyond the default ones: nodes 10 bandwidths from the data.
    bounds = [[X[:, 0].min() - 4.0, X[:, 0].max() + 4.0], [-8.0, 8.0]]
    _, expected = exact.score_grid(60, bounds=bounds)
    _, ours = binned.score_grid(60, bounds=bounds)
    assert np.abs(ours - expected).max() <= rtol
    assert not np.array_equal(ours, expected), "the FFT path was used"
