"""``--where``: conditions of ``lookalike sample`` parsed by each column's kind.

A condition is ``column=value`` or ``column=low..high`` (continuous, integer
and datetime columns); either end of a range may be left out for an
open-ended one (``x=..40``, ``x=10..``), as ``None`` is in the Python API
(``where={"x": (None, 40)}``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["categories_of", "parse_where"]


def parse_where(
    items: Sequence[str],
    columns: Sequence[Mapping[str, Any]],
    categories: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Parse ``--where`` strings into the ``where`` mapping of ``Synthesizer.sample``.

    Parameters
    ----------
    items : sequence of str
        Each ``"column=value"`` or ``"column=low..high"`` (a closed range, for
        continuous, integer and datetime columns; leave out ``low`` or ``high``
        for an open-ended range).
    columns : sequence of mapping
        The fitted columns, as ``Synthesizer.summary()["columns"]``: each with
        ``"name"``, ``"kind"`` and ``"dtype"``.
    categories : mapping, optional
        Column name -> its categories. A categorical value is matched against
        their text; without it the value is converted by the column's dtype.

    Returns
    -------
    dict
        Column -> a scalar (float, int, bool, category or ``pandas.Timestamp``)
        or a ``(low, high)`` tuple, with ``None`` for an open end.

    Raises
    ------
    ValueError
        If an item has no ``=``, names an unknown column or an id column, a
        column is given twice, a value cannot be read as the column's kind
        (a fractional value for an integer column included), a range is empty,
        has no end at all or is given for a column that has no order, or a
        value is not one of a categorical column's categories.

    Examples
    --------
    >>> fitted = [{"name": "species", "kind": "categorical", "dtype": "object"},
    ...           {"name": "mass", "kind": "continuous", "dtype": "float64"},
    ...           {"name": "year", "kind": "integer", "dtype": "int64"}]
    >>> parse_where(["species=Adelie", "mass=3500..4500", "year=2008.."], fitted)
    {'species': 'Adelie', 'mass': (3500.0, 4500.0), 'year': (2008, None)}
    """
    by_name = {str(column["name"]): column for column in columns}
    conditions: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not equals or not name or not text:
            raise ValueError(f"--where {item!r} must look like column=value or column=low..high")
        if name not in by_name:
            raise ValueError(
                f"unknown column {name!r} in --where; columns are: {', '.join(by_name)}"
            )
        if name in conditions:
            raise ValueError(f"column {name!r} is given twice in --where")
        column = by_name[name]
        kind, dtype = str(column["kind"]), str(column.get("dtype", ""))
        known = None if categories is None else categories.get(name)
        conditions[name] = _parse_condition(name, kind, dtype, text, known)
    return conditions


def _parse_condition(
    name: str, kind: str, dtype: str, text: str, categories: Sequence[Any] | None
) -> Any:
    if kind == "id":
        raise ValueError(f"column {name!r} is an id column; it cannot be conditioned on")
    low_text, dots, high_text = text.partition("..")
    if dots:
        if kind not in _BOUND_PARSERS:
            raise ValueError(
                f"column {name!r} is {kind}: give one value (column=value), not a range"
            )
        parse = _BOUND_PARSERS[kind]
        low_text, high_text = low_text.strip(), high_text.strip()
        if not low_text and not high_text:
            raise ValueError(
                f"range {text!r} for column {name!r} has no end; give low..high, ..high or low.."
            )
        low = parse(name, low_text) if low_text else None
        high = parse(name, high_text) if high_text else None
        if low is not None and high is not None and not low <= high:
            raise ValueError(f"empty range {text!r} for column {name!r}: low is above high")
        return (low, high)
    if kind in _VALUE_PARSERS:
        return _VALUE_PARSERS[kind](name, text)
    if kind == "boolean":
        return _parse_bool(name, text)
    if kind == "categorical":
        return _parse_category(name, dtype, text, categories)
    raise ValueError(f"column {name!r} has kind {kind!r}, which --where does not support")


def _parse_float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"column {name!r} is numeric; cannot read {text!r} as a number") from None
    if math.isnan(value):
        raise ValueError(f"column {name!r}: {text!r} is not a number to condition on")
    return value


def _parse_bound(name: str, text: str) -> int | float:
    """An integer column's range end: an int when whole (a fractional end is allowed)."""
    try:
        return int(text)
    except ValueError:
        value = _parse_float(name, text)
        return int(value) if value.is_integer() else value


def _parse_int(name: str, text: str) -> int:
    """An integer column's value: a whole number, or an error."""
    value = _parse_bound(name, text)
    if not isinstance(value, int):
        hint = (
            f" (such as {math.floor(value)} or {math.ceil(value)}), or a range"
            if math.isfinite(value)
            else ""
        )
        raise ValueError(
            f"column {name!r} holds whole numbers; {text!r} is not one: give a whole number{hint}"
        )
    return value


def _parse_datetime(name: str, text: str) -> Any:
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(
            f"column {name!r} holds dates; cannot read {text!r} as one (use e.g. 2024-01-31)"
        ) from None
    if pd.isna(stamp):
        raise ValueError(f"column {name!r} holds dates; {text!r} is not a date")
    return stamp


#: Kind -> parser of one exact value.
_VALUE_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "continuous": _parse_float,
    "integer": _parse_int,
    "datetime": _parse_datetime,
}
#: Kind -> parser of a range's end (the kinds that have an order).
_BOUND_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "continuous": _parse_float,
    "integer": _parse_bound,
    "datetime": _parse_datetime,
}

_TRUE = ("true", "yes", "1", "t", "y")
_FALSE = ("false", "no", "0", "f", "n")


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"column {name!r} is boolean; use true or false, not {text!r}")


def _parse_category(name: str, dtype: str, text: str, categories: Sequence[Any] | None) -> Any:
    if categories is not None:
        for category in categories:
            if str(category) == text:
                return category
        for category in categories:  # 6 matches 6.0, True matches true
            if str(category).lower() == text.lower() or _same_number(category, text):
                return category
        shown = ", ".join(str(category) for category in categories)
        raise ValueError(
            f"value {text!r} is not a category of column {name!r}; categories: {shown}"
        )
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return _parse_int(name, text)
    if dtype.startswith(("float", "Float")):
        return _parse_float(name, text)
    if dtype in ("bool", "boolean"):
        return _parse_bool(name, text)
    return text


def _same_number(category: Any, text: str) -> bool:
    if isinstance(category, bool) or not isinstance(category, int | float):
        return False
    try:
        return float(text) == float(category)
    except ValueError:
        return False


def categories_of(synthesizer: Any) -> dict[str, list[Any]]:
    """Column -> categories, read from the fitted schema where it exposes them."""
    schema = getattr(synthesizer, "schema_", None)
    if isinstance(schema, Mapping):
        entries: list[Any] = list(schema.values())
    elif isinstance(schema, list | tuple):
        entries = list(schema)
    else:
        entries = list(getattr(schema, "columns", []) or [])
    found: dict[str, list[Any]] = {}
    for entry in entries:
        name = getattr(entry, "name", None)
        values = getattr(entry, "categories", None)
        if name is not None and isinstance(values, list | tuple) and values:
            found[str(name)] = list(values)
    return found
