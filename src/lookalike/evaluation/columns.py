"""Columns of an evaluation: which columns are compared, their kinds, and their encodings.

A column's kind comes from the tabular column registry
(:func:`lookalike.tabular.schema.infer_kind`), decided once for the real table and used by
every metric. Metrics see two kinds:

- ``"numeric"``: continuous, integer and datetime columns (datetimes as nanoseconds since
  the epoch, in UTC for time-zone aware columns), as float64 with NaN for missing values;
- ``"categorical"``: categorical and boolean columns, compared as text levels with missing
  values as their own level :data:`MISSING`.

Identifier columns (kind ``"id"``) carry no distribution to compare and are left out of the
metrics, and so are columns that only one table has; :func:`plan_columns` says which and why.

The encodings here turn rows into numbers for distances (standardised numerics and one-hot
or hashed categoricals, :func:`encode_rows`), for gradient-boosted trees (ordinal codes,
:func:`ordinal_codes`) and for the utility models (:func:`design_matrix`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lookalike._validation import check_not_complex

MISSING = "<missing>"
"""The level that stands for a missing value in categorical columns."""

NUMERIC = "numeric"
CATEGORICAL = "categorical"

METRIC_KINDS = {
    "continuous": NUMERIC,
    "integer": NUMERIC,
    "datetime": NUMERIC,
    "boolean": CATEGORICAL,
    "categorical": CATEGORICAL,
}
"""Registry kind -> the kind metrics use; ``"id"`` is absent: id columns are left out."""

MAX_ONEHOT_LEVELS = 32
"""Categorical columns with more levels are hashed to :data:`MAX_ONEHOT_LEVELS` dimensions
for distances, and keep only their most frequent levels as indicators in design matrices."""


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def as_frame(data: Any, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame with string column names from a DataFrame or a 2-D array.

    Arrays get the names in ``columns`` when given and of the same width, else
    ``"x0" .. "x{d-1}"``. Complex data and empty tables are refused with ValueError.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
    else:
        array = np.asarray(data)
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be a pandas DataFrame or a 2-D array, got an array of shape "
                f"{array.shape}; reshape 1-D data with reshape(-1, 1)."
            )
        check_not_complex(array, name)
        if columns is not None and len(columns) == array.shape[1]:
            names = [str(column) for column in columns]
        else:
            names = [f"x{j}" for j in range(array.shape[1])]
        frame = pd.DataFrame(array, columns=names)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {frame.shape}); pass at least one row.")
    frame.columns = [str(column) for column in frame.columns]
    if frame.columns.duplicated().any():
        repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"{name} has repeated column names {repeated}; make them unique.")
    check_not_complex(frame, name)
    return frame


def registry_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """The registry kind of every column (``"continuous"``, ``"integer"``, ..., ``"id"``)."""
    # Imported here: the tabular layer may import the evaluation's detector.
    from lookalike.tabular.schema import infer_kind

    kinds = {}
    for column in frame.columns:
        series = frame[column]
        kinds[str(column)] = "categorical" if series.notna().sum() == 0 else infer_kind(series)
    return kinds


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns an evaluation compares, with their kinds, and which it leaves out.

    Attributes
    ----------
    kinds : dict of str to str
        ``"numeric"`` or ``"categorical"`` for every compared column, in the real table's
        order.
    registry : dict of str to str
        The registry kind of every compared column (``"continuous"``, ``"datetime"``...).
    left_out : dict of str to str
        Columns not compared, with the reason.
    """

    kinds: dict[str, str]
    registry: dict[str, str]
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.kinds)


def plan_columns(real: pd.DataFrame, others: Mapping[str, pd.DataFrame | None]) -> ColumnPlan:
    """The columns shared by ``real`` and every table in ``others``, less id columns.

    Raises
    ------
    ValueError
        When no column is left to compare.
    """
    shared = [column for column in real.columns]
    left_out: dict[str, str] = {}
    for name, frame in others.items():
        if frame is None:
            continue
        for column in shared:
            if column not in frame.columns:
                left_out.setdefault(column, f"not in {name}")
        for column in frame.columns:
            if column not in real.columns:
                left_out.setdefault(column, f"only in {name}, not in real")
    shared = [column for column in shared if column not in left_out]
    registry = registry_kinds(real[shared]) if shared else {}
    kinds = {}
    for column in shared:
        kind = registry[column]
        if kind == "id":
            left_out[column] = "an id column (every value distinct): no distribution to compare"
        else:
            kinds[column] = METRIC_KINDS[kind]
    if not kinds:
        raise ValueError(
            "real and synthetic share no column to compare (left out: "
            f"{left_out}); give tables with at least one common non-id column."
        )
    return ColumnPlan(kinds, {c: registry[c] for c in kinds}, left_out)


def numeric_values(series: pd.Series) -> npt.NDArray[np.float64]:
    """A column as float64: datetimes as nanoseconds since the epoch, missing as NaN.

    Raises
    ------
    ValueError
        When the values are not numbers (or dates).
    """
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        values = series.to_numpy(
            dtype="datetime64[ns]"
            if pd.api.types.is_datetime64_dtype(dtype)
            else "timedelta64[ns]"
        )
        out = values.view(np.int64).astype(np.float64)
        out[np.isnat(values)] = np.nan
        return out
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    is_stamp = lambda v: isinstance(v, pd.Timestamp | np.datetime64)  # noqa: E731
    if pd.api.types.is_object_dtype(dtype) and len(series) and series.dropna().map(is_stamp).all():
        return numeric_values(pd.to_datetime(series, utc=True))
    return pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)


def _dates_from_text(series: pd.Series) -> pd.Series:
    """Text that reads as dates (the registry's text datetime columns) as timestamps.

    Other columns, and text that does not read as dates, come back unchanged (then
    :func:`numeric_values` says what is wrong).
    """
    dtype = series.dtype
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return series
    try:
        return pd.to_datetime(series, format="mixed", utc=True)
    except (TypeError, ValueError):
        return series


def levels(series: pd.Series) -> npt.NDArray[np.object_]:
    """Categorical values as text, with missing values as the level :data:`MISSING`."""
    text = series.astype(object).map(str).to_numpy(dtype=object)
    text[series.isna().to_numpy()] = MISSING
    return text


def conform(
    frame: pd.DataFrame, kinds: Mapping[str, str], name: str, registry: Mapping[str, str]
) -> pd.DataFrame:
    """``frame``'s compared columns in order: numerics as float64, categoricals as levels.

    Raises
    ------
    ValueError
        When a column that is numeric (or a date) in the real table is not in ``frame``.
    """
    out: dict[str, Any] = {}
    for column, kind in kinds.items():
        series = frame[column]
        if kind == NUMERIC:
            if registry.get(column) == "datetime":
                series = _dates_from_text(series)
            try:
                out[column] = numeric_values(series)
            except (TypeError, ValueError):
                what = "a date" if registry.get(column) == "datetime" else "numeric"
                raise ValueError(
                    f"Column {column!r} is {what} in real but not in {name}; convert it "
                    "(or make it categorical in both tables)."
                ) from None
        else:  # object dtype: pandas would otherwise infer Arrow strings (slow per item)
            out[column] = pd.Series(levels(series), dtype=object)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def sample_rows(frame: pd.DataFrame, n: int | None, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows of ``frame`` drawn without replacement, in their original order."""
    if n is None or len(frame) <= n:
        return frame
    rows = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def seed_from(rng: np.random.Generator) -> int:
    """A 31-bit seed drawn from ``rng`` (for scikit-learn's ``random_state``)."""
    return int(rng.integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    """Rows encoded for distances, and the slice of encoded columns of each table column."""

    arrays: list[npt.NDArray[np.float64]]
    slices: dict[str, slice]


def encode_rows(
    reference: pd.DataFrame, frames: Sequence[pd.DataFrame], kinds: Mapping[str, str]
) -> Encoded:
    """Encode rows as numbers on the scale of ``reference``, for Euclidean distances.

    Numeric columns are centred and scaled by the reference's mean and standard deviation
    (missing values become the mean, 0). A categorical column with at most
    :data:`MAX_ONEHOT_LEVELS` levels (over all frames) becomes one-hot indicators scaled by
    :math:`1/\\sqrt 2`, so that two different levels are at distance 1, like one standard
    deviation; with more levels, each level becomes a pseudo-random unit vector of that
    many dimensions (from a hash of its text), scaled the same way, so that two different
    levels are at distance :math:`1 \\pm 0.2` and equal levels at distance 0, in memory
    that does not grow with the number of levels.

    Returns
    -------
    Encoded
        One float64 array of shape (n_rows_i, n_encoded) per frame, and the encoded
        columns of each table column.
    """
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    slices: dict[str, slice] = {}
    start = 0
    for name, kind in kinds.items():
        if kind == NUMERIC:
            base = np.asarray(reference[name], dtype=np.float64)
            finite = base[np.isfinite(base)]
            centre = float(finite.mean()) if finite.size else 0.0
            scale = float(finite.std()) if finite.size > 1 else 0.0
            scale = scale if scale > 0 and np.isfinite(scale) else 1.0
            for block, frame in zip(blocks, frames, strict=True):
                values = (np.asarray(frame[name], dtype=np.float64) - centre) / scale
                block.append(np.where(np.isfinite(values), values, 0.0)[:, None])
            width = 1
        else:
            texts = [np.asarray(frame[name], dtype=object) for frame in frames]
            known = pd.unique(np.concatenate(texts)) if texts else np.array([], dtype=object)
            if len(known) <= MAX_ONEHOT_LEVELS:
                table = np.eye(len(known)) / np.sqrt(2.0)
            else:
                table = _hashed_vectors(known, MAX_ONEHOT_LEVELS)
            index = pd.Index(known)
            for block, text in zip(blocks, texts, strict=True):
                block.append(table[index.get_indexer(text)])
            width = table.shape[1]
        slices[name] = slice(start, start + width)
        start += width
    arrays = [
        np.hstack(block).astype(np.float64) if block else np.zeros((len(frame), 0))
        for block, frame in zip(blocks, frames, strict=True)
    ]
    return Encoded(arrays, slices)


def _hashed_vectors(texts: npt.NDArray[Any], dimensions: int) -> npt.NDArray[np.float64]:
    """A unit vector (scaled by 1/sqrt 2) per text, pseudo-random from a stable hash."""
    seeds = pd.util.hash_array(np.asarray(texts, dtype=object)).astype(np.uint64)
    counters = np.arange(1, dimensions + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        state = seeds[:, None] + counters[None, :]
        # splitmix64 finaliser: well-mixed 64-bit outputs from consecutive counters.
        state = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        state = (state ^ (state >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state = state ^ (state >> np.uint64(31))
    uniform = (state >> np.uint64(11)).astype(np.float64) / float(2**53)
    vectors = uniform - 0.5
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0) / np.sqrt(2.0)


def ranked_levels(values: npt.ArrayLike) -> pd.Index:
    """The distinct values, most frequent first (ties by text): an Index to code them."""
    counts = pd.Series(np.asarray(values, dtype=object)).value_counts(sort=False)
    texts = np.asarray([str(level) for level in counts.index], dtype=str)
    order = np.lexsort((texts, -counts.to_numpy()))
    return pd.Index(counts.index[order])


def ordinal_codes(columns: Sequence[npt.NDArray[Any]]) -> tuple[list[np.ndarray], int]:
    """Integer codes of text levels shared by several arrays, most frequent level first.

    Returns the code arrays (float64, one per input) and the number of levels.
    """
    joined = np.concatenate([np.asarray(c, dtype=object) for c in columns])
    index = ranked_levels(joined)
    codes = [index.get_indexer(np.asarray(c, dtype=object)).astype(np.float64) for c in columns]
    return codes, len(index)


def design_matrix(
    frames: Sequence[pd.DataFrame], kinds: Mapping[str, str], columns: Sequence[str]
) -> list[npt.NDArray[np.float64]]:
    """Matrices for a scikit-learn model: numerics as given (NaN kept), one-hot levels.

    A categorical column becomes indicators of its :data:`MAX_ONEHOT_LEVELS` most frequent
    levels in the first frame (rarer and unseen levels have all indicators 0).
    """
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for column in columns:
        if kinds[column] == NUMERIC:
            for block, frame in zip(blocks, frames, strict=True):
                block.append(np.asarray(frame[column], dtype=np.float64)[:, None])
        else:
            counts = pd.Series(frames[0][column]).value_counts()
            top = np.asarray(sorted(counts.index[:MAX_ONEHOT_LEVELS], key=str), dtype=object)
            for block, frame in zip(blocks, frames, strict=True):
                text = np.asarray(frame[column], dtype=object)
                block.append((text[:, None] == top[None, :]).astype(np.float64))
    return [
        np.hstack(block) if block else np.zeros((len(frame), 0))
        for block, frame in zip(blocks, frames, strict=True)
    ]
