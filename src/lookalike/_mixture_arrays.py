"""Array helpers of :class:`~lookalike.mixture.GaussianMixture`.

The estimator's pieces that work on plain arrays but are not EM arithmetic:
the shift and the rows to fit, the user's initial parameters, seed rows, and
drawing samples. Kept apart so that ``mixture.py`` stays the EM loop and the
public methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import kmeans_plusplus

from lookalike._math import gaussian as gm
from lookalike._validation import as_finite_float_array, as_random_state, check_array_shape

# Working parameters: (weights, means centred by the data shift, covariances,
# precision Cholesky factors), float64.
Parameters = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------------------
# The rows to fit


def choose_seed_rows(
    X: np.ndarray,
    n_components: int,
    init_params: str,
    weights: np.ndarray | None,
    random_state: np.random.RandomState,
) -> np.ndarray:
    """Indices of the rows that seed the components ("k-means++" or "random_from_data").

    The draws follow scikit-learn's order, so an integer ``random_state`` picks
    the same rows.
    """
    if init_params == "k-means++":
        _, seeds = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=weights
        )
        return np.asarray(seeds)
    # Equal weights draw exactly as no weights (NumPy's choice takes another path
    # when p is given), so constant weights change nothing.
    probabilities = None
    if weights is not None and np.any(weights != weights[0]):
        probabilities = weights / weights.sum()
    return np.asarray(
        random_state.choice(X.shape[0], size=n_components, replace=False, p=probabilities)
    )


def weighted_column_means(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return X.mean(axis=0, dtype=np.float64)
    return (weights @ X.astype(np.float64, copy=False)) / weights.sum()


def observed_data(
    X: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows to fit, their weights, a NaN-free copy for initialisation, the shift.

    Without NaN: ``(X, weights, X, weighted column means)``. With NaN (only
    ``missing="em"`` lets them through): rows with no observed entry are
    dropped, the shift is the weighted mean of each column's observed entries
    and the copy has every missing entry replaced by its column's shift. For
    float32 X the shift is rounded to float32, so that float32 blocks are
    centred in single precision (any centre near the mean serves).
    """
    observed = ~np.isnan(X)
    if observed.all():
        shift = weighted_column_means(X, weights)
        if X.dtype == np.float32:
            shift = shift.astype(np.float32).astype(np.float64)
        return X, weights, X, shift
    informative = observed.any(axis=1)
    if not informative.any():
        raise ValueError("Every entry of X is missing (NaN): there is nothing to fit.")
    if not informative.all():
        X, observed = X[informative], observed[informative]
        weights = None if weights is None else weights[informative]
    row_weights = np.ones(X.shape[0]) if weights is None else weights
    column_weight = row_weights @ observed
    unobserved = np.flatnonzero(column_weight <= 0)
    if unobserved.size:
        raise ValueError(
            f"Feature(s) {unobserved.tolist()} have no observed value (with positive "
            "sample weight), so their distribution cannot be estimated. Drop those "
            "features or provide observations."
        )
    shift = (row_weights @ np.where(observed, X.astype(np.float64), 0.0)) / column_weight
    filled = np.where(observed, X, shift.astype(X.dtype))
    return X, weights, filled, shift


def centred(params: Parameters, shift: np.ndarray) -> Parameters:
    weights, means, covariances, precisions_cholesky = params
    return weights, means - shift, covariances, precisions_cholesky


# --------------------------------------------------------------------------------------
# Initial parameters given by the user


def check_initial_parameters(estimator: Any, n_features: int) -> dict[str, np.ndarray | None]:
    """Validated float64 copies of weights_init, means_init and precisions_init."""
    k, covariance_type = estimator.n_components, estimator.covariance_type
    initial: dict[str, np.ndarray | None] = {"weights": None, "means": None, "precisions": None}
    if estimator.weights_init is not None:
        w = as_finite_float_array(estimator.weights_init, "weights_init")
        check_array_shape(w, (k,), "weights")
        if np.any(w < 0) or np.any(w > 1):
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max "
                f"value {w.max():.5f}, min value {w.min():.5f}"
            )
        if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(
                "The parameter 'weights' should be normalized, but got "
                f"sum(weights) = {w.sum():.5f}"
            )
        initial["weights"] = w
    if estimator.means_init is not None:
        m = as_finite_float_array(estimator.means_init, "means_init")
        check_array_shape(m, (k, n_features), "means")
        initial["means"] = m
    if estimator.precisions_init is not None:
        p = as_finite_float_array(estimator.precisions_init, "precisions_init")
        shape = {
            "full": (k, n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (k, n_features),
            "spherical": (k,),
        }[covariance_type]
        check_array_shape(p, shape, f"{covariance_type} precision")
        _check_precisions_definite(p, covariance_type)
        initial["precisions"] = p
    return initial


def precision_cholesky_of_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.stack([gm.precision_cholesky_of_precision(p) for p in precisions])
    if covariance_type == "tied":
        return gm.precision_cholesky_of_precision(precisions)
    return np.sqrt(precisions)


def _check_precisions_definite(precisions: np.ndarray, covariance_type: str) -> None:
    name = f"'{covariance_type} precision'"
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError(f"{name} should be positive")
        return
    matrices = precisions[np.newaxis] if covariance_type == "tied" else precisions
    for matrix in matrices:
        symmetric = np.allclose(matrix, matrix.T)
        if not symmetric or np.linalg.eigvalsh(matrix).min() <= 0:
            raise ValueError(f"{name} should be symmetric, positive-definite")


# --------------------------------------------------------------------------------------
# Sampling


def draw_samples(
    params: Parameters, covariance_type: str, n_samples: int, source: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` rows (float64) and their components (int64), grouped by component.

    ``params`` hold raw (not centred) means. ``source`` is a ``Generator`` (draws
    through the Cholesky factors) or anything :func:`as_random_state` accepts
    (scikit-learn's draws exactly).
    """
    weights, means, covariances, precisions_cholesky = params
    weights = weights / weights.sum()
    n_components, n_features = means.shape
    out = np.empty((n_samples, n_features), dtype=np.float64)
    if isinstance(source, np.random.Generator):
        counts = source.multinomial(n_samples, weights)
        scale = _sampling_factors(precisions_cholesky, covariance_type, n_components, n_features)
        parts: Any = (
            means[j] + source.standard_normal((int(c), n_features)) @ scale[j]
            for j, c in enumerate(counts)
        )
    else:
        rng = as_random_state(source)
        counts = rng.multinomial(n_samples, weights)

        def draw(j: int, count: int) -> np.ndarray:
            if covariance_type in ("full", "tied"):
                cov = covariances[j] if covariance_type == "full" else covariances
                # The covariances are positive definite by construction (inverses of
                # Cholesky products); numpy's PSD check can only be fooled by rounding
                # at huge magnitudes, where reg_covar is lost (issue 12's fuzz case).
                return rng.multivariate_normal(means[j], cov, count, check_valid="ignore")
            noise = rng.standard_normal(size=(count, n_features))
            return means[j] + noise * np.sqrt(covariances[j])

        parts = (draw(j, int(c)) for j, c in enumerate(counts))
    start = 0
    for count, part in zip(counts, parts, strict=True):
        out[start : start + int(count)] = part
        start += int(count)
    return out, np.repeat(np.arange(n_components, dtype=np.int64), counts)


def _sampling_factors(
    precisions_cholesky: np.ndarray,
    covariance_type: str,
    n_components: int,
    n_features: int,
) -> np.ndarray:
    """``A_k`` with ``z @ A_k ~ N(0, Sigma_k)`` for standard normal rows ``z``.

    With ``P = U U^T`` we have ``Sigma = U^{-T} U^{-1}``, so ``A = U^{-1}``
    (i.e. ``z @ inv(U)`` has covariance ``inv(U)^T inv(U)``).
    """
    if covariance_type == "full":
        eye = np.eye(n_features)
        return np.stack([np.linalg.solve(u, eye) for u in precisions_cholesky])
    if covariance_type == "tied":
        a = np.linalg.solve(precisions_cholesky, np.eye(n_features))
        return np.broadcast_to(a, (n_components, *a.shape))
    if covariance_type == "diag":
        return np.stack([np.diag(1.0 / u) for u in precisions_cholesky])
    return np.stack([np.eye(n_features) / u for u in precisions_cholesky])
