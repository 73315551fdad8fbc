"""Chunks: a table read piece by piece, for out-of-core fitting on one machine.

A :class:`Chunks` object is a *re-iterable* source of row chunks: every
``iter(chunks)`` starts again from the first row, so that each EM iteration can
read the data once more while only one chunk is in memory at a time. Chunks come
from a Parquet dataset (:meth:`Chunks.from_parquet`, read with pyarrow one
record batch at a time), from CSV files (:meth:`Chunks.from_csv`, read with
pandas in ``chunksize`` pieces) or from any sequence or generator function of
arrays or DataFrames.

Estimators accept a ``Chunks`` where they accept an array:
``GaussianMixture().fit(chunks)`` runs exact EM with memory bounded by one
chunk (see :mod:`lookalike.distributed`), and ``score_samples``, ``predict``
and ``predict_proba`` return their results chunk after chunk, concatenated.
"""

from __future__ import annotations

import glob
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.exceptions import InvalidParameterError

__all__ = ["Chunks"]

DEFAULT_CHUNK_ROWS = 1_000_000


class Chunks:
    """A re-iterable table of rows, read one chunk at a time.

    Parameters
    ----------
    source : sequence of array-like or DataFrame, or callable
        The chunks, each of shape (n_i, n_features): a list (or any
        re-iterable sequence), or a function with no argument that returns a
        fresh iterable of chunks each time it is called (a generator
        function, for instance). A one-shot iterator cannot be read twice and
        is refused.
    columns : sequence of str, default=None
        Columns to keep from DataFrame chunks (all when ``None``).

    Attributes
    ----------
    feature_names : list of str or None
        Column names, when the chunks are DataFrames or the source names them
        (known after the first chunk has been read).

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike import Chunks, GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> parts = [rng.normal(size=(500, 2)) for _ in range(4)]
    >>> model = GaussianMixture(2, random_state=0).fit(Chunks(parts))
    >>> model.means_.shape
    (2, 2)
    """

    def __init__(
        self,
        source: Sequence[Any] | Callable[[], Iterable[Any]],
        *,
        columns: Sequence[str] | None = None,
    ) -> None:
        if isinstance(source, str | bytes | Path | dict):
            raise TypeError(
                f"Chunks expects a sequence of arrays or a function returning an iterable of "
                f"arrays, got {type(source).__name__}. Read files with Chunks.from_csv(path) "
                "or Chunks.from_parquet(path)."
            )
        if isinstance(source, Iterator):
            raise TypeError(
                "Chunks needs a source it can read more than once (EM reads the data "
                "once per iteration): pass a list of chunks or a function that returns a "
                "fresh iterator, not an iterator or generator object."
            )
        if not callable(source) and not isinstance(source, Iterable):
            raise TypeError(
                f"Chunks expects a sequence of arrays or a function returning an iterable "
                f"of arrays, got {type(source).__name__}."
            )
        self.source = source
        self.columns = None if columns is None else [str(c) for c in columns]
        self.feature_names: list[str] | None = self.columns
        self._label: str | None = None

    def __repr__(self) -> str:
        return getattr(self, "_label", None) or f"Chunks({self.source!r})"

    def __iter__(self) -> Iterator[Any]:
        """Chunks as 2-D NumPy arrays or DataFrames (columns selected), in order.

        An error raised by the source while it produces a chunk (a generator
        that raises, an unreadable file) becomes a ValueError naming the chunk,
        with the original error chained; a source function that returns
        something other than an iterable is a TypeError.
        """
        if callable(self.source):
            try:
                iterable = self.source()
            except Exception as error:
                raise ValueError(
                    f"Calling the source of {self!r} failed: {_describe(error)}"
                ) from error
            if isinstance(iterable, str | bytes | dict) or not isinstance(iterable, Iterable):
                raise TypeError(
                    f"The source function of Chunks must return an iterable of arrays or "
                    f"DataFrames (a list, or a generator); it returned "
                    f"{type(iterable).__name__}."
                )
        else:
            iterable = self.source
        iterator = iter(iterable)
        index = 0
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except Exception as error:
                raise ValueError(
                    f"Reading chunk {index} of {self!r} failed: {_describe(error)}"
                ) from error
            yield self._select(chunk, index)
            index += 1

    def _select(self, chunk: Any, index: int = 0) -> Any:
        if chunk is None or isinstance(chunk, str | bytes | dict | numbers.Number):
            raise TypeError(
                f"Chunk {index} is a {type(chunk).__name__}; every chunk must be a 2-D array "
                "(or a list of rows) or a DataFrame."
            )
        if hasattr(chunk, "columns") and hasattr(chunk, "iloc"):
            if self.columns is not None:
                missing = [c for c in self.columns if c not in chunk.columns]
                if missing:
                    raise ValueError(f"Column(s) {missing} are not in the chunk's columns.")
                chunk = chunk[self.columns]
            names = [str(c) for c in chunk.columns]
            if self.feature_names is None:
                self.feature_names = names
            elif names != self.feature_names:
                raise ValueError(
                    f"A chunk has columns {names}, but earlier chunks had {self.feature_names}."
                )
            return chunk
        return np.asarray(chunk)

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        *,
        columns: Sequence[str] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> Chunks:
        """Chunks of a Parquet file, a directory of Parquet files, or a glob.

        Reads one record batch of at most ``chunk_rows`` rows at a time, file
        after file (a batch never spans two row groups, so batches can be
        smaller), so memory holds about one chunk. Needs pyarrow
        (``pip install 'lookalike[io]'``).
        """
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow is in the io and test extras
            raise ImportError(
                "Reading Parquet needs pyarrow: pip install 'lookalike[io]'"
            ) from None
        _check_chunk_rows(chunk_rows)
        files = _expand(path, (".parquet", ".pq"))
        schema = _parquet_schema(files[0])
        names = list(schema.names) if columns is None else [str(c) for c in columns]
        unknown = [name for name in names if name not in schema.names]
        if unknown:
            raise ValueError(f"Column(s) {unknown} are not in {path} (it has {schema.names}).")
        _check_numeric_arrow(schema, names, path)

        def batches() -> Iterator[np.ndarray]:
            # ParquetFile.iter_batches decodes one batch at a time; the dataset
            # scanner reads ahead and held ~0.8 GB of Arrow buffers for 1M-row
            # batches of 16 columns, against ~0.3 GB here.
            for file in files:
                try:
                    reader = pq.ParquetFile(file)
                except (OSError, ValueError) as error:
                    raise ValueError(_not_parquet(file, error)) from error
                with reader:
                    missing = [name for name in names if name not in reader.schema_arrow.names]
                    if missing:
                        raise ValueError(f"Column(s) {missing} are not in {file}.")
                    for batch in reader.iter_batches(batch_size=chunk_rows, columns=names):
                        if batch.num_rows:
                            yield _arrow_to_numpy(batch)

        chunks = cls(batches)
        chunks.feature_names = names
        chunks._label = f"Chunks.from_parquet({str(path)!r})"
        return chunks

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        columns: Sequence[str] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        **read_csv_kwargs: Any,
    ) -> Chunks:
        """Chunks of a CSV file, a directory of CSV files, or a glob.

        Each file is read by ``pandas.read_csv(..., chunksize=chunk_rows)``;
        extra keyword arguments go to ``read_csv``.
        """
        import pandas as pd

        _check_chunk_rows(chunk_rows)
        reserved = sorted({"usecols", "chunksize", "iterator", "nrows"} & set(read_csv_kwargs))
        if reserved:
            raise TypeError(
                f"Chunks.from_csv sets {reserved} itself; use columns=... and chunk_rows=... "
                "instead."
            )
        files = _expand(path, (".csv", ".csv.gz", ".txt"))
        selected = None if columns is None else [str(c) for c in columns]
        _check_csv_columns(files[0], selected, read_csv_kwargs)

        def frames() -> Iterator[Any]:
            for file in files:
                _check_csv_columns(file, selected, read_csv_kwargs)
                with pd.read_csv(
                    file, usecols=selected, chunksize=chunk_rows, **read_csv_kwargs
                ) as reader:
                    for frame in reader:
                        yield frame if selected is None else frame[selected]

        chunks = cls(frames, columns=selected)
        chunks._label = f"Chunks.from_csv({str(path)!r})"
        return chunks


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_chunk_rows(chunk_rows: Any) -> None:
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, numbers.Integral)
        or int(chunk_rows) < 1
    ):
        raise InvalidParameterError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")


def _parquet_schema(file: str) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(file)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise ValueError(_not_parquet(file, error)) from error


def _not_parquet(file: str, error: BaseException) -> str:
    return (
        f"{file} cannot be read as Parquet ({_describe(error)}). Is it a Parquet file? "
        "Use Chunks.from_csv for CSV files."
    )


def _check_csv_columns(file: str, selected: list[str] | None, options: dict[str, Any]) -> None:
    """Read ``file``'s header: the options must suit read_csv and the columns exist."""
    import pandas as pd

    try:
        header = pd.read_csv(file, nrows=0, **options)
    except TypeError as error:
        raise TypeError(f"Invalid option for reading {file}: {_describe(error)}") from error
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Cannot read {file} as CSV: {_describe(error)}") from error
    if selected is not None:
        names = [str(c) for c in header.columns]
        missing = [c for c in selected if c not in names]
        if missing:
            raise ValueError(f"Column(s) {missing} are not in {file} (it has {names}).")


def matching_files(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> list[str] | None:
    """Files of a file path, a directory or a glob, sorted; ``None`` if there is no such path.

    A directory is searched recursively for files whose names end with one of
    ``suffixes`` (case-insensitive, e.g. ``(".csv", ".csv.gz")``); a glob (a path
    with ``*``, ``?`` or ``[``) is expanded recursively as it is; a file is itself.
    The list may be empty (a glob or directory without a match).
    """
    text = os.fspath(path)
    if any(char in text for char in "*?["):
        return sorted(glob.glob(text, recursive=True))
    if Path(text).is_dir():
        return sorted(
            str(file)
            for file in Path(text).rglob("*")
            if file.is_file() and file.name.lower().endswith(suffixes)
        )
    if Path(text).is_file():
        return [text]
    return None


def _expand(path: str | Path, suffixes: tuple[str, ...]) -> list[str]:
    """Files of a file path, a directory (files with ``suffixes``) or a glob, sorted."""
    text = str(path)
    files = matching_files(text, suffixes)
    if files is None:
        raise FileNotFoundError(f"No such file or directory: {text!r}")
    if not files:
        raise FileNotFoundError(f"No {'/'.join(suffixes)} files match {text!r}")
    return files


def _check_numeric_arrow(schema: Any, names: list[str], path: Any) -> None:
    import pyarrow.types as pat

    bad = [
        f"{name} ({schema.field(name).type})"
        for name in names
        if not (
            pat.is_integer(schema.field(name).type)
            or pat.is_floating(schema.field(name).type)
            or pat.is_boolean(schema.field(name).type)
        )
    ]
    if bad:
        raise ValueError(
            f"Column(s) {bad} of {path} are not numeric. Select numeric columns with "
            "columns=[...] (the Synthesizer handles mixed tables in memory)."
        )


def _arrow_to_numpy(batch: Any) -> npt.NDArray[Any]:
    """A record batch as a C-ordered (rows, columns) array: one copy.

    float32 when every column is float32, float64 otherwise; nulls become NaN.
    """
    import pyarrow as pa

    all_float32 = all(column.type == pa.float32() for column in batch.columns)
    dtype = np.float32 if all_float32 else np.float64
    out = np.empty((batch.num_rows, batch.num_columns), dtype=dtype)
    for j, column in enumerate(batch.columns):
        out[:, j] = column.to_numpy(zero_copy_only=False)
    return out
