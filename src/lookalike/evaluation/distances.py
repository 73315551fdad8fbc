"""Nearest-neighbour distances between encoded rows, computed block by block.

Every function walks the query rows in blocks whose ``block x n_reference`` distance matrix
fits :data:`BLOCK_BYTES`, so memory never holds a full ``n_queries x n_reference`` matrix.
Squared distances come from one matrix product per block
(:mod:`lookalike._math.distances`); entries near zero, where the expansion's rounding
would matter, are recomputed exactly from the differences, so identical rows are at
distance exactly 0. Blocks run on a thread pool with one BLAS thread each
(:func:`lookalike._parallel.map_blocks`): the products are thin, bound by writing the
block rather than by arithmetic, and each block is reduced (minimum, comparison) by the
thread that made it. Results come back in block order, so they do not depend on threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from lookalike._math.blocks import row_slices
from lookalike._math.distances import (
    augment_points,
    augment_queries,
    refine_below,
    rounding_bound,
    squared_distances,
    squared_norms,
)
from lookalike._parallel import map_blocks

T = TypeVar("T")

BLOCK_BYTES = 16 * 2**20
"""Bytes of one block of the distance matrix (and of each temporary of its size)."""

_REFINE_FACTOR = 16.0


class _Reference:
    """Reference rows prepared for blocks of squared distances to query rows."""

    def __init__(self, reference: np.ndarray, queries: np.ndarray) -> None:
        self.rows = np.ascontiguousarray(reference, dtype=np.float64)
        self.queries = np.ascontiguousarray(queries, dtype=np.float64)
        reference_sq = squared_norms(self.rows)
        self.points = augment_points(self.rows, reference_sq)
        self.query_sq = squared_norms(self.queries)
        self.threshold = _REFINE_FACTOR * rounding_bound(
            float(self.query_sq.max(initial=0.0)),
            float(reference_sq.max(initial=0.0)),
            self.rows.shape[1],
        )

    def squared(self, rows: slice, exact_zero: bool = True) -> np.ndarray:
        """Squared distances of the query rows ``rows`` to every reference row.

        With ``exact_zero``, entries near zero are recomputed from the differences, so that
        identical rows are at distance exactly 0.
        """
        block = self.queries[rows]
        out = squared_distances(augment_queries(block, self.query_sq[rows]), self.points)
        if exact_zero:
            refine_below(out, block, self.rows, self.threshold)
        return out

    def map(self, func: Callable[[slice], T]) -> list[T]:
        """``func(rows)`` over blocks of query rows, in order, on the thread pool."""
        per_block = max(1, BLOCK_BYTES // (8 * max(self.rows.shape[0], 1)))
        return list(map_blocks(func, row_slices(self.queries.shape[0], per_block)))


def nearest(
    reference: npt.ArrayLike, queries: npt.ArrayLike, k: int = 1, *, skip_self: bool = False
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Distances and indices of the ``k`` nearest reference rows of every query row.

    Parameters
    ----------
    reference : array-like of shape (n_reference, d)
    queries : array-like of shape (n_queries, d)
    k : int, default=1
    skip_self : bool, default=False
        The queries are the reference rows themselves: the nearest row, the query itself
        at distance 0, is skipped (``k + 1`` neighbours are found and the first dropped;
        distances near 0 keep the rounding of the matrix product).

    Returns
    -------
    distances : ndarray of shape (n_queries, k)
        Sorted, nearest first.
    indices : ndarray of shape (n_queries, k)
    """
    prepared = _Reference(np.asarray(reference, dtype=np.float64), np.asarray(queries))
    take = k + 1 if skip_self else k
    if take > prepared.rows.shape[0]:
        raise ValueError(
            f"{take} neighbours asked among {prepared.rows.shape[0]} reference rows; pass "
            "more rows."
        )

    def block(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        squared = prepared.squared(rows, exact_zero=not skip_self)
        if take == 1:
            part = np.argmin(squared, axis=1)[:, None]
        elif take < squared.shape[1]:
            part = np.argpartition(squared, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(squared.shape[1]), squared.shape).copy()
        values = np.take_along_axis(squared, part, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        return (
            np.sqrt(np.take_along_axis(values, order, axis=1)),
            np.take_along_axis(part, order, axis=1),
        )

    results = prepared.map(block)
    if not results:
        return np.zeros((0, take - int(skip_self))), np.zeros((0, take - int(skip_self)), np.intp)
    distances = np.vstack([r[0] for r in results])
    indices = np.vstack([r[1] for r in results]).astype(np.intp)
    if skip_self:
        return distances[:, 1:], indices[:, 1:]
    return distances, indices


def nearest_distances(reference: npt.ArrayLike, queries: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Euclidean distance of every query row to its nearest reference row: shape (n_queries,).

    0 when there is no reference row (an empty reference is nothing to copy).
    """
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    if reference.shape[0] == 0 or queries.shape[0] == 0:
        return np.zeros(queries.shape[0])
    return nearest(reference, queries, 1)[0][:, 0]


def within_radius(
    reference: npt.ArrayLike, radii: npt.ArrayLike, queries: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Whether each query row lies within the radius of at least one reference row.

    ``radii[j]`` is the radius of the ball around reference row ``j`` (boundary included).
    """
    prepared = _Reference(np.asarray(reference, dtype=np.float64), np.asarray(queries))
    radii_sq = np.square(np.asarray(radii, dtype=np.float64))
    results = prepared.map(lambda rows: np.any(prepared.squared(rows) <= radii_sq, axis=1))
    return np.concatenate(results) if results else np.zeros(0, dtype=bool)


def nearest_ignoring(
    reference: npt.ArrayLike, queries: npt.ArrayLike, slices: Mapping[str, slice]
) -> dict[str, npt.NDArray[np.intp]]:
    """For each group of encoded columns, the nearest reference row when that group is hidden.

    Parameters
    ----------
    reference : array-like of shape (n_reference, d)
    queries : array-like of shape (n_queries, d)
    slices : mapping of str to slice
        Named groups of encoded columns (one table column each).

    Returns
    -------
    dict of str to ndarray of shape (n_queries,)
        ``out[name][i]``: index of the reference row nearest to query ``i`` over all
        encoded columns except ``slices[name]``.

    Notes
    -----
    One matrix product gives the full squared distances of a block; the hidden group's
    own squared distances (from a product of its few columns) are subtracted from them,
    so the cost is one full product plus one narrow product per group.
    """
    prepared = _Reference(np.asarray(reference, dtype=np.float64), np.asarray(queries))
    reference_rows = prepared.rows

    def block(rows: slice) -> dict[str, np.ndarray]:
        squared = prepared.squared(rows)
        queries_block = prepared.queries[rows]
        other = np.empty_like(squared)  # reused: no new block-sized array per group
        found = {}
        for name, columns in slices.items():
            part_q, part_r = queries_block[:, columns], reference_rows[:, columns]
            if part_q.shape[1] == 1:
                np.subtract(part_q, part_r[:, 0][None, :], out=other)
                np.square(other, out=other)
            else:
                np.matmul(part_q, part_r.T, out=other)
                other *= -2.0
                other += squared_norms(part_q)[:, None]
                other += squared_norms(part_r)[None, :]
            np.subtract(squared, other, out=other)
            found[name] = np.argmin(other, axis=1)
        return found

    results = prepared.map(block)
    return {
        name: (
            np.concatenate([r[name] for r in results]).astype(np.intp)
            if results
            else np.zeros(0, dtype=np.intp)
        )
        for name in slices
    }
