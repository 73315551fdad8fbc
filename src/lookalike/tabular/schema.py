"""The table as a whole: input checks and the codec of every column.

:func:`check_table` refuses what cannot be a table (with the reason and the fix);
:func:`fit_codecs` decides each column's kind (:func:`~lookalike.tabular.columns.infer_kind`,
or the user's ``kinds=``) and fits its codec. No column is ever dropped silently: a
column that cannot be modelled raises an error that names it, and id columns, which are
not modelled, are listed by ``Synthesizer.summary()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from lookalike.tabular.columns import KINDS, ColumnCodec, infer_kind, make_codec

#: The codec of a column is its schema (kept for code written against lookalike 0.1).
ColumnSchema = ColumnCodec


class TableTypeError(TypeError, ValueError):
    """The input is not a pandas DataFrame (both a TypeError and a ValueError)."""


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
    check_column_names(names)
    empty = [n for n in names if df[n].notna().sum() == 0]
    if empty:
        raise ValueError(
            f"Column {empty[0]!r} has no observed value (all missing); drop it before "
            "fitting, e.g. df.drop(columns=[...])."
        )


def check_column_names(names: list[Any]) -> None:
    """Raise ValueError unless the column names are strings and unique."""
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise ValueError(
            f"Column names must be strings; got {bad[:5]!r}. Rename them, e.g. "
            "df.columns = df.columns.astype(str)."
        )
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Column names must be unique; repeated: {duplicated!r}.")


def check_kinds(df: pd.DataFrame, kinds: Mapping[str, str] | None) -> dict[str, str]:
    """The user's ``kinds=`` as a dict, checked against the table's columns and the kinds."""
    if kinds is None:
        return {}
    if not isinstance(kinds, Mapping):
        raise TypeError(f"kinds must be a dict column -> kind; got {kinds!r}.")
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
    return dict(kinds)


def fit_codecs(
    df: pd.DataFrame, kinds: Mapping[str, str] | None = None, *, tails: bool = False
) -> list[ColumnCodec]:
    """One fitted codec per column of ``df``, in order."""
    chosen = check_kinds(df, kinds)
    codecs = []
    for name in df.columns:
        kind = chosen.get(name) or infer_kind(df[name])
        codecs.append(make_codec(name, kind, tails=tails).fit(df[name]))
    return codecs


__all__ = [
    "ColumnSchema",
    "TableTypeError",
    "check_kinds",
    "check_table",
    "fit_codecs",
    "infer_kind",
]
