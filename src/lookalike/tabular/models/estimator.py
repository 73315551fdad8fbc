"""EstimatorModel: any lookalike density estimator as a joint model of the model space.

The Gaussian families of the Synthesizer (``"gaussian"``: one normal, a Gaussian
copula; ``"gmm"``: a Gaussian mixture, a mixture copula; ``"kde"``: a Gaussian kernel
density) and a user's own estimator (``model=`` an unfitted estimator) fit the matrix
of normal scores. A missing numeric value has no score; it is filled with a standard
normal draw before fitting (its missing indicator, a separate dimension, carries the
missingness, and the filled score is discarded when decoding).

A Gaussian kernel density is sampled *variance-matched* (Silverman 1986, section
6.4.1): each draw ``z_i + h e`` is shrunk by ``1 / sqrt(1 + h^2)`` per dimension, so the
scores keep the unit variance that their codecs decode to the observed marginals
(unshrunk, every marginal would come out too wide and rare levels too frequent).

The estimator's marginals are then *calibrated*: a fitted model's marginal of a score
is close to, not exactly, the standard normal its codec decodes (a mixture fitted to
a 1% level puts a little more or less than 1% of its mass in that level's interval).
Each score is mapped through ``Phi^{-1}(G_j(z))``, with ``G_j`` the model's own marginal
CDF (analytic for Gaussian mixtures of up to :data:`ANALYTIC_COMPONENTS` components,
else the empirical CDF of :data:`CALIBRATION_DRAWS` draws), so every marginal decodes
to the observed one; the map is monotone per score, so the dependence the model learned
is kept (its copula is unchanged). Conditions are mapped back through the same maps.

With ``first`` (a discrete column: the ``levels`` of the Synthesizer's
:class:`~lookalike.tabular.models.registry.Leads`)
and the single normal :class:`~lookalike.gaussian.Gaussian`, each level of that column
gets a Gaussian copula of its own (a class-conditional copula, as quadratic
discriminant analysis models each class with its own normal):

- every other score is mapped, within the level's rows, through the level's own
  marginal (:mod:`lookalike._math.score_maps`: ``w = Phi^{-1}(F_l(z))``, with ``F_l``
  the level's kernel-smoothed CDF of that score), so a level keeps its own marginals:
  its rows' scores are a piece of the whole column's normal, often skewed or cut off,
  which one normal per level would spread past the level's range. A continuous score
  whose level's rows do not reject a normal (Shapiro-Wilk at
  :data:`LEVEL_NORMAL_ALPHA`, mostly small levels) keeps the identity map: the
  normal is the better-determined model there;
- one normal per level is fitted to the mapped scores: a Gaussian mixture whose
  components are the levels, weighted by their rates, with covariances shrunk towards
  the pooled one (:func:`_level_mixture`);
- a draw from component ``l`` is mapped back through level ``l``'s maps.

The column's own scores are set to the middle of their level's interval first, so each
component stays inside its level and a drawn row's label is the one whose rows its
other columns follow; one normal for the whole table would tie the label to the other
columns only linearly. A column with more than :data:`MAX_LEVEL_COMPONENTS` levels, or
a numeric one, is modelled with the others. Conditions are mapped into each level's
scale (a point also weights its level by the map's slope there, the Jacobian).

Conditions are met exactly, without rejection, for every estimator that is a Gaussian
mixture (``GaussianMixture``, ``Gaussian``, and ``KernelDensity`` with the Gaussian
kernel): :func:`lookalike._math.truncated.conditional_mixture_draws`. Other estimators
(for example ``ReducedDensity``) draw rows and keep those that meet the conditions;
:attr:`EstimatorModel.acceptance_` then records the share kept, and too low a share is
an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, clone

from lookalike._math.marginals import normal_scores, uniforms
from lookalike._math.score_maps import (
    check_score_maps,
    fit_score_map,
    from_map_scores,
    identity_map,
    to_map_scores,
)
from lookalike._math.truncated import conditional_mixture_draws
from lookalike._restore import check_float_array, has_fitted_state, is_int, require
from lookalike.exceptions import InvalidParameterError, NotFittedError
from lookalike.tabular.columns import ModelDim
from lookalike.tabular.models.base import (
    Conditions,
    check_first,
    discrete_column_dims,
    generator,
    level_bounds,
    level_codes,
    satisfied,
)

#: Rejection (estimators that are not Gaussian mixtures): stop after this many draws per row.
MAX_DRAWS_PER_ROW = 1000
MAX_BATCH = 100_000
#: Marginal calibration: grid of normal scores, analytic CDFs up to this many components,
#: otherwise the empirical CDF of this many draws.
CALIBRATION_GRID = np.linspace(-9.0, 9.0, 2049)
ANALYTIC_COMPONENTS = 256
CALIBRATION_DRAWS = 50_000
#: ``first`` splits a Gaussian by the levels of a column with at most this many levels.
MAX_LEVEL_COMPONENTS = 20
#: A level keeps a normal for a continuous score unless a Shapiro-Wilk test rejects it
#: at this level (:func:`_level_maps`).
LEVEL_NORMAL_ALPHA = 0.05


class EstimatorModel(BaseEstimator):
    """A lookalike density estimator fitted to the model space (see the module docstring).

    Parameters
    ----------
    estimator : estimator
        An unfitted lookalike density estimator with ``fit`` and ``sample``; it is
        cloned.
    random_state : None, int, RandomState or Generator, default=None
        Seeds the filled-in scores, the estimator (when it has a ``random_state``) and,
        when ``sample`` gets none, the sampling.
    first : str or None, default=None
        A discrete column whose levels each get their own normal when ``estimator``
        is a :class:`~lookalike.gaussian.Gaussian` (see the module docstring); other
        estimators take no ``first``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator.
    acceptance_ : float or None
        Share of drawn rows kept by the last conditioned ``sample`` that needed
        rejection (None when no rejection was needed).
    level_maps_ : ndarray of shape (n_levels, n_dims, KNOTS) or None
        With ``first`` split into levels: the knots of each level's map of each score
        (:mod:`lookalike._math.score_maps`; the identity for ``first``'s own scores);
        ``estimator_`` is then fitted to the mapped scores. None otherwise.
    """

    def __init__(self, estimator: Any, random_state: Any = None, first: str | None = None) -> None:
        self.estimator = estimator
        self.random_state = random_state
        self.first = first

    def fit(self, Z: np.ndarray, dims: Sequence[ModelDim]) -> Self:
        """Fit the estimator to ``Z`` with missing scores filled by normal draws."""
        if not (hasattr(self.estimator, "fit") and hasattr(self.estimator, "sample")):
            raise TypeError(
                "model must be a density estimator with fit and sample (e.g. "
                f"lookalike.GaussianMixture(3)); got {self.estimator!r}."
            )
        check_first(self.first, dims, type(self).__name__)
        if self.first is not None and type(self.estimator).__name__ != "Gaussian":
            raise InvalidParameterError(
                "The 'first' parameter of EstimatorModel needs a lookalike.Gaussian "
                f"estimator (one copula per level); got {self.estimator!r}."
            )
        rng = generator(self.random_state)
        Z = np.array(Z, dtype=np.float64)
        holes = np.isnan(Z)
        Z[holes] = rng.standard_normal(int(holes.sum()))
        estimator = clone(self.estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=int(rng.integers(0, 2**31 - 1)))
        labels = level_codes(Z, dims, self.first) if splits_by_levels(dims, self.first) else None
        self.level_maps_: np.ndarray | None = None
        if labels is not None and labels.max() >= 1:
            groups = [np.flatnonzero(labels == label) for label in range(int(labels.max()) + 1)]
            seed = int(rng.integers(0, 2**31 - 1))
            _set_level_middles(Z, dims, self.first)
            self.level_maps_ = _level_maps(Z, dims, self.first, groups)
            Z = self._map(Z, labels)
            estimator = _level_mixture(estimator, Z, groups, seed)
        return self._adopt(estimator.fit(Z), Z, rng)

    def _map(self, Z: np.ndarray, labels: np.ndarray, inverse: bool = False) -> np.ndarray:
        """Scores of rows from levels ``labels`` through their level's maps (or back)."""
        if self.level_maps_ is None:
            return Z
        maps = self.level_maps_
        out = np.empty_like(Z)
        for label in range(maps.shape[0]):
            rows = np.flatnonzero(labels == label)
            for j in range(Z.shape[1]):
                if inverse:
                    out[rows, j] = from_map_scores(maps[label, j], Z[rows, j])
                else:
                    out[rows, j] = to_map_scores(maps[label, j], Z[rows, j])[0]
        return out

    @classmethod
    def from_fitted(
        cls, estimator: Any, fitted: Any, n_dims: int, random_state: Any = None
    ) -> Self:
        """An EstimatorModel around ``fitted``, an estimator fitted elsewhere.

        For a fit that did not see the scores as one array (the partitioned EM of a
        Synthesizer fitted on a Dask cluster, :mod:`lookalike.tabular.partitioned_model`):
        ``estimator`` is the unfitted estimator (the ``estimator`` parameter),
        ``fitted`` the same estimator fitted to the normal scores (missing ones
        filled by standard normal draws) and ``n_dims`` their number of columns. A
        kernel density needs its training rows and cannot be adopted this way.
        """
        if _is_gaussian_kde(getattr(fitted, "best_estimator_", fitted)):
            raise ValueError("A KernelDensity needs its training rows; fit it with fit(Z, dims).")
        model = cls(estimator, random_state=random_state)
        model.level_maps_ = None
        return model._adopt(fitted, np.empty((0, int(n_dims))), generator(random_state))

    def _adopt(self, fitted: Any, Z: np.ndarray, rng: np.random.Generator) -> Self:
        # A ModelSearch samples from its best candidate.
        self.estimator_ = getattr(fitted, "best_estimator_", fitted)
        self.n_dims_ = Z.shape[1]
        self.training_rows_ = Z if _is_gaussian_kde(self.estimator_) else None
        self.acceptance_: float | None = None
        self.calibration_ = self._marginal_cdfs(rng)
        return self

    def _marginal_cdfs(self, rng: np.random.Generator) -> np.ndarray:
        """The model's marginal CDF of every score on :data:`CALIBRATION_GRID`, (d, g)."""
        mixture = self.mixture_parameters()
        grid = CALIBRATION_GRID
        if (
            mixture is not None
            and mixture[0].size <= ANALYTIC_COMPONENTS
            and self.level_maps_ is None
        ):
            weights, means, covariances = mixture
            sds = np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))  # (k or 1, d)
            cdfs = np.einsum(
                "k,kdg->dg",
                weights / weights.sum(),
                uniforms((grid[None, None, :] - means[:, :, None]) / sds[:, :, None]),
            )
        else:
            draws = self._raw_draws(CALIBRATION_DRAWS, {}, rng)
            cdfs = np.stack([np.searchsorted(np.sort(col), grid, side="right") for col in draws.T])
            cdfs = cdfs / draws.shape[0]
        # Strictly increasing, from 0 to 1, so that the map can be inverted.
        ramp = np.linspace(0.0, 1.0, grid.size)
        return (1.0 - 1e-9) * cdfs + 1e-9 * ramp

    def _to_calibrated(self, raw: np.ndarray) -> np.ndarray:
        out = np.empty_like(raw)
        for j in range(raw.shape[1]):
            out[:, j] = normal_scores(np.interp(raw[:, j], CALIBRATION_GRID, self.calibration_[j]))
        return out

    def _to_raw(self, j: int, z: float) -> float:
        u = float(uniforms(np.array([z]))[0])
        return float(np.interp(u, self.calibration_[j], CALIBRATION_GRID))

    def sample(
        self, n: int, conditions: Conditions | None = None, random_state: Any = None
    ) -> np.ndarray:
        """``n`` rows meeting ``conditions`` exactly (see the module docstring)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("This EstimatorModel is not fitted yet; call fit first.")
        rng = generator(self.random_state if random_state is None else random_state)
        raw_conditions = {}
        for j, condition in (conditions or {}).items():
            ends = tuple(self._to_raw(j, float(v)) for v in condition[1:])
            raw_conditions[j] = (condition[0], *ends)
        return self._to_calibrated(self._raw_draws(n, raw_conditions, rng))

    def _raw_draws(self, n: int, conditions: Conditions, rng: np.random.Generator) -> np.ndarray:
        """Draws of the estimator itself (uncalibrated scores) meeting ``conditions``."""
        mixture = self.mixture_parameters()
        if not conditions and (mixture is None or self.training_rows_ is None):
            return self._draw(n, rng)
        if mixture is not None:
            points = {j: float(c[1]) for j, c in conditions.items() if c[0] == "point"}
            intervals = {
                j: (float(c[1]), float(c[2])) for j, c in conditions.items() if c[0] == "interval"
            }
            if self.level_maps_ is None:
                return conditional_mixture_draws(*mixture, points, intervals, n, rng)[0]
            return self._level_draws(mixture, points, intervals, n, rng)
        return self._reject(n, conditions, rng)

    def _level_draws(
        self,
        mixture: tuple[np.ndarray, np.ndarray, np.ndarray],
        points: dict[int, float],
        intervals: dict[int, tuple[float, float]],
        n: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Conditioned draws of the per-level copulas: conditions in each level's scale."""
        maps = np.asarray(self.level_maps_)
        weights, means, covariances = mixture
        weights = weights.copy()
        level_points: dict[int, float | np.ndarray] = {}
        for j, z in points.items():
            level_points[j], slopes = _in_each_level(maps[:, j], z)
            weights *= slopes  # the Jacobian of each level's map at the point
        level_intervals: dict[int, tuple[float | np.ndarray, float | np.ndarray]] = {
            j: (_in_each_level(maps[:, j], low)[0], _in_each_level(maps[:, j], high)[0])
            for j, (low, high) in intervals.items()
        }
        draws, labels = conditional_mixture_draws(
            weights, means, covariances, level_points, level_intervals, n, rng
        )
        return self._map(draws, labels, inverse=True)

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        drawn = self.estimator_.sample(n, random_state=rng)
        labels = None
        if isinstance(drawn, tuple):
            drawn, labels = drawn[0], drawn[1]
        drawn = np.asarray(drawn, dtype=np.float64)
        if self.level_maps_ is not None:
            drawn = self._map(drawn, np.asarray(labels), inverse=True)
        # Mixtures return rows grouped by component: shuffle them.
        return drawn[rng.permutation(n)]

    def _reject(self, n: int, conditions: Conditions, rng: np.random.Generator) -> np.ndarray:
        kept: list[np.ndarray] = []
        collected = drawn = 0
        batch = max(256, 2 * n)
        while collected < n:
            rows = self._draw(batch, rng)
            rows = rows[satisfied(rows, conditions)]
            kept.append(rows)
            collected += rows.shape[0]
            drawn += batch
            if collected < n and drawn >= MAX_DRAWS_PER_ROW * max(n, 100):
                raise ValueError(
                    f"{type(self.estimator_).__name__} has no exact conditionals, and only "
                    f"{collected} of {drawn} drawn rows met the conditions; use a Gaussian "
                    "family (model='gmm', 'gaussian' or 'kde') or model='trees'/'cells', "
                    "which condition exactly."
                )
            rate = max(collected / drawn, 1.0 / drawn)
            batch = min(MAX_BATCH, int(1.2 * (n - collected) / rate) + 16)
        self.acceptance_ = collected / drawn
        return np.concatenate(kept)[:n]

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The fitted estimator (checked by its own class first) draws rows of
        ``n_dims_`` scores; every calibration map is finite, strictly increasing
        and within [0, 1]; a Gaussian kernel density keeps its training rows
        (its means), other estimators none.
        """
        estimator = self.estimator
        require(
            hasattr(estimator, "fit") and hasattr(estimator, "sample"),
            "estimator must be a density estimator with fit and sample",
        )
        require(self.first is None or isinstance(self.first, str), "first must be a str or None")
        if not has_fitted_state(self):
            return
        if not hasattr(self, "level_maps_"):  # a file from before per-level maps
            self.level_maps_ = None
        d = self.n_dims_
        require(is_int(d) and d >= 1, "n_dims_ must be a positive int")
        fitted = self.estimator_
        require(
            hasattr(fitted, "sample") and getattr(fitted, "n_features_in_", d) == d,
            f"estimator_ must be a fitted density on {d} dimensions",
        )
        level_maps = self.level_maps_
        if level_maps is not None:
            check_score_maps(level_maps, "level_maps_")
            require(
                level_maps.ndim == 3
                and level_maps.shape[1] == d
                and level_maps.shape[0] == getattr(fitted, "n_components", -1),
                f"level_maps_ must hold one map per level (component) and each of {d} scores",
            )
        maps = check_float_array(self.calibration_, "calibration_", (d, CALIBRATION_GRID.size))
        require(
            bool(np.all(np.diff(maps, axis=1) > 0) and np.all((maps >= 0) & (maps <= 1 + 1e-9))),
            "calibration_ maps must increase strictly within [0, 1]",
        )
        rows = self.training_rows_
        if _is_gaussian_kde(fitted):
            rows = check_float_array(rows, "training_rows_")
            require(
                rows.ndim == 2 and rows.shape[1] == d and rows.shape[0] >= 1,
                f"training_rows_ must be a matrix of {d} columns",
            )
        else:
            require(rows is None, "training_rows_ must be None for this estimator")
        acceptance = self.acceptance_
        require(
            acceptance is None or (isinstance(acceptance, float) and 0 < acceptance <= 1),
            "acceptance_ must be None or a float in (0, 1]",
        )

    def check_dims(self, dims: Sequence[ModelDim]) -> None:
        """Raise ValueError unless the model was fitted on the model space ``dims``."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("This EstimatorModel is not fitted yet; call fit first.")
        require(self.n_dims_ == len(dims), "the model's dimensions disagree with the encoder's")

    def mixture_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(weights, means, covariances)`` when the estimator is a Gaussian mixture.

        Covariances have shape (k, d, d), or (1, d, d) when all components share one.
        """
        estimator = self.estimator_
        d = self.n_dims_
        if self.training_rows_ is not None:
            bandwidth = np.asarray(estimator.bandwidth_, dtype=np.float64)
            if bandwidth.ndim == 0:
                cov = float(bandwidth) ** 2 * np.eye(d)
            elif bandwidth.ndim == 1:
                cov = np.diag(bandwidth**2)
            else:
                cov = bandwidth
            # Variance-matched: each score keeps unit variance, as its codec expects.
            shrink = 1.0 / np.sqrt(1.0 + np.diag(cov))
            n = self.training_rows_.shape[0]
            means = self.training_rows_ * shrink
            cov = cov * np.outer(shrink, shrink)
            return np.full(n, 1.0 / n), means, cov[np.newaxis]
        if not all(hasattr(estimator, a) for a in ("weights_", "means_", "covariances_")):
            return None
        kind = getattr(estimator, "covariance_type", "full")
        means = np.asarray(estimator.means_, dtype=np.float64)
        covariances = np.asarray(estimator.covariances_, dtype=np.float64)
        k = means.shape[0]
        if kind == "full":
            dense = covariances
        elif kind == "tied":
            dense = covariances[np.newaxis]
        elif kind == "diag":
            dense = covariances[:, :, np.newaxis] * np.eye(d)
        else:
            dense = np.asarray(covariances).reshape(-1)[:, None, None] * np.eye(d)
        if dense.shape[0] not in (1, k):
            return None
        return np.asarray(estimator.weights_, dtype=np.float64), means, dense


def _in_each_level(maps: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """The score ``z`` through each level's map (knots ``maps``, (k, KNOTS)), and the slopes."""
    pairs = [to_map_scores(knots, np.array([z])) for knots in maps]
    return np.array([w[0] for w, _ in pairs]), np.array([slope[0] for _, slope in pairs])


def splits_by_levels(dims: Sequence[ModelDim], first: str | None) -> bool:
    """Whether a Gaussian with ``first`` fits one copula per level of that column.

    True for a discrete column of 2 to :data:`MAX_LEVEL_COMPONENTS` levels (all its
    dimensions together).
    """
    own = discrete_column_dims(dims, first)
    if own is None:
        return False
    return 2 <= int(np.prod([dims[j].levels for j in own])) <= MAX_LEVEL_COMPONENTS


def _set_level_middles(Z: np.ndarray, dims: Sequence[ModelDim], column: str | None) -> None:
    """Set ``column``'s scores in ``Z`` to the middle of their level's interval (in place).

    A component of one level's rows then holds them to within ``sqrt(reg_covar)``.
    """
    for j, dim in enumerate(dims):
        if dim.column == column:
            bounds = level_bounds(dim)
            middles = normal_scores(0.5 * (bounds[:-1] + bounds[1:]))
            Z[:, j] = middles[dim.codes(Z[:, j])]


def _level_maps(
    Z: np.ndarray, dims: Sequence[ModelDim], column: str | None, groups: list[np.ndarray]
) -> np.ndarray:
    """Each level's map of each score, (levels, dims, KNOTS); the identity for ``column``.

    A discrete score always gets its level's own map (a level's rates of another
    column's categories are what it must keep, and they are never normal); a
    continuous one only when its level's rows reject a normal
    (:data:`LEVEL_NORMAL_ALPHA`): a small level is then described by a normal, which
    two parameters determine better than a curve.
    """

    def level_map(z: np.ndarray, dim: ModelDim) -> np.ndarray:
        if dim.column == column:
            return identity_map()
        return fit_score_map(z, normal_alpha=None if dim.discrete else LEVEL_NORMAL_ALPHA)

    return np.stack(
        [[level_map(Z[rows, j], dim) for j, dim in enumerate(dims)] for rows in groups]
    )


def _level_mixture(gaussian: Any, Z: np.ndarray, groups: list[np.ndarray], seed: int) -> Any:
    """A Gaussian mixture with one normal per group of rows (level), fitted without EM.

    Level ``l`` (``n_l`` of the ``n`` rows) gets weight ``n_l / n``, its rows' mean, and
    their covariance shrunk towards the pooled within-level covariance as by
    ``d + 1`` prior rows (the posterior mean under a normal-inverse-Wishart prior
    centred on the pooled covariance, Friedman's regularised discriminant analysis):
    ``(n_l S_l + (d + 1) S_pooled) / (n_l + d + 1)``, plus ``reg_covar``. A level with
    fewer rows than dimensions then still gets a full-rank covariance of its shape.

    References
    ----------
    Friedman, J. H. (1989). Regularized discriminant analysis. *JASA* 84(405), 165-175.
    """
    from lookalike.mixture import GaussianMixture

    n, d = Z.shape
    sizes = np.array([rows.size for rows in groups], dtype=np.float64)
    means = np.stack([Z[rows].mean(axis=0) for rows in groups])
    scatters = np.stack(
        [(Z[rows] - mean).T @ (Z[rows] - mean) for rows, mean in zip(groups, means, strict=True)]
    )
    pooled = scatters.sum(axis=0) / n
    prior = d + 1.0
    covariances = (scatters + prior * pooled) / (sizes + prior)[:, None, None]
    covariances += float(gaussian.reg_covar) * np.eye(d)
    return GaussianMixture(
        len(groups),
        reg_covar=float(gaussian.reg_covar),
        max_iter=0,
        weights_init=sizes / n,
        means_init=means,
        precisions_init=np.linalg.inv(covariances),
        random_state=seed,
    )


def _is_gaussian_kde(estimator: Any) -> bool:
    return type(estimator).__name__ == "KernelDensity" and (
        getattr(estimator, "kernel", "gaussian") == "gaussian"
    )
