"""How KernelDensity evaluates its kernel sums: the exact and the binned strategy.

Both work in unit-bandwidth coordinates (:class:`~lookalike.kde.bandwidth.Scaling`)
on a :class:`FittedPoints` view of the fitted estimate, and return
``log sum_j w_j k(|q - x_j|)`` per query; the estimator adds the normaliser.

- :class:`Exact`: every kernel sum to rounding, by blocked matrix products
  (:mod:`lookalike._math.kernel_sums`). Cost: ``n_train * n_query`` kernel
  terms, in bounded memory. Always available, any metric; the fallback of
  the binned strategy.
- :class:`Binned`: linear binning on a grid and FFT convolution
  (:mod:`lookalike._math.binned`), 1 to 3 features, Euclidean metric. Cost:
  about the number of grid nodes (times a logarithm), independent of the
  number of rows. It owns its plan (the node spacing that meets the
  tolerance in the bulk of the data, the grid's bounds), its cost test
  (``"auto"`` bins only when the exact path would evaluate
  :data:`BINNED_ADVANTAGE` times more kernel terms than the grid has nodes)
  and its fallback: queries outside the grid, and those whose own error bound
  exceeds the tolerance, are evaluated exactly, so for the Gaussian and
  exponential kernels every value is within the tolerance of the exact one.
  Compact kernels have no log-error bound and are binned at a fixed spacing
  of :data:`COMPACT_BINNED_SPACING` bandwidths.

The tests cross-check the strategies against each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lookalike._math import binned
from lookalike._math.blocks import BlockMap
from lookalike._math.kernel_sums import TrainingPoints, log_kernel_sums
from lookalike._math.kernels import Kernel

__all__ = [
    "BINNED_ADVANTAGE",
    "COMPACT_BINNED_SPACING",
    "DEFAULT_BINNED_TOLERANCE",
    "TOLERANCE_SLACK",
    "Binned",
    "Exact",
    "FittedPoints",
]

# The binned path: explicit algorithm="binned" with rtol=0 aims at this log-density error
# (1% of the density, ample for plots); kernels without a log-error model (compact
# support) use this node spacing (bandwidths).
DEFAULT_BINNED_TOLERANCE = 1e-2
COMPACT_BINNED_SPACING = 0.02
# "auto" bins when the exact path would evaluate this many times more kernel terms than
# the grid has nodes (measured break-even on the project machine: about 40).
BINNED_ADVANTAGE = 100.0
# Binned values whose error bound exceeds the tolerance are evaluated exactly; bounds
# within this relative rounding of it pass (the exponential kernel's spacing is the
# inverse of its bound at the tolerance).
TOLERANCE_SLACK = 1e-6


@dataclass(frozen=True)
class FittedPoints:
    """What a strategy reads from a fitted estimate (Euclidean metric).

    Attributes
    ----------
    unit : ndarray of shape (n, d)
        Training points in unit-bandwidth coordinates.
    weights : ndarray of shape (n,) or None
    kernel : Kernel
    training : callable
        ``training()``: the points prepared for the exact engine (built once,
        on first use, by the estimator).
    block_map : BlockMap
        How row blocks are mapped (:func:`lookalike._parallel.block_map` of the
        estimator's ``n_jobs``).
    """

    unit: np.ndarray
    weights: np.ndarray | None
    kernel: Kernel
    training: Callable[[], TrainingPoints]
    block_map: BlockMap


class Exact:
    """Every kernel sum to rounding: cost ``n_train * n_query`` kernel terms."""

    @staticmethod
    def log_sums(points: FittedPoints, unit: np.ndarray) -> np.ndarray:
        """Log kernel sums at the queries ``unit`` (shape (m, d), bandwidth units)."""
        return log_kernel_sums(unit, points.training(), points.kernel, points.block_map)


@dataclass(frozen=True)
class QueryPlan:
    """Node spacing (bandwidths), tolerance and grid bounds (d, 2) of binned queries."""

    spacing: float
    tolerance: float
    bounds: np.ndarray


@dataclass(frozen=True)
class GridPlan:
    """Binning nodes per step of a requested grid, and the tolerance."""

    refinement: int
    tolerance: float


@dataclass(frozen=True)
class Binned:
    """The binned (FFT) strategy; ``algorithm`` is ``"binned"`` (asked for) or ``"auto"``.

    ``"binned"`` always takes it (an error when it cannot reach ``rtol`` or its
    grid does not fit); ``"auto"`` only when ``rtol > 0``, the kernel has an
    error bound, the grid fits and binning is much cheaper than the exact path.
    """

    algorithm: str
    rtol: float

    @property
    def asked_for(self) -> bool:
        return self.algorithm == "binned"

    @property
    def tolerance(self) -> float:
        return self.rtol if self.rtol > 0 else DEFAULT_BINNED_TOLERANCE

    def applies(self, n_features: int) -> bool:
        """Whether the strategy may run at all (the Euclidean metric is the caller's test)."""
        if self.asked_for:
            return True
        return self.algorithm == "auto" and n_features <= 3 and self.rtol > 0

    # Queries ----------------------------------------------------------------------------

    def plan(self, points: FittedPoints, unit: np.ndarray) -> QueryPlan | None:
        """The plan for the queries ``unit`` (bandwidth units), or None for exact.

        ``"binned"``: the spacing at which the bulk of the data meets the
        tolerance (:func:`~lookalike._math.binned.bulk_spacing`); the queries
        beyond the bulk (tails, gaps, sparse data), whose own bound is larger,
        are evaluated exactly afterwards. Compact kernels, which have no
        log-error bound: :data:`COMPACT_BINNED_SPACING` and no tolerance.
        ``"auto"``: the same for the Gaussian and exponential kernels, if the
        grid fits and has :data:`BINNED_ADVANTAGE` times fewer nodes than the
        exact path has kernel terms. The grid spans the queries (and two nodes
        more), within the data range extended by
        :func:`~lookalike._math.binned.default_extension`.
        """
        d = unit.shape[1]
        kernel = points.kernel
        tolerance = self.tolerance
        if self.asked_for:
            spacing = binned.bulk_spacing(kernel.name, d, tolerance)
            if spacing is None and kernel.name in binned.TOLERANCE_KERNELS:
                raise ValueError(
                    f"The binned path cannot reach rtol={self.rtol:g} (its floor is "
                    f"{binned.MIN_TOLERANCE:g}); use algorithm='exact'."
                )
            if spacing is None:
                spacing, tolerance = COMPACT_BINNED_SPACING, math.inf
        elif not self.applies(d):
            return None
        else:
            spacing = binned.bulk_spacing(kernel.name, d, tolerance)
            if spacing is None:
                return None
        reach = binned.default_extension(kernel)
        low, high = points.unit.min(axis=0), points.unit.max(axis=0)
        bounds = np.column_stack(
            [
                np.maximum(unit.min(axis=0) - 2.0 * spacing, low - reach),
                np.minimum(unit.max(axis=0) + 2.0 * spacing, high + reach),
            ]
        )
        if np.any(bounds[:, 1] <= bounds[:, 0]):
            return None  # every query is beyond the grid's reach
        if not self.asked_for:
            extent = np.maximum(bounds[:, 1], high) - np.minimum(bounds[:, 0], low)
            nodes = math.prod((extent / spacing + 1.0).tolist())  # inf, not a warning
            if not self._pays(nodes, float(points.unit.shape[0]) * unit.shape[0]):
                return None
        return QueryPlan(spacing, tolerance, bounds)

    def log_sums(
        self, points: FittedPoints, unit: np.ndarray, plan: QueryPlan
    ) -> np.ndarray | None:
        """Log kernel sums at the queries by the plan; None when the grid does not fit.

        Queries outside the grid and those whose own error bound exceeds the
        tolerance are evaluated exactly (:class:`Exact`).
        """
        try:
            values, outside, bound = binned.log_sums_at(
                points.unit,
                unit,
                points.kernel.name,
                plan.spacing,
                points.weights,
                bounds=plan.bounds,
                block_map=points.block_map,
                with_bound=True,
                tolerance=plan.tolerance,
            )
        except binned.GridTooLargeError as error:
            if self.asked_for:
                raise ValueError(
                    f"The binned path needs a grid larger than allowed ({error}). Ask for "
                    "a larger rtol, or use algorithm='exact' or 'auto'."
                ) from None
            return None
        redo = outside | (bound > plan.tolerance * (1.0 + TOLERANCE_SLACK))
        if np.any(redo):
            values[redo] = Exact.log_sums(points, unit[redo])
        return values

    # Regular grids (score_grid) ---------------------------------------------------------

    def grid_plan(self, points: FittedPoints, unit_step: float, n_points: int) -> GridPlan | None:
        """Binning nodes per step of a regular grid of ``n_points`` per feature, or None.

        ``unit_step`` is the grid's largest step in bandwidth units (the grid is
        axis-aligned in the data's coordinates, so the bandwidth is scalar or
        per feature). The nodes are refined by an integer factor until their
        spacing meets the tolerance in the bulk of the data
        (:func:`~lookalike._math.binned.bulk_spacing` at nodes); every factor-th
        node is then returned, so no interpolation is involved. Compact kernels
        use :data:`COMPACT_BINNED_SPACING` and no tolerance. ``"auto"`` bins only
        when ``rtol > 0``, the refined grid fits and it is much cheaper than
        evaluating every node exactly.
        """
        if self.algorithm not in ("binned", "auto") or (
            self.algorithm == "auto" and self.rtol <= 0
        ):
            return None
        d = points.unit.shape[1]
        kernel = points.kernel
        tolerance = self.tolerance
        needed = binned.bulk_spacing(kernel.name, d, tolerance, at="nodes")
        if needed is None:
            if kernel.name in binned.TOLERANCE_KERNELS:
                return None
            needed, tolerance = COMPACT_BINNED_SPACING, math.inf
        refinement = max(1, math.ceil(unit_step / needed - 1e-9))
        nodes = float(((n_points - 1) * refinement + 1) ** d)
        if nodes > binned.DEFAULT_MAX_CELLS:
            return None
        if not self.asked_for:
            terms = float(points.unit.shape[0]) * n_points**d
            if terms <= BINNED_ADVANTAGE * nodes:
                return None
        return GridPlan(refinement, tolerance)

    def grid_log_sums(
        self,
        points: FittedPoints,
        unit_limits: np.ndarray,
        n_points: int,
        plan: GridPlan,
        exact_at: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray | None:
        """Log kernel sums at the grid's nodes (flat), or None when the grid does not fit.

        The data are binned on a ``plan.refinement`` times finer grid; only the
        returned nodes are repaired in the tails, and they sit on binning nodes,
        so no interpolation is involved. ``exact_at(mask)`` evaluates the nodes
        of a boolean mask exactly: those whose error bound exceeds the tolerance.
        """
        try:
            _, values, bound = binned.grid_log_sums(
                points.unit,
                points.kernel.name,
                points.weights,
                n_points=(n_points - 1) * plan.refinement + 1,
                bounds=unit_limits,
                stride=plan.refinement,
                block_map=points.block_map,
                with_bound=True,
                tolerance=plan.tolerance,
            )
        except binned.GridTooLargeError:
            return None
        values = values.ravel()
        redo = bound.ravel() > plan.tolerance * (1.0 + TOLERANCE_SLACK)
        if np.any(redo):
            values[redo] = exact_at(redo)
        return values

    @staticmethod
    def _pays(nodes: float, exact_terms: float) -> bool:
        """Whether a grid of ``nodes`` fits and beats ``exact_terms`` kernel evaluations."""
        if nodes > binned.DEFAULT_MAX_CELLS:
            return False
        return exact_terms > BINNED_ADVANTAGE * nodes
