"""Nearest-neighbour distances between encoded rows, computed block by block.

Every function walks the query rows in blocks whose ``block x n_reference`` distance matrix
fits :data:`BLOCK_BYTES`, so memory never holds a full ``n_queries x n_reference`` matrix.
Squared distances come from one matrix product per block
(:mod:`lookalike._math.distances`); entries near zero, where the expansion's rounding
would matter, are recomputed exactly from the differences, so identical rows are at
distance exactly 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import nullcontext

import numpy as np
import numpy.typing as npt

from lookalike._math.blocks import row_slices, single_threaded_blas
from lookalike._math.distances import (
    augment_points,
    augment_queries,
    refine_near_zero,
    rounding_bound,
    squared_distances,
    squared_norms,
)

BLOCK_BYTES = 16 * 2**20
"""Bytes of one block of the distance matrix (and of each temporary of its size)."""

_REFINE_FACTOR = 16.0

THIN_COLUMNS = 64
"""Rows with at most this many encoded columns use one BLAS thread for their products."""


def _block_rows(n_reference: int) -> int:
    return max(1, BLOCK_BYTES // (8 * max(n_reference, 1)))


def _squared_blocks(
    reference: np.ndarray, queries: np.ndarray, exact_zero: bool = True
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, squared distances)`` for consecutive blocks of query rows.

    With ``exact_zero``, entries near zero are recomputed from the differences, so that
    identical rows are at distance exactly 0.
    """
    reference = np.ascontiguousarray(reference, dtype=np.float64)
    queries = np.ascontiguousarray(queries, dtype=np.float64)
    reference_sq = squared_norms(reference)
    points = augment_points(reference, reference_sq)
    query_sq = squared_norms(queries)
    threshold = _REFINE_FACTOR * rounding_bound(
        float(query_sq.max(initial=0.0)), float(reference_sq.max(initial=0.0)), reference.shape[1]
    )
    # Thin products are bound by writing the block, not by arithmetic: one BLAS thread is
    # as fast and does not contend with other threads (4x faster on a loaded machine).
    limit = single_threaded_blas() if reference.shape[1] <= THIN_COLUMNS else nullcontext()
    for rows in row_slices(queries.shape[0], _block_rows(reference.shape[0])):
        block = queries[rows]
        with limit:
            squared = squared_distances(augment_queries(block, query_sq[rows]), points)
        if exact_zero:  # exact distances where rounding could blur a (near) copy
            refine_near_zero(squared, block, reference, threshold)
        yield rows, squared


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
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    take = k + 1 if skip_self else k
    if take > reference.shape[0]:
        raise ValueError(
            f"{take} neighbours asked among {reference.shape[0]} reference rows; pass more rows."
        )
    distances = np.empty((queries.shape[0], take))
    indices = np.empty((queries.shape[0], take), dtype=np.intp)
    for rows, squared in _squared_blocks(reference, queries, exact_zero=not skip_self):
        if take < squared.shape[1]:
            part = np.argpartition(squared, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(squared.shape[1]), squared.shape).copy()
        values = np.take_along_axis(squared, part, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        indices[rows] = np.take_along_axis(part, order, axis=1)
        distances[rows] = np.sqrt(np.take_along_axis(values, order, axis=1))
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
    reference = np.asarray(reference, dtype=np.float64)
    radii_sq = np.square(np.asarray(radii, dtype=np.float64))
    out = np.zeros(np.asarray(queries).shape[0], dtype=bool)
    for rows, squared in _squared_blocks(reference, np.asarray(queries, dtype=np.float64)):
        out[rows] = np.any(squared <= radii_sq[None, :], axis=1)
    return out


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
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    out = {name: np.empty(queries.shape[0], dtype=np.intp) for name in slices}
    for rows, squared in _squared_blocks(reference, queries):
        block = queries[rows]
        for name, columns in slices.items():
            part_q, part_r = block[:, columns], reference[:, columns]
            if part_q.shape[1] == 1:
                own = np.square(part_q - part_r.T)
            else:
                own = (
                    squared_norms(part_q)[:, None]
                    + squared_norms(part_r)[None, :]
                    - 2.0 * (part_q @ part_r.T)
                )
            out[name][rows] = np.argmin(squared - own, axis=1)
    return out
