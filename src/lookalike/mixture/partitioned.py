"""Gaussian-mixture EM over partitioned rows: :class:`~lookalike.chunks.Chunks` and dask.

EM on additive sufficient statistics (:mod:`lookalike._math.em`) does not care
where the rows live: an iteration is "E-step on every piece of the data, add
the moments, M-step". This module builds the :class:`~lookalike.mixture.em.EMData`
of data held in the partitions of :mod:`lookalike.partitions`, for the EM
loop of :mod:`lookalike.mixture.em`:

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
partition's index (:func:`~lookalike.partitions.partition_seed`), so the
numbers depend on how the data are partitioned but never on the number of
workers or the order in which they finish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike._math.blocks import row_slices
from lookalike._math.em import Moments, fixed_responsibility_moments
from lookalike.mixture.em import EMData, EMSettings, rows_per_block
from lookalike.mixture.initial import choose_seed_rows
from lookalike.mixture.sources import check_constant_features, check_n_samples, em_pass_over
from lookalike.partitions import Partitions, RowSpec, partition_seed, partitions_of, total

__all__ = ["INIT_SAMPLE_ROWS", "PartitionedData", "partitioned"]

# Rows drawn (in expectation) for the initialisation's k-means or seed choice.
# k-means on 50,000 rows of 16 features takes a fraction of a second and places
# the centres as well as on all rows for the purpose of starting EM.
INIT_SAMPLE_ROWS = 50_000


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
        rng = np.random.default_rng(partition_seed(entropy, 0, index))
        positions = np.flatnonzero(rng.random(rows.shape[0]) < probability)
    kept = _filled(rows[positions], shift)
    return _RowSample(index, positions, kept, None if weights is None else weights[positions])


def _responsibility_moments(
    rows: np.ndarray,
    weights: np.ndarray | None,
    shift: np.ndarray,
    covariance_type: str,
    block_size: int,
    responsibilities: Callable[[slice, np.ndarray], np.ndarray],
) -> Moments | None:
    """Moments of fixed responsibilities on a partition (missing entries filled)."""
    blocks = row_slices(rows.shape[0], block_size)
    return fixed_responsibility_moments(
        _filled(rows, shift), weights, shift, covariance_type, blocks, responsibilities
    )


def _nearest_centre_moments(
    centres: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    block_size: int,
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

    return _responsibility_moments(rows, weights, shift, covariance_type, block_size, one_hot)


def _seed_row_moments(
    seeds: dict[int, tuple[np.ndarray, np.ndarray]],
    k: int,
    shift: np.ndarray,
    covariance_type: str,
    block_size: int,
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

    return _responsibility_moments(rows, weights, shift, covariance_type, block_size, one_hot)


def _random_moments(
    entropy: Sequence[int],
    k: int,
    shift: np.ndarray,
    covariance_type: str,
    block_size: int,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    """Moments of uniform random responsibilities, normalised per row."""
    rng = np.random.default_rng(partition_seed(entropy, 1, index))

    def uniform(block: slice, xt: np.ndarray) -> np.ndarray:
        resp = rng.random((k, block.stop - block.start))
        resp /= resp.sum(axis=0)
        return resp

    return _responsibility_moments(rows, weights, shift, covariance_type, block_size, uniform)


def _initial_moments(
    settings: EMSettings,
    partitions: Partitions,
    summary: _Summary,
    shift: np.ndarray,
    block_size: int,
    random_state: np.random.RandomState,
) -> Moments:
    """Moments of the initial responsibilities, from a sample of rows."""
    from sklearn.cluster import KMeans

    k = settings.n_components
    covariance_type = settings.covariance_type
    entropy = [int(v) for v in random_state.randint(0, 2**31 - 1, size=4)]
    shared = (k, shift, covariance_type, block_size)
    if settings.init_params == "random":
        moments = total(partitions.map(functools.partial(_random_moments, entropy, *shared)))
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
        if settings.init_params == "kmeans":
            kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            centres = kmeans.fit(rows, sample_weight=weights).cluster_centers_
            moments = total(
                partitions.map(
                    functools.partial(
                        _nearest_centre_moments, centres, shift, covariance_type, block_size
                    )
                )
            )
        else:
            chosen = choose_seed_rows(rows, k, settings.init_params, weights, random_state)
            owners = np.concatenate([np.full(len(s.positions), s.index) for s in samples])
            positions = np.concatenate([s.positions for s in samples])
            seeds: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            for component, row in enumerate(chosen):
                held = seeds.setdefault(int(owners[row]), (np.empty(0, int), np.empty(0, int)))
                seeds[int(owners[row])] = (
                    np.append(held[0], positions[row]),
                    np.append(held[1], component),
                )
            moments = total(partitions.map(functools.partial(_seed_row_moments, seeds, *shared)))
    if moments is None:  # pragma: no cover - the summary pass saw rows
        raise ValueError("no rows")
    return moments


# --------------------------------------------------------------------------------------
# The source


@dataclass(frozen=True)
class PartitionedData:
    """The EM loop's view of partitioned data, and what the summary pass learnt.

    Attributes
    ----------
    em_data : EMData
    n_features : int
    feature_names : list of str or None
        The column names of DataFrame partitions or of the Chunks source.
    """

    em_data: EMData
    n_features: int
    feature_names: list[str] | None


def partitioned(X: Any, sample_weight: Any, settings: EMSettings) -> PartitionedData:
    """The EM loop's view of partitioned data (Chunks or a dask collection).

    Runs the summary pass, checks the data as in-memory fitting does, and
    returns the passes the loop calls with the number and names of the
    features. Used by ``GaussianMixture.fit``.
    """
    partitions = partitions_of(X, sample_weight, settings.n_jobs)
    spec = partitions.spec
    allow_nan = settings.missing
    partitions.spec = RowSpec(spec.n_features, None, allow_nan)
    summary = total(partitions.map(_summarise))
    if summary is None or summary.n_rows < 2:
        n_rows = 0 if summary is None else summary.n_rows
        raise ValueError(
            f"Found array with {n_rows} sample(s) while a minimum of 2 is required by "
            "GaussianMixture."
        )
    names = partitions.feature_names
    partitions.spec = RowSpec(
        summary.n_features, None if names is None else tuple(names), allow_nan
    )
    unobserved = np.flatnonzero(summary.observed_weight <= 0)
    if unobserved.size:
        raise ValueError(
            f"Feature(s) {unobserved.tolist()} have no observed value (with positive "
            "sample weight), so their distribution cannot be estimated. Drop those "
            "features or provide observations."
        )
    check_n_samples(summary.n_rows, settings.n_components)
    if settings.reg_covar <= 0:
        check_constant_features(summary.maximum - summary.minimum)
    shift = summary.sums / summary.observed_weight
    block_size = rows_per_block(
        summary.n_features, settings.n_components, settings.covariance_type
    )

    def initial_moments(random_state: np.random.RandomState) -> Moments:
        return _initial_moments(settings, partitions, summary, shift, block_size, random_state)

    dtype = np.dtype(np.float32 if summary.all_float32 else np.float64)
    em_pass = em_pass_over(partitions, shift, block_size, settings)
    em_data = EMData(summary.n_features, dtype, shift, em_pass, initial_moments)
    return PartitionedData(em_data, summary.n_features, names)
