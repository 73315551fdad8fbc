"""Share k-means initialisations between mixture fits that would repeat them.

A model-selection sweep often fits Gaussian mixtures that differ only in
``covariance_type`` (or ``tol``, ``max_iter``, ``reg_covar``...) with
``init_params="kmeans"`` and the same integer ``random_state``: each fit starts
with the very same k-means run on the same rows. Inside :func:`kmeans_cache`
the first such run is kept and the others reuse its labels.

A result is reused only when it would be recomputed identically. The key is

- a digest (BLAKE2b) of the rows' bytes, shape and dtype, and of the sample
  weights (or ``None``);
- the KMeans parameters other than ``random_state``;
- a digest of the generator's state before the run (a seeded
  ``numpy.random.RandomState``; an integer seed gives the same state every time).

The generator's state after the run is stored too and restored on reuse, so the
random draws that follow (the next of ``n_init`` initialisations) are those of
an uncached run: results with and without the cache are identical. The global
generator (``random_state=None``) is shared by every caller and is never cached.

Outside the context :func:`cached_kmeans_labels` just runs k-means. The active
cache lives in a :class:`contextvars.ContextVar`, so it is seen by the tasks of
:func:`lookalike._parallel.run_tasks` (which copy the caller's context) and by
nothing else; it is thread safe, and concurrent requests for the same key wait
for a single run.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

_Key = tuple[Any, ...]


class KMeansCache:
    """k-means labels by (data, weights, parameters, generator state).

    Attributes
    ----------
    hits : int
        Requests answered from the cache (including those that waited for a
        concurrent run of the same key).
    misses : int
        k-means runs performed through the cache.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[_Key, Future[tuple[np.ndarray, Any]]] = {}
        self.hits = 0
        self.misses = 0

    def labels(
        self, kmeans: KMeans, X: np.ndarray, sample_weight: np.ndarray | None
    ) -> np.ndarray:
        """``kmeans.fit(X, sample_weight=sample_weight).labels_``, reused when possible."""
        random_state = kmeans.random_state
        if not isinstance(random_state, np.random.RandomState) or (
            random_state is np.random.mtrand._rand
        ):
            # An int or None would be resolved by KMeans itself; only a private
            # RandomState has a state that we can read and restore.
            return kmeans.fit(X, sample_weight=sample_weight).labels_
        key = _key(kmeans, X, sample_weight, random_state)
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if entry is None:
                entry = Future()
                self._entries[key] = entry
                self.misses += 1
            else:
                self.hits += 1
        if owner:
            try:
                labels = np.array(kmeans.fit(X, sample_weight=sample_weight).labels_)
            except BaseException as error:
                with self._lock:
                    del self._entries[key]
                entry.set_exception(error)
                raise
            labels.setflags(write=False)
            entry.set_result((labels, random_state.get_state()))
            return labels.copy()
        labels, state_after = entry.result()
        random_state.set_state(state_after)
        return labels.copy()


_ACTIVE: ContextVar[KMeansCache | None] = ContextVar("lookalike_kmeans_cache", default=None)


@contextmanager
def kmeans_cache() -> Iterator[KMeansCache]:
    """Activate a fresh cache for the enclosed code (and the tasks it runs in threads).

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.mixture import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> with kmeans_cache() as cache:
    ...     a = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    ...     b = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    >>> (cache.misses, cache.hits)
    (1, 1)
    """
    cache = KMeansCache()
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def cached_kmeans_labels(
    kmeans: KMeans, X: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Labels of ``kmeans`` fitted on ``X``: through the active cache, if any.

    Parameters
    ----------
    kmeans : sklearn.cluster.KMeans
        Unfitted; its ``random_state`` may be advanced as by the fit.
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    cache = _ACTIVE.get()
    if cache is None:
        return kmeans.fit(X, sample_weight=sample_weight).labels_
    return cache.labels(kmeans, X, sample_weight)


def _digest(array: np.ndarray | None) -> tuple[Any, ...] | None:
    if array is None:
        return None
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.blake2b(contiguous.view(np.uint8).reshape(-1).data, digest_size=20)
    return (contiguous.shape, contiguous.dtype.str, digest.hexdigest())


def _key(
    kmeans: KMeans,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    random_state: np.random.RandomState,
) -> _Key:
    params = kmeans.get_params()
    params.pop("random_state")
    name, keys, position, has_gauss, cached_gaussian = random_state.get_state()
    state = hashlib.blake2b(np.ascontiguousarray(keys).tobytes(), digest_size=20).hexdigest()
    return (
        _digest(X),
        _digest(sample_weight),
        tuple(sorted((k, repr(v)) for k, v in params.items())),
        (name, state, int(position), int(has_gauss), float(cached_gaussian)),
    )
