"""KernelDensity's state restored from a model file: checked, then its caches rebuilt.

The body of ``KernelDensity._restore_check``, the hook
:func:`lookalike.persistence.load` calls: persistence knows nothing of the
estimator's attributes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lookalike._math.kernels import KERNELS
from lookalike._restore import check_float_array, check_n_features, has_fitted_state, require
from lookalike._validation import validate_params
from lookalike.kde.bandwidth import check_bandwidth

__all__ = ["check_restored_kde"]


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
