"""ReducedDensity: PCA -> density -> back, checked against independent oracles.

Oracles: scikit-learn's probabilistic PCA log-likelihood, a GaussianMixture or
KernelDensity fitted on the data directly (equivariance under the PCA map),
numerical integration on a grid, analytic moments and a chi-square
goodness-of-fit test of ``sample`` against ``score_samples``.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

from conftest import make_blobs
from lookalike.gaussian import Gaussian
from lookalike.kde import KernelDensity
from lookalike.mixture import GaussianMixture
from lookalike.reduced import (
    RESIDUAL_VARIANCE_FLOOR,
    ReducedDensity,
    ppca_n_parameters,
)


def near_plane(n_samples: int = 400, d: int = 5, q: int = 2, noise: float = 0.3, seed: int = 0):
    """Three clusters on a random q-dimensional plane in d dimensions, plus isotropic noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, q)))[0].T  # (q, d), orthonormal rows
    latent = make_blobs(n_samples, seed=seed, centres=3.0 * rng.standard_normal((3, q)))[0]
    offset = rng.uniform(-5.0, 5.0, d)
    return (
        offset
        + latent @ (np.arange(q, 0, -1.0)[:, None] * basis)
        + noise * (rng.standard_normal((n_samples, d)))
    )


def tilted_2d(n_samples: int = 300, seed: int = 0) -> np.ndarray:
    """Bimodal along a 30-degree axis (spread about 3), std 0.5 across it, off-centre."""
    rng = np.random.default_rng(seed)
    major = np.where(rng.random(n_samples) < 0.4, -2.0, 2.0) + 0.8 * rng.standard_normal(n_samples)
    minor = 0.5 * rng.standard_normal(n_samples)
    angle = math.radians(30.0)
    rotation = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    return np.column_stack([major, minor]) @ rotation + np.array([1.0, -0.5])


# --------------------------------------------------------------------------------------
# scikit-learn's contract


def _checks():
    # check_array_api_input needs SCIPY_ARRAY_API set before scipy is imported and tests
    # nothing this NumPy-only estimator claims, so it is left out rather than skipped.
    for estimator, check in estimator_checks_generator(ReducedDensity()):
        name = getattr(check, "func", check).__name__
        if name != "check_array_api_input":
            yield pytest.param(estimator, check, id=name)


@pytest.mark.parametrize(("estimator", "check"), list(_checks()))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------------------
# Oracles for the density


@pytest.mark.parametrize("whiten", [True, False])
@pytest.mark.parametrize("density", ["GaussianMixture", "Gaussian"])
def test_single_gaussian_is_probabilistic_pca(whiten, density):
    # A full-covariance Gaussian fitted by maximum likelihood to the PCA scores has mean 0
    # and covariance (n-1)/n diag(lambda) (scores of unit variance with n - 1 in the
    # denominator when whitened); adding the isotropic residual of variance sigma^2 gives
    # N(mu, V^T diag((n-1)/n lambda) V + sigma^2 (I - V^T V)): the probabilistic-PCA model.
    # scikit-learn's PCA.score_samples evaluates that model (with lambda itself), so the
    # oracle is scikit-learn's PCA with explained_variance_ scaled by (n-1)/n. The oracle
    # is always unwhitened: scikit-learn's covariance for whiten=True rescales the
    # components by sqrt(lambda) (scikit-learn issue #13898), while the PPCA density does
    # not depend on whitening. Tolerance: EM reaches the MLE in one step; rtol 1e-8.
    X = near_plane(400, d=5, q=2)
    n = X.shape[0]
    estimator = GaussianMixture(1, reg_covar=0.0) if density == "GaussianMixture" else Gaussian()
    model = ReducedDensity(estimator, PCA(2, whiten=whiten, svd_solver="full")).fit(X)
    oracle = PCA(2, svd_solver="full").fit(X)
    oracle.explained_variance_ = oracle.explained_variance_ * (n - 1) / n
    queries = np.vstack([X[:50], near_plane(50, d=5, q=2, seed=7), X[:5] + 3.0])
    assert model.n_components_ == 2
    assert model.residual_variance_ == pytest.approx(oracle.noise_variance_, rel=1e-12)
    assert_allclose(model.score_samples(queries), oracle.score_samples(queries), rtol=1e-8)
    assert model.score(queries) == pytest.approx(oracle.score(queries), rel=1e-8)


def test_incremental_pca_gives_the_same_density():
    # One batch of IncrementalPCA finds PCA's components (up to sign), eigenvalues and
    # noise variance; the density must not depend on which one reduced. rtol 1e-8.
    X = near_plane(300, d=4, q=2, seed=2)
    one = ReducedDensity(GaussianMixture(1), PCA(2, whiten=True)).fit(X)
    other = ReducedDensity(GaussianMixture(1), IncrementalPCA(2, whiten=True, batch_size=300))
    other.fit(X)
    assert_allclose(other.score_samples(X), one.score_samples(X), rtol=1e-8)


def _whitening_map(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pca = PCA(X.shape[1], whiten=True, svd_solver="full").fit(X)
    return pca.mean_, pca.components_ / np.sqrt(pca.explained_variance_)[:, None]


def test_full_dimension_mixture_equals_mixture_on_the_data():
    # With q == d and whitening, z = A (x - mu) is an invertible affine map. EM for
    # full-covariance mixtures is equivariant under such maps when reg_covar = 0: started
    # from the mapped initial parameters it visits the mapped parameters, and the
    # densities agree through the Jacobian |det A|. The convergence test uses changes of
    # the mean log-likelihood, which the map shifts by a constant, so both runs stop
    # together. Tolerance rtol 1e-6 (rounding over the EM iterations).
    X = near_plane(300, d=3, q=3, noise=0.5, seed=3)
    rng = np.random.default_rng(4)
    means = X[rng.choice(len(X), 3, replace=False)]
    precisions = np.stack([np.eye(3) / X.var(axis=0).mean()] * 3)
    weights = np.full(3, 1 / 3)
    settings = {"reg_covar": 0.0, "tol": 1e-10, "max_iter": 1000}
    direct = GaussianMixture(
        3, weights_init=weights, means_init=means, precisions_init=precisions, **settings
    ).fit(X)

    mu, A = _whitening_map(X)
    inverse = np.linalg.inv(A)
    mapped_precisions = np.stack([inverse.T @ p @ inverse for p in precisions])
    estimator = GaussianMixture(
        3,
        weights_init=weights,
        means_init=(means - mu) @ A.T,
        precisions_init=mapped_precisions,
        **settings,
    )
    model = ReducedDensity(estimator, PCA(3, whiten=True, svd_solver="full")).fit(X)
    assert model.residual_variance_ == 0.0
    queries = np.vstack([X, X[:20] + 2.0])
    assert_allclose(model.score_samples(queries), direct.score_samples(queries), rtol=1e-6)


def test_full_dimension_rotation_keeps_a_gaussian_kde():
    # Without whitening a full PCA is a rotation about the mean; the Gaussian kernel is
    # rotation invariant and the Jacobian is 1, so the KDE is unchanged. rtol 1e-9.
    X = near_plane(200, d=3, q=3, seed=5)
    model = ReducedDensity(KernelDensity(bandwidth=0.7), PCA(3, whiten=False)).fit(X)
    direct = KernelDensity(bandwidth=0.7).fit(X)
    queries = np.vstack([X[:40], X[:10] + 1.5])
    assert_allclose(model.score_samples(queries), direct.score_samples(queries), rtol=1e-9)


ESTIMATORS = {
    "mixture": lambda: GaussianMixture(2, random_state=0),
    "kde": lambda: KernelDensity(bandwidth=0.3),
}


@pytest.mark.parametrize("whiten", [True, False])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_density_integrates_to_one(name, whiten):
    # 2-D data, q = 1: the density on the plane must integrate to one. The trapezoidal
    # rule on a grid of step 0.1 is exact to far below 1e-6 for Gaussians of scale >= 0.3
    # (the smallest scale here: the KDE bandwidth unwhitened, the residual std 0.5), and
    # the box reaches beyond 12 standard deviations of every part. Tolerance 1e-6 (the
    # brief asks for 1e-3; the measured error is about 1e-16).
    X = tilted_2d()
    model = ReducedDensity(ESTIMATORS[name](), PCA(1, whiten=whiten)).fit(X)
    axis = np.arange(-15.0, 15.0 + 1e-9, 0.1)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    density = np.exp(model.score_samples(grid)).reshape(axis.size, axis.size)
    total = np.trapezoid(np.trapezoid(density, axis, axis=1), axis)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_subspace_data_get_a_finite_floored_density():
    # Data exactly on a plane (and fewer rows than features) have a zero residual
    # variance: it is floored at 1e-12 times the mean retained variance.
    rng = np.random.default_rng(6)
    plane = rng.standard_normal((2, 6))
    X = rng.standard_normal((40, 2)) @ plane
    model = ReducedDensity(GaussianMixture(1), PCA(2)).fit(X)
    floor = RESIDUAL_VARIANCE_FLOOR * model.reducer_.explained_variance_.mean()
    assert model.residual_variance_ == pytest.approx(max(model.reducer_.noise_variance_, floor))
    assert model.residual_variance_ >= floor
    on_plane = model.score_samples(X)
    off_plane = model.score_samples(X[:5] + 1e-3 * rng.standard_normal((5, 6)))
    assert np.all(np.isfinite(on_plane)) and np.all(np.isfinite(off_plane))
    assert off_plane.max() < on_plane.min()

    wide = rng.standard_normal((10, 20))  # n < d: PCA keeps at most n - 1 directions
    wide_model = ReducedDensity(GaussianMixture(1), PCA(0.99, whiten=True)).fit(wide)
    assert wide_model.n_components_ < 20
    assert np.all(np.isfinite(wide_model.score_samples(rng.standard_normal((5, 20)))))


# --------------------------------------------------------------------------------------
# Sampling describes the same distribution as score_samples


def test_gaussian_samples_have_the_model_moments():
    # With one full Gaussian on the whitened scores (mean m, covariance C) the model is
    # N(mu + V^T S m, V^T S C S V + sigma^2 (I - V^T V)), S = diag(sqrt(lambda)). The
    # sample mean is tested with Hotelling's statistic and every covariance entry against
    # 6 standard errors (false-failure rate below 1e-6 in all).
    X = near_plane(300, d=4, q=2, seed=8)
    model = ReducedDensity(GaussianMixture(1), PCA(2, whiten=True)).fit(X)
    V, mu = model.reducer_.components_, model.reducer_.mean_
    S = np.diag(np.sqrt(model.reducer_.explained_variance_))
    mean = mu + model.estimator_.means_[0] @ S @ V
    cov = V.T @ S @ model.estimator_.covariances_[0] @ S @ V
    cov += model.residual_variance_ * (np.eye(4) - V.T @ V)

    n = 40_000
    draws = model.sample(n, random_state=11)
    assert draws.shape == (n, 4)
    error = draws.mean(axis=0) - mean
    assert n * error @ np.linalg.solve(cov, error) < stats.chi2.ppf(1 - 1e-7, 4)
    standard_errors = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    assert np.all(np.abs(np.cov(draws, rowvar=False) - cov) < 6 * standard_errors)


@pytest.mark.parametrize("whiten", [True, False])
def test_projection_only_samples_lie_in_the_subspace(whiten):
    X = near_plane(300, d=5, q=2, seed=9)
    model = ReducedDensity(GaussianMixture(2, random_state=0), PCA(2, whiten=whiten)).fit(X)
    draws = model.sample(500, random_state=0, residual=False)
    V, mu = model.reducer_.components_, model.reducer_.mean_
    centred = draws - mu
    residual = centred - centred @ np.linalg.pinv(V) @ V
    assert np.abs(residual).max() < 1e-10 * np.abs(centred).max()
    noisy = model.sample(500, random_state=0)
    noisy_residual = np.linalg.norm((noisy - mu) @ (np.eye(5) - V.T @ V), axis=1)
    # ||r||^2 / sigma^2 is chi-square with d - q = 3 degrees of freedom.
    assert (
        stats.kstest(noisy_residual**2 / model.residual_variance_, "chi2", args=(3,)).pvalue > 1e-6
    )


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_samples_follow_the_density(name):
    # Chi-square goodness of fit: 20 000 draws binned on an 8 x 8 grid of cells over
    # [-12, 12]^2; expected cell probabilities from the midpoint rule on 30 x 30 points
    # per cell (step 0.1, exact to far below the Monte Carlo error). Cells expected to
    # hold fewer than 5 draws are pooled. False-failure rate 1e-6.
    X = tilted_2d(seed=1)
    model = ReducedDensity(ESTIMATORS[name](), PCA(1, whiten=True)).fit(X)
    n, cells, per_cell, half = 20_000, 8, 30, 12.0
    edges = np.linspace(-half, half, cells + 1)
    step = 2 * half / (cells * per_cell)
    points = np.arange(-half + step / 2, half, step)
    grid = np.stack(np.meshgrid(points, points, indexing="ij"), axis=-1).reshape(-1, 2)
    density = np.exp(model.score_samples(grid)).reshape(points.size, points.size)
    probabilities = density.reshape(cells, per_cell, cells, per_cell).sum(axis=(1, 3)) * step**2
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)

    draws = model.sample(n, random_state=np.random.default_rng(12))
    assert np.all(np.abs(draws) < half)
    counts = np.histogram2d(draws[:, 0], draws[:, 1], bins=[edges, edges])[0].ravel()
    expected = n * probabilities.ravel()
    small = expected < 5
    observed = np.append(counts[~small], counts[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    statistic = np.sum((observed - expected) ** 2 / expected)
    assert statistic < stats.chi2.ppf(1 - 1e-6, observed.size - 1)


def test_sampling_is_reproducible():
    X = near_plane(200, d=4, q=2, seed=10)
    model = ReducedDensity(GaussianMixture(2, random_state=0), PCA(2)).fit(X)
    again = ReducedDensity(GaussianMixture(2, random_state=0), PCA(2)).fit(X)
    assert_array_equal(model.score_samples(X), again.score_samples(X))
    assert_array_equal(model.sample(50, random_state=3), again.sample(50, random_state=3))
    assert_array_equal(
        model.sample(50, random_state=np.random.default_rng(3)),
        model.sample(50, random_state=np.random.default_rng(3)),
    )
    assert not np.allclose(model.sample(50, random_state=3), model.sample(50, random_state=4))
    assert_array_equal(
        model.sample(50, random_state=np.random.RandomState(3)), model.sample(50, random_state=3)
    )


# --------------------------------------------------------------------------------------
# Data sets, weights, criteria


def test_digits_keep_41_components():
    X = load_digits().data
    model = ReducedDensity().fit(X)  # PCA(0.99, whiten=True) and GaussianMixture()
    assert model.n_components_ == 41
    assert model.estimator_.means_.shape == (1, 41)
    assert model.sample(3, random_state=0).shape == (3, 64)
    assert np.isfinite(model.score(X))


def test_weights_go_to_the_density_only():
    X = near_plane(300, d=4, q=2, seed=13)
    weights = np.random.default_rng(13).integers(0, 4, X.shape[0]).astype(float)
    model = ReducedDensity(GaussianMixture(2, random_state=0), PCA(2, whiten=True))
    model.fit(X, sample_weight=weights)
    pca = PCA(2, whiten=True).fit(X)  # unweighted
    assert_allclose(model.reducer_.components_, pca.components_, rtol=1e-12)
    scores = pca.transform(X)
    oracle = GaussianMixture(2, random_state=0).fit(scores, sample_weight=weights)
    assert_allclose(model.estimator_.means_, oracle.means_, rtol=1e-10, atol=1e-12)

    class NoWeights(GaussianMixture):
        def fit(self, X, y=None):
            return super().fit(X)

    with pytest.raises(TypeError, match="does not accept sample_weight"):
        ReducedDensity(NoWeights(), PCA(2)).fit(X, sample_weight=weights)


@pytest.mark.parametrize("q", [2, 4])
def test_information_criteria(q):
    X = near_plane(300, d=4, q=2, seed=14)
    model = ReducedDensity(GaussianMixture(2, random_state=0), PCA(q, whiten=True)).fit(X)
    n = X.shape[0]
    parameters = model.estimator_._n_parameters() + 4 + 4 * q - q * (q - 1) // 2 + (q < 4)
    log_likelihood = model.score_samples(X).sum()
    assert model.bic(X) == pytest.approx(-2 * log_likelihood + parameters * math.log(n))
    assert model.aic(X) == pytest.approx(-2 * log_likelihood + 2 * parameters)
    # q = d: PCA's mean, components and eigenvalues are a full Gaussian's d + d(d+1)/2.
    assert all(ppca_n_parameters(d, d) == d + d * (d + 1) // 2 for d in range(1, 8))
    # Without a parameter count the criteria do not exist.
    assert not hasattr(ReducedDensity(KernelDensity()), "bic")
    assert hasattr(ReducedDensity(), "aic")


# --------------------------------------------------------------------------------------
# scikit-learn plumbing


def test_pipeline_and_grid_search():
    X = near_plane(240, d=5, q=2, seed=15)
    X = X[np.random.default_rng(15).permutation(len(X))]
    base = ReducedDensity(
        GaussianMixture(random_state=0, n_jobs=1), PCA(whiten=True, svd_solver="full")
    )
    grid = {"reducer__n_components": [1, 2], "estimator__n_components": [1, 3]}
    cv = KFold(3)
    search = GridSearchCV(base, grid, cv=cv).fit(X)
    manual = []
    for candidate in search.cv_results_["params"]:
        model = clone(base).set_params(**candidate)
        manual.append(np.mean([model.fit(X[train]).score(X[test]) for train, test in cv.split(X)]))
    assert_allclose(search.cv_results_["mean_test_score"], manual, rtol=1e-10)
    assert search.best_params_ == search.cv_results_["params"][int(np.argmax(manual))]

    pipeline = make_pipeline(StandardScaler(), clone(base).set_params(reducer__n_components=2))
    pipeline.fit(X)
    scaled = StandardScaler().fit_transform(X)
    alone = clone(base).set_params(reducer__n_components=2).fit(scaled)
    assert_allclose(pipeline.score_samples(X), alone.score_samples(scaled), rtol=1e-10)


def test_params_are_cloned_never_mutated():
    estimator, reducer = GaussianMixture(2, random_state=0), PCA(2, whiten=True)
    model = ReducedDensity(estimator, reducer)
    params = model.get_params(deep=True)
    assert params["estimator__n_components"] == 2
    assert params["reducer__whiten"] is True
    snapshot = copy.deepcopy(params)
    model.fit(near_plane(100, d=4, q=2, seed=16))
    assert model.estimator is estimator and model.reducer is reducer
    assert not hasattr(estimator, "means_") and not hasattr(reducer, "components_")
    assert model.get_params(deep=True).keys() == snapshot.keys()
    fresh = clone(model)
    with pytest.raises(NotFittedError):
        fresh.score_samples(np.zeros((2, 4)))
    assert ReducedDensity().get_params() == {"estimator": None, "reducer": None}


def test_feature_names_are_kept():
    X = pd.DataFrame(near_plane(100, d=3, q=2, seed=17), columns=["a", "b", "c"])
    model = ReducedDensity(reducer=PCA(2)).fit(X)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names" warning
        named = model.score_samples(X)
    plain = ReducedDensity(reducer=PCA(2)).fit(X.to_numpy())
    assert_allclose(named, plain.score_samples(X.to_numpy()), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        model.score_samples(X[["b", "a", "c"]])


def test_errors_name_the_problem():
    X = near_plane(100, d=4, q=2, seed=18)
    with pytest.raises(NotFittedError):
        ReducedDensity().score_samples(X)
    with pytest.raises(NotFittedError):
        ReducedDensity().sample(3)

    model = ReducedDensity(reducer=PCA(2)).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.score_samples(X[:, :3])

    # Not PCA-like: fit and sample work, a density does not.
    svd = ReducedDensity(GaussianMixture(1), TruncatedSVD(2, random_state=0)).fit(X)
    assert svd.residual_variance_ is None
    assert svd.sample(7, random_state=0).shape == (7, 4)
    with pytest.raises(TypeError, match="PCA-like reducer"):
        svd.score_samples(X)
    with pytest.raises(TypeError, match="PCA-like reducer"):
        svd.bic(X)

    with pytest.raises(TypeError, match="inverse_transform"):
        ReducedDensity(reducer=Normalizer()).fit(X)
    with pytest.raises(TypeError, match="score_samples"):
        ReducedDensity(estimator=StandardScaler()).fit(X)
