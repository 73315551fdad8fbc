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
workers. :func:`fit_many` fits clones of estimators with it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy.typing as npt
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
    estimators: Sequence[Any], X: npt.ArrayLike, n_jobs: int | None = None, **fit_params: Any
) -> list[Any]:
    """Clones of ``estimators`` fitted on ``X``, in the given order.

    Each clone that has an ``n_jobs`` parameter gets ``n_jobs=1`` so that the
    parallelism is across candidates, not inside one.
    """
    candidates = []
    for estimator in estimators:
        candidate = clone(estimator)
        if "n_jobs" in candidate.get_params():
            candidate.set_params(n_jobs=1)
        candidates.append(candidate)

    def fit_task(candidate: Any) -> Callable[[], Any]:
        return lambda: candidate.fit(X, **fit_params)

    return list(run_tasks([fit_task(candidate) for candidate in candidates], n_jobs))
