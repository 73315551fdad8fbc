"""Gaussian: one multivariate normal distribution as a scikit-learn density estimator.

Fitting is closed-form (weighted maximum likelihood); the fitted state is also
stored in the shapes of a one-component :class:`~lookalike.mixture.GaussianMixture`
(``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``), so
conditioning, imputation and plotting treat both alike.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy import linalg
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from lookalike._conditional import GaussianConditioningMixin
from lookalike._math import gaussian as gm
from lookalike._math.blocks import block_rows, row_slices
from lookalike._math.covariance import structure
from lookalike._math.far import log_posteriors
from lookalike._math.stats import weighted_scatter
from lookalike._restore import check_mixture_state, has_fitted_state, require
from lookalike._validation import (
    Constraint,
    Interval,
    Options,
    RandomStateLike,
    as_random_state,
    check_n_samples,
    check_sample_weight,
    check_scale,
    validate_data,
    validate_params,
)

_COVARIANCE_TYPES = ("full", "diag", "spherical")

_PARAMETERS: dict[str, Constraint] = {
    "covariance_type": Options(_COVARIANCE_TYPES),
    "reg_covar": Interval(0.0, None),
}

# A conditional variance (Cholesky pivot) below this fraction of the feature's
# variance means the feature is a linear combination of the previous ones up to
# rounding: the relative error of a computed covariance is a few eps times the
# number of rows, far below 1e-12 for any data set that fits in memory.
_SINGULAR_FRACTION = 1e-12

# The mean of a constant feature is computed to within a few ulps of the value,
# so its variance is then at most about (_MEAN_ULPS * eps * |x|)^2.
_MEAN_ULPS = 16.0


class Gaussian(GaussianConditioningMixin, DensityMixin, BaseEstimator):
    """A single (multivariate) normal distribution, fitted by maximum likelihood.

    In one dimension it agrees with :func:`scipy.stats.norm.fit`; in ``d``
    dimensions with :class:`scipy.stats.multivariate_normal` at the weighted
    sample mean and covariance (``ddof=0``).

    Parameters
    ----------
    covariance_type : {"full", "diag", "spherical"}, default="full"
        A full covariance matrix, a diagonal one (independent features), or one
        variance shared by all features (the mean of the per-feature variances).
    reg_covar : float, default=0.0
        Non-negative value added to the diagonal of the covariance.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    covariance_ : ndarray of shape (n_features, n_features) or (n_features,), or float
        Covariance matrix (full), variances (diag) or the common variance
        (spherical), including ``reg_covar``.
    weights_ : ndarray of shape (1,)
        ``[1.0]``: the fitted state as a one-component mixture.
    means_ : ndarray of shape (1, n_features)
    covariances_ : ndarray of shape (1, n_features, n_features), (1, n_features) or (1,)
    precisions_ : ndarray
        Inverse of ``covariances_``, same shape.
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``precision = U U^T`` (square roots of the
        precisions for diag and spherical), same shape.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.

    Notes
    -----
    With row weights ``w_i`` (ones by default) and ``W = sum_i w_i``:

    .. math::

        \\mu = \\frac{1}{W} \\sum_i w_i x_i, \\qquad
        \\Sigma = \\frac{1}{W} \\sum_i w_i (x_i - \\mu)(x_i - \\mu)^T + \\lambda I,

    with ``lambda = reg_covar``; diag keeps the diagonal of ``Sigma`` and
    spherical the mean of that diagonal. Both passes run over row blocks in
    float64 (also for float32 data), so memory does not grow with the number
    of rows; the fitted attributes then take X's dtype, as those of a
    one-component :class:`~lookalike.mixture.GaussianMixture` (and
    scikit-learn's) do. A covariance that is singular up to rounding (a constant feature,
    a feature that is a linear combination of others, more features than
    rows) raises a ``ValueError``: raise ``reg_covar``, or reduce the dimension
    with ``lookalike.ReducedDensity``.

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.gaussian import Gaussian
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 4.0], [4.0, 3.0]])
    >>> model = Gaussian().fit(X)
    >>> model.mean_.tolist()
    [2.5, 2.5]
    >>> model.covariance_.tolist()
    [[1.25, 0.75], [0.75, 1.25]]
    >>> model.sample(3, random_state=0).shape
    (3, 2)
    """

    def __init__(self, covariance_type: str = "full", reg_covar: float = 0.0) -> None:
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar

    @property
    def n_components(self) -> int:
        """Always 1: the model as a one-component mixture (setting 1 is a no-op)."""
        return 1

    @n_components.setter
    def n_components(self, value: int) -> None:
        if value != 1:
            raise ValueError(f"A Gaussian has exactly one component; got n_components={value!r}.")

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Estimate the mean and covariance (maximum likelihood, weighted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; an integer weight equals repeating the row.

        Returns
        -------
        self : Gaussian
        """
        validate_params(self, _PARAMETERS)
        data: np.ndarray = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        check_scale(data, min_spread=True)
        weights = check_sample_weight(sample_weight, data.shape[0])
        full = not structure(self.covariance_type).diagonal
        mean, scatter = weighted_scatter(data, weights, full)
        covariance = self._checked_covariance(data, mean, scatter)
        self._set_state(mean, covariance, data.dtype)
        return self

    def _checked_covariance(
        self, data: np.ndarray, mean: np.ndarray, scatter: np.ndarray
    ) -> np.ndarray:
        """``scatter + reg_covar`` (shaped by covariance_type); ValueError if singular."""
        n_samples, n_features = data.shape
        # Rounding noise of each feature's variance: the part from its mean's error.
        magnitude = np.max(np.abs(data), axis=0).astype(np.float64)
        noise = (_MEAN_ULPS * np.finfo(np.float64).eps * magnitude) ** 2
        if self.covariance_type == "full":
            covariance = scatter.copy()
            covariance[np.diag_indices(n_features)] += self.reg_covar
            floor = _SINGULAR_FRACTION * np.diagonal(scatter) + noise
            # LAPACK's info is the order of the first leading minor that is not positive.
            lower, info = linalg.lapack.dpotrf(covariance, lower=1, clean=1)
            if info > 0:
                raise ValueError(_singular_message(n_samples, n_features, int(info) - 1))
            pivots = np.diagonal(lower) ** 2
            below = np.flatnonzero(~(pivots > floor))
            if info != 0 or below.size:
                first = int(below[0]) if below.size else None
                raise ValueError(_singular_message(n_samples, n_features, first))
            return covariance
        if self.covariance_type == "diag":
            covariance = scatter + self.reg_covar
            below = np.flatnonzero(~(covariance > noise))
            if below.size:
                raise ValueError(_singular_message(n_samples, n_features, int(below[0])))
            return covariance
        covariance = np.asarray(scatter.mean() + self.reg_covar)
        if not covariance > noise.mean():
            raise ValueError(_singular_message(n_samples, n_features, None))
        return covariance

    def _set_state(
        self, mean: np.ndarray, covariance: np.ndarray, dtype: npt.DTypeLike = np.float64
    ) -> None:
        """Store the float64 estimates as attributes of ``dtype`` (X's)."""
        factors = structure(self.covariance_type).precision_cholesky_of_covariances(
            covariance[np.newaxis]
        )
        self.weights_ = np.ones(1, dtype=dtype)
        self.means_ = mean[np.newaxis, :].astype(dtype)
        self.covariances_ = covariance[np.newaxis].astype(dtype)
        self.precisions_cholesky_ = factors.astype(dtype)
        self.precisions_ = gm.precisions_from_cholesky(factors, self.covariance_type).astype(dtype)
        self._set_derived_attributes()

    def _set_derived_attributes(self) -> None:
        self.mean_ = self.means_[0].copy()
        if self.covariance_type == "spherical":
            self.covariance_ = float(self.covariances_[0])
        else:
            self.covariance_ = self.covariances_[0].copy()

    # ----------------------------------------------------------------------------------
    # Inference

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density ``log N(x | mean_, covariance_)`` of every row: shape (n_samples,).

        Computed in float64; float32 when X and the fitted attributes are both
        float32 (as :meth:`GaussianMixture.score_samples`). ``-inf`` for rows
        so far away that their log-density is below the dtype's range.
        """
        check_is_fitted(self)
        data: np.ndarray = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        mean = np.asarray(self.means_[0], dtype=np.float64)
        factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        expanded = gm.expand_gaussians(np.zeros((1, mean.size)), factors, self.covariance_type)
        n_samples, n_features = data.shape
        out = np.empty(n_samples)
        n_quadratic = n_features * (n_features + 1) // 2 if self.covariance_type == "full" else 1
        per_block = block_rows(8 * (2 * n_features + n_quadratic + 2))
        no_weight = np.zeros(1)
        for rows in row_slices(n_samples, per_block):
            with np.errstate(over="ignore", invalid="ignore"):  # far rows: recomputed below
                xt = gm.centred_block(data[rows], mean)
                features = gm.quadratic_features(xt, self.covariance_type)
                log_joint = gm.log_gaussians(xt, features, expanded, self.covariance_type)
            out[rows] = log_posteriors(
                log_joint, data[rows], mean, expanded, no_weight, self.covariance_type
            )[1]
        with np.errstate(over="ignore"):  # below float32's range: -inf
            return out.astype(np.result_type(data.dtype, self.means_.dtype), copy=False)

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """Mean log-density of the rows (as :meth:`GaussianMixture.score`)."""
        return float(np.mean(self.score_samples(X), dtype=np.float64))

    def sample(self, n_samples: int = 1, random_state: RandomStateLike = None) -> np.ndarray:
        """Draw rows from the fitted normal distribution.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, RandomState or Generator, default=None
            Randomness of this call. ``None`` draws from NumPy's global random
            state, so every call gives new rows (the estimator has no
            ``random_state`` of its own); an int gives the same rows every time.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float64
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples, self.n_features_in_)
        rng: Any = (
            random_state
            if isinstance(random_state, np.random.Generator)
            else as_random_state(random_state)
        )
        mean = np.asarray(self.means_[0], dtype=np.float64)
        noise = rng.standard_normal(size=(int(n_samples), mean.shape[0]))
        covariance = np.asarray(self.covariances_[0], dtype=np.float64)
        if not structure(self.covariance_type).diagonal:
            return mean + noise @ np.linalg.cholesky(covariance).T
        return mean + noise * np.sqrt(covariance)

    # ----------------------------------------------------------------------------------
    # Restoring from a model file

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        if not has_fitted_state(self):
            return
        check_mixture_state(self, _PARAMETERS, 1, em=False)
        mean, covariance = self.mean_, np.asarray(self.covariance_)
        require(
            isinstance(mean, np.ndarray) and np.array_equal(mean, self.means_[0]),
            "mean_ must equal means_[0]",
        )
        require(np.array_equal(covariance, self.covariances_[0]), "covariance_ != covariances_[0]")

    # ----------------------------------------------------------------------------------
    # Information criteria

    def _n_parameters(self) -> int:
        """Free parameters: ``d`` for the mean plus the covariance's."""
        n_features = self.n_features_in_
        covariance = gm.n_covariance_parameters(self.covariance_type, 1, n_features)
        return int(n_features + covariance)

    def bic(self, X: npt.ArrayLike) -> float:
        """Bayesian information criterion ``-2 log L + p log n`` (lower is better)."""
        n_samples = np.shape(X)[0]
        log_likelihood = self.score(X) * n_samples
        return float(-2 * log_likelihood + self._n_parameters() * math.log(n_samples))

    def aic(self, X: npt.ArrayLike) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better)."""
        n_samples = np.shape(X)[0]
        return float(-2 * self.score(X) * n_samples + 2 * self._n_parameters())


# --------------------------------------------------------------------------------------
# Messages


def _singular_message(n_samples: int, n_features: int, feature: int | None) -> str:
    where = (
        f" (feature {feature} is constant or a linear combination of the features before it)"
        if feature is not None
        else ""
    )
    return (
        f"The covariance of the data is singular{where}, so the Gaussian has no density: "
        f"n_samples={n_samples}, n_features={n_features}. Set reg_covar > 0 to regularise "
        "it, or reduce the dimension first with lookalike.ReducedDensity (PCA, then the "
        "density in the reduced space)."
    )
