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
    directly (when its rounding is small enough), leaving one ``exp`` and one row sum. Other
    kernels take their squared distances from one matrix product
    (:mod:`lookalike._math.distances`).

    Training points are sorted along their principal axis; query blocks visit
    training blocks nearest first, and a training block is skipped when an
    upper bound of its terms (from the gap between projections, less the
    projections' own rounding: a lower bound of every distance) is below
    ``exp(-40) / n`` of the smallest running sum of the query block: then it
    cannot change any sum in float64. Compact kernels skip blocks beyond their
    support. In low dimensions this skips most of the work; in high dimensions
    it skips little and costs nothing.

How it stays exact
    - Sums are taken relative to an upper bound of every term (``log w_max``
      for Gaussian and exponential kernels), so nothing overflows. Rows whose
      sum underflows (queries far from all data) are summed again relative to
      their own running largest term (an online log-sum-exp), so no term is
      ever exponentiated above its row's largest; a query block whose nearest
      training block is already that far goes there directly.
    - The expansion ``s = |q|^2 + |x|^2 - 2 q.x`` rounds by at most
      ``E = (3d + 6) eps (|q|^2 + |x|^2)`` (rigorous, at any magnitude:
      :func:`~lookalike._math.distances.expansion_error`). The Gaussian's
      one-product path is taken only when ``E / 2`` is below
      :data:`~lookalike._math.distances.TERM_TOLERANCE` for the whole block.
      Elsewhere every entry whose term could be off by more than
      ``TERM_TOLERANCE + TERM_RTOL |exponent|``
      (:func:`~lookalike._math.distances.untrusted_below`) *and* could still
      matter (its most optimistic value, from ``s - E``, is within ``exp(-40)
      / n`` of the row's running sum or largest term) is recomputed from the
      differences. Compact kernels recompute the entries that rounding could
      move across the tophat's edge or near zero for the linear kernel, and a
      row whose sum is not large against its accumulated bound
      (``slope E`` per entry possibly inside the support) is recomputed from
      exact distances.
    - Norms too large for the expansion (over
      :data:`~lookalike._math.distances.LARGEST_SQUARED_NORM`) take exact
      distances ``r`` by ``hypot``, never squared where that could overflow; a
      query with a coordinate that overflowed to infinity (more than the
      largest float away, in bandwidths) gets ``-inf``.

The contract: every value is finite or ``-inf`` (never ``+inf`` or NaN),
within ``TERM_TOLERANCE + TERM_RTOL (|L| + 40 + 2 log n)`` of the exact log-sum
of the given coordinates for the Gaussian and exponential kernels (``L`` the
log-sum relative to ``w_max``; rounding of the sums aside), and within a
relative ``TERM_TOLERANCE`` of the exact sum for compact kernels.
``-inf`` is the exact value rounded: the sum is zero (outside the support of a
compact kernel) or its log is below the most negative float (every ``r^2 / 2``
beyond the largest float for the Gaussian, every ``r`` for the exponential).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from lookalike._math.blocks import SERIAL, BlockMap, row_slices
from lookalike._math.distances import (
    EPS,
    LARGEST_SQUARED_NORM,
    TERM_TOLERANCE,
    augment_points,
    augment_queries,
    exact_distances,
    expansion_error,
    refine_below,
    refine_entries,
    refine_or_recompute,
    rounding_bound,
    squared_norms,
    untrusted_below,
)
from lookalike._math.kernels import Kernel

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

# Compact kernels: a bound of |dk/ds| where distances are not recomputed. The tophat's
# entries within E of its edge are recomputed (so it has no error); the linear kernel's
# slope 1 / (2 sqrt(s)) is unbounded at 0, so its entries below LINEAR_NEAR + E are
# recomputed and the slope elsewhere is at most 1 / (2 sqrt(LINEAR_NEAR)) = 5. The
# cosine's slope is at most pi^2 / 8.
COMPACT_SLOPE = {"tophat": 0.0, "epanechnikov": 1.0, "cosine": 1.25, "linear": 5.0}
LINEAR_NEAR = 0.01

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
    def squared_norms(self) -> np.ndarray:
        """``|x_j|^2`` (``inf`` where it overflows): shape (n,)."""
        return self.augmented[:, -1]

    @property
    def max_squared_norm(self) -> float:
        return float(self.squared_norms.max())


def principal_axis(points: np.ndarray) -> np.ndarray:
    """Unit vector along which ``points`` (n, d) spread most.

    The points are divided by their largest magnitude first, so that no sum of
    squares overflows whatever their scale.
    """
    d = points.shape[1]
    axis = np.zeros(d)
    axis[0] = 1.0
    scale = float(np.abs(points).max()) if points.size else 0.0
    if d == 1 or not 0.0 < scale < math.inf:
        return axis
    scaled = points / scale
    centred = scaled - scaled.mean(axis=0)
    if d <= 256:
        _, vectors = np.linalg.eigh(centred.T @ centred)
        axis = vectors[:, -1]
    else:
        axis[0] = 0.0
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
    block_map: BlockMap = SERIAL,
    squared_distance: SquaredDistance | None = None,
) -> np.ndarray:
    """``log sum_j w_j k(|q_i - x_j|^2)`` for every query (m, d): shape (m,).

    Parameters
    ----------
    queries : ndarray of shape (m, d)
        Scaled queries, in the coordinates of ``training``. A query with a
        non-finite coordinate (one that overflowed when scaled) gets ``-inf``.
    training : TrainingPoints
    kernel : Kernel
    block_map : BlockMap, default=SERIAL
        How query blocks are mapped (:func:`lookalike._parallel.block_map`
        runs them on threads).
    squared_distance : callable, default=None
        ``f(q_rows, x_rows) -> (b, c)`` squared scaled distances for a
        non-Euclidean metric. It replaces the matrix-product distances and
        turns off pruning by projections (which holds for Euclidean distances
        only).

    Returns
    -------
    log_sums : ndarray of shape (m,)
        Finite or ``-inf`` (every term zero in float64), never ``+inf`` or NaN.

    Notes
    -----
    Cost ``O(m n d)`` flops in matrix products plus ``O(m n)`` kernel
    evaluations, less what pruning skips; memory ``O(block)`` per thread.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    plan = _Plan.make(training, kernel, squared_distance)
    out = np.full(queries.shape[0], -np.inf)
    if squared_distance is None:
        finite = np.isfinite(queries).all(axis=1)
        wide = finite & ~(squared_norms(queries) <= LARGEST_SQUARED_NORM)
        if plan.exact:
            wide = finite
        regular = np.flatnonzero(finite & ~wide)
        wide_rows = np.flatnonzero(wide)
    else:
        regular = np.arange(queries.shape[0])
        wide_rows = regular[:0]
    if wide_rows.size:
        wide_queries = queries[wide_rows]

        def exact_block(rows: slice) -> np.ndarray:
            return plan.exact_rows(wide_queries[rows])

        exact_blocks = row_slices(wide_rows.size, QUERY_BLOCK_ROWS)
        out[wide_rows] = np.concatenate(list(block_map(exact_block, exact_blocks)))
    if regular.size:
        chosen = queries[regular]
        projections = chosen @ training.axis
        order = np.argsort(projections, kind="stable")
        sorted_queries = chosen[order]
        sorted_projections = projections[order]

        def one_block(rows: slice) -> np.ndarray:
            return plan.block(sorted_queries[rows], sorted_projections[rows])

        blocks = row_slices(regular.size, QUERY_BLOCK_ROWS)
        out[regular[order]] = np.concatenate(list(block_map(one_block, blocks)))
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
    block_max_sq: np.ndarray
    relative_log_weights: np.ndarray
    relative_weights: np.ndarray
    log_n: float
    exact: bool

    @classmethod
    def make(
        cls, training: TrainingPoints, kernel: Kernel, squared_distance: SquaredDistance | None
    ) -> _Plan:
        n = training.points.shape[0]
        blocks = row_slices(n, TRAIN_BLOCK_ROWS)
        low = np.array([training.projections[b.start] for b in blocks])
        high = np.array([training.projections[b.stop - 1] for b in blocks])
        max_lw = np.array([training.log_weights[b].max() for b in blocks])
        max_sq = np.array([training.squared_norms[b].max() for b in blocks])
        relative_log_weights = training.log_weights - training.max_log_weight
        exact = squared_distance is None and not training.max_squared_norm <= LARGEST_SQUARED_NORM
        return cls(
            training,
            kernel,
            squared_distance,
            blocks,
            low,
            high,
            max_lw,
            max_sq,
            relative_log_weights,
            np.exp(relative_log_weights),
            math.log(n),
            exact,
        )

    @property
    def n_features(self) -> int:
        return int(self.training.points.shape[1])

    # ---------------------------------------------------------------------------------
    # Block bookkeeping

    def visiting_order(
        self, projections: np.ndarray, query_sq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training blocks nearest first, and the log upper bound of each block's terms.

        The bound is relative to ``log w_max``: ``log k(gap^2) + log w_max(block) - log
        w_max``, with ``gap`` the distance between the projections less their
        rounding (``gamma_d`` times the norms), so that it is a lower bound of
        every distance between the blocks.
        """
        if self.squared_distance is not None:
            return np.arange(len(self.train_blocks)), np.zeros(len(self.train_blocks))
        low, high = projections[0], projections[-1]
        gaps = np.maximum(np.maximum(self.block_low - high, low - self.block_high), 0.0)
        gamma = 1.01 * (self.n_features + 2) * EPS
        slack = gamma * (math.sqrt(float(query_sq.max())) + np.sqrt(self.block_max_sq))
        gaps = np.maximum(gaps * (1.0 - gamma) - slack, 0.0)
        with np.errstate(over="ignore"):
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

    def errors(self, query_sq: np.ndarray, j: int) -> np.ndarray:
        """Bound of the expansion's error in every entry of a row, training block ``j``."""
        return expansion_error(query_sq, float(self.block_max_sq[j]), self.n_features)

    def repair_log(
        self,
        distances: np.ndarray,
        queries: np.ndarray,
        query_sq: np.ndarray,
        j: int,
        cutoff: np.ndarray,
    ) -> None:
        """Recompute the entries whose rounding could move a term that matters.

        An entry is recomputed when its term could be off by more than the
        tolerance (:func:`~lookalike._math.distances.untrusted_below`) and its
        most optimistic value, ``log k(max(s - E, 0)) + log w - log w_max``,
        reaches ``cutoff`` (one per row): below it a term cannot change the
        row's sum, and its computed value is below it too.
        """
        if self.squared_distance is not None:
            return
        errors = self.errors(query_sq, j)
        thresholds = untrusted_below(errors, self.kernel.fragile_at_zero)
        if not thresholds.max() > 0.0:
            return
        rows = np.flatnonzero(distances.min(axis=1) < thresholds)
        if not rows.size:
            return
        block = self.train_blocks[j]
        part = distances[rows]
        r, c = np.nonzero(part < thresholds[rows, np.newaxis])
        optimistic = np.maximum(part[r, c] - errors[rows[r]], 0.0)
        self.kernel.log_profile(optimistic, out=optimistic)
        optimistic += self.relative_log_weights[block][c]
        keep = optimistic >= cutoff[rows[r]]
        refine_entries(part, queries[rows], self.training.points[block], r[keep], c[keep])
        distances[rows] = part

    def repair_compact(
        self, distances: np.ndarray, queries: np.ndarray, query_sq: np.ndarray, j: int
    ) -> np.ndarray:
        """Recompute the tophat's edge and the linear kernel's near entries; the bounds ``E``.

        Returns the bound of the expansion's error in each row (zeros for a
        non-Euclidean metric, whose distances are exact).
        """
        if self.squared_distance is not None:
            return np.zeros(len(queries))
        errors = self.errors(query_sq, j)
        points = self.training.points[self.train_blocks[j]]
        if self.kernel.name == "tophat":
            ambiguous = np.abs(distances - 1.0) <= errors[:, np.newaxis]
            if ambiguous.any():
                refine_or_recompute(distances, queries, points, ambiguous)
        elif self.kernel.fragile_at_zero:
            refine_below(distances, queries, points, LINEAR_NEAR + errors)
        return errors

    # ---------------------------------------------------------------------------------
    # One query block

    def block(self, queries: np.ndarray, projections: np.ndarray) -> np.ndarray:
        """Log kernel sums of one block of queries sorted by projection."""
        query_sq = squared_norms(queries)
        order, bounds = self.visiting_order(projections, query_sq)
        if self.kernel.profile is not None:
            return self._compact(queries, query_sq, order, bounds)
        if bounds.max() + self.log_n < math.log(TINY):
            # Every row's sum would underflow (the block is far from all the data).
            return self._online(queries, query_sq, order, bounds)
        if self._one_product(query_sq):
            sums = self._gaussian(queries, query_sq, order, bounds)
        else:
            sums = self._shifted(queries, query_sq, order, bounds)
        with np.errstate(divide="ignore"):
            out = np.log(sums) + self.training.max_log_weight
        rescue = ~(sums > TINY)
        if np.any(rescue):
            out[rescue] = self._online(queries[rescue], query_sq[rescue], order, bounds)
        return out

    def _one_product(self, query_sq: np.ndarray) -> bool:
        """Whether every Gaussian term of the block is within tolerance from one product.

        The product's error is ``E / 2`` plus ``(d + 4) eps`` times the spread of
        the log-weights (their part of the augmented rows).
        """
        if self.kernel.name != "gaussian" or self.squared_distance is not None:
            return False
        d = self.n_features
        spread = self.training.max_log_weight - float(self.training.log_weights.min())
        error = 0.5 * rounding_bound(float(query_sq.max()), self.training.max_squared_norm, d)
        error += 1.01 * (d + 4) * EPS * spread
        return error <= TERM_TOLERANCE

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
        """Sums of ``exp(-s/2 + log w - log w_max)``, one matrix product per block pair.

        Only when :meth:`_one_product` holds: then no term exceeds
        ``exp(TERM_TOLERANCE)``.
        """
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
        self, queries: np.ndarray, query_sq: np.ndarray, order: np.ndarray, bounds: np.ndarray
    ) -> np.ndarray:
        """Sums of ``exp(log k(s) + log w - log w_max)`` (each term at most 1)."""
        augmented = augment_queries(queries, query_sq)
        b = len(queries)
        sums = np.zeros(b)
        buffer = self._buffer(b)
        for j in order:
            if self._skippable(bounds[j], sums):
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            with np.errstate(divide="ignore"):
                cutoff = np.log(sums) - (NEGLIGIBLE + self.log_n)
            self.repair_log(terms, queries, query_sq, j, cutoff)
            self.kernel.log_profile(terms, out=terms)
            terms += self.relative_log_weights[block]
            exp_in_place(terms)
            sums += terms.sum(axis=1)
        return sums

    def _online(
        self, queries: np.ndarray, query_sq: np.ndarray, order: np.ndarray, bounds: np.ndarray
    ) -> np.ndarray:
        """Log-sum-exp relative to each row's running largest term (rows far from the data).

        The running largest term is exact to tolerance (the entries that could
        reach it are recomputed first), and every term is exponentiated
        relative to a value at least as large, so nothing overflows.
        """
        augmented = augment_queries(queries, query_sq)
        max_lw = self.training.max_log_weight
        b = len(queries)
        buffer = self._buffer(b)
        largest = np.full(b, -np.inf)
        sums = np.zeros(b)
        for j in order:
            cutoff = largest - (max_lw + NEGLIGIBLE + self.log_n)
            if bounds[j] < cutoff.min():
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            self.repair_log(terms, queries, query_sq, j, cutoff)
            self.kernel.log_profile(terms, out=terms)
            terms += self.training.log_weights[block]
            _accumulate(terms, largest, sums)
        with np.errstate(divide="ignore"):
            return np.log(sums) + largest

    def exact_rows(self, queries: np.ndarray) -> np.ndarray:
        """Log sums from exact distances, every training block (norms too large to expand).

        Distances ``r`` are taken without squaring (:func:`~lookalike._math.
        distances.exact_distances`), so a log-term is ``-inf`` only where it is
        below the most negative float: ``r^2 / 2`` (Gaussian) or ``r``
        (exponential) beyond the largest float.
        """
        b = len(queries)
        sums = np.zeros(b)
        largest = np.full(b, -np.inf)
        compact = self.kernel.profile
        for block in self.train_blocks:
            terms = exact_distances(queries, self.training.points[block])
            if compact is not None:
                # Beyond r = 1 every compact profile is zero: no need to square large r.
                np.square(np.minimum(terms, 2.0, out=terms), out=terms)
                sums += compact(terms, out=terms) @ self.relative_weights[block]
                continue
            self._log_profile_at_distance(terms)
            terms += self.training.log_weights[block]
            _accumulate(terms, largest, sums)
        with np.errstate(divide="ignore"):
            if compact is not None:
                return np.log(sums) + self.training.max_log_weight
            return np.log(sums) + largest

    def _log_profile_at_distance(self, r: np.ndarray) -> np.ndarray:
        """``log k`` at distances ``r`` (not squared), in place, without spurious overflow."""
        with np.errstate(over="ignore"):
            if self.kernel.name == "gaussian":
                r *= math.sqrt(0.5)
                return np.negative(np.square(r, out=r), out=r)
            if self.kernel.name == "exponential":
                return np.negative(r, out=r)
            return self.kernel.log_profile(np.square(r, out=r), out=r)

    def _compact(
        self, queries: np.ndarray, query_sq: np.ndarray, order: np.ndarray, bounds: np.ndarray
    ) -> np.ndarray:
        """Log of ``sum w k(s)`` for kernels of compact support (values in [0, 1]).

        Near the edge of the support ``k`` vanishes linearly, so a term's
        rounding is absolute: at most ``slope E`` (:data:`COMPACT_SLOPE`) for an
        entry with ``s~ < 1 + E`` (possibly inside the support), nothing for
        the others. Rows whose sum is not large against the sum of those bounds
        are recomputed from exact distances.
        """
        profile = self.kernel.profile
        if profile is None:  # pragma: no cover - guarded by the caller
            raise ValueError(f"{self.kernel.name} has no direct profile")
        slope = COMPACT_SLOPE[self.kernel.name]
        augmented = augment_queries(queries, query_sq)
        b = len(queries)
        sums = np.zeros(b)
        error = np.zeros(b)
        buffer = self._buffer(b)
        for j in order:
            if bounds[j] == -np.inf:
                continue
            block = self.train_blocks[j]
            terms = self.distances(queries, augmented, block, self._view(buffer, b, block))
            errors = self.repair_compact(terms, queries, query_sq, j)
            if slope > 0.0 and errors.max() > 0.0:
                possible = np.count_nonzero(terms < (1.0 + errors)[:, np.newaxis], axis=1)
                error += slope * errors * possible
            profile(terms, out=terms)
            sums += terms @ self.relative_weights[block]
        doubtful = error > TERM_TOLERANCE * sums
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
            points = self.training.points[block]
            if self.squared_distance is not None:
                distances = self.squared_distance(queries, points)
            else:
                distances = cdist(queries, points, "sqeuclidean")
            sums += profile(distances) @ self.relative_weights[block]
        return sums


def _accumulate(terms: np.ndarray, largest: np.ndarray, sums: np.ndarray) -> None:
    """Add a block of log-terms to running ``(largest, sums)`` of each row, in place.

    ``sum_j exp(t_j) = exp(largest) * sums``; a new largest term rescales the
    running sum. Rows with no finite term yet keep ``(-inf, 0)``.
    """
    new = np.maximum(largest, terms.max(axis=1))
    shift = np.where(new > -np.inf, new, 0.0)
    sums *= np.exp(largest - shift)
    terms -= shift[:, np.newaxis]
    exp_in_place(terms)
    sums += terms.sum(axis=1)
    largest[...] = new
