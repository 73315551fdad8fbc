"""Categorical and boolean codecs: one discrete model dimension, whatever the number of levels.

Each observed category is a level, a missing value one more level; a level's share is
its observed share. In model space the column is one discrete dimension whose normal
score lies in the level's probability interval (levels in order of decreasing
frequency, or in the dtype's order for ordered categoricals), so a 2,000-level column
costs one dimension, not 2,000, and a standard normal score decodes to the observed
level shares exactly.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from lookalike._math.marginals import atoms_only
from lookalike._restore import check_float_array, require
from lookalike.tabular.columns.base import (
    ColumnCodec,
    Condition,
    ModelDim,
    as_columns,
    discrete_dim,
    level_codes,
    level_interval,
    level_scores,
    plain,
)

_TRUE = ("true", "yes", "1", "t", "y")
_FALSE = ("false", "no", "0", "f", "n")


class CategoricalCodec(ColumnCodec):
    """A categorical column (strings, category dtype, intervals, mixed hashable values).

    Attributes
    ----------
    categories : list
        Observed categories, sorted (for display and for ``--where``).
    levels : list
        Observed categories in model order (the last level is "missing" when
        ``missing_rate > 0``; it is not in this list).
    probabilities : ndarray
        Share of each level in model order (missing last, when present).
    dtype_categories : list
        All categories of a pandas category dtype (unused ones too); ``ordered`` says
        whether it is ordered.
    """

    kind = "categorical"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.categories: list[Any] = []
        self.levels: list[Any] = []
        self.probabilities = np.zeros(0)
        self.dtype_categories: list[Any] = []
        self.ordered = False
        self.interval_closed: str | None = None

    # -- fitting -----------------------------------------------------------------------

    def fit(self, series: pd.Series) -> Self:
        self.dtype = str(series.dtype)
        _check_hashable(self.name, series)
        missing = series.isna().to_numpy()
        if missing.all():
            raise ValueError(
                f"Column {self.name!r} has no observed value (all missing); drop it before "
                "fitting."
            )
        observed, counts = self._tally(series[~missing])
        if isinstance(series.dtype, pd.CategoricalDtype):
            self.dtype_categories = [self._plain(v) for v in series.cat.categories]
            self.ordered = bool(series.cat.ordered)
            if isinstance(series.cat.categories.dtype, pd.IntervalDtype):
                self.interval_closed = str(series.cat.categories.closed)
                self.dtype_categories = [_interval_pair(v) for v in series.cat.categories]
        return self.set_counts(observed, counts, len(series))

    def _tally(self, values: pd.Series) -> tuple[list[Any], np.ndarray]:
        """The distinct categories of ``values`` (first appearance first) and their counts.

        pandas counts 1, 1.0 and True as one value; in an object column True is a level
        of its own (as :meth:`codes` looks it up), so such columns are counted by key.
        """
        if values.dtype != object:
            counts = values.value_counts(sort=False)
            return [self._plain(v) for v in counts.index], counts.to_numpy(dtype=np.float64)
        tally: dict[Any, list[Any]] = {}
        for value in values.tolist():
            plain_value = self._plain(value)
            entry = tally.setdefault(_key(plain_value), [plain_value, 0])
            entry[1] += 1
        observed = [entry[0] for entry in tally.values()]
        return observed, np.array([entry[1] for entry in tally.values()], dtype=np.float64)

    def set_counts(self, observed: list[Any], counts: np.ndarray, n_rows: int) -> Self:
        """Levels and shares from the count of every observed category.

        ``observed`` are the categories (as :meth:`fit` stores them) in order of first
        appearance, ``counts`` their numbers of rows and ``n_rows`` the column's length
        (the rest are missing values). :meth:`fit` calls it with the column's counts;
        a partitioned fit (:mod:`lookalike.tabular.partitioned`) with counts added up
        over partitions, after fitting the dtype on a sample.
        """
        counts = np.asarray(counts, dtype=np.float64)
        self.missing_rate = float((n_rows - counts.sum()) / n_rows)
        shares = counts / n_rows
        if self.ordered:
            rank = {_key(c): i for i, c in enumerate(self.dtype_categories)}
            order = np.argsort([rank[_key(c)] for c in observed], kind="stable")
        else:
            order = np.lexsort((np.arange(len(observed)), -shares))
        self.levels = [observed[i] for i in order]
        self.probabilities = np.append(shares[order], self.missing_rate)[
            : len(self.levels) + (self.missing_rate > 0)
        ]
        self.categories = _sorted(observed) if self.interval_closed is None else observed
        return self

    def _plain(self, value: Any) -> Any:
        if isinstance(value, pd.Interval):
            if self.interval_closed is None:
                self.interval_closed = str(value.closed)
            return _interval_pair(value)
        return plain(value)

    # -- model space -------------------------------------------------------------------

    @property
    def n_levels(self) -> int:
        return len(self.levels) + (1 if self.missing_rate > 0 else 0)

    @property
    def dims(self) -> list[ModelDim]:
        return [discrete_dim(self.name, "value", atoms_only(self.probabilities))]

    def codes(self, series: pd.Series) -> np.ndarray:
        """Level index of each value (the missing level for missing values).

        A column of one dtype is factorised first, so each distinct value is looked up
        once; an object column is looked up value by value, since it may hold values
        that compare equal but are different levels (1, 1.0 and True).
        """
        if series.dtype == object:
            return self._codes_of_each(series)
        positions, uniques = pd.factorize(series, use_na_sentinel=True)
        missing_code = len(self.levels)
        per_unique = self._codes_of_each(pd.Series(np.asarray(uniques, dtype=object)))
        codes = np.full(len(series), missing_code, dtype=np.int64)
        present = positions >= 0
        codes[present] = per_unique[positions[present]]
        if self.missing_rate == 0 and not present.all():
            raise ValueError(f"column {self.name!r} had no missing values when fitted.")
        return codes

    def _codes_of_each(self, series: pd.Series) -> np.ndarray:
        lookup = {_key(level): i for i, level in enumerate(self.levels)}
        codes = np.empty(len(series), dtype=np.int64)
        missing_code = len(self.levels)
        for i, value in enumerate(series.tolist()):
            if _is_missing(value):
                codes[i] = missing_code
                continue
            try:
                codes[i] = lookup[_key(self._plain(value))]
            except KeyError:
                raise ValueError(
                    f"value {value!r} of column {self.name!r} is not one of its fitted categories."
                ) from None
        if self.missing_rate == 0 and np.any(codes == missing_code):
            raise ValueError(f"column {self.name!r} had no missing values when fitted.")
        return codes

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        return level_scores(atoms_only(self.probabilities), self.codes(series), rng)[:, None]

    def decode(self, z: np.ndarray) -> pd.Series:
        z = as_columns(z)
        return self.from_codes(level_codes(atoms_only(self.probabilities), z[:, 0]))

    def from_codes(self, codes: np.ndarray) -> pd.Series:
        """The column from level indices (the missing level gives missing values)."""
        missing = codes >= len(self.levels)
        if self.dtype == "category":
            categories = self._restored(self.dtype_categories)
            position = {_key(c): i for i, c in enumerate(self.dtype_categories)}
            mapped = np.array([position[_key(c)] for c in self.levels], dtype=np.int64)
            full = np.where(missing, -1, mapped[np.minimum(codes, len(mapped) - 1)])
            return pd.Series(
                pd.Categorical.from_codes(full, categories=categories, ordered=self.ordered)
            )
        values = np.empty(len(codes), dtype=object)
        restored = self._restored(self.levels)
        for i, code in enumerate(codes):
            values[i] = None if missing[i] else restored[code]
        series = pd.Series(values, dtype=object)
        if missing.any():
            series[missing] = np.nan
        try:
            return series.astype(self.dtype)
        except (TypeError, ValueError):
            return series

    def _restored(self, values: list[Any]) -> list[Any]:
        if self.interval_closed is None:
            return list(values)
        return [pd.Interval(v[0], v[1], closed=self.interval_closed) for v in values]

    # -- values given by users ---------------------------------------------------------

    def parse(self, text: str) -> Any:
        for category in self.categories:
            if str(category) == text:
                return category
        for category in self.categories:  # 6 matches 6.0, True matches true
            if str(category).lower() == text.lower() or _same_number(category, text):
                return category
        raise ValueError(
            f"value {text!r} is not a category of column {self.name!r}; categories: "
            f"{_shown(self.categories)}"
        )

    def conditions(self, value: Any) -> dict[int, Condition]:
        value = self._plain(value)
        marginal = atoms_only(self.probabilities)
        if _is_missing(value):
            if self.missing_rate == 0:
                raise ValueError(f"column {self.name!r} has no missing values to condition on.")
            return {0: level_interval(marginal, len(self.levels))}
        keys = [_key(level) for level in self.levels]
        if (isinstance(value, list) and self.interval_closed is None) or _key(value) not in keys:
            raise ValueError(
                f"value {value!r} is not a category of column {self.name!r}; categories: "
                f"{_shown(self.categories)}"
            )
        return {0: level_interval(marginal, keys.index(_key(value)))}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["levels"] = len(self.levels)
        return info

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        Levels are distinct plain values (strings, numbers, booleans, tuples of
        them; ``[left, right]`` pairs for intervals) and the same as
        ``categories``; one probability per level (0 for an unused category of a
        category dtype) and one for "missing" when values were missing (equal to
        ``missing_rate``), summing to 1; a category dtype's categories include
        every level.
        """
        super()._restore_check()
        where = f"column {self.name!r}"
        closed = self.interval_closed
        require(closed in (None, *_CLOSED), f"{where}: unknown interval_closed {closed!r}")
        require(isinstance(self.ordered, bool), f"{where}: ordered must be a bool")
        lists = (self.levels, self.categories, self.dtype_categories)
        require(all(isinstance(v, list) for v in lists), f"{where}: levels must be lists")
        for value in (*self.levels, *self.categories, *self.dtype_categories):
            require(_plain_level(value, closed), f"{where}: invalid category {value!r}")
        keys = {_key(level) for level in self.levels}
        require(len(keys) == len(self.levels) > 0, f"{where}: levels must be distinct")
        require(
            len(self.categories) == len(self.levels)
            and {_key(c) for c in self.categories} == keys,
            f"{where}: categories and levels disagree",
        )
        n_levels = self.n_levels
        probabilities = check_float_array(self.probabilities, f"{where}: probabilities")
        require(
            probabilities.shape == (n_levels,),
            f"{where}: {probabilities.size} probabilities for {n_levels} levels",
        )
        require(
            bool(np.all(probabilities >= 0)) and abs(float(probabilities.sum()) - 1.0) <= 1e-6,
            f"{where}: probabilities must be >= 0 and sum to 1",
        )
        if self.missing_rate > 0:
            require(
                abs(float(probabilities[-1]) - self.missing_rate) <= 1e-9,
                f"{where}: the missing level's probability is not missing_rate",
            )
        if self.dtype == "category":
            dtype_keys = {_key(c) for c in self.dtype_categories}
            require(
                len(dtype_keys) == len(self.dtype_categories) and keys <= dtype_keys,
                f"{where}: dtype_categories must be distinct and hold every level",
            )


class BooleanCodec(CategoricalCodec):
    """A boolean column: the categorical codec on ``False``/``True``."""

    kind = "boolean"

    def parse(self, text: str) -> Any:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"column {self.name!r} is boolean; use true or false, not {text!r}")


# ---------------------------------------------------------------------------------------


_CLOSED = ("left", "right", "both", "neither")


def _plain_level(value: Any, closed: str | None) -> bool:
    """A category as a model file may hold it: a plain scalar (a date too), or an
    interval's ends."""
    if closed is not None:
        return (
            isinstance(value, list)
            and len(value) == 2
            and all(_plain_level(end, None) and not isinstance(end, str) for end in value)
        )
    if isinstance(value, float):
        return not np.isnan(value)
    if isinstance(value, tuple):  # an object column's tuples
        return all(_plain_level(item, None) for item in value)
    return isinstance(value, str | int | bool | pd.Timestamp)  # NaT is no Timestamp


def _check_hashable(name: str, series: pd.Series) -> None:
    if series.dtype != object:
        return
    for value in series.tolist():
        if isinstance(value, list | dict | set | np.ndarray):
            raise ValueError(
                f"Column {name!r} holds {type(value).__name__} values, which cannot be "
                f"modelled; convert them to text (df[{name!r}].astype(str)) or drop the column."
            )


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _key(value: Any) -> Any:
    """A lookup key that tells 1 from True and 1.0 from "1"."""
    if isinstance(value, list):
        return ("list", *value)
    return (type(value).__name__ if isinstance(value, bool) else "", value)


def _interval_pair(value: pd.Interval) -> list[Any]:
    return [plain(value.left), plain(value.right)]


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _shown(values: list[Any], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _same_number(category: Any, text: str) -> bool:
    if isinstance(category, bool) or not isinstance(category, int | float):
        return False
    try:
        return float(text) == float(category)
    except ValueError:
        return False
