"""CellMixture: a mixture of many small cells, columns independent within a cell.

The training rows are split into cells of about ``cell_size`` similar rows by a
principal-direction tree: a cell larger than ``cell_size`` is cut at the median of its
rows' projections on the cell's first principal direction, recursively. A new row is
drawn in two steps:

1. a cell ``c``, with probability proportional to its number of rows;
2. each column independently from the cell: the value (all model dimensions of the
   column together, so a value and its missing indicator stay consistent) of a member
   of ``c`` drawn uniformly; a continuous value is then moved part of the way towards
   a neighbouring training value of its column (``smoothing``;
   :mod:`lookalike.tabular.models._smoothing`), so it is not a copy.

So the model is the mixture ``p(x) = sum_c (n_c / n) prod_j p_cj(x_j)`` whose leaves
``p_cj`` are the empirical distributions of column ``j`` within cell ``c``: a latent
class model with one class per cell and nonparametric leaves. Each column's marginal is
its empirical marginal (a uniform member of a size-weighted cell is a uniform training
row; smoothing interpolates between neighbouring values as the column codec does),
repeated values keep their rates, and dependence between columns is carried by which
cell a row comes from. Small cells follow the data closely; large cells blur more.

Conditioning is exact for the model: with per-member weights ``w_ig`` (1 when member
``i`` meets the condition on group ``g``, a Gaussian kernel around a point for a point
condition on a continuous dimension), a cell is drawn with probability proportional to
``n_c prod_g mean_{i in c} w_ig`` and each conditioned column from its members in
proportion to ``w_ig`` (with smoothing, a range weighs a member by the share of its
smoothing segments inside the range, and the value is drawn on that part; a point
value is then set exactly). No rows are rejected.

The partition works on :func:`~lookalike.tabular.models.base.row_features`. With
``first`` (a column name; the Synthesizer passes the ``levels`` of its
:class:`~lookalike.tabular.models.registry.Leads`: its target or first utility column
when that is a class label, else the label that explains the most),
rows of each level of that column (when it is discrete: a class label, a category, a
boolean) are partitioned on their own, so no cell mixes two of its levels. A model
trained on the synthetic rows to predict that column then meets, in every drawn row,
values of rows that share its label, as in the real table, rather than a cell's mix of
labels. (A numeric column is not split by: measured on abalone's rings, cutting its
range first made both the detector score and the utility worse.)

References
----------
Goodman, L. A. (1974). Exploratory latent structure analysis using both identifiable
and unidentifiable models. *Biometrika* 61(2), 215-231 (latent class models).
Dasgupta, S. and Freund, Y. (2008). Random projection trees and low dimensional
manifolds. *STOC* (principal-direction trees adapt to the data's intrinsic dimension).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from scipy import special
from sklearn.base import BaseEstimator

from lookalike._restore import check_float_array, has_fitted_state, is_int, require
from lookalike._validation import Constraint, Interval, RandomState, validate_params
from lookalike.exceptions import NotFittedError
from lookalike.tabular.columns import ModelDim
from lookalike.tabular.models._smoothing import covered, segments, smoothed
from lookalike.tabular.models.base import (
    Conditions,
    check_first,
    generator,
    level_groups,
    resample,
    row_features,
)

#: Continuous dimension -> its smoothing segments (u, lower end, upper end).
_Segments = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]

#: Power iterations for a cell's first principal direction.
POWER_ITERATIONS = 8

_PARAMETERS: dict[str, Constraint] = {
    "cell_size": Interval(2, None, integer=True),
    "smoothing": Interval(0.0, 1.0),
    "random_state": RandomState(),
}


class CellMixture(BaseEstimator):
    """A mixture of small cells with independent columns in each (see the module docstring).

    Parameters
    ----------
    cell_size : int, default=8
        Largest number of rows in a cell (cells hold between ``cell_size // 2`` and
        ``cell_size`` rows).
    smoothing : float in [0, 1], default=1.0
        How far a drawn continuous value may move towards the next lower or higher
        training value of its column (in probability units, uniformly, as
        :class:`~lookalike.tabular.models.trees.SequentialTrees` does); 0 copies
        values exactly.
    first : str or None, default=None
        A discrete column whose levels no cell mixes: the rows are split by its
        levels before the partition (see the module docstring).
    random_state : None, int, RandomState or Generator, default=None
        Seeds the partition (power iterations) and, when ``sample`` gets none, the
        sampling.

    Attributes
    ----------
    rows_ : ndarray of shape (n_rows, n_dims)
        The training rows in model space, sorted by cell.
    cell_starts_ : ndarray of shape (n_cells + 1,)
        Row ``cell_starts_[c]`` is the first of cell ``c``.
    groups_ : list of (int, int)
        ``[start, stop)`` of each column's model dimensions.
    discrete_ : ndarray of bool
        Which dimensions are discrete.
    """

    def __init__(
        self,
        cell_size: int = 8,
        smoothing: float = 1.0,
        first: str | None = None,
        random_state: Any = None,
    ) -> None:
        self.cell_size = cell_size
        self.smoothing = smoothing
        self.first = first
        self.random_state = random_state

    def fit(self, Z: np.ndarray, dims: Sequence[ModelDim]) -> Self:
        """Partition the rows of ``Z`` into cells."""
        validate_params(self, _PARAMETERS)
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != len(dims) or Z.shape[0] == 0:
            raise ValueError(f"Z must have shape (n_rows, {len(dims)}); got {Z.shape}.")
        check_first(self.first, dims, type(self).__name__)
        rng = generator(self.random_state)
        features = row_features(Z, dims)
        cells = np.empty(Z.shape[0], dtype=np.int64)
        n_cells = 0
        for part in level_groups(Z, dims, self.first) or [np.arange(Z.shape[0])]:
            labels = principal_tree_cells(features[part], self.cell_size, rng)
            cells[part] = labels + n_cells
            n_cells += int(labels.max()) + 1
        order = np.argsort(cells, kind="stable")
        self.rows_ = Z[order]
        counts = np.bincount(cells)
        self.cell_starts_ = np.concatenate(([0], np.cumsum(counts)))
        self.groups_ = column_groups(dims)
        self.discrete_ = np.array([d.discrete for d in dims], dtype=bool)
        self.bandwidth_ = point_bandwidth(Z.shape[0])
        return self

    @property
    def n_cells_(self) -> int:
        return int(self.cell_starts_.size - 1)

    def sample(
        self, n: int, conditions: Conditions | None = None, random_state: Any = None
    ) -> np.ndarray:
        """``n`` rows in model space that meet ``conditions`` exactly."""
        if not hasattr(self, "rows_"):
            raise NotFittedError("This CellMixture is not fitted yet; call fit first.")
        rng = generator(self.random_state if random_state is None else random_state)
        conditions = dict(conditions or {})
        starts, sizes = self.cell_starts_[:-1], np.diff(self.cell_starts_)
        smooth = self._segments(conditions)  # of the range-conditioned dimensions
        member_weights = self._member_weights(conditions, smooth)
        cell_weight = sizes.astype(np.float64)
        for weights in member_weights.values():
            cell_weight *= np.add.reduceat(weights, starts) / sizes
        cells = resample(cell_weight, n, rng)
        out = np.empty((n, self.rows_.shape[1]))
        for g, (start, stop) in enumerate(self.groups_):
            if g in member_weights:
                members = _weighted_members(member_weights[g], starts, sizes, cells, rng)
            else:
                members = starts[cells] + (rng.random(n) * sizes[cells]).astype(np.int64)
            out[:, start:stop] = self.rows_[members, start:stop]
            for j in range(start, stop):
                if (
                    self.smoothing == 0
                    or self.discrete_[j]
                    or (j in conditions and conditions[j][0] == "point")
                ):
                    continue
                # One dimension's segments at a time: three floats per training row.
                bounds = smooth[j] if j in smooth else segments(self.rows_[:, j], self.smoothing)
                low, high = _range(conditions.get(j))
                out[:, j] = smoothed(bounds, self.rows_[:, j], members, low, high, rng)
        for j, condition in conditions.items():
            if condition[0] == "point":
                out[:, j] = condition[1]
        return out

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        Hyper-parameters pass fit's validation; ``rows_`` is a float64 matrix
        with NaN only in continuous dimensions; ``cell_starts_`` cuts its rows
        into non-empty cells; ``groups_`` cuts its dimensions into columns, in
        order; ``discrete_`` has one flag per dimension and the point bandwidth
        is positive.
        """
        validate_params(self, _PARAMETERS)
        require(self.first is None or isinstance(self.first, str), "first must be a str or None")
        if not has_fitted_state(self):
            return
        rows = check_float_array(self.rows_, "rows_", finite=False)
        require(rows.dtype == np.float64 and rows.ndim == 2, "rows_ must be a float64 matrix")
        n, m = rows.shape
        require(n >= 1 and m >= 1, "rows_ must hold at least one row and one dimension")
        starts = self.cell_starts_
        require(
            isinstance(starts, np.ndarray)
            and starts.dtype == np.int64
            and starts.ndim == 1
            and starts.size >= 2
            and starts[0] == 0
            and starts[-1] == n
            and bool(np.all(np.diff(starts) > 0)),
            f"cell_starts_ must increase from 0 to {n} (no empty cell)",
        )
        groups = self.groups_
        require(
            isinstance(groups, list)
            and all(
                isinstance(g, tuple) and len(g) == 2 and is_int(g[0]) and is_int(g[1])
                for g in groups
            )
            and [g[0] for g in groups] == [0, *(g[1] for g in groups[:-1])]
            and bool(groups)
            and groups[-1][1] == m
            and all(g[0] < g[1] for g in groups),
            f"groups_ must cut the {m} dimensions into consecutive columns",
        )
        discrete = self.discrete_
        require(
            isinstance(discrete, np.ndarray) and discrete.dtype == bool and discrete.shape == (m,),
            f"discrete_ must be a bool array of {m} flags",
        )
        require(not bool(np.isinf(rows).any()), "rows_ has infinite values")
        require(
            not bool(np.isnan(rows[:, discrete]).any()), "rows_ has NaN in a discrete dimension"
        )
        bandwidth = self.bandwidth_
        require(
            isinstance(bandwidth, float) and np.isfinite(bandwidth) and bandwidth > 0,
            "bandwidth_ must be a positive float",
        )

    def check_dims(self, dims: Sequence[ModelDim]) -> None:
        """Raise ValueError unless the model was fitted on the model space ``dims``."""
        if not hasattr(self, "rows_"):
            raise NotFittedError("This CellMixture is not fitted yet; call fit first.")
        require(
            self.rows_.shape[1] == len(dims)
            and self.groups_ == column_groups(dims)
            and np.array_equal(self.discrete_, [d.discrete for d in dims]),
            "the model's dimensions disagree with the encoder's",
        )

    def _segments(self, conditions: dict[int, Any]) -> _Segments:
        """Smoothing segments of the continuous dimensions with a range condition.

        Every continuous dimension is smoothed unless ``smoothing`` is 0 or a point
        condition fixes it; a range condition weighs members by their segments.
        """
        if self.smoothing == 0:
            return {}
        return {
            j: segments(self.rows_[:, j], float(self.smoothing))
            for j, condition in conditions.items()
            if not self.discrete_[j] and condition[0] != "point"
        }

    def _member_weights(
        self, conditions: dict[int, Any], smooth: _Segments
    ) -> dict[int, np.ndarray]:
        """Group index -> weight of every training row for the group's conditions."""
        weights: dict[int, np.ndarray] = {}
        for j, condition in conditions.items():
            g = next(i for i, (a, b) in enumerate(self.groups_) if a <= j < b)
            column = self.rows_[:, j]
            with np.errstate(invalid="ignore"):
                if condition[0] == "point":
                    w = np.exp(-0.5 * ((column - condition[1]) / self.bandwidth_) ** 2)
                elif j in smooth:
                    u, lower, upper = smooth[j]
                    low, high = special.ndtr(condition[1]), special.ndtr(condition[2])
                    w = 0.5 * (covered(lower, u, low, high) + covered(u, upper, low, high))
                else:
                    w = ((column >= condition[1]) & (column <= condition[2])).astype(np.float64)
            w = np.nan_to_num(w, nan=0.0)
            weights[g] = weights[g] * w if g in weights else w
        return weights


def _range(condition: Any) -> tuple[float, float]:
    """The interval of a range condition (the whole line without one)."""
    if condition is None:
        return -np.inf, np.inf
    return float(condition[1]), float(condition[2])


def _weighted_members(
    weights: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    cells: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each drawn cell, a member drawn in proportion to ``weights``."""
    cumulative = np.cumsum(weights)
    before = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    before = np.where(starts > 0, before, 0.0)
    total = cumulative[starts + sizes - 1] - before
    target = before[cells] + rng.random(cells.size) * total[cells]
    members = np.searchsorted(cumulative, target, side="right")
    low, high = starts[cells], starts[cells] + sizes[cells] - 1
    return np.clip(members, low, high)


def column_groups(dims: Sequence[ModelDim]) -> list[tuple[int, int]]:
    """``[start, stop)`` of each column's run of dimensions."""
    groups: list[tuple[int, int]] = []
    start = 0
    for j in range(1, len(dims) + 1):
        if j == len(dims) or dims[j].column != dims[start].column:
            groups.append((start, j))
            start = j
    return groups


def point_bandwidth(n_rows: int) -> float:
    """Kernel width (normal-score units) that weighs members around a point condition."""
    return float(1.06 * n_rows ** (-1.0 / 5.0))


def principal_tree_cells(
    features: np.ndarray, cell_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Cell label of every row: recursive median cuts along first principal directions."""
    n = features.shape[0]
    labels = np.zeros(n, dtype=np.int64)
    pending = [np.arange(n)]
    next_label = 0
    while pending:
        rows = pending.pop()
        if rows.size <= cell_size:
            labels[rows] = next_label
            next_label += 1
            continue
        block = features[rows]
        centred = block - block.mean(axis=0)
        direction = rng.standard_normal(features.shape[1])
        for _ in range(POWER_ITERATIONS):
            direction = centred.T @ (centred @ direction)
            norm = np.linalg.norm(direction)
            if norm == 0:
                break
            direction /= norm
        order = np.argsort(centred @ direction, kind="stable")
        half = rows.size // 2
        pending.append(rows[order[half:]])
        pending.append(rows[order[:half]])
    return labels
