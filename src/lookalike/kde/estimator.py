"""KernelDensity: a drop-in for ``sklearn.neighbors.KernelDensity`` that is exact and fast.

The class validates, resolves the bandwidth (:mod:`lookalike.kde.bandwidth`)
and hands the kernel sums to an evaluation strategy
(:mod:`lookalike.kde.evaluation`: exact, or binned by FFT); the arithmetic
lives in :mod:`lookalike._math`: kernels and their samplers in
:mod:`~lookalike._math.kernels`, exact blocked evaluation in
:mod:`~lookalike._math.kernel_sums`, the binned path in
:mod:`~lookalike._math.binned`, bandwidth rules in
:mod:`~lookalike._math.bandwidth` and the vectorised cross-validation in
:mod:`~lookalike._math.cross_validation`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from scipy.special import gammainc
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import VALID_METRICS
from sklearn.utils.validation import check_is_fitted

from lookalike._math import binned
from lookalike._math.distances import squared_scaled_metric
from lookalike._math.kernel_sums import TrainingPoints, log_kernel_sums, prepare_training_points
from lookalike._math.kernels import KERNEL_NAMES, KERNELS, Kernel
from lookalike._math.stats import weighted_mean
from lookalike._parallel import block_map
from lookalike._validation import (
    ArrayLikeOrNone,
    Boolean,
    Constraint,
    CrossValidation,
    DictOrNone,
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
from lookalike.exceptions import InvalidParameterError
from lookalike.kde.bandwidth import (
    BandwidthParameter,
    Scaling,
    automatic_grid,
    check_grid,
    cross_validated_bandwidth,
    resolve_bandwidth,
)
from lookalike.kde.conditional import GaussianKDEConditioningMixin
from lookalike.kde.cv import BandwidthCurve, bandwidth_curve
from lookalike.kde.evaluation import Binned, Exact, FittedPoints
from lookalike.kde.restore import check_restored_kde
from lookalike.partitions import map_rows, total_and_count

__all__ = ["DEFAULT_GRID_POINTS", "KernelDensity", "cross_validate_bandwidth"]

TREE_METRICS = {"kd_tree": VALID_METRICS["kd_tree"], "ball_tree": VALID_METRICS["ball_tree"]}
ALL_METRICS = tuple(dict.fromkeys(TREE_METRICS["kd_tree"] + TREE_METRICS["ball_tree"]))

# Grid nodes per dimension of score_grid by default.
DEFAULT_GRID_POINTS = {1: 1024, 2: 256, 3: 64}

_PARAMETERS: dict[str, Constraint] = {
    "bandwidth": BandwidthParameter(),
    "algorithm": Options(("auto", "exact", "binned", "kd_tree", "ball_tree")),
    "kernel": Options(KERNEL_NAMES),
    "metric": Options(ALL_METRICS),
    "atol": Interval(0.0, None),
    "rtol": Interval(0.0, None),
    "breadth_first": Boolean(),
    "leaf_size": Interval(1, None, integer=True),
    "metric_params": DictOrNone(),
    "bandwidth_grid": ArrayLikeOrNone(),
    "cv": CrossValidation(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
}


class KernelDensity(GaussianKDEConditioningMixin, DensityMixin, BaseEstimator):
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

    # Caches that model files leave out; _restore_check rebuilds them.
    _transient_state: ClassVar[frozenset[str]] = frozenset({"_prepared", "_unit"})

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
        validate_params(self, _PARAMETERS)
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
        bandwidth = resolve_bandwidth(
            self.bandwidth, data, weights, kernel, self._cross_validated_bandwidth
        )
        if not self._euclidean and np.ndim(bandwidth) > 0:
            raise ValueError(
                f"An anisotropic bandwidth needs metric='euclidean'; got metric={self.metric!r}. "
                "Use a scalar bandwidth with this metric."
            )
        self.bandwidth_ = bandwidth

        # The mean, kept inside the data's range: the rounded mean of constant data may
        # miss the value by an ulp, which at a tiny bandwidth is beyond float64's range.
        centre = np.clip(weighted_mean(data, weights), data.min(axis=0), data.max(axis=0))
        self._scaling = Scaling.of(self.bandwidth_, centre)
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

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        check_restored_kde(self, _PARAMETERS, Scaling)

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

        def curve_of(data: np.ndarray, grid: np.ndarray) -> BandwidthCurve:
            return cross_validate_bandwidth(
                data,
                grid,
                kernel=kernel.name,
                cv=self.cv,
                sample_weight=weights,
                n_jobs=self.n_jobs,
            )

        best, curve = cross_validated_bandwidth(X, weights, kernel, self.bandwidth_grid, curve_of)
        self.cv_results_ = {
            "bandwidths": curve.bandwidths,
            "mean_log_likelihood": curve.mean_log_likelihood,
            "fold_scores": curve.fold_scores,
        }
        return float(best)

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

    def _fitted_points(self) -> FittedPoints:
        """The fitted estimate as the evaluation strategies read it (Euclidean metric)."""
        return FittedPoints(
            self._unit,
            self._weights,
            KERNELS[self.kernel],
            lambda: self._training,
            block_map(self.n_jobs),
        )

    def _log_sums(self, queries: np.ndarray, allow_binned: bool = True) -> np.ndarray:
        """Log kernel sums at validated queries, by the strategy ``algorithm`` picks.

        :class:`~lookalike.kde.evaluation.Binned` when it applies and its plan
        pays (it evaluates exactly the queries outside its grid and those whose
        own error bound exceeds the tolerance), else
        :class:`~lookalike.kde.evaluation.Exact`.
        """
        if not self._euclidean:
            return log_kernel_sums(
                queries,
                self._training,
                KERNELS[self.kernel],
                block_map(self.n_jobs),
                squared_distance=self._metric_distance(),
            )
        unit = self._scaling.to_unit(queries)
        points = self._fitted_points()
        if allow_binned:
            strategy = Binned(self.algorithm, self.rtol)
            plan = strategy.plan(points, unit)
            if plan is not None:
                values = strategy.log_sums(points, unit, plan)
                if values is not None:
                    return values
        return Exact.log_sums(points, unit)

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
        log_sums = self._binned_grid(mesh, limits, int(n_points))
        if log_sums is None:
            log_sums = self._log_sums(mesh, allow_binned=False)
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
        return self._scaling.feature_scales(self.n_features_in_)

    def _binned_grid(
        self, mesh: np.ndarray, limits: np.ndarray, n_points: int
    ) -> np.ndarray | None:
        """Log kernel sums at the grid's nodes by the binned strategy, or None for exact.

        The FFT grid is axis-aligned in the data's coordinates, so only scalar
        and per-feature bandwidths (Euclidean metric) are binned; the plan is
        :meth:`~lookalike.kde.evaluation.Binned.grid_plan`.
        """
        if not self._euclidean or self._scaling.factor.ndim == 2:
            return None
        scales = self._feature_scales()
        step = float(np.max((limits[:, 1] - limits[:, 0]) / scales)) / (n_points - 1)
        strategy = Binned(self.algorithm, self.rtol)
        points = self._fitted_points()
        plan = strategy.grid_plan(points, step, n_points)
        if plan is None:
            return None
        unit_limits = (limits - self._scaling.centre[:, None]) / scales[:, None]

        def exact_at(mask: np.ndarray) -> np.ndarray:
            return Exact.log_sums(points, self._scaling.to_unit(mesh[mask]))

        return strategy.grid_log_sums(points, unit_limits, n_points, plan, exact_at)

    def _metric_distance(self) -> Any:
        metric = DistanceMetric.get_metric(self.metric, **(self.metric_params or {}))
        return squared_scaled_metric(metric.pairwise, float(self.bandwidth_))

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """Total log-likelihood of the rows (a sum, as scikit-learn's KernelDensity)."""
        scores = self.score_samples(X)
        if is_partitioned(scores):
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
        automatic_grid(data, weights, KERNELS[kernel])
        if bandwidths is None
        else check_grid(bandwidths)
    )
    return bandwidth_curve(data, weights, grid, KERNELS[kernel], cv, n_jobs)
