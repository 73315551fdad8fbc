"""Constraints that every generated row satisfies.

- :class:`Bounds` keeps a column within ``[low, high]``. It is a condition on the
  column, met exactly by the joint model like a ``where`` range (no rows are thrown
  away).
- :class:`Order` keeps one column at or below another, by rejection: rows that break it
  are drawn again, and a :class:`LowAcceptanceWarning` says so when fewer than 10% of
  the drawn rows are kept.
- :class:`FixedSum` makes columns add up to a total, by rescaling each row's values.

Constraints act on decoded values (numbers, or timestamps for datetime columns;
bounds may be given as ISO strings, ``datetime`` or ``Timestamp``). A missing value
satisfies every constraint on it. New constraints subclass :class:`Constraint`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lookalike._restore import require

#: Column kinds that have an order.
ORDERED_KINDS = ("continuous", "integer", "datetime")


class LowAcceptanceWarning(UserWarning):
    """Fewer than 10% of the generated rows met the constraints."""


class Constraint:
    """Base class: a rule on some columns of every generated row.

    Subclasses set :attr:`kinds` (the column kinds they accept) and override what they
    need: :meth:`ranges` (conditions met by the joint model), :meth:`apply` (a
    transformation of the decoded rows) and :meth:`satisfied` (rows kept).
    """

    kinds: ClassVar[tuple[str, ...]] = ORDERED_KINDS

    def column_names(self) -> list[str]:
        """The columns this constraint is about."""
        raise NotImplementedError

    def ranges(self) -> dict[str, tuple[Any, Any]]:
        """Column -> ``(low, high)`` that the joint model meets exactly."""
        return {}

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The decoded rows after this constraint's transformation."""
        return frame

    def satisfied(self, frame: pd.DataFrame) -> np.ndarray:
        """Which decoded rows meet the constraint."""
        return np.ones(len(frame), dtype=bool)


def _plain_bound(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.date | np.datetime64) or hasattr(value, "isoformat"):
        return str(np.datetime64(value, "ns"))
    if isinstance(value, bool):
        raise TypeError("A bound must be a number, a date/time or None; got a bool.")
    return float(value)


@dataclass
class Bounds(Constraint):
    """Keep ``column`` within ``[low, high]`` (``None``: unbounded), exactly."""

    column: str
    low: float | str | None = None
    high: float | str | None = None

    def __post_init__(self) -> None:
        self.low = _plain_bound(self.low)
        self.high = _plain_bound(self.high)

    @property
    def columns(self) -> list[str]:
        return [self.column]

    def column_names(self) -> list[str]:
        return [self.column]

    def ranges(self) -> dict[str, tuple[Any, Any]]:
        return {self.column: (self.low, self.high)}

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        require(isinstance(self.column, str), "column must be a str")
        for end in (self.low, self.high):
            require(
                end is None or isinstance(end, str) or (type(end) is float and not np.isnan(end)),
                f"Bounds({self.column!r}): a bound must be None, a number or a date string",
            )
        if type(self.low) is float and type(self.high) is float:
            require(self.low <= self.high, f"Bounds({self.column!r}): low > high")


@dataclass
class Order(Constraint):
    """``first <= second`` in every row (``strict``: ``<``), by rejection."""

    first: str
    second: str
    strict: bool = False

    @property
    def columns(self) -> list[str]:
        return [self.first, self.second]

    def column_names(self) -> list[str]:
        return [self.first, self.second]

    def satisfied(self, frame: pd.DataFrame) -> np.ndarray:
        a, b = frame[self.first], frame[self.second]
        broken = (a >= b) if self.strict else (a > b)
        return ~broken.fillna(False).to_numpy(dtype=bool)

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        require(
            isinstance(self.first, str) and isinstance(self.second, str),
            "Order: first and second must be column names",
        )
        require(isinstance(self.strict, bool), "Order: strict must be a bool")


@dataclass
class FixedSum(Constraint):
    """The columns add up to ``total`` in every row, by rescaling the generated values.

    Each row's present values are multiplied by ``total / their sum`` (rows whose
    values are all missing, or sum to 0, are left alone). For continuous columns only;
    rows whose rescaled values leave a column's observed range are drawn again.
    """

    kinds: ClassVar[tuple[str, ...]] = ("continuous",)

    columns: Sequence[str]
    total: float = 1.0

    def __post_init__(self) -> None:
        self.columns = [str(c) for c in self.columns]
        self.total = float(self.total)

    def column_names(self) -> list[str]:
        return list(self.columns)

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        block = frame[self.column_names()].to_numpy(dtype=np.float64)
        present = ~np.isnan(block)
        sums = np.where(present, block, 0.0).sum(axis=1)
        rows = present.any(axis=1) & (sums != 0)
        scale = np.ones_like(sums)
        scale[rows] = self.total / sums[rows]
        frame = frame.copy()
        for j, name in enumerate(self.column_names()):
            frame[name] = (block[:, j] * scale).astype(frame[name].dtype)
        return frame

    def satisfied(self, frame: pd.DataFrame) -> np.ndarray:
        block = frame[self.column_names()].to_numpy(dtype=np.float64)
        present = ~np.isnan(block)
        sums = np.where(present, block, 0.0).sum(axis=1)
        close = np.abs(sums - self.total) <= 1e-9 * max(abs(self.total), 1.0)
        return close | ~present.any(axis=1)

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        columns = self.columns
        require(
            isinstance(columns, list)
            and len(columns) > 0
            and all(isinstance(c, str) for c in columns),
            "FixedSum: columns must be a non-empty list of column names",
        )
        require(
            type(self.total) is float and not np.isnan(self.total),
            "FixedSum: total must be a number",
        )


def rescaled_in_range(
    frame: pd.DataFrame, constraints: Sequence[Constraint], codec: Callable[[str], Any]
) -> np.ndarray:
    """Rows whose values, as constraints that move them left them, stay in observed ranges.

    Only constraints that rescale values (:meth:`Constraint.apply`, as
    :class:`FixedSum` does) can move a value out of its column's observed
    ``[low, high]`` (``codec(name)`` gives the column's codec); such rows are
    rejected, within a relative tolerance of 1e-9.
    """
    keep = np.ones(len(frame), dtype=bool)
    for constraint in constraints:
        if type(constraint).apply is Constraint.apply:
            continue
        for name in constraint.column_names():
            low, high = codec(name).low, codec(name).high
            values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                outside = (values < low - 1e-9 * abs(low)) | (values > high + 1e-9 * abs(high))
            keep &= ~outside
    return keep
