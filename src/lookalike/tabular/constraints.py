"""Constraints that every generated row satisfies.

- :class:`Bounds` (a column within ``[low, high]``) and :class:`Order` (one
  column not above another) are enforced by rejection: rows that break them are
  drawn again, and a :class:`LowAcceptanceWarning` says so when fewer than 10%
  of the drawn rows are kept.
- :class:`FixedSum` (columns adding up to a total) holds by construction: the
  generated values of its columns are rescaled to the total.

Constraints act on decoded values: numbers for continuous and integer columns,
nanoseconds since the epoch for datetimes (bounds may be given as ISO strings,
``datetime`` or ``Timestamp``). A missing value satisfies every constraint on it.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class LowAcceptanceWarning(UserWarning):
    """Fewer than 10% of the generated rows met the constraints and ranges."""


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
class Bounds:
    """Keep ``column`` within ``[low, high]`` (``None``: unbounded), by rejection."""

    column: str
    low: float | str | None = None
    high: float | str | None = None

    def __post_init__(self) -> None:
        self.low = _plain_bound(self.low)
        self.high = _plain_bound(self.high)

    @property
    def columns(self) -> list[str]:
        return [self.column]

    def satisfied(self, values: dict[str, np.ndarray], to_number: Any) -> np.ndarray:
        x = values[self.column]
        keep = np.ones(x.shape[0], dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                keep &= ~(x < to_number(self.column, self.low))
            if self.high is not None:
                keep &= ~(x > to_number(self.column, self.high))
        return keep


@dataclass
class Order:
    """``values[first] <= values[second]`` in every row (``strict``: ``<``), by rejection."""

    first: str
    second: str
    strict: bool = False

    @property
    def columns(self) -> list[str]:
        return [self.first, self.second]

    def satisfied(self, values: dict[str, np.ndarray], to_number: Any) -> np.ndarray:
        a, b = values[self.first], values[self.second]
        with np.errstate(invalid="ignore"):
            broken = a >= b if self.strict else a > b
        return ~broken


@dataclass
class FixedSum:
    """The columns add up to ``total`` in every row, by rescaling the generated values.

    Each row's present values are multiplied by ``total / their sum`` (rows whose
    values are all missing are left alone). For continuous columns only; the
    rescaled rows must still meet the other constraints and bounds.
    """

    columns: Sequence[str]
    total: float = 1.0

    def __post_init__(self) -> None:
        self.columns = [str(c) for c in self.columns]
        self.total = float(self.total)

    def apply(self, values: dict[str, np.ndarray]) -> None:
        block = np.column_stack([values[c] for c in self.columns])
        present = ~np.isnan(block)
        sums = np.where(present, block, 0.0).sum(axis=1)
        rows = present.any(axis=1) & (sums != 0)
        scale = np.ones_like(sums)
        scale[rows] = self.total / sums[rows]
        for j, name in enumerate(self.columns):
            values[name] = block[:, j] * scale

    def satisfied(self, values: dict[str, np.ndarray], to_number: Any) -> np.ndarray:
        block = np.column_stack([values[c] for c in self.columns])
        present = ~np.isnan(block)
        sums = np.where(present, block, 0.0).sum(axis=1)
        close = np.abs(sums - self.total) <= 1e-9 * max(abs(self.total), 1.0)
        return close | ~present.any(axis=1)


Constraint = Bounds | Order | FixedSum
