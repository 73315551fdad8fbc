"""Run independent tasks side by side, one per core; fit several estimators at once.

Small fits (a model-selection sweep on a few thousand rows) spend most of their
time in small matrix products, where multi-threaded BLAS costs more than it
gives. Running candidates side by side, each with single-threaded BLAS and
OpenMP, keeps every core on useful work.

:func:`run_tasks` is the general tool: it runs argument-less callables on a
thread pool and yields their results in the order given, so whatever is
computed from them does not depend on the number of threads. Every task runs in
a copy of the caller's :mod:`contextvars` context, so context-scoped state (for
instance the k-means cache of :mod:`lookalike._kmeans_cache`) reaches the
workers. :func:`fit_many` fits clones of estimators side by side with it (one density
per class in :class:`~lookalike.classifier.GenerativeClassifier`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from sklearn.base import clone

from lookalike._math.blocks import effective_n_jobs
from lookalike._math.blocks import single_threaded_libraries as one_thread_per_library

T = TypeVar("T")


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
    limits = one_thread_per_library() if limit else contextlib.nullcontext()
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
