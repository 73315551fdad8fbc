"""The four covariance structures of a Gaussian mixture, as registry objects.

A mixture's ``covariance_type`` is decoded once, here: :data:`STRUCTURES`
maps each name to an object that knows its structure's shapes, parameter
count, precision factor, log-density terms, M-step and dense form, so that
consumers call ``structure(covariance_type).method(...)`` instead of testing
the string. Pure functions on arrays, no validation.

Shapes, with ``k`` components and ``d`` features (covariances, precisions and
precision Cholesky factors alike)::

    name         covariances   one matrix per component   diagonal
    "full"       (k, d, d)     yes                         no
    "tied"       (d, d)        no (one shared)             no
    "diag"       (k, d)        yes                         yes
    "spherical"  (k,)          yes                         yes

Every component is held by the Cholesky factor ``U`` of its precision
(``P = U U^T``, ``U`` upper triangular, as scikit-learn's
``precisions_cholesky_``; the square roots of the precisions for diag and
spherical). The log-density terms are those of the expanded form of
:mod:`lookalike._math.gaussian`; the M-step maps the moments of
:mod:`lookalike._math.em` to covariances.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import linalg

__all__ = [
    "COVARIANCE_TYPES",
    "STRUCTURES",
    "CovarianceStructure",
    "covariance_of_precision_cholesky",
    "outer_triu",
    "precision_cholesky_of_matrix",
    "precision_cholesky_of_precision",
    "structure",
    "symmetric_from_triu",
    "triu_pairs",
    "triu_with_doubled_offdiagonal",
]


# --------------------------------------------------------------------------------------
# One matrix: precision factors and packed triangles


def precision_cholesky_of_matrix(covariance: np.ndarray) -> np.ndarray:
    """Upper-triangular ``U`` with ``U U^T = inv(covariance)``.

    Raises ``numpy.linalg.LinAlgError`` when ``covariance`` is not positive
    definite.
    """
    lower = np.linalg.cholesky(covariance)
    identity = np.eye(covariance.shape[0], dtype=covariance.dtype)
    return linalg.solve_triangular(lower, identity, lower=True).T


def covariance_of_precision_cholesky(precision_cholesky: np.ndarray) -> np.ndarray:
    """``inv(U U^T)`` for an upper-triangular ``U``, through its inverse."""
    identity = np.eye(precision_cholesky.shape[0], dtype=precision_cholesky.dtype)
    u_inverse = linalg.solve_triangular(precision_cholesky, identity, lower=False)
    return u_inverse.T @ u_inverse


def precision_cholesky_of_precision(precision: np.ndarray) -> np.ndarray:
    """Upper-triangular ``U`` with ``U U^T = precision``.

    The exchange matrix ``J`` turns a lower Cholesky factor of ``J P J`` into
    the upper factor of ``P``: ``P = (J L J)(J L J)^T``.
    """
    flipped = np.linalg.cholesky(precision[::-1, ::-1])
    return np.ascontiguousarray(flipped[::-1, ::-1])


def triu_pairs(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle, row by row."""
    return np.triu_indices(n_features)


def outer_triu(xt: np.ndarray) -> np.ndarray:
    """Upper triangle of ``x x^T`` for every column of ``xt``: shape (d(d+1)/2, b).

    Built one triangle row at a time with contiguous writes; no (d, d, b) array.
    """
    d, b = xt.shape
    out = np.empty((d * (d + 1) // 2, b), dtype=xt.dtype)
    start = 0
    for i in range(d):
        stop = start + d - i
        np.multiply(xt[i : i + 1], xt[i:], out=out[start:stop])
        start = stop
    return out


def symmetric_from_triu(packed: np.ndarray, n_features: int) -> np.ndarray:
    """Symmetric matrices from their packed upper triangles (last axis)."""
    rows, cols = triu_pairs(n_features)
    out = np.zeros((*packed.shape[:-1], n_features, n_features), dtype=packed.dtype)
    out[..., rows, cols] = packed
    out[..., cols, rows] = packed
    return out


def triu_with_doubled_offdiagonal(matrices: np.ndarray) -> np.ndarray:
    """Pack symmetric matrices so that ``packed @ outer_triu(x) = x^T M x``."""
    n_features = matrices.shape[-1]
    rows, cols = triu_pairs(n_features)
    packed = matrices[..., rows, cols].copy()
    packed[..., rows != cols] *= 2.0
    return packed


# --------------------------------------------------------------------------------------
# The structures


class CovarianceStructure:
    """One covariance structure: what every consumer needs to know about it.

    Attributes
    ----------
    name : str
        The ``covariance_type`` value.
    per_component : bool
        Each component has its own covariance (False for ``"tied"``).
    diagonal : bool
        Covariances are variances (``"diag"``, ``"spherical"``): no matrices.
    """

    name: ClassVar[str]
    per_component: ClassVar[bool] = True
    diagonal: ClassVar[bool] = False

    # Shapes and counts -----------------------------------------------------------------

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the covariances (and precisions, and their factors)."""
        raise NotImplementedError

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters in the covariances of a mixture of this structure."""
        raise NotImplementedError

    def n_quadratic_features(self, n_features: int) -> int:
        """Rows of :meth:`quadratic_features` (for sizing blocks)."""
        raise NotImplementedError

    def second_moment_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the second moments the E-step accumulates."""
        raise NotImplementedError

    # Stacks of matrices (full and tied) ------------------------------------------------

    def stack(self, array: np.ndarray) -> np.ndarray:
        """Per-component arrays: tied gains a leading axis of one, the others are as given."""
        return array

    def unstack(self, stacked: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`stack`."""
        return stacked

    # Precision factors -------------------------------------------------------------------

    def precisions_from_cholesky(self, factors: np.ndarray) -> np.ndarray:
        """Precision matrices ``U U^T`` (or squared scales) from their factors."""
        return factors**2

    def covariances_from_precisions_cholesky(self, factors: np.ndarray) -> np.ndarray:
        """Covariances implied by precision Cholesky factors."""
        return 1.0 / factors**2

    def precision_cholesky_of_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Precision Cholesky factors of (positive definite) precisions."""
        return np.sqrt(precisions)

    def precision_cholesky_of_covariances(self, covariances: np.ndarray) -> np.ndarray:
        """Precision Cholesky factors of (positive definite) covariances.

        Raises ``numpy.linalg.LinAlgError`` for a matrix that is not positive
        definite; diagonal structures give NaN or infinite factors instead.
        """
        return 1.0 / np.sqrt(covariances)

    def log_det_precision_cholesky(self, factors: np.ndarray, n_features: int) -> np.ndarray:
        """``sum(log(diag(U)))``, half the log-determinant of each precision.

        An array of shape (n_components,), a scalar array for tied.
        """
        raise NotImplementedError

    # Dense forms -------------------------------------------------------------------------

    def dense(self, covariances: np.ndarray, n_features: int) -> np.ndarray:
        """Covariances as full matrices: (k, d, d), or (d, d) for tied."""
        return covariances

    def dense_per_component(
        self, covariances: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """Covariances as one full matrix per component: (k, d, d)."""
        return self.dense(covariances, n_features)

    def feature_variances(self, covariances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Each component's variance of each feature, broadcast to ``shape`` (k, d)."""
        raise NotImplementedError

    # Log-density terms -------------------------------------------------------------------

    def quadratic_features(self, xt: np.ndarray) -> np.ndarray:
        """Column statistics from which the quadratic term and second moments follow.

        For a feature-major block ``xt`` (d, b): full: upper triangle of
        ``x x^T`` (d(d+1)/2, b); diag: ``x * x`` (d, b); spherical: ``||x||^2``
        (1, b); tied: ``xt`` itself, because the tied quadratic term is one
        whitened norm.
        """
        raise NotImplementedError

    def expand(
        self, means: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(quadratic, linear, mahalanobis_of_means)`` of the expanded log-densities.

        ``log N_k(x) = quadratic_k(x) + linear[k] @ x + constant[k]`` with
        ``constant`` built from ``mahalanobis_of_means`` (``mu_k^T P_k mu_k``)
        and the log-determinants; see
        :class:`~lookalike._math.gaussian.ExpandedGaussians` for the shapes.
        """
        raise NotImplementedError

    def quadratic_term(
        self, xt: np.ndarray, features: np.ndarray, quadratic: np.ndarray
    ) -> np.ndarray:
        """The quadratic part of every log-density: (k, b), or (b,) shared by all (tied)."""
        return quadratic @ features

    # M-step ------------------------------------------------------------------------------

    def second_moments(
        self,
        xt: np.ndarray,
        features: np.ndarray,
        weighted_resp: np.ndarray,
        row_weights: np.ndarray | None,
    ) -> np.ndarray:
        """A block's second moments about the shift, in this structure's layout."""
        return weighted_resp @ features.T

    def covariances_from_moments(
        self,
        second: np.ndarray,
        counts: np.ndarray,
        raw_counts: np.ndarray,
        means: np.ndarray,
        reg_covar: float,
        tied_correction: np.ndarray | None,
    ) -> np.ndarray:
        """Covariances from the summed second moments (see :func:`lookalike._math.em.m_step`).

        ``counts`` include the floor, ``raw_counts`` do not; ``tied_correction``
        (tied only) is added to the pooled scatter before ``reg_covar``.
        """
        raise NotImplementedError

    def sum_over_features(self, second: np.ndarray) -> np.ndarray:
        """Per-feature second moments (k, d) in this structure's layout (diagonal only)."""
        return second

    def scales_per_component(self, scales: np.ndarray) -> np.ndarray:
        """Per-feature scales (k, d) reduced to what one component's variance covers."""
        return scales

    # Marginals, conditionals, sampling -------------------------------------------------

    def marginal(
        self, means: np.ndarray, covariances: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Means (k, f) and covariances of the marginal over ``features`` (in that order)."""
        raise NotImplementedError

    def diagonal_regression(
        self, covariances: np.ndarray, known: np.ndarray, missing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Conditional variances of ``missing`` and precision factors of ``known`` (diagonal)."""
        raise NotImplementedError

    def sampling_factors(
        self, factors: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        """``A_k`` (k, d, d) with ``z @ A_k ~ N(0, Sigma_k)`` for standard normal rows ``z``.

        With ``P = U U^T`` we have ``Sigma = U^{-T} U^{-1}``, so ``A = U^{-1}``.
        """
        raise NotImplementedError

    def conditional_sampling_factors(self, covariances: np.ndarray) -> np.ndarray:
        """``B_k`` with ``z @ B_k ~ N(0, S_k)``: transposed lower Cholesky factors, or scales."""
        return np.sqrt(covariances)

    def scale_noise(self, noise: np.ndarray, factors: np.ndarray, component: int) -> np.ndarray:
        """Standard normal rows ``noise`` (b, m) turned into draws from ``component``."""
        return noise * factors[component]


class Full(CovarianceStructure):
    """A full covariance matrix per component."""

    name = "full"

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * (n_features * (n_features + 1) // 2)

    def n_quadratic_features(self, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def second_moment_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features * (n_features + 1) // 2)

    def precisions_from_cholesky(self, factors: np.ndarray) -> np.ndarray:
        return np.matmul(factors, np.swapaxes(factors, 1, 2))

    def covariances_from_precisions_cholesky(self, factors: np.ndarray) -> np.ndarray:
        return np.stack([covariance_of_precision_cholesky(u) for u in factors])

    def precision_cholesky_of_precisions(self, precisions: np.ndarray) -> np.ndarray:
        return np.stack([precision_cholesky_of_precision(p) for p in precisions])

    def precision_cholesky_of_covariances(self, covariances: np.ndarray) -> np.ndarray:
        return np.stack([precision_cholesky_of_matrix(c) for c in covariances])

    def log_det_precision_cholesky(self, factors: np.ndarray, n_features: int) -> np.ndarray:
        return np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)

    def feature_variances(self, covariances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return np.diagonal(covariances, axis1=1, axis2=2)

    def quadratic_features(self, xt: np.ndarray) -> np.ndarray:
        return outer_triu(xt)

    def expand(
        self, means: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        precisions = self.precisions_from_cholesky(factors)
        linear = np.einsum("kij,kj->ki", precisions, means)
        quadratic = -0.5 * triu_with_doubled_offdiagonal(precisions)
        return quadratic, linear, np.einsum("ki,ki->k", linear, means)

    def covariances_from_moments(
        self,
        second: np.ndarray,
        counts: np.ndarray,
        raw_counts: np.ndarray,
        means: np.ndarray,
        reg_covar: float,
        tied_correction: np.ndarray | None,
    ) -> np.ndarray:
        n_features = means.shape[1]
        # 2 - N_k^0 / N_k = 1 + COUNT_FLOOR / N_k: the two-pass scatter (see em.m_step).
        mean_factor = 2.0 - raw_counts / counts
        matrices = symmetric_from_triu(second, n_features) / counts[:, None, None]
        scaled_means = means * mean_factor[:, np.newaxis]
        covariances = matrices - scaled_means[:, :, np.newaxis] * means[:, np.newaxis, :]
        covariances = 0.5 * (covariances + np.swapaxes(covariances, 1, 2))
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
        return covariances

    def marginal(
        self, means: np.ndarray, covariances: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return means[:, features], covariances[:, features[:, None], features[None, :]]

    def sampling_factors(
        self, factors: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        eye = np.eye(n_features)
        return np.stack([np.linalg.solve(u, eye) for u in factors])

    def conditional_sampling_factors(self, covariances: np.ndarray) -> np.ndarray:
        return np.swapaxes(np.linalg.cholesky(covariances), 1, 2)

    def scale_noise(self, noise: np.ndarray, factors: np.ndarray, component: int) -> np.ndarray:
        return noise @ factors[component]


class Tied(CovarianceStructure):
    """One full covariance matrix shared by all components."""

    name = "tied"
    per_component = False

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def n_quadratic_features(self, n_features: int) -> int:
        return n_features

    def second_moment_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def stack(self, array: np.ndarray) -> np.ndarray:
        return array[np.newaxis]

    def unstack(self, stacked: np.ndarray) -> np.ndarray:
        return stacked[0]

    def precisions_from_cholesky(self, factors: np.ndarray) -> np.ndarray:
        return factors @ factors.T

    def covariances_from_precisions_cholesky(self, factors: np.ndarray) -> np.ndarray:
        return covariance_of_precision_cholesky(factors)

    def precision_cholesky_of_precisions(self, precisions: np.ndarray) -> np.ndarray:
        return precision_cholesky_of_precision(precisions)

    def precision_cholesky_of_covariances(self, covariances: np.ndarray) -> np.ndarray:
        return precision_cholesky_of_matrix(covariances)

    def log_det_precision_cholesky(self, factors: np.ndarray, n_features: int) -> np.ndarray:
        return np.log(np.diagonal(factors)).sum()

    def dense_per_component(
        self, covariances: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        return np.broadcast_to(covariances, (n_components, n_features, n_features))

    def feature_variances(self, covariances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return np.broadcast_to(np.diagonal(covariances), shape)

    def quadratic_features(self, xt: np.ndarray) -> np.ndarray:
        return xt

    def expand(
        self, means: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        whitened_means = means @ factors
        linear = whitened_means @ factors.T
        mahalanobis = np.einsum("kj,kj->k", whitened_means, whitened_means)
        return factors.T, linear, mahalanobis

    def quadratic_term(
        self, xt: np.ndarray, features: np.ndarray, quadratic: np.ndarray
    ) -> np.ndarray:
        whitened = quadratic @ xt
        return -0.5 * np.einsum("ij,ij->j", whitened, whitened)

    def second_moments(
        self,
        xt: np.ndarray,
        features: np.ndarray,
        weighted_resp: np.ndarray,
        row_weights: np.ndarray | None,
    ) -> np.ndarray:
        # The pooled scatter uses w_i alone, like scikit-learn's tied estimator, which
        # equals sum_k w_i r_ik whenever responsibilities sum to one.
        weighted_rows = xt if row_weights is None else xt * row_weights.astype(xt.dtype)
        return weighted_rows @ xt.T

    def covariances_from_moments(
        self,
        second: np.ndarray,
        counts: np.ndarray,
        raw_counts: np.ndarray,
        means: np.ndarray,
        reg_covar: float,
        tied_correction: np.ndarray | None,
    ) -> np.ndarray:
        n_features = means.shape[1]
        between = (means.T * counts) @ means
        covariances = (second - between) / counts.sum()
        if tied_correction is not None:
            covariances += tied_correction
        covariances = 0.5 * (covariances + covariances.T)
        covariances[np.arange(n_features), np.arange(n_features)] += reg_covar
        return covariances

    def marginal(
        self, means: np.ndarray, covariances: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return means[:, features], covariances[np.ix_(features, features)]

    def sampling_factors(
        self, factors: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        a = np.linalg.solve(factors, np.eye(n_features))
        return np.broadcast_to(a, (n_components, *a.shape))

    def conditional_sampling_factors(self, covariances: np.ndarray) -> np.ndarray:
        return np.linalg.cholesky(covariances).T

    def scale_noise(self, noise: np.ndarray, factors: np.ndarray, component: int) -> np.ndarray:
        return noise @ factors


class Diag(CovarianceStructure):
    """A diagonal covariance (one variance per feature) per component."""

    name = "diag"
    diagonal = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def n_quadratic_features(self, n_features: int) -> int:
        return n_features

    def second_moment_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def log_det_precision_cholesky(self, factors: np.ndarray, n_features: int) -> np.ndarray:
        return np.log(factors).sum(axis=1)

    def dense(self, covariances: np.ndarray, n_features: int) -> np.ndarray:
        return covariances[:, :, np.newaxis] * np.eye(n_features)

    def feature_variances(self, covariances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return covariances

    def quadratic_features(self, xt: np.ndarray) -> np.ndarray:
        return xt * xt

    def expand(
        self, means: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        precisions = factors**2
        linear = precisions * means
        return -0.5 * precisions, linear, np.einsum("kj,kj->k", linear, means)

    def covariances_from_moments(
        self,
        second: np.ndarray,
        counts: np.ndarray,
        raw_counts: np.ndarray,
        means: np.ndarray,
        reg_covar: float,
        tied_correction: np.ndarray | None,
    ) -> np.ndarray:
        return second / counts[:, np.newaxis] - means**2 + reg_covar

    def marginal(
        self, means: np.ndarray, covariances: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return means[:, features], covariances[:, features]

    def diagonal_regression(
        self, covariances: np.ndarray, known: np.ndarray, missing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return covariances[:, missing], 1.0 / np.sqrt(covariances[:, known])

    def sampling_factors(
        self, factors: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        return np.stack([np.diag(1.0 / u) for u in factors])


class Spherical(CovarianceStructure):
    """One variance per component, shared by all features."""

    name = "spherical"
    diagonal = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def n_quadratic_features(self, n_features: int) -> int:
        return 1

    def second_moment_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, 1)

    def log_det_precision_cholesky(self, factors: np.ndarray, n_features: int) -> np.ndarray:
        return n_features * np.log(factors)

    def dense(self, covariances: np.ndarray, n_features: int) -> np.ndarray:
        return covariances[:, np.newaxis, np.newaxis] * np.eye(n_features)

    def feature_variances(self, covariances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return np.broadcast_to(np.asarray(covariances)[:, np.newaxis], shape)

    def quadratic_features(self, xt: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->j", xt, xt)[np.newaxis, :]

    def expand(
        self, means: np.ndarray, factors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        precisions = factors**2
        linear = precisions[:, np.newaxis] * means
        quadratic = -0.5 * precisions[:, np.newaxis]
        return quadratic, linear, precisions * np.einsum("kj,kj->k", means, means)

    def quadratic_term(
        self, xt: np.ndarray, features: np.ndarray, quadratic: np.ndarray
    ) -> np.ndarray:
        return quadratic * features

    def covariances_from_moments(
        self,
        second: np.ndarray,
        counts: np.ndarray,
        raw_counts: np.ndarray,
        means: np.ndarray,
        reg_covar: float,
        tied_correction: np.ndarray | None,
    ) -> np.ndarray:
        n_features = means.shape[1]
        mean_square = second[:, 0] / counts
        return (mean_square - (means**2).sum(axis=1)) / n_features + reg_covar

    def sum_over_features(self, second: np.ndarray) -> np.ndarray:
        return second.sum(axis=1, keepdims=True)

    def scales_per_component(self, scales: np.ndarray) -> np.ndarray:
        return scales.mean(axis=1)

    def marginal(
        self, means: np.ndarray, covariances: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return means[:, features], covariances.copy()

    def diagonal_regression(
        self, covariances: np.ndarray, known: np.ndarray, missing: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return covariances.copy(), 1.0 / np.sqrt(covariances)

    def sampling_factors(
        self, factors: np.ndarray, n_components: int, n_features: int
    ) -> np.ndarray:
        return np.stack([np.eye(n_features) / u for u in factors])


#: ``covariance_type`` -> its structure; the keys are the allowed values.
STRUCTURES: dict[str, CovarianceStructure] = {
    kind.name: kind() for kind in (Full, Tied, Diag, Spherical)
}
COVARIANCE_TYPES = tuple(STRUCTURES)


def structure(covariance_type: str) -> CovarianceStructure:
    """The structure named ``covariance_type`` (KeyError for an unknown name)."""
    return STRUCTURES[covariance_type]
