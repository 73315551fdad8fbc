"""Fit several independent estimators at once, one per core.

Small fits (a model-selection sweep on a few thousand rows) spend most of their
time in small matrix products, where multi-threaded BLAS costs more than it
gives. Running candidates side by side, each with single-threaded BLAS and
OpenMP, keeps every core on useful work.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy.typing as npt
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from lookalike._math.blocks import effective_n_jobs


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
    n_threads = min(effective_n_jobs(n_jobs), len(candidates))

    def fit(candidate: Any) -> Any:
        return candidate.fit(X, **fit_params)

    if n_threads <= 1:
        return [fit(candidate) for candidate in candidates]
    with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(fit, candidates))
