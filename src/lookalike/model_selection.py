"""ModelSearch: BIC, AIC and cross-validated sweeps over density models.

One estimator that fits every candidate of a grid (families and their
hyper-parameters), scores them by an information criterion or by held-out
log-likelihood, keeps the whole comparison as a pandas DataFrame and refits the
best. Candidates, and their cross-validation folds, run side by side on the
cores with single-threaded BLAS (:func:`lookalike._parallel.run_tasks`).

Work is shared where the result cannot change:

- Gaussian mixtures with ``init_params="kmeans"`` and the same integer
  ``random_state`` that differ only in ``covariance_type`` (or ``tol``,
  ``max_iter``, ``reg_covar``...) start from one k-means run
  (:mod:`lookalike._kmeans_cache`).
- Kernel density candidates that differ only in their (scalar) bandwidth are
  cross-validated with :func:`lookalike.kde.cross_validate_bandwidth`: one
  distance pass per fold for all bandwidths, and one pass on the whole data for
  their training log-likelihoods.
"""

from __future__ import annotations

import math
import numbers
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils.validation import check_is_fitted

from lookalike._kmeans_cache import kmeans_cache
from lookalike._math.blocks import row_slices
from lookalike._parallel import run_tasks
from lookalike._restore import check_n_features, has_fitted_state, is_int, require
from lookalike._search_results import results_table as _results_table
from lookalike._validation import (
    Boolean,
    Constraint,
    Interval,
    Options,
    RandomState,
    RandomStateLike,
    as_random_state,
    check_n_samples,
    check_sample_weight,
    check_scale,
    validate_data,
    validate_params,
)
from lookalike.exceptions import ConvergenceWarning, NotFittedError

CRITERIA = ("bic", "aic", "cv")

# model="auto": mixture sizes tried (capped at n_samples / 10).
AUTO_N_COMPONENTS = (1, 2, 3, 5, 8, 13, 21)
AUTO_COVARIANCE_TYPES = ("full", "diag")
# model="auto": wide data (more features than this) also get ReducedDensity candidates.
AUTO_WIDE_FEATURES = 20
# Kernel density candidates that differ only in bandwidth share one distance pass per
# fold (switch off to cross-check against per-candidate fits).
KDE_GRID_FAST_PATH = True
# Their training log-likelihoods are computed in this many tasks of rows (a fixed number,
# so that the numbers do not depend on n_jobs).
KDE_TRAINING_CHUNKS = 4

RESULT_COLUMNS = (
    "n_parameters",
    "log_likelihood",
    "bic",
    "aic",
    "cv_log_likelihood",
    "cv_std",
    "fit_time",
    "converged",
    "rank",
)


@dataclass(frozen=True)
class _CVParameter:
    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, numbers.Integral):
            return int(value) >= 2
        return value is not None and not isinstance(value, str | float)

    def describe(self) -> str:
        return "an int in the range [2, inf), a cross-validation splitter or an iterable of splits"


_PARAMETERS: dict[str, Constraint | _CVParameter] = {
    "criterion": Options((*CRITERIA, None)),
    "cv": _CVParameter(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
    "refit": Boolean(),
    "random_state": RandomState(),
    "verbose": Interval(0, None, integer=True),
}


@dataclass
class _Candidate:
    estimator: Any  # configured, unfitted, with the user's n_jobs
    params: dict[str, Any]  # parameters set from the grid, without "model"
    grid_point: dict[str, Any]  # the grid point as given (with "model" if swept)

    @property
    def name(self) -> str:
        return type(self.estimator).__name__

    def describe(self) -> str:
        settings = " ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.name} {settings}".rstrip()


@dataclass
class _Outcome:
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


class ModelSearch(DensityMixin, BaseEstimator):
    """Choose a density model and its hyper-parameters by BIC, AIC or held-out likelihood.

    Every candidate of the grid is fitted on the data (and, for
    ``criterion="cv"``, on each training fold); the scores of all of them are
    kept in :attr:`results_` and the best is refitted as
    :attr:`best_estimator_`, to which :meth:`score_samples`, :meth:`score`
    and :meth:`sample` delegate.

    Parameters
    ----------
    model : estimator or "auto", default="auto"
        An unfitted lookalike density (``GaussianMixture``, ``KernelDensity``,
        ``Gaussian``, ``ReducedDensity``) whose parameters the grid sweeps.
        ``"auto"`` compares families by held-out likelihood over a default grid
        (see Notes), or over ``param_grid``, whose every dict must then name its
        ``"model"``.
    param_grid : dict or list of dicts, default=None
        As for :class:`sklearn.model_selection.GridSearchCV`: parameter names
        (nested ones such as ``"estimator__n_components"`` too) mapped to lists
        of values. A dict may carry the key ``"model"`` with a list of
        estimators, to sweep families. ``None`` with an estimator: that
        estimator alone.
    criterion : {"bic", "aic", "cv"}, default=None
        ``"bic"``/``"aic"`` (lower is better) on the data given to :meth:`fit`;
        ``"cv"``: mean per-sample held-out log-likelihood averaged over the
        folds of ``cv`` (higher is better). ``None``: ``"bic"`` when every
        candidate counts its parameters (has ``bic``), else ``"cv"``.
    cv : int, splitter or iterable, default=5
        Folds for ``criterion="cv"``, through :func:`sklearn.model_selection.check_cv`:
        an int means ``KFold(cv)`` without shuffling, as ``GridSearchCV``.
    n_jobs : int, default=None
        Candidates (and candidate-fold pairs) run side by side on this many
        threads, each with single-threaded BLAS; ``None``: every core. The
        results do not depend on it.
    refit : bool, default=True
        Keep the best candidate fitted on all the data as ``best_estimator_``.
    random_state : None, int, RandomState or Generator, default=None
        Given to every candidate (and nested estimator) that has a
        ``random_state`` not set by the grid: an int as it is, a
        ``RandomState``/``Generator`` as one int drawn from it at each fit (so
        all candidates share it). ``None`` leaves the candidates' own.
    verbose : int, default=0
        ``>= 1`` prints one line per candidate to stdout when it is done.

    Attributes
    ----------
    results_ : pandas.DataFrame
        One row per candidate, in the order tried, with the columns ``"model"``
        (class name), ``"params"`` (dict of the grid's parameters, without
        ``"model"``), one column per swept parameter (NaN for numbers, None
        otherwise where not applicable), ``"n_parameters"`` (float, NaN when
        undefined), ``"log_likelihood"`` (mean per sample on the fitted data),
        ``"bic"``, ``"aic"`` (NaN without a parameter count),
        ``"cv_log_likelihood"`` and ``"cv_std"`` (mean and standard deviation
        over folds of the per-sample held-out log-likelihood; NaN unless
        ``criterion_ == "cv"``), ``"fit_time"`` (seconds, fit on all data),
        ``"converged"`` (bool) and ``"rank"`` (1 = best).
    criterion_ : str
        The criterion used.
    best_index_ : int
        Row of the best candidate (the first of ties).
    best_params_ : dict
        Its grid point (with ``"model"`` when the grid sweeps families).
    best_score_ : float
        Its criterion value (bic/aic: lower is better; cv: higher is better).
    best_estimator_ : estimator
        The best candidate fitted on all the data (``refit=True`` only).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.

    Notes
    -----
    With ``n`` rows (or total sample weight), mean log-likelihood ``l`` and
    ``p`` free parameters,

    .. math:: \\mathrm{BIC} = -2 n l + p \\log n, \\qquad \\mathrm{AIC} = -2 n l + 2 p,

    which equal the candidates' own ``bic(X)`` and ``aic(X)`` without weights.
    With ``sample_weight`` the log-likelihoods are weighted means and ``n`` is
    the total weight, so integer weights equal repeated rows. The held-out
    score of a fold is the (weighted) mean log-density of its test rows.

    ``model="auto"`` sweeps, by held-out likelihood: ``Gaussian(reg_covar=1e-6)``;
    ``GaussianMixture`` with ``n_components`` in 1, 2, 3, 5, 8, 13, 21 (at most
    ``n_samples / 10``) times ``covariance_type`` in {"full", "diag"};
    ``KernelDensity`` (Gaussian kernel) over 21 bandwidths from a tenth to ten
    times a normal-reference pilot (the grid of ``bandwidth="cv"``, swept here
    directly rather than nested, so all families are judged on the same
    folds); and with more than 20 features ``ReducedDensity(GaussianMixture())``
    (PCA keeping 99% of the variance, whitened) over the same ``n_components``.

    A candidate whose fit fails gets NaN scores and a
    :class:`~sklearn.exceptions.FitFailedWarning` (all failing is an error).
    ``ConvergenceWarning`` of the candidates are gathered into the
    ``"converged"`` column and one warning at the end; other warnings are
    re-issued once each after the sweep.

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.mixture import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-4, 1, (100, 2)), rng.normal(4, 1, (100, 2))])
    >>> search = ModelSearch(GaussianMixture(), {"n_components": [1, 2, 3]},
    ...                      criterion="bic", random_state=0).fit(X)
    >>> search.best_params_
    {'n_components': 2}
    >>> search.results_[["n_components", "rank"]].to_numpy().tolist()
    [[1, 3], [2, 1], [3, 2]]
    """

    def __init__(
        self,
        model: Any = "auto",
        param_grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        criterion: str | None = None,
        cv: Any = 5,
        n_jobs: int | None = None,
        refit: bool = True,
        random_state: RandomStateLike = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.param_grid = param_grid
        self.criterion = criterion
        self.cv = cv
        self.n_jobs = n_jobs
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Fit and score every candidate, then keep the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, given to every candidate's ``fit`` and used in every
            mean log-likelihood.

        Returns
        -------
        self : ModelSearch
        """
        validate_params(self, _PARAMETERS)  # type: ignore[arg-type]
        self._check_model()
        data: np.ndarray = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        check_scale(data)
        weights = check_sample_weight(sample_weight, data.shape[0])
        seed = self._seed()
        candidates = self._candidates(data, weights, seed)
        criterion = self._resolve_criterion(candidates)
        splits = list(check_cv(self.cv).split(data)) if criterion == "cv" else []
        outcomes = _Sweep(self, data, weights, candidates, criterion, splits).run()

        self.results_ = _results_table(candidates, outcomes, criterion)
        self.criterion_ = criterion
        values = self.results_[criterion if criterion != "cv" else "cv_log_likelihood"]
        values = values.to_numpy(dtype=np.float64)
        best = _best_index(values, criterion)
        self.best_index_ = best
        self.best_params_ = dict(candidates[best].grid_point)
        self.best_score_ = float(values[best])
        if self.refit:
            fitted = outcomes[best].fitted
            _restore_n_jobs(fitted, candidates[best].estimator)
            self.best_estimator_ = fitted
        else:
            self.__dict__.pop("best_estimator_", None)
        return self

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The results table has a row for ``best_index_``; the refitted best
        estimator (checked by its own class first) takes ``n_features_in_``
        features; the best score is a number.
        """
        if not has_fitted_state(self):
            return
        validate_params(self, _PARAMETERS)  # type: ignore[arg-type]
        d = check_n_features(self)
        require(self.criterion_ in CRITERIA, f"unknown criterion_ {self.criterion_!r}")
        rows = len(self.results_)
        best = self.best_index_
        require(is_int(best) and 0 <= best < rows, "best_index_ is not a row of results_")
        require(isinstance(self.best_params_, dict), "best_params_ must be a dict")
        require(isinstance(self.best_score_, float), "best_score_ must be a float")
        if self.refit:
            estimator = self.best_estimator_
            require(
                hasattr(estimator, "score_samples")
                and getattr(estimator, "n_features_in_", d) == d,
                "best_estimator_ must be a density on n_features_in_ features",
            )

    def _check_model(self) -> None:
        if isinstance(self.model, str):
            if self.model != "auto":
                raise ValueError(
                    f"model must be an unfitted density estimator or 'auto'; got {self.model!r}."
                )
            return
        if not (hasattr(self.model, "fit") and hasattr(self.model, "score_samples")):
            raise TypeError(
                "model must be a density estimator with fit and score_samples (e.g. "
                f"lookalike.GaussianMixture()) or 'auto'; got {self.model!r}."
            )

    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(as_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _grid(
        self, X: np.ndarray, weights: np.ndarray | None
    ) -> list[tuple[dict[str, Any], bool]]:
        """The grid as dicts with a "model" entry, each with whether the model is swept."""
        if self.param_grid is None:
            if self.model == "auto":
                return [(point, True) for point in _auto_grid(X, weights)]
            return [({"model": [self.model]}, False)]
        grid = self.param_grid
        if isinstance(grid, Mapping):
            grid = [grid]
        if not isinstance(grid, Sequence) or not all(isinstance(g, Mapping) for g in grid):
            raise TypeError(
                f"param_grid must be a dict or a list of dicts; got {self.param_grid!r}."
            )
        dicts = []
        for given in grid:
            point = dict(given)
            swept = "model" in point
            if not swept:
                if self.model == "auto":
                    raise ValueError(
                        "With model='auto' every dict of param_grid must name its estimators "
                        "under the key 'model' (e.g. {'model': [GaussianMixture()], "
                        "'n_components': [1, 2]}); or pass the estimator as model."
                    )
                point["model"] = [self.model]
            dicts.append((point, swept))
        return dicts

    def _candidates(
        self, X: np.ndarray, weights: np.ndarray | None, seed: int | None
    ) -> list[_Candidate]:
        grid = self._grid(X, weights)
        candidates = []
        for point_dict, swept_model in grid:
            for point in ParameterGrid(point_dict):
                params = {k: v for k, v in point.items() if k != "model"}
                estimator = clone(point["model"])
                estimator.set_params(**clone(params, safe=False))
                if seed is not None:
                    _set_deep(estimator, "random_state", seed, skip=params)
                grid_point = dict(point) if swept_model else params
                candidates.append(_Candidate(estimator, params, grid_point))
        if not candidates:
            raise ValueError(
                "param_grid gives no candidate (an empty list, or an empty list of values); "
                "give at least one value per parameter."
            )
        return candidates

    def _resolve_criterion(self, candidates: list[_Candidate]) -> str:
        counted = [_counts_parameters(c.estimator) for c in candidates]
        if self.criterion is None:
            return "bic" if all(counted) else "cv"
        if self.criterion != "cv" and not all(counted):
            uncounted = sorted(
                {c.name for c, ok in zip(candidates, counted, strict=True) if not ok}
            )
            raise ValueError(
                f"criterion={self.criterion!r} needs a parameter count, which "
                f"{', '.join(uncounted)} does not have (a kernel density estimate is "
                "non-parametric). Use criterion='cv' (held-out log-likelihood)."
            )
        return str(self.criterion)

    # ----------------------------------------------------------------------------------
    # Delegation to the best estimator

    def _best(self) -> Any:
        check_is_fitted(self, "results_")
        if not hasattr(self, "best_estimator_"):
            raise NotFittedError(
                "This ModelSearch was fitted with refit=False, so it has no best_estimator_; "
                "set refit=True and fit again to use score_samples, score or sample."
            )
        return self.best_estimator_

    def _validated(self, X: npt.ArrayLike) -> np.ndarray:
        data: np.ndarray = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_scale(data, terms=data.shape[1])
        return data

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density of every row under the best estimator: shape (n_samples,)."""
        best = self._best()
        return np.asarray(best.score_samples(self._validated(X)))

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """The best estimator's ``score`` (a mean for mixtures, a sum for KernelDensity)."""
        best = self._best()
        return float(best.score(self._validated(X)))

    def sample(self, n_samples: int = 1, random_state: RandomStateLike = None) -> Any:
        """Draw rows from the best estimator (its ``sample``'s return value)."""
        best = self._best()
        check_n_samples(n_samples, self.n_features_in_, minimum=0)
        return best.sample(n_samples, random_state=random_state)

    def plot(self, x: str | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """Criterion curves of the search: :func:`lookalike.plotting.plot_criterion`."""
        from lookalike.plotting import plot_criterion

        check_is_fitted(self, "results_")
        return plot_criterion(self, x=x, ax=ax, **kwargs)


# --------------------------------------------------------------------------------------
# The sweep: tasks, run side by side, gathered per candidate

# Warnings of the task running on the current thread (None outside a task).
_capture = threading.local()


class _Sweep:
    """Builds the tasks of a search, runs them and gathers one outcome per candidate."""

    def __init__(
        self,
        search: ModelSearch,
        X: np.ndarray,
        weights: np.ndarray | None,
        candidates: list[_Candidate],
        criterion: str,
        splits: list[tuple[np.ndarray, np.ndarray]],
    ) -> None:
        self.search = search
        self.X = X
        self.weights = weights
        self.candidates = candidates
        self.criterion = criterion
        self.splits = splits
        self.outcomes = [_Outcome() for _ in candidates]
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

    def run(self) -> list[_Outcome]:
        tasks, owners, done_after = self._tasks()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            original = warnings.showwarning
            warnings.showwarning = _routing_showwarning(original)
            with kmeans_cache():
                results = run_tasks(
                    [_capturing(task) for task in tasks],
                    self.search.n_jobs,
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
        _set_deep(estimator, "n_jobs", 1)
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
                outcome.log_likelihood = _mean_log_density(log_densities, self.weights)
            self._information(i)
            outcome.fits_converged.append(bool(getattr(estimator, "converged_", True)))

        return task

    def _information(self, i: int) -> None:
        """n_parameters, bic and aic from the log-likelihood (once both are known)."""
        outcome = self.outcomes[i]
        estimator = outcome.fitted
        if estimator is None or not _counts_parameters(estimator):
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
            score = _mean_log_density(log_densities, test_weights)
            self.outcomes[i].fold_scores.append((fold, score))
            self.outcomes[i].fits_converged.append(bool(getattr(estimator, "converged_", True)))

        return task

    # Kernel density candidates that differ only in bandwidth ------------------------

    def _kde_groups(self) -> dict[Any, list[int]]:
        from lookalike.kde import KernelDensity

        groups: dict[Any, list[int]] = {}
        for i, candidate in enumerate(self.candidates):
            estimator = candidate.estimator
            if type(estimator) is not KernelDensity or not _exact_scalar_kde(estimator):
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
            if self.weights is None:
                centre = data.mean(axis=0)
            else:
                centre = (self.weights @ data) / self.weights.sum()
            centred = data - centre
            kernel = KERNELS[self.candidates[members[0]].estimator.kernel]
            log_densities = held_out_log_densities(
                centred, self.weights, centred[rows], kernel, self._bandwidths(members), n_jobs=1
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
                self.outcomes[i].log_likelihood = _mean_log_density(row, self.weights)

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
        if self.search.verbose < 1:
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
            self.outcomes[i] = _Outcome(converged=False, warnings=outcome.warnings, error=error)
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


# --------------------------------------------------------------------------------------
# Helpers


def _auto_grid(X: np.ndarray, weights: np.ndarray | None) -> list[dict[str, Any]]:
    """The default grid of model="auto" (see ModelSearch's Notes)."""
    from lookalike._math.kernels import KERNELS
    from lookalike.kde import KernelDensity, _automatic_grid
    from lookalike.mixture import GaussianMixture

    n_samples, n_features = X.shape
    ladder = [k for k in AUTO_N_COMPONENTS if k <= n_samples / 10] or [1]
    grid: list[dict[str, Any]] = []
    try:
        from lookalike.gaussian import Gaussian

        grid.append({"model": [Gaussian(reg_covar=1e-6)]})
    except ImportError:  # pragma: no cover - GaussianMixture(1) is in the ladder anyway
        pass
    grid.append(
        {
            "model": [GaussianMixture()],
            "n_components": ladder,
            "covariance_type": list(AUTO_COVARIANCE_TYPES),
        }
    )
    data = np.asarray(X, dtype=np.float64)
    bandwidths = _automatic_grid(data, weights, KERNELS["gaussian"])
    grid.append({"model": [KernelDensity()], "bandwidth": [float(h) for h in bandwidths]})
    if n_features > AUTO_WIDE_FEATURES:
        try:
            from lookalike.reduced import ReducedDensity
        except ImportError:  # pragma: no cover - depends on the package version
            return grid
        grid.append(
            {"model": [ReducedDensity(GaussianMixture())], "estimator__n_components": ladder}
        )
    return grid


def _counts_parameters(estimator: Any) -> bool:
    """Whether BIC/AIC are defined (the estimator has ``bic`` and ``aic``)."""
    return hasattr(estimator, "bic") and hasattr(estimator, "aic")


def _exact_scalar_kde(estimator: Any) -> bool:
    """A KernelDensity whose held-out scores the bandwidth-grid path reproduces exactly."""
    bandwidth = estimator.bandwidth
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real):
        return False
    if not (math.isfinite(float(bandwidth)) and float(bandwidth) > 0):
        return False
    params = estimator.metric_params or {}
    euclidean = estimator.metric in ("euclidean", "l2") or (
        estimator.metric in ("minkowski", "p") and params.get("p", 2) == 2
    )
    exact = estimator.algorithm in ("exact", "kd_tree", "ball_tree") or (
        estimator.algorithm == "auto" and estimator.rtol == 0
    )
    return euclidean and exact


def _set_deep(estimator: Any, name: str, value: Any, skip: Iterable[str] = ()) -> None:
    """Set ``name`` and every nested ``..__name`` parameter, except those in ``skip``."""
    skip = set(skip)
    keys = [
        key
        for key in estimator.get_params(deep=True)
        if (key == name or key.endswith("__" + name)) and key not in skip
    ]
    # Outer keys first: setting a nested estimator must not undo an inner setting.
    for key in sorted(keys, key=lambda k: k.count("__")):
        estimator.set_params(**{key: value})


def _restore_n_jobs(fitted: Any, configured: Any) -> None:
    """Give the refitted best estimator back the n_jobs the user configured."""
    wanted = configured.get_params(deep=True)
    fitted_params = fitted.get_params(deep=True)
    for key, value in wanted.items():
        if (key == "n_jobs" or key.endswith("__n_jobs")) and key in fitted_params:
            fitted.set_params(**{key: value})
    # Fitted copies of nested estimators (e.g. ReducedDensity.estimator_) keep n_jobs=1.
    for attribute, inner in list(vars(fitted).items()):
        if attribute.endswith("_") and hasattr(inner, "get_params"):
            original = getattr(configured, attribute[:-1], None)
            if original is not None and hasattr(original, "get_params"):
                _restore_n_jobs(inner, original)


def _mean_log_density(log_densities: np.ndarray, weights: np.ndarray | None) -> float:
    """Mean (weighted) log-density; rows of zero weight count for nothing, even at -inf."""
    if weights is None:
        return float(np.mean(log_densities))
    with np.errstate(invalid="ignore"):
        total = np.where(weights > 0, log_densities, 0.0) @ weights
    return float(total / weights.sum())


def _best_index(values: np.ndarray, criterion: str) -> int:
    finite = ~np.isnan(values)
    if not finite.any():
        raise ValueError(f"No candidate has a {criterion} score (all are NaN).")
    if criterion == "cv":
        return int(np.nanargmax(values))
    return int(np.nanargmin(values))


def _short(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, BaseEstimator):
        return type(value).__name__
    return str(value)
