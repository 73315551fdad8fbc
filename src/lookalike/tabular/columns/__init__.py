"""Column codecs: one registry keyed by kind; where a column's kind is decided.

Every column of a table is handled by one codec (:class:`ColumnCodec`) that infers
nothing itself: :func:`infer_kind` decides the kind by the rules below, and
:data:`CODECS` maps the kind to the codec class that fits, encodes, decodes, parses a
text value and states its model dimensions. The Synthesizer, the command line's
``--where`` and the evaluation's column kinds all go through here.

Inference rules (``kinds=`` overrides them column by column):

- ``"categorical"``: category dtypes, intervals, and text that is neither dates nor ids;
- ``"boolean"``: bool dtypes, and object columns holding only ``True``/``False``;
- ``"datetime"``: datetime64 dtypes (time zones kept), periods, ``datetime`` objects,
  and text whose every value reads as a date (``"2024-01-31 10:00"``);
- ``"integer"``: integer dtypes, float columns whose values are all whole numbers
  (counts stored as float because of missing values), and durations (timedelta);
- ``"continuous"``: other numeric columns;
- ``"id"``: with at least :data:`MIN_ID_ROWS` rows, every value present and distinct,
  and a text column, or an integer column whose name looks like an identifier (``id``,
  ``*_id``, ``*Id``, ``uuid``, ``key``) or whose values are consecutive (a row number).

Complex numbers are refused (as scikit-learn does); cells holding lists, dicts or
sets are refused by the categorical codec with the column's name.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from lookalike.tabular.columns.base import ColumnCodec, Condition, ModelDim
from lookalike.tabular.columns.categorical import BooleanCodec, CategoricalCodec
from lookalike.tabular.columns.datetime import DatetimeCodec
from lookalike.tabular.columns.ids import IdCodec
from lookalike.tabular.columns.numeric import IntegerCodec, NumericCodec

#: The registry: kind -> codec class.
CODECS: dict[str, type[ColumnCodec]] = {
    codec.kind: codec
    for codec in (
        NumericCodec,
        IntegerCodec,
        BooleanCodec,
        CategoricalCodec,
        DatetimeCodec,
        IdCodec,
    )
}

#: The kinds, in the order they are documented.
KINDS = ("continuous", "integer", "boolean", "categorical", "datetime", "id")

#: A column needs at least this many rows before "every value distinct" means "id".
MIN_ID_ROWS = 20

#: Text is checked for dates on at most this many distinct values first.
_DATE_PROBE = 200

_ID_NAME = re.compile(r"(^id$|_id$|^id_|[a-z]Id$|uuid|guid|^key$|_key$)", re.IGNORECASE)
_DATE_SEPARATOR = re.compile(r"\d[-/:.T ]\d|\d[-/][A-Za-z]|[A-Za-z][-/ ]\d")


def infer_kind(series: pd.Series) -> str:
    """The kind of a column, by the rules of the module docstring."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype | pd.IntervalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "integer"
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(
            f"Column {series.name!r}: complex data not supported; split it into real and "
            "imaginary columns."
        )
    if pd.api.types.is_integer_dtype(dtype):
        return "id" if _looks_like_integer_id(series) else "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric_kind(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return _object_kind(series)


def _numeric_kind(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
        return "integer"
    return "continuous"


def _object_kind(series: pd.Series) -> str:
    observed = series.dropna().tolist()
    if not observed:
        return "categorical"
    if all(isinstance(v, bool | np.bool_) for v in observed):
        return "boolean"
    if any(isinstance(v, list | dict | set | np.ndarray) for v in observed):
        return "categorical"  # the codec refuses it, naming the column
    if any(isinstance(v, complex | np.complexfloating) for v in observed):
        raise ValueError(f"Column {series.name!r}: complex data not supported.")
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in observed):
        return _numeric_kind(np.asarray(observed, dtype=np.float64))
    if all(isinstance(v, pd.Timestamp | np.datetime64) or _is_date(v) for v in observed):
        return "datetime"
    if all(isinstance(v, str) for v in observed):
        if _reads_as_dates(series):
            return "datetime"
        if _all_distinct(series) and all(isinstance(v, str) for v in observed):
            return "id"
    return "categorical"


def _is_date(value: Any) -> bool:
    import datetime

    return isinstance(value, datetime.date)


def _reads_as_dates(series: pd.Series) -> bool:
    distinct = pd.Series(series.dropna().unique())
    probe = distinct.iloc[:_DATE_PROBE]
    if not all(_DATE_SEPARATOR.search(v) for v in probe):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(probe, format="mixed", errors="coerce")
            if parsed.isna().any():
                return False
            return not pd.to_datetime(distinct, format="mixed", errors="coerce").isna().any()
    except (TypeError, ValueError, OverflowError):
        return False


def _all_distinct(series: pd.Series) -> bool:
    n = len(series)
    return n >= MIN_ID_ROWS and series.notna().all() and series.nunique() == n


def _looks_like_integer_id(series: pd.Series) -> bool:
    if not _all_distinct(series):
        return False
    if _ID_NAME.search(str(series.name)):
        return True
    values = series.to_numpy(dtype=np.int64)
    return int(values.max()) - int(values.min()) == len(values) - 1


def make_codec(name: str, kind: str, *, tails: bool = False) -> ColumnCodec:
    """An unfitted codec of ``kind`` for column ``name``."""
    try:
        codec_class = CODECS[kind]
    except KeyError:
        raise ValueError(
            f"kinds[{name!r}] must be one of {', '.join(repr(k) for k in KINDS)}; got {kind!r}."
        ) from None
    if issubclass(codec_class, NumericCodec):
        return codec_class(name, tails=tails)
    return codec_class(name)


__all__ = [
    "CODECS",
    "KINDS",
    "BooleanCodec",
    "CategoricalCodec",
    "ColumnCodec",
    "Condition",
    "DatetimeCodec",
    "IdCodec",
    "IntegerCodec",
    "ModelDim",
    "NumericCodec",
    "infer_kind",
    "make_codec",
]
