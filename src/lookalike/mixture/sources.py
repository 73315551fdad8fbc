"""Row sources of the EM loop: rows in memory, and the E-step over any partitions.

:func:`in_memory` turns a validated array into the :class:`EMData` the loop
(:mod:`lookalike.mixture.em`) runs on: the rows to fit (rows with no
observed entry dropped), the centring shift, one E-step pass and the moments
of scikit-learn's initial responsibilities (k-means labels, k-means++ or
random seed rows, uniform random), drawn exactly as scikit-learn draws them.
:func:`em_pass_over` is the E-step pass over the partitions of
:mod:`lookalike.partitions`, shared with the Chunks and dask source
(:mod:`lookalike.mixture.partitioned`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans

from lookalike._math.blocks import row_slices
from lookalike._math.em import Moments, fixed_responsibility_moments
from lookalike._math.stats import weighted_column_means
from lookalike._parallel import reduce_blocks
from lookalike.mixture.em import EMData, EMSettings, EStep, Parameters, e_step, rows_per_block
from lookalike.mixture.initial import choose_seed_rows
from lookalike.partitions import InMemoryPartitions, Partitions, total

__all__ = [
    "check_constant_features",
    "check_n_samples",
    "em_pass_over",
    "in_memory",
    "observed_data",
]


# --------------------------------------------------------------------------------------
# The rows to fit


def observed_data(
    X: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows to fit, their weights, a NaN-free copy for initialisation, the shift.

    Without NaN: ``(X, weights, X, weighted column means)``. With NaN (only
    ``missing="em"`` lets them through): rows with no observed entry are
    dropped, the shift is the weighted mean of each column's observed entries
    and the copy has every missing entry replaced by its column's shift. For
    float32 X the shift is rounded to float32, so that float32 blocks are
    centred in single precision (any centre near the mean serves).
    """
    observed = ~np.isnan(X)
    if observed.all():
        shift = weighted_column_means(X, weights)
        if X.dtype == np.float32:
            shift = shift.astype(np.float32).astype(np.float64)
        return X, weights, X, shift
    informative = observed.any(axis=1)
    if not informative.any():
        raise ValueError("Every entry of X is missing (NaN): there is nothing to fit.")
    if not informative.all():
        X, observed = X[informative], observed[informative]
        weights = None if weights is None else weights[informative]
    row_weights = np.ones(X.shape[0]) if weights is None else weights
    column_weight = row_weights @ observed
    unobserved = np.flatnonzero(column_weight <= 0)
    if unobserved.size:
        raise ValueError(
            f"Feature(s) {unobserved.tolist()} have no observed value (with positive "
            "sample weight), so their distribution cannot be estimated. Drop those "
            "features or provide observations."
        )
    shift = (row_weights @ np.where(observed, X.astype(np.float64), 0.0)) / column_weight
    filled = np.where(observed, X, shift.astype(X.dtype))
    return X, weights, filled, shift


def check_n_samples(n_samples: int, n_components: int) -> None:
    """ValueError unless there are at least as many rows as components."""
    if n_samples < n_components:
        raise ValueError(
            "Expected n_samples >= n_components but got n_components = "
            f"{n_components}, n_samples = {n_samples}"
        )


def check_constant_features(column_ranges: np.ndarray) -> None:
    """With ``reg_covar=0``, refuse features whose range (max - min) is zero."""
    constant = np.flatnonzero(column_ranges == 0)
    if constant.size:
        raise ValueError(
            f"Feature(s) {constant.tolist()} are constant, so their covariance is "
            "singular when reg_covar=0. Set reg_covar > 0 (the default is 1e-6) or "
            "drop those features."
        )


# --------------------------------------------------------------------------------------
# The E-step pass over partitions


def _e_step_partition(
    step: Callable[[np.ndarray, np.ndarray | None], Moments],
    block_size: int,
    n_jobs: int | None,
    index: int,
    rows: np.ndarray,
    weights: np.ndarray | None,
) -> Moments | None:
    blocks = row_slices(rows.shape[0], block_size)
    if not blocks:
        return None
    return reduce_blocks(
        lambda block: step(rows[block], None if weights is None else weights[block]),
        blocks,
        n_jobs,
    )


def em_pass_over(
    partitions: Partitions, shift: np.ndarray, block_size: int, settings: EMSettings
) -> Callable[[Parameters], Moments]:
    """``em_pass(params)``: the E-step on every block of every partition, summed."""

    def em_pass(params: Parameters) -> Moments:
        step: EStep = e_step(params, shift, settings.covariance_type, settings.missing)
        task = functools.partial(_e_step_partition, step, block_size, partitions.inner_n_jobs)
        summed = total(partitions.map(task))
        if summed is None:  # pragma: no cover - the data were checked to hold rows
            raise ValueError("no rows")
        return summed

    return em_pass


# --------------------------------------------------------------------------------------
# Rows in memory


def in_memory(data: np.ndarray, weights: np.ndarray | None, settings: EMSettings) -> EMData:
    """The EM loop's view of validated rows in memory (float32 or float64, maybe NaN).

    With ``missing="em"``, rows with no observed entry are dropped and the
    initialisation runs on a copy whose missing entries are the column means.
    """
    # ``fitted`` drops rows with no observed entry, ``filled`` (for the
    # initialisation) has missing entries replaced by column means.
    fitted, weights, filled, shift = observed_data(data, weights)
    n_samples, n_features = fitted.shape
    check_n_samples(n_samples, settings.n_components)
    if settings.reg_covar <= 0:
        check_constant_features(np.ptp(filled, axis=0))
    block_size = rows_per_block(n_features, settings.n_components, settings.covariance_type)
    blocks = row_slices(n_samples, block_size)
    partitions = InMemoryPartitions(fitted, weights, settings.n_jobs)

    def initial_moments(random_state: np.random.RandomState) -> Moments:
        responsibilities = _initial_responsibilities(filled, weights, random_state, settings)
        moments = fixed_responsibility_moments(
            filled, weights, shift, settings.covariance_type, blocks, responsibilities
        )
        if moments is None:  # pragma: no cover - at least two rows are required
            raise ValueError("no rows")
        return moments

    em_pass = em_pass_over(partitions, shift, block_size, settings)
    return EMData(n_features, data.dtype, shift, em_pass, initial_moments)


def _initial_responsibilities(
    X: np.ndarray,
    weights: np.ndarray | None,
    random_state: np.random.RandomState,
    settings: EMSettings,
) -> Callable[[slice, np.ndarray], np.ndarray]:
    """A function giving the initial responsibilities (k, b) of a block of rows.

    The random draws follow scikit-learn's order exactly, so an integer
    ``random_state`` gives the same start as ``sklearn.mixture.GaussianMixture``.
    """
    n_samples, k = X.shape[0], settings.n_components
    init_params = settings.init_params
    if init_params in ("kmeans", "k-means++", "random_from_data"):
        if init_params == "kmeans":
            from lookalike._kmeans_cache import cached_kmeans_labels

            kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            labels = cached_kmeans_labels(kmeans, X, weights)
        else:
            seeds = choose_seed_rows(X, k, init_params, weights, random_state)
            labels = np.full(n_samples, -1, dtype=np.intp)
            labels[seeds] = np.arange(k)

        def one_hot(rows: slice, xt: np.ndarray) -> np.ndarray:
            block_labels = labels[rows]
            return (np.arange(k)[:, np.newaxis] == block_labels).astype(np.float64)

        return one_hot

    # "random": uniform responsibilities, drawn block after block in row order,
    # which reproduces a single draw of shape (n_samples, n_components).
    def uniform(rows: slice, xt: np.ndarray) -> np.ndarray:
        resp = random_state.uniform(size=(rows.stop - rows.start, k))
        resp = resp.astype(X.dtype).astype(np.float64)
        resp /= resp.sum(axis=1, keepdims=True)
        return np.ascontiguousarray(resp.T)

    return uniform
