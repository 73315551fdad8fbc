"""The one thread pool: row blocks, independent tasks and estimators side by side.

Threads pay in lookalike because NumPy and BLAS release the GIL: element-wise
work over row blocks (``exp``, squares) uses every core, which BLAS threading
alone does not give, and small fits (a model-selection sweep on a few thousand
rows) spend most of their time in small matrix products, where multi-threaded
BLAS costs more than it gives. So whenever our threads run side by side, BLAS
(and OpenMP) are limited to one thread each.

- :func:`block_map` is the :class:`~lookalike._math.blocks.BlockMap` that the
  pure functions of :mod:`lookalike._math` take: ``func(block)`` over row blocks
  on up to ``n_jobs`` threads, results in block order (:func:`map_blocks`,
  :func:`reduce_blocks` for the estimators' own passes).
- :func:`run_tasks` runs argument-less callables on a thread pool and yields
  their results in the order given, so whatever is computed from them does not
  depend on the number of threads. Every task runs in a copy of the caller's
  :mod:`contextvars` context, so context-scoped state (for instance the k-means
  cache of :mod:`lookalike._kmeans_cache`) reaches the workers.
- :func:`fit_many` fits clones of estimators side by side with it (one density
  per class in :class:`~lookalike.classifier.GenerativeClassifier`).
- :func:`single_threaded_blas` and :func:`single_threaded_libraries` are the BLAS
  limits, for our own threads and for many tiny factorisations.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sklearn.base import clone
from threadpoolctl import ThreadpoolController

T = TypeVar("T")


def effective_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` means every core, negative counts from the end."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if n_jobs < 0:
        return max(cores + 1 + n_jobs, 1)
    return max(int(n_jobs), 1)


@functools.cache
def _threadpool_controller() -> ThreadpoolController:
    """One controller per process: building one scans the loaded libraries (~5 ms)."""
    return ThreadpoolController()


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Context in which BLAS runs on one thread.

    For work split over our own threads, and for many tiny factorisations and
    solves, where BLAS threads only cost synchronisation (on two busy cores a
    (3, 3) triangular solve of 100 columns took 15 ms with two BLAS threads and
    0.2 ms with one).
    """
    return _threadpool_controller().limit(limits=1, user_api="blas")


def single_threaded_libraries() -> contextlib.AbstractContextManager[Any]:
    """Context in which BLAS and OpenMP both run on one thread."""
    return _threadpool_controller().limit(limits=1)


# run_tasks has a keyword of the same name.
_one_thread_per_library = single_threaded_libraries


# --------------------------------------------------------------------------------------
# Row blocks


@dataclass(frozen=True)
class ThreadMap:
    """A :class:`~lookalike._math.blocks.BlockMap` on a pool of ``n_threads`` threads.

    A single block, or a single thread, runs inline with BLAS left as it is;
    otherwise BLAS runs single-threaded while the pool works.
    """

    n_threads: int

    def __call__(self, func: Callable[[slice], T], blocks: Sequence[slice]) -> Iterator[T]:
        n_threads = min(self.n_threads, len(blocks))
        if n_threads <= 1:
            for block in blocks:
                yield func(block)
            return
        with (
            single_threaded_blas(),
            ThreadPoolExecutor(max_workers=n_threads) as pool,
        ):
            yield from pool.map(func, blocks)


def block_map(n_jobs: int | None = None) -> ThreadMap:
    """The block map of ``n_jobs`` threads (``None``: every core)."""
    return ThreadMap(effective_n_jobs(n_jobs))


def map_blocks(
    func: Callable[[slice], T], blocks: Sequence[slice], n_jobs: int | None = None
) -> Iterator[T]:
    """``func(block)`` for every block, in block order, on up to ``n_jobs`` threads.

    A single block, or a single thread, runs inline with BLAS left as it is.
    """
    return block_map(n_jobs)(func, blocks)


def reduce_blocks(
    func: Callable[[slice], T], blocks: Sequence[slice], n_jobs: int | None = None
) -> T:
    """Sum of ``func(block)`` over blocks (in block order)."""
    results = map_blocks(func, blocks, n_jobs)
    total = next(results)
    for result in results:
        total = total + result  # type: ignore[operator]
    return total


# --------------------------------------------------------------------------------------
# Tasks and estimators side by side


def run_tasks(
    tasks: Sequence[Callable[[], T]],
    n_jobs: int | None = None,
    *,
    single_threaded_libraries: bool | None = None,
) -> Iterator[T]:
    """``task()`` for every task, yielded in the given order, on up to ``n_jobs`` threads.

    Parameters
    ----------
    tasks : sequence of callables taking no argument
    n_jobs : int, default=None
        Threads (``None``: every core; negative counts from the end, as joblib).
    single_threaded_libraries : bool, default=None
        Limit BLAS and OpenMP to one thread while the tasks run. ``None``: only
        when more than one task runs at a time. ``True`` also for a serial run,
        so that rounding (which may depend on BLAS threading) is the same
        whatever ``n_jobs`` is.

    Yields
    ------
    result
        ``tasks[i]()`` in order ``i = 0, 1, ...``, each as soon as it and all
        earlier tasks are done. An exception of a task is raised when its
        result is reached.
    """
    n_threads = min(effective_n_jobs(n_jobs), len(tasks))
    limit = n_threads > 1 if single_threaded_libraries is None else single_threaded_libraries
    limits = _one_thread_per_library() if limit else contextlib.nullcontext()
    with limits:
        if n_threads <= 1:
            for task in tasks:
                yield task()
            return
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            # One copy of the context per task: a context cannot be entered twice at once.
            futures = [pool.submit(contextvars.copy_context().run, task) for task in tasks]
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


def fit_many(
    estimators: Sequence[Any],
    X: Any,
    n_jobs: int | None = None,
    *,
    rows: Sequence[Any] | None = None,
    sample_weight: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> list[Any]:
    """Clones of ``estimators`` fitted side by side, returned in the given order.

    Parameters
    ----------
    estimators : sequence of estimators
        Templates; each is cloned, never fitted itself.
    X : array-like
        The data, or the data that ``rows`` index.
    n_jobs : int, default=None
        Threads (``None``: every core).
    rows : sequence of index arrays or boolean masks, default=None
        The i-th clone is fitted on ``X[rows[i]]`` (and ``sample_weight[rows[i]]``);
        ``None`` fits every clone on all of ``X``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Passed to ``fit`` (sliced by ``rows``) when given.
    names : sequence of str, default=None
        What the i-th fit is, for error messages: a ValueError of that fit is
        raised again as ``ValueError(f"{names[i]} failed: {error}")``, chained
        (invalid hyper-parameters, :class:`InvalidParameterError`, pass as they are).

    Returns
    -------
    fitted : list of estimators

    Notes
    -----
    While fits run side by side, a clone with an ``n_jobs`` parameter gets
    ``n_jobs=1`` (parallel across fits, not inside one) and BLAS and OpenMP
    run single-threaded; each fitted clone gets its configured ``n_jobs`` back,
    so that prediction uses every core again. Used by
    :class:`~lookalike.classifier.GenerativeClassifier` (one density per class).
    """
    n_threads = min(effective_n_jobs(n_jobs), len(estimators))
    restore: list[tuple[Any, Any]] = []
    candidates = []
    for estimator in estimators:
        candidate = clone(estimator)
        configured = candidate.get_params(deep=False).get("n_jobs", _ABSENT)
        if n_threads > 1 and configured is not _ABSENT:
            candidate.set_params(n_jobs=1)
            restore.append((candidate, configured))
        candidates.append(candidate)

    def fit_task(i: int) -> Callable[[], Any]:
        def task() -> Any:
            selected = X if rows is None else X[rows[i]]
            params: dict[str, Any] = {}
            if sample_weight is not None:
                params["sample_weight"] = sample_weight if rows is None else sample_weight[rows[i]]
            try:
                return candidates[i].fit(selected, **params)
            except ValueError as error:
                if names is None or isinstance(error, TypeError):
                    raise
                raise ValueError(f"{names[i]} failed: {error}") from error

        return task

    try:
        return list(run_tasks([fit_task(i) for i in range(len(candidates))], n_threads))
    finally:
        for candidate, configured in restore:
            candidate.set_params(n_jobs=configured)


_ABSENT = object()
