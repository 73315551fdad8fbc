"""Initial parameters of a Gaussian mixture: the user's arrays checked, and seed rows.

``weights_init``, ``means_init`` and ``precisions_init`` are validated here
(shapes per covariance type, normalisation, positive definiteness), and the
seed rows of ``init_params="k-means++"`` and ``"random_from_data"`` are drawn
in scikit-learn's order. The EM loop (:mod:`lookalike.mixture.em`) turns them
into starting parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import kmeans_plusplus

from lookalike._math.covariance import structure
from lookalike._validation import as_finite_float_array, check_array_shape

# --------------------------------------------------------------------------------------
# Seed rows


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


# --------------------------------------------------------------------------------------
# Initial parameters given by the user


def check_initial_parameters(
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
    n_components: int,
    covariance_type: str,
    n_features: int,
) -> dict[str, np.ndarray | None]:
    """Validated float64 copies of weights_init, means_init and precisions_init."""
    k = n_components
    initial: dict[str, np.ndarray | None] = {"weights": None, "means": None, "precisions": None}
    if weights_init is not None:
        w = as_finite_float_array(weights_init, "weights_init")
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
    if means_init is not None:
        m = as_finite_float_array(means_init, "means_init")
        check_array_shape(m, (k, n_features), "means")
        initial["means"] = m
    if precisions_init is not None:
        p = as_finite_float_array(precisions_init, "precisions_init")
        shape = structure(covariance_type).shape(k, n_features)
        check_array_shape(p, shape, f"{covariance_type} precision")
        _check_precisions_definite(p, covariance_type)
        initial["precisions"] = p
    return initial


def _check_precisions_definite(precisions: np.ndarray, covariance_type: str) -> None:
    name = f"'{covariance_type} precision'"
    kind = structure(covariance_type)
    if kind.diagonal:
        if np.any(precisions <= 0):
            raise ValueError(f"{name} should be positive")
        return
    matrices = kind.stack(precisions)
    for matrix in matrices:
        symmetric = np.allclose(matrix, matrix.T)
        if not symmetric or np.linalg.eigvalsh(matrix).min() <= 0:
            raise ValueError(f"{name} should be symmetric, positive-definite")
