"""Column kinds of a table: inference rules and the per-column schema.

Every column of a fitted table is described by one :class:`ColumnSchema` that
holds only plain values (str, float, int, bool, lists), so fitted synthesizers
can be written to safe model files.

Inference rules (``kinds=`` overrides them column by column):

- ``"id"``: every value present and distinct, and either a string column or an
  integer column whose name looks like an identifier (``id``, ``*_id``, ``*Id``,
  ``uuid``, ``key``) or whose values are consecutive integers (a row number).
- ``"boolean"``: bool dtypes, or object columns holding only ``True``/``False``.
- ``"categorical"``: category, string and object dtypes.
- ``"datetime"``: datetime64 dtypes (time zones kept).
- ``"integer"``: integer dtypes (nullable ones too), and float columns whose
  observed values are all whole numbers (e.g. counts stored as float because of
  missing values); generated values lie on the observed grid (see ``step``).
- ``"continuous"``: all other numeric columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("continuous", "integer", "boolean", "categorical", "datetime", "id")

# Datetime resolutions, coarsest first: (name, nanoseconds).
DATETIME_UNITS = (
    ("D", 86_400 * 10**9),
    ("h", 3_600 * 10**9),
    ("min", 60 * 10**9),
    ("s", 10**9),
    ("ms", 10**6),
    ("us", 10**3),
    ("ns", 1),
)

# Continuous values are rounded to their observed number of decimals up to this many.
MAX_DECIMALS = 6

_ID_NAME = re.compile(r"(^id$|_id$|^id_|[a-z]Id$|uuid|guid|^key$|_key$)", re.IGNORECASE)


class TableTypeError(TypeError, ValueError):
    """The input is not a pandas DataFrame (both a TypeError and a ValueError)."""


@dataclass
class ColumnSchema:
    """What the synthesizer knows about one column.

    Attributes
    ----------
    name : str
    kind : str
        One of ``KINDS``.
    dtype : str
        The pandas dtype as a string (``"int64"``, ``"category"``, ``"str"``...).
    missing_rate : float
        Fraction of missing values in the fitted table.
    low, high : float or None
        Observed range: values for continuous and integer columns, nanoseconds
        since the epoch (wall time) for datetimes.
    step : float
        Grid step of integer columns (the greatest common divisor of the
        observed offsets from ``low``) and datetime columns (the coarsest unit
        of ``DATETIME_UNITS`` that all values are multiples of, in ns).
    decimals : int or None
        Continuous columns: observed number of decimals (``None``: more than
        ``MAX_DECIMALS``, no rounding).
    categories : list
        Observed categories (categorical, boolean) in order of first sorting.
    dtype_categories : list
        All categories of a pandas category dtype (also unobserved ones).
    ordered : bool
        Whether the category dtype is ordered.
    timezone : str or None
        Time zone of a tz-aware datetime column.
    transform : str
        Per-column transform chosen at fit time (``"none"``, ``"yeo-johnson"``,
        ``"quantile"``, ``"one-hot"``...).
    id_prefix, id_width, id_numeric, id_max : id columns
        Format of identifiers: integer ids continue after ``id_max``; strings
        ``prefix + zero-padded number`` continue the numbering; other strings
        get random hexadecimal ids of length ``id_width``.
    id_values : list of str
        Observed string ids (to avoid them) when they have no numbered pattern.
    origin : int
        Datetime columns: the earliest value in nanoseconds, exactly.
    """

    name: str
    kind: str
    dtype: str
    missing_rate: float = 0.0
    low: float | None = None
    high: float | None = None
    step: float = 1.0
    decimals: int | None = None
    categories: list[Any] = field(default_factory=list)
    dtype_categories: list[Any] = field(default_factory=list)
    ordered: bool = False
    timezone: str | None = None
    transform: str = "none"
    id_prefix: str = ""
    id_width: int = 0
    id_numeric: bool = False
    id_max: int = 0
    id_values: list[str] = field(default_factory=list)
    origin: int = 0

    @property
    def has_missing(self) -> bool:
        return self.missing_rate > 0.0


def check_table(df: Any) -> None:
    """Raise for input that is not a usable DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise TableTypeError(
            f"Synthesizer expects a pandas DataFrame; got {type(df).__name__}. Wrap arrays "
            "with pandas.DataFrame(X, columns=[...])."
        )
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(
            f"The table is empty ({df.shape[0]} rows, {df.shape[1]} columns); give a "
            "DataFrame with at least one row and one column."
        )
    names = list(df.columns)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise ValueError(
            f"Column names must be strings; got {bad[:5]!r}. Rename them, e.g. "
            "df.columns = df.columns.astype(str)."
        )
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Column names must be unique; repeated: {duplicated!r}.")
    empty = [n for n in names if df[n].notna().sum() == 0]
    if empty:
        raise ValueError(
            f"Column {empty[0]!r} has no observed value (all missing); drop it before "
            "fitting, e.g. df.drop(columns=[...])."
        )


def infer_schema(df: pd.DataFrame, kinds: dict[str, str] | None = None) -> list[ColumnSchema]:
    """One :class:`ColumnSchema` per column of ``df``, in order."""
    kinds = dict(kinds or {})
    unknown = [c for c in kinds if c not in df.columns]
    if unknown:
        raise ValueError(
            f"unknown column {unknown[0]!r} in kinds; columns are: {', '.join(df.columns)}"
        )
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise ValueError(
                f"kinds[{name!r}] must be one of {', '.join(repr(k) for k in KINDS)}; "
                f"got {kind!r}."
            )
    return [_column_schema(df[name], kinds.get(name)) for name in df.columns]


def infer_kind(series: pd.Series) -> str:
    """The kind of a column by the rules of the module docstring."""
    dtype = series.dtype
    observed = series.dropna()
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        if _looks_like_int_id(series):
            return "id"
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        values = observed.to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            return "integer"
        return "continuous"
    if pd.api.types.is_numeric_dtype(dtype):
        return "continuous"
    # object / string columns
    values = observed.tolist()
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return "boolean"
    if series.notna().all() and series.nunique() == len(series) and len(series) > 1:
        return "id"
    return "categorical"


def _looks_like_int_id(series: pd.Series) -> bool:
    if series.isna().any() or len(series) < 2 or series.nunique() != len(series):
        return False
    if _ID_NAME.search(str(series.name)):
        return True
    values = series.to_numpy(dtype=np.int64)
    return int(values.max()) - int(values.min()) == len(values) - 1


def _column_schema(series: pd.Series, kind: str | None) -> ColumnSchema:
    name = str(series.name)
    kind = kind or infer_kind(series)
    column = ColumnSchema(
        name=name,
        kind=kind,
        dtype=str(series.dtype),
        missing_rate=float(series.isna().mean()),
    )
    observed = series.dropna()
    if kind in ("continuous", "integer"):
        _numeric(column, observed)
    elif kind == "datetime":
        _datetime(column, series)
    elif kind in ("categorical", "boolean"):
        _categories(column, series, observed)
    elif kind == "id":
        _ids(column, series)
    return column


def _numeric(column: ColumnSchema, observed: pd.Series) -> None:
    try:
        values = observed.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Column {column.name!r} is declared {column.kind} but holds non-numeric values; "
            "fix its kind in kinds= or convert it with pandas.to_numeric."
        ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Column {column.name!r} holds infinite values; replace them (e.g. with NaN)."
        )
    column.low, column.high = float(values.min()), float(values.max())
    if column.kind == "integer":
        rounded = np.round(values)
        if not np.all(rounded == values):
            raise ValueError(
                f"Column {column.name!r} is declared integer but holds fractional values; "
                "declare it 'continuous'."
            )
        offsets = (rounded - column.low).astype(np.int64)
        step = int(np.gcd.reduce(offsets)) if offsets.size else 1
        column.step = float(max(step, 1))
    else:
        column.decimals = _decimals(values)


def _decimals(values: np.ndarray) -> int | None:
    scale = max(float(np.max(np.abs(values))), 1.0)
    for decimals in range(MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(values, decimals) - values) <= 1e-9 * scale):
            return decimals
    return None


def _datetime(column: ColumnSchema, series: pd.Series) -> None:
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError):
            raise ValueError(
                f"Column {column.name!r} is declared datetime but cannot be parsed as dates; "
                "convert it with pandas.to_datetime."
            ) from None
    timezone = getattr(series.dt, "tz", None)
    if timezone is not None:
        column.timezone = str(timezone)
        series = series.dt.tz_localize(None)
    nanoseconds = series.dropna().astype("datetime64[ns]").to_numpy().astype(np.int64)
    column.low, column.high = float(nanoseconds.min()), float(nanoseconds.max())
    column.origin = int(nanoseconds.min())
    for _unit, size in DATETIME_UNITS:
        if np.all(nanoseconds % size == 0):
            column.step = float(size)
            break


def _categories(column: ColumnSchema, series: pd.Series, observed: pd.Series) -> None:
    if isinstance(series.dtype, pd.CategoricalDtype):
        column.dtype_categories = [_plain(v) for v in series.cat.categories]
        column.ordered = bool(series.cat.ordered)
        present = set(observed.unique().tolist())
        column.categories = [c for c in column.dtype_categories if c in present]
        return
    values = [_plain(v) for v in observed.unique()]
    try:
        column.categories = sorted(values)
    except TypeError:
        column.categories = sorted(values, key=repr)


def _ids(column: ColumnSchema, series: pd.Series) -> None:
    values = series.dropna()
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
        column.id_numeric = True
        column.id_max = int(values.max())
        return
    texts = values.astype(str).tolist()
    column.id_width = max(len(t) for t in texts)
    match = [re.fullmatch(r"(\D*)(\d+)", t) for t in texts]
    prefixes = {m.group(1) for m in match if m is not None}
    if all(m is not None for m in match) and len(prefixes) == 1:
        column.id_prefix = prefixes.pop()
        column.id_max = max(int(m.group(2)) for m in match if m is not None)
        column.id_width = max(len(m.group(2)) for m in match if m is not None)
    else:
        column.id_values = texts


def _plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python scalar (lists must stay JSON-able)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
