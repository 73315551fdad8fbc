"""ModelSearch, the estimator: BIC, AIC and cross-validated sweeps over density models.

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

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted

from lookalike._restore import check_n_features, has_fitted_state, is_int, require
from lookalike._search_results import results_table as _results_table
from lookalike._validation import (
    Boolean,
    Constraint,
    CrossValidation,
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
from lookalike.exceptions import NotFittedError
from lookalike.model_selection.candidates import (
    Candidate,
    counts_parameters,
    expand_grid,
    restore_n_jobs,
)
from lookalike.model_selection.sweep import Sweep

__all__ = ["CRITERIA", "ModelSearch"]

CRITERIA = ("bic", "aic", "cv")

_PARAMETERS: dict[str, Constraint] = {
    "criterion": Options((*CRITERIA, None)),
    "cv": CrossValidation(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
    "refit": Boolean(),
    "random_state": RandomState(),
    "verbose": Interval(0, None, integer=True),
}


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
        validate_params(self, _PARAMETERS)
        self._check_model()
        data: np.ndarray = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        check_scale(data)
        weights = check_sample_weight(sample_weight, data.shape[0])
        seed = self._seed()
        candidates = expand_grid(self.model, self.param_grid, data, weights, seed)
        criterion = self._resolve_criterion(candidates)
        splits = list(check_cv(self.cv).split(data)) if criterion == "cv" else []
        outcomes = Sweep(
            data, weights, candidates, criterion, splits, self.n_jobs, self.verbose
        ).run()

        self.results_ = _results_table(candidates, outcomes, criterion)
        self.criterion_ = criterion
        values = self.results_[criterion if criterion != "cv" else "cv_log_likelihood"]
        values = values.to_numpy(dtype=np.float64)
        best = best_index(values, criterion)
        self.best_index_ = best
        self.best_params_ = dict(candidates[best].grid_point)
        self.best_score_ = float(values[best])
        if self.refit:
            fitted = outcomes[best].fitted
            restore_n_jobs(fitted, candidates[best].estimator)
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
        validate_params(self, _PARAMETERS)
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

    def _resolve_criterion(self, candidates: list[Candidate]) -> str:
        counted = [counts_parameters(c.estimator) for c in candidates]
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


def best_index(values: np.ndarray, criterion: str) -> int:
    """Row of the best value: the highest held-out score, or the lowest BIC/AIC."""
    finite = ~np.isnan(values)
    if not finite.any():
        raise ValueError(f"No candidate has a {criterion} score (all are NaN).")
    if criterion == "cv":
        return int(np.nanargmax(values))
    return int(np.nanargmin(values))
