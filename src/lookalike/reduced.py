"""ReducedDensity: reduce with PCA, model the density there, map back with an honest density.

A density fitted on principal-component scores is a density of the scores, not of
the data: it ignores the discarded directions and the volume change of whitening,
so its log-likelihoods cannot be compared with a model fitted on the data. This
module completes it into a proper density on the original space (it integrates to
one) by adding the probabilistic-PCA noise model in the discarded directions
(Tipping & Bishop, 1999) and the Jacobian of the reduction; :meth:`sample` draws
from the same distribution.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.decomposition import PCA
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from lookalike._math.blocks import block_rows, row_slices
from lookalike._restore import (
    check_float_array,
    check_n_features,
    has_fitted_state,
    is_int,
    require,
)
from lookalike._validation import (
    RandomStateLike,
    as_random_state,
    check_n_samples,
    check_scale,
    validate_data,
)
from lookalike.mixture import GaussianMixture

# A residual variance below this fraction of the mean retained variance (data lying
# exactly in a subspace, or fewer samples than features) is raised to it, so that
# log-densities stay finite: off-subspace offsets at rounding level (1e-16 relative)
# then cost nothing, while real offsets are heavily penalised.
RESIDUAL_VARIANCE_FLOOR = 1e-12

# The methods each wrapped object needs; checked at fit time.
_REQUIRED_METHODS = {
    "estimator": ("fit", "score_samples", "sample"),
    "reducer": ("fit_transform", "transform", "inverse_transform"),
}
# Attributes that make a reducer "PCA-like": a linear, orthonormal projection with a
# probabilistic-PCA residual variance (sklearn's PCA and IncrementalPCA have them).
_PCA_ATTRIBUTES = ("components_", "mean_", "explained_variance_", "noise_variance_")


def _default_reducer() -> PCA:
    return PCA(n_components=0.99, whiten=True, svd_solver="full")


def _estimator_has_n_parameters(self: ReducedDensity) -> bool:
    """``bic``/``aic`` exist only when the density estimator counts its parameters."""
    estimator = getattr(self, "estimator_", None)
    if estimator is None:
        estimator = GaussianMixture() if self.estimator is None else self.estimator
    return hasattr(estimator, "_n_parameters")


# --------------------------------------------------------------------------------------
# The maths of the residual model, on plain arrays


def residual_square_norms(
    X: np.ndarray, mean: np.ndarray, components: np.ndarray, rows_per_block: int
) -> np.ndarray:
    """``||r||^2`` with ``r = (x - mean) - V^T V (x - mean)``, in row blocks.

    ``components`` is ``V`` of shape (q, d) with orthonormal rows. The residual is
    formed explicitly (not as ``||x - mean||^2 - ||V (x - mean)||^2``) so that small
    residuals keep their relative accuracy. Returns shape (n_samples,), float64.
    """
    out = np.empty(X.shape[0], dtype=np.float64)
    for rows in row_slices(X.shape[0], rows_per_block):
        centred = np.asarray(X[rows], dtype=np.float64) - mean
        centred -= (centred @ components.T) @ components
        out[rows] = np.einsum("ij,ij->i", centred, centred)
    return out


def project_out(noise: np.ndarray, components: np.ndarray, rows_per_block: int) -> np.ndarray:
    """``noise - (noise V^T) V`` in place: the part of each row orthogonal to ``V``'s rows."""
    for rows in row_slices(noise.shape[0], rows_per_block):
        block = noise[rows]
        block -= (block @ components.T) @ components
    return noise


def log_residual_density(
    square_norms: np.ndarray, n_discarded: int, variance: float
) -> np.ndarray:
    """``log N(r; 0, variance I_m)`` from ``||r||^2``, with ``m = n_discarded``."""
    log_normaliser = -0.5 * n_discarded * math.log(2.0 * math.pi * variance)
    return log_normaliser - square_norms / (2.0 * variance)


def ppca_n_parameters(n_features: int, n_components: int) -> int:
    """Free parameters of a probabilistic PCA: mean, loadings and the residual variance.

    ``d`` for the mean, ``d q - q (q - 1) / 2`` for the orthonormal components with
    their ``q`` eigenvalues (equivalently the loading matrix ``W`` up to rotation) and
    one residual variance when ``q < d``.
    """
    d, q = n_features, n_components
    return d + d * q - q * (q - 1) // 2 + (1 if q < d else 0)


# --------------------------------------------------------------------------------------
# The estimator


class ReducedDensity(DensityMixin, BaseEstimator):
    """A density fitted on principal components, as a normalised density of the data.

    The data are reduced (by default with ``PCA(n_components=0.99, whiten=True)``),
    a density estimator is fitted to the reduced coordinates, and the result is
    turned back into a density on the original space that integrates to one: the
    reduced coordinates follow the fitted density and the discarded directions are
    isotropic Gaussian noise, as in probabilistic PCA. Held-out log-likelihoods of
    reduced and unreduced models are therefore comparable, and :meth:`sample`
    draws from the same distribution that :meth:`score_samples` evaluates.

    Parameters
    ----------
    estimator : density estimator, default=None
        Any estimator with ``fit``, ``score_samples`` and ``sample`` (a lookalike
        :class:`~lookalike.mixture.GaussianMixture`, ``KernelDensity`` or
        ``Gaussian``). ``None`` means ``GaussianMixture()``. Cloned at fit.
    reducer : transformer, default=None
        An unfitted invertible reduction with ``fit_transform``, ``transform`` and
        ``inverse_transform``. ``None`` means
        ``PCA(n_components=0.99, whiten=True, svd_solver="full")``. A density on the
        original space (:meth:`score_samples`, :meth:`score`, :meth:`bic`,
        :meth:`aic`) needs a PCA-like reducer (:class:`sklearn.decomposition.PCA`
        or :class:`~sklearn.decomposition.IncrementalPCA`, whitened or not); other
        reducers support :meth:`fit` and :meth:`sample` only. Cloned at fit.

    Attributes
    ----------
    reducer_ : transformer
        The fitted clone of ``reducer``.
    estimator_ : density estimator
        The fitted clone of ``estimator``, a density of the reduced coordinates.
    n_components_ : int
        Reduced dimension ``q``.
    residual_variance_ : float or None
        ``sigma^2``, the variance of each discarded direction: the probabilistic-PCA
        value (``reducer_.noise_variance_``, the mean discarded eigenvalue), at least
        ``RESIDUAL_VARIANCE_FLOOR`` (1e-12) times the mean retained eigenvalue; 0.0
        when nothing is discarded (``q == d``); ``None`` for reducers that are not
        PCA-like.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.

    Notes
    -----
    With orthonormal components :math:`V` (q, d), mean :math:`\\mu` and retained
    eigenvalues :math:`\\lambda_1, \\dots, \\lambda_q`, the reduced coordinates are
    :math:`z = S^{-1} V (x - \\mu)` with :math:`S = \\mathrm{diag}(\\sqrt{\\lambda})`
    when whitening (:math:`S = I` otherwise), and the residual is
    :math:`r = (I - V^T V)(x - \\mu)`. The density is

    .. math::

        \\log p(x) = \\log p_z(z) - \\log\\det S
                     - \\frac{d - q}{2} \\log(2 \\pi \\sigma^2)
                     - \\frac{\\lVert r \\rVert^2}{2 \\sigma^2},

    the fitted density of :math:`z`, the volume change of whitening on the
    subspace, and the isotropic Gaussian of the :math:`d - q` discarded
    directions. With a single full-covariance Gaussian as ``estimator`` this is
    exactly probabilistic PCA. When ``q == d`` the last two terms vanish.
    Whitening scales are floored at machine epsilon as scikit-learn's PCA does.

    The reducer is fitted without weights (scikit-learn's PCA has none);
    ``sample_weight`` is forwarded to the density estimator only.

    :meth:`bic` and :meth:`aic` count the estimator's parameters plus those of
    probabilistic PCA: ``d`` (mean) ``+ d q - q (q - 1) / 2`` (components with
    their eigenvalues) ``+ 1`` (residual variance, when ``q < d``). They exist only
    when the estimator has ``_n_parameters`` (``GaussianMixture`` does).

    References
    ----------
    M. E. Tipping and C. M. Bishop, "Probabilistic principal component analysis",
    Journal of the Royal Statistical Society B, 61(3), 611-622, 1999.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from lookalike.mixture import GaussianMixture
    >>> from lookalike.reduced import ReducedDensity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 2)) @ [[3.0, 1.0, 0.0], [0.0, 1.0, 2.0]]
    >>> X += 0.01 * rng.standard_normal((200, 3))
    >>> model = ReducedDensity(GaussianMixture(random_state=0), PCA(2)).fit(X)
    >>> model.n_components_, bool(model.residual_variance_ < 1e-3)
    (2, True)
    >>> model.score_samples(X[:3]).shape
    (3,)
    >>> model.sample(5, random_state=0).shape
    (5, 3)
    """

    def __init__(self, estimator: Any = None, reducer: Any = None) -> None:
        self.estimator = estimator
        self.reducer = reducer

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Fit the reducer on X, then the density estimator on the reduced coordinates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Forwarded to the density estimator's ``fit``; the reducer is unweighted.

        Returns
        -------
        self : ReducedDensity
        """
        estimator = GaussianMixture() if self.estimator is None else self.estimator
        reducer = _default_reducer() if self.reducer is None else self.reducer
        for name, value in (("estimator", estimator), ("reducer", reducer)):
            missing = [m for m in _REQUIRED_METHODS[name] if not hasattr(value, m)]
            if missing:
                raise TypeError(
                    f"The {name!r} parameter of ReducedDensity must have the methods "
                    f"{', '.join(_REQUIRED_METHODS[name])}; {value!r} lacks "
                    f"{', '.join(missing)}."
                )
        if sample_weight is not None and not has_fit_parameter(estimator, "sample_weight"):
            raise TypeError(
                f"{type(estimator).__name__}.fit does not accept sample_weight; use an "
                "estimator that does (GaussianMixture, KernelDensity) or fit without weights."
            )
        data: np.ndarray = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        check_scale(data, min_spread=True)
        reducer_ = clone(reducer)
        reduced = np.asarray(reducer_.fit_transform(data))
        if reduced.ndim != 2 or reduced.shape[0] != data.shape[0]:
            raise ValueError(
                f"The reducer returned an array of shape {reduced.shape}; expected "
                f"({data.shape[0]}, n_components)."
            )
        estimator_ = clone(estimator)
        if sample_weight is None:
            estimator_.fit(reduced)
        else:
            estimator_.fit(reduced, sample_weight=sample_weight)
        self.reducer_ = reducer_
        self.estimator_ = estimator_
        self.n_components_ = int(reduced.shape[1])
        self.residual_variance_ = self._residual_variance()
        return self

    def _is_pca_like(self) -> bool:
        return all(hasattr(self.reducer_, name) for name in _PCA_ATTRIBUTES)

    def _residual_variance(self) -> float | None:
        if not self._is_pca_like():
            return None
        if self.n_components_ == self.n_features_in_:
            return 0.0
        retained = np.asarray(self.reducer_.explained_variance_, dtype=np.float64)
        floor = RESIDUAL_VARIANCE_FLOOR * float(np.mean(retained)) if retained.size else 0.0
        # All-constant data leave nothing to scale the floor by: use the smallest normal.
        floor = max(floor, float(np.finfo(np.float64).tiny))
        return max(float(self.reducer_.noise_variance_), floor)

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The reducer and the density (each checked by its own class first) must
        chain: the reducer maps ``n_features_in_`` features to
        ``n_components_``, the density's space; a PCA-like reducer's arrays
        have those shapes, and the residual variance is finite and >= 0.
        """
        if not has_fitted_state(self):
            return
        d = check_n_features(self)
        k = self.n_components_
        require(is_int(k) and 1 <= k <= d, f"n_components_ must be in [1, {d}]")
        for name, value in (("estimator_", self.estimator_), ("reducer_", self.reducer_)):
            missing = [m for m in _REQUIRED_METHODS[name[:-1]] if not hasattr(value, m)]
            require(not missing, f"{name} lacks {', '.join(missing)}")
        require(
            getattr(self.reducer_, "n_features_in_", d) == d,
            "reducer_ does not take n_features_in_ features",
        )
        require(
            getattr(self.estimator_, "n_features_in_", k) == k,
            "estimator_ does not model n_components_ features",
        )
        variance = self.residual_variance_
        if self._is_pca_like():
            check_float_array(self.reducer_.components_, "reducer_.components_", (k, d))
            check_float_array(self.reducer_.mean_, "reducer_.mean_", (d,))
            retained = check_float_array(
                self.reducer_.explained_variance_, "reducer_.explained_variance_", (k,)
            )
            require(bool(np.all(retained >= 0)), "reducer_.explained_variance_ is negative")
            require(
                isinstance(variance, float) and math.isfinite(variance) and variance >= 0,
                "residual_variance_ must be a finite float >= 0",
            )
        else:
            require(variance is None, "residual_variance_ must be None for this reducer")

    # ----------------------------------------------------------------------------------
    # Density

    def _check_pca_like(self) -> None:
        if not self._is_pca_like():
            raise TypeError(
                f"A density in the original space needs a PCA-like reducer (with "
                f"{', '.join(_PCA_ATTRIBUTES)}), such as sklearn.decomposition.PCA or "
                f"IncrementalPCA; {type(self.reducer_).__name__} has none, so only fit "
                "and sample are available."
            )

    def _variance_of_residual(self) -> float:
        variance = self.residual_variance_
        if variance is None:  # pragma: no cover - callers check _is_pca_like first
            raise TypeError("this reducer has no residual model")
        return float(variance)

    def _log_jacobian(self) -> float:
        """``log |det dz/du|`` for ``u = V (x - mean)``: ``-sum log sqrt(lambda)`` if whitened."""
        if not getattr(self.reducer_, "whiten", False):
            return 0.0
        variances = np.asarray(self.reducer_.explained_variance_)
        # The same floor as scikit-learn's PCA.transform puts on the whitening scale.
        eps = float(np.finfo(variances.dtype).eps)
        scales = np.maximum(np.sqrt(variances.astype(np.float64)), eps)
        return -float(np.sum(np.log(scales)))

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density ``log p(x)`` of every row in the original space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        self._check_pca_like()
        data: np.ndarray = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_scale(data, terms=data.shape[1])
        reduced = self.reducer_.transform(data)
        log_density = np.asarray(self.estimator_.score_samples(reduced), dtype=np.float64)
        log_density = log_density + self._log_jacobian()
        n_discarded = self.n_features_in_ - self.n_components_
        if n_discarded > 0:
            variance = self._variance_of_residual()
            components = np.asarray(self.reducer_.components_, dtype=np.float64)
            mean = np.asarray(self.reducer_.mean_, dtype=np.float64)
            square_norms = residual_square_norms(
                data, mean, components, block_rows(3 * 8 * self.n_features_in_)
            )
            log_density += log_residual_density(square_norms, n_discarded, variance)
        return log_density

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """Mean log-density of the rows (the convention of ``GaussianMixture.score``)."""
        return float(np.mean(self.score_samples(X)))

    # ----------------------------------------------------------------------------------
    # Sampling

    def sample(
        self, n_samples: int = 1, random_state: RandomStateLike = None, residual: bool = True
    ) -> np.ndarray:
        """Draw rows in the original space.

        Reduced coordinates are drawn with the estimator's ``sample`` and mapped back
        with ``reducer_.inverse_transform``; with ``residual=True`` isotropic noise
        of variance ``residual_variance_`` is added in the discarded directions, so
        the rows follow the density of :meth:`score_samples`.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, RandomState or Generator, default=None
            Passed to the estimator's ``sample`` (``None`` lets the estimator use its
            own ``random_state``); the residual noise is then drawn from the same
            stream (from NumPy's global ``RandomState`` when ``None``).
        residual : bool, default=True
            Add the noise in the discarded directions. ``False`` gives the classic
            projection-only images, which lie on the principal subspace. Reducers
            that are not PCA-like have no residual model: their rows are the images.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples, self.n_features_in_, minimum=0)
        source: Any = random_state
        if random_state is not None and not isinstance(
            random_state, np.random.RandomState | np.random.Generator
        ):
            source = as_random_state(random_state)  # an int: one stream for both draws
        drawn = self.estimator_.sample(n_samples, random_state=source)
        reduced = drawn[0] if isinstance(drawn, tuple) else drawn
        images = np.asarray(self.reducer_.inverse_transform(reduced), dtype=np.float64)
        n_discarded = self.n_features_in_ - self.n_components_
        if not residual or not self._is_pca_like() or n_discarded == 0:
            return images
        rng = as_random_state(None) if source is None else source
        noise = rng.standard_normal((images.shape[0], self.n_features_in_))
        components = np.asarray(self.reducer_.components_, dtype=np.float64)
        project_out(noise, components, block_rows(2 * 8 * self.n_features_in_))
        noise *= math.sqrt(self._variance_of_residual())
        images += noise
        return images

    # ----------------------------------------------------------------------------------
    # Information criteria

    def _n_parameters(self) -> int:
        """The estimator's free parameters plus probabilistic PCA's (see Notes)."""
        check_is_fitted(self)
        self._check_pca_like()
        return int(self.estimator_._n_parameters()) + ppca_n_parameters(
            self.n_features_in_, self.n_components_
        )

    @available_if(_estimator_has_n_parameters)
    def bic(self, X: npt.ArrayLike) -> float:
        """Bayesian information criterion ``-2 log L + p log n`` (lower is better)."""
        n_samples = np.shape(X)[0]
        log_likelihood = self.score(X) * n_samples
        return float(-2.0 * log_likelihood + self._n_parameters() * math.log(n_samples))

    @available_if(_estimator_has_n_parameters)
    def aic(self, X: npt.ArrayLike) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better)."""
        n_samples = np.shape(X)[0]
        return float(-2.0 * self.score(X) * n_samples + 2.0 * self._n_parameters())
