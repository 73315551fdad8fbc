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

*Gaussian kernel.* One point at offset ``z`` (per dimension) binned with cell
fraction ``t`` has its term multiplied by ``R = (1 - t) e^{-z t delta - t^2
delta^2 / 2} + t e^{z (1 - t) delta - (1 - t)^2 delta^2 / 2}``, and ``|log R|
<= max(1, z^2 - 1) delta^2 / 8`` (second order; checked numerically up to ``z
delta = 1``). The product kernel makes the dimensions add up, and the sum is a
weighted mean of the terms' ratios, so at a node ``|log f~ - log f| <= (d +
rho^2) delta^2 / 8``, with the *reach* ``rho^2 = E_pi |z|^2`` the mean squared
distance (bandwidths) from the node to the data, each point weighted by its
share ``pi_j`` of the sum. Interpolating ``log f~`` adds at most ``delta^2 / 8``
times ``sum_k |d^2 log f / dq_k^2| = sum_k |Var_pi(z_k) - 1| <= d + rho^2``. So

.. math::

    |\\Delta \\log f| \\le 1.25 \\, (d + \\rho^2) \\, \\delta^2 / 8 \\ \\text{(nodes)},
    \\qquad 1.25 \\, (d + \\rho^2) \\, \\delta^2 / 4 \\ \\text{(queries)},

with 25% for the higher orders. ``rho^2`` is about ``d`` in the bulk of
well-sampled data, ``D^2`` at a distance ``D`` outside the data (the binning
error grows in the far tails), at most ``d + D^2 / 4`` in a gap of width ``D``.
:data:`DEFAULT_REACH` (5.3) covers queries up to the default bounds (4.29
bandwidths) beyond data without wide gaps.

*Exponential kernel.* ``log k = -|u|`` has no curvature along ``u`` (far terms
err by ``delta^2 / 8`` per dimension, whatever the distance) but a kink at each
data point, where binning and interpolation cost up to ``sqrt(d) delta / 2``
each: ``|Delta log f| <= sqrt(d) delta / 2 + d delta^2 / 8`` (nodes), twice that
(queries), first order in ``delta``.

*Compact kernels* (tophat, epanechnikov, linear, cosine). Near the edge of the
estimate's support the relative error is unbounded (binning moves mass by up to
``delta sqrt(d)``, inside or outside a ball), so no log tolerance is offered.
The sums themselves obey ``|f^(q) - f(q)| <= 1.5 L delta sqrt(d) W(q)`` for a
profile with slope at most ``L`` in the distance (epanechnikov 2, linear 1,
cosine pi/2) and ``W(q)`` the weight within ``1 + 2 delta sqrt(d)`` of ``q``;
for the tophat, ``W`` of the shell at distances ``1 +- 2 delta sqrt(d)``.

Measured (largest absolute log error at 800 queries, 2000 dense normal points
or 30 sparse uniform points; tails: 400 queries 5 to 30 bandwidths outside
3000 points; "worst / model" is the largest ratio of the error to the model
without its 25%, with each query's own ``rho``, over all cases)::

    kernel       d  delta   dense    sparse   tails    worst / model
    gaussian     1  0.2     1.2e-2   5.3e-2            0.99 (one point, delta 0.2)
    gaussian     1  0.05    3.5e-4   3.0e-3   1.4e-1
    gaussian     1  0.02    1.0e-4   5.7e-4   3.4e-2
    gaussian     1  0.01                      1.1e-2
    gaussian     2  0.1     3.9e-3   2.1e-2
    gaussian     2  0.05    1.2e-3   6.8e-3
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
from typing import Literal

import numpy as np
import scipy.fft

from lookalike._math.binning import linear_binning
from lookalike._math.blocks import effective_n_jobs
from lookalike._math.kernel_sums import log_kernel_sums, prepare_training_points
from lookalike._math.kernels import KERNELS, Kernel

# Grid cells allowed by default (binning grid; the FFT arrays are up to 2^d times larger).
DEFAULT_MAX_CELLS = 2**22
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
        counts = np.ceil((high - low) / step * (1.0 - 1e-12)).astype(int) + 1
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
    before = np.maximum(np.ceil((grid.origin - low) / grid.spacing), 0).astype(int)
    after = np.maximum(np.ceil((high - top) / grid.spacing), 0).astype(int)
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


def _kernel_spectrum(
    kernel: Kernel, spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], workers: int
) -> np.ndarray:
    """``rfftn`` of the kernel sampled on the node offsets (real: the kernel is even)."""
    d = len(fft_shape)
    offsets = [
        _circular_offsets(size, r, h) for size, r, h in zip(fft_shape, reach, spacing, strict=True)
    ]
    if kernel.name == "gaussian":
        # exp(-|u|^2 / 2) is a product over dimensions: so is its transform.
        spectrum = np.ones((1,) * d)
        for k, u in enumerate(offsets):
            values = np.exp(-0.5 * u * u)
            transform = scipy.fft.rfft(values) if k == d - 1 else scipy.fft.fft(values)
            spectrum = spectrum * transform.real.reshape((-1,) + (1,) * (d - 1 - k))
        return spectrum
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
) -> tuple[np.ndarray, np.ndarray | None]:
    """Full linear convolution of ``counts`` with the sampled kernel, on the same nodes.

    With ``indicator``, also the number of nonzero bins within the kernel's
    support of each node (compact kernels), from a second convolution.
    """
    shape = counts.shape
    # Every term is at most k(0) = 1 times a count, so the largest FFT value is at least
    # the largest count, and only values above REPAIR_FRACTION of it are kept. Cutting the
    # kernel where W k < TRUNCATION_SHARE * REPAIR_FRACTION * max(count) changes none of
    # them by more than TRUNCATION_SHARE (relative); the repaired ones are not truncated.
    log_share = math.log(TRUNCATION_SHARE * REPAIR_FRACTION * counts.max() / counts.sum())
    reach = _kernel_reach(kernel, spacing, shape, max(log_share, -UNDERFLOW_LOG))
    # Zero padding to m + reach per dimension: no wrap-around onto the nodes kept.
    fft_shape = tuple(
        scipy.fft.next_fast_len(m + r, real=True) for m, r in zip(shape, reach, strict=True)
    )
    spectrum = _kernel_spectrum(kernel, spacing, fft_shape, reach, workers)
    crop = tuple(slice(0, m) for m in shape)
    transform = scipy.fft.rfftn(counts, s=fft_shape, workers=workers)
    transform *= spectrum
    values = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    if not indicator:
        return values, None
    footprint = _kernel_spectrum(KERNELS["tophat"], spacing, fft_shape, reach, workers)
    transform = scipy.fft.rfftn((counts > 0).astype(np.float64), s=fft_shape, workers=workers)
    transform *= footprint
    occupied = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    return values, occupied


# --------------------------------------------------------------------------------------
# Binned sums on a grid, with the tail repair


@dataclass(frozen=True)
class _Binned:
    """Binned data convolved on a grid: FFT sums, and what the repair needs.

    ``cover`` is the binning grid: the lattice of ``grid`` extended to hold the
    data; ``grid`` starts at node ``offset`` of it.
    """

    kernel: Kernel
    grid: Grid
    cover: Grid
    offset: tuple[int, ...]
    counts: np.ndarray
    values: np.ndarray
    threshold: float
    occupied: np.ndarray | None
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
        values, occupied = _convolve(counts, kernel, cover.spacing, workers, indicator=compact)
        threshold = REPAIR_FRACTION * float(values.max())
        inside = tuple(slice(o, o + m) for o, m in zip(offset, grid.shape, strict=True))
        return cls(
            kernel,
            grid,
            cover,
            offset,
            counts,
            values[inside],
            threshold,
            None if occupied is None else occupied[inside],
            n_jobs,
        )

    def log_at(self, flat_index: np.ndarray | None = None) -> np.ndarray:
        """Log sums at grid nodes (flat C-order indices; ``None``: every node), repaired.

        The FFT value where it is at least ``threshold``; ``-inf`` where no
        nonzero bin lies within a compact kernel's support; the direct sum
        (:meth:`repair`) elsewhere.
        """
        values = self.values.ravel()
        occupied = None if self.occupied is None else self.occupied.ravel()
        if flat_index is not None:
            values = values[flat_index]
            occupied = None if occupied is None else occupied[flat_index]
        trusted = values >= self.threshold
        out = np.empty(values.shape)
        out[trusted] = np.log(values[trusted])
        pending = ~trusted
        if occupied is not None:
            empty = occupied < 0.5
            out[empty] = -np.inf
            pending &= ~empty
        nodes = np.flatnonzero(pending)
        out[nodes] = self.repair(nodes if flat_index is None else flat_index[nodes])
        return out

    def repair(self, flat_index: np.ndarray) -> np.ndarray:
        """Log sums at grid nodes (flat C-order indices) summed directly over the bins.

        A log-sum-exp over the nonzero bins by the exact engine of
        :mod:`~lookalike._math.kernel_sums`, which skips the bins too far to
        contribute.
        """
        if flat_index.size == 0:
            return np.empty(0)
        index = np.unravel_index(flat_index, self.grid.shape)
        shifted = tuple(i + o for i, o in zip(index, self.offset, strict=True))
        queries = self.cover.nodes(np.ravel_multi_index(shifted, self.cover.shape))
        bins = np.flatnonzero(self.counts)
        centres = self.cover.nodes(bins)
        # Coordinates about the middle of the bins: smaller norms, smaller rounding in the
        # engine's matrix-product distances (and its cheaper path more often).
        middle = 0.5 * (centres.min(axis=0) + centres.max(axis=0))
        training = prepare_training_points(centres - middle, self.counts.ravel()[bins])
        return log_kernel_sums(queries - middle, training, self.kernel, n_jobs=self.n_jobs)


def grid_log_sums(
    points: np.ndarray,
    kernel: str,
    weights: np.ndarray | None = None,
    *,
    n_points: int | Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    bounds: np.ndarray | None = None,
    repair: bool = True,
    max_cells: int = DEFAULT_MAX_CELLS,
    n_jobs: int | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
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
    max_cells : int, default=DEFAULT_MAX_CELLS
        Largest number of grid cells (of the grid, and of the grid extended to
        the data).
    n_jobs : int, default=None
        Threads for the FFT and the repair (``None``: every core).

    Returns
    -------
    axes : list of d ndarrays of shapes (m_1,), ..., (m_d,)
        Node coordinates per dimension.
    log_sums : ndarray of shape (m_1, ..., m_d)
        Log kernel sums at the nodes; ``-inf`` where the sum is exactly zero.

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
    kern = KERNELS[kernel]
    data_range = _data_range(points)
    grid = make_grid(points, kern, n_points, spacing, bounds, data_range)
    binned = _Binned.make(points, weights, kern, grid, data_range, max_cells, n_jobs)
    if not repair:
        with np.errstate(divide="ignore"):
            plain = np.log(np.maximum(binned.values, 0.0))
        return grid.axes, plain
    return grid.axes, binned.log_at().reshape(grid.shape)


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
) -> tuple[np.ndarray, np.ndarray]:
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
        Node spacing in bandwidths, e.g. from :func:`spacing_for_tolerance`.
    weights : ndarray of shape (n,), default=None
    bounds : ndarray of shape (d, 2), default=None
        Grid bounds; ``None``: the data range extended by
        :func:`default_extension`. Queries outside are not evaluated.
    max_cells : int, default=DEFAULT_MAX_CELLS
    n_jobs : int, default=None

    Returns
    -------
    log_sums : ndarray of shape (n_queries,)
        Interpolated log kernel sums; ``nan`` for queries outside the grid.
    outside : ndarray of shape (n_queries,), bool
        Queries outside the grid: the caller evaluates them exactly.

    Raises
    ------
    GridTooLargeError
        When the grid would have more than ``max_cells`` cells.

    Notes
    -----
    Cost as :func:`grid_log_sums`, except that the repair covers only the
    corners of the queries' cells, plus ``O(2^d n_queries)`` for the
    interpolation.
    """
    kern = KERNELS[kernel]
    data_range = _data_range(points)
    grid = make_grid(points, kern, spacing=spacing, bounds=bounds, data_range=data_range)
    binned = _Binned.make(points, weights, kern, grid, data_range, max_cells, n_jobs)
    corners, fractions, outside = _cells(grid, queries)
    # Each needed node once (a mask over the grid is cheaper than sorting the corners).
    wanted = np.zeros(grid.size, dtype=bool)
    wanted[corners] = True
    needed = np.flatnonzero(wanted)
    table = np.empty(grid.size)
    table[needed] = binned.log_at(needed)
    corner_values = table[corners]
    out = np.full(queries.shape[0], np.nan)
    out[~outside] = _interpolate(corner_values, fractions)
    return out, outside


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
    corners, fractions, outside = _cells(grid, queries)
    out = np.full(queries.shape[0], np.nan)
    out[~outside] = _interpolate(np.asarray(log_sums).ravel()[corners], fractions)
    return out, outside


# Queries this far (in cells) beyond an edge still count as on it (rounding of the nodes).
EDGE_SLACK = 1e-9


def _cells(grid: Grid, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corner indices (q, 2^d) and fractions (q, d) of the inside queries; the outside mask."""
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
    return base[:, np.newaxis] + offsets, fractions, outside


def _interpolate(corner_values: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of (q, 2^d) corner log values at (q, d) fractions."""
    d = fractions.shape[1]
    bits = np.array(list(np.ndindex(*(2,) * d)), dtype=bool)  # (2^d, d), C order
    weights = np.where(bits, fractions[:, np.newaxis, :], 1.0 - fractions[:, np.newaxis, :])
    weights = weights.prod(axis=2)
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
