"""Where the rows live: in memory, in :class:`~lookalike.chunks.Chunks`, in dask partitions.

A pass over the data (a summary, an EM iteration, scoring) is the same
whatever holds the rows: a function of one partition's checked rows
``func(index, rows, weights)`` is mapped over the partitions and the results
are added up in partition order. This module owns the three kinds of
partition and that map:

- :class:`InMemoryPartitions`: one validated array, a single partition whose
  row blocks run on ``n_jobs`` threads;
- :class:`ChunkPartitions`: the chunks of a re-iterable :class:`Chunks`
  table, read one at a time on this machine (out-of-core);
- :class:`DaskPartitions`: the row partitions of a 2-D ``dask.array`` or a
  ``dask.dataframe`` of numeric columns, one ``dask.compute`` of one task per
  partition per pass, run by whatever scheduler dask uses.

and the partition-by-partition scoring of fitted estimators
(:func:`map_rows`, :func:`total_and_count`). It knows nothing of any model:
estimators hand it plain functions. Dask is imported only when a dask
collection is given; install it with ``pip install 'lookalike[dask]'``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from lookalike._validation import check_none_complex, is_dask_collection
from lookalike.chunks import Chunks

__all__ = [
    "ChunkPartitions",
    "DaskPartitions",
    "InMemoryPartitions",
    "Partitions",
    "RowSpec",
    "import_dask",
    "map_rows",
    "partitions_of",
    "total",
    "total_and_count",
]

T = TypeVar("T")

#: A function of one partition: ``func(index, rows, weights)``.
PartitionFunction = Callable[[int, np.ndarray, np.ndarray | None], T]

INSTALL_HINT = "Dask support needs dask and distributed: pip install 'lookalike[dask]'"


def import_dask() -> Any:
    """The ``dask`` module, or ImportError with the install command."""
    try:
        import dask
    except ImportError:  # pragma: no cover - dask is in the test extra
        raise ImportError(INSTALL_HINT) from None
    return dask


# --------------------------------------------------------------------------------------
# A raw partition becomes checked rows


@dataclass(frozen=True)
class RowSpec:
    """How to check and convert a raw partition (array or DataFrame) into rows.

    Attributes
    ----------
    n_features : int or None
        Expected width (None: not known yet).
    feature_names : tuple of str or None
        Expected column names of DataFrame partitions.
    allow_nan : bool
        NaN entries are missing values (rows with none observed are dropped)
        rather than an error.
    """

    n_features: int | None
    feature_names: tuple[str, ...] | None
    allow_nan: bool


def prepare_partition(
    part: Any, weights: Any, spec: RowSpec, index: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows (float32 or float64, C order) and weights of one partition, checked.

    With ``spec.allow_nan`` (``missing="em"``), rows with no observed entry
    are dropped, as in-memory fitting drops them.
    """
    where = f"partition {index}"
    check_none_complex(**{f"X in {where}": part, f"sample_weight in {where}": weights})
    if hasattr(part, "columns") and hasattr(part, "iloc"):
        names = tuple(str(c) for c in part.columns)
        if spec.feature_names is not None and names != spec.feature_names:
            raise ValueError(
                f"The columns of {where} are {list(names)}, expected {list(spec.feature_names)}."
            )
        check_numeric_frame(part, where)
        dtypes = set(map(str, part.dtypes))
        dtype = np.float32 if dtypes == {"float32"} else np.float64
        rows = part.to_numpy(dtype=dtype, na_value=np.nan)
    else:
        rows = np.asarray(part)
        if rows.dtype != np.float32:
            try:
                rows = rows.astype(np.float64, copy=False)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where} has dtype {rows.dtype}, which is not numeric."
                ) from None
    if rows.ndim != 2:
        raise ValueError(f"Expected 2D rows in {where}, got an array of shape {rows.shape}.")
    if spec.n_features is not None and rows.shape[1] != spec.n_features:
        raise ValueError(
            f"{where} has {rows.shape[1]} features, but the data have {spec.n_features}."
        )
    rows = np.ascontiguousarray(rows)
    row_weights = None
    if weights is not None:
        row_weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if row_weights.shape[0] != rows.shape[0]:
            raise ValueError(
                f"sample_weight has {row_weights.shape[0]} entries in {where}, which has "
                f"{rows.shape[0]} rows: weights must be partitioned like X."
            )
        if not np.all(np.isfinite(row_weights)) or np.any(row_weights < 0):
            raise ValueError(f"sample_weight in {where} must be finite and non-negative.")
    if spec.allow_nan:
        if np.isinf(rows).any():
            raise ValueError(f"Input X contains infinity in {where}.")
        informative = ~np.isnan(rows).all(axis=1)
        if not informative.all():
            rows = rows[informative]
            row_weights = None if row_weights is None else row_weights[informative]
    elif not np.isfinite(rows).all():
        raise ValueError(
            f"Input X contains NaN or infinity in {where}. GaussianMixture(missing='em') "
            "fits data with missing values (NaN)."
        )
    return rows, row_weights


def check_numeric_frame(frame: Any, where: str) -> None:
    """ValueError naming the columns of a DataFrame that are not numeric."""
    import pandas as pd

    bad = [
        f"{name} ({dtype})"
        for name, dtype in frame.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]
    if bad:
        raise ValueError(
            f"Column(s) {bad} of {where} are not numeric. Select the numeric columns "
            "(the Synthesizer handles mixed tables in memory)."
        )


def _run_partition(
    func: PartitionFunction[T], spec: RowSpec, index: int, part: Any, weights: Any
) -> T:
    rows, row_weights = prepare_partition(part, weights, spec, index)
    return func(index, rows, row_weights)


# --------------------------------------------------------------------------------------
# The three kinds of partitions


class Partitions(Protocol):
    """What a pass needs from the partitions of the data.

    ``spec`` says how raw partitions are checked (the caller may tighten it
    after a first pass); ``map(func)`` runs ``func(index, rows, weights)`` on
    every partition and returns the results in partition order;
    ``inner_n_jobs`` is the number of threads a partition's own row blocks may
    use; ``feature_names`` are the column names, when known.
    """

    spec: RowSpec
    inner_n_jobs: int | None

    @property
    def feature_names(self) -> list[str] | None: ...

    def map(self, func: PartitionFunction[T]) -> list[T]: ...


class InMemoryPartitions:
    """Rows already checked and in memory: one partition, its blocks on ``n_jobs`` threads."""

    def __init__(self, rows: np.ndarray, weights: np.ndarray | None, n_jobs: int | None) -> None:
        self.rows = rows
        self.weights = weights
        self.inner_n_jobs = n_jobs
        self.spec = RowSpec(rows.shape[1], None, allow_nan=True)

    @property
    def feature_names(self) -> list[str] | None:
        return None

    def map(self, func: PartitionFunction[T]) -> list[T]:
        return [func(0, self.rows, self.weights)]


class ChunkPartitions:
    """The chunks of a :class:`Chunks` source, visited in order on this machine."""

    def __init__(self, chunks: Chunks, n_jobs: int | None) -> None:
        self.chunks = chunks
        self.inner_n_jobs = n_jobs  # blocks of a chunk run on threads
        self.spec = RowSpec(None, None, allow_nan=False)
        self.n_partitions: int | None = None

    @property
    def feature_names(self) -> list[str] | None:
        return self.chunks.feature_names

    def map(self, func: PartitionFunction[T]) -> list[T]:
        results = [
            _run_partition(func, self.spec, index, chunk, None)
            for index, chunk in enumerate(self.chunks)
        ]
        self.n_partitions = len(results)
        return results


class DaskPartitions:
    """The row partitions of a dask array or DataFrame; one ``dask.compute`` per pass."""

    inner_n_jobs: int | None = 1  # dask runs partitions side by side

    def __init__(self, X: Any, sample_weight: Any) -> None:
        import_dask()
        self._feature_names: list[str] | None
        if hasattr(X, "columns"):
            check_numeric_frame(X._meta, "X")
            self._feature_names = [str(c) for c in X.columns]
            n_features = len(self._feature_names)
            self.parts = list(X.to_delayed())
            self.row_counts: tuple[float, ...] | None = None
        else:
            if X.ndim != 2:
                raise ValueError(
                    f"Expected a 2D dask array, got {X.ndim} dimension(s). Reshape your "
                    "data with X.reshape(-1, 1) for a single feature."
                )
            if X.numblocks[1] > 1:
                X = X.rechunk({1: -1})
            self._feature_names = None
            n_features = int(X.shape[1])
            self.parts = list(X.to_delayed().ravel())
            self.row_counts = tuple(X.chunks[0])
        self.n_partitions = len(self.parts)
        self.weights = self._split_weights(sample_weight)
        self.spec = RowSpec(n_features, None, allow_nan=False)

    @property
    def feature_names(self) -> list[str] | None:
        return self._feature_names

    def _split_weights(self, sample_weight: Any) -> list[Any]:
        if sample_weight is None:
            return [None] * self.n_partitions
        if is_dask_collection(sample_weight):
            if hasattr(sample_weight, "to_delayed") and not hasattr(sample_weight, "chunks"):
                parts = list(sample_weight.to_delayed())  # a dask Series
            else:
                if self.row_counts is not None:
                    sample_weight = sample_weight.rechunk((self.row_counts,))
                parts = list(sample_weight.to_delayed().ravel())
            if len(parts) != self.n_partitions:
                raise ValueError(
                    f"sample_weight has {len(parts)} partitions but X has "
                    f"{self.n_partitions}: partition them alike."
                )
            return parts
        if self.row_counts is None:
            raise ValueError(
                "With a dask DataFrame, pass sample_weight as a dask Series partitioned "
                "like X (a column of the same frame, for instance)."
            )
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (int(sum(self.row_counts)),):
            raise ValueError(
                f"sample_weight.shape == {weights.shape}, expected ({int(sum(self.row_counts))},)!"
            )
        bounds = np.cumsum((0, *self.row_counts)).astype(int)
        return [weights[a:b] for a, b in itertools.pairwise(bounds)]

    def map(self, func: PartitionFunction[T]) -> list[T]:
        dask = import_dask()
        run = dask.delayed(_run_partition, pure=True)
        tasks = [
            run(func, self.spec, index, part, weights)
            for index, (part, weights) in enumerate(zip(self.parts, self.weights, strict=True))
        ]
        return list(dask.compute(*tasks))


def partitions_of(X: Any, sample_weight: Any, n_jobs: int | None) -> Partitions:
    """The partitions of a :class:`Chunks` source or a dask collection."""
    if isinstance(X, Chunks):
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported with Chunks; use a dask array, or fit in memory."
            )
        return ChunkPartitions(X, n_jobs)
    return DaskPartitions(X, sample_weight)


def total(results: Sequence[T | None]) -> T | None:
    """Sum of the results in partition order, skipping empty partitions (None)."""
    summed: Any = None
    for result in results:
        if result is not None:
            summed = result if summed is None else summed + result
    return summed


def partition_seed(entropy: Sequence[int], purpose: int, index: int) -> np.random.SeedSequence:
    """The random stream of one partition for one purpose, whoever runs it.

    Keyed by the partition's index, so the numbers depend on how the data are
    partitioned but never on the number of workers or the order they finish in.
    """
    return np.random.SeedSequence(list(entropy), spawn_key=(purpose, index))


# --------------------------------------------------------------------------------------
# Scoring partition by partition


def _call_method(estimator: Any, method: str, part: Any, feature_names: Any) -> np.ndarray:
    if feature_names is not None and not hasattr(part, "columns"):
        import pandas as pd

        part = pd.DataFrame(part, columns=list(feature_names))
    return getattr(estimator, method)(part)


def map_rows(
    estimator: Any,
    method: str,
    X: Any,
    *,
    n_columns: int | None = None,
    dtype: npt.DTypeLike = np.float64,
) -> Any:
    """``estimator.method`` applied to every partition of X.

    Parameters
    ----------
    estimator : fitted estimator
    method : str
        A method taking rows and returning one value (``n_columns=None``) or
        ``n_columns`` values per row, e.g. ``"score_samples"``.
    X : dask array, dask DataFrame or Chunks
    n_columns : int, default=None
    dtype : dtype of the result

    Returns
    -------
    result : dask array (lazy) for dask input; ndarray for Chunks
        Rows in the order of X.
    """
    n_features = getattr(estimator, "n_features_in_", None)
    if isinstance(X, Chunks):
        names = getattr(estimator, "feature_names_in_", None)
        parts = [_call_method(estimator, method, chunk, names) for chunk in X]
        if not parts:
            shape = (0,) if n_columns is None else (0, n_columns)
            return np.empty(shape, dtype=dtype)
        return np.concatenate(parts)
    import_dask()
    import dask
    import dask.array as da

    if hasattr(X, "columns"):
        width = len(X.columns)
        parts = list(X.to_delayed())
        row_counts: Sequence[float] = [np.nan] * len(parts)
    else:
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D dask array, got {X.ndim} dimension(s).")
        width = int(X.shape[1])
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        parts = list(X.to_delayed().ravel())
        row_counts = X.chunks[0]
    if n_features is not None and width != n_features:
        raise ValueError(
            f"X has {width} features, but {type(estimator).__name__} is expecting "
            f"{n_features} features as input."
        )
    model = dask.delayed(estimator, pure=True)
    call = dask.delayed(_call_method, pure=True)
    outputs = [
        da.from_delayed(
            call(model, method, part, None),
            shape=(rows,) if n_columns is None else (rows, n_columns),
            dtype=dtype,
        )
        for part, rows in zip(parts, row_counts, strict=True)
    ]
    return da.concatenate(outputs, axis=0)


def total_and_count(scores: Any) -> tuple[float, int]:
    """Sum and number of per-row scores, computed once for a dask array."""
    if is_dask_collection(scores):
        dask = import_dask()
        summed, count = dask.compute(scores.sum(), scores.map_blocks(np.ones_like).sum())
        return float(summed), int(count)
    return float(np.sum(scores)), int(np.shape(scores)[0])
