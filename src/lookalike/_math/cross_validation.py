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

Accuracy
    Coordinates are divided by the largest bandwidth first, so squared
    distances neither overflow nor underflow at any data scale. The expanded
    distances round by ``E = (3d + 6) eps (|q|^2 + |x|^2)``
    (:mod:`lookalike._math.distances`); for the Gaussian and exponential
    kernels the entries whose term could then be off by more than the
    tolerance at the *smallest* bandwidth, and that could matter at the
    *largest* (within ``exp(-40) / n`` of the row's largest term, weights
    included), are recomputed from the differences. Compact kernels, whose
    terms the rounding could move across the edge of the support at any
    bandwidth of the grid, take exact distances throughout (their cost is
    dominated by the per-bandwidth passes anyway). Every value is finite or
    ``-inf``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import cdist

from lookalike._math.blocks import SERIAL, BlockMap, row_slices
from lookalike._math.distances import (
    LARGEST_SQUARED_NORM,
    augment_points,
    augment_queries,
    expansion_error,
    refine_below,
    squared_distances,
    squared_norms,
    untrusted_below,
)
from lookalike._math.kernel_sums import NEGLIGIBLE, exp_in_place
from lookalike._math.kernels import Kernel

# Bytes of the (held-out block x training points) distance matrix per thread.
CV_BLOCK_BYTES = 8 * 2**20


def held_out_log_densities(
    train: np.ndarray,
    train_weights: np.ndarray | None,
    test: np.ndarray,
    kernel: Kernel,
    bandwidths: np.ndarray,
    block_map: BlockMap = SERIAL,
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
    block_map : BlockMap, default=SERIAL
        How blocks of test rows are mapped (at least one block per thread).

    Returns
    -------
    log_densities : ndarray of shape (g, m)
        Normalised log-densities: finite, or ``-inf`` where every term is zero
        (a compact kernel reaches no training point, or ``s / h^2`` exceeds
        the largest float).
    """
    n, d = train.shape
    if train_weights is None:
        weights = np.ones(n)
    else:
        keep = train_weights > 0
        train, weights = train[keep], train_weights[keep]
    total_weight = float(weights.sum())
    log_weights = np.log(weights)
    bandwidths = np.asarray(bandwidths, dtype=np.float64)
    log_norms = np.array([kernel.log_norm(d, float(h)) for h in bandwidths])
    # Distances in units of the largest bandwidth: no overflow or underflow at any scale.
    scale = float(bandwidths.max())
    scaled = _Scaled(train, test, scale, kernel, log_weights)
    inverse_sq = 1.0 / (bandwidths / scale) ** 2
    rows_per_block = max(1, min(1024, CV_BLOCK_BYTES // (8 * max(train.shape[0], 1))))
    # At least one block per thread.
    rows_per_block = min(rows_per_block, -(-test.shape[0] // block_map.n_threads))
    smallest_bandwidth = float(bandwidths.min()) / scale

    def one_block(rows: slice) -> np.ndarray:
        distances = scaled.distances(rows, smallest_bandwidth)
        smallest = distances.min(axis=1)
        # Rows with every distance infinite keep them: each of their terms is zero.
        shift = np.where(smallest < np.inf, smallest, 0.0)
        distances -= shift[:, np.newaxis]
        out = np.empty((len(bandwidths), distances.shape[0]))
        work = np.empty_like(distances)
        for g, inverse in enumerate(inverse_sq):
            out[g] = _log_sums(distances, shift, inverse, kernel, weights, log_weights, work)
        return out

    blocks = row_slices(test.shape[0], rows_per_block)
    sums = np.concatenate(list(block_map(one_block, blocks)), axis=1)
    return sums + (log_norms - math.log(total_weight))[:, np.newaxis]


class _Scaled:
    """Training and held-out rows in units of the largest bandwidth; their exact distances."""

    def __init__(
        self,
        train: np.ndarray,
        test: np.ndarray,
        scale: float,
        kernel: Kernel,
        log_weights: np.ndarray,
    ) -> None:
        with np.errstate(over="ignore"):
            self.train = train / scale
            self.test = test / scale
        self.original = (train, test, scale)
        self.kernel = kernel
        self.train_sq = squared_norms(self.train)
        self.max_train_sq = float(self.train_sq.max())
        self.augmented_train = augment_points(self.train, self.train_sq)
        # Far from the largest float (in largest bandwidths): differences in data units.
        self.overflowed = not (np.isfinite(self.train).all() and np.isfinite(self.test).all())
        self.log_weight_spread = float(log_weights.max() - log_weights.min())
        self.log_n = math.log(max(train.shape[0], 1))

    def distances(self, rows: slice, smallest_bandwidth: float) -> np.ndarray:
        """Squared distances (b, n) of held-out rows to the training rows, repaired."""
        queries = self.test[rows]
        if self.overflowed:
            train, test, scale = self.original
            return _scaled_differences(test[rows], train, scale)
        query_sq = squared_norms(queries)
        largest = max(float(query_sq.max(initial=0.0)), self.max_train_sq)
        if self.kernel.profile is not None or not largest <= LARGEST_SQUARED_NORM:
            return cdist(queries, self.train, "sqeuclidean")
        distances = squared_distances(augment_queries(queries, query_sq), self.augmented_train)
        self._repair(distances, queries, query_sq, smallest_bandwidth)
        return distances

    def _repair(
        self,
        distances: np.ndarray,
        queries: np.ndarray,
        query_sq: np.ndarray,
        smallest_bandwidth: float,
    ) -> None:
        """Exact distances where rounding could move a term that matters at some bandwidth.

        A term is checked at the smallest bandwidth (where rounding weighs most,
        :func:`~lookalike._math.distances.untrusted_below`) and kept only if it
        could be within ``exp(-40) / n`` of the row's largest term (weights
        included) at the largest bandwidth, which is 1 in these units: with
        ``M`` an upper bound of the row's smallest distance, the Gaussian term
        of an entry with ``s - E > M + 2 (40 + log n + spread of log w)`` is
        below that, and so is the exponential's when ``sqrt(s - E) > sqrt(M) +
        40 + log n + spread``.
        """
        errors = expansion_error(query_sq, self.max_train_sq, queries.shape[1])
        thresholds = untrusted_below(errors, self.kernel.fragile_at_zero, smallest_bandwidth)
        if not thresholds.max() > 0.0:
            return
        margin = NEGLIGIBLE + self.log_n + self.log_weight_spread
        upper_min = distances.min(axis=1) + errors
        if self.kernel.fragile_at_zero:
            reach = (np.sqrt(upper_min) + margin) ** 2
        else:
            reach = upper_min + 2.0 * margin
        refine_below(distances, queries, self.train, np.minimum(thresholds, reach + errors))


def _scaled_differences(queries: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray:
    """``sum_k ((q_k - x_k) / scale)^2`` (b, c) feature by feature; ``inf`` where it overflows."""
    out = np.zeros((queries.shape[0], points.shape[0]))
    with np.errstate(over="ignore"):
        for k in range(queries.shape[1]):
            difference = np.subtract.outer(queries[:, k], points[:, k])
            difference /= scale
            out += difference * difference
    return out


def _log_sums(
    shifted: np.ndarray,
    shift: np.ndarray,
    inverse_sq: float,
    kernel: Kernel,
    weights: np.ndarray,
    log_weights: np.ndarray,
    work: np.ndarray,
) -> np.ndarray:
    """``log sum_j w_j k(s_ij / h^2)`` from ``shifted = s - shift``: shape (b,).

    Products beyond the largest float become infinite: their terms are zero.
    """
    with np.errstate(over="ignore", divide="ignore"):
        return _log_sums_of(shifted, shift, inverse_sq, kernel, weights, log_weights, work)


def _log_sums_of(
    shifted: np.ndarray,
    shift: np.ndarray,
    inverse_sq: float,
    kernel: Kernel,
    weights: np.ndarray,
    log_weights: np.ndarray,
    work: np.ndarray,
) -> np.ndarray:
    if kernel.name == "gaussian":
        np.multiply(shifted, -0.5 * inverse_sq, out=work)
        exp_in_place(work)
        return np.log(work @ weights) - 0.5 * inverse_sq * shift
    # s / h^2 = (shifted + shift) / h^2
    np.add(shifted, shift[:, np.newaxis], out=work)
    work *= inverse_sq
    if kernel.profile is not None:
        kernel.profile(work, out=work)
        return np.log(work @ weights)
    kernel.log_profile(work, out=work)
    work += log_weights
    largest = work.max(axis=1)
    finite = np.where(largest > -np.inf, largest, 0.0)
    work -= finite[:, np.newaxis]
    exp_in_place(work)
    return np.log(work.sum(axis=1)) + finite
