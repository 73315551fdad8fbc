"""Squared Euclidean distances between blocks of rows: one matrix product, repaired where needed.

Pure functions on arrays. For a block of queries ``q`` (b, d) and of points
``x`` (c, d) the squared distances follow from one matrix product of
*augmented* rows,

.. math::

    s_{ij} = \\lVert q_i \\rVert^2 + \\lVert x_j \\rVert^2 - 2\\, q_i \\cdot x_j
           = [-2 q_i,\\ \\lVert q_i \\rVert^2,\\ 1] \\cdot [x_j,\\ 1,\\ \\lVert x_j \\rVert^2],

which runs at BLAS speed but carries the cancellation error of the expansion.

The error bound
    A dot product of ``n`` terms computed in any order (with or without fused
    multiply-adds) is within ``gamma_n sum_k |a_k b_k|`` of the exact one,
    ``gamma_n = n eps / (1 - n eps)`` (Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., section 3.1). Here ``n = d + 2`` and
    ``sum |a_k b_k| <= 2 |q| |x| + |q|^2 + |x|^2 <= 2 (|q|^2 + |x|^2)``; the
    computed norms themselves are within ``gamma_d`` of the exact ones. So

    .. math::

        |\\tilde s_{ij} - s_{ij}| \\le E_{ij} = (3 d + 6)\\, \\epsilon\\,
            (\\lVert q_i \\rVert^2 + \\lVert x_j \\rVert^2) ,

    at every magnitude, not only near ``s = 0``: ``E`` is about ``eps s`` when
    the two rows are far apart compared with their norms, and much larger than
    ``s`` when they nearly coincide far from the origin (or, in scaled
    coordinates, when the data span many bandwidths). Clipping ``s~`` at zero
    keeps the sign right but not the size. :func:`expansion_error` gives
    ``E``; :func:`untrusted_below` turns it into the squared distance below
    which a log-kernel term could be off by more than
    ``TERM_TOLERANCE + TERM_RTOL |term|``; :func:`refine` and
    :func:`refine_below` recompute chosen entries from the differences
    ``q - x`` (relative error ``(d + 2) eps``), so callers repair exactly the
    entries whose rounding could matter. Norms above
    :data:`LARGEST_SQUARED_NORM` could overflow the expansion: callers take
    exact differences for those rows instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import cdist

EPS = float(np.finfo(np.float64).eps)
# When more than this fraction of a block needs exact distances, compute the block exactly.
EXACT_BLOCK_FRACTION = 0.25
# Largest rounding error (nats) allowed in the log of one kernel term: an absolute part
# and a part relative to the term's exponent (s / 2 for the Gaussian, r for the
# exponential kernel), so that far from the data (where the exponent is huge and even
# exact differences round by eps s) the error stays relative.
TERM_TOLERANCE = 1e-11
TERM_RTOL = 1e-12
# Squared norms above this could overflow |q|^2 + |x|^2 - 2 q.x (whose terms reach
# 2 (|q|^2 + |x|^2)); such rows take exact differences.
LARGEST_SQUARED_NORM = 1e300
# Slack on the (3 d + 6) eps constant: gamma_n = n eps / (1 - n eps) and second-order terms.
_SLACK = 1.01


def squared_norms(rows: np.ndarray) -> np.ndarray:
    """``|x_i|^2`` of every row: shape (n,); ``inf`` where it overflows."""
    with np.errstate(over="ignore"):
        return np.einsum("ij,ij->i", rows, rows)


def augment_queries(queries: np.ndarray, query_sq: np.ndarray) -> np.ndarray:
    """Rows ``[-2 q, |q|^2, 1]``: shape (b, d + 2)."""
    b, d = queries.shape
    out = np.empty((b, d + 2))
    np.multiply(queries, -2.0, out=out[:, :d])
    out[:, d] = query_sq
    out[:, d + 1] = 1.0
    return out


def augment_points(points: np.ndarray, point_sq: np.ndarray) -> np.ndarray:
    """Rows ``[x, 1, |x|^2]``: shape (c, d + 2)."""
    c, d = points.shape
    out = np.empty((c, d + 2))
    out[:, :d] = points
    out[:, d] = 1.0
    out[:, d + 1] = point_sq
    return out


def squared_distances(augmented_queries: np.ndarray, augmented_points: np.ndarray) -> np.ndarray:
    """Squared distances (b, c) from augmented rows; rounding below zero is clipped."""
    out = augmented_queries @ augmented_points.T
    np.maximum(out, 0.0, out=out)
    return out


def rounding_factor(n_features: int) -> float:
    """``(3 d + 6) eps`` with slack: ``factor (|q|^2 + |x|^2)`` bounds the expansion's error."""
    return _SLACK * (3.0 * n_features + 6.0) * EPS


def expansion_error(query_sq: np.ndarray | float, point_sq: float, n_features: int) -> np.ndarray:
    """The bound ``E`` on ``|s_computed - s_exact|`` for rows of the given squared norms.

    Broadcasts: per query row against the largest squared norm of a block of
    points gives a bound for every entry of the row in that block. Rigorous
    (worst case, any summation order); see the module docstring.
    """
    return rounding_factor(n_features) * (np.asarray(query_sq, dtype=np.float64) + point_sq)


def rounding_bound(max_query_sq: float, max_point_sq: float, n_features: int) -> float:
    """:func:`expansion_error` for the largest norms: a bound for a whole block."""
    return rounding_factor(n_features) * (max_query_sq + max_point_sq)


def untrusted_below(errors: np.ndarray, fragile: bool, bandwidth: float = 1.0) -> np.ndarray:
    """Squared distances below which the expansion's error can move a log-kernel term.

    Parameters
    ----------
    errors : ndarray
        Bounds ``E`` of the expansion's error (:func:`expansion_error`).
    fragile : bool
        The kernel's log depends on ``r = sqrt(s)`` (exponential): slope
        ``1 / (2 h sqrt(s))`` in ``s``. Otherwise the log-kernel has a slope of
        at most ``1 / (2 h^2)`` (Gaussian).
    bandwidth : float, default=1.0
        ``h`` when distances are in data units and terms are ``log k(s / h^2)``.

    Returns
    -------
    thresholds : ndarray, shaped as ``errors``
        Entries with ``s~ < threshold`` may have a term error above
        ``TERM_TOLERANCE + TERM_RTOL |term|``; those above it cannot.

    Notes
    -----
    Gaussian: the term error is at most ``E / 2h^2``, within the tolerance when
    ``E <= 2 TOL h^2 + RTOL s~``. Exponential: ``|sqrt(s~) - sqrt(s)| <= E /
    sqrt(s~)``, within ``TOL + RTOL sqrt(s~)`` (times ``1/h``) when
    ``s~ >= (E / (TOL h))^2`` or ``s~ >= E / RTOL``.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if fragile:
        with np.errstate(over="ignore"):
            return np.minimum((errors / (TERM_TOLERANCE * bandwidth)) ** 2, errors / TERM_RTOL)
    return (errors - 2.0 * TERM_TOLERANCE * bandwidth**2) / TERM_RTOL


def exact_squared_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``|first_i - second_i|^2`` for paired rows: shape (n,); ``inf`` where it overflows."""
    with np.errstate(over="ignore"):
        difference = first - second
        return np.einsum("ij,ij->i", difference, difference)


def exact_distances(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``|q_i - x_j|`` (b, c), not squared, by ``hypot`` feature after feature.

    No intermediate overflows: the result is ``inf`` only where the distance
    itself (or one coordinate difference) exceeds the largest float. Relative
    error at most ``d`` ulps. Cost ``O(b c d)`` element-wise: for rows whose
    norms are too large for the expansion.
    """
    with np.errstate(over="ignore"):
        out = np.abs(np.subtract.outer(queries[:, 0], points[:, 0]))
        for k in range(1, queries.shape[1]):
            np.hypot(out, np.subtract.outer(queries[:, k], points[:, k]), out=out)
    return out


def refine(
    distances: np.ndarray, queries: np.ndarray, points: np.ndarray, mask: np.ndarray
) -> int:
    """Recompute ``distances[mask]`` exactly from the differences, in place.

    Returns the number of entries recomputed. Cost: ``O(d)`` per entry.
    """
    rows, cols = np.nonzero(mask)
    if rows.size:
        distances[rows, cols] = exact_squared_distances(queries[rows], points[cols])
    return int(rows.size)


def refine_entries(
    distances: np.ndarray,
    queries: np.ndarray,
    points: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
) -> None:
    """Exact distances at ``(rows, cols)``; the whole block when most of it is listed."""
    if rows.size > EXACT_BLOCK_FRACTION * distances.size:
        distances[...] = cdist(queries, points, "sqeuclidean")
    elif rows.size:
        distances[rows, cols] = exact_squared_distances(queries[rows], points[cols])


def refine_or_recompute(
    distances: np.ndarray, queries: np.ndarray, points: np.ndarray, mask: np.ndarray
) -> None:
    """Exact distances where ``mask``; the whole block when most of it is masked."""
    rows, cols = np.nonzero(mask)
    refine_entries(distances, queries, points, rows, cols)


def refine_below(
    distances: np.ndarray,
    queries: np.ndarray,
    points: np.ndarray,
    thresholds: np.ndarray | float,
) -> None:
    """Exact distances for the entries below ``thresholds`` (one per row, or one), in place.

    Rows are screened by their minimum first, so a block with no entry below
    its row's threshold costs one pass.
    """
    limits = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), distances.shape[:1])
    if not limits.max(initial=-np.inf) > 0.0:
        return
    rows = np.flatnonzero(distances.min(axis=1) < limits)
    if rows.size:
        part = distances[rows]
        refine_or_recompute(part, queries[rows], points, part < limits[rows, np.newaxis])
        distances[rows] = part


def squared_scaled_metric(
    pairwise: Callable[[np.ndarray, np.ndarray], np.ndarray], bandwidth: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``(d(q, x) / h)^2`` for blocks of rows from a metric's ``pairwise``; ``inf`` on overflow."""

    def squared_scaled(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
        distances = pairwise(queries, points)
        with np.errstate(over="ignore"):
            distances /= bandwidth
            return np.square(distances, out=distances)

    return squared_scaled
