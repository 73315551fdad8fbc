"""Multilinear interpolation of log kernel sums given on a regular grid.

At a query ``q``, ``log f`` is interpolated from the ``2^d`` nodes of its cell
(the sum itself where a node is ``-inf``); queries outside the grid are
reported, never extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lookalike._math.binned.grid import Grid

__all__ = [
    "EDGE_SLACK",
    "cells",
    "corner_weights",
    "interpolate",
    "interpolate_log_sums",
]


def interpolate_log_sums(
    axes: Sequence[np.ndarray], log_sums: np.ndarray, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Multilinear interpolation of log kernel sums given on a regular grid.

    Where the ``2^d`` corners of a query's cell are all finite, the log sum
    itself is interpolated (relative accuracy in Gaussian tails, where
    ``log f`` is smooth); where some corner is ``-inf`` (compact kernels at the
    edge of the support) the sum is interpolated and its log taken.

    Parameters
    ----------
    axes : sequence of d ndarrays of shapes (m_k,)
        Evenly spaced node coordinates per dimension, ``m_k >= 2``.
    log_sums : ndarray of shape (m_1, ..., m_d)
    queries : ndarray of shape (n_queries, d)

    Returns
    -------
    values : ndarray of shape (n_queries,)
        Interpolated values; ``nan`` for queries outside the grid.
    outside : ndarray of shape (n_queries,), bool
        Queries outside the grid's box (never extrapolated).

    Notes
    -----
    Cost ``O(2^d n_queries)``.
    """
    shape = tuple(len(a) for a in axes)
    origin = np.array([a[0] for a in axes], dtype=np.float64)
    step = np.array([(a[-1] - a[0]) / (len(a) - 1) for a in axes], dtype=np.float64)
    grid = Grid(origin, step, shape)
    corners, fractions, outside, _ = cells(grid, queries)
    out = np.full(queries.shape[0], np.nan)
    corner_values = np.asarray(log_sums).ravel()[corners]
    out[~outside] = interpolate(corner_values, corner_weights(fractions))
    return out, outside


# Queries this far (in cells) beyond an edge still count as on it (rounding of the nodes).
EDGE_SLACK = 1e-9


def cells(
    grid: Grid, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Corner indices (q, 2^d), fractions (q, d) and lower indices (q, d) of the inside
    queries; the outside mask."""
    d = grid.ndim
    t = (queries - grid.origin) / grid.spacing
    top = np.array(grid.shape, dtype=np.float64) - 1.0
    outside = ~np.all((t >= -EDGE_SLACK) & (t <= top + EDGE_SLACK), axis=1)
    t = np.clip(t[~outside], 0.0, top)
    lower = np.minimum(t.astype(np.intp), np.array(grid.shape) - 2)
    fractions = t - lower
    strides = np.array([math.prod(grid.shape[k + 1 :]) for k in range(d)], dtype=np.intp)
    base = lower @ strides
    offsets = np.array([int(np.dot(c, strides)) for c in np.ndindex(*(2,) * d)], dtype=np.intp)
    return base[:, np.newaxis] + offsets, fractions, outside, lower


def corner_weights(fractions: np.ndarray) -> np.ndarray:
    """Multilinear weights (q, 2^d) of a cell's corners (C order) at (q, d) fractions."""
    d = fractions.shape[1]
    bits = np.array(list(np.ndindex(*(2,) * d)), dtype=bool)  # (2^d, d), C order
    weights = np.where(bits, fractions[:, np.newaxis, :], 1.0 - fractions[:, np.newaxis, :])
    return weights.prod(axis=2)


def interpolate(corner_values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of (q, 2^d) corner log values with (q, 2^d) corner weights."""
    finite = np.isfinite(corner_values).all(axis=1)
    if finite.all():
        return np.einsum("ij,ij->i", weights, corner_values)
    result = np.empty(corner_values.shape[0])
    result[finite] = np.einsum("ij,ij->i", weights[finite], corner_values[finite])
    # Interpolate the sums themselves: log sum_c w_c exp(L_c), relative to the largest.
    values = corner_values[~finite]
    with np.errstate(divide="ignore"):
        terms = np.log(weights[~finite]) + values
    largest = terms.max(axis=1)
    empty = largest == -np.inf
    shifted = np.exp(terms[~empty] - largest[~empty, np.newaxis])
    partial = np.full(values.shape[0], -np.inf)
    partial[~empty] = largest[~empty] + np.log(shifted.sum(axis=1))
    result[~finite] = partial
    return result
