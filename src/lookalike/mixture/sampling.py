"""Drawing rows from a fitted Gaussian mixture.

With a ``numpy.random.Generator`` the rows are drawn through the Cholesky
factors of the covariances (fast); with None, an int or a ``RandomState`` the
draws are scikit-learn's, number for number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lookalike._math.covariance import structure
from lookalike._validation import as_random_state

__all__ = ["draw_samples"]

Parameters = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


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
    kind = structure(covariance_type)
    out = np.empty((n_samples, n_features), dtype=np.float64)
    if isinstance(source, np.random.Generator):
        counts = source.multinomial(n_samples, weights)
        scale = kind.sampling_factors(precisions_cholesky, n_components, n_features)
        parts: Any = (
            means[j] + source.standard_normal((int(c), n_features)) @ scale[j]
            for j, c in enumerate(counts)
        )
    else:
        rng = as_random_state(source)
        counts = rng.multinomial(n_samples, weights)

        def draw(j: int, count: int) -> np.ndarray:
            if not kind.diagonal:
                cov = covariances[j] if kind.per_component else covariances
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
