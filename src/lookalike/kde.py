"""KernelDensity: a drop-in for ``sklearn.neighbors.KernelDensity`` that is exact and fast.

The class validates, resolves the bandwidth and dispatches; the arithmetic lives
in :mod:`lookalike._math`: kernels in :mod:`~lookalike._math.kernels`, exact
blocked evaluation in :mod:`~lookalike._math.kernel_sums`, the binned (FFT)
path in :mod:`~lookalike._math.binned`, bandwidth rules in
:mod:`~lookalike._math.bandwidth` and the vectorised cross-validation in
:mod:`~lookalike._math.cross_validation`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.linalg import solve_triangular
from scipy.special import gammainc
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.metrics import DistanceMetric
from sklearn.model_selection import check_cv
from sklearn.neighbors import VALID_METRICS
from sklearn.utils.validation import check_is_fitted

from lookalike._features import feature_indices, split_known
from lookalike._kde_checks import (
    CV_GRID_EXTENSIONS,
    CV_GRID_PER_DECADE,
    check_restored_kde,
)
from lookalike._kde_checks import automatic_grid as _automatic_grid
from lookalike._kde_checks import check_bandwidth as _check_bandwidth
from lookalike._kde_checks import check_grid as _check_grid
from lookalike._kde_checks import check_rule_result as _check_rule_result
from lookalike._kde_checks import sklearn_rule as _sklearn_rule
from lookalike._kde_checks import weighted_mean as _weighted_mean
from lookalike._math import binned
from lookalike._math.cross_validation import held_out_log_densities
from lookalike._math.distances import squared_scaled_metric
from lookalike._math.kde_conditioning import condition_gaussian_kde, restrict_bandwidth
from lookalike._math.kernel_sums import (
    TrainingPoints,
    log_kernel_sums,
    prepare_training_points,
)
from lookalike._math.kernels import KERNEL_NAMES, KERNELS, Kernel
from lookalike._validation import (
    ArrayLikeOrNone,
    Boolean,
    Constraint,
    Interval,
    Options,
    RandomStateLike,
    as_random_state,
    check_n_samples,
    check_sample_weight,
    check_scale,
    is_partitioned,
    validate_data,
    validate_params,
)
from lookalike.exceptions import BandwidthEdgeWarning, InvalidParameterError

# scikit-learn's names for the bandwidth rules it implements (n ** (-1 / (d + 4)) and
# (n (d + 2) / 4) ** (-1 / (d + 4))); the spread-aware rules come from _math.bandwidth.
SKLEARN_RULES = ("scott", "silverman")
TREE_METRICS = {"kd_tree": VALID_METRICS["kd_tree"], "ball_tree": VALID_METRICS["ball_tree"]}
ALL_METRICS = tuple(dict.fromkeys(TREE_METRICS["kd_tree"] + TREE_METRICS["ball_tree"]))

# The binned path: explicit algorithm="binned" with rtol=0 aims at this log-density error
# (1% of the density, ample for plots); kernels without a log-error model (compact
# support) use this node spacing (bandwidths).
DEFAULT_BINNED_TOLERANCE = 1e-2
COMPACT_BINNED_SPACING = 0.02
# "auto" bins when the exact path would evaluate this many times more kernel terms than
# the grid has nodes (measured break-even on the project machine: about 40).
BINNED_ADVANTAGE = 100.0
# Binned values whose error bound exceeds the tolerance are evaluated exactly; bounds
# within this relative rounding of it pass (the exponential kernel's spacing is the
# inverse of its bound at the tolerance).
TOLERANCE_SLACK = 1e-6
# Grid nodes per dimension of score_grid by default.
DEFAULT_GRID_POINTS = {1: 1024, 2: 256, 3: 64}


@dataclass(frozen=True)
class _BandwidthParameter:
    """A positive number, a rule name, "cv", or an array of per-feature bandwidths or a matrix."""

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return value in _bandwidth_rule_names() or value == "cv"
        if isinstance(value, bool):
            return False
        if isinstance(value, numbers.Real):
            number = float(value)
            return number > 0 and math.isfinite(number)
        return isinstance(value, list | tuple | np.ndarray)

    def describe(self) -> str:
        names = ", ".join(repr(name) for name in (*_bandwidth_rule_names(), "cv"))
        return (
            "a float in the range (0.0, inf), an array of per-feature bandwidths or a "
            f"bandwidth matrix, or a str among {{{names}}}"
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


@dataclass(frozen=True)
class _DictOrNone:
    def accepts(self, value: Any) -> bool:
        return value is None or isinstance(value, dict)

    def describe(self) -> str:
        return "a dict or None"


_PARAMETERS: dict[str, Constraint | _BandwidthParameter | _CVParameter | _DictOrNone] = {
    "bandwidth": _BandwidthParameter(),
    "algorithm": Options(("auto", "exact", "binned", "kd_tree", "ball_tree")),
    "kernel": Options(KERNEL_NAMES),
    "metric": Options(ALL_METRICS),
    "atol": Interval(0.0, None),
    "rtol": Interval(0.0, None),
    "breadth_first": Boolean(),
    "leaf_size": Interval(1, None, integer=True),
    "metric_params": _DictOrNone(),
    "bandwidth_grid": ArrayLikeOrNone(),
    "cv": _CVParameter(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
}


def _bandwidth_rule_names() -> tuple[str, ...]:
    from lookalike._math.bandwidth import BANDWIDTH_RULES

    return tuple(BANDWIDTH_RULES)


# --------------------------------------------------------------------------------------
# The bandwidth as a linear map to unit-bandwidth coordinates


@dataclass(frozen=True)
class _Scaling:
    """``u = (x - centre) A^{-T}`` maps data to coordinates where the kernel has bandwidth 1.

    ``A`` is ``h I`` (isotropic), ``diag(h)`` (per feature) or the lower
    Cholesky factor ``L`` of a bandwidth matrix ``H = L L^T``; ``log_det`` is
    ``log |det A|``, the log-volume change of the map.
    """

    centre: np.ndarray
    factor: np.ndarray  # () isotropic, (d,) per feature, (d, d) lower-triangular
    log_det: float

    @classmethod
    def of(cls, bandwidth: float | np.ndarray, centre: np.ndarray) -> _Scaling:
        d = centre.shape[0]
        factor = np.asarray(bandwidth, dtype=np.float64)
        if factor.ndim == 0:
            return cls(centre, factor, d * math.log(float(factor)))
        if factor.ndim == 1:
            return cls(centre, factor, float(np.log(factor).sum()))
        lower = np.linalg.cholesky(factor)
        return cls(centre, lower, float(np.log(np.diagonal(lower)).sum()))

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            centred = X - self.centre
            if self.factor.ndim < 2:
                centred *= 1.0 / self.factor
                return centred
            return solve_triangular(self.factor, centred.T, lower=True).T

    def from_unit(self, offsets: np.ndarray) -> np.ndarray:
        """Map draws of the unit kernel to draws of the bandwidth's kernel."""
        if self.factor.ndim < 2:
            return offsets * self.factor
        return offsets @ self.factor.T


# --------------------------------------------------------------------------------------
# The estimator


class KernelDensity(DensityMixin, BaseEstimator):
    """Kernel density estimate, exact to rounding, fast, with every kernel sampling.

    Same parameters, attributes and methods as
    :class:`sklearn.neighbors.KernelDensity` (so one import line changes),
    with log-densities equal to scikit-learn's exact values to 1e-10. Beyond
    scikit-learn: sampling from all six kernels, spread-aware and plug-in
    bandwidth rules, cross-validated bandwidths, per-feature bandwidths and
    bandwidth matrices, a binned (FFT) path for one to three dimensions, and
    exact evaluation far in the tails.

    Parameters
    ----------
    bandwidth : float, str or array-like, default=1.0
        - float: the kernel's bandwidth ``h`` (the Gaussian's standard
          deviation, the other kernels' support radius), as scikit-learn.
        - ``"scott"``, ``"silverman"``: scikit-learn's rules,
          ``n ** (-1 / (d + 4))`` and ``(n (d + 2) / 4) ** (-1 / (d + 4))``.
          They ignore the spread of the data (multiply X by 100 and the
          bandwidth stays the same); prefer the rules below on unscaled data.
        - ``"scott-diag"``, ``"silverman-diag"``: per-feature bandwidths, the
          same factors times each feature's standard deviation.
        - ``"scott-full"``, ``"silverman-full"``: a bandwidth matrix, the
          factor squared times the data's covariance (scipy's
          ``gaussian_kde``).
        - ``"silverman-robust"``: per feature, Silverman's rule with
          ``min(std, IQR / 1.349)``, robust to outliers.
        - ``"isj"``: the improved Sheather-Jones plug-in (Botev et al. 2010),
          per feature; the best rule for multimodal 1-D data.
        - ``"cv"``: the isotropic bandwidth of highest cross-validated
          likelihood over ``bandwidth_grid`` (see :func:`cross_validate_bandwidth`).
        - array of shape (n_features,): per-feature bandwidths.
        - array of shape (n_features, n_features): a bandwidth matrix ``H``
          (symmetric positive definite), the kernel being
          ``k(|L^{-1}(x - x_i)|)`` with ``H = L L^T``.
        Rules derived for the Gaussian kernel are converted to the other
        kernels by matching the kernel's standard deviation.
    algorithm : {"auto", "exact", "binned", "kd_tree", "ball_tree"}, default="auto"
        ``"exact"`` evaluates every kernel sum to rounding (blocked matrix
        products). ``"binned"`` bins the data on a grid and convolves by FFT
        (1 to 3 features, Euclidean metric): for the Gaussian and exponential
        kernels every returned log-density is within ``rtol`` of the exact one
        (1e-2 when ``rtol`` is 0), because each query carries its own error bound
        and those beyond the tolerance (far tails, gaps, sparse data) are
        evaluated exactly; compact kernels have no such bound (their error at the
        edge of the support is unbounded in log space) and are binned with a
        spacing of 0.02 bandwidths. ``"auto"`` takes the binned path when
        ``rtol > 0``, the kernel has an error bound and binning is much cheaper,
        else the exact one. ``"kd_tree"`` and ``"ball_tree"`` are accepted for
        compatibility and mean ``"exact"``.
    kernel : {"gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine"}, \
default="gaussian"
    metric : str, default="euclidean"
        Any metric of scikit-learn's KDTree or BallTree. As in scikit-learn,
        the normalisation is the Euclidean one, so only Euclidean densities
        integrate to one.
    atol, rtol : float, default=0
        Tolerated absolute and relative error of the density. The exact path
        meets any tolerance; ``rtol > 0`` (an absolute error in log-density,
        about a relative error of the density) lets ``"auto"`` use the binned
        path within it. ``atol`` is accepted for compatibility and does not
        change the path.
    breadth_first : bool, default=True
        Accepted for compatibility; has no effect.
    leaf_size : int, default=40
        Accepted for compatibility; has no effect.
    metric_params : dict, default=None
        Parameters of the metric (e.g. ``{"p": 3}`` for minkowski).
    bandwidth_grid : array-like of shape (n_bandwidths,), default=None
        Candidate bandwidths for ``bandwidth="cv"``; ``None`` builds a grid
        around a normal-reference pilot. Not in scikit-learn.
    cv : int, splitter or iterable, default=5
        Folds for ``bandwidth="cv"``; an int means ``KFold(cv)`` as in
        ``GridSearchCV``. Not in scikit-learn.
    n_jobs : int, default=None
        Threads over blocks of query rows (``None``: every core). Not in scikit-learn.

    Attributes
    ----------
    bandwidth_ : float or ndarray
        The bandwidth used: a float (isotropic), an array of shape
        (n_features,) (per feature) or (n_features, n_features) (matrix).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.
    cv_results_ : dict
        With ``bandwidth="cv"``: ``"bandwidths"``, ``"mean_log_likelihood"``
        (per held-out row) and ``"fold_scores"`` (summed held-out
        log-likelihood per fold, GridSearchCV's ``split{k}_test_score``).

    Notes
    -----
    The estimate is

    .. math::

        \\hat f(x) = \\frac{1}{\\sum_i w_i} \\sum_i w_i
            \\frac{k(\\lVert A^{-1} (x - x_i) \\rVert)}{C_d\\, |\\det A|}

    with ``A = h I``, ``diag(h)`` or ``L``, and ``C_d`` the integral of the
    kernel profile over ``R^d`` (:mod:`lookalike._math.kernels`).

    scikit-learn's normalising constant of the cosine kernel is wrong in even
    dimensions (its recurrence holds for odd ``d`` only; at ``d = 4`` it is
    NaN); lookalike's integrates to one in every dimension, so cosine
    log-densities differ from scikit-learn's there. scikit-learn's tree
    evaluation with ``rtol = 0`` is also not exact at small bandwidths or far
    from the data (errors of many nats); lookalike's exact path is.

    Examples
    --------
    >>> import numpy as np
    >>> import lookalike as la
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> kde = la.KernelDensity(bandwidth=0.5, kernel="epanechnikov").fit(X)
    >>> kde.score_samples(X[:3]).shape
    (3,)
    >>> kde.sample(4, random_state=0).shape
    (4, 2)
    """

    def __init__(
        self,
        *,
        bandwidth: float | str | npt.ArrayLike = 1.0,
        algorithm: str = "auto",
        kernel: str = "gaussian",
        metric: str = "euclidean",
        atol: float = 0,
        rtol: float = 0,
        breadth_first: bool = True,
        leaf_size: int = 40,
        metric_params: dict[str, Any] | None = None,
        bandwidth_grid: npt.ArrayLike | None = None,
        cv: Any = 5,
        n_jobs: int | None = None,
    ) -> None:
        self.bandwidth = bandwidth
        self.algorithm = algorithm
        self.kernel = kernel
        self.metric = metric
        self.atol = atol
        self.rtol = rtol
        self.breadth_first = breadth_first
        self.leaf_size = leaf_size
        self.metric_params = metric_params
        self.bandwidth_grid = bandwidth_grid
        self.cv = cv
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Store the data and resolve the bandwidth.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights. With a given bandwidth an integer weight equals
            repeating the row; the spread-aware rules use Kish's effective sample
            size (see :mod:`lookalike._math.bandwidth`).

        Returns
        -------
        self : KernelDensity
        """
        validate_params(self, _PARAMETERS)  # type: ignore[arg-type]
        data: np.ndarray = validate_data(self, X, dtype=np.float64, order="C")
        if isinstance(self.bandwidth, str):
            # Rules and cross-validation compute variances of the data; a given bandwidth
            # works at any magnitude (distances are taken in bandwidth units, issue 17).
            check_scale(data)
        n_samples, n_features = data.shape
        self._check_metric()
        if self.algorithm == "binned" and n_features > 3:
            raise ValueError(
                f"algorithm='binned' handles 1 to 3 features; X has {n_features}. Use "
                "algorithm='exact' (or 'auto'), or reduce the dimension first."
            )
        weights = check_sample_weight(sample_weight, n_samples)
        kernel = KERNELS[self.kernel]
        self.__dict__.pop("cv_results_", None)  # from an earlier fit with bandwidth="cv"
        bandwidth = self._resolve_bandwidth(data, weights, kernel)
        bandwidth = _check_bandwidth(bandwidth, n_features)
        if not self._euclidean and np.ndim(bandwidth) > 0:
            raise ValueError(
                f"An anisotropic bandwidth needs metric='euclidean'; got metric={self.metric!r}. "
                "Use a scalar bandwidth with this metric."
            )
        self.bandwidth_ = bandwidth

        centre = _weighted_mean(data, weights)
        self._scaling = _Scaling.of(self.bandwidth_, centre)
        self._data = data
        self._weights = weights
        self._total_weight = float(n_samples if weights is None else weights.sum())
        # Unit-bandwidth coordinates (raw data for other metrics); the exact engine's
        # sorted copy is prepared on first use (the binned path does not need it).
        self._unit = self._scaling.to_unit(data) if self._euclidean else data
        if not np.isfinite(self._unit).all():
            raise ValueError("The data span over 1e308 bandwidths: use a larger bandwidth.")
        self._prepared: TrainingPoints | None = None
        return self

    def _resolve_bandwidth(
        self, X: np.ndarray, weights: np.ndarray | None, kernel: Kernel
    ) -> float | np.ndarray:
        """The bandwidth parameter as a number or array (before shape checks)."""
        if not isinstance(self.bandwidth, str):
            return self.bandwidth  # type: ignore[return-value]
        if self.bandwidth in SKLEARN_RULES:
            # scikit-learn counts the rows it was given, weights or not.
            return _sklearn_rule(self.bandwidth, X.shape[0], X.shape[1])
        if self.bandwidth == "cv":
            return self._cross_validated_bandwidth(X, weights, kernel)
        from lookalike._math.bandwidth import BANDWIDTH_RULES

        bandwidth = BANDWIDTH_RULES[self.bandwidth](X, weights, self.kernel)
        _check_rule_result(self.bandwidth, bandwidth)
        return bandwidth

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        check_restored_kde(self, _PARAMETERS, _Scaling)

    @property
    def _training(self) -> TrainingPoints:
        """Training points prepared for the exact engine (built once, on first use)."""
        if self._prepared is None:
            self._prepared = prepare_training_points(self._unit, self._weights)
        return self._prepared

    @property
    def _euclidean(self) -> bool:
        params = self.metric_params or {}
        if self.metric in ("euclidean", "l2"):
            return True
        return self.metric in ("minkowski", "p") and params.get("p", 2) == 2

    def _check_metric(self) -> None:
        algorithm = self.algorithm
        if algorithm in TREE_METRICS and self.metric not in TREE_METRICS[algorithm]:
            raise ValueError(f"invalid metric for {algorithm}: '{self.metric}'")
        if not self._euclidean:
            try:
                DistanceMetric.get_metric(self.metric, **(self.metric_params or {}))
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"metric={self.metric!r} with metric_params={self.metric_params!r} is not "
                    f"usable: {error}"
                ) from None
        if self.algorithm == "binned" and not self._euclidean:
            raise ValueError("algorithm='binned' needs metric='euclidean'.")

    def _cross_validated_bandwidth(
        self, X: np.ndarray, weights: np.ndarray | None, kernel: Kernel
    ) -> float:
        if not self._euclidean:
            raise ValueError("bandwidth='cv' needs metric='euclidean'.")
        given = self.bandwidth_grid is not None
        if self.bandwidth_grid is not None:
            grid = _check_grid(self.bandwidth_grid)
        else:
            grid = _automatic_grid(X, weights, kernel)
        curve = cross_validate_bandwidth(
            X, grid, kernel=kernel.name, cv=self.cv, sample_weight=weights, n_jobs=self.n_jobs
        )
        for _ in range(0 if given else CV_GRID_EXTENSIONS):
            if 0 < curve.best_index < len(curve.bandwidths) - 1:
                break
            step = 10.0 ** (1.0 / CV_GRID_PER_DECADE)
            edge = curve.bandwidths[curve.best_index]
            direction = 1.0 if curve.best_index == len(curve.bandwidths) - 1 else -1.0
            extra = edge * step ** (direction * np.arange(1, CV_GRID_PER_DECADE + 1))
            grid = np.sort(np.concatenate([curve.bandwidths, extra]))
            curve = cross_validate_bandwidth(
                X, grid, kernel=kernel.name, cv=self.cv, sample_weight=weights, n_jobs=self.n_jobs
            )
        if curve.best_index in (0, len(curve.bandwidths) - 1):
            warnings.warn(
                f"The cross-validated bandwidth {curve.best_bandwidth:.4g} is at the edge of the "
                "grid; the optimum may lie outside it. Extend bandwidth_grid.",
                BandwidthEdgeWarning,
                stacklevel=3,
            )
        self.cv_results_ = {
            "bandwidths": curve.bandwidths,
            "mean_log_likelihood": curve.mean_log_likelihood,
            "fold_scores": curve.fold_scores,
        }
        return curve.best_bandwidth

    # ----------------------------------------------------------------------------------
    # Evaluation

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density of every row: shape (n_samples,).

        Normalised to a probability density (with the Euclidean normalisation
        for other metrics, as scikit-learn). A dask array or DataFrame of
        queries gives a lazy dask array, computed partition by partition (the
        fitted estimator is sent once to every worker); a
        :class:`~lookalike.chunks.Chunks` source is scored chunk by chunk.
        Finite or ``-inf``, never ``+inf`` or NaN, exact for the rows rounded to
        bandwidth units about the data's mean (:mod:`lookalike._math.kernel_sums`).
        """
        check_is_fitted(self)
        if is_partitioned(X):
            from lookalike.distributed import map_rows

            return map_rows(self, "score_samples", X)
        queries: np.ndarray = validate_data(
            self, X, dtype=np.float64, order="C", reset=False, ensure_min_samples=0
        )
        if queries.shape[0] == 0:
            return np.empty(0)
        return self._log_sums(queries) + self._log_normaliser()

    def _log_normaliser(self) -> float:
        """``log`` of the constant turning kernel sums into a density."""
        d = self.n_features_in_
        return (
            KERNELS[self.kernel].log_norm(d) - self._scaling.log_det - math.log(self._total_weight)
        )

    def _log_sums(self, queries: np.ndarray, allow_binned: bool = True) -> np.ndarray:
        """Log kernel sums at validated queries, by the path ``algorithm`` picks.

        On the binned path, the queries outside its grid and those whose own error
        bound (:func:`~lookalike._math.binned.log_sums_at`) exceeds the tolerance
        are evaluated exactly, so that for the Gaussian and exponential kernels
        every value is within the tolerance of the exact one.
        """
        kernel = KERNELS[self.kernel]
        if not self._euclidean:
            return log_kernel_sums(
                queries,
                self._training,
                kernel,
                self.n_jobs,
                squared_distance=self._metric_distance(),
            )
        unit = self._scaling.to_unit(queries)
        plan = self._binned_spacing(unit) if allow_binned else None
        if plan is not None:
            spacing, tolerance, bounds = plan
            try:
                values, outside, bound = binned.log_sums_at(
                    self._unit,
                    unit,
                    self.kernel,
                    spacing,
                    self._weights,
                    bounds=bounds,
                    n_jobs=self.n_jobs,
                    with_bound=True,
                    tolerance=tolerance,
                )
            except binned.GridTooLargeError as error:
                if self.algorithm == "binned":
                    raise ValueError(
                        f"The binned path needs a grid larger than allowed ({error}). Ask for "
                        "a larger rtol, or use algorithm='exact' or 'auto'."
                    ) from None
            else:
                redo = outside | (bound > tolerance * (1.0 + TOLERANCE_SLACK))
                if np.any(redo):
                    values[redo] = log_kernel_sums(unit[redo], self._training, kernel, self.n_jobs)
                return values
        return log_kernel_sums(unit, self._training, kernel, self.n_jobs)

    def _binned_spacing(self, unit: np.ndarray) -> tuple[float, float, np.ndarray] | None:
        """Spacing (bandwidths), tolerance and grid bounds of the binned path, or None.

        ``unit`` holds the queries in bandwidth units. ``"binned"``: the spacing
        at which the bulk of the data meets ``rtol`` (``DEFAULT_BINNED_TOLERANCE``
        when ``rtol`` is 0; :func:`~lookalike._math.binned.bulk_spacing`); the
        queries beyond the bulk (tails, gaps, sparse data), whose own bound is
        larger, are evaluated exactly. Compact kernels, which have no log-error
        bound: ``COMPACT_BINNED_SPACING`` and no tolerance. ``"auto"``: the same
        for the Gaussian and exponential kernels when ``rtol > 0``, if the grid
        fits and has ``BINNED_ADVANTAGE`` times fewer nodes than the exact path
        has kernel terms. The exact evaluations beyond the bulk are decided
        after the fact, query by query: at worst they add the exact path's cost
        for those queries to the grid's. The grid spans the queries (and two
        nodes more), within the data range extended by
        :func:`~lookalike._math.binned.default_extension`.
        """
        d = self.n_features_in_
        tolerance = self.rtol if self.rtol > 0 else DEFAULT_BINNED_TOLERANCE
        if self.algorithm == "binned":
            spacing = binned.bulk_spacing(self.kernel, d, tolerance)
            if spacing is None and self.kernel in binned.TOLERANCE_KERNELS:
                raise ValueError(
                    f"The binned path cannot reach rtol={self.rtol:g} (its floor is "
                    f"{binned.MIN_TOLERANCE:g}); use algorithm='exact'."
                )
            if spacing is None:
                spacing, tolerance = COMPACT_BINNED_SPACING, math.inf
        elif self.algorithm != "auto" or not self._euclidean or d > 3 or self.rtol <= 0:
            return None
        else:
            spacing = binned.bulk_spacing(self.kernel, d, tolerance)
            if spacing is None:
                return None
        reach = binned.default_extension(KERNELS[self.kernel])
        low, high = self._unit.min(axis=0), self._unit.max(axis=0)
        bounds = np.column_stack(
            [
                np.maximum(unit.min(axis=0) - 2.0 * spacing, low - reach),
                np.minimum(unit.max(axis=0) + 2.0 * spacing, high + reach),
            ]
        )
        if np.any(bounds[:, 1] <= bounds[:, 0]):
            return None  # every query is beyond the grid's reach
        if self.algorithm == "auto":
            extent = np.maximum(bounds[:, 1], high) - np.minimum(bounds[:, 0], low)
            nodes = math.prod((extent / spacing + 1.0).tolist())  # inf, not a warning
            if nodes > binned.DEFAULT_MAX_CELLS:
                return None
            if float(self._unit.shape[0]) * unit.shape[0] <= BINNED_ADVANTAGE * nodes:
                return None
        return spacing, tolerance, bounds

    def score_grid(
        self, n_points: int | None = None, bounds: npt.ArrayLike | None = None
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Log-density on a regular grid (1 to 3 features), e.g. for plotting.

        With ``algorithm="binned"``, or ``"auto"`` when ``rtol > 0`` and it pays,
        the data are binned on the grid (refined where the bulk of the data needs
        it) and convolved with the kernel by FFT, with the far tails recomputed
        directly (:mod:`lookalike._math.binned`); the nodes whose own error bound
        exceeds the tolerance are evaluated exactly. Otherwise every node is
        evaluated exactly.

        Parameters
        ----------
        n_points : int, default=None
            Nodes per dimension (1024, 256 and 64 in 1, 2 and 3 dimensions).
        bounds : array-like of shape (n_features, 2), default=None
            Lowest and highest node per feature; ``None``: the data range extended
            by the kernel's reach (its support, or where a Gaussian or
            exponential profile falls to 1e-4).

        Returns
        -------
        axes : list of n_features ndarrays of shape (n_points,)
        log_density : ndarray of shape (n_points,) * n_features
            ``log_density[i, j]`` is the log-density at ``(axes[0][i], axes[1][j])``.
        """
        check_is_fitted(self)
        d = self.n_features_in_
        if d > 3:
            raise ValueError(f"score_grid handles 1 to 3 features; the model has {d}.")
        if n_points is None:
            n_points = DEFAULT_GRID_POINTS[d]
        if isinstance(n_points, bool) or not isinstance(n_points, numbers.Integral):
            raise ValueError(f"n_points must be an int >= 2; got {n_points!r}.")
        if n_points < 2:
            raise ValueError(f"n_points must be an int >= 2; got {n_points}.")
        limits = self._grid_bounds(bounds)
        axes = [np.linspace(low, high, int(n_points)) for low, high in limits]
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
        plan = self._grid_refinement(limits, int(n_points))
        if plan is None:
            log_sums = self._log_sums(mesh, allow_binned=False)
        else:
            log_sums = self._binned_nodes(mesh, limits, int(n_points), *plan)
        return axes, log_sums.reshape((int(n_points),) * d) + self._log_normaliser()

    def _grid_bounds(self, bounds: npt.ArrayLike | None) -> np.ndarray:
        d = self.n_features_in_
        if bounds is None:
            reach = binned.default_extension(KERNELS[self.kernel]) * self._feature_scales()
            low, high = self._data.min(axis=0) - reach, self._data.max(axis=0) + reach
            return np.column_stack([low, high])
        try:
            limits = np.asarray(bounds, dtype=np.float64).reshape(d, 2)
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds must have shape ({d}, 2): the lowest and highest node per feature."
            ) from None
        if not np.all(np.isfinite(limits)) or np.any(limits[:, 1] <= limits[:, 0]):
            raise ValueError("bounds must be finite, each with lowest < highest.")
        return limits

    def _feature_scales(self) -> np.ndarray:
        """Standard deviation of the kernel along each feature, in bandwidth units."""
        factor = self._scaling.factor
        if factor.ndim < 2:
            return np.broadcast_to(factor, (self.n_features_in_,)).astype(np.float64)
        return np.sqrt((factor**2).sum(axis=1))

    def _grid_refinement(self, limits: np.ndarray, n_points: int) -> tuple[int, float] | None:
        """Binning nodes per grid step of the FFT path and its tolerance, or None for exact.

        The FFT grid is axis-aligned in the data's coordinates for scalar and
        per-feature bandwidths only. Its nodes are refined by an integer factor
        until their spacing meets the tolerance (``rtol``, or
        ``DEFAULT_BINNED_TOLERANCE`` for ``algorithm="binned"``) in the bulk of the
        data (:func:`~lookalike._math.binned.bulk_spacing` at nodes), then every
        factor-th node is returned, so no interpolation is involved; the nodes
        whose own bound exceeds the tolerance are evaluated exactly. Compact
        kernels (no log-error bound) use ``COMPACT_BINNED_SPACING`` and no
        tolerance. ``"auto"`` takes the FFT path only when ``rtol > 0``, the
        refined grid fits and it is much cheaper than evaluating every node
        exactly.
        """
        if not self._euclidean or self._scaling.factor.ndim == 2:
            return None
        if self.algorithm not in ("binned", "auto") or (
            self.algorithm == "auto" and self.rtol <= 0
        ):
            return None
        d = self.n_features_in_
        tolerance = self.rtol if self.rtol > 0 else DEFAULT_BINNED_TOLERANCE
        needed = binned.bulk_spacing(self.kernel, d, tolerance, at="nodes")
        if needed is None:
            if self.kernel in binned.TOLERANCE_KERNELS:
                return None
            needed, tolerance = COMPACT_BINNED_SPACING, math.inf
        step = float(np.max((limits[:, 1] - limits[:, 0]) / self._feature_scales()))
        step /= n_points - 1
        refinement = max(1, math.ceil(step / needed - 1e-9))
        nodes = float(((n_points - 1) * refinement + 1) ** d)
        if nodes > binned.DEFAULT_MAX_CELLS:
            return None
        if self.algorithm == "auto":
            terms = float(self._unit.shape[0]) * n_points**d
            if terms <= BINNED_ADVANTAGE * nodes:
                return None
        return refinement, tolerance

    def _binned_nodes(
        self,
        mesh: np.ndarray,
        limits: np.ndarray,
        n_points: int,
        refinement: int,
        tolerance: float,
    ) -> np.ndarray:
        """Log kernel sums at the nodes of a grid, binned on a ``refinement`` times finer one.

        Only the returned nodes are repaired in the tails, and they sit on binning
        nodes, so no interpolation is involved. Nodes whose error bound exceeds
        ``tolerance`` are evaluated exactly.
        """
        scales = self._feature_scales()
        unit_limits = (limits - self._scaling.centre[:, None]) / scales[:, None]
        try:
            _, values, bound = binned.grid_log_sums(
                self._unit,
                self.kernel,
                self._weights,
                n_points=(n_points - 1) * refinement + 1,
                bounds=unit_limits,
                stride=refinement,
                n_jobs=self.n_jobs,
                with_bound=True,
                tolerance=tolerance,
            )
        except binned.GridTooLargeError:
            return self._log_sums(mesh, allow_binned=False)
        values = values.ravel()
        redo = bound.ravel() > tolerance * (1.0 + TOLERANCE_SLACK)
        if np.any(redo):
            unit = self._scaling.to_unit(mesh[redo])
            kernel = KERNELS[self.kernel]
            values[redo] = log_kernel_sums(unit, self._training, kernel, self.n_jobs)
        return values

    def _metric_distance(self) -> Any:
        metric = DistanceMetric.get_metric(self.metric, **(self.metric_params or {}))
        return squared_scaled_metric(metric.pairwise, float(self.bandwidth_))

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """Total log-likelihood of the rows (a sum, as scikit-learn's KernelDensity)."""
        scores = self.score_samples(X)
        if is_partitioned(scores):
            from lookalike.distributed import total_and_count

            return total_and_count(scores)[0]
        with np.errstate(over="ignore"):  # a sum below the most negative float is -inf
            return float(np.sum(scores))

    # ----------------------------------------------------------------------------------
    # Sampling

    def sample(self, n_samples: int = 1, random_state: RandomStateLike = None) -> np.ndarray:
        """Draw rows from the estimate, for every kernel.

        A row is a training row (chosen with probability proportional to its
        weight) plus a draw from the kernel. With ``None``, an int or a
        ``RandomState`` the Gaussian and tophat draws equal scikit-learn's; a
        ``numpy.random.Generator`` is also accepted.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, RandomState or Generator, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples, self._data.shape[1], minimum=0)
        data, d = self._data, self._data.shape[1]
        if isinstance(random_state, np.random.Generator):
            rng: Any = random_state
            if self._weights is None:
                rows = rng.integers(0, data.shape[0], size=n_samples)
            else:
                rows = rng.choice(
                    data.shape[0], size=n_samples, p=self._weights / self._weights.sum()
                )
            return data[rows] + self._scaling.from_unit(
                KERNELS[self.kernel].sample(rng, n_samples, d)
            )
        rng = as_random_state(random_state)
        # scikit-learn's draws: one uniform per row picks the training row.
        u = rng.uniform(0, 1, size=n_samples)
        if self._weights is None:
            rows = (u * data.shape[0]).astype(np.int64)
        else:
            cumulative = np.cumsum(self._weights)
            rows = np.searchsorted(cumulative, u * cumulative[-1])
        isotropic = np.ndim(self.bandwidth_) == 0
        if self.kernel == "gaussian" and isotropic:
            return np.atleast_2d(rng.normal(data[rows], self.bandwidth_))
        if self.kernel == "tophat" and isotropic:
            # scikit-learn maps a normal vector into the ball with the chi-square CDF.
            normal = rng.normal(size=(n_samples, d))
            squared = np.einsum("ij,ij->i", normal, normal)
            with np.errstate(divide="ignore", invalid="ignore"):
                radius = gammainc(0.5 * d, 0.5 * squared) ** (1.0 / d) * self.bandwidth_
                normal *= (radius / np.sqrt(squared))[:, np.newaxis]
            return data[rows] + normal
        offsets = KERNELS[self.kernel].sample(rng, n_samples, d)
        return data[rows] + self._scaling.from_unit(offsets)

    # ----------------------------------------------------------------------------------
    # Conditionals and marginals (Gaussian kernel)

    def condition(self, x: npt.ArrayLike | Mapping[Any, float]) -> KernelDensity:
        """The density of the unknown features given the known ones, as a new estimate.

        Exact for ``kernel="gaussian"`` (with the Euclidean metric): the
        conditional of a Gaussian kernel density estimate is again one, over
        the unknown features, with reweighted (and, for a bandwidth matrix,
        shifted) training points and a shared bandwidth.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features), or dict
            One row with NaN at the unknown features, or a dict
            ``{feature index or feature name: value}`` of the known features
            (the others are unknown). At least one feature must be known and at
            least one unknown.

        Returns
        -------
        KernelDensity
            A fitted Gaussian estimate over the unknown features (in increasing
            index order), with the same ``algorithm``, ``atol``, ``rtol`` and
            ``n_jobs`` (``algorithm="binned"`` becomes ``"auto"`` beyond three
            features); ``feature_names_in_`` is the subset of this model's names.
            Its ``bandwidth`` is the conditional bandwidth, given as a number:
            a float, an array of shape (n_unknown,) or a matrix of shape
            (n_unknown, n_unknown), as this model's ``bandwidth_``.

        Raises
        ------
        ValueError
            For another kernel or metric, when nothing is known or nothing
            unknown, for unknown feature names or indices, or non-finite values.

        Notes
        -----
        With kernel covariance ``H`` (``h^2 I``, ``diag(h^2)`` or the bandwidth
        matrix), known features ``o`` and unknown ones ``m``, each training point
        ``x_i`` gets the weight

        .. math::

            \\pi_i \\propto w_i\\, N(x_o \\mid x_{i,o}, H_{oo}),

        computed in log space and normalised (points whose weight falls below the
        smallest normal float relative to the largest are dropped), the centre
        ``x_{i,m} + H_{mo} H_{oo}^{-1} (x_o - x_{i,o})`` and the bandwidth
        ``S = H_{mm} - H_{mo} H_{oo}^{-1} H_{om}`` (the Schur complement). For a
        scalar or per-feature bandwidth ``H`` is diagonal: no shift, and ``S`` is
        the bandwidth of the unknown features. Then

        .. math::

            \\log f(x_m \\mid x_o) = \\log f(x) - \\log f_o(x_o),

        with ``f_o`` the marginal (:meth:`marginal`). The formulas are in
        :mod:`lookalike._math.kde_conditioning`. Other kernels are radial
        functions of the whole distance, which do not factor into known and
        unknown parts, so their conditionals are not kernel density estimates.

        Examples
        --------
        >>> import numpy as np
        >>> import lookalike as la
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> kde = la.KernelDensity(bandwidth=0.4).fit(X)
        >>> cond = kde.condition([0.5, np.nan, np.nan])
        >>> cond.n_features_in_, cond.sample(5, random_state=0).shape
        (2, (5, 2))
        >>> cond.score_samples([[0.0, 0.0]]).shape
        (1,)
        >>> kde.condition({0: 0.5, 2: -1.0}).n_features_in_
        1
        """
        check_is_fitted(self)
        self._check_gaussian("condition")
        known, values, unknown = split_known(
            x, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        result = condition_gaussian_kde(
            self._data, self._weights, self.bandwidth_, known, unknown, values
        )
        return self._gaussian_submodel(result.centres, result.weights, result.bandwidth, unknown)

    def marginal(self, features: int | str | npt.ArrayLike) -> KernelDensity:
        """The density of a subset of the features, as a new estimate.

        Exact for ``kernel="gaussian"`` (with the Euclidean metric): the training
        points' columns, the same weights, and the bandwidth restricted to them.

        Parameters
        ----------
        features : int, str or sequence of int or str
            Feature indices or names (names when fitted on named columns), in
            the order of the returned model's features; no repeats.

        Returns
        -------
        KernelDensity
            A fitted Gaussian estimate over ``features`` with the same
            ``algorithm``, ``atol``, ``rtol`` and ``n_jobs``;
            ``feature_names_in_`` is the subset of this model's names.

        Raises
        ------
        ValueError
            For another kernel or metric, and for empty, repeated or unknown
            features.

        Notes
        -----
        The estimate is the mixture ``sum_i w_i N(x | x_i, H) / sum_i w_i``; the
        marginal of each Gaussian over features ``s`` is ``N(x_s | x_{i,s},
        H_ss)``. Other kernels are radial in all features at once: their
        marginals have a different profile, so they are not kernel density
        estimates with the same kernel.

        Examples
        --------
        >>> import numpy as np
        >>> import lookalike as la
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> kde = la.KernelDensity(bandwidth=[0.3, 0.4, 0.5]).fit(X)
        >>> kde.marginal([2, 0]).bandwidth_
        array([0.5, 0.3])
        """
        check_is_fitted(self)
        self._check_gaussian("marginal")
        indices = feature_indices(
            features, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        return self._gaussian_submodel(
            self._data[:, indices],
            self._weights,
            restrict_bandwidth(self.bandwidth_, indices),
            indices,
        )

    def _check_gaussian(self, method: str) -> None:
        if self.kernel != "gaussian":
            raise ValueError(
                f"{method} is exact only for kernel='gaussian'; this model has "
                f"kernel={self.kernel!r}. A Gaussian kernel factors into a Gaussian over any "
                "subset of the features times a Gaussian over the rest, so its marginals and "
                "conditionals are again Gaussian kernel density estimates; the other kernels "
                "are radial in all features at once and do not factor. Refit with "
                "kernel='gaussian'."
            )
        if not self._euclidean:
            raise ValueError(
                f"{method} needs metric='euclidean'; this model has metric={self.metric!r}, "
                "whose kernel does not factor over features. Refit with metric='euclidean'."
            )

    def _gaussian_submodel(
        self,
        points: np.ndarray,
        weights: np.ndarray | None,
        bandwidth: float | np.ndarray,
        features: np.ndarray,
    ) -> KernelDensity:
        """A Gaussian estimate over ``features`` fitted on ``points``, with these settings."""
        algorithm = self.algorithm
        if algorithm == "binned" and len(features) > 3:
            algorithm = "auto"
        model = KernelDensity(
            bandwidth=bandwidth,
            algorithm=algorithm,
            kernel="gaussian",
            metric="euclidean",
            atol=self.atol,
            rtol=self.rtol,
            breadth_first=self.breadth_first,
            leaf_size=self.leaf_size,
            n_jobs=self.n_jobs,
        )
        model.fit(points, sample_weight=weights)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            model.feature_names_in_ = names[features].copy()
        return model


# --------------------------------------------------------------------------------------
# Cross-validated bandwidth


@dataclass(frozen=True)
class BandwidthCurve:
    """Held-out log-likelihood against bandwidth, from :func:`cross_validate_bandwidth`.

    Attributes
    ----------
    bandwidths : ndarray of shape (n_bandwidths,)
    mean_log_likelihood : ndarray of shape (n_bandwidths,)
        Held-out log-likelihood per row (weighted mean over all folds).
    fold_scores : ndarray of shape (n_folds, n_bandwidths)
        Summed held-out log-likelihood of each fold: what ``GridSearchCV``
        reports as ``split{k}_test_score`` for a KernelDensity.
    best_index : int
        Index of the highest mean (the first of ties, as GridSearchCV).
    best_bandwidth : float
    """

    bandwidths: np.ndarray
    mean_log_likelihood: np.ndarray
    fold_scores: np.ndarray
    best_index: int
    best_bandwidth: float


def cross_validate_bandwidth(
    X: npt.ArrayLike,
    bandwidths: npt.ArrayLike | None = None,
    *,
    kernel: str = "gaussian",
    cv: Any = 5,
    sample_weight: npt.ArrayLike | None = None,
    n_jobs: int | None = None,
) -> BandwidthCurve:
    """Held-out log-likelihood of a kernel density estimate for a grid of bandwidths.

    Equivalent to ``GridSearchCV(KernelDensity(kernel=kernel), {"bandwidth":
    bandwidths}, cv=cv)`` (same folds, same scores, same choice) but the
    distances of each fold are computed once and every bandwidth is scored
    from them, block by block.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    bandwidths : array-like of shape (n_bandwidths,), default=None
        Positive isotropic bandwidths; ``None``: a tenth to ten times a
        normal-reference pilot, 21 values.
    kernel : str, default="gaussian"
    cv : int, splitter or iterable, default=5
        An int means ``KFold(cv)`` (no shuffling), as GridSearchCV.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the training rows and of the held-out log-likelihoods.
    n_jobs : int, default=None

    Returns
    -------
    BandwidthCurve

    Examples
    --------
    >>> import numpy as np
    >>> import lookalike as la
    >>> X = np.random.default_rng(0).normal(size=(300, 1))
    >>> curve = la.cross_validate_bandwidth(X, np.logspace(-1, 0, 5))
    >>> curve.fold_scores.shape
    (5, 5)
    >>> bool(curve.best_bandwidth in curve.bandwidths)
    True
    """
    data = validate_data(
        KernelDensity(), X, dtype=np.float64, order="C", skip_check_array=False, reset=True
    )
    if kernel not in KERNELS:
        raise InvalidParameterError(
            f"The 'kernel' parameter must be one of {', '.join(map(repr, KERNEL_NAMES))}. "
            f"Got {kernel!r} instead."
        )
    weights = check_sample_weight(sample_weight, data.shape[0])
    grid = (
        _automatic_grid(data, weights, KERNELS[kernel])
        if bandwidths is None
        else _check_grid(bandwidths)
    )
    centred = data - _weighted_mean(data, weights)
    splitter = check_cv(cv)
    fold_scores = []
    total = np.zeros(len(grid))
    total_weight = 0.0
    for train, test in splitter.split(centred):
        train_weights = None if weights is None else weights[train]
        if train_weights is not None and not train_weights.sum() > 0:
            raise ValueError("A training fold has zero total sample weight.")
        log_densities = held_out_log_densities(
            centred[train], train_weights, centred[test], KERNELS[kernel], grid, n_jobs
        )
        if weights is None:
            scores = log_densities.sum(axis=1)
            total_weight += len(test)
        else:
            test_weights = weights[test]
            with np.errstate(invalid="ignore"):
                scores = np.where(test_weights > 0, log_densities, 0.0) @ test_weights
            total_weight += float(test_weights.sum())
        fold_scores.append(scores)
        total += scores
    folds = np.array(fold_scores)
    mean = total / total_weight
    best = int(np.argmax(folds.mean(axis=0)))
    return BandwidthCurve(grid, mean, folds, best, float(grid[best]))
