"""``--where``: the text of ``lookalike sample``'s conditions.

A condition is ``column=value`` or ``column=low..high`` (ordered kinds:
continuous, integer, datetime); either end of a range may be left out for an
open-ended one (``x=..40``, ``x=10..``), as ``None`` is in the Python API
(``where={"x": (None, 40)}``). This module reads the syntax only: each value's
text is read by its column's codec (:meth:`ColumnCodec.parse` and
:meth:`ColumnCodec.parse_bound`), the one place that knows the column's kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["parse_where"]


def parse_where(items: Sequence[str], synthesizer: Any) -> dict[str, Any]:
    """Parse ``--where`` strings into the ``where`` mapping of ``Synthesizer.sample``.

    Parameters
    ----------
    items : sequence of str
        Each ``"column=value"`` or ``"column=low..high"`` (leave out ``low`` or
        ``high`` for an open-ended range).
    synthesizer : Synthesizer
        The fitted synthesizer whose columns the conditions name.

    Returns
    -------
    dict
        Column -> a value of the column or a ``(low, high)`` tuple with ``None``
        for an open end.

    Raises
    ------
    ValueError
        If an item has no ``=``, names an unknown column, a column is given
        twice, a range has no end or is empty, or the column's codec cannot read
        a value (an id column, a range on an unordered column, a fractional value
        of an integer column, a category the column never showed...).

    Examples
    --------
    >>> import pandas as pd
    >>> from lookalike import Synthesizer
    >>> table = pd.DataFrame({"species": ["Adelie", "Gentoo"] * 20,
    ...                       "mass": [3500.0 + 12.5 * i for i in range(40)]})
    >>> fitted = Synthesizer(model="gaussian", random_state=0).fit(table)
    >>> parse_where(["species=Gentoo", "mass=3600.."], fitted)
    {'species': 'Gentoo', 'mass': (3600.0, None)}
    """
    encoder = synthesizer.encoder_
    names = [codec.name for codec in encoder.codecs]
    conditions: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not equals or not name or not text:
            raise ValueError(f"--where {item!r} must look like column=value or column=low..high")
        if name not in names:
            raise ValueError(
                f"unknown column {name!r} in --where; columns are: {', '.join(names)}"
            )
        if name in conditions:
            raise ValueError(f"column {name!r} is given twice in --where")
        conditions[name] = _condition(encoder.codec(name), text)
    return conditions


def _condition(codec: Any, text: str) -> Any:
    low_text, dots, high_text = text.partition("..")
    if not dots:
        return codec.parse(text)
    low_text, high_text = low_text.strip(), high_text.strip()
    if not low_text and not high_text:
        raise ValueError(
            f"range {text!r} for column {codec.name!r} has no end; give low..high, ..high or low.."
        )
    low = codec.parse_bound(low_text) if low_text else None
    high = codec.parse_bound(high_text) if high_text else None
    if low is not None and high is not None and not low <= high:
        raise ValueError(f"empty range {text!r} for column {codec.name!r}: low is above high")
    return (low, high)
