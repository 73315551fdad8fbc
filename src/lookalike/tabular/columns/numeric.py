"""Numeric codecs: continuous and integer columns (durations too), with atoms.

The column's empirical marginal (:mod:`lookalike._math.marginals`) is kept exactly:
repeated values are atoms at their observed shares, the other values a continuous
part through their order statistics. Decoded values are rounded to the column's
resolution (its observed decimals, up to :data:`MAX_DECIMALS`, or its integer grid) and
stay within the observed range unless the codec was fitted with ``tails=True``.
A column with missing values gets a second, discrete dimension: its missing indicator.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import pandas as pd

from lookalike._math.marginals import (
    atoms_only,
    cdf_interval,
    fit_marginal,
    from_uniform,
    normal_scores,
    to_uniform,
    uniforms,
)
from lookalike._restore import is_int, require
from lookalike.tabular.columns.base import (
    ColumnCodec,
    Condition,
    ModelDim,
    as_columns,
    check_stored_marginal,
    discrete_dim,
    level_codes,
    level_interval,
    level_scores,
    marginal_of,
    store_marginal,
)

#: Continuous values are rounded to their observed number of decimals up to this many.
MAX_DECIMALS = 6


class NumericCodec(ColumnCodec):
    """A continuous column: exact empirical marginal with atoms, rounded to its decimals.

    Parameters
    ----------
    name : str
        The column.
    tails : bool, default=False
        Let decoded values extend a little beyond the observed range (see
        :func:`lookalike._math.marginals.fit_marginal`).

    Attributes
    ----------
    low, high : float
        Observed range.
    decimals : int or None
        Observed number of decimals (``None``: more than :data:`MAX_DECIMALS`).
    n_atoms : int
        Number of atoms (values repeated in the data).
    positions, lower, upper, low_tail, high_tail
        The fitted marginal.
    """

    kind = "continuous"

    def __init__(self, name: str, tails: bool = False) -> None:
        super().__init__(name)
        self.tails = bool(tails)
        self.low = 0.0
        self.high = 0.0
        self.decimals: int | None = None
        self.n_atoms = 0
        self.unit = ""

    # -- fitting -----------------------------------------------------------------------

    def fit(self, series: pd.Series) -> Self:
        self.dtype = str(series.dtype)
        values = self.numbers(series)
        missing = np.isnan(values)
        observed = values[~missing]
        if observed.size == 0:
            raise ValueError(
                f"Column {self.name!r} has no observed value (all missing); drop it before "
                "fitting."
            )
        if not np.all(np.isfinite(observed)):
            raise ValueError(
                f"Column {self.name!r} holds infinite values; replace them (e.g. with NaN)."
            )
        self.missing_rate = float(missing.mean())
        self.low, self.high = float(observed.min()), float(observed.max())
        self._fit_resolution(observed)
        marginal = fit_marginal(observed, tails=self.tails)
        store_marginal(self, marginal)
        self.n_atoms = int(np.count_nonzero(marginal.upper > marginal.lower))
        return self

    def numbers(self, series: pd.Series) -> np.ndarray:
        """The column as float64 (NaN for missing values)."""
        if pd.api.types.is_timedelta64_dtype(series.dtype):
            self.unit = "ns"
            ns = series.to_numpy(dtype="timedelta64[ns]").astype(np.int64).astype(np.float64)
            ns[series.isna().to_numpy()] = np.nan
            return ns
        if pd.api.types.is_complex_dtype(series.dtype):
            raise ValueError(
                f"Column {self.name!r}: complex data not supported; split it into real and "
                "imaginary columns."
            )
        try:
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(
                f"Column {self.name!r} is {self.kind} but holds non-numeric values; fix its "
                "kind (kinds= in Python, --kind on the command line) or convert it with "
                "pandas.to_numeric."
            ) from None

    def _fit_resolution(self, observed: np.ndarray) -> None:
        self.decimals = observed_decimals(observed)

    # -- model space -------------------------------------------------------------------

    @property
    def dims(self) -> list[ModelDim]:
        dims = [ModelDim(self.name, "value", 0)]
        if self.missing_rate > 0:
            dims.append(discrete_dim(self.name, "missing", self._indicator()))
        return dims

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        values = self.numbers(series)
        missing = np.isnan(values)
        out = np.full((values.size, len(self.dims)), np.nan)
        present = ~missing
        out[present, 0] = normal_scores(to_uniform(marginal_of(self), values[present], rng))
        if self.missing_rate > 0:
            out[:, 1] = level_scores(self._indicator(), missing.astype(np.int64), rng)
        return out

    def decode(self, z: np.ndarray) -> pd.Series:
        z = as_columns(z)
        missing = np.isnan(z[:, 0])
        if self.missing_rate > 0:
            missing |= level_codes(self._indicator(), z[:, 1]) == 1
        filled = np.where(np.isnan(z[:, 0]), 0.0, z[:, 0])
        values = self.round(from_uniform(marginal_of(self), uniforms(filled)))
        values[missing] = np.nan
        return self.to_series(values)

    def _indicator(self) -> Any:
        return atoms_only(np.array([1.0 - self.missing_rate, self.missing_rate]))

    def round(self, values: np.ndarray) -> np.ndarray:
        """Values on the column's resolution."""
        if self.decimals is None:
            return values
        return np.round(values, self.decimals)

    def to_series(self, values: np.ndarray) -> pd.Series:
        """Float values in the column's dtype (NaN: missing)."""
        if self.unit:
            return pd.Series(pd.to_timedelta(values, unit="ns")).astype(self.dtype)
        series = pd.Series(values)
        if np.isnan(values).any() and self.dtype.startswith(("int", "uint")):
            return series.astype("float64")
        return series.astype(self.dtype)

    # -- values given by users ---------------------------------------------------------

    def parse(self, text: str) -> Any:
        if self.unit:
            try:
                return pd.Timedelta(text)
            except ValueError:
                raise ValueError(
                    f"column {self.name!r} holds durations; cannot read {text!r} as one "
                    "(use e.g. '3 days' or '01:30:00')"
                ) from None
        return self.check_value(self._read_number(text))

    def parse_bound(self, text: str) -> Any:
        return self.parse(text) if self.unit else self._read_number(text)

    def _read_number(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"column {self.name!r} is numeric; cannot read {text!r} as a number"
            ) from None
        if math.isnan(value):
            raise ValueError(f"column {self.name!r}: {text!r} is not a number to condition on")
        return value

    def number(self, value: Any) -> float:
        """A user's value as a float in the column's units."""
        if self.unit:
            try:
                return float(pd.Timedelta(value).value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"column {self.name!r} holds durations; {value!r} is not one"
                ) from None
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"column {self.name!r} is {self.kind}; {value!r} is not a number.")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"column {self.name!r}: {value!r} is not a finite number.")
        return number

    def check_value(self, value: float) -> Any:
        return value

    def conditions(self, value: Any) -> dict[int, Condition]:
        marginal = marginal_of(self)
        if isinstance(value, tuple | list):
            if len(value) != 2:
                raise ValueError(
                    f"where[{self.name!r}] must be a value or a (low, high) pair; got {value!r}."
                )
            low, high = self.range_numbers(value)
            if low > high:
                raise ValueError(f"where[{self.name!r}] = {value!r} has low > high.")
            below = cdf_interval(marginal, np.array([low]))[0][0]
            above = cdf_interval(marginal, np.array([high]))[1][0]
            if not above > below:
                raise ValueError(
                    f"where[{self.name!r}] = {value!r} holds no value of the column "
                    f"(observed range {self._shown(self.low)} .. {self._shown(self.high)})."
                )
            condition: Condition = ("interval", *_scores(below, above))
        else:
            condition = self._exact(marginal, self.number(self.check_value(value)))
        found = {0: condition}
        if self.missing_rate > 0:
            found[1] = level_interval(self._indicator(), 0)
        return found

    def range_numbers(self, value: Any) -> tuple[float, float]:
        """The ends of a user's ``(low, high)`` range in the column's units."""
        low = -math.inf if value[0] is None else self.number(value[0])
        high = math.inf if value[1] is None else self.number(value[1])
        return low, high

    def _exact(self, marginal: Any, number: float) -> Condition:
        if not self.tails and not self.low <= number <= self.high:
            raise ValueError(
                f"where[{self.name!r}] = {self._shown(number)} is outside the column's observed "
                f"range {self._shown(self.low)} .. {self._shown(self.high)}."
            )
        half = self.half_resolution()
        below, at = cdf_interval(marginal, np.array([number - half, number, number + half]))
        if half > 0 or at[1] > below[1]:
            # A rounded value stands for its rounding interval (an atom for its own mass).
            low, high = below[0] if half > 0 else below[1], at[2] if half > 0 else at[1]
            return ("interval", *_scores(low, high))
        return ("point", float(normal_scores(np.array([at[1]]))[0]))

    def half_resolution(self) -> float:
        """Half the rounding step of decoded values (0 without rounding)."""
        return 0.0 if self.decimals is None else 0.5 * 10.0 ** (-self.decimals)

    def shown_value(self, number: float) -> Any:
        """A number of the column's units as a JSON-able value for summaries."""
        return self._shown(number) if self.unit else number

    def _shown(self, number: float) -> str:
        if self.unit:
            return str(pd.Timedelta(number, unit="ns"))
        return f"{number:g}"

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            low=self.shown_value(self.low),
            high=self.shown_value(self.high),
            atoms=self.n_atoms,
            decimals=self.decimals,
        )
        return info

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The marginal passes :func:`~lookalike._math.marginals.check_marginal`, lies
        within the finite observed range ``[low, high]`` (its ends are observed
        values), and counts its atoms; the resolution and units are of this kind.
        """
        super()._restore_check()
        where = f"column {self.name!r}"
        require(isinstance(self.tails, bool), f"{where}: tails must be a bool")
        low, high = self.low, self.high
        require(
            isinstance(low, float)
            and isinstance(high, float)
            and math.isfinite(low)
            and math.isfinite(high)
            and low <= high,
            f"{where}: low and high must be finite floats with low <= high",
        )
        marginal = check_stored_marginal(self)
        require(
            marginal.positions[0] >= low and marginal.positions[-1] <= high,
            f"{where}: the marginal's positions leave the observed range [low, high]",
        )
        require(
            self.tails or marginal.low_tail == marginal.high_tail == 0.0,
            f"{where}: tails are set but tails=False",
        )
        n_atoms = self.n_atoms
        require(
            is_int(n_atoms) and 0 <= n_atoms <= marginal.positions.size,
            f"{where}: n_atoms must be an int in [0, {marginal.positions.size}]",
        )
        decimals = self.decimals
        require(
            decimals is None or (is_int(decimals) and 0 <= decimals <= MAX_DECIMALS),
            f"{where}: decimals must be None or an int in [0, {MAX_DECIMALS}]",
        )
        self._check_units()

    def _check_units(self) -> None:
        """The units and dtype of a restored number column (durations: ``unit="ns"``)."""
        dtype = pd.api.types.pandas_dtype(self.dtype)
        if self.unit == "ns":
            require(
                pd.api.types.is_timedelta64_dtype(dtype),
                f"column {self.name!r}: durations need a timedelta dtype, not {self.dtype!r}",
            )
            return
        require(self.unit == "", f"column {self.name!r}: unknown unit {self.unit!r}")
        require(
            pd.api.types.is_numeric_dtype(dtype),
            f"column {self.name!r}: a number column needs a numeric dtype, not {self.dtype!r}",
        )


class IntegerCodec(NumericCodec):
    """An integer column: the numeric codec on the observed grid ``low + k * step``.

    ``step`` is the greatest common divisor of the observed offsets from the minimum,
    so counts by tens stay multiples of ten.
    """

    kind = "integer"

    def __init__(self, name: str, tails: bool = False) -> None:
        super().__init__(name, tails)
        self.step = 1.0

    def _fit_resolution(self, observed: np.ndarray) -> None:
        rounded = np.round(observed)
        if not np.all(rounded == observed):
            raise ValueError(
                f"Column {self.name!r} is declared integer but holds fractional values; "
                "declare it 'continuous'."
            )
        offsets = rounded - self.low
        if offsets.size and float(offsets.max()) < 2**62:
            step = int(np.gcd.reduce(offsets.astype(np.int64)))
        else:
            step = 1
        self.step = float(max(step, 1))
        self.decimals = 0

    def round(self, values: np.ndarray) -> np.ndarray:
        return self.low + np.round((values - self.low) / self.step) * self.step

    def half_resolution(self) -> float:
        return 0.5 * self.step

    def check_value(self, value: float) -> Any:
        if isinstance(value, float | np.floating) and not (
            math.isfinite(value) and float(value).is_integer()
        ):
            hint = (
                f" (such as {math.floor(value)} or {math.ceil(value)}), or a range"
                if math.isfinite(value)
                else ""
            )
            raise ValueError(
                f"column {self.name!r} holds whole numbers; {value!r} is not one: give a "
                f"whole number{hint}."
            )
        return int(value) if isinstance(value, float | np.floating) else value

    def parse_bound(self, text: str) -> Any:
        """A range's end: an int when whole; a fractional end is allowed (2007.5..2009)."""
        value = self._read_number(text)
        return int(value) if math.isfinite(value) and value.is_integer() else value

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["step"] = self.step
        return info

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        super()._restore_check()
        step = self.step
        require(
            isinstance(step, float) and math.isfinite(step) and step >= 1.0,
            f"column {self.name!r}: step must be a finite float >= 1",
        )
        require(self.decimals == 0, f"column {self.name!r}: an integer column has 0 decimals")


def observed_decimals(values: np.ndarray) -> int | None:
    """The fewest decimals (at most :data:`MAX_DECIMALS`) that represent every value."""
    scale = max(float(np.max(np.abs(values))), 1.0)
    for decimals in range(MAX_DECIMALS + 1):
        if np.all(np.abs(np.round(values, decimals) - values) <= 1e-9 * scale):
            return decimals
    return None


def _scores(low: float, high: float) -> tuple[float, float]:
    z = normal_scores(np.array([low, high]))
    return float(z[0]), float(z[1])
