"""Out-of-core and Dask-distributed EM, scoring and sampling.

EM on additive sufficient statistics (:mod:`lookalike._math.em`) does not care
where the rows live: an iteration is "E-step on every piece of the data, add the
moments, M-step". This module visits the pieces of two kinds of partitioned
data and hands the sums to the estimator's own EM loop
(:meth:`GaussianMixture._run_em <lookalike.mixture.GaussianMixture._run_em>`):

- :class:`~lookalike.chunks.Chunks`, a re-iterable table read one chunk at a
  time on this machine (out-of-core: memory holds one chunk and the model);
- dask collections (a 2-D ``dask.array`` or a ``dask.dataframe`` of numeric
  columns). Every pass is one ``dask.compute`` of one task per partition, run
  by whatever scheduler dask uses: the threads of this process, or the workers
  of a ``distributed.Client``. Only the moments travel back, ``k (d + d(d+1)/2)``
  numbers per partition; the M-step runs here, on the client.

The passes of a fit: one summary pass (row count, weighted column means for the
centring shift, column ranges, input checks), then the initialisation, then one
pass per EM iteration. The initialisation draws a Bernoulli sample of about
:data:`INIT_SAMPLE_ROWS` rows (each partition with its own random stream),
runs k-means, k-means++ or the random seed choice on that sample only, and
turns the result into initial moments with one more pass (hard k-means
assignments of every row, or one-hot responsibilities on the seed rows), so
the data are never collected. Given ``weights_init``, ``means_init`` and
``precisions_init`` the fit equals the in-memory fit up to rounding.

Random streams are ``numpy.random.SeedSequence`` children keyed by the
partition's index, so the numbers depend on how the data are partitioned but
never on the number of workers or the order in which they finish.

Dask is imported only when a dask collection is given; install it with
``pip install 'lookalike[dask]'``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from lookalike._math.blocks import reduce_blocks, row_slices
from lookalike._math.em import Moments, fixed_responsibility_moments
from lookalike._validation import RandomStateLike, as_random_state, is_dask_collection
from lookalike._validation import check_none_complex as _refuse_complex
from lookalike.chunks import Chunks

if TYPE_CHECKING:
    from lookalike.mixture import GaussianMixture, _EMData

__all__ = ["Chunks", "connect", "map_rows", "read_dataset", "sample"]

T = TypeVar("T")

# Rows drawn (in expectation) for the initialisation's k-means or seed choice.
# k-means on 50,000 rows of 16 features takes a fraction of a second and places
# the centres as well as on all rows for the purpose of starting EM.
INIT_SAMPLE_ROWS = 50_000

_INSTALL_HINT = "Dask support needs dask and distributed: pip install 'lookalike[dask]'"


def _import_dask() -> Any:
    try:
        import dask
    except ImportError:  # pragma: no cover - dask is in the test extra
        raise ImportError(_INSTALL_HINT) from None
    return dask


# --------------------------------------------------------------------------------------
# Partitions: what a pass visits, and how a raw partition becomes checked rows


@dataclass(frozen=True)
class _RowSpec:
    """How to check and convert a raw partition (array or DataFrame) into rows."""

    n_features: int | None
    feature_names: tuple[str, ...] | None
    allow_nan: bool


def _prepare(
    part: Any, weights: Any, spec: _RowSpec, index: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows (float32 or float64, C order) and weights of one partition, checked.

    With ``spec.allow_nan`` (``missing="em"``), rows with no observed entry
    are dropped, as in-memory fitting drops them.
    """
    where = f"partition {index}"
    _refuse_complex(**{f"X in {where}": part, f"sample_weight in {where}": weights})
    if hasattr(part, "columns") and hasattr(part, "iloc"):
        names = tuple(str(c) for c in part.columns)
        if spec.feature_names is not None and names != spec.feature_names:
            raise ValueError(
                f"The columns of {where} are {list(names)}, expected {list(spec.feature_names)}."
            )
        _check_numeric_frame(part, where)
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


def _check_numeric_frame(frame: Any, where: str) -> None:
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
    func: Callable[[int, np.ndarray, np.ndarray | None], T],
    spec: _RowSpec,
    index: int,
    part: Any,
    weights: Any,
) -> T:
    rows, row_weights = _prepare(part, weights, spec, index)
    return func(index, rows, row_weights)


class _ChunkPartitions:
    """The chunks of a :class:`Chunks` source, visited in order on this machine."""

    inner_n_jobs: int | None

    def __init__(self, chunks: Chunks, n_jobs: int | None) -> None:
        self.chunks = chunks
        self.inner_n_jobs = n_jobs  # blocks of a chunk run on threads
        self.spec = _RowSpec(None, None, allow_nan=False)
        self.n_partitions: int | None = None

    @property
    def feature_names(self) -> list[str] | None:
        return self.chunks.feature_names

    def map(self, func: Callable[[int, np.ndarray, np.ndarray | None], T]) -> list[T]:
        results = [
            _run_partition(func, self.spec, index, chunk, None)
            for index, chunk in enumerate(self.chunks)
        ]
        self.n_partitions = len(results)
        return results


class _DaskPartitions:
    """The row partitions of a dask array or DataFrame; one ``dask.compute`` per pass."""

    inner_n_jobs: int | None = 1  # dask runs partitions side by side

    def __init__(self, X: Any, sample_weight: Any) -> None:
        _import_dask()
        if hasattr(X, "columns"):
            _check_numeric_frame(X._meta, "X")
            self.feature_names: list[str] | None = [str(c) for c in X.columns]
            n_features = len(self.feature_names)
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
            self.feature_names = None
            n_features = int(X.shape[1])
            self.parts = list(X.to_delayed().ravel())
            self.row_counts = tuple(X.chunks[0])
        self.n_partitions = len(self.parts)
        self.weights = self._split_weights(sample_weight, X)
        self.spec = _RowSpec(n_features, None, allow_nan=False)

    def _split_weights(self, sample_weight: Any, X: Any) -> list[Any]:
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

    def map(self, func: Callable[[int, np.ndarray, np.ndarray | None], T]) -> list[T]:
        dask = _import_dask()
        run = dask.delayed(_run_partition, pure=True)
        tasks = [
            run(func, self.spec, index, part, weights)
            for index, (part, weights) in enumerate(zip(self.parts, self.weights, strict=True))
        ]
        return list(dask.compute(*tasks))


_Partitions = _ChunkPartitions | _DaskPartitions


def _partitions(X: Any, sample_weight: Any, n_jobs: int | None) -> _Partitions:
    if isinstance(X, Chunks):
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported with Chunks; use a dask array, or fit in memory."
            )
        return _ChunkPartitions(X, n_jobs)
    return _DaskPartitions(X, sample_weight)


def _total(results: Sequence[T | None]) -> T | None:
    """Sum of the results in partition order, skipping empty partitions."""
    total: Any = None
    for result in results:
        if result is not None:
            total = result if total is None else total + result
    return total


# --------------------------------------------------------------------------------------
# The summary pass


@dataclass
class _Summary:
    """Row count, weights, column sums and ranges of the rows seen (additive)."""

    n_rows: int
    n_features: int
    all_float32: bool
    total_weight: float
    sums: np.ndarray  # weighted sums of observed entries, per column
    observed_weight: np.ndarray  # weight of the observed entries, per column
    minimum: np.ndarray
    maximum: np.ndarray

    def __add__(self, other: _Summary) -> _Summary:
        if other.n_features != self.n_features:
            raise ValueError(
                f"A chunk has {other.n_features} features, but earlier ones have "
                f"{self.n_features}."
            )
        return _Summary(
            self.n_rows + other.n_rows,
            self.n_features,
            self.all_float32 and other.all_float32,
            self.total_weight + other.total_weight,
            self.sums + other.sums,
            self.observed_weight + other.observed_weight,
            np.fmin(self.minimum, other.minimum),
            np.fmax(self.maximum, other.maximum),
        )


def _summarise(index: int, rows: np.ndarray, weights: np.ndarray | None) -> _Summary:
    observed = ~np.isnan(rows)
    values = np.where(observed, rows, 0.0).astype(np.float64, copy=False)
    row_weights = np.ones(rows.shape[0]) if weights is None else weights
    return _Summary(
        n_rows=rows.shape[0],
        n_features=rows.shape[1],
        all_float32=rows.dtype == np.float32,
        total_weight=float(row_weights.sum()),
        sums=row_weights @ values,
        observed_weight=row_weights @ observed,
        minimum=np.fmin.reduce(rows, axis=0, initial=np.inf).astype(np.float64),
        maximum=np.fmax.reduce(rows, axis=0, initial=-np.inf).astype(np.float64),
    )


# --------------------------------------------------------------------------------------
# Initialisation from a sample


def _partition_seed(entropy: Sequence[int], purpose: int, index: int) -> np.random.SeedSequence:
    """The random stream of one partition for one purpose, whoever runs it."""
    return np.random.SeedSequence(list(entropy), spawn_key=(purpose, index))


def _filled(rows: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rows with missing entries replaced by the column centres (for initialising)."""
    missing = np.isnan(rows)
    if not missing.any():
        return rows
    return np.where(missing, shift.astype(rows.dtype), rows)


@dataclass(frozen=True)
class _RowSample:
    """Rows kept by a Bernoulli draw in one partition, with their positions."""

    index: int
    positions: np.ndarray
    rows: np.ndarray
    weights: np.ndarray | None


def _draw_sample(
    probability: float,
    entropy: Sequence[int],
    shift: np.ndarray,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> _RowSample:
    if probability >= 1.0:
        positions = np.arange(rows.shape[0])
    else:
        rng = np.random.default_rng(_partition_seed(entropy, 0, index))
        positions = np.flatnonzero(rng.random(rows.shape[0]) < probability)
    kept = _filled(rows[positions], shift)
    return _RowSample(index, positions, kept, None if weights is None else weights[positions])


def _responsibility_moments(
    rows: np.ndarray,
    weights: np.ndarray | None,
    shift: np.ndarray,
    covariance_type: str,
    rows_per_block: int,
    responsibilities: Callable[[slice, np.ndarray], np.ndarray],
) -> Moments | None:
    """Moments of fixed responsibilities on a partition (missing entries filled)."""
    blocks = row_slices(rows.shape[0], rows_per_block)
    return fixed_responsibility_moments(
        _filled(rows, shift), weights, shift, covariance_type, blocks, responsibilities
    )


def _nearest_centre_moments(
    centres: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    rows_per_block: int,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    """Moments of hard k-means assignments (each row to its nearest centre)."""
    centred = centres - shift
    half_norms = 0.5 * (centred**2).sum(axis=1)[:, np.newaxis]
    k = len(centres)

    def one_hot(block: slice, xt: np.ndarray) -> np.ndarray:
        labels = np.argmin(half_norms - centred @ xt, axis=0)
        return (np.arange(k)[:, np.newaxis] == labels).astype(np.float64)

    return _responsibility_moments(rows, weights, shift, covariance_type, rows_per_block, one_hot)


def _seed_row_moments(
    seeds: dict[int, tuple[np.ndarray, np.ndarray]],
    k: int,
    shift: np.ndarray,
    covariance_type: str,
    rows_per_block: int,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    """Moments of one-hot responsibilities on seed rows and zero elsewhere.

    ``seeds[index] = (positions, components)`` of the partition's seed rows.
    """
    positions, components = seeds.get(index, (np.empty(0, int), np.empty(0, int)))

    def one_hot(block: slice, xt: np.ndarray) -> np.ndarray:
        resp = np.zeros((k, block.stop - block.start))
        inside = (positions >= block.start) & (positions < block.stop)
        resp[components[inside], positions[inside] - block.start] = 1.0
        return resp

    return _responsibility_moments(rows, weights, shift, covariance_type, rows_per_block, one_hot)


def _random_moments(
    entropy: Sequence[int],
    k: int,
    shift: np.ndarray,
    covariance_type: str,
    rows_per_block: int,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    """Moments of uniform random responsibilities, normalised per row."""
    rng = np.random.default_rng(_partition_seed(entropy, 1, index))

    def uniform(block: slice, xt: np.ndarray) -> np.ndarray:
        resp = rng.random((k, block.stop - block.start))
        resp /= resp.sum(axis=0)
        return resp

    return _responsibility_moments(rows, weights, shift, covariance_type, rows_per_block, uniform)


def _initial_moments(
    estimator: GaussianMixture,
    partitions: _Partitions,
    summary: _Summary,
    shift: np.ndarray,
    rows_per_block: int,
    random_state: np.random.RandomState,
) -> Moments:
    """Moments of the initial responsibilities, from a sample of rows."""
    from sklearn.cluster import KMeans

    from lookalike.mixture import choose_seed_rows

    k = estimator.n_components
    covariance_type = estimator.covariance_type
    entropy = [int(v) for v in random_state.randint(0, 2**31 - 1, size=4)]
    shared = (k, shift, covariance_type, rows_per_block)
    if estimator.init_params == "random":
        moments = _total(partitions.map(functools.partial(_random_moments, entropy, *shared)))
    else:
        target = max(INIT_SAMPLE_ROWS, 50 * k)
        probability = min(1.0, target / summary.n_rows)
        samples = partitions.map(functools.partial(_draw_sample, probability, entropy, shift))
        rows = np.concatenate([s.rows for s in samples])
        weights = None
        if samples[0].weights is not None:
            weights = np.concatenate([s.weights for s in samples if s.weights is not None])
        if rows.shape[0] < k:
            raise ValueError(
                f"The initialisation sample holds {rows.shape[0]} rows, fewer than "
                f"n_components = {k}: use fewer components or more data."
            )
        if estimator.init_params == "kmeans":
            kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            centres = kmeans.fit(rows, sample_weight=weights).cluster_centers_
            moments = _total(
                partitions.map(
                    functools.partial(
                        _nearest_centre_moments, centres, shift, covariance_type, rows_per_block
                    )
                )
            )
        else:
            chosen = choose_seed_rows(rows, k, estimator.init_params, weights, random_state)
            owners = np.concatenate([np.full(len(s.positions), s.index) for s in samples])
            positions = np.concatenate([s.positions for s in samples])
            seeds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            for component, row in enumerate(chosen):
                held = seeds.setdefault(int(owners[row]), (np.empty(0, int), np.empty(0, int)))
                seeds[int(owners[row])] = (
                    np.append(held[0], positions[row]),
                    np.append(held[1], component),
                )
            moments = _total(partitions.map(functools.partial(_seed_row_moments, seeds, *shared)))
    if moments is None:  # pragma: no cover - the summary pass saw rows
        raise ValueError("no rows")
    return moments


# --------------------------------------------------------------------------------------
# EM over partitions


def _e_step_partition(
    e_step: Callable[[np.ndarray, np.ndarray | None], Moments],
    rows_per_block: int,
    n_jobs: int | None,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    blocks = row_slices(rows.shape[0], rows_per_block)
    if not blocks:
        return None
    return reduce_blocks(
        lambda block: e_step(rows[block], None if weights is None else weights[block]),
        blocks,
        n_jobs,
    )


def partitioned_em_data(estimator: GaussianMixture, X: Any, sample_weight: Any = None) -> _EMData:
    """The EM loop's view of partitioned data (Chunks or a dask collection).

    Runs the summary pass, checks the data as in-memory fitting does, sets
    ``n_features_in_`` and ``feature_names_in_`` on ``estimator``, and returns
    the passes the loop calls. Used by ``GaussianMixture.fit``.
    """
    from lookalike.mixture import _EMData

    partitions = _partitions(X, sample_weight, estimator.n_jobs)
    spec = partitions.spec
    allow_nan = estimator.missing == "em"
    partitions.spec = _RowSpec(spec.n_features, None, allow_nan)
    summary = _total(partitions.map(_summarise))
    if summary is None or summary.n_rows < 2:
        n_rows = 0 if summary is None else summary.n_rows
        raise ValueError(
            f"Found array with {n_rows} sample(s) while a minimum of 2 is required by "
            "GaussianMixture."
        )
    names = partitions.feature_names
    partitions.spec = _RowSpec(
        summary.n_features, None if names is None else tuple(names), allow_nan
    )
    estimator.n_features_in_ = summary.n_features
    if names is not None and all(isinstance(name, str) for name in names):
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    unobserved = np.flatnonzero(summary.observed_weight <= 0)
    if unobserved.size:
        raise ValueError(
            f"Feature(s) {unobserved.tolist()} have no observed value (with positive "
            "sample weight), so their distribution cannot be estimated. Drop those "
            "features or provide observations."
        )
    estimator._check_n_samples(summary.n_rows)
    if estimator.reg_covar <= 0:
        estimator._check_constant_features(summary.maximum - summary.minimum)
    shift = summary.sums / summary.observed_weight
    rows_per_block = estimator._rows_per_block(summary.n_features)
    n_jobs = partitions.inner_n_jobs

    def em_pass(params: Any) -> Moments:
        e_step = estimator._e_step(params, shift)
        task = functools.partial(_e_step_partition, e_step, rows_per_block, n_jobs)
        total = _total(partitions.map(task))
        if total is None:  # pragma: no cover - the summary pass saw rows
            raise ValueError("no rows")
        return total

    def initial_moments(random_state: np.random.RandomState) -> Moments:
        return _initial_moments(
            estimator, partitions, summary, shift, rows_per_block, random_state
        )

    dtype = np.dtype(np.float32 if summary.all_float32 else np.float64)
    return _EMData(summary.n_features, dtype, shift, em_pass, initial_moments)


# --------------------------------------------------------------------------------------
# Scoring and sampling, partition by partition


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
    _import_dask()
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
        dask = _import_dask()
        total, count = dask.compute(scores.sum(), scores.map_blocks(np.ones_like).sum())
        return float(total), int(count)
    return float(np.sum(scores)), int(np.shape(scores)[0])


def _sample_chunk(estimator: Any, n_rows: int, seed: np.random.SeedSequence) -> Any:
    return estimator.sample(n_rows, random_state=np.random.default_rng(seed))


def sample(
    estimator: Any,
    n_samples: int,
    *,
    chunk_rows: int = 1_000_000,
    random_state: RandomStateLike | np.random.SeedSequence = None,
) -> Any:
    """Draw ``n_samples`` rows as lazy dask arrays, chunk by chunk.

    Each chunk of at most ``chunk_rows`` rows is drawn by
    ``estimator.sample(n, random_state=Generator)`` with its own
    ``SeedSequence`` child, so chunks are independent, they can be drawn on
    any worker, and the result depends on ``random_state`` and ``chunk_rows``
    only, never on the number of workers.

    Parameters
    ----------
    estimator : fitted lookalike estimator
        Anything whose ``sample`` accepts a ``numpy.random.Generator``
        (GaussianMixture, KernelDensity, Gaussian, ReducedDensity...).
    n_samples : int
    chunk_rows : int, default=1_000_000
    random_state : None, int, RandomState, Generator or SeedSequence
        ``None`` draws fresh entropy.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Or a tuple of dask arrays when ``estimator.sample`` returns a tuple
        (GaussianMixture: ``(X, labels)``; labels are grouped by component
        within each chunk).

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike import GaussianMixture
    >>> from lookalike.distributed import sample
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> model = GaussianMixture(2, random_state=0).fit(X)
    >>> X, y = sample(model, 10_000, chunk_rows=4_000, random_state=0)
    >>> X.chunks[0]
    (4000, 4000, 2000)
    """
    dask = _import_dask()
    import dask.array as da

    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not isinstance(chunk_rows, int | np.integer) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    root = _seed_sequence(random_state)
    sizes = [min(chunk_rows, n_samples - start) for start in range(0, n_samples, chunk_rows)]
    first = estimator.sample(1, random_state=np.random.default_rng(0))
    model = dask.delayed(estimator, pure=True)
    draw = dask.delayed(_sample_chunk, pure=True)
    seeds = root.spawn(len(sizes))
    chunks = [draw(model, size, seed) for size, seed in zip(sizes, seeds, strict=True)]

    def stacked(select: Callable[[Any], Any], example: Any) -> Any:
        example = np.asarray(example)
        pieces = [
            da.from_delayed(select(chunk), shape=(size, *example.shape[1:]), dtype=example.dtype)
            for chunk, size in zip(chunks, sizes, strict=True)
        ]
        return da.concatenate(pieces, axis=0)

    if isinstance(first, tuple):
        return tuple(
            stacked(operator.itemgetter(position), example)
            for position, example in enumerate(first)
        )
    return stacked(lambda chunk: chunk, first)


def _seed_sequence(random_state: Any) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63 - 1)))
    if isinstance(random_state, int | np.integer):
        return np.random.SeedSequence(int(random_state))
    rng = as_random_state(random_state)
    return np.random.SeedSequence([int(v) for v in rng.randint(0, 2**31 - 1, size=4)])


# --------------------------------------------------------------------------------------
# Reading datasets and connecting to a cluster


def read_dataset(path: str | Path, *, columns: Sequence[str] | None = None) -> Any:
    """A Parquet or CSV dataset as a lazy dask DataFrame.

    Parameters
    ----------
    path : str or Path
        A Parquet file, a directory of Parquet files (a partitioned dataset),
        a CSV file, or a glob such as ``"data/part-*.csv"``. Remote URLs
        (``s3://...``) work when the matching fsspec backend is installed.
    columns : sequence of str, default=None
        Columns to read (all when ``None``).

    Returns
    -------
    frame : dask.dataframe.DataFrame
    """
    _import_dask()
    import dask.dataframe as dd

    text = str(path)
    selected = None if columns is None else [str(c) for c in columns]
    lowered = text.lower().rstrip("/")
    is_remote = "://" in text
    if not is_remote and not any(char in text for char in "*?[") and not Path(text).exists():
        raise FileNotFoundError(f"No such file or directory: {text!r}")
    if lowered.endswith((".csv", ".csv.gz", ".txt")) or (
        not is_remote and not Path(text).is_dir() and ".csv" in lowered
    ):
        frame = dd.read_csv(text)
    else:
        frame = dd.read_parquet(text)
    if selected is None:
        return frame
    missing = [c for c in selected if c not in frame.columns]
    if missing:
        raise ValueError(f"Column(s) {missing} are not in {text} (it has {list(frame.columns)}).")
    # Selecting after reading still reads only these columns: dask pushes the
    # projection into the reader.
    return frame[selected]


@contextlib.contextmanager
def connect(address: str, *, n_workers: int | None = None, timeout: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address``, closed on exit.

    Parameters
    ----------
    address : str
        ``"local"`` starts a ``distributed.LocalCluster`` on 127.0.0.1 (worker
        processes with one thread each, ``n_workers`` of them, default one per
        core; no dashboard) and shuts it down on exit. Anything else is the
        address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``; the
        cluster keeps running after exit.
    n_workers : int, default=None
        Workers of a local cluster.
    timeout : float, default=10.0
        Seconds to wait for a remote scheduler.

    Yields
    ------
    client : distributed.Client
        Also the default client, so ``GaussianMixture().fit(dask_array)`` runs
        on its workers inside the ``with`` block.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    if address == "local":
        dask = _import_dask()
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which
        # also turns off glibc's adaptive mmap threshold: every block
        # temporary of the E-step becomes a fresh mmap, and EM iterations took
        # 2.5x as long (10M x 16, k=16, 2 workers). Workers we start go without.
        trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        with (
            dask.config.set(trim),
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; the scheduler's small HTTP server on a free port
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # A failing task re-raises on the client; the workers' own
                # error logs would only repeat it on the terminal.
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=timeout)
    except OSError as error:
        raise OSError(f"Could not reach a Dask scheduler at {address!r}: {error}") from None
    with client:
        yield client
