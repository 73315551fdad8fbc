"""Checks of fitted state restored from a model file, shared by the estimators' hooks.

:func:`lookalike.persistence.load` rebuilds an estimator without running its
code, then calls its ``_restore_check()`` method: the class checks its own
state with the validation a fitted model passes and raises ValueError (or
TypeError) naming the first problem. This module holds the pieces those hooks
share; persistence itself knows nothing of any class's attributes.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from lookalike._validation import Constraint, validate_params

__all__ = [
    "check_float_array",
    "check_mixture_state",
    "check_n_features",
    "has_fitted_state",
    "is_int",
    "require",
]

# Covariance shapes per covariance type, for k components of d features.
_COVARIANCE_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


def has_fitted_state(instance: Any) -> bool:
    """Whether the object holds fitted attributes (names ending in ``_``)."""
    state = vars(instance) if hasattr(instance, "__dict__") else {}
    return any(name.endswith("_") and not name.startswith("__") for name in state)


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


def check_float_array(
    value: Any, name: str, shape: tuple[int, ...] | None = None, *, finite: bool = True
) -> np.ndarray:
    """``value`` as a float32/64 ndarray of ``shape`` (any when None), finite by default."""
    require(
        isinstance(value, np.ndarray) and value.dtype in (np.float32, np.float64),
        f"{name} must be a float32 or float64 array, got {type(value).__name__}"
        + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else ""),
    )
    require(shape is None or value.shape == shape, f"{name} must have shape {shape}")
    require(not finite or bool(np.all(np.isfinite(value))), f"{name} has NaN or infinite values")
    return value


def is_int(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_n_features(model: Any) -> int:
    """``n_features_in_`` (a positive int) and ``feature_names_in_`` when present."""
    d = model.n_features_in_
    require(is_int(d) and d > 0, f"n_features_in_ must be a positive int, got {d!r}")
    names = vars(model).get("feature_names_in_")
    if names is not None:
        require(
            isinstance(names, np.ndarray)
            and names.shape == (d,)
            and all(isinstance(name, str) for name in names.tolist()),
            f"feature_names_in_ must be an array of {d} strings",
        )
    return int(d)


def check_mixture_state(
    model: Any, table: dict[str, Constraint], n_components: int, *, em: bool = True
) -> None:
    """The fitted state of a Gaussian mixture (``GaussianMixture``, ``Gaussian``).

    Hyper-parameters pass ``table``; ``weights_`` are finite, positive and sum
    to one; ``means_``, ``covariances_``, ``precisions_cholesky_`` and
    ``precisions_`` have the shapes of ``covariance_type`` and are finite;
    each precision factor is upper triangular with a positive diagonal (so the
    precision is positive definite), each covariance is positive, and factor,
    covariance and precision agree: ``U^T Sigma U = I`` and ``P = U U^T`` up to
    the rounding that the condition number allows. With ``em``, the EM
    summary too: ``converged_`` a bool, ``n_iter_`` a non-negative int,
    ``lower_bound_`` a float that is not NaN. An unfitted model passes as it is.
    """
    if not has_fitted_state(model):
        return
    validate_params(model, table)
    d = check_n_features(model)
    k = n_components
    if em:
        require(isinstance(model.converged_, bool | np.bool_), "converged_ must be a bool")
        require(is_int(model.n_iter_) and model.n_iter_ >= 0, "n_iter_ must be an int >= 0")
        bound = model.lower_bound_
        require(
            isinstance(bound, numbers.Real) and not math.isnan(float(bound)),
            "lower_bound_ must be a number",
        )
    weights = check_float_array(model.weights_, "weights_", (k,))
    require(bool(np.all(weights > 0)), "weights_ must be positive (a fitted weight never is 0)")
    tolerance = max(1e-8, 64 * k * float(np.finfo(weights.dtype).eps))
    require(
        abs(float(np.sum(weights, dtype=np.float64)) - 1.0) <= tolerance,
        f"weights_ must sum to 1, they sum to {float(np.sum(weights, dtype=np.float64)):.6g}",
    )
    check_float_array(model.means_, "means_", (k, d))
    shape = _COVARIANCE_SHAPES[model.covariance_type](k, d)
    covariances = check_float_array(model.covariances_, "covariances_", shape)
    factors = check_float_array(model.precisions_cholesky_, "precisions_cholesky_", shape)
    precisions = check_float_array(model.precisions_, "precisions_", shape)
    eps = float(max(np.finfo(covariances.dtype).eps, np.finfo(factors.dtype).eps))
    if model.covariance_type in ("diag", "spherical"):
        require(bool(np.all(covariances > 0)), "covariances_ must be positive")
        require(bool(np.all(factors > 0)), "precisions_cholesky_ must be positive")
        squares = factors.astype(np.float64) ** 2
        _require_close(squares * covariances, 1.0, 64 * eps, _MISMATCH)
        _require_close(precisions, squares, 64 * eps, _PRECISION_MISMATCH)
        return
    stacks = [covariances, factors, precisions]
    if model.covariance_type == "tied":
        stacks = [array[np.newaxis] for array in stacks]
    for index, (sigma, u, p) in enumerate(zip(*stacks, strict=True)):
        _check_factor(
            sigma.astype(np.float64), u.astype(np.float64), p.astype(np.float64), eps, index
        )


def _check_factor(sigma: np.ndarray, u: np.ndarray, p: np.ndarray, eps: float, k: int) -> None:
    where = f" (component {k})"
    require(bool(np.all(np.tril(u, -1) == 0)), "precisions_cholesky_ must be upper triangular")
    diagonal = np.diagonal(u)
    require(bool(np.all(diagonal > 0)), "precisions_cholesky_ needs a positive diagonal" + where)
    require(bool(np.allclose(sigma, sigma.T, rtol=64 * eps, atol=0)), "covariances_ not symmetric")
    # The rounding of U^T Sigma U grows with the condition number of U U^T
    # (cond(U)^2, which the diagonal's spread only bounds from below); beyond
    # 1 / eps the comparison says nothing.
    condition = float(np.linalg.cond(u)) ** 2
    d = sigma.shape[0]
    tolerance = 64 * d * eps * max(condition, 1.0)
    _require_close(u.T @ sigma @ u, np.eye(d), tolerance, _MISMATCH + where)
    _require_close(p, u @ u.T, 64 * d * eps, _PRECISION_MISMATCH + where)


_MISMATCH = "covariances_ do not match precisions_cholesky_ (not the inverse of U U^T)"
_PRECISION_MISMATCH = "precisions_ do not match precisions_cholesky_ (not U U^T)"


def _require_close(value: Any, expected: Any, tolerance: float, message: str) -> None:
    """``max|value - expected| <= tolerance * max|expected|``, else ValueError(message)."""
    expected = np.asarray(expected, dtype=np.float64)
    error = float(np.max(np.abs(np.asarray(value, dtype=np.float64) - expected), initial=0.0))
    scale = max(float(np.max(np.abs(expected), initial=0.0)), float(np.finfo(float).tiny))
    require(error <= tolerance * scale, message)
