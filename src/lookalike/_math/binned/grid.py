"""Regular grids of the binned path: nodes, default bounds, the lattice that covers the data.

Pure functions in unit-bandwidth coordinates. :func:`make_grid` places a grid
from a node count or a spacing and bounds (by default the data range extended
by :func:`default_extension`, the kernel's reach); :func:`covering_grid`
extends its lattice to hold every data point, which is binned there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lookalike._math.kernels import Kernel

__all__ = [
    "DEFAULT_MAX_CELLS",
    "MAX_COUNT",
    "PRACTICAL_LEVEL",
    "Grid",
    "GridTooLargeError",
    "covering_grid",
    "data_extent",
    "default_extension",
    "make_grid",
]

# Grid cells allowed by default (binning grid; the FFT arrays are up to 2^d times larger).
DEFAULT_MAX_CELLS = 2**22
# Node counts are clipped here before becoming integers (data spanning more nodes than an
# int64 holds): such a grid is far over any max_cells and is refused.
MAX_COUNT = 2.0**52
# Default bounds: the data range extended by the support, or for unbounded kernels by the
# radius where the profile has fallen to 1e-4 of its peak.
PRACTICAL_LEVEL = 1e-4


class GridTooLargeError(ValueError):
    """The grid needed for the requested accuracy has more cells than allowed.

    The estimator catches it and evaluates exactly instead.
    """


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
        low, high = data_extent(points) if data_range is None else data_range
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


def data_extent(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)


def covering_grid(
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
