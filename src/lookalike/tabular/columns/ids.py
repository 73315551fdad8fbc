"""The id codec: identifiers are never modelled; new ones can be generated.

Integer ids continue after the largest observed id; text ids of the form
``prefix + number`` continue the numbering with the same zero padding; other text ids
get random hexadecimal ids of the observed length (at least 8) that match no observed
id. An id column has no model dimension.
"""

from __future__ import annotations

import re
from typing import Any, Self

import numpy as np
import pandas as pd

from lookalike._restore import is_int, require
from lookalike.tabular.columns.base import ColumnCodec, Condition, ModelDim


class IdCodec(ColumnCodec):
    """An identifier column (see the module docstring)."""

    kind = "id"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.numeric = False
        self.prefix = ""
        self.width = 0
        self.largest = 0
        self.observed = np.zeros(0, dtype=str)

    def fit(self, series: pd.Series) -> Self:
        self.dtype = str(series.dtype)
        self.missing_rate = float(series.isna().mean())
        values = series.dropna()
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            self.numeric = True
            self.largest = int(values.max()) if len(values) else 0
            return self
        texts = values.astype(str).tolist()
        self.width = max((len(t) for t in texts), default=8)
        match = [re.fullmatch(r"(\D*)(\d+)", t) for t in texts]
        prefixes = {m.group(1) for m in match if m is not None}
        if texts and all(m is not None for m in match) and len(prefixes) == 1:
            self.prefix = prefixes.pop()
            self.largest = max(int(m.group(2)) for m in match if m is not None)
            self.width = max(len(m.group(2)) for m in match if m is not None)
        else:  # an array, not a list: a model file keeps it out of its manifest
            self.observed = np.array(texts, dtype=str)
        return self

    @property
    def dims(self) -> list[ModelDim]:
        return []

    def generate(self, n: int, rng: np.random.Generator) -> pd.Series:
        """``n`` new ids that differ from every observed one."""
        if self.numeric:
            return pd.Series(self.largest + 1 + np.arange(n)).astype(self.dtype)
        if not self.observed.size:
            numbers = self.largest + 1 + np.arange(n)
            texts = [f"{self.prefix}{k:0{self.width}d}" for k in numbers]
            return pd.Series(texts, dtype=object).astype(self.dtype)
        width = max(self.width, 8)
        taken = set(self.observed.tolist())
        out: list[str] = []
        alphabet = np.array(list("0123456789abcdef"))
        while len(out) < n:
            for row in rng.choice(alphabet, size=(n - len(out), width)):
                text = "".join(row)
                if text not in taken:
                    taken.add(text)
                    out.append(text)
        return pd.Series(out, dtype=object).astype(self.dtype)

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        return np.empty((len(series), 0))

    def decode(self, z: np.ndarray) -> pd.Series:
        raise ValueError(f"column {self.name!r} is an id column; it is generated, not decoded.")

    def parse(self, text: str) -> Any:
        raise ValueError(f"column {self.name!r} is an id column; it cannot be conditioned on.")

    def conditions(self, value: Any) -> dict[int, Condition]:
        raise ValueError(f"column {self.name!r} is an id column; it cannot be conditioned on.")

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        super()._restore_check()
        where = f"column {self.name!r}"
        require(isinstance(self.numeric, bool), f"{where}: numeric must be a bool")
        require(isinstance(self.prefix, str), f"{where}: prefix must be a str")
        require(
            is_int(self.width) and 0 <= self.width <= MAX_WIDTH,
            f"{where}: width must be an int in [0, {MAX_WIDTH}]",
        )
        require(is_int(self.largest), f"{where}: largest must be an int")
        observed = self.observed
        require(
            isinstance(observed, np.ndarray) and observed.ndim == 1 and observed.dtype.kind == "U",
            f"{where}: observed must be a 1-D array of str",
        )


#: Longest generated text id accepted from a model file.
MAX_WIDTH = 2**20
