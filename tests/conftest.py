"""Shared data, random parameters and oracles for the test suite.

Oracles here are deliberately slow and obvious: scipy's multivariate normal,
dense matrices, explicit loops. Fast code is tested against them.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import lookalike as la

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")

# Centres of three well-separated unit-variance blobs in two dimensions.
BLOB_CENTRES = np.array([[0.0, 0.0], [8.0, 1.0], [2.0, 9.0]])
BLOB_WEIGHTS = np.array([0.5, 0.3, 0.2])


def make_blobs(
    n_samples: int = 300, seed: int = 0, centres: np.ndarray = BLOB_CENTRES
) -> tuple[np.ndarray, np.ndarray]:
    """Rows from N(centre_k, I) with proportions ``BLOB_WEIGHTS``; returns (X, labels)."""
    rng = np.random.default_rng(seed)
    counts = np.round(BLOB_WEIGHTS * n_samples).astype(int)
    counts[-1] = n_samples - counts[:-1].sum()
    labels = np.repeat(np.arange(len(counts)), counts)
    X = centres[labels] + rng.standard_normal((n_samples, centres.shape[1]))
    return X, labels


def make_overlapping(n_samples: int = 200, seed: int = 0) -> np.ndarray:
    """Three correlated, overlapping 3-D clusters: EM needs several iterations."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [2.5, 1.0, -1.0], [0.5, 3.0, 1.5]])
    mixing = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.2, 0.9]])
    labels = rng.integers(0, 3, n_samples)
    return centres[labels] + rng.standard_normal((n_samples, 3)) @ mixing


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    """A well-conditioned random symmetric positive definite matrix."""
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def random_parameters(
    rng: np.random.Generator, k: int, d: int, covariance_type: str, spread: float = 3.0
) -> dict[str, np.ndarray]:
    """Random weights, means and precisions shaped for ``covariance_type``."""
    weights = rng.dirichlet(np.full(k, 2.0))
    means = spread * rng.standard_normal((k, d))
    if covariance_type == "full":
        precisions = np.stack([random_spd(rng, d) for _ in range(k)])
    elif covariance_type == "tied":
        precisions = random_spd(rng, d)
    elif covariance_type == "diag":
        precisions = rng.uniform(0.3, 3.0, (k, d))
    else:
        precisions = rng.uniform(0.3, 3.0, k)
    return {"weights": weights, "means": means, "precisions": precisions}


def dense_covariances(precisions: np.ndarray, covariance_type: str, k: int, d: int) -> np.ndarray:
    """(k, d, d) covariance matrices from precisions of any covariance type."""
    if covariance_type == "full":
        return np.stack([np.linalg.inv(p) for p in precisions])
    if covariance_type == "tied":
        return np.broadcast_to(np.linalg.inv(precisions), (k, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(1.0 / p) for p in precisions])
    return np.stack([np.eye(d) / p for p in precisions])


def dense_covariances_of(covariances: np.ndarray, covariance_type: str, k: int, d: int):
    """(k, d, d) covariance matrices from ``covariances_`` of any covariance type."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (k, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return np.stack([np.eye(d) * c for c in covariances])


def brute_log_joint(
    X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> np.ndarray:
    """``log w_k + log N(x | mu_k, Sigma_k)`` with scipy: shape (n, k)."""
    return np.column_stack(
        [
            np.log(w) + stats.multivariate_normal(mean=m, cov=c).logpdf(X)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )


def brute_score_samples(X, weights, means, covariances) -> np.ndarray:
    return logsumexp(brute_log_joint(X, weights, means, covariances), axis=1)


def fitted_at(
    params: dict[str, np.ndarray], X: np.ndarray, covariance_type: str, cls=la.GaussianMixture
):
    """An estimator of ``cls`` whose parameters are exactly ``params`` (max_iter=0)."""
    return cls(
        n_components=len(params["weights"]),
        covariance_type=covariance_type,
        weights_init=params["weights"],
        means_init=params["means"],
        precisions_init=params["precisions"],
        max_iter=0,
    ).fit(X)


def sklearn_copy(ours: la.GaussianMixture, random_state=None) -> SkGaussianMixture:
    """A fitted scikit-learn mixture holding exactly our fitted parameters."""
    theirs = SkGaussianMixture(
        n_components=ours.n_components,
        covariance_type=ours.covariance_type,
        random_state=ours.random_state if random_state is None else random_state,
    )
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "precisions_",
        "precisions_cholesky_",
        "converged_",
        "n_iter_",
        "lower_bound_",
        "n_features_in_",
    ):
        setattr(theirs, name, getattr(ours, name))
    return theirs


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs()


@pytest.fixture
def overlapping() -> np.ndarray:
    return make_overlapping()


# --------------------------------------------------------------------------------------
# Time limits: a case that hangs fails instead of stalling the suite


class _TimeLimitExceeded(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "the call"):
    """Fail the test if the block runs longer than ``seconds`` of wall-clock time.

    Uses ``SIGALRM`` (POSIX, main thread): the signal interrupts blocking system
    calls too (opening a FIFO, reading a device), so a hang becomes a test
    failure. Where ``SIGALRM`` is missing the block runs without a limit.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def alarm(signum, frame):
        raise _TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeLimitExceeded:
        pytest.fail(f"{what} did not finish within {seconds:g} s", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
