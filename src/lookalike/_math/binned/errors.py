"""The error model of the binned path: bounds, and the spacing that meets a tolerance.

Pure formulas (the derivation is in :mod:`lookalike._math.binned`, "Error
model"): :func:`error_bound` is the global model of the largest log error at a
spacing, :func:`spacing_for_tolerance` and :func:`bulk_spacing` invert it for
all queries or for the bulk of well-sampled data, and
:func:`node_error_bounds` and :func:`query_error_bounds` are the local bounds a
binned value carries. Measured errors against these bounds are in
``benchmarks/results/binned-error-model.md``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

__all__ = [
    "BULK_EXCESS",
    "DEFAULT_REACH",
    "FFT_ROUNDING",
    "MAX_TOLERANCE",
    "MIN_TOLERANCE",
    "SAFETY",
    "TOLERANCE_KERNELS",
    "bulk_spacing",
    "error_bound",
    "node_error_bounds",
    "query_error_bounds",
    "spacing_for_tolerance",
]

# The error model (module docstring): kernels it covers, the tolerances it is offered for,
# and the default reach rho (bandwidths): the default bounds' extension for the Gaussian
# kernel (4.29) plus one.
TOLERANCE_KERNELS = ("gaussian", "exponential")
MIN_TOLERANCE = 1e-6
MAX_TOLERANCE = 0.1
DEFAULT_REACH = 5.3
# Margin of the Gaussian model over its second-order terms.
SAFETY = 1.25
# The bulk of well-sampled data, for choosing a spacing (module docstring): a node
# factor s of at most d + BULK_EXCESS and an interpolation curvature of at most
# BULK_EXCESS.
BULK_EXCESS = 1.0
# Rounding of the FFT sums, relative to their largest value (measured: 2e-15).
FFT_ROUNDING = 1e-14


def error_bound(
    kernel: str,
    d: int,
    spacing: float,
    reach: float = DEFAULT_REACH,
    *,
    at: Literal["queries", "nodes"] = "queries",
) -> float:
    """Documented bound of the binned path's absolute error in log kernel sums.

    The global model: one ``reach`` for every point, the worst place in a
    cell, and the curvature bounded through the reach. The bounds of each
    node and query, with their own ``rho^2`` and measured curvature (module
    docstring), come from ``with_bound=True`` in :func:`log_sums_at` and
    :func:`grid_log_sums`.

    Parameters
    ----------
    kernel : str
        A key of :data:`~lookalike._math.kernels.KERNELS`.
    d : int
        Dimension, 1 to 3.
    spacing : float
        Node spacing in bandwidths (the largest, if it differs per dimension).
    reach : float, default=DEFAULT_REACH
        ``rho``: root-mean-square distance (bandwidths) from the evaluation
        point to the data, each point weighted by its kernel term (see the
        module docstring). Used by the Gaussian kernel only.
    at : {"queries", "nodes"}, default="queries"
        Error at interpolated queries (:func:`log_sums_at`) or at grid nodes
        (:func:`grid_log_sums`).

    Returns
    -------
    float
        ``1.25 (d + rho^2) spacing^2 / 8`` at nodes and twice that at queries
        for the Gaussian kernel; ``sqrt(d) spacing / 2 + d spacing^2 / 8`` at
        nodes and twice that at queries for the exponential kernel; ``inf``
        for compact kernels, whose log error is unbounded at the edge of the
        support (their bound is on the sums themselves: module docstring).
    """
    factor = 1.0 if at == "nodes" else 2.0
    if kernel == "gaussian":
        return SAFETY * factor * (d + reach * reach) * spacing * spacing / 8.0
    if kernel == "exponential":
        return factor * (math.sqrt(d) * spacing / 2.0 + d * spacing * spacing / 8.0)
    return math.inf


def spacing_for_tolerance(
    kernel: str, d: int, tol: float, reach: float = DEFAULT_REACH
) -> float | None:
    """Largest node spacing (bandwidths) whose :func:`error_bound` at queries is ``tol``.

    Parameters
    ----------
    kernel : str
    d : int
        Dimension, 1 to 3.
    tol : float
        Largest absolute error wanted in the log density (about the relative
        error of the density), at interpolated queries.
    reach : float, default=DEFAULT_REACH
        See :func:`error_bound`.

    Returns
    -------
    float or None
        The spacing; ``None`` where the binned path cannot promise ``tol``:
        compact kernels (any spacing), and ``tol`` below
        ``MIN_TOLERANCE`` (the FFT's rounding). Tolerances above
        ``MAX_TOLERANCE`` are treated as ``MAX_TOLERANCE``, where the model
        (second order in the spacing) still holds.

    Notes
    -----
    Whether the grid fits in memory depends on the data's extent; the
    evaluation raises :class:`GridTooLargeError` when it does not.
    """
    if kernel not in TOLERANCE_KERNELS or tol < MIN_TOLERANCE:
        return None
    tol = min(tol, MAX_TOLERANCE)
    if kernel == "gaussian":
        return math.sqrt(4.0 * tol / (SAFETY * (d + reach * reach)))
    # Exponential: d/4 h^2 + sqrt(d) h - tol = 0.
    a, b = d / 4.0, math.sqrt(d)
    return 2.0 * tol / (b + math.sqrt(b * b + 4.0 * a * tol))


def bulk_spacing(
    kernel: str, d: int, tol: float, *, at: Literal["queries", "nodes"] = "queries"
) -> float | None:
    """Largest node spacing (bandwidths) at which the bulk of the data meets ``tol``.

    For the Gaussian kernel, the per-node and per-query bounds (module
    docstring) with the bulk's design values: a node factor ``s = d +
    BULK_EXCESS`` and an interpolation curvature ``sum_k |d^2 log f / dq_k^2| =
    BULK_EXCESS``, at the worst place in a cell. Evaluation points beyond the bulk (tails, gaps,
    sparse data) have larger bounds, which :func:`log_sums_at` and
    :func:`grid_log_sums` report per point (``with_bound=True``), so that the
    caller can evaluate them exactly. Other kernels: :func:`spacing_for_tolerance`
    (the exponential kernel's bound does not depend on the data).

    Parameters
    ----------
    kernel : str
    d : int
        Dimension, 1 to 3.
    tol : float
        Largest absolute error wanted in the log sums.
    at : {"queries", "nodes"}, default="queries"
        Interpolated queries (:func:`log_sums_at`) or grid nodes
        (:func:`grid_log_sums`).

    Returns
    -------
    float or None
        ``sqrt(8 tol / (1.25 (d + 2 BULK_EXCESS)))`` at queries and
        ``sqrt(8 tol / (1.25 (d + BULK_EXCESS)))`` at nodes for the Gaussian
        kernel; ``None`` where :func:`spacing_for_tolerance` gives ``None``.
    """
    if kernel != "gaussian":
        return spacing_for_tolerance(kernel, d, tol if at == "queries" else 2.0 * tol)
    if tol < MIN_TOLERANCE:
        return None
    tol = min(tol, MAX_TOLERANCE)
    terms = d + (2.0 if at == "queries" else 1.0) * BULK_EXCESS
    return math.sqrt(8.0 * tol / (SAFETY * terms))


def node_error_bounds(spacing: np.ndarray, factor: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """The Gaussian bound at nodes, ``1.25 s delta^2 / 8``, plus the FFT's rounding."""
    return SAFETY * factor * float(spacing.max()) ** 2 / 8.0 + rounding


def query_error_bounds(
    fractions: np.ndarray,
    weights: np.ndarray,
    spacing: np.ndarray,
    node_bounds: np.ndarray,
    factor: np.ndarray,
    curvature: np.ndarray,
) -> np.ndarray:
    """The Gaussian bound at interpolated queries (module docstring).

    Parameters
    ----------
    fractions : ndarray of shape (q, d)
        Position of each query in its cell.
    weights : ndarray of shape (q, 2^d)
        The corners' interpolation weights (:func:`corner_weights`).
    spacing : ndarray of shape (d,)
    node_bounds, factor : ndarrays of shape (q, 2^d)
        At the cell's corners: the bounds and the factors ``s``.
    curvature : ndarray of shape (q, d)
        From :func:`cell_curvature`.

    Returns
    -------
    ndarray of shape (q,)
        The corners' bounds weighted as in the interpolation, plus 1.25 times
        ``sum_k t_k (1 - t_k) / 2`` times the largest second difference along
        ``k``, or where one is missing ``max s max_k t_k (1 - t_k) delta_k^2 / 2``
        (``|Var_pi(z_k) - 1| <= E_pi max(1, z_k^2 - 1)``).
    """
    node_term = np.einsum("ij,ij->i", weights, node_bounds)
    half = 0.5 * fractions * (1.0 - fractions)
    measured = (half * curvature).sum(axis=1)
    fallback = factor.max(axis=1) * (half * spacing**2).max(axis=1)
    return node_term + SAFETY * np.where(np.isnan(measured), fallback, measured)
