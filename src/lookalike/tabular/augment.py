"""How many rows :meth:`~lookalike.tabular.Synthesizer.augment` adds to each class."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["augment_counts"]


def augment_counts(column: pd.Series, strategy: Any) -> dict[Any, int]:
    """Rows to add per class of ``column`` for :meth:`Synthesizer.augment`'s ``strategy``.

    ``"balance"`` tops every class up to the majority class's count; a dict
    ``{class: count}`` adds that many rows of each class named.
    """
    counts = column.value_counts(dropna=True)
    if isinstance(strategy, str):
        if strategy != "balance":
            raise ValueError(f"strategy must be 'balance' or a dict; got {strategy!r}.")
        wanted = {k: int(counts.max() - c) for k, c in counts.items()}
    elif isinstance(strategy, Mapping):
        wanted = {}
        for k, c in strategy.items():
            if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
                raise ValueError(f"strategy[{k!r}] must be a non-negative int; got {c!r}.")
            wanted[k] = int(c)
    else:
        raise TypeError(f"strategy must be 'balance' or a dict; got {strategy!r}.")
    return wanted
