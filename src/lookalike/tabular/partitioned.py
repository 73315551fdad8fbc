"""Column codecs of a table that lives in partitions, and its normal scores there.

A table too large for one machine's memory is given as a dask DataFrame, a Parquet or
CSV dataset path (read lazily with :func:`lookalike.distributed.read_dataset`) or a
:class:`~lookalike.chunks.Chunks` of DataFrames. Its codecs are fitted in two passes
over the partitions, each one ``dask.compute`` of one task per partition (or one
local loop over the chunks); only small summaries and a bounded sample travel to the
client:

1. **Kinds.** Every partition reports its row count and, for each column without a
   ``kinds=`` entry, :func:`~lookalike.tabular.columns.infer_kind` of its part of the
   column (the one place kinds are decided). The partitions' kinds are merged by
   :func:`merge_kinds` (a column whole in one partition and fractional in another is
   continuous; an id in every partition stays an id, otherwise it takes the other
   partitions' kind; mixed text kinds are categorical).
2. **Summaries and the sample.** Every partition fits each column's codec of the
   merged kind to its rows and returns the exact mergeable summaries of it (row and
   missing counts; minimum and maximum; number of decimals; the integer grid's step;
   the datetime grain; the count of every category; the largest id) together with its
   share of a seeded row sample (below).

On the client, each column's codec is fitted to the sample (its dtype, text format and
the knots and atoms of its marginal), then its exact parts are replaced by the merged
summaries: missing rate, range, decimals, grid step, grain, category shares, ids.

The sample
----------
``sample_rows`` rows (all rows of a smaller table) are drawn without replacement,
split over the partitions in proportion to their row counts (largest remainders get
the leftover rows) and drawn in each partition with its own random stream, a child
``numpy.random.SeedSequence(entropy, spawn_key=(purpose, partition))``: the sample
depends on the seed and on the partitioning, never on the number of workers or the
order in which they finish. A numeric column's marginal (its knots and atom shares)
comes from the sample: by the Dvoretzky-Kiefer-Wolfowitz inequality its Kolmogorov
distance from the full column's marginal exceeds ``eps`` with probability at most
``2 exp(-2 S eps^2)`` for ``S`` sampled values, about ``1.63 / sqrt(S)`` at 99%
(0.0036 for the default :data:`SAMPLE_ROWS`, on top of the codec's own compression to
4096 knots). Missing rates, ranges, grids and category shares are exact.

Encoding
--------
:func:`encode_partitions` maps the fitted codecs over the partitions (each with its own
random stream, for the randomised probability integral transform and for the standard
normal draws that fill missing scores) and returns the scores as a lazy dask array (or
:class:`~lookalike.chunks.Chunks`) that partitioned EM reads pass after pass.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from lookalike._validation import is_dask_collection
from lookalike.chunks import Chunks
from lookalike.tabular.columns import (
    KINDS,
    CategoricalCodec,
    ColumnCodec,
    DatetimeCodec,
    IdCodec,
    IntegerCodec,
    NumericCodec,
    infer_kind,
    make_codec,
)
from lookalike.tabular.columns.base import marginal_of, store_marginal
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.schema import check_column_names

#: Rows drawn from a partitioned table to fit the codecs' marginals (and the joint
#: models that need rows in memory).
SAMPLE_ROWS = 200_000

#: Random-stream purposes (the first element of a partition's spawn key).
SAMPLE, ENCODE, FILL = 0, 1, 2

_DATETIME_GRAINS = ("Y", "M", "D", "h", "m", "s", "ms", "us", "ns")
#: Average lengths of the calendar grains that have no fixed length, in days.
_CALENDAR_DAYS = {"Y": 365.2425, "M": 30.436875}

T = TypeVar("T")


def is_table_source(table: Any) -> bool:
    """Whether ``table`` is a partitioned table: a dask DataFrame, a path or Chunks."""
    if isinstance(table, str | os.PathLike | Chunks):
        return True
    return is_dask_collection(table) and hasattr(table, "columns")


# --------------------------------------------------------------------------------------
# Where the partitions live


class TableSource:
    """The partitions of a table, visited where they live.

    Parameters
    ----------
    table : dask DataFrame, str or PathLike, or Chunks
        A path is read with :func:`lookalike.distributed.read_dataset` (Parquet
        file or directory, CSV file or glob). Chunks must hold DataFrames.

    Attributes
    ----------
    columns : list of str
        The table's columns.
    kind : str
        ``"dask"`` or ``"chunks"``.
    """

    def __init__(self, table: Any) -> None:
        if isinstance(table, str | os.PathLike):
            from lookalike.distributed import read_dataset

            table = read_dataset(os.fspath(table))
        if isinstance(table, Chunks):
            self.kind = "chunks"
            self.chunks = table
            first = next(iter(table), None)
            if first is None:
                raise ValueError("The table is empty: its Chunks hold no chunk.")
            if not hasattr(first, "columns"):
                raise TypeError(
                    "A Synthesizer reads Chunks of DataFrames (mixed columns); these chunks "
                    "are arrays. Build them from DataFrames, e.g. "
                    "Chunks(lambda: pandas.read_csv(path, chunksize=100_000))."
                )
            self.columns = list(first.columns)
        elif is_dask_collection(table) and hasattr(table, "columns"):
            self.kind = "dask"
            self.frame = table
            self.columns = list(table.columns)
        else:
            raise TypeError(
                "A partitioned table is a dask DataFrame, a Parquet/CSV path or Chunks of "
                f"DataFrames; got {type(table).__name__}."
            )
        _check_column_names(self.columns)

    @property
    def n_partitions(self) -> int | None:
        return int(self.frame.npartitions) if self.kind == "dask" else None

    def map(self, func: Callable[[int, pd.DataFrame], T]) -> list[T]:
        """``func(index, partition)`` for every partition, in order (on the workers)."""
        if self.kind == "chunks":
            return [func(index, _frame(chunk)) for index, chunk in enumerate(self.chunks)]
        import dask

        run = dask.delayed(_call, pure=False)
        shared = dask.delayed(func, pure=False)  # one copy in the graph, not one per task
        tasks = [run(shared, index, part) for index, part in enumerate(self.frame.to_delayed())]
        return list(dask.compute(*tasks))

    def map_arrays(
        self, func: Callable[[int, pd.DataFrame], np.ndarray], lengths: Sequence[int], width: int
    ) -> Any:
        """``func`` over the partitions as a lazy dask array (``Chunks`` for Chunks).

        Nothing runs here: the array is computed partition by partition by whoever
        reads it (partitioned EM), every time it is read.
        """
        if self.kind == "chunks":
            chunks = self.chunks
            return Chunks(lambda: (func(i, _frame(c)) for i, c in enumerate(chunks)))
        import dask
        import dask.array as da

        run = dask.delayed(_call, pure=False)
        shared = dask.delayed(func, pure=False)  # one copy in the graph, not one per task
        pieces = [
            da.from_delayed(run(shared, index, part), shape=(int(rows), width), dtype=np.float64)
            for index, (part, rows) in enumerate(
                zip(self.frame.to_delayed(), lengths, strict=True)
            )
        ]
        return da.concatenate(pieces, axis=0)


def _call(func: Callable[[int, pd.DataFrame], T], index: int, part: Any) -> T:
    return func(index, _frame(part))


def _frame(part: Any) -> pd.DataFrame:
    if not isinstance(part, pd.DataFrame):
        raise TypeError(f"A partition is a {type(part).__name__}, not a pandas DataFrame.")
    return part.reset_index(drop=True)


def _check_column_names(names: list[Any]) -> None:
    if not names:
        raise ValueError("The table has no column.")
    check_column_names(names)


def partition_seed(entropy: Sequence[int], purpose: int, index: int) -> np.random.SeedSequence:
    """The random stream of one partition for one purpose, whoever runs it."""
    return np.random.SeedSequence([int(v) for v in entropy], spawn_key=(purpose, index))


# --------------------------------------------------------------------------------------
# Pass 1: row counts and kinds


def _kinds_of_partition(
    names: Sequence[str], index: int, part: pd.DataFrame
) -> tuple[int, dict[str, str | None]]:
    found: dict[str, str | None] = {}
    for name in names:
        column = part[name]
        found[name] = infer_kind(column) if column.notna().any() else None
    return len(part), found


def merge_kinds(kinds: Sequence[str | None]) -> str | None:
    """One column's kind from its partitions' inferred kinds (``None``: no value there).

    The same kind everywhere is kept. Otherwise an ``"id"`` partition (every value
    distinct there) takes the others' kind; integer and continuous are continuous
    (some values are fractional); any other mixture (numbers and text, dates and
    text, booleans and text) is categorical, the kind that holds any value.
    """
    seen = {k for k in kinds if k is not None}
    if not seen:
        return None
    if len(seen) > 1:
        seen.discard("id")
    if len(seen) == 1:
        return seen.pop()
    if seen <= {"integer", "continuous"}:
        return "continuous"
    return "categorical"


# --------------------------------------------------------------------------------------
# Pass 2: exact summaries and the sample


@dataclass(frozen=True)
class _ColumnSummary:
    """What one partition knows exactly about one column (additive or mergeable)."""

    n_rows: int
    n_missing: int
    low: float = math.nan
    high: float = math.nan
    decimals: int | None = None
    step: float = 1.0
    grain: str = ""
    levels: tuple[Any, ...] = ()
    counts: tuple[int, ...] = ()
    id_mode: str = ""  # "numeric", "prefix:<prefix>" or "text"
    id_width: int = 0
    id_largest: int = 0


def _summarise_column(codec: ColumnCodec, column: pd.Series) -> _ColumnSummary:
    n = len(column)
    n_missing = int(column.isna().sum())
    if n_missing == n:
        return _ColumnSummary(n, n_missing)
    codec.fit(column)
    if isinstance(codec, IdCodec):
        if codec.numeric:
            mode = "numeric"
        elif np.size(codec.observed):
            mode = "text"
        else:
            mode = "prefix:" + codec.prefix
        return _ColumnSummary(
            n, n_missing, id_mode=mode, id_width=codec.width, id_largest=codec.largest
        )
    if isinstance(codec, CategoricalCodec):
        counts = np.rint(np.asarray(codec.probabilities[: len(codec.levels)]) * n)
        return _ColumnSummary(
            n, n_missing, levels=tuple(codec.levels), counts=tuple(int(c) for c in counts)
        )
    if not isinstance(codec, NumericCodec):
        raise TypeError(f"no partition summary for a {type(codec).__name__} column")
    return _ColumnSummary(
        n,
        n_missing,
        low=codec.low,
        high=codec.high,
        decimals=codec.decimals,
        step=getattr(codec, "step", 1.0),
        grain=getattr(codec, "grain", ""),
    )


def _summarise_partition(
    kinds: Mapping[str, str],
    tails: bool,
    quotas: Sequence[int],
    entropy: Sequence[int],
    index: int,
    part: pd.DataFrame,
) -> tuple[dict[str, _ColumnSummary], pd.DataFrame]:
    summaries = {
        name: _summarise_column(make_codec(name, kind, tails=tails), part[name])
        for name, kind in kinds.items()
    }
    quota = min(int(quotas[index]), len(part))
    if quota >= len(part):
        return summaries, part
    rng = np.random.default_rng(partition_seed(entropy, SAMPLE, index))
    rows = np.sort(rng.choice(len(part), size=quota, replace=False))
    return summaries, part.iloc[rows].reset_index(drop=True)


def sample_quotas(lengths: Sequence[int], sample_rows: int) -> np.ndarray:
    """Rows drawn from each partition: proportional to its length, largest remainders."""
    rows = np.asarray(lengths, dtype=np.int64)
    total = int(rows.sum())
    if total <= sample_rows:
        return rows.copy()
    exact = rows * (sample_rows / total)
    quotas = np.floor(exact).astype(np.int64)
    left = sample_rows - int(quotas.sum())
    order = np.lexsort((np.arange(rows.size), -(exact - quotas)))
    quotas[order[:left]] += 1
    return np.minimum(quotas, rows)


# --------------------------------------------------------------------------------------
# The client: codecs from the sample and the merged summaries


@dataclass
class PartitionedCodecs:
    """Codecs fitted over partitions, with what the fit saw.

    Attributes
    ----------
    codecs : list of ColumnCodec
    sample : pandas.DataFrame
        The seeded row sample (at most ``sample_rows`` rows).
    lengths : list of int
        Rows per partition.
    entropy : list of int
        The SeedSequence entropy of the partitions' random streams.
    """

    codecs: list[ColumnCodec]
    sample: pd.DataFrame
    lengths: list[int]
    entropy: list[int]

    @property
    def n_rows(self) -> int:
        return int(sum(self.lengths))

    def describe(self) -> dict[str, Any]:
        return {
            "partitions": len(self.lengths),
            "rows": self.n_rows,
            "sample_rows": len(self.sample),
        }


def fit_codecs_partitioned(
    source: TableSource,
    kinds: Mapping[str, str] | None,
    *,
    tails: bool,
    sample_rows: int,
    entropy: Sequence[int],
) -> PartitionedCodecs:
    """Fit every column's codec over the partitions (see the module docstring)."""
    chosen = _check_kinds(source.columns, kinds)
    to_infer = [name for name in source.columns if name not in chosen]
    counted = source.map(functools.partial(_kinds_of_partition, to_infer))
    lengths = [n for n, _ in counted]
    if sum(lengths) == 0:
        raise ValueError("The table is empty (0 rows); give a table with at least one row.")
    decided: dict[str, str] = {}
    for name in source.columns:
        kind = chosen.get(name) or merge_kinds([found[name] for _, found in counted])
        if kind is None:
            raise ValueError(
                f"Column {name!r} has no observed value (all missing); drop it before "
                "fitting, e.g. df.drop(columns=[...])."
            )
        decided[name] = kind
    quotas = sample_quotas(lengths, sample_rows)
    entropy = [int(v) for v in entropy]
    results = source.map(
        functools.partial(_summarise_partition, decided, tails, quotas.tolist(), entropy)
    )
    sample = pd.concat([rows for _, rows in results], ignore_index=True)
    codecs = [
        _merged_codec(
            name, decided[name], sample[name], [s[name] for s, _ in results], tails, sample_rows
        )
        for name in source.columns
    ]
    return PartitionedCodecs(codecs, sample, lengths, entropy)


def _check_kinds(columns: list[str], kinds: Mapping[str, str] | None) -> dict[str, str]:
    if kinds is None:
        return {}
    if not isinstance(kinds, Mapping):
        raise TypeError(f"kinds must be a dict column -> kind; got {kinds!r}.")
    for name, kind in kinds.items():
        if name not in columns:
            raise ValueError(
                f"unknown column {name!r} in kinds; columns are: {', '.join(columns)}"
            )
        if kind not in KINDS:
            raise ValueError(
                f"kinds[{name!r}] must be one of {', '.join(repr(k) for k in KINDS)}; "
                f"got {kind!r}."
            )
    return dict(kinds)


def _merged_codec(
    name: str,
    kind: str,
    sampled: pd.Series,
    parts: list[_ColumnSummary],
    tails: bool,
    sample_rows: int,
) -> ColumnCodec:
    n_rows = sum(p.n_rows for p in parts)
    n_missing = sum(p.n_missing for p in parts)
    if sampled.notna().sum() == 0:
        raise ValueError(
            f"Column {name!r} has {n_rows - n_missing} observed values in {n_rows} rows, but "
            f"none in the sample of {len(sampled)} rows its codec is fitted on; raise "
            f"sample_rows (now {sample_rows}) or drop the column."
        )
    codec = make_codec(name, kind, tails=tails).fit(sampled.reset_index(drop=True))
    observed = [p for p in parts if p.n_missing < p.n_rows]
    if isinstance(codec, IdCodec):
        _merge_ids(codec, sampled, observed)
        codec.missing_rate = n_missing / n_rows
    elif isinstance(codec, CategoricalCodec):
        _merge_levels(codec, observed, n_rows)
    elif isinstance(codec, DatetimeCodec):
        _merge_datetimes(codec, observed)
        codec.missing_rate = n_missing / n_rows
    elif isinstance(codec, NumericCodec):
        _merge_numbers(codec, observed)
        codec.missing_rate = n_missing / n_rows
    return codec


def _merge_numbers(codec: NumericCodec, parts: list[_ColumnSummary]) -> None:
    codec.low = min(p.low for p in parts)
    codec.high = max(p.high for p in parts)
    if isinstance(codec, IntegerCodec):
        codec.step = _grid_step([(p.low, p.step) for p in parts], codec.low)
        return
    decimals = [p.decimals for p in parts]
    codec.decimals = (
        None if any(d is None for d in decimals) else max(d for d in decimals if d is not None)
    )


def _grid_step(grids: list[tuple[float, float]], low: float) -> float:
    """The step of the grid through every partition's grid ``(low_i, step_i)``."""
    step = 0
    for part_low, part_step in grids:
        offset = part_low - low
        if max(offset, part_step) >= 2**62:
            return 1.0
        step = math.gcd(step, round(part_step), round(offset))
    return float(max(step, 1))


def _merge_datetimes(codec: DatetimeCodec, parts: list[_ColumnSummary]) -> None:
    grain = max((p.grain for p in parts), key=_DATETIME_GRAINS.index)
    if grain != codec.grain:  # the sample's marginal counts in a coarser grain
        ratio = _grain_ratio(codec.grain, grain)
        marginal = marginal_of(codec)
        positions = _convert_counts(marginal.positions, codec.grain, grain)
        store_marginal(
            codec,
            marginal._replace(
                positions=positions,
                low_tail=marginal.low_tail * ratio,
                high_tail=marginal.high_tail * ratio,
            ),
        )
        codec.grain = grain
    lows = [_convert_counts(np.array([p.low]), p.grain, grain)[0] for p in parts]
    highs = [_convert_counts(np.array([p.high]), p.grain, grain)[0] for p in parts]
    codec.low, codec.high = float(min(lows)), float(max(highs))
    steps = [
        p.step * _grain_ratio(p.grain, grain)
        if p.grain == grain or p.grain not in _CALENDAR_DAYS
        else 1.0
        for p in parts
    ]
    codec.step = _grid_step(list(zip(lows, steps, strict=True)), codec.low)


def _convert_counts(counts: np.ndarray, source: str, target: str) -> np.ndarray:
    """Counts of grain ``source`` as counts of the finer grain ``target``."""
    if source == target:
        return np.asarray(counts, dtype=np.float64)
    stamps = np.asarray(counts).astype(np.int64).astype(f"datetime64[{source}]")
    return stamps.astype(f"datetime64[{target}]").astype(np.int64).astype(np.float64)


def _grain_ratio(source: str, target: str) -> float:
    """How many ``target`` grains make one ``source`` grain (on average for Y and M)."""
    if source == target:
        return 1.0
    if source in _CALENDAR_DAYS:
        return _CALENDAR_DAYS[source] * _grain_ratio("D", target)
    one = np.ones(1, dtype=np.int64).astype(f"timedelta64[{source}]")
    return float(one.astype(f"timedelta64[{target}]").astype(np.int64)[0])


def _level_key(value: Any) -> Any:
    """A key that tells 1 from True and 1.0 from "1" (interval pairs as tuples)."""
    if isinstance(value, list):
        return ("list", *value)
    return (type(value).__name__ if isinstance(value, bool) else "", value)


def _merge_levels(codec: CategoricalCodec, parts: list[_ColumnSummary], n_rows: int) -> None:
    # Levels in order of first appearance over the partitions (each partition's levels
    # in its own model order): exactly tied shares may be ordered unlike an in-memory fit.
    totals: dict[Any, int] = {}
    values: dict[Any, Any] = {}
    for part in parts:
        for level, count in zip(part.levels, part.counts, strict=True):
            key = _level_key(level)
            values.setdefault(key, level)
            totals[key] = totals.get(key, 0) + int(count)
    codec.set_counts(list(values.values()), np.array(list(totals.values()), float), n_rows)


def _merge_ids(codec: IdCodec, sampled: pd.Series, parts: list[_ColumnSummary]) -> None:
    modes = {p.id_mode for p in parts}
    if codec.numeric:
        codec.largest = max(p.id_largest for p in parts)
    elif not np.size(codec.observed) and modes == {"prefix:" + codec.prefix}:
        codec.largest = max(p.id_largest for p in parts)
        codec.width = max(p.id_width for p in parts)
    else:  # ids that are not all prefix + number: random new ids, checked against the sample
        texts = sampled.dropna().astype(str).tolist()
        codec.prefix, codec.largest, codec.observed = "", 0, np.array(texts, dtype=str)
        codec.width = max([p.id_width for p in parts] + [len(t) for t in texts] + [8])


# --------------------------------------------------------------------------------------
# Encoding on the partitions


def _encode_partition(
    encoder: TableEncoder, entropy: Sequence[int], index: int, part: pd.DataFrame
) -> np.ndarray:
    scores = encoder.encode(part, np.random.default_rng(partition_seed(entropy, ENCODE, index)))
    holes = np.isnan(scores)
    if holes.any():
        fill = np.random.default_rng(partition_seed(entropy, FILL, index))
        scores[holes] = fill.standard_normal(int(holes.sum()))
    return np.ascontiguousarray(scores, dtype=np.float64)


def encode_partitions(
    source: TableSource, encoder: TableEncoder, lengths: Sequence[int], entropy: Sequence[int]
) -> Any:
    """The table's normal scores, partition by partition, as a lazy dask array (or Chunks).

    ``lengths`` are the partitions' row counts and ``entropy`` the seed of their random
    streams (:class:`PartitionedCodecs` holds both). Missing scores (missing numeric
    values, whose missing indicators carry them) are filled with standard normal
    draws, as :class:`~lookalike.tabular.models.estimator.EstimatorModel` fills them
    in memory. Every partition is encoded with its own random streams, so each read
    gives the same numbers.
    """
    encode = functools.partial(_encode_partition, encoder, [int(v) for v in entropy])
    return source.map_arrays(encode, lengths, encoder.n_dims)


__all__ = [
    "SAMPLE_ROWS",
    "PartitionedCodecs",
    "TableSource",
    "encode_partitions",
    "fit_codecs_partitioned",
    "is_table_source",
    "merge_kinds",
    "partition_seed",
    "sample_quotas",
]
