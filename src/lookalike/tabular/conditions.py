"""``where=`` as the Synthesizer reads it: user conditions merged with Bounds constraints.

A condition is ``column -> value`` (an exact value, also a missing one for categorical
and boolean columns) or ``column -> (low, high)`` (a range; ``None`` leaves an end
open). :func:`merge_conditions` checks them against the fitted table and narrows each
range by the :class:`~lookalike.tabular.constraints.Bounds` on its column, so the joint
model is asked once for rows that meet both. :func:`filled` then sets an exactly
conditioned column to the value as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lookalike.tabular.columns import ColumnCodec, IdCodec
from lookalike.tabular.encoder import TableEncoder

__all__ = ["filled", "merge_conditions"]


def merge_conditions(
    where: Mapping[str, Any] | None,
    columns: Sequence[str],
    encoder: TableEncoder,
    constraints: Sequence[Any] | None,
) -> dict[str, Any]:
    """``where`` merged with the ranges of ``constraints`` (column -> value or range).

    Raises
    ------
    TypeError
        ``where`` is not a mapping.
    ValueError
        A column is unknown or an id column, or a numeric or datetime column is
        conditioned on a missing value.
    """
    if where is not None and not isinstance(where, Mapping):
        raise TypeError(f"where must be a dict column -> value; got {where!r}.")
    merged: dict[str, Any] = {}
    for name, value in (where or {}).items():
        if name not in columns:
            raise ValueError(
                f"unknown column {name!r} in where; columns are: {', '.join(columns)}"
            )
        codec = encoder.codec(name)
        if isinstance(codec, IdCodec):
            raise ValueError(f"column {name!r} is an id column; it cannot be conditioned on.")
        if isinstance(value, list):
            value = tuple(value)
        missing = value is None or (isinstance(value, float) and np.isnan(value))
        if missing and codec.kind not in ("categorical", "boolean"):
            raise ValueError(f"where[{name!r}] must be a value; got {value!r}.")
        merged[name] = value
    for constraint in constraints or []:
        for name, (low, high) in constraint.ranges().items():
            if name in merged and not isinstance(merged[name], tuple):
                continue  # an exact value: checked against the bounds when sampled
            merged[name] = _intersect(merged.get(name), (low, high), encoder.codec(name))
    return merged


def filled(column: pd.Series, value: Any) -> pd.Series:
    """``column`` with every value set to ``value``, keeping its dtype where it can."""
    values = pd.Series([value] * len(column), index=column.index, dtype=object)
    try:
        return values.astype(column.dtype)
    except (TypeError, ValueError):
        return column


def _intersect(current: Any, bounds: tuple[Any, Any], codec: ColumnCodec) -> tuple[Any, Any]:
    """The intersection of a where range (or None) with a Bounds range."""
    if current is None:
        return bounds
    low, high = current
    new_low, new_high = bounds
    number = getattr(codec, "number", None)
    if number is None:
        return current
    if new_low is not None and (low is None or number(new_low) > number(low)):
        low = new_low
    if new_high is not None and (high is None or number(new_high) < number(high)):
        high = new_high
    return (low, high)
