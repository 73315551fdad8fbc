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
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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

    def __repr__(self) -> str:
        return f"Chunks({self.source!r})"

    def __iter__(self) -> Iterator[Any]:
        """Chunks as 2-D NumPy arrays or DataFrames (columns selected), in order."""
        iterable = self.source() if callable(self.source) else self.source
        for chunk in iterable:
            yield self._select(chunk)

    def _select(self, chunk: Any) -> Any:
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
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows}.")
        files = _expand(path, (".parquet", ".pq"))
        schema = pq.read_schema(files[0])
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
                with pq.ParquetFile(file) as reader:
                    missing = [name for name in names if name not in reader.schema_arrow.names]
                    if missing:
                        raise ValueError(f"Column(s) {missing} are not in {file}.")
                    for batch in reader.iter_batches(batch_size=chunk_rows, columns=names):
                        if batch.num_rows:
                            yield _arrow_to_numpy(batch)

        chunks = cls(batches)
        chunks.feature_names = names
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

        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows}.")
        files = _expand(path, (".csv", ".csv.gz", ".txt"))
        selected = None if columns is None else [str(c) for c in columns]

        def frames() -> Iterator[Any]:
            for file in files:
                with pd.read_csv(
                    file, usecols=selected, chunksize=chunk_rows, **read_csv_kwargs
                ) as reader:
                    for frame in reader:
                        yield frame if selected is None else frame[selected]

        return cls(frames, columns=selected)


def _expand(path: str | Path, suffixes: tuple[str, ...]) -> list[str]:
    """Files of a file path, a directory (files with ``suffixes``) or a glob, sorted."""
    text = str(path)
    if any(char in text for char in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    elif Path(text).is_dir():
        files = sorted(
            str(file)
            for file in Path(text).rglob("*")
            if file.is_file() and file.name.lower().endswith(suffixes)
        )
    elif Path(text).is_file():
        files = [text]
    else:
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
