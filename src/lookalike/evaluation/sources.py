"""Where the rows of an evaluation come from: in memory, Parquet files, or a dask DataFrame.

Every table is reduced to at most ``max_rows`` rows by one seeded scheme: the row count of
each partition (a Parquet row group, a dask partition, or the one in-memory table) is read
first, ``max_rows`` global row numbers are drawn uniformly without replacement, and each
partition contributes the rows whose numbers fall in it. Partitions are read one at a time,
so memory holds one partition and the sample, never the whole table; the same seed and the
same partitioning give the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lookalike._validation import check_not_complex, is_dask_collection
from lookalike.chunks import matching_files
from lookalike.evaluation.columns import as_frame


@dataclass(frozen=True)
class Table:
    """A table's rows for the evaluation (a sample when it had more than ``max_rows``)."""

    frame: pd.DataFrame
    n_rows: int
    source: str

    @property
    def sampled(self) -> bool:
        return len(self.frame) < self.n_rows


def _draw(lengths: Sequence[int], max_rows: int | None, rng: np.random.Generator) -> list:
    """Local row numbers to keep in each partition (None: keep all of them)."""
    total = int(sum(lengths))
    if max_rows is None or total <= max_rows:
        return [None] * len(lengths)
    chosen = np.sort(rng.choice(total, size=max_rows, replace=False))
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    cuts = np.searchsorted(chosen, bounds)
    return [chosen[cuts[i] : cuts[i + 1]] - bounds[i] for i in range(len(lengths))]


def parquet_files(path: str | os.PathLike[str]) -> list[str]:
    """The Parquet files of a file path, a directory (searched recursively) or a glob."""
    text = os.fspath(path)
    files = matching_files(text, (".parquet", ".pq"))
    if files is None:
        raise ValueError(f"No such file or directory: {text!r}.")
    if not files:
        raise ValueError(f"No Parquet file (*.parquet, *.pq) found at {text!r}.")
    return files


def read_parquet_sample(
    path: str | os.PathLike[str], max_rows: int | None, rng: np.random.Generator
) -> Table:
    """At most ``max_rows`` rows of Parquet data, read row group by row group."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is in the io and test extras
        raise ImportError("Reading Parquet needs pyarrow: pip install 'lookalike[io]'") from None
    files = parquet_files(path)
    groups = []
    for file in files:
        try:
            metadata = pq.ParquetFile(file).metadata
        except (OSError, pa.ArrowInvalid) as error:
            raise ValueError(f"{file} is not a readable Parquet file: {error}") from None
        groups += [
            (file, i, metadata.row_group(i).num_rows) for i in range(metadata.num_row_groups)
        ]
    keep = _draw([n for _, _, n in groups], max_rows, rng)
    parts = []
    readers: dict[Any, Any] = {}
    for (file, index, _), rows in zip(groups, keep, strict=True):
        if rows is not None and rows.size == 0:
            continue
        if file not in readers:
            readers.clear()  # one file open at a time: groups come file by file
            readers[file] = pq.ParquetFile(file)
        table = readers[file].read_row_group(index)
        if rows is not None:
            table = table.take(pa.array(rows))
        parts.append(table.to_pandas())
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return Table(frame, int(sum(n for _, _, n in groups)), f"Parquet {os.fspath(path)}")


def _take(part: pd.DataFrame, keep: list, partition_info: dict | None = None) -> pd.DataFrame:
    rows = keep[partition_info["number"]] if partition_info is not None else None
    return part if rows is None else part.iloc[rows]


def read_dask_sample(data: Any, max_rows: int | None, rng: np.random.Generator) -> Table:
    """At most ``max_rows`` rows of a dask DataFrame: partition lengths, then the sample."""
    if not hasattr(data, "map_partitions") or not hasattr(data, "columns"):
        raise TypeError(
            f"evaluate takes a dask DataFrame, not a {type(data).__name__}; convert a dask "
            "array with dask.dataframe.from_dask_array(..., columns=[...])."
        )
    lengths = [int(n) for n in data.map_partitions(len).compute()]
    keep = _draw(lengths, max_rows, rng)
    sample = data.map_partitions(_take, keep, meta=data._meta).compute()
    return Table(sample.reset_index(drop=True), int(sum(lengths)), "dask DataFrame")


def load_table(
    data: Any,
    name: str,
    max_rows: int | None,
    rng: np.random.Generator,
    columns: Sequence[str] | None = None,
) -> Table:
    """A table's rows as a DataFrame: the data itself, or a seeded sample of them.

    Parameters
    ----------
    data : DataFrame, 2-D array, path to Parquet data, or dask DataFrame
    name : str
        Used in error messages.
    max_rows : int or None
        Rows kept at most (None: all).
    rng : numpy.random.Generator
        Draws the sample.
    columns : sequence of str, optional
        Names for the columns of a 2-D array of the same width.
    """
    if isinstance(data, str | os.PathLike):
        table = read_parquet_sample(data, max_rows, rng)
        frame = as_frame(table.frame, name)
        return Table(frame, table.n_rows, table.source)
    if is_dask_collection(data):
        table = read_dask_sample(data, max_rows, rng)
        frame = as_frame(table.frame, name)
        return Table(frame, table.n_rows, table.source)
    frame = as_frame(data, name, columns)
    n_rows = len(frame)
    keep = _draw([n_rows], max_rows, rng)[0]
    if keep is not None:
        frame = frame.iloc[keep].reset_index(drop=True)
    check_not_complex(frame, name)
    return Table(frame, n_rows, "in memory")
