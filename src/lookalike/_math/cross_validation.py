"""Held-out log-likelihoods of kernel density estimates for a whole grid of bandwidths.

Pure functions on arrays. Cross-validating a bandwidth the usual way refits and
rescores the estimate once per bandwidth and fold, recomputing the same
distances each time. Here the squared distances between a block of held-out
points and all training points of a fold are computed once, shifted by each
row's smallest distance, and every bandwidth of the grid is scored from them:

.. math::

    \\log \\hat f_h(q_i) = \\log \\sum_j w_j\\, k(s_{ij} / h^2)
        - \\log \\sum_j w_j - \\log C_d - d \\log h .

For the Gaussian kernel, with ``m_i = min_j s_ij`` and ``D_ij = s_ij - m_i``,
the sum is ``exp(-m_i / 2h^2) sum_j w_j exp(-D_ij / 2h^2)``: one multiply, one
``exp`` and one matrix-vector product per bandwidth, and the largest term is
at least ``w_min / w_max`` of the sum, so nothing under- or overflows. Other
kernels are summed relative to each row's largest term.
"""

from __future__ import annotations

import math

import numpy as np

from lookalike._math.blocks import effective_n_jobs, map_blocks, row_slices
from lookalike._math.distances import (
    augment_points,
    augment_queries,
    refine_near_zero,
    rounding_bound,
    squared_distances,
    squared_norms,
)
from lookalike._math.kernel_sums import TERM_TOLERANCE, exp_in_place
from lookalike._math.kernels import Kernel

# Bytes of the (held-out block x training points) distance matrix per thread.
CV_BLOCK_BYTES = 8 * 2**20


def held_out_log_densities(
    train: np.ndarray,
    train_weights: np.ndarray | None,
    test: np.ndarray,
    kernel: Kernel,
    bandwidths: np.ndarray,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Log-density of every test row under the estimate of every bandwidth.

    Parameters
    ----------
    train : ndarray of shape (n, d)
        Training rows (centred by the caller for accuracy).
    train_weights : ndarray of shape (n,) or None
        Non-negative weights with a positive sum.
    test : ndarray of shape (m, d)
    kernel : Kernel
    bandwidths : ndarray of shape (g,)
        Positive isotropic bandwidths.
    n_jobs : int, default=None

    Returns
    -------
    log_densities : ndarray of shape (g, m)
        Normalised log-densities (``-inf`` where a compact kernel reaches no
        training point).
    """
    n, d = train.shape
    if train_weights is None:
        weights = np.ones(n)
    else:
        keep = train_weights > 0
        train, weights = train[keep], train_weights[keep]
    total_weight = float(weights.sum())
    log_weights = np.log(weights)
    train_sq = squared_norms(train)
    augmented_train = augment_points(train, train_sq)
    bandwidths = np.asarray(bandwidths, dtype=np.float64)
    log_norms = np.array([kernel.log_norm(d, float(h)) for h in bandwidths])
    inverse_sq = 1.0 / bandwidths**2
    rows_per_block = max(1, min(1024, CV_BLOCK_BYTES // (8 * max(train.shape[0], 1))))
    # At least one block per thread.
    rows_per_block = min(rows_per_block, -(-test.shape[0] // effective_n_jobs(n_jobs)))

    def one_block(rows: slice) -> np.ndarray:
        queries = test[rows]
        query_sq = squared_norms(queries)
        distances = squared_distances(augment_queries(queries, query_sq), augmented_train)
        err = rounding_bound(float(query_sq.max()), float(train_sq.max()), d)
        _repair(distances, queries, train, kernel, err)
        smallest = distances.min(axis=1)
        distances -= smallest[:, np.newaxis]
        out = np.empty((len(bandwidths), len(queries)))
        work = np.empty_like(distances)
        for g, scale in enumerate(inverse_sq):
            out[g] = _log_sums(distances, smallest, scale, kernel, weights, log_weights, work)
        return out

    blocks = row_slices(test.shape[0], rows_per_block)
    sums = np.concatenate(list(map_blocks(one_block, blocks, n_jobs)), axis=1)
    return sums + (log_norms - math.log(total_weight))[:, np.newaxis]


def _repair(
    distances: np.ndarray, queries: np.ndarray, train: np.ndarray, kernel: Kernel, err: float
) -> None:
    """Exact distances where rounding matters (see :mod:`lookalike._math.kernel_sums`).

    Near-zero distances (duplicated rows) matter for kernels of ``r``; the
    Gaussian's bandwidth-independent rounding ``err / 2 h^2`` is accepted for
    bandwidths down to ``sqrt(err / TERM_TOLERANCE)`` times the data scale,
    which the grid rarely reaches; compact kernels' edges move by ``err``.
    """
    if kernel.fragile_at_zero:
        refine_near_zero(distances, queries, train, (0.5 * err / TERM_TOLERANCE) ** 2)


def _log_sums(
    shifted: np.ndarray,
    smallest: np.ndarray,
    inverse_sq: float,
    kernel: Kernel,
    weights: np.ndarray,
    log_weights: np.ndarray,
    work: np.ndarray,
) -> np.ndarray:
    """``log sum_j w_j k(s_ij / h^2)`` from ``shifted = s - min_j s``: shape (b,)."""
    if kernel.name == "gaussian":
        np.multiply(shifted, -0.5 * inverse_sq, out=work)
        exp_in_place(work)
        with np.errstate(divide="ignore"):
            return np.log(work @ weights) - 0.5 * inverse_sq * smallest
    # s / h^2 = (shifted + smallest) / h^2
    np.add(shifted, smallest[:, np.newaxis], out=work)
    work *= inverse_sq
    if kernel.profile is not None:
        kernel.profile(work, out=work)
        with np.errstate(divide="ignore"):
            return np.log(work @ weights)
    kernel.log_profile(work, out=work)
    work += log_weights
    largest = work.max(axis=1)
    work -= largest[:, np.newaxis]
    exp_in_place(work)
    return np.log(work.sum(axis=1)) + largest
