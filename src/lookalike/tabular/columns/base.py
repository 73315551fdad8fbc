"""The column codec contract, and the model-space description of a column.

A codec turns one column of a table into a few *model dimensions* and back:

- a **continuous** dimension holds the normal score ``z = Phi^{-1}(u)`` of the
  column's value, where ``u`` is the randomised probability integral transform of the
  value under the column's empirical marginal (:mod:`lookalike._math.marginals`); a
  missing value is NaN there;
- a **discrete** dimension holds the normal score of a level (a category, or
  "missing"), drawn uniformly within the level's probability interval, so that its
  code is recovered from ``z`` by the interval it falls in.

Both are standard normal in the data whatever the column's marginal, so every joint
model sees the same kind of input, and decoding a standard normal score gives back the
column's exact marginal: the joint model only has to carry the dependence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from lookalike._math.marginals import (
    Marginal,
    check_marginal,
    normal_scores,
    uniform_within,
    uniforms,
)
from lookalike._restore import is_int, require

#: A condition on one model dimension: ``("point", z)`` or ``("interval", z_low, z_high)``.
Condition = tuple[Any, ...]


@dataclass(frozen=True)
class ModelDim:
    """One dimension of the model space.

    Attributes
    ----------
    column : str
        The table column it belongs to.
    role : str
        ``"value"`` or ``"missing"`` (the missing indicator of a numeric column).
    levels : int
        0 for a continuous dimension; the number of levels of a discrete one.
    cuts : tuple of float
        Discrete dimensions: the ``levels - 1`` normal scores that separate
        consecutive levels (level ``k`` holds the scores between ``cuts[k-1]`` and
        ``cuts[k]``).
    """

    column: str
    role: str
    levels: int
    cuts: tuple[float, ...] = ()

    @property
    def discrete(self) -> bool:
        return self.levels > 0

    def codes(self, z: np.ndarray) -> np.ndarray:
        """The level of each normal score of a discrete dimension."""
        return np.searchsorted(np.asarray(self.cuts), z, side="right")

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        require(isinstance(self.column, str), "column must be a str")
        require(self.role in ROLES, f"unknown role {self.role!r} (one of {', '.join(ROLES)})")
        require(is_int(self.levels) and self.levels >= 0, "levels must be an int >= 0")
        require(self.role == "value" or self.levels == 2, "a missing indicator has 2 levels")
        cuts = self.cuts
        require(
            isinstance(cuts, tuple)
            and len(cuts) == max(self.levels - 1, 0)
            and all(type(c) is float for c in cuts),
            f"column {self.column!r}: cuts must be a tuple of levels - 1 floats",
        )
        values = np.asarray(cuts, dtype=np.float64)
        require(
            bool(np.all(np.isfinite(values)) and np.all(np.diff(values) >= 0)),
            f"column {self.column!r}: cuts must be finite and increasing",
        )


#: The roles of a model dimension.
ROLES = ("value", "missing")


def discrete_dim(column: str, role: str, marginal: Marginal) -> ModelDim:
    """The :class:`ModelDim` of a discrete dimension whose levels have ``marginal``'s atoms."""
    cuts = normal_scores(marginal.upper[:-1])
    return ModelDim(column, role, int(marginal.positions.size), tuple(float(c) for c in cuts))


class ColumnCodec:
    """Base class of the column codecs: infer, fit, encode, decode, parse, condition.

    Subclasses set :attr:`kind` (the registry key) and implement :meth:`fit`,
    :meth:`encode`, :meth:`decode` and :meth:`parse`. Fitted state is held in plain
    attributes (numbers, strings, lists, arrays) so model files can store it.
    """

    kind: ClassVar[str] = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = ""
        self.missing_rate = 0.0

    # -- the contract ------------------------------------------------------------------

    def fit(self, series: pd.Series) -> Self:
        raise NotImplementedError

    @property
    def dims(self) -> list[ModelDim]:
        """The model dimensions of this column, in order."""
        raise NotImplementedError

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        """Normal scores of shape ``(n, len(dims))`` (NaN: a missing numeric value)."""
        raise NotImplementedError

    def decode(self, z: np.ndarray) -> pd.Series:
        """The column back from normal scores of shape ``(n, len(dims))``."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """A value of this column from its text (for ``--where`` on the command line)."""
        raise NotImplementedError

    def parse_bound(self, text: str) -> Any:
        """An end of a ``low..high`` range from its text; only ordered kinds have ranges."""
        raise ValueError(
            f"column {self.name!r} is {self.kind}: give one value (column=value), not a range"
        )

    def conditions(self, value: Any) -> dict[int, Condition]:
        """Conditions on this column's dimensions that fix it at ``value``.

        ``value`` is a value of the column or, for ordered kinds, a ``(low, high)``
        pair (``None`` for an open end). Keys index :attr:`dims`.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for ``Synthesizer.summary()``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "missing_rate": float(self.missing_rate),
            "model_dims": len(self.dims),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        Subclasses extend it with their own fitted state; the base checks the name,
        that ``dtype`` is a dtype pandas reads, and the missing rate.
        """
        require(isinstance(self.name, str), "name must be a str")
        require(isinstance(self.dtype, str), f"column {self.name!r}: dtype must be a str")
        try:
            pd.api.types.pandas_dtype(self.dtype)
        except (TypeError, ValueError):
            raise ValueError(f"column {self.name!r}: unknown dtype {self.dtype!r}") from None
        rate = self.missing_rate
        require(
            isinstance(rate, float) and 0.0 <= rate < 1.0,
            f"column {self.name!r}: missing_rate must be a float in [0, 1)",
        )


# ---------------------------------------------------------------------------------------
# Helpers shared by the codecs


def marginal_of(codec: Any, prefix: str = "") -> Marginal:
    """The :class:`Marginal` stored on ``codec`` as plain attributes ``<prefix>positions`` ..."""
    return Marginal(
        getattr(codec, f"{prefix}positions"),
        getattr(codec, f"{prefix}lower"),
        getattr(codec, f"{prefix}upper"),
        float(getattr(codec, f"{prefix}low_tail", 0.0)),
        float(getattr(codec, f"{prefix}high_tail", 0.0)),
    )


def check_stored_marginal(codec: Any, prefix: str = "") -> Marginal:
    """The marginal stored on ``codec`` (:func:`marginal_of`), after :func:`check_marginal`."""
    for end in ("low_tail", "high_tail"):
        tail = getattr(codec, f"{prefix}{end}", 0.0)
        require(isinstance(tail, float), f"column {codec.name!r}: {end} must be a float")
    marginal = marginal_of(codec, prefix)
    check_marginal(marginal, f"column {codec.name!r}: marginal")
    return marginal


def store_marginal(codec: Any, marginal: Marginal, prefix: str = "") -> None:
    """Store ``marginal`` on ``codec`` as plain attributes (see :func:`marginal_of`)."""
    setattr(codec, f"{prefix}positions", marginal.positions)
    setattr(codec, f"{prefix}lower", marginal.lower)
    setattr(codec, f"{prefix}upper", marginal.upper)
    setattr(codec, f"{prefix}low_tail", float(marginal.low_tail))
    setattr(codec, f"{prefix}high_tail", float(marginal.high_tail))


def level_codes(marginal: Marginal, z: np.ndarray) -> np.ndarray:
    """The level (atom index) whose probability interval holds ``Phi(z)``."""
    u = uniforms(z)
    codes = np.searchsorted(marginal.upper, u, side="right")
    return np.minimum(codes, marginal.positions.size - 1)


def level_interval(marginal: Marginal, code: int) -> Condition:
    """The condition that a discrete dimension is at level ``code``."""
    low = float(normal_scores(np.array([marginal.lower[code]]))[0])
    high = float(normal_scores(np.array([marginal.upper[code]]))[0])
    return ("interval", low, high)


def level_scores(
    marginal: Marginal, codes: np.ndarray, rng: np.random.Generator, margin: float = 0.0
) -> np.ndarray:
    """Normal scores drawn uniformly within each level's probability interval.

    The one draw of a discrete level's scores: the codecs encode with it, and the
    joint models (:func:`lookalike.tabular.models.base.level_scores`) call it with
    intervals rebuilt from a dimension's cuts.

    Parameters
    ----------
    marginal : Marginal
        Level ``k`` holds the probabilities ``[marginal.lower[k], marginal.upper[k]]``.
    codes : ndarray of int, shape (n,)
        The level of each score.
    rng : numpy.random.Generator
        One ``rng.random(n)`` call.
    margin : float, default=0.0
        Keep the draws this fraction of each interval's width off its ends
        (:func:`~lookalike._math.marginals.uniform_within`).

    Returns
    -------
    scores : ndarray of shape (n,)
        ``Phi^{-1}(u)`` with ``u`` uniform in the level's interval.
    """
    low, high = marginal.lower[codes], marginal.upper[codes]
    return normal_scores(uniform_within(low, high, rng, margin))


def as_columns(z: Any) -> np.ndarray:
    """Normal scores as a 2-D float array (one column per model dimension)."""
    z = np.asarray(z, dtype=np.float64)
    return z[:, np.newaxis] if z.ndim == 1 else z


def plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python scalar (stored lists stay JSON-able)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
