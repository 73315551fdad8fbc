"""Exact weighted kernel sums: the evaluation engine of kernel density estimates.

Pure functions on arrays. For queries ``q_i`` and training points ``x_j`` with
weights ``w_j``, all in *scaled* coordinates (the bandwidth already divided
out, so the kernel has unit bandwidth), :func:`log_kernel_sums` returns

.. math::

    \\log \\sum_j w_j\\, k(\\lVert q_i - x_j \\rVert^2)

to rounding, for any kernel of :mod:`lookalike._math.kernels`. The caller adds
the kernel's normalising constant and divides by the total weight.

How it is fast
    Queries are cut into blocks (one block per task on a thread pool, with
    BLAS single-threaded), training points into blocks too, so no
    n_query x n_train array is ever built. For the Gaussian kernel one matrix
    product of augmented rows gives every ``-s_ij/2 + log w_j`` of a block pair
    directly (:func:`gaussian_rows`), leaving one ``exp`` and one row sum. Other
    kernels take their squared distances from one matrix product
    (:mod:`lookalike._math.distances`).

    Training points are sorted along their principal axis; query blocks visit
    training blocks nearest first, and a training block is skipped when an
    upper bound of its terms (from the gap between projections, a lower
    bound of every distance) is below ``exp(-40) / n`` of the smallest
    running sum of the query block: then it cannot change any sum in float64.
    Compact kernels skip blocks beyond their support. In low dimensions this
    skips most of the work; in high dimensions it skips little and costs
    nothing.

How it stays exact
    - Sums are taken relative to an upper bound of every term (``log w_max``
      for Gaussian and exponential kernels), so nothing overflows. Rows whose
      sum underflows (queries far from all data) are recomputed relative to
      their own largest term, in two passes.
    - The expansion ``s = |q|^2 + |x|^2 - 2 q.x`` rounds by about
      ``eps (|q|^2 + |x|^2)`` (:func:`~lookalike._math.distances.rounding_bound`).
      Entries where that error would move a log-kernel term by more than
      :data:`TERM_TOLERANCE` are recomputed from the differences: near zero
      distance for kernels of ``r = sqrt(s)`` (exponential, linear), near the
      edge of the support for compact kernels, and for the Gaussian kernel,
      when the bound itself is too large (bandwidths tiny against the spread of
      the data), the entries within ``exp(-45)`` of each row's largest term.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from lookalike._math.blocks import map_blocks, row_slices
from lookalike._math.distances import (
    augment_points,
    augment_queries,
    refine,
    refine_near_zero,
    refine_or_recompute,
    rounding_bound,
    squared_norms,
)
from lookalike._math.kernels import Kernel

# Largest rounding error (nats) allowed in the log of one kernel term.
TERM_TOLERANCE = 1e-12
# Terms below exp(-NEGLIGIBLE) times a row's sum (or largest term) cannot change it.
NEGLIGIBLE = 40.0
# Row sums below this, relative to the upper bound of the terms, are redone exactly.
TINY = 1e-250
# Rows per query block and per training block: a 256 x 2048 float64 block (4 MiB) was
# fastest on the project machine (2 MiB L2 per core) at d = 1 to 32.
QUERY_BLOCK_ROWS = 256
TRAIN_BLOCK_ROWS = 2048

# exp() of arguments below about -745 underflows to zero, and NumPy's vectorised exp
# is 6 times slower there. Arguments are clipped at -700 first: the clipped terms
# (at most n * 1e-304) cannot change any sum that is not itself redone (TINY).
EXP_FLOOR = -700.0

SquaredDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]


def exp_in_place(values: np.ndarray) -> np.ndarray:
    """``exp(max(values, EXP_FLOOR))``, in place."""
    np.maximum(values, EXP_FLOOR, out=values)
    return np.exp(values, out=values)


# --------------------------------------------------------------------------------------
# Training points, prepared once


@dataclass(frozen=True)
class TrainingPoints:
    """Training points prepared for blocked kernel sums.

    Attributes
    ----------
    points : ndarray of shape (n, d)
        Scaled points, sorted by their projection on ``axis``; zero-weight
        points removed.
    index : ndarray of shape (n,)
        Row of each point in the data given to :func:`prepare_training_points`.
    log_weights : ndarray of shape (n,)
        ``log w_j`` (zeros when unweighted).
    projections : ndarray of shape (n,)
        ``points @ axis``, ascending.
    axis : ndarray of shape (d,)
        Unit vector of the points' largest spread (principal axis).
    augmented : ndarray of shape (n, d + 2)
        Rows ``[x, 1, |x|^2]`` for squared distances.
    gaussian_augmented : ndarray of shape (n, d + 2)
        Rows ``[x, 1, -|x|^2 / 2 + log w - log w_max]`` for Gaussian terms.
    """

    points: np.ndarray
    index: np.ndarray
    log_weights: np.ndarray
    projections: np.ndarray
    axis: np.ndarray
    augmented: np.ndarray
    gaussian_augmented: np.ndarray

    @property
    def max_log_weight(self) -> float:
        return float(self.log_weights.max())

    @property
    def max_squared_norm(self) -> float:
        return float(self.augmented[:, -1].max())


def principal_axis(points: np.ndarray) -> np.ndarray:
    """Unit vector along which ``points`` (n, d) spread most."""
    d = points.shape[1]
    if d == 1:
        return np.ones(1)
    centred = points - points.mean(axis=0)
    if d <= 256:
        _, vectors = np.linalg.eigh(centred.T @ centred)
        axis = vectors[:, -1]
    else:
        axis = np.zeros(d)
        axis[int(np.argmax(centred.var(axis=0)))] = 1.0
    return np.ascontiguousarray(axis / np.linalg.norm(axis))


def prepare_training_points(points: np.ndarray, weights: np.ndarray | None) -> TrainingPoints:
    """Sort, weigh and augment scaled training points (n, d) once for every later sum."""
    index = np.arange(points.shape[0])
    if weights is not None:
        keep = weights > 0
        index, points, weights = index[keep], points[keep], weights[keep]
    points = np.ascontiguousarray(points, dtype=np.float64)
    axis = principal_axis(points)
    projections = points @ axis
    order = np.argsort(projections, kind="stable")
    points, index, projections = points[order], index[order], projections[order]
    log_weights = np.zeros(points.shape[0]) if weights is None else np.log(weights[order])
    norms = squared_norms(points)
    augmented = augment_points(points, norms)
    gaussian = augmented.copy()
    gaussian[:, -1] = -0.5 * norms + (log_weights - log_weights.max())
    return TrainingPoints(points, index, log_weights, projections, axis, augmented, gaussian)


# --------------------------------------------------------------------------------------
# The engine


def log_kernel_sums(
    queries: np.ndarray,
    training: TrainingPoints,
    kernel: Kernel,
    n_jobs: int | None = None,
    squared_distance: SquaredDistance | None = None,
) -> np.ndarray:
    """``log sum_j w_j k(|q_i - x_j|^2)`` for every query (m, d): shape (m,).

    Parameters
    ----------
    queries : ndarray of shape (m, d)
        Scaled queries, in the coordinates of ``training``.
    training : TrainingPoints
    kernel : Kernel
    n_jobs : int, default=None
        Threads over query blocks (``None``: every core).
    squared_distance : callable, default=None
        ``f(q_rows, x_rows) -> (b, c)`` squared scaled distances for a
        non-Euclidean metric. It replaces the matrix-product distances and
        turns off pruning by projections (which holds for Euclidean distances
        only).

    Notes
    -----
    Cost ``O(m n d)`` flops in matrix products plus ``O(m n)`` kernel
    evaluations, less what pruning skips; memory ``O(block)`` per thread.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    projections = queries @ training.axis
    order = np.argsort(projections, kind="stable")
    sorted_queries = queries[order]
    sorted_projections = projections[order]
    plan = _Plan.make(training, kernel, squared_distance)

    def one_block(rows: slice) -> np.ndarray:
        return plan.block(sorted_queries[rows], sorted_projections[rows])

    blocks = row_slices(queries.shape[0], QUERY_BLOCK_ROWS)
    out = np.empty(queries.shape[0])
    sorted_out = np.concatenate(list(map_blocks(one_block, blocks, n_jobs)))
    out[order] = sorted_out
    return out


@dataclass(frozen=True)
class _Plan:
    """What one query block needs: training blocks, their bounds, the kernel's rules."""

    training: TrainingPoints
    kernel: Kernel
    squared_distance: SquaredDistance | None
    train_blocks: list[slice]
    block_low: np.ndarray
    block_high: np.ndarray
    block_max_log_weight: np.ndarray
    relative_weights: np.ndarray
    log_n: float

    @classmethod
    def make(
        cls, training: TrainingPoints, kernel: Kernel, squared_distance: SquaredDistance | None
    ) -> _Plan:
        n = training.points.shape[0]
        blocks = row_slices(n, TRAIN_BLOCK_ROWS)
        low = np.array([training.projections[b.start] for b in blocks])
        high = np.array([training.projections[b.stop - 1] for b in blocks])
        max_lw = np.array([training.log_weights[b].max() for b in blocks])
        relative_weights = np.exp(training.log_weights - training.max_log_weight)
        return cls(
            training,
            kernel,
            squared_distance,
            blocks,
            low,
            high,
            max_lw,
            relative_weights,
            math.log(n),
        )

    # ---------------------------------------------------------------------------------
    # Block bookkeeping

    def visiting_order(self, projections: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training blocks nearest first, and the log upper bound of each block's terms.

        The bound is relative to ``log w_max``: ``log k(gap^2) + log w_max(block) - log w_max``.
        """
        if self.squared_distance is not None:
            return np.arange(len(self.train_blocks)), np.zeros(len(self.train_blocks))
        low, high = projections[0], projections[-1]
        gaps = np.maximum(np.maximum(self.block_low - high, low - self.block_high), 0.0)
        bounds = self.kernel.log_profile(gaps**2)
        bounds += self.block_max_log_weight - self.training.max_log_weight
        return np.argsort(gaps, kind="stable"), bounds

    def distances(
        self, queries: np.ndarray, augmented: np.ndarray, block: slice, out: np.ndarray
    ) -> np.ndarray:
        """Squared distances of a query block to a training block, into ``out``."""
        if self.squared_distance is not None:
            out[...] = self.squared_distance(queries, self.training.points[block])
            return out
        np.matmul(augmented, self.training.augmented[block].T, out=out)
        return np.maximum(out, 0.0, out=out)

    def repair(self, distances: np.ndarray, queries: np.ndarray, block: slice, err: float) -> None:
        """Recompute exactly the entries whose rounding could move their term.

        For kernels of ``r = sqrt(s)`` (exponential, linear) the log-kernel has
        slope ``1 / (2 sqrt(s))``: entries with ``s < (err / (2 tol))^2`` are
        recomputed. For the tophat, entries within ``err`` of the edge (where
        rounding could move a point in or out of the ball) are recomputed. The
        other kernels' errors are accounted for by the callers.
        """
        if self.squared_distance is not None or err == 0.0:
            return
        points = self.training.points[block]
        if self.kernel.fragile_at_zero:
            refine_near_zero(distances, queries, points, (0.5 * err / TERM_TOLERANCE) ** 2)
        if self.kernel.name == "tophat":
            ambiguous = np.abs(distances - 1.0) <= err
            if ambiguous.any():
                refine_or_recompute(distances, queries, points, ambiguous)

    # ---------------------------------------------------------------------------------
    # One query block

    def block(self, queries: np.ndarray, projections: np.ndarray) -> np.ndarray:
        """Log kernel sums of one block of queries sorted by projection."""
        query_sq = squared_norms(queries)
        err = 0.0
        if self.squared_distance is None:
            err = rounding_bound(
                float(query_sq.max()), self.training.max_squared_norm, queries.shape[1]
            )
        order, bounds = self.visiting_order(projections)
        if self.kernel.profile is not None:
            return self._compact(queries, query_sq, order, bounds, err)
        if self.kernel.name == "gaussian" and self.squared_distance is None:
            if 0.5 * err <= TERM_TOLERANCE:
                sums = self._gaussian(queries, query_sq, order, bounds)
            else:
                sums = np.zeros(len(queries))  # every row takes the two-pass route
        else:
            sums = self._shifted(queries, query_sq, order, bounds, err)
        with np.errstate(divide="ignore"):
            out = np.log(sums) + self.training.max_log_weight
        rescue = ~(sums > TINY)
        if np.any(rescue):
            out[rescue] = self._two_pass(queries[rescue], query_sq[rescue], order, bounds, err)
        return out

    def _buffer(self, n_rows: int) -> np.ndarray:
        return np.empty(n_rows * TRAIN_BLOCK_ROWS)

    @staticmethod
    def _view(buffer: np.ndarray, n_rows: int, block: slice) -> np.ndarray:
        return buffer[: n_rows * (block.stop - block.start)].reshape(n_rows, -1)

    def _skippable(self, bound: float, sums: np.ndarray) -> bool:
        smallest = float(sums.min())
        return smallest > 0 and bound + self.log_n < math.log(smallest) - NEGLIGIBLE

    def _gaussian(
        self, queries: np.ndarray, query_sq: np.ndarray, order: np.ndarray, bounds: np.ndarray
    ) -> np.ndarray:
        """Sums of ``exp(-s/2 + log w - log w_max)``, one matrix product per block pair."""
        b, d = queries.shape
        augmented = np.empty((b, d + 2))
        augmented[:, :d] = queries
        augmented[:, d] = -0.5 * query_sq
        augmented[:, d + 1] = 1.0
        sums = np.zeros(b)
        buffer = self._buffer(b)
        for j in order:
            if self._skippable(bounds[j], sums):
                continue
            block = self.train_blocks[j]
            terms = self._view(buffer, b, block)
            np.matmul(augmented, self.training.gaussian_augmented[block].T, out=terms)
            exp_in_place(terms)
            sums += terms.sum(axis=1)
        return sums

    def _shifted(
        self,
        queries: np.ndarray,
        query_sq: np.ndarray,
        order: np.ndarray,
        bounds: np.ndarray,
        err: float,
    ) -> np.ndarray:
        """Sums of ``exp(log k(s) + log w - log w_max)`` for unbounded kernels."""
        augmented = augment_queries(queries, query_sq)
        b = len(queries)
        sums = np.zeros(b)
        buffer = self._buffer(b)
        max_lw = self.training.max_log_weight
        for j in order:
            if self._skippable(bounds[j], sums):
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            self.repair(terms, queries, block, err)
            self.kernel.log_profile(terms, out=terms)
            terms += self.training.log_weights[block] - max_lw
            exp_in_place(terms)
            sums += terms.sum(axis=1)
        return sums

    def _compact(
        self,
        queries: np.ndarray,
        query_sq: np.ndarray,
        order: np.ndarray,
        bounds: np.ndarray,
        err: float,
    ) -> np.ndarray:
        """Log of ``sum w k(s)`` for kernels of compact support (values in [0, 1]).

        Near the edge of the support ``k`` vanishes linearly, so a term's
        rounding is absolute, about ``err`` (slope at most 1.25 in ``s`` for
        these kernels, once near-zero entries of the linear kernel are exact).
        Rows whose sum is not large against ``err`` times their number of
        nonzero terms are recomputed from exact distances.
        """
        profile = self.kernel.profile
        if profile is None:  # pragma: no cover - guarded by the caller
            raise ValueError(f"{self.kernel.name} has no direct profile")
        augmented = augment_queries(queries, query_sq)
        b = len(queries)
        sums = np.zeros(b)
        in_support = np.zeros(b)
        buffer = self._buffer(b)
        for j in order:
            if bounds[j] == -np.inf:
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            self.repair(terms, queries, block, err)
            profile(terms, out=terms)
            sums += terms @ self.relative_weights[block]
            if self.kernel.name != "tophat":
                in_support += np.count_nonzero(terms, axis=1)
        doubtful = 1.25 * err * in_support > TERM_TOLERANCE * sums
        if np.any(doubtful):
            sums[doubtful] = self._exact_compact(queries[doubtful], order, bounds)
        with np.errstate(divide="ignore"):
            return np.log(sums) + self.training.max_log_weight

    def _exact_compact(
        self, queries: np.ndarray, order: np.ndarray, bounds: np.ndarray
    ) -> np.ndarray:
        """``sum w k(s)`` relative to ``w_max`` from exact distances (doubtful rows)."""
        profile = self.kernel.profile
        if profile is None:  # pragma: no cover - guarded by the caller
            raise ValueError(f"{self.kernel.name} has no direct profile")
        sums = np.zeros(len(queries))
        for j in order:
            if bounds[j] == -np.inf:
                continue
            block = self.train_blocks[j]
            terms = profile(cdist(queries, self.training.points[block], "sqeuclidean"))
            sums += terms @ self.relative_weights[block]
        return sums

    def _two_pass(
        self,
        queries: np.ndarray,
        query_sq: np.ndarray,
        order: np.ndarray,
        bounds: np.ndarray,
        err: float,
    ) -> np.ndarray:
        """Log-sum-exp relative to each row's own largest term (rows far from the data)."""
        augmented = augment_queries(queries, query_sq)
        log_weights = self.training.log_weights
        max_lw = self.training.max_log_weight
        b = len(queries)
        buffer = self._buffer(b)
        largest = np.full(b, -np.inf)
        for j in order:
            if bounds[j] + max_lw < largest.min():
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            self.repair(terms, queries, block, err)
            self.kernel.log_profile(terms, out=terms)
            terms += log_weights[block]
            np.maximum(largest, terms.max(axis=1), out=largest)
        sums = np.zeros(b)
        near_margin = NEGLIGIBLE + 5.0 + err
        fix_near = (
            self.kernel.name == "gaussian"
            and 0.5 * err > TERM_TOLERANCE
            and self.squared_distance is None
        )
        for j in order:
            if bounds[j] + max_lw + self.log_n < largest.min() - NEGLIGIBLE:
                continue
            block = self.train_blocks[j]
            distances = self.distances(queries, augmented, block, self._view(buffer, b, block))
            self.repair(distances, queries, block, err)
            if fix_near:
                # Entries that matter get exact distances: with s >= 0 a term is at most
                # log w, so a term within the margin of the row's largest has
                # -s/2 > largest - log w - margin.
                limit = 2.0 * (near_margin + max_lw - largest)
                refine(distances, queries, self.training.points[block], distances < limit[:, None])
            terms = self.kernel.log_profile(distances, out=distances)
            terms += log_weights[block]
            terms -= largest[:, np.newaxis]
            exp_in_place(terms)
            sums += terms.sum(axis=1)
        return np.log(sums) + largest
