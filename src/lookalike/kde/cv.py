"""Held-out log-likelihood of a kernel density estimate over a grid of bandwidths.

:func:`bandwidth_curve` scores every bandwidth of a grid on every fold from one
distance pass per fold (:func:`~lookalike._math.cross_validation.held_out_log_densities`),
with GridSearchCV's folds, scores and choice; :class:`BandwidthCurve` holds
the result. The public entry point, which validates its inputs as the
estimator does, is :func:`lookalike.kde.cross_validate_bandwidth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import check_cv

from lookalike._math.cross_validation import held_out_log_densities
from lookalike._math.kernels import Kernel
from lookalike._math.stats import weighted_mean
from lookalike._parallel import block_map

__all__ = ["BandwidthCurve", "bandwidth_curve"]


@dataclass(frozen=True)
class BandwidthCurve:
    """Held-out log-likelihood against bandwidth, from :func:`cross_validate_bandwidth`.

    Attributes
    ----------
    bandwidths : ndarray of shape (n_bandwidths,)
    mean_log_likelihood : ndarray of shape (n_bandwidths,)
        Held-out log-likelihood per row (weighted mean over all folds).
    fold_scores : ndarray of shape (n_folds, n_bandwidths)
        Summed held-out log-likelihood of each fold: what ``GridSearchCV``
        reports as ``split{k}_test_score`` for a KernelDensity.
    best_index : int
        Index of the highest mean (the first of ties, as GridSearchCV).
    best_bandwidth : float
    """

    bandwidths: np.ndarray
    mean_log_likelihood: np.ndarray
    fold_scores: np.ndarray
    best_index: int
    best_bandwidth: float


def bandwidth_curve(
    data: np.ndarray,
    weights: np.ndarray | None,
    grid: np.ndarray,
    kernel: Kernel,
    cv: Any,
    n_jobs: int | None,
) -> BandwidthCurve:
    """The :class:`BandwidthCurve` of validated data over a checked grid of bandwidths."""
    centred = data - weighted_mean(data, weights)
    splitter = check_cv(cv)
    fold_scores = []
    total = np.zeros(len(grid))
    total_weight = 0.0
    for train, test in splitter.split(centred):
        train_weights = None if weights is None else weights[train]
        if train_weights is not None and not train_weights.sum() > 0:
            raise ValueError("A training fold has zero total sample weight.")
        log_densities = held_out_log_densities(
            centred[train], train_weights, centred[test], kernel, grid, block_map(n_jobs)
        )
        if weights is None:
            scores = log_densities.sum(axis=1)
            total_weight += len(test)
        else:
            test_weights = weights[test]
            with np.errstate(invalid="ignore"):
                scores = np.where(test_weights > 0, log_densities, 0.0) @ test_weights
            total_weight += float(test_weights.sum())
        fold_scores.append(scores)
        total += scores
    folds = np.array(fold_scores)
    mean = total / total_weight
    best = int(np.argmax(folds.mean(axis=0)))
    return BandwidthCurve(grid, mean, folds, best, float(grid[best]))
