"""KernelDensity's checks: bandwidths, bandwidth grids, and the state restored from a file.

Kept apart from :mod:`lookalike.kde` (the estimator) so that the checks of a
bandwidth given by the user, produced by a rule, or read from a model file
(:func:`check_restored_kde`, the body of ``KernelDensity._restore_check``)
live in one place.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike._math.kernels import KERNELS, Kernel
from lookalike._restore import check_float_array, check_n_features, has_fitted_state, require
from lookalike._validation import as_float_array, validate_params

__all__ = [
    "CV_GRID_DECADES",
    "CV_GRID_EXTENSIONS",
    "CV_GRID_PER_DECADE",
    "automatic_grid",
    "check_bandwidth",
    "check_grid",
    "check_restored_kde",
    "check_rule_result",
    "sklearn_rule",
    "weighted_mean",
]

# Automatic cross-validation grid: bandwidths from a tenth to ten times a normal-reference
# pilot, 10 per decade; extended by a decade (up to twice) when the best is at an edge.
CV_GRID_DECADES = 1.0
CV_GRID_PER_DECADE = 10
CV_GRID_EXTENSIONS = 2


# --------------------------------------------------------------------------------------
# Bandwidths and grids


def sklearn_rule(name: str, n_samples: int, n_features: int) -> float:
    if name == "scott":
        return float(n_samples ** (-1 / (n_features + 4)))
    return float((n_samples * (n_features + 2) / 4) ** (-1 / (n_features + 4)))


def check_bandwidth(bandwidth: Any, n_features: int) -> float | np.ndarray:
    """A positive float, a positive (d,) array or an SPD (d, d) matrix; else ValueError."""
    if isinstance(bandwidth, numbers.Real) and not isinstance(bandwidth, bool):
        return float(bandwidth)
    array = as_float_array(bandwidth, "bandwidth")
    if array.ndim == 0:
        if not (np.isfinite(array) and array > 0):
            raise ValueError(f"bandwidth must be positive and finite; got {float(array)}.")
        return float(array)
    if not np.all(np.isfinite(array)):
        raise ValueError("bandwidth contains NaN or infinity.")
    if array.shape == (n_features,):
        if np.any(array <= 0):
            raise ValueError(f"Per-feature bandwidths must be positive; got {array.tolist()}.")
        return array
    if array.shape == (n_features, n_features):
        if not np.allclose(array, array.T, rtol=1e-10, atol=0):
            raise ValueError("A bandwidth matrix must be symmetric.")
        try:
            np.linalg.cholesky(array)
        except np.linalg.LinAlgError:
            raise ValueError(
                "The bandwidth matrix is not positive definite. Use the 'scott-full' rule, a "
                "smaller number of features (lookalike.ReducedDensity), or per-feature "
                "bandwidths."
            ) from None
        return array
    raise ValueError(
        f"bandwidth must be a float, an array of shape ({n_features},) or "
        f"({n_features}, {n_features}); got shape {array.shape}."
    )


def check_rule_result(name: str, bandwidth: float | np.ndarray) -> None:
    """A rule gives zero only for constant features: say which."""
    values = np.atleast_1d(np.asarray(bandwidth, dtype=np.float64))
    if values.ndim == 2:
        values = np.diagonal(values)
    constant = np.flatnonzero(~(values > 0))
    if constant.size:
        raise ValueError(
            f"Feature(s) {constant.tolist()} are constant, so the {name!r} rule gives them a "
            "zero bandwidth. Drop those features or give the bandwidth explicitly."
        )


def check_grid(bandwidths: npt.ArrayLike) -> np.ndarray:
    grid = as_float_array(bandwidths, "bandwidth_grid")
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"bandwidth_grid must be a non-empty 1-D array; got shape {grid.shape}.")
    if not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError("bandwidth_grid must hold positive, finite bandwidths.")
    return grid


def weighted_mean(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return X.mean(axis=0)
    return (weights / weights.sum()) @ X  # normalised first: no overflow at any scale


def automatic_grid(X: np.ndarray, weights: np.ndarray | None, kernel: Kernel) -> np.ndarray:
    """Bandwidths around the normal-reference rule for the average feature spread."""
    n, d = X.shape
    n_eff = n if weights is None else float(weights.sum() ** 2 / (weights**2).sum())
    centre = weighted_mean(X, weights)
    squares = (X - centre) ** 2
    variance = float(
        squares.mean() if weights is None else (weights @ squares).mean() / weights.sum()
    )
    spread = math.sqrt(variance) if variance > 0 else 1.0
    pilot = spread * (4.0 / ((d + 2.0) * n_eff)) ** (1.0 / (d + 4.0))
    pilot /= math.sqrt(kernel.variance(d))
    count = int(2 * CV_GRID_DECADES * CV_GRID_PER_DECADE) + 1
    return pilot * np.logspace(-CV_GRID_DECADES, CV_GRID_DECADES, count)


# --------------------------------------------------------------------------------------
# State restored from a model file


def check_restored_kde(model: Any, table: dict[str, Any], scaling_type: Any) -> None:
    """Check a KernelDensity rebuilt by :func:`lookalike.load`, then rebuild its caches.

    Hyper-parameters pass ``table``; the training data are a finite (n, d)
    float64 array with ``n >= 1``; weights are None or finite, non-negative
    with a positive sum equal to ``_total_weight``; ``bandwidth_`` passes the
    checks of a fitted bandwidth (positive and finite; a matrix symmetric
    positive definite); the stored scaling is the one ``bandwidth_`` gives.
    """
    if not has_fitted_state(model):
        return
    validate_params(model, table)
    d = check_n_features(model)
    data = model._data
    require(
        isinstance(data, np.ndarray) and data.dtype == np.float64 and data.ndim == 2,
        "_data must be a 2-D float64 array",
    )
    n = data.shape[0]
    require(n >= 1 and data.shape[1] == d, "_data does not match n_features_in_")
    check_float_array(data, "_data")
    weights = model._weights
    total = model._total_weight
    require(isinstance(total, float) and math.isfinite(total) and total > 0, "bad _total_weight")
    if weights is None:
        require(total == n, "_total_weight must be the number of rows")
    else:
        check_float_array(weights, "_weights", (n,))
        require(bool(np.all(weights >= 0)), "_weights must be non-negative")
        require(math.isclose(float(weights.sum()), total, rel_tol=1e-9), "bad _total_weight")
    try:
        bandwidth = check_bandwidth(model.bandwidth_, d)
    except ValueError as error:
        raise ValueError(f"bandwidth_: {error}") from None
    require(np.ndim(bandwidth) == 0 or model._euclidean, "bandwidth_ must be a float")
    scaling = model._scaling
    require(type(scaling) is scaling_type, "_scaling is missing")
    centre = check_float_array(scaling.centre, "_scaling.centre", (d,))
    expected = scaling_type.of(bandwidth, centre)
    require(
        np.shape(scaling.factor) == np.shape(expected.factor)
        and bool(np.allclose(scaling.factor, expected.factor, rtol=1e-12, atol=0))
        and math.isclose(scaling.log_det, expected.log_det, rel_tol=1e-12, abs_tol=1e-12),
        "_scaling does not match bandwidth_",
    )
    require(model.kernel in KERNELS, "unknown kernel")
    model._prepared = None
    model._unit = scaling.to_unit(data) if model._euclidean else data
