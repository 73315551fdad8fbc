"""The datetime codec: dates and times on their calendar grain, periods, text timestamps.

A datetime column is modelled as integer counts of its *grain*, the coarsest calendar
unit every value is a whole number of: years (every value on 1 January, midnight),
months (the first of a month), days, hours, minutes, seconds, milli-, micro- or
nanoseconds (numpy's calendar units ``Y M D h m s ms us ns``). Counts go through the
integer codec (exact marginal, atoms, the grid of observed steps), so a year-grained
column comes back on 1 January, a monthly one on the first of the month.

- Time zones: values are modelled as wall time and localised back (an ambiguous
  wall time takes standard time, a non-existent one is shifted forward: never NaT).
- ``Period`` columns are modelled by their start times at the period's grain and
  come back as periods of the same frequency.
- Text columns whose every value is a date (``"2024-01-31 12:00"``) are modelled as
  datetimes and written back as text in the same format (when pandas can guess it).
- Values outside pandas' nanosecond range are supported through the column's own unit
  (``datetime64[s]`` and friends).
"""

from __future__ import annotations

import warnings
from typing import Any, Self

import numpy as np
import pandas as pd

from lookalike._restore import require
from lookalike.tabular.columns.base import ModelDim
from lookalike.tabular.columns.numeric import IntegerCodec

#: Calendar grains, coarsest first (numpy datetime64 units).
GRAINS = ("Y", "M", "D", "h", "m", "s", "ms", "us", "ns")
_GRAIN_NAMES = {
    "Y": "year",
    "M": "month",
    "D": "day",
    "h": "hour",
    "m": "minute",
    "s": "second",
    "ms": "millisecond",
    "us": "microsecond",
    "ns": "nanosecond",
}


class DatetimeCodec(IntegerCodec):
    """A datetime column as integer counts of its calendar grain (see the module docstring).

    Attributes
    ----------
    grain : str
        numpy unit of the grain (``"Y"``, ``"M"``, ``"D"``, ``"h"`` ...).
    unit : str
        The column's own datetime64 unit (``"ns"``, ``"s"`` ...).
    timezone : str or None
        Time zone of a tz-aware column.
    period_freq : str or None
        Frequency of a ``Period`` column.
    text_format : str or None
        strftime format of a text column ("" when the values are ISO text without a
        single format).
    """

    kind = "datetime"

    def __init__(self, name: str, tails: bool = False) -> None:
        super().__init__(name, tails)
        self.grain = "ns"
        self.dt_unit = "ns"
        self.timezone: str | None = None
        self.period_freq: str | None = None
        self.text_format: str | None = None

    # -- fitting -----------------------------------------------------------------------

    def fit(self, series: pd.Series) -> Self:
        stamps = self._stamps(series, fitting=True)
        observed = stamps[~np.isnat(stamps)]
        if observed.size == 0:
            raise ValueError(
                f"Column {self.name!r} has no observed value (all missing); drop it before "
                "fitting."
            )
        self.dt_unit = np.datetime_data(observed.dtype)[0]
        self.grain = _grain(observed)
        dtype = self.dtype
        super().fit(pd.Series(self._counts(stamps)))
        self.dtype = dtype
        return self

    def _stamps(self, series: pd.Series, fitting: bool = False) -> np.ndarray:
        """Wall-time datetime64 values of the column (NaT for missing)."""
        if fitting:
            self.dtype = str(series.dtype)
        if isinstance(series.dtype, pd.PeriodDtype):
            if fitting:
                self.period_freq = str(series.dtype)[len("period[") : -1]
            series = series.dt.start_time
        elif not pd.api.types.is_datetime64_any_dtype(series.dtype):
            series = self._parse_text(series, fitting)
        tz = getattr(series.dt, "tz", None)
        if tz is not None:
            if fitting:
                self.timezone = str(tz)
            series = series.dt.tz_localize(None)
        elif fitting:
            self.timezone = None
        return series.to_numpy()

    def _parse_text(self, series: pd.Series, fitting: bool) -> pd.Series:
        if fitting:
            self.text_format = _text_format(series)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                if self.text_format:
                    return pd.to_datetime(series, format=self.text_format)
                return pd.to_datetime(series, format="mixed")
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(
                f"Column {self.name!r} is datetime but cannot be read as dates ({exc}); "
                "convert it with pandas.to_datetime, or declare it 'categorical'."
            ) from None

    def _counts(self, stamps: np.ndarray) -> np.ndarray:
        counts = stamps.astype(f"datetime64[{self.grain}]").astype(np.int64).astype(np.float64)
        counts[np.isnat(stamps)] = np.nan
        return counts

    def numbers(self, series: pd.Series) -> np.ndarray:
        if pd.api.types.is_float_dtype(series.dtype):  # counts, from fit
            return series.to_numpy(dtype=np.float64)
        return self._counts(self._stamps(series))

    # -- decoding ----------------------------------------------------------------------

    def to_series(self, values: np.ndarray) -> pd.Series:
        missing = np.isnan(values)
        counts = np.where(missing, 0, values).astype(np.int64)
        stamps = counts.astype(f"datetime64[{self.grain}]").astype(f"datetime64[{self.dt_unit}]")
        stamps[missing] = np.datetime64("NaT")
        series = pd.Series(stamps)
        if self.timezone is not None:
            series = series.dt.tz_localize(
                self.timezone,
                ambiguous=np.zeros(len(series), dtype=bool),
                nonexistent="shift_forward",
            )
        if self.period_freq is not None:
            return series.dt.to_period(self.period_freq)
        if self.text_format is not None:
            text = series.dt.strftime(self.text_format) if self.text_format else series.astype(str)
            return text.where(~missing, None).astype(self.dtype)
        return series.astype(self.dtype)

    # -- values given by users ---------------------------------------------------------

    def parse(self, text: str) -> Any:
        return self.timestamp(text)

    def parse_bound(self, text: str) -> Any:
        return self.timestamp(text)

    def timestamp(self, value: Any) -> pd.Timestamp:
        """A user's date as a wall-time Timestamp of this column."""
        try:
            if isinstance(value, pd.Period):
                value = value.start_time
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"column {self.name!r} holds dates; cannot read {value!r} as one (use e.g. "
                "2024-01-31)"
            ) from None
        if pd.isna(stamp):
            raise ValueError(f"column {self.name!r} holds dates; {value!r} is not a date.")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(self.timezone or "UTC").tz_localize(None)
        return stamp

    def number(self, value: Any) -> float:
        stamp = np.datetime64(self.timestamp(value).to_datetime64())
        counts = stamp.astype(f"datetime64[{self.grain}]")
        if counts.astype(stamp.dtype) != stamp:
            raise ValueError(
                f"column {self.name!r} holds values on whole {_GRAIN_NAMES[self.grain]}s; "
                f"{value!r} is not one. Give a value on that grain or a (low, high) range."
            )
        return float(counts.astype(np.int64))

    def range_numbers(self, value: Any) -> tuple[float, float]:
        return self._range_end(value[0], 0), self._range_end(value[1], 1)

    def _range_end(self, value: Any, which: int) -> float:
        if value is None:
            return -np.inf if which == 0 else np.inf
        stamp = np.datetime64(self.timestamp(value).to_datetime64(), "ns")
        counts = stamp.astype(f"datetime64[{self.grain}]")
        if which == 0 and counts.astype(stamp.dtype) < stamp:
            counts = counts + 1  # the first whole grain at or after the low end
        return float(counts.astype(np.int64))

    def check_value(self, value: Any) -> Any:
        return value

    def _shown(self, number: float) -> str:
        return str(np.datetime64(int(number), self.grain))  # type: ignore[call-overload]

    def shown_value(self, number: float) -> Any:
        return self._shown(number)

    @property
    def dims(self) -> list[ModelDim]:
        return super().dims

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.pop("decimals", None)
        info.update(grain=_GRAIN_NAMES[self.grain], timezone=self.timezone)
        return info

    def _check_units(self) -> None:
        """Grain, unit, time zone, period frequency and text format of a restored column.

        Each must be one this codec writes and pandas reads, and the dtype must
        be the one they imply (a period, text, or a datetime64 dtype with the
        time zone); counts stay within +-2**62 grains so that they map to dates.
        """
        where = f"column {self.name!r}"
        require(self.grain in GRAINS, f"{where}: unknown grain {self.grain!r}")
        require(self.dt_unit in GRAINS, f"{where}: unknown datetime unit {self.dt_unit!r}")
        require(self.unit == "", f"{where}: a datetime column has no duration unit")
        require(
            max(abs(self.low), abs(self.high)) < 2.0**62,
            f"{where}: low and high are out of the range of dates",
        )
        dtype = pd.api.types.pandas_dtype(self.dtype)
        timezone, freq, text = self.timezone, self.period_freq, self.text_format
        for name, value in (("timezone", timezone), ("period_freq", freq), ("text_format", text)):
            require(value is None or isinstance(value, str), f"{where}: {name} must be a str")
        if timezone is not None:
            try:
                pd.DatetimeTZDtype("ns", timezone)
            except (TypeError, ValueError, KeyError):
                raise ValueError(f"{where}: unknown time zone {timezone!r}") from None
        if freq is not None:
            try:
                period = pd.PeriodDtype(freq)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: unknown period frequency {freq!r}") from None
            require(dtype == period, f"{where}: dtype {self.dtype!r} is not {period}")
        elif text is not None:
            require(
                pd.api.types.is_string_dtype(dtype) or dtype.kind == "O",
                f"{where}: dates written as text need a text dtype, not {self.dtype!r}",
            )
        else:
            require(
                pd.api.types.is_datetime64_any_dtype(dtype)
                and (getattr(dtype, "tz", None) is None) == (timezone is None),
                f"{where}: dtype {self.dtype!r} does not match timezone {timezone!r}",
            )


def _grain(stamps: np.ndarray) -> str:
    """The coarsest numpy calendar unit that every value is a whole number of."""
    for grain in GRAINS:
        if np.datetime_data(stamps.dtype)[0] == grain:
            return grain
        coarse = stamps.astype(f"datetime64[{grain}]")
        if np.array_equal(coarse.astype(stamps.dtype), stamps):
            return grain
    return np.datetime_data(stamps.dtype)[0]


def _text_format(series: pd.Series) -> str:
    """The format every text date of ``series`` reads with ("" when none does).

    The format is guessed from the first value, month first and then day first
    ("01/02/2024" fits both); the first guess under which every distinct value parses
    wins, so "13/01/2024" further down settles it. Without one, values are parsed one
    by one (pandas' ``format="mixed"``) and written back in ISO form.
    """
    texts = pd.Series(pd.unique(series.dropna().astype(str)))
    if texts.empty:
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for dayfirst in (False, True):
            guessed = pd.tseries.api.guess_datetime_format(texts.iloc[0], dayfirst=dayfirst)
            if guessed and not pd.to_datetime(texts, format=guessed, errors="coerce").isna().any():
                return guessed
    return ""
