"""Binned kernel sums: on a grid's nodes, or interpolated at queries, with their bounds.

:class:`BinnedSums` holds binned data convolved on a grid (the FFT sums) and
repairs the tails (nodes below :data:`~lookalike._math.binned.fft.REPAIR_FRACTION`
of the peak are recomputed by the exact engine). :func:`grid_log_sums` returns
every (or every ``stride``-th) node, :func:`log_sums_at` interpolates at
queries, :func:`grid_squared_reach` gives the error model's local reach; with
``with_bound=True`` each value carries its own error bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, overload

import numpy as np

from lookalike._math.binned.errors import (
    FFT_ROUNDING,
    error_bound,
    node_error_bounds,
    query_error_bounds,
)
from lookalike._math.binned.fft import REPAIR_FRACTION, SHIFTED_MOMENT, Moment, convolve
from lookalike._math.binned.grid import (
    DEFAULT_MAX_CELLS,
    Grid,
    GridTooLargeError,
    covering_grid,
    data_extent,
    make_grid,
)
from lookalike._math.binned.interpolation import cells, corner_weights, interpolate
from lookalike._math.binning import linear_binning
from lookalike._math.blocks import SERIAL, BlockMap
from lookalike._math.kernel_sums import TrainingPoints, log_kernel_sums, prepare_training_points
from lookalike._math.kernels import KERNELS, Kernel

__all__ = [
    "BinnedSums",
    "cell_curvature",
    "grid_log_sums",
    "grid_squared_reach",
    "log_sums_at",
]


@dataclass(frozen=True)
class BinnedSums:
    """Binned data convolved on a grid: FFT sums, and what the repair needs.

    ``cover`` is the binning grid: the lattice of ``grid`` extended to hold the
    data; ``grid`` starts at node ``offset`` of it. ``peak`` is the largest FFT
    value; ``moments`` (Gaussian kernel, when ``moment`` is asked for) the
    convolution with the moment's kernel (:func:`convolve`).
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
    block_map: BlockMap

    @classmethod
    def make(
        cls,
        points: np.ndarray,
        weights: np.ndarray | None,
        kernel: Kernel,
        grid: Grid,
        data_range: tuple[np.ndarray, np.ndarray],
        max_cells: int,
        block_map: BlockMap,
        moment: Moment | None = None,
    ) -> BinnedSums:
        cover, offset = covering_grid(grid, data_range)
        cells = max(cover.size, grid.size)
        if cells > max_cells:
            raise GridTooLargeError(
                f"The binned evaluation needs a grid of {cells} cells, more than "
                f"max_cells={max_cells}; use a coarser grid (a larger tolerance) or the exact "
                "evaluation."
            )
        counts = linear_binning(points, cover.origin, cover.spacing, cover.shape, weights)
        workers = block_map.n_threads
        compact = math.isfinite(kernel.support)
        values, occupied, second = convolve(
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
            block_map,
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
                loose = node_error_bounds(self.grid.spacing, d + reach, zero) > tolerance
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
        return log_kernel_sums(self._queries(flat_index), training, self.kernel, self.block_map)

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
        shifted = log_kernel_sums(queries, self._bins[1], SHIFTED_MOMENT, self.block_map)
        return np.maximum(np.expm1(shifted - log_sums) - 1.0, 0.0)


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
    block_map: BlockMap,
    moment: Moment | None,
) -> tuple[BinnedSums, list[np.ndarray], np.ndarray | None]:
    """The binned data on a grid, the axes of every ``stride``-th node and their indices."""
    kern = KERNELS[kernel]
    data_range = data_extent(points)
    grid = make_grid(points, kern, n_points, spacing, bounds, data_range)
    binned = BinnedSums.make(points, weights, kern, grid, data_range, max_cells, block_map, moment)
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
    block_map: BlockMap = ...,
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
    block_map: BlockMap = ...,
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
    block_map: BlockMap = SERIAL,
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
    block_map : BlockMap, default=SERIAL
        How the repair maps its blocks of nodes; its ``n_threads`` are the FFT's
        workers (:func:`lookalike._parallel.block_map` for threads).
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
        block_map,
        "factor" if local else None,
    )
    shape = tuple(len(axis) for axis in axes)
    if not with_bound:
        return axes, binned.log_at(index, repair).reshape(shape)
    d = binned.grid.ndim
    if local:
        log_sums, factor, rounding = binned.terms_at(index, repair, tolerance)
        bound = node_error_bounds(binned.grid.spacing, factor, rounding)
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
    block_map: BlockMap = SERIAL,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The Gaussian error model's local reach ``rho^2 = E_pi |z|^2`` at grid nodes.

    The mean squared distance (bandwidths) from each node to the binned data,
    each bin weighted by its share of the node's Gaussian kernel sum: the
    ratio of two FFT convolutions of the counts (with ``|u|^2 k`` and with
    ``k``) where the FFT is trusted, of two direct sums over the bins where the
    tail repair recomputes the node (module docstring).

    Parameters
    ----------
    points, weights, n_points, spacing, bounds, stride, max_cells, block_map
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
        block_map,
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
    block_map: BlockMap = ...,
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
    block_map: BlockMap = ...,
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
    block_map: BlockMap = SERIAL,
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
    block_map : BlockMap, default=SERIAL
        As :func:`grid_log_sums`.
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
    data_range = data_extent(points)
    grid = make_grid(points, kern, spacing=spacing, bounds=bounds, data_range=data_range)
    local = with_bound and kernel == "gaussian"
    moment: Moment | None = "factor" if local else None
    binned = BinnedSums.make(points, weights, kern, grid, data_range, max_cells, block_map, moment)
    corners, fractions, outside, lower = cells(grid, queries)
    weights = corner_weights(fractions)
    # Each needed node once (a mask over the grid is cheaper than sorting the corners).
    wanted = np.zeros(grid.size, dtype=bool)
    wanted[corners] = True
    needed = np.flatnonzero(wanted)
    table = np.empty(grid.size)
    out = np.full(queries.shape[0], np.nan)
    bound = np.full(queries.shape[0], np.inf)
    if local:
        table[needed], factor, rounding = binned.terms_at(needed, tolerance=tolerance)
        node_bounds = node_error_bounds(grid.spacing, factor, rounding)
        # Position of each corner among the needed nodes.
        position = np.empty(grid.size, dtype=np.intp)
        position[needed] = np.arange(needed.size)
        at = position[corners]
        curvature = cell_curvature(binned, corners, lower, table, wanted)
        bound[~outside] = query_error_bounds(
            fractions, weights, grid.spacing, node_bounds[at], factor[at], curvature
        )
    else:
        table[needed] = binned.log_at(needed)
        bound[~outside] = error_bound(kernel, grid.ndim, float(grid.spacing.max()))
    out[~outside] = interpolate(table[corners], weights)
    if with_bound:
        return out, outside, bound
    return out, outside


def cell_curvature(
    binned: BinnedSums,
    corners: np.ndarray,
    lower: np.ndarray,
    table: np.ndarray,
    wanted: np.ndarray,
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
