"""What every joint model of the Synthesizer does, and the helpers they share.

A joint model sees a table only through its model space (:mod:`lookalike.tabular.encoder`):
a matrix ``Z`` of normal scores, one column per model dimension, described by a list
of :class:`~lookalike.tabular.columns.ModelDim`:

- a continuous dimension (``levels == 0``) holds the normal score of a numeric
  column's value; NaN where the value is missing (its column then has a discrete
  ``"missing"`` dimension right after it, level 1 = missing);
- a discrete dimension (``levels > 0``) holds a normal score inside the probability
  interval of its level; :func:`codes_of` recovers the levels.

Each column's marginal is already exact through its codec: a joint model only has to
carry the dependence. It implements :class:`JointModel`:

- ``fit(Z, dims)``;
- ``sample(n, conditions=None, random_state=None)`` returning an ``(n, m)`` array in
  the same layout, where every row meets ``conditions`` (dimension index ->
  ``("point", z)`` or ``("interval", low, high)``) *exactly*: conditioning is done by
  the model (exactly, or by importance resampling that the model documents), never by
  throwing rows away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Self

import numpy as np

from lookalike._math.marginals import Marginal, normal_scores, uniforms
from lookalike.exceptions import InvalidParameterError
from lookalike.tabular.columns import Condition, ModelDim
from lookalike.tabular.columns.base import level_scores as codec_level_scores

#: A model's conditions: model dimension index -> condition.
Conditions = Mapping[int, Condition]

#: Discrete dimensions with at most this many levels are one-hot in :func:`row_features`.
MAX_ONE_HOT = 16


class JointModel(Protocol):
    """The contract of a joint model (see the module docstring)."""

    def fit(self, Z: np.ndarray, dims: Sequence[ModelDim]) -> Self: ...

    def sample(
        self, n: int, conditions: Conditions | None = None, random_state: Any = None
    ) -> np.ndarray: ...


def generator(random_state: Any) -> np.random.Generator:
    """A ``Generator`` for one call: a Generator as it is, anything else seeds a new one."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**32 - 1, dtype=np.uint64)))
    return np.random.default_rng(random_state)


def check_first(first: Any, dims: Sequence[ModelDim], owner: str) -> None:
    """Raise InvalidParameterError unless ``first`` is None or a column of ``dims``."""
    columns = list(dict.fromkeys(d.column for d in dims))
    if first is not None and (not isinstance(first, str) or first not in columns):
        raise InvalidParameterError(
            f"The 'first' parameter of {owner} must be None or a column name "
            f"(columns: {columns!r}). Got {first!r} instead."
        )


def discrete_column_dims(dims: Sequence[ModelDim], column: str | None) -> list[int] | None:
    """Indices of ``column``'s dimensions when all are discrete; None otherwise.

    None too for a column with a continuous dimension (a number) or no dimension.
    """
    own = [j for j, dim in enumerate(dims) if dim.column == column]
    if not own or not all(dims[j].discrete for j in own):
        return None
    return own


def level_codes(Z: np.ndarray, dims: Sequence[ModelDim], column: str | None) -> np.ndarray | None:
    """Each row's level (``0 .. L-1``) of ``column``, or None unless it is a discrete column.

    The levels of all the column's dimensions together; a column with a continuous
    dimension (a number), or no column, gives None.
    """
    own = discrete_column_dims(dims, column)
    if own is None:
        return None
    codes = np.column_stack([dims[j].codes(Z[:, j]) for j in own])
    _, labels = np.unique(codes, axis=0, return_inverse=True)
    return np.asarray(labels.ravel(), dtype=np.intp)


def level_groups(
    Z: np.ndarray, dims: Sequence[ModelDim], column: str | None
) -> list[np.ndarray] | None:
    """Row indices of each level of ``column`` (:func:`level_codes`), or None."""
    labels = level_codes(Z, dims, column)
    if labels is None:
        return None
    return [np.flatnonzero(labels == label) for label in range(int(labels.max()) + 1)]


def satisfied(Z: np.ndarray, conditions: Conditions | None, atol: float = 1e-9) -> np.ndarray:
    """Rows of ``Z`` that meet every condition (points within ``atol``)."""
    keep = np.ones(Z.shape[0], dtype=bool)
    for j, condition in (conditions or {}).items():
        column = Z[:, j]
        with np.errstate(invalid="ignore"):
            if condition[0] == "point":
                keep &= np.abs(column - condition[1]) <= atol * max(1.0, abs(condition[1]))
            else:
                keep &= (column >= condition[1]) & (column <= condition[2])
    return keep


def resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws with probabilities proportional to ``weights`` (systematic).

    Raises
    ------
    ValueError
        If every weight is zero (the conditions have no mass under the model).
    """
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    if not total > 0 or not np.isfinite(total):
        raise ValueError(
            "The conditions have no probability under the fitted model; widen the ranges "
            "or choose values that occur in the data."
        )
    cumulative = np.cumsum(weights / total)
    cumulative[-1] = 1.0
    positions = (rng.random() + np.arange(n)) / n
    picks = np.searchsorted(cumulative, positions, side="right")
    return rng.permutation(np.minimum(picks, weights.size - 1))


def interval_probability(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``P(low <= Z <= high)`` for a standard normal ``Z``."""
    return np.clip(uniforms(high) - uniforms(low), 0.0, 1.0)


def row_features(Z: np.ndarray, dims: Sequence[ModelDim]) -> np.ndarray:
    """Rows as vectors for distances: the partition of cells, closest-record checks.

    Continuous dimensions as they are (normal scores; missing -> 0), discrete
    dimensions with at most :data:`MAX_ONE_HOT` levels one-hot scaled by ``1/sqrt(2)``
    (two levels are one unit apart, like one standard deviation of a score), wider ones
    by their normal score.
    """
    blocks = []
    for j, dim in enumerate(dims):
        column = Z[:, j]
        if dim.discrete and dim.levels <= MAX_ONE_HOT:
            codes = dim.codes(column)
            one_hot = np.zeros((column.size, dim.levels))
            one_hot[np.arange(column.size), codes] = np.sqrt(0.5)
            blocks.append(one_hot)
        else:
            blocks.append(np.nan_to_num(column, nan=0.0)[:, None])
    return np.hstack(blocks)


#: Uniforms drawn inside a level stay this far (relatively) from the level's ends.
LEVEL_MARGIN = 1e-6


def level_bounds(dim: ModelDim) -> np.ndarray:
    """The probability bounds of a discrete dimension's levels: ``levels + 1`` values.

    Level ``k`` holds the normal scores whose ``Phi`` lies between ``bounds[k]`` and
    ``bounds[k + 1]``.
    """
    return np.concatenate(([0.0], uniforms(np.asarray(dim.cuts, dtype=np.float64)), [1.0]))


def level_scores(
    dim: ModelDim,
    codes: np.ndarray,
    rng: np.random.Generator,
    low: float = -np.inf,
    high: float = np.inf,
) -> np.ndarray:
    """Normal scores drawn uniformly (in probability) within each level, inside ``[low, high]``.

    ``codes`` are levels of the discrete dimension ``dim``; each score's level is
    ``codes`` exactly (``dim.codes`` gives them back) and every score lies in
    ``[low, high]``, which must overlap each code's level. The draw is the codecs'
    (:func:`lookalike.tabular.columns.base.level_scores`) on the levels' intervals
    rebuilt from ``dim.cuts`` and cut to ``[Phi(low), Phi(high)]``, kept
    :data:`LEVEL_MARGIN` inside them.
    """
    codes = np.asarray(codes, dtype=np.int64)
    bounds = level_bounds(dim)
    # The levels' probability intervals, cut to [Phi(low), Phi(high)].
    intervals = Marginal(
        np.arange(dim.levels, dtype=np.float64),
        np.maximum(bounds[:-1], uniforms(np.asarray(low))),
        np.minimum(bounds[1:], uniforms(np.asarray(high))),
    )
    z = codec_level_scores(intervals, codes, rng, LEVEL_MARGIN)
    cuts = np.concatenate(([-np.inf], np.asarray(dim.cuts, dtype=np.float64), [np.inf]))
    z_low, z_high = np.maximum(cuts[codes], low), np.minimum(cuts[codes + 1], high)
    z = np.clip(z, z_low, z_high)
    wrong = dim.codes(z) != codes
    if wrong.any():  # a score rounded onto a cut: the middle of the allowed range
        middle = 0.5 * (intervals.lower[codes[wrong]] + intervals.upper[codes[wrong]])
        z[wrong] = np.clip(normal_scores(middle), z_low[wrong], z_high[wrong])
    return z
