"""The sweep of a model search: tasks run side by side, gathered per candidate.

Every candidate is fitted on all rows (and, for ``criterion="cv"``, on each
training fold) in tasks that run on the cores with single-threaded BLAS
(:func:`lookalike._parallel.run_tasks`). Warnings are captured per task and
re-issued once after the sweep; a failing candidate gets NaN scores.

Work is shared where the result cannot change: kernel density candidates
that differ only in their (scalar) bandwidth are cross-validated with
:func:`lookalike.kde.cross_validate_bandwidth` (one distance pass per fold for
all bandwidths, one pass on the whole data for their training
log-likelihoods), and Gaussian mixtures that share a k-means start reuse it
(:mod:`lookalike._kmeans_cache`).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning

from lookalike._kmeans_cache import kmeans_cache
from lookalike._math.blocks import row_slices
from lookalike._math.stats import weighted_column_means
from lookalike._parallel import run_tasks
from lookalike.exceptions import ConvergenceWarning
from lookalike.model_selection.candidates import (
    Candidate,
    counts_parameters,
    exact_scalar_kde,
    set_deep,
)

__all__ = ["KDE_GRID_FAST_PATH", "KDE_TRAINING_CHUNKS", "Outcome", "Sweep", "mean_log_density"]

# Kernel density candidates that differ only in bandwidth share one distance pass per
# fold (switch off to cross-check against per-candidate fits).
KDE_GRID_FAST_PATH = True
# Their training log-likelihoods are computed in this many tasks of rows (a fixed number,
# so that the numbers do not depend on n_jobs).
KDE_TRAINING_CHUNKS = 4


@dataclass
class Outcome:
    """What the tasks of one candidate produced."""

    fitted: Any = None
    log_likelihood: float = math.nan
    n_parameters: float = math.nan
    bic: float = math.nan
    aic: float = math.nan
    fold_scores: list[tuple[int, float]] = field(default_factory=list)
    fit_time: float = math.nan
    converged: bool = True
    # converged_ of every fit (appended from several threads: never read-modify-write).
    fits_converged: list[bool] = field(default_factory=list)
    error: BaseException | None = None
    warnings: list[warnings.WarningMessage] = field(default_factory=list)


# Warnings of the task running on the current thread (None outside a task).
_capture = threading.local()


class Sweep:
    """Builds the tasks of a search, runs them and gathers one outcome per candidate."""

    def __init__(
        self,
        X: np.ndarray,
        weights: np.ndarray | None,
        candidates: list[Candidate],
        criterion: str,
        splits: list[tuple[np.ndarray, np.ndarray]],
        n_jobs: int | None,
        verbose: int,
    ) -> None:
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.X = X
        self.weights = weights
        self.candidates = candidates
        self.criterion = criterion
        self.splits = splits
        self.outcomes = [Outcome() for _ in candidates]
        self.chunks: dict[tuple[int, int], np.ndarray] = {}
        self.after: dict[int, Callable[[], None]] = {}
        self.folds = [
            (
                X[train],
                None if weights is None else weights[train],
                X[test],
                None if weights is None else weights[test],
            )
            for train, test in splits
        ]

    def run(self) -> list[Outcome]:
        tasks, owners, done_after = self._tasks()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            original = warnings.showwarning
            warnings.showwarning = _routing_showwarning(original)
            with kmeans_cache():
                results = run_tasks(
                    [_capturing(task) for task in tasks],
                    self.n_jobs,
                    single_threaded_libraries=True,
                )
                next_report = 0
                for index, (error, recorded) in enumerate(results):
                    for candidate in owners[index]:
                        self.outcomes[candidate].warnings.extend(recorded)
                        if error is not None and self.outcomes[candidate].error is None:
                            self.outcomes[candidate].error = error
                    if index in self.after:
                        error, recorded = _capturing(self.after[index])()
                        for candidate in owners[index]:
                            self.outcomes[candidate].warnings.extend(recorded)
                            if error is not None and self.outcomes[candidate].error is None:
                                self.outcomes[candidate].error = error
                    while next_report < len(done_after) and done_after[next_report] == index:
                        self._report(next_report)
                        next_report += 1
        self._finish()
        return self.outcomes

    def _tasks(self) -> tuple[list[Callable[[], None]], list[list[int]], list[int]]:
        """Tasks in order, the candidates each one serves, the last task of each candidate."""
        tasks: list[Callable[[], None]] = []
        owners: list[list[int]] = []
        done_after = [0] * len(self.candidates)
        groups = self._kde_groups() if self.criterion == "cv" and KDE_GRID_FAST_PATH else {}
        grouped = {i: key for key, members in groups.items() for i in members}
        started: set[Any] = set()
        for i in range(len(self.candidates)):
            key = grouped.get(i)
            if key is not None and key not in started:
                started.add(key)
                members = groups[key]
                chunks = row_slices(len(self.X), -(-len(self.X) // KDE_TRAINING_CHUNKS))
                for rows in chunks:
                    tasks.append(self._group_full_task(members, rows))
                    owners.append(members)
                # Gathered on the calling thread once the chunks' tasks are done.
                self.after[len(tasks) - 1] = self._group_mean_task(members, chunks)
                for fold in range(len(self.splits)):
                    tasks.append(self._group_fold_task(members, fold))
                    owners.append(members)
            tasks.append(self._full_task(i, score=key is None))
            owners.append([i])
            if key is None and self.criterion == "cv":
                for fold in range(len(self.splits)):
                    tasks.append(self._fold_task(i, fold))
                    owners.append([i])
            done_after[i] = len(tasks) - 1
        # A candidate is reported once every task it needs is done (group tasks come first).
        return tasks, owners, done_after

    def _sweep_clone(self, i: int) -> Any:
        estimator = clone(self.candidates[i].estimator)
        set_deep(estimator, "n_jobs", 1)
        return estimator

    def _fit(self, estimator: Any, X: np.ndarray, weights: np.ndarray | None) -> Any:
        if weights is None:
            return estimator.fit(X)
        return estimator.fit(X, sample_weight=weights)

    def _full_task(self, i: int, score: bool) -> Callable[[], None]:
        def task() -> None:
            outcome = self.outcomes[i]
            estimator = self._sweep_clone(i)
            start = perf_counter()
            self._fit(estimator, self.X, self.weights)
            outcome.fit_time = perf_counter() - start
            outcome.fitted = estimator
            if score:
                log_densities = np.asarray(estimator.score_samples(self.X), dtype=np.float64)
                outcome.log_likelihood = mean_log_density(log_densities, self.weights)
            self._information(i)
            outcome.fits_converged.append(bool(getattr(estimator, "converged_", True)))

        return task

    def _information(self, i: int) -> None:
        """n_parameters, bic and aic from the log-likelihood (once both are known)."""
        outcome = self.outcomes[i]
        estimator = outcome.fitted
        if estimator is None or not counts_parameters(estimator):
            return
        if not hasattr(estimator, "_n_parameters"):  # pragma: no cover - no such estimator yet
            return
        n = float(self.X.shape[0] if self.weights is None else self.weights.sum())
        p = estimator._n_parameters()
        total = outcome.log_likelihood * (self.X.shape[0] if self.weights is None else n)
        outcome.n_parameters = float(p)
        outcome.bic = float(-2 * total + p * math.log(n))
        outcome.aic = float(-2 * total + 2 * p)

    def _fold_task(self, i: int, fold: int) -> Callable[[], None]:
        def task() -> None:
            train, train_weights, test, test_weights = self.folds[fold]
            estimator = self._fit(self._sweep_clone(i), train, train_weights)
            log_densities = np.asarray(estimator.score_samples(test), dtype=np.float64)
            score = mean_log_density(log_densities, test_weights)
            self.outcomes[i].fold_scores.append((fold, score))
            self.outcomes[i].fits_converged.append(bool(getattr(estimator, "converged_", True)))

        return task

    # Kernel density candidates that differ only in bandwidth ------------------------

    def _kde_groups(self) -> dict[Any, list[int]]:
        from lookalike.kde import KernelDensity

        groups: dict[Any, list[int]] = {}
        for i, candidate in enumerate(self.candidates):
            estimator = candidate.estimator
            if type(estimator) is not KernelDensity or not exact_scalar_kde(estimator):
                continue
            groups.setdefault(("kde", estimator.kernel), []).append(i)
        return groups

    def _bandwidths(self, members: list[int]) -> np.ndarray:
        return np.array([float(self.candidates[i].estimator.bandwidth) for i in members])

    def _group_full_task(self, members: list[int], rows: slice) -> Callable[[], None]:
        """Log-densities of a chunk of the training rows, for every bandwidth."""

        def task() -> None:
            from lookalike._math.cross_validation import held_out_log_densities
            from lookalike._math.kernels import KERNELS

            data = np.asarray(self.X, dtype=np.float64)
            centred = data - weighted_column_means(data, self.weights)
            kernel = KERNELS[self.candidates[members[0]].estimator.kernel]
            log_densities = held_out_log_densities(
                centred, self.weights, centred[rows], kernel, self._bandwidths(members)
            )
            self.chunks[(members[0], rows.start)] = log_densities

        return task

    def _group_mean_task(self, members: list[int], chunks: list[slice]) -> Callable[[], None]:
        """Mean training log-likelihood of every bandwidth, from the chunks (in order)."""

        def task() -> None:
            found = [self.chunks.pop((members[0], rows.start), None) for rows in chunks]
            parts = [part for part in found if part is not None]
            if len(parts) < len(chunks):
                return  # a chunk failed: its error is recorded
            log_densities = np.concatenate(parts, axis=1)
            for i, row in zip(members, log_densities, strict=True):
                self.outcomes[i].log_likelihood = mean_log_density(row, self.weights)

        return task

    def _group_fold_task(self, members: list[int], fold: int) -> Callable[[], None]:
        def task() -> None:
            from lookalike.kde import cross_validate_bandwidth

            train, test = self.splits[fold]
            curve = cross_validate_bandwidth(
                self.X,
                self._bandwidths(members),
                kernel=self.candidates[members[0]].estimator.kernel,
                cv=[(train, test)],
                sample_weight=self.weights,
                n_jobs=1,
            )
            size = len(test) if self.weights is None else float(self.weights[test].sum())
            for i, total in zip(members, curve.fold_scores[0], strict=True):
                self.outcomes[i].fold_scores.append((fold, float(total) / size))

        return task

    # Reporting ------------------------------------------------------------------------

    def _report(self, i: int) -> None:
        if self.verbose < 1:
            return
        outcome = self.outcomes[i]
        if self.criterion == "cv":
            scores = [s for _, s in outcome.fold_scores]
            value = float(np.mean(scores)) if scores else math.nan
        else:
            value = getattr(outcome, self.criterion)
        n = len(self.candidates)
        print(
            f"[ModelSearch] {i + 1}/{n} {self.candidates[i].describe()}: "
            f"{self.criterion}={value:.6g}, {outcome.fit_time:.2f} s",
            flush=True,
        )

    def _finish(self) -> None:
        """Failures, convergence and other warnings, once, after the sweep."""
        failed = [i for i, o in enumerate(self.outcomes) if o.error is not None]
        if len(failed) == len(self.candidates):
            error = self.outcomes[0].error
            raise ValueError(
                f"All {len(failed)} candidates failed to fit; the first error was: {error!r}"
            ) from error
        for i in failed:
            outcome = self.outcomes[i]
            warnings.warn(
                f"Fitting candidate {i} ({self.candidates[i].describe()}) failed: "
                f"{outcome.error!r}. Its scores are NaN.",
                FitFailedWarning,
                stacklevel=4,
            )
            error = outcome.error
            self.outcomes[i] = Outcome(converged=False, warnings=outcome.warnings, error=error)
        other: dict[tuple[type[Warning], str], list[int]] = {}
        for i, outcome in enumerate(self.outcomes):
            outcome.converged = outcome.error is None and all(outcome.fits_converged)
            for record in outcome.warnings:
                if issubclass(record.category, ConvergenceWarning):
                    outcome.converged = False
                else:
                    other.setdefault((record.category, str(record.message)), []).append(i)
        not_converged = [i for i, o in enumerate(self.outcomes) if not o.converged]
        not_converged = [i for i in not_converged if i not in failed]
        for (category, message), where in other.items():
            first = self.candidates[where[0]].describe()
            warnings.warn(
                f"{message} [in {len(set(where))} candidate(s), first {first}]",
                category,
                stacklevel=4,
            )
        if not_converged:
            names = "; ".join(self.candidates[i].describe() for i in not_converged[:5])
            more = "..." if len(not_converged) > 5 else ""
            warnings.warn(
                f"{len(not_converged)} of {len(self.candidates)} candidates did not converge "
                f"(results_['converged'] is False): {names}{more}. Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=4,
            )


def _capturing(task: Callable[[], None]) -> Callable[[], tuple[BaseException | None, list[Any]]]:
    """The task, returning (its exception or None, the warnings it raised)."""

    def run() -> tuple[BaseException | None, list[Any]]:
        _capture.records = []
        error: BaseException | None = None
        try:
            task()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as caught:
            error = caught
        finally:
            records, _capture.records = _capture.records, None
        return error, records

    return run


def _routing_showwarning(original: Callable[..., None]) -> Callable[..., None]:
    """``showwarning`` that files a warning under the task of its thread, if any."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        records = getattr(_capture, "records", None)
        if records is None:
            original(message, category, filename, lineno, file, line)
            return
        records.append(warnings.WarningMessage(message, category, filename, lineno, file, line))

    return show


def mean_log_density(log_densities: np.ndarray, weights: np.ndarray | None) -> float:
    """Mean (weighted) log-density; rows of zero weight count for nothing, even at -inf."""
    if weights is None:
        return float(np.mean(log_densities))
    with np.errstate(invalid="ignore"):
        total = np.where(weights > 0, log_densities, 0.0) @ weights
    return float(total / weights.sum())
