"""Binned kernel sums for d <= 3: linear binning, FFT convolution, interpolation, repair.

Pure functions on arrays, in *scaled* coordinates (the bandwidth divided out, so
the kernel has unit bandwidth). For data ``x_j`` with weights ``w_j`` they
approximate, like :mod:`~lookalike._math.kernel_sums` computes exactly,

.. math::

    \\log f(q) = \\log \\sum_j w_j \\, k(\\lVert q - x_j \\rVert^2) ,

``-inf`` where the sum is zero; the caller adds the kernel's normalising
constant and divides by the total weight.

The maths
---------
Linear binning (:mod:`~lookalike._math.binning`) moves the data onto the nodes
``g_i`` of a regular grid of spacing ``delta`` (bandwidths), giving counts
``c_i``. At the nodes, the binned sum

.. math::

    \\tilde f(g_i) = \\sum_l c_l \\, k(\\lVert g_i - g_l \\rVert^2)

is a discrete convolution of the counts with the kernel sampled at node offsets:
one zero-padded real FFT per array (sizes from ``scipy.fft.next_fast_len``),
padded to ``m + L`` nodes per dimension for a kernel that reaches ``L`` nodes, so
nothing wraps around. Compact kernels are sampled over their whole support. The
Gaussian and exponential kernels are sampled out to where everything they leave
out is below ``TRUNCATION_SHARE`` (1e-10) of every FFT value that is kept (the
Gaussian spectrum is a product of 1-D spectra). Data outside the requested bounds
are binned on the same lattice extended to hold them. At a query ``q``, ``log
\\tilde f`` is interpolated multilinearly from the ``2^d`` nodes of its cell
(the sum itself where a node is ``-inf``); queries outside the grid are reported,
never extrapolated.

Tail repair
-----------
FFT rounding is absolute: about ``2e-15`` of the largest value (measured for the
Gaussian, exponential and epanechnikov kernels on 1-D, 2-D and 3-D grids of up
to 13M nodes), so the log of small values is noise: without the repair, errors
pass 10 nats 5 to 30 bandwidths outside the data, and KDEpy's FFTKDE is off by
1.8 nats at the ends of its default grid on 1M points. Nodes where the FFT sum is below
``REPAIR_FRACTION`` (1e-8) of the largest value are recomputed directly: a
log-sum-exp over the nonzero bins by the exact engine
(:func:`~lookalike._math.kernel_sums.log_kernel_sums`, which skips bins too far
to contribute). What the FFT keeps has a relative rounding error below 1e-6
(measured: 2e-7). For compact kernels, nodes with no nonzero bin inside the
support (counted by a second FFT, of the bins' occupancy with the support's
indicator) are exactly ``-inf``. :func:`grid_log_sums` repairs every node that
needs it, :func:`log_sums_at` only the corners of the queries' cells.

Error model
-----------
After the repair, only binning and interpolation remain.

*Gaussian kernel, at nodes.* One point at offset ``z`` (per dimension) binned
with cell fraction ``t`` has its term multiplied by ``R = (1 - t) e^{-z t delta
- t^2 delta^2 / 2} + t e^{z (1 - t) delta - (1 - t)^2 delta^2 / 2}``, and ``|log
R| <= max(1, z^2 - 1) delta^2 / 8`` (second order; checked numerically up to ``z
delta = 1``, where the ratio peaks at 1.000). The product kernel makes the
dimensions add up, and the sum is a weighted mean of the terms' ratios, so at a
node ``|log f~ - log f| <= s delta^2 / 8`` with the node's *factor*

.. math::

    s = E_\\pi \\sum_k \\max(1, z_k^2 - 1) \\le d + \\rho^2 ,
    \\qquad \\rho^2 = E_\\pi \\lVert z \\rVert^2 ,

``E_pi`` the mean over the data, each point weighted by its share ``pi_j`` of the
node's sum, and the *reach* ``rho^2`` the mean squared distance (bandwidths)
from the node to the data. With 25% for the higher orders, the bound at node
``g`` is

.. math::

    B(g) = 1.25 \\, s(g) \\, \\delta^2 / 8 + 10^{-14} \\, \\max \\tilde f / \\tilde f(g) ,

the last term the FFT's rounding (:data:`FFT_ROUNDING`; zero at repaired nodes).

*The local factor and reach.* Both are computed where needed, for the binned
data (within ``O(delta^2)`` of the data's). Where the FFT is trusted, ``s`` is
the ratio of a second convolution of the same counts, with ``sum_k max(1, u_k^2
- 1) k(|u|^2)``, to the first, and likewise ``rho^2`` with ``|u|^2 k(|u|^2)``
(:func:`grid_squared_reach`). Either kernel is a sum over ``k`` of a 1-D factor
along ``k`` times the Gaussian along the others, so its transform is ``sum_k A_k
prod_{j != k} G_j`` from 1-D transforms, and it shares the counts' transform:
one more inverse FFT. At repaired nodes, where such a ratio would be rounding
noise, ``s <= d + rho^2`` is used, with ``rho^2`` from the direct sums: ``rho^2
= G / f - 2``, ``G`` the sum of ``(|u|^2 + 2) k`` (a decreasing profile, as the
exact engine's pruning needs), or, where the node's bound from it is within the
caller's tolerance, from the free upper bound ``rho^2 <= 2 (log W - log f)``
(``W`` the total weight; it is ``KL(pi || c / W) >= 0``). Repaired nodes are
below ``1e-8`` of the peak, far from the data, where ``rho^2`` is large anyway
and that bound exceeds it by about ``2 log(W / w)`` for the weight ``w`` nearby
(about a factor 2 next to a lone outlier).

*At interpolated queries.* ``log f~`` is interpolated from the corners ``c`` of
the query's cell with weights ``w_c``. The error splits into ``sum_c w_c (log
f~(g_c) - log f(g_c))``, at most ``sum_c w_c B(g_c)``, and the interpolation
error of ``log f`` itself, at most ``sum_k t_k (1 - t_k) delta_k^2 / 2`` times the
largest ``|d^2 log f / dq_k^2| = |Var_pi(z_k) - 1|`` in the cell (``t_k`` the
query's fraction of the cell). That curvature is measured by the second
differences of the log sums along ``k`` at the cell's corners (each is
``delta_k^2`` times the curvature at a point within a node of the corner; the
binning error is a smooth function of ``g`` whose own second difference is of
order ``delta^4``), taking the largest; where a neighbour beyond the cell is off
the grid or in the repaired tails, ``sum_k |Var_pi(z_k) - 1| <= s`` (the largest
at the corners) bounds it. So, with 25% for the higher orders,

.. math::

    B(q) = \\sum_c w_c B(g_c)
           + 1.25 \\sum_k \\frac{t_k (1 - t_k)}{2} \\max_c |\\Delta_k^2 \\log \\tilde f(g_c)| ,

or with the fallback ``1.25 max_c s(g_c) max_k t_k (1 - t_k) delta_k^2 / 2`` as
the second term. With ``s <= d + rho^2`` for both terms and ``t = 1/2``, ``B``
is the global model of :func:`error_bound`, ``1.25 (d + rho^2) delta^2 / 4``
(twice the node bound), which with :data:`DEFAULT_REACH` (5.3, queries up to the
default bounds, 4.29 bandwidths beyond data without wide gaps) is 25 to 50 times too
pessimistic in the bulk.

*The bulk, and choosing a spacing.* In the bulk of well-sampled data ``pi`` is
close to the kernel itself: ``s`` is about ``1.26 d`` (its value for a normal
``pi``), ``rho^2`` about ``d`` and the curvature about 0 (20k standard normal
points in 2-D at Scott's bandwidth, queries from the same law: ``rho^2`` median
1.97, 99th percentile 2.5; ``sum_k |Var_pi(z_k) - 1|`` median 0.08, 99th
percentile 0.42). ``rho^2`` grows to ``D^2`` at a distance ``D`` outside the
data, up to ``d + D^2 / 4`` in a gap of width ``D``, and varies with the
neighbours in sparse data. :func:`bulk_spacing` designs for ``s = d + 1`` and a
curvature of 1 (:data:`BULK_EXCESS`) at the worst place in a cell; the points
beyond the bulk have their own, larger, bounds (``with_bound=True`` in
:func:`log_sums_at` and :func:`grid_log_sums`), and the estimator evaluates
those above its tolerance exactly (0.16% of the queries in that example at
``tol = 1e-3``, all beyond 3.3 standard deviations).

*Exponential kernel.* ``log k = -|u|`` has no curvature along ``u`` (far terms
err by ``delta^2 / 8`` per dimension, whatever the distance) but a kink at each
data point, where binning and interpolation cost up to ``sqrt(d) delta / 2``
each: ``|Delta log f| <= sqrt(d) delta / 2 + d delta^2 / 8`` (nodes), twice that
(queries), first order in ``delta``, the same everywhere.

*Compact kernels* (tophat, epanechnikov, linear, cosine). Near the edge of the
estimate's support the relative error is unbounded (binning moves mass by up to
``delta sqrt(d)``, inside or outside a ball), so no log tolerance is offered.
The sums themselves obey ``|f^(q) - f(q)| <= 1.5 L delta sqrt(d) W(q)`` for a
profile with slope at most ``L`` in the distance (epanechnikov 2, linear 1,
cosine pi/2) and ``W(q)`` the weight within ``1 + 2 delta sqrt(d)`` of ``q``;
for the tophat, ``W`` of the shell at distances ``1 +- 2 delta sqrt(d)``.

Measured, Gaussian kernel: largest absolute log error at 800 queries (400 for
tails and gap) against the exact sums, the worst ratio of the error to the
query's own bound ``B(q)`` and to the node bound ``B(g)`` (800 nodes), and the
median ``B(q)``. Dense: 2000 points ``N(0, 4 I)``, queries a point plus ``N(0,
I)``; sparse: 30 points uniform on ``[-12, 12]^d``, same queries; tails: 400
queries 5 to 30 bandwidths beyond the dense data; gap: 2000 points in two unit
normals 18 apart, queries in the middle::

    d  delta  case     error    error/B(q)  error/B(g)  median B(q)
    1  0.2    dense    7.5e-3   0.42        0.53        8.5e-3
    1  0.2    sparse   1.3e-2   0.65        0.63        8.9e-3
    1  0.2    tails    3.0      0.73        0.73        2.3
    1  0.2    gap      2.5e-1   0.65        0.66        7.8e-2
    1  0.05   dense    4.6e-4   0.41        0.45        5.3e-4
    1  0.05   sparse   8.0e-4   0.60        0.56        5.5e-4
    1  0.05   tails    2.7e-1   0.75        0.75        1.7e-1
    1  0.05   gap      1.9e-2   0.65        0.62        4.9e-3
    1  0.02   dense    7.9e-5   0.44        0.55        8.5e-5
    1  0.02   sparse   1.8e-4   0.72        0.77        8.7e-5
    1  0.02   tails    3.4e-2   0.59        0.60        3.2e-2
    1  0.02   gap      3.2e-3   0.69        0.62        8.0e-4
    2  0.1    dense    1.6e-3   0.29        0.76        4.3e-3
    2  0.1    sparse   1.3e-2   0.75        0.78        5.2e-3
    2  0.1    tails    1.0      0.47        0.76        9.9e-1
    2  0.1    gap      8.1e-2   0.67        0.69        2.2e-2
    2  0.05   dense    3.9e-4   0.28        0.71        1.1e-3
    2  0.05   sparse   3.0e-3   0.76        0.79        1.3e-3
    2  0.05   tails    2.6e-1   0.56        0.70        2.4e-1
    2  0.05   gap      1.7e-2   0.56        0.57        5.4e-3
    2  0.04   dense    3.0e-4   0.27        0.70        6.8e-4
    2  0.04   sparse   2.4e-3   0.76        0.77        8.3e-4
    2  0.04   tails    1.8e-1   0.70        0.79        1.5e-1
    2  0.04   gap      1.3e-2   0.66        0.73        3.5e-3

Other kernels (largest absolute log error at 800 queries, 2000 dense normal
points or 30 sparse uniform points; tails: 400 queries 5 to 30 bandwidths
outside 3000 points; "worst / model" is the largest ratio of the error to the
model)::

    kernel       d  delta   dense    sparse   tails    worst / model
    exponential  1  0.05    7.8e-4   1.2e-2   1.0e-4   0.31
    exponential  1  0.02    3.5e-4   3.5e-3   3.5e-5
    exponential  2  0.05    1.1e-3   6.5e-3
    epanechnikov 1  0.02    2.3e-4*  2.0e-3*           0.12 of the bound on sums
    tophat       1  0.02    2.4e-2*  1.4e-1*

(* where the density is above half its largest value; unbounded at the edge.)

Limits
------
``d <= 3``; grids of at most ``max_cells`` nodes (default ``2**22``), else
:class:`GridTooLargeError`, which the estimator catches to evaluate exactly;
tolerances from ``MIN_TOLERANCE`` (1e-6, above the FFT's rounding) to
``MAX_TOLERANCE`` (0.1); log tolerances for the Gaussian and exponential kernels
only. The FFT arrays hold up to ``2^d`` times the grid's nodes.

References
----------
.. [1] Silverman, B. W. (1982). Algorithm AS 176: Kernel density estimation
   using the fast Fourier transform. *Applied Statistics* 31, 93-99.
.. [2] Wand, M. P. (1994). Fast computation of multivariate kernel estimators.
   *Journal of Computational and Graphical Statistics* 3, 433-445.
.. [3] Wand, M. P. and Jones, M. C. (1995). *Kernel Smoothing*, Appendix D.
   Chapman and Hall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, NoReturn, overload

import numpy as np
import scipy.fft

from lookalike._math.binning import linear_binning
from lookalike._math.blocks import effective_n_jobs
from lookalike._math.kernel_sums import TrainingPoints, log_kernel_sums, prepare_training_points
from lookalike._math.kernels import KERNELS, Kernel

# Grid cells allowed by default (binning grid; the FFT arrays are up to 2^d times larger).
DEFAULT_MAX_CELLS = 2**22
# Node counts are clipped here before becoming integers (data spanning more nodes than an
# int64 holds): such a grid is far over any max_cells and is refused.
MAX_COUNT = 2.0**52
# FFT values below this fraction of the largest are recomputed directly (tail repair).
REPAIR_FRACTION = 1e-8
# Default bounds: the data range extended by the support, or for unbounded kernels by the
# radius where the profile has fallen to 1e-4 of its peak.
PRACTICAL_LEVEL = 1e-4
# The sampled unbounded kernels stop where what they leave out is below this fraction of
# any FFT value kept; never beyond log k = -UNDERFLOW_LOG, where exp underflows to zero.
TRUNCATION_SHARE = 1e-10
UNDERFLOW_LOG = 746.0
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

# The Gaussian moments convolved besides the sums: E_pi |z|^2 ("squared", the reach
# rho^2) and E_pi sum_k max(1, z_k^2 - 1) ("factor", the node bound's factor s).
Moment = Literal["squared", "factor"]


class GridTooLargeError(ValueError):
    """The grid needed for the requested accuracy has more cells than allowed.

    The estimator catches it and evaluates exactly instead.
    """


# --------------------------------------------------------------------------------------
# The error model


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


# --------------------------------------------------------------------------------------
# Grids


@dataclass(frozen=True)
class Grid:
    """A regular grid: nodes ``origin + index * spacing``, ``shape`` nodes per dimension.

    Attributes
    ----------
    origin : ndarray of shape (d,)
    spacing : ndarray of shape (d,)
    shape : tuple of d ints, each at least 2
    """

    origin: np.ndarray
    spacing: np.ndarray
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def axes(self) -> list[np.ndarray]:
        """Node coordinates per dimension: ``d`` arrays of shapes ``(m_k,)``."""
        return [self.origin[k] + self.spacing[k] * np.arange(m) for k, m in enumerate(self.shape)]

    def nodes(self, flat_index: np.ndarray) -> np.ndarray:
        """Coordinates (len(flat_index), d) of nodes given by C-order flat indices."""
        index = np.unravel_index(flat_index, self.shape)
        return np.column_stack(
            [self.origin[k] + self.spacing[k] * index[k] for k in range(self.ndim)]
        )


def default_extension(kernel: Kernel) -> float:
    """How far (bandwidths) default bounds reach beyond the data.

    The support for compact kernels; for unbounded ones the radius where the
    profile has fallen to ``PRACTICAL_LEVEL`` (1e-4) of its peak: 4.29 for the
    Gaussian, 9.21 for the exponential kernel.
    """
    if math.isfinite(kernel.support):
        return kernel.support
    log_level = math.log(PRACTICAL_LEVEL)
    if kernel.name == "gaussian":
        return math.sqrt(-2.0 * log_level)
    return -log_level


def make_grid(
    points: np.ndarray,
    kernel: Kernel,
    n_points: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    bounds: np.ndarray | None = None,
    data_range: tuple[np.ndarray, np.ndarray] | None = None,
) -> Grid:
    """The evaluation grid from a number of nodes or a spacing, and optional bounds.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Scaled data; used only for the default bounds.
    kernel : Kernel
    n_points : int or sequence of d ints, default=None
        Nodes per dimension (at least 2), spread evenly over the bounds.
    spacing : float or sequence of d floats, default=None
        Node spacing (bandwidths); the grid starts at the lower bound and has
        as many nodes as it takes to reach the upper one (it may end up to one
        spacing beyond). Exactly one of ``n_points`` and ``spacing`` is given.
    bounds : ndarray of shape (d, 2), default=None
        Lower and upper bound per dimension. ``None``: the data range extended
        by :func:`default_extension` on both sides.
    data_range : (ndarray of shape (d,), ndarray of shape (d,)), default=None
        ``(points.min(axis=0), points.max(axis=0))`` if already known.

    Returns
    -------
    Grid
    """
    d = points.shape[1]
    if bounds is None:
        reach = default_extension(kernel)
        low, high = _data_range(points) if data_range is None else data_range
        low = low - reach
        high = high + reach
    else:
        bounds = np.asarray(bounds, dtype=np.float64).reshape(d, 2)
        low, high = bounds[:, 0].copy(), bounds[:, 1].copy()
    if n_points is not None:
        shape = tuple(int(m) for m in np.broadcast_to(n_points, (d,)))
        step = (high - low) / (np.array(shape) - 1.0)
    else:
        step = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (d,)).copy()
        # A relative slack so that rounding never adds a node beyond the bound.
        counts = (
            np.ceil(np.minimum((high - low) / step * (1.0 - 1e-12), MAX_COUNT)).astype(int) + 1
        )
        shape = tuple(int(max(m, 2)) for m in counts)
    return Grid(np.asarray(low, dtype=np.float64), np.asarray(step, dtype=np.float64), shape)


def _data_range(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)


def _covering_grid(
    grid: Grid, data_range: tuple[np.ndarray, np.ndarray]
) -> tuple[Grid, tuple[int, ...]]:
    """A grid of the same lattice holding ``grid`` and the data, and ``grid``'s offset in it."""
    low, high = data_range
    top = grid.origin + grid.spacing * (np.array(grid.shape) - 1)
    before = np.clip(np.ceil((grid.origin - low) / grid.spacing), 0, MAX_COUNT).astype(int)
    after = np.clip(np.ceil((high - top) / grid.spacing), 0, MAX_COUNT).astype(int)
    shape = tuple(int(m + b + a) for m, b, a in zip(grid.shape, before, after, strict=True))
    origin = grid.origin - before * grid.spacing
    return Grid(origin, grid.spacing, shape), tuple(int(b) for b in before)


# --------------------------------------------------------------------------------------
# FFT convolution


def _kernel_reach(
    kernel: Kernel, spacing: np.ndarray, shape: tuple[int, ...], log_share: float
) -> list[int]:
    """Largest node offset per dimension at which the sampled kernel is kept.

    Compact kernels: their support. Unbounded kernels stop where the profile
    falls below ``exp(log_share)``, where ``log_share`` makes everything cut
    off negligible next to every FFT value that is kept (see :func:`_convolve`).
    """
    if math.isfinite(kernel.support):
        radius = kernel.support
    elif kernel.name == "gaussian":
        radius = math.sqrt(-2.0 * log_share)
    else:
        radius = -log_share
    return [int(min(m - 1, math.floor(radius / h))) for m, h in zip(shape, spacing, strict=True)]


def _circular_offsets(size: int, reach: int, step: float) -> np.ndarray:
    """Offsets ``l * step`` laid out circularly on ``size`` slots; ``inf`` beyond ``reach``."""
    offsets = np.full(size, np.inf)
    offsets[: reach + 1] = step * np.arange(reach + 1)
    if reach:
        offsets[size - reach :] = step * np.arange(reach, 0, -1)
    return offsets


def _gaussian_factors(
    spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], moment: Moment | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """1-D transforms of ``exp(-u^2 / 2)``, and of ``m(u) exp(-u^2 / 2)``, per dimension.

    ``m(u) = u^2`` for ``moment="squared"``, ``max(1, u^2 - 1)`` for
    ``moment="factor"`` (none for ``None``). Each is sampled on the node offsets
    (:func:`_circular_offsets`) and transformed along its axis of the ``rfftn``
    layout (real: both are even).
    """
    d = len(fft_shape)
    plain, weighted = [], []
    for k, (size, r, h) in enumerate(zip(fft_shape, reach, spacing, strict=True)):
        u = _circular_offsets(size, r, h)
        values = np.exp(-0.5 * u * u)
        transform = scipy.fft.rfft if k == d - 1 else scipy.fft.fft
        plain.append(transform(values).real)
        if moment is not None:
            squared = np.where(values > 0.0, u, 0.0) ** 2
            if moment == "factor":
                squared = np.maximum(squared - 1.0, 1.0)
            weighted.append(transform(squared * values).real)
    return plain, weighted


def _gaussian_spectra(
    spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], moment: Moment | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``rfftn`` of the sampled ``k = exp(-|u|^2 / 2)``, and of ``sum_k m(u_k) k`` if asked.

    The first is the outer product of the 1-D transforms ``G_k``. The second
    (``m`` as in :func:`_gaussian_factors`: ``|u|^2 k`` or ``sum_k max(1, u_k^2 -
    1) k``) is ``sum_k A_k prod_{j != k} G_j`` with ``A_k`` the 1-D transform of
    ``m(u_k) exp(-u_k^2 / 2)``, built dimension by dimension: over the first
    ``k`` dimensions, ``M_{k+1} = M_k G_{k+1} + P_k A_{k+1}`` with ``P_k`` the
    product of the ``G``; the last step is one matrix product with an inner
    dimension of two.
    """
    plain, weighted = _gaussian_factors(spacing, fft_shape, reach, moment)
    if moment is None:
        spectrum = plain[0]
        for factor in plain[1:]:
            spectrum = np.multiply.outer(spectrum, factor)
        return spectrum, None
    product, moments = plain[0], weighted[0]
    for k in range(1, len(fft_shape) - 1):
        moments = np.multiply.outer(moments, plain[k]) + np.multiply.outer(product, weighted[k])
        product = np.multiply.outer(product, plain[k])
    if len(fft_shape) == 1:
        return product, moments
    spectrum = np.multiply.outer(product, plain[-1])
    left = np.stack([moments, product], axis=-1)
    return spectrum, np.matmul(left, np.stack([plain[-1], weighted[-1]]))


def _kernel_spectrum(
    kernel: Kernel, spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], workers: int
) -> np.ndarray:
    """``rfftn`` of the kernel sampled on the node offsets (real: the kernel is even)."""
    d = len(fft_shape)
    if kernel.name == "gaussian":
        # exp(-|u|^2 / 2) is a product over dimensions: so is its transform.
        return _gaussian_spectra(spacing, fft_shape, reach, None)[0]
    offsets = [
        _circular_offsets(size, r, h) for size, r, h in zip(fft_shape, reach, spacing, strict=True)
    ]
    squared = np.zeros((1,) * d)
    for k, u in enumerate(offsets):
        squared = squared + (u * u).reshape((-1,) + (1,) * (d - 1 - k))
    if kernel.profile is not None:
        values = kernel.profile(squared)
    else:
        values = np.exp(kernel.log_profile(squared))
    return scipy.fft.rfftn(values, workers=workers).real


def _convolve(
    counts: np.ndarray,
    kernel: Kernel,
    spacing: np.ndarray,
    workers: int,
    indicator: bool = False,
    moment: Moment | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Full linear convolution of ``counts`` with the sampled kernel, on the same nodes.

    With ``indicator``, also the number of nonzero bins within the kernel's
    support of each node (compact kernels), from a second convolution. With
    ``moment`` (Gaussian kernel), also the convolution with ``|u|^2 k``
    (``"squared"``) or ``sum_k max(1, u_k^2 - 1) k`` (``"factor"``), which shares
    the transform of the counts.
    """
    shape = counts.shape
    # Every term is at most k(0) = 1 times a count, so the largest FFT value is at least
    # the largest count, and only values above REPAIR_FRACTION of it are kept. Cutting the
    # kernel where W k < TRUNCATION_SHARE * REPAIR_FRACTION * max(count) changes none of
    # them by more than TRUNCATION_SHARE (relative); the repaired ones are not truncated.
    # The moments' kernels m(u) k are cut at the same radius R: they lose at most R^2
    # times as much, below 1e-8 of any kept value of m(u) k (m >= 1, or m = |u|^2).
    log_share = math.log(TRUNCATION_SHARE * REPAIR_FRACTION * counts.max() / counts.sum())
    reach = _kernel_reach(kernel, spacing, shape, max(log_share, -UNDERFLOW_LOG))
    # Zero padding to m + reach per dimension: no wrap-around onto the nodes kept.
    fft_shape = tuple(
        scipy.fft.next_fast_len(m + r, real=True) for m, r in zip(shape, reach, strict=True)
    )
    crop = tuple(slice(0, m) for m in shape)
    transform = scipy.fft.rfftn(counts, s=fft_shape, workers=workers)
    moments = None
    if moment is not None:
        spectrum, moment_spectrum = _gaussian_spectra(spacing, fft_shape, reach, moment)
        product = transform * moment_spectrum
        moments = scipy.fft.irfftn(product, s=fft_shape, workers=workers, overwrite_x=True)
        moments = moments[crop]
    else:
        spectrum = _kernel_spectrum(kernel, spacing, fft_shape, reach, workers)
    transform *= spectrum
    values = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    if not indicator:
        return values, None, moments
    footprint = _kernel_spectrum(KERNELS["tophat"], spacing, fft_shape, reach, workers)
    transform = scipy.fft.rfftn((counts > 0).astype(np.float64), s=fft_shape, workers=workers)
    transform *= footprint
    occupied = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    return values, occupied, moments


# --------------------------------------------------------------------------------------
# Binned sums on a grid, with the tail repair and the local reach


def _log_shifted_moment(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``log((s + 2) exp(-s / 2))``: the profile of ``(|u|^2 + 2) k(|u|^2)``, Gaussian ``k``.

    Unlike ``s exp(-s / 2)`` it decreases with ``s``, as the exact engine's
    pruning (an upper bound of a block's terms from its nearest distance)
    requires.
    """
    shifted = np.log(np.asarray(s) + 2.0)
    out = np.multiply(s, -0.5, out=np.empty(np.shape(s)) if out is None else out)
    out += shifted
    return out


def _not_a_density(*_: object) -> NoReturn:
    raise NotImplementedError("The moment profile is only summed, never normalised or sampled.")


# The exact engine's view of (|u|^2 + 2) k(|u|^2) for the Gaussian k: it reads the name,
# the support and the profiles only.
SHIFTED_MOMENT = Kernel(
    "gaussian-shifted-moment",
    math.inf,
    False,
    _log_shifted_moment,
    None,
    _not_a_density,
    _not_a_density,
    _not_a_density,
)


@dataclass(frozen=True)
class _Binned:
    """Binned data convolved on a grid: FFT sums, and what the repair needs.

    ``cover`` is the binning grid: the lattice of ``grid`` extended to hold the
    data; ``grid`` starts at node ``offset`` of it. ``peak`` is the largest FFT
    value; ``moments`` (Gaussian kernel, when ``moment`` is asked for) the
    convolution with the moment's kernel (:func:`_convolve`).
    """

    kernel: Kernel
    grid: Grid
    cover: Grid
    offset: tuple[int, ...]
    counts: np.ndarray
    values: np.ndarray
    peak: float
    occupied: np.ndarray | None
    moment: Moment | None
    moments: np.ndarray | None
    n_jobs: int | None

    @classmethod
    def make(
        cls,
        points: np.ndarray,
        weights: np.ndarray | None,
        kernel: Kernel,
        grid: Grid,
        data_range: tuple[np.ndarray, np.ndarray],
        max_cells: int,
        n_jobs: int | None,
        moment: Moment | None = None,
    ) -> _Binned:
        cover, offset = _covering_grid(grid, data_range)
        cells = max(cover.size, grid.size)
        if cells > max_cells:
            raise GridTooLargeError(
                f"The binned evaluation needs a grid of {cells} cells, more than "
                f"max_cells={max_cells}; use a coarser grid (a larger tolerance) or the exact "
                "evaluation."
            )
        counts = linear_binning(points, cover.origin, cover.spacing, cover.shape, weights)
        workers = effective_n_jobs(n_jobs)
        compact = math.isfinite(kernel.support)
        values, occupied, second = _convolve(
            counts, kernel, cover.spacing, workers, indicator=compact, moment=moment
        )
        inside = tuple(slice(o, o + m) for o, m in zip(offset, grid.shape, strict=True))
        return cls(
            kernel,
            grid,
            cover,
            offset,
            counts,
            values[inside],
            float(values.max()),
            None if occupied is None else occupied[inside],
            moment,
            None if second is None else second[inside],
            n_jobs,
        )

    @property
    def threshold(self) -> float:
        """FFT values below this are recomputed directly (``REPAIR_FRACTION`` of the peak)."""
        return REPAIR_FRACTION * self.peak

    def at(self, array: np.ndarray, flat_index: np.ndarray | None) -> np.ndarray:
        """A grid-shaped ``array`` at flat C-order node indices (``None``: every node), flat."""
        if flat_index is None:
            return array.ravel()
        return array[np.unravel_index(flat_index, self.grid.shape)]

    def _classify(
        self, flat_index: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FFT values at the nodes, where they are trusted, and where a repair is due."""
        values = self.at(self.values, flat_index)
        trusted = values >= self.threshold
        pending = ~trusted
        if self.occupied is not None:
            pending &= self.at(self.occupied, flat_index) >= 0.5
        return values, trusted, pending

    def log_at(self, flat_index: np.ndarray | None = None, repair: bool = True) -> np.ndarray:
        """Log sums at grid nodes (flat C-order indices; ``None``: every node).

        The FFT value where it is at least ``threshold``; ``-inf`` where no
        nonzero bin lies within a compact kernel's support; the direct sum
        (:meth:`repair`) elsewhere, or with ``repair=False`` the log of the
        FFT value (``-inf`` where it is not positive).
        """
        values, trusted, pending = self._classify(flat_index)
        if not repair:
            with np.errstate(divide="ignore"):
                return np.log(np.maximum(values, 0.0))
        out = np.full(values.shape, -np.inf)
        out[trusted] = np.log(values[trusted])
        where = np.flatnonzero(pending)
        out[where] = self.repair(where if flat_index is None else flat_index[where])
        return out

    def terms_at(
        self,
        flat_index: np.ndarray | None = None,
        repair: bool = True,
        tolerance: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log sums, a moment and the FFT's rounding at grid nodes (Gaussian kernel).

        Parameters
        ----------
        flat_index : ndarray of shape (n_nodes,), default=None
            Flat C-order node indices; ``None``: every node.
        repair : bool, default=True
            As :meth:`log_at`.
        tolerance : float, default=None
            At repaired nodes, ``rho^2`` is the free upper bound
            ``2 (log W - log f)`` where the node's bound from it is within
            ``tolerance``, and the direct ratio (:meth:`direct_reach`) where not;
            ``None``: the direct ratio at every repaired node.

        Returns
        -------
        log_sums : ndarray of shape (n_nodes,)
            As :meth:`log_at`.
        moments : ndarray of shape (n_nodes,)
            ``rho^2 = E_pi |z|^2`` (``moment="squared"``) or the bound's factor
            ``s = E_pi sum_k max(1, z_k^2 - 1)`` (``"factor"``): the ratio of the
            moment's FFT to the FFT where the FFT is trusted; at repaired nodes
            ``rho^2``, and for ``s`` its upper bound ``d + rho^2``, as
            ``tolerance`` says; ``nan`` there with ``repair=False``.
        rounding : ndarray of shape (n_nodes,)
            ``FFT_ROUNDING * peak / value`` where the FFT is trusted, zero where
            repaired (the exact engine's rounding, about 1e-12, is neglected),
            ``inf`` where neither.
        """
        if self.moments is None:  # pragma: no cover - guarded by the callers
            raise ValueError("no moment was convolved")
        values, trusted, pending = self._classify(flat_index)
        kept = values[trusted]
        with np.errstate(divide="ignore"):
            log_sums = np.log(np.maximum(values, 0.0))
        moments = np.full(values.shape, np.nan)
        moments[trusted] = np.maximum(self.at(self.moments, flat_index)[trusted] / kept, 0.0)
        rounding = np.full(values.shape, np.inf)
        rounding[trusted] = FFT_ROUNDING * self.peak / kept
        if repair:
            where = np.flatnonzero(pending)
            index = where if flat_index is None else flat_index[where]
            repaired = self.repair(index)
            # KL(pi || c / W) >= 0 gives E_pi |z|^2 / 2 <= log W - log f.
            reach = np.maximum(2.0 * (math.log(self.counts.sum()) - repaired), 0.0)
            d = self.grid.ndim
            if tolerance is None:
                loose = np.ones(where.size, dtype=bool)
            else:
                zero = np.zeros(where.size)
                loose = _node_bounds(self.grid.spacing, d + reach, zero) > tolerance
            reach[loose] = self.direct_reach(index[loose], repaired[loose])
            if self.moment == "factor":
                reach += d  # sum_k max(1, z_k^2 - 1) <= d + |z|^2
            log_sums[where], moments[where], rounding[where] = repaired, reach, 0.0
        return log_sums, moments, rounding

    @cached_property
    def _bins(self) -> tuple[np.ndarray, TrainingPoints]:
        """The nonzero bins as training points of the exact engine, and their middle.

        Coordinates about the middle of the bins: smaller norms, smaller rounding
        in the engine's matrix-product distances (and its cheaper path more often).
        """
        bins = np.flatnonzero(self.counts)
        centres = self.cover.nodes(bins)
        middle = 0.5 * (centres.min(axis=0) + centres.max(axis=0))
        return middle, prepare_training_points(centres - middle, self.counts.ravel()[bins])

    def _queries(self, flat_index: np.ndarray) -> np.ndarray:
        """Grid nodes (flat C-order indices) in the coordinates of :attr:`_bins`."""
        index = np.unravel_index(flat_index, self.grid.shape)
        shifted = tuple(i + o for i, o in zip(index, self.offset, strict=True))
        return self.cover.nodes(np.ravel_multi_index(shifted, self.cover.shape)) - self._bins[0]

    def repair(self, flat_index: np.ndarray) -> np.ndarray:
        """Log sums at grid nodes (flat C-order indices) summed directly over the bins.

        A log-sum-exp over the nonzero bins by the exact engine of
        :mod:`~lookalike._math.kernel_sums`, which skips the bins too far to
        contribute.
        """
        if flat_index.size == 0:
            return np.empty(0)
        training = self._bins[1]
        return log_kernel_sums(self._queries(flat_index), training, self.kernel, self.n_jobs)

    def direct_reach(self, flat_index: np.ndarray, log_sums: np.ndarray) -> np.ndarray:
        """The local squared reach at grid nodes from a direct sum over the bins.

        With ``G`` the sum of ``(|u|^2 + 2) k`` (:data:`SHIFTED_MOMENT`, a
        decreasing profile, as the exact engine's pruning needs) and ``f`` the
        node's sum (``log_sums``, from :meth:`repair`), ``rho^2 = G / f - 2``,
        computed from the logs without overflow.
        """
        if flat_index.size == 0:
            return np.empty(0)
        queries = self._queries(flat_index)
        shifted = log_kernel_sums(queries, self._bins[1], SHIFTED_MOMENT, self.n_jobs)
        return np.maximum(np.expm1(shifted - log_sums) - 1.0, 0.0)


def _node_bounds(spacing: np.ndarray, factor: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """The Gaussian bound at nodes, ``1.25 s delta^2 / 8``, plus the FFT's rounding."""
    return SAFETY * factor * float(spacing.max()) ** 2 / 8.0 + rounding


def _strided_nodes(shape: tuple[int, ...], stride: int) -> np.ndarray:
    """Flat C-order indices of the nodes whose every index is a multiple of ``stride``."""
    index = np.meshgrid(*[np.arange(0, m, stride) for m in shape], indexing="ij")
    return np.ravel_multi_index(tuple(index), shape).ravel()


def _grid_setup(
    points: np.ndarray,
    kernel: str,
    weights: np.ndarray | None,
    n_points: int | Sequence[int] | None,
    spacing: float | Sequence[float] | None,
    bounds: np.ndarray | None,
    stride: int,
    max_cells: int,
    n_jobs: int | None,
    moment: Moment | None,
) -> tuple[_Binned, list[np.ndarray], np.ndarray | None]:
    """The binned data on a grid, the axes of every ``stride``-th node and their indices."""
    kern = KERNELS[kernel]
    data_range = _data_range(points)
    grid = make_grid(points, kern, n_points, spacing, bounds, data_range)
    binned = _Binned.make(points, weights, kern, grid, data_range, max_cells, n_jobs, moment)
    axes = [axis[::stride] for axis in grid.axes]
    index = None if stride == 1 else _strided_nodes(grid.shape, stride)
    return binned, axes, index


@overload
def grid_log_sums(
    points: np.ndarray,
    kernel: str,
    weights: np.ndarray | None = ...,
    *,
    n_points: int | Sequence[int] | None = ...,
    spacing: float | Sequence[float] | None = ...,
    bounds: np.ndarray | None = ...,
    repair: bool = ...,
    stride: int = ...,
    max_cells: int = ...,
    n_jobs: int | None = ...,
    with_bound: Literal[False] = ...,
    tolerance: float | None = ...,
) -> tuple[list[np.ndarray], np.ndarray]: ...


@overload
def grid_log_sums(
    points: np.ndarray,
    kernel: str,
    weights: np.ndarray | None = ...,
    *,
    n_points: int | Sequence[int] | None = ...,
    spacing: float | Sequence[float] | None = ...,
    bounds: np.ndarray | None = ...,
    repair: bool = ...,
    stride: int = ...,
    max_cells: int = ...,
    n_jobs: int | None = ...,
    with_bound: Literal[True],
    tolerance: float | None = ...,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]: ...


def grid_log_sums(
    points: np.ndarray,
    kernel: str,
    weights: np.ndarray | None = None,
    *,
    n_points: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    bounds: np.ndarray | None = None,
    repair: bool = True,
    stride: int = 1,
    max_cells: int = DEFAULT_MAX_CELLS,
    n_jobs: int | None = None,
    with_bound: bool = False,
    tolerance: float | None = None,
) -> tuple[list[np.ndarray], np.ndarray] | tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Binned ``log sum_j w_j k(|g - x_j|^2)`` at every node ``g`` of a regular grid.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Scaled data, ``d`` in {1, 2, 3}.
    kernel : str
        A key of :data:`~lookalike._math.kernels.KERNELS`.
    weights : ndarray of shape (n,), default=None
        Non-negative weights with a positive sum (``None``: all one).
    n_points, spacing : see :func:`make_grid`
        Exactly one is given.
    bounds : ndarray of shape (d, 2), default=None
        Grid bounds; ``None``: the data range extended by
        :func:`default_extension` (data outside given bounds still count).
    repair : bool, default=True
        Recompute the nodes where the FFT is below ``REPAIR_FRACTION`` of its
        largest value directly (the tail repair). ``False`` gives the plain
        FFT result, ``-inf`` where it is not positive.
    stride : int, default=1
        Return every ``stride``-th node per dimension (starting with the
        first): the data are binned at the full resolution, and only the
        returned nodes are repaired.
    max_cells : int, default=DEFAULT_MAX_CELLS
        Largest number of grid cells (of the grid, and of the grid extended to
        the data).
    n_jobs : int, default=None
        Threads for the FFT and the repair (``None``: every core).
    with_bound : bool, default=False
        Also return each node's error bound (module docstring): for the
        Gaussian kernel ``1.25 s delta^2 / 8`` with the node's own factor ``s
        = E_pi sum_k max(1, z_k^2 - 1)``, plus the FFT's rounding, which costs
        one more inverse FFT (and at repaired nodes, where ``s <= d + rho^2``
        is used, perhaps a second direct sum); :func:`error_bound` at nodes for
        the exponential kernel; ``inf`` for compact kernels, and with
        ``repair=False`` where the FFT is not trusted.
    tolerance : float, default=None
        The level the caller compares the bounds with. At repaired nodes the
        Gaussian ``rho^2`` is then taken from the free upper bound ``2 (log W
        - log f)`` (module docstring) where the node's bound from it is within
        ``tolerance``, and summed directly only where not. ``None``: summed
        directly at every repaired node (the tightest bounds).

    Returns
    -------
    axes : list of d ndarrays of shapes (m_1,), ..., (m_d,)
        Node coordinates per dimension.
    log_sums : ndarray of shape (m_1, ..., m_d)
        Log kernel sums at the nodes; ``-inf`` where the sum is exactly zero.
    bound : ndarray of shape (m_1, ..., m_d)
        Only with ``with_bound=True``: the bound of each node's absolute error.

    Raises
    ------
    GridTooLargeError
        When the grid would have more than ``max_cells`` cells.

    Notes
    -----
    Cost ``O(2^d n)`` for the binning plus ``O(N log N)`` for the FFTs, with
    ``N`` the padded grid size (up to ``2^d`` times the grid), plus the repair:
    ``O(r b)`` for ``r`` repaired nodes and the ``b`` nonzero bins within
    their reach. Memory: a few arrays of ``N`` float64.
    """
    local = with_bound and kernel == "gaussian"
    binned, axes, index = _grid_setup(
        points,
        kernel,
        weights,
        n_points,
        spacing,
        bounds,
        stride,
        max_cells,
        n_jobs,
        "factor" if local else None,
    )
    shape = tuple(len(axis) for axis in axes)
    if not with_bound:
        return axes, binned.log_at(index, repair).reshape(shape)
    d = binned.grid.ndim
    if local:
        log_sums, factor, rounding = binned.terms_at(index, repair, tolerance)
        bound = _node_bounds(binned.grid.spacing, factor, rounding)
    else:
        log_sums = binned.log_at(index, repair)
        level = error_bound(kernel, d, float(binned.grid.spacing.max()), at="nodes")
        bound = np.full(log_sums.shape, level)
        if not repair:
            bound[binned.at(binned.values, index) < binned.threshold] = np.inf
    return axes, log_sums.reshape(shape), bound.reshape(shape)


def grid_squared_reach(
    points: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    n_points: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    bounds: np.ndarray | None = None,
    stride: int = 1,
    max_cells: int = DEFAULT_MAX_CELLS,
    n_jobs: int | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The Gaussian error model's local reach ``rho^2 = E_pi |z|^2`` at grid nodes.

    The mean squared distance (bandwidths) from each node to the binned data,
    each bin weighted by its share of the node's Gaussian kernel sum: the
    ratio of two FFT convolutions of the counts (with ``|u|^2 k`` and with
    ``k``) where the FFT is trusted, of two direct sums over the bins where the
    tail repair recomputes the node (module docstring).

    Parameters
    ----------
    points, weights, n_points, spacing, bounds, stride, max_cells, n_jobs
        As :func:`grid_log_sums`.

    Returns
    -------
    axes : list of d ndarrays of shapes (m_1,), ..., (m_d,)
    squared_reach : ndarray of shape (m_1, ..., m_d)

    Raises
    ------
    GridTooLargeError
        When the grid would have more than ``max_cells`` cells.
    """
    binned, axes, index = _grid_setup(
        points,
        "gaussian",
        weights,
        n_points,
        spacing,
        bounds,
        stride,
        max_cells,
        n_jobs,
        "squared",
    )
    squared_reach = binned.terms_at(index)[1]
    return axes, squared_reach.reshape(tuple(len(axis) for axis in axes))


@overload
def log_sums_at(
    points: np.ndarray,
    queries: np.ndarray,
    kernel: str,
    spacing: float | Sequence[float],
    weights: np.ndarray | None = ...,
    *,
    bounds: np.ndarray | None = ...,
    max_cells: int = ...,
    n_jobs: int | None = ...,
    with_bound: Literal[False] = ...,
    tolerance: float | None = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def log_sums_at(
    points: np.ndarray,
    queries: np.ndarray,
    kernel: str,
    spacing: float | Sequence[float],
    weights: np.ndarray | None = ...,
    *,
    bounds: np.ndarray | None = ...,
    max_cells: int = ...,
    n_jobs: int | None = ...,
    with_bound: Literal[True],
    tolerance: float | None = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def log_sums_at(
    points: np.ndarray,
    queries: np.ndarray,
    kernel: str,
    spacing: float | Sequence[float],
    weights: np.ndarray | None = None,
    *,
    bounds: np.ndarray | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    n_jobs: int | None = None,
    with_bound: bool = False,
    tolerance: float | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned ``log sum_j w_j k(|q - x_j|^2)`` at arbitrary queries, by interpolation.

    Bins the data on a grid of the given spacing, convolves by FFT, repairs
    only the nodes around the queries that need it, and interpolates
    (:func:`interpolate_log_sums`).

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Scaled data, ``d`` in {1, 2, 3}.
    queries : ndarray of shape (n_queries, d)
        Scaled queries.
    kernel : str
    spacing : float or sequence of d floats
        Node spacing in bandwidths, e.g. from :func:`bulk_spacing`.
    weights : ndarray of shape (n,), default=None
    bounds : ndarray of shape (d, 2), default=None
        Grid bounds; ``None``: the data range extended by
        :func:`default_extension`. Queries outside are not evaluated.
    max_cells : int, default=DEFAULT_MAX_CELLS
    n_jobs : int, default=None
    with_bound : bool, default=False
        Also return each query's error bound (module docstring). For the
        Gaussian kernel: the corners' node bounds (:func:`grid_log_sums`),
        weighted as in the interpolation, plus the interpolation term from
        the second differences of the log sums around the query's cell (from
        the corners' factors ``s`` where a neighbour is off the grid or in the
        repaired tails); one more inverse FFT and, at repaired corners,
        perhaps a second direct sum. The exponential kernel:
        :func:`error_bound` at queries. Compact kernels: ``inf``.
    tolerance : float, default=None
        As :func:`grid_log_sums`: at repaired corners the free upper bound of
        ``rho^2`` where the node's bound from it is within ``tolerance``.

    Returns
    -------
    log_sums : ndarray of shape (n_queries,)
        Interpolated log kernel sums; ``nan`` for queries outside the grid.
    outside : ndarray of shape (n_queries,), bool
        Queries outside the grid: the caller evaluates them exactly.
    bound : ndarray of shape (n_queries,)
        Only with ``with_bound=True``: the bound of each query's absolute
        error; ``inf`` outside the grid.

    Raises
    ------
    GridTooLargeError
        When the grid would have more than ``max_cells`` cells.

    Notes
    -----
    Cost as :func:`grid_log_sums`, except that the repair covers only the
    corners of the queries' cells, plus ``O(2^d n_queries)`` for the
    interpolation (``O(d 2^d n_queries)`` for the bounds).
    """
    kern = KERNELS[kernel]
    data_range = _data_range(points)
    grid = make_grid(points, kern, spacing=spacing, bounds=bounds, data_range=data_range)
    local = with_bound and kernel == "gaussian"
    moment: Moment | None = "factor" if local else None
    binned = _Binned.make(points, weights, kern, grid, data_range, max_cells, n_jobs, moment)
    corners, fractions, outside, lower = _cells(grid, queries)
    weights = _corner_weights(fractions)
    # Each needed node once (a mask over the grid is cheaper than sorting the corners).
    wanted = np.zeros(grid.size, dtype=bool)
    wanted[corners] = True
    needed = np.flatnonzero(wanted)
    table = np.empty(grid.size)
    out = np.full(queries.shape[0], np.nan)
    bound = np.full(queries.shape[0], np.inf)
    if local:
        table[needed], factor, rounding = binned.terms_at(needed, tolerance=tolerance)
        node_bounds = _node_bounds(grid.spacing, factor, rounding)
        # Position of each corner among the needed nodes.
        position = np.empty(grid.size, dtype=np.intp)
        position[needed] = np.arange(needed.size)
        at = position[corners]
        curvature = _curvature(binned, corners, lower, table, wanted)
        bound[~outside] = _query_bounds(
            fractions, weights, grid.spacing, node_bounds[at], factor[at], curvature
        )
    else:
        table[needed] = binned.log_at(needed)
        bound[~outside] = error_bound(kernel, grid.ndim, float(grid.spacing.max()))
    out[~outside] = _interpolate(table[corners], weights)
    if with_bound:
        return out, outside, bound
    return out, outside


def _curvature(
    binned: _Binned, corners: np.ndarray, lower: np.ndarray, table: np.ndarray, wanted: np.ndarray
) -> np.ndarray:
    """Largest second difference of the log sums along each dimension at a cell's corners.

    Along dimension ``k`` the second difference at a corner takes the other
    corner of the cell and the neighbour beyond it. Shape (q, d); ``nan``
    where that neighbour is off the grid or not trusted by the FFT. ``table``
    holds the log sums at the ``wanted`` nodes; the neighbours are added.
    """
    grid = binned.grid
    d = grid.ndim
    strides = [math.prod(grid.shape[k + 1 :]) for k in range(d)]
    bits = list(np.ndindex(*(2,) * d))
    first = lower >= 1
    last = lower <= np.array(grid.shape) - 3

    def beyond(k: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The neighbour beyond corner ``c`` along ``k`` (the corner itself if off the grid)."""
        up = bool(bits[c][k])
        ok = last[:, k] if up else first[:, k]
        return np.where(ok, corners[:, c] + (strides[k] if up else -strides[k]), corners[:, c]), ok

    extra = np.zeros(grid.size, dtype=bool)
    for k in range(d):
        for c in range(len(bits)):
            extra[beyond(k, c)[0]] = True
    new = np.flatnonzero(extra & ~wanted)
    values = binned.at(binned.values, new)
    trusted = values >= binned.threshold
    table[new] = np.nan
    table[new[trusted]] = np.log(values[trusted])
    curvature = np.zeros((corners.shape[0], d))
    for k in range(d):
        for c in range(len(bits)):
            neighbour, ok = beyond(k, c)
            partner = corners[:, c ^ (1 << (d - 1 - k))]
            second = table[neighbour] + table[partner] - 2.0 * table[corners[:, c]]
            second[~ok] = np.nan
            np.maximum(curvature[:, k], np.abs(second), out=curvature[:, k])
    return curvature


def _query_bounds(
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
        The corners' interpolation weights (:func:`_corner_weights`).
    spacing : ndarray of shape (d,)
    node_bounds, factor : ndarrays of shape (q, 2^d)
        At the cell's corners: the bounds and the factors ``s``.
    curvature : ndarray of shape (q, d)
        From :func:`_curvature`.

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


# --------------------------------------------------------------------------------------
# Interpolation


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
    corners, fractions, outside, _ = _cells(grid, queries)
    out = np.full(queries.shape[0], np.nan)
    corner_values = np.asarray(log_sums).ravel()[corners]
    out[~outside] = _interpolate(corner_values, _corner_weights(fractions))
    return out, outside


# Queries this far (in cells) beyond an edge still count as on it (rounding of the nodes).
EDGE_SLACK = 1e-9


def _cells(
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


def _corner_weights(fractions: np.ndarray) -> np.ndarray:
    """Multilinear weights (q, 2^d) of a cell's corners (C order) at (q, d) fractions."""
    d = fractions.shape[1]
    bits = np.array(list(np.ndindex(*(2,) * d)), dtype=bool)  # (2^d, d), C order
    weights = np.where(bits, fractions[:, np.newaxis, :], 1.0 - fractions[:, np.newaxis, :])
    return weights.prod(axis=2)


def _interpolate(corner_values: np.ndarray, weights: np.ndarray) -> np.ndarray:
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
