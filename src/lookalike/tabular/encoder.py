"""The table <-> model-space map: every column through its codec, side by side.

:class:`TableEncoder` holds the fitted codecs of a table's modelled columns (id columns
have no model dimension) and turns a DataFrame into the matrix of normal scores that a
joint model fits, and samples of the joint model back into a DataFrame. The dimensions
of one column are contiguous; :attr:`TableEncoder.dims` describes each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lookalike._restore import require
from lookalike.exceptions import NotFittedError
from lookalike.tabular.columns import ColumnCodec, Condition, IdCodec, ModelDim


class TableEncoder:
    """The codecs of a table and the layout of its model space.

    Parameters
    ----------
    codecs : list of ColumnCodec
        Fitted codecs, one per column of the table, in order (id columns included:
        they have no model dimension).

    Attributes
    ----------
    codecs : list of ColumnCodec
    dims : list of ModelDim
        One per model dimension, column by column.
    spans : dict
        Column name -> ``[start, stop]`` of its model dimensions.
    """

    def __init__(self, codecs: list[ColumnCodec]) -> None:
        self.codecs = list(codecs)
        self.dims, self.spans = _layout(self.codecs)

    @property
    def n_dims(self) -> int:
        return len(self.dims)

    @property
    def modelled(self) -> list[ColumnCodec]:
        """The codecs with at least one model dimension."""
        return [c for c in self.codecs if c.dims]

    def modelled_column(self, name: Any, role: str) -> str | None:
        """``name`` when it is a modelled column (None stays None); ValueError otherwise.

        ``role`` names the parameter in the message (for example ``"target"``).
        """
        if name is None:
            return None
        modelled = [codec.name for codec in self.modelled]
        if name not in modelled:
            ids = [codec.name for codec in self.ids]
            why = "an id column, which is not modelled" if name in ids else "not a column"
            raise ValueError(
                f"{role} {name!r} is {why}; choose one of: {', '.join(map(str, modelled))}."
            )
        return str(name)

    @property
    def ids(self) -> list[IdCodec]:
        return [c for c in self.codecs if isinstance(c, IdCodec)]

    def codec(self, name: str) -> ColumnCodec:
        for codec in self.codecs:
            if codec.name == name:
                return codec
        raise ValueError(
            f"unknown column {name!r}; columns are: {', '.join(c.name for c in self.codecs)}"
        )

    def encode(self, df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Normal scores of shape ``(n_rows, n_dims)`` (NaN: a missing numeric value)."""
        if not self.dims:
            raise NotFittedError("This TableEncoder has no modelled column.")
        blocks = [codec.encode(df[codec.name], rng) for codec in self.modelled]
        return np.hstack(blocks)

    def decode(self, z: np.ndarray) -> dict[str, pd.Series]:
        """Column name -> decoded Series, for every modelled column."""
        return {
            codec.name: codec.decode(z[:, slice(*self.spans[codec.name])])
            for codec in self.modelled
        }

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The codecs (each checked by its own class first) have distinct names, and
        the stored layout is the one they give: the same model dimensions (kinds,
        level counts and cuts) and spans.
        """
        codecs = self.codecs
        require(
            isinstance(codecs, list) and all(isinstance(c, ColumnCodec) for c in codecs),
            "codecs must be a list of column codecs",
        )
        names = [codec.name for codec in codecs]
        require(len(set(names)) == len(names), "codecs must have distinct column names")
        dims, spans = _layout(codecs)
        require(self.dims == dims, "dims disagree with the codecs' model dimensions")
        require(self.spans == spans, "spans disagree with the codecs' model dimensions")

    def conditions(self, where: Mapping[str, Any]) -> dict[int, Condition]:
        """Model-space conditions (dimension index -> condition) for ``where``."""
        found: dict[int, Condition] = {}
        for name, value in where.items():
            codec = self.codec(name)
            start = self.spans[name][0]
            for offset, condition in codec.conditions(value).items():
                found[start + offset] = condition
        return found


def _layout(codecs: list[ColumnCodec]) -> tuple[list[ModelDim], dict[str, list[int]]]:
    """The model dimensions of ``codecs``, and each column's ``[start, stop]`` among them."""
    dims: list[ModelDim] = []
    spans: dict[str, list[int]] = {}
    for codec in codecs:
        start = len(dims)
        dims.extend(codec.dims)
        spans[codec.name] = [start, len(dims)]
    return dims, spans
