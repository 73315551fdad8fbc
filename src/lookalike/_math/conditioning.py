"""Marginals and conditionals of Gaussian mixtures, exactly.

Pure functions on arrays: no validation, no estimator state. Shapes follow
:mod:`lookalike._math.gaussian` (``k`` components, ``d`` features).

Split the features of a component ``N(mu, S)`` into known ones ``o`` and
missing ones ``m``. The marginal of ``x_o`` is ``N(mu_o, S_oo)``, and the
conditional of ``x_m`` given ``x_o`` is Gaussian with (Schur complement)

.. math::

    \\mu_{m|o} = \\mu_m + A (x_o - \\mu_o), \\qquad A = S_{mo} S_{oo}^{-1},

    S_{m|o} = S_{mm} - S_{mo} S_{oo}^{-1} S_{om}.

Both come from one Cholesky factor ``S_oo = L L^T``: with ``W = L^{-1} S_om``,
``S_{m|o} = S_mm - W^T W`` and ``A^T = L^{-T} W`` (two triangular solves, no
inverse); the factorisation is :func:`lookalike._math.schur.schur_factors`, shared
with the missing-data E-step and the conditionals of kernel density estimates.
``A`` and ``S_{m|o}`` do not depend on ``x_o``, so they are computed once per
pattern of missing features and reused for every row with that pattern. For a
mixture the component weights are updated by Bayes' rule,

.. math::

    w_{k|o} \\propto w_k \\, N(x_o \\mid \\mu_{k,o}, S_{k,oo}),

evaluated in log space. The structure is kept: within a diagonal or spherical
component the features are independent, so ``A = 0`` and the conditional
covariance is the missing block itself (a conditional of a diag mixture is a
diag mixture, of a spherical one spherical); a tied mixture shares one Schur
complement, so its conditional is tied too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack

from lookalike._math import gaussian as gm
from lookalike._math.covariance import structure
from lookalike._math.logspace import log_normalise
from lookalike._math.schur import lapack_result, schur_factors


class GaussianRegression(NamedTuple):
    """What conditioning on a fixed set of known features needs, per component.

    Attributes
    ----------
    known, missing : ndarray of int
        Feature indices (``o`` and ``m`` of them).
    coefficients : ndarray or None
        Regression coefficients ``A_k = S_k,mo S_k,oo^{-1}``: full (k, m, o),
        tied (m, o); ``None`` for diag and spherical (``A = 0``).
    covariances : ndarray
        Conditional covariances ``S_k,m|o`` shaped by the covariance type over
        ``m`` features: full (k, m, m), tied (m, m), diag (k, m), spherical (k,).
    marginal_precisions_cholesky : ndarray
        Precision factors ``U`` of the known blocks ``S_k,oo`` (``U U^T =
        S_k,oo^{-1}``): full (k, o, o), tied (o, o), diag (k, o), spherical (k,).
    """

    known: np.ndarray
    missing: np.ndarray
    coefficients: np.ndarray | None
    covariances: np.ndarray
    marginal_precisions_cholesky: np.ndarray


# --------------------------------------------------------------------------------------
# Marginals and mixture moments


def marginal_parameters(
    means: np.ndarray, covariances: np.ndarray, covariance_type: str, features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Means (k, f) and covariances of the marginal over ``features`` (in that order)."""
    features = np.asarray(features, dtype=np.intp)
    return structure(covariance_type).marginal(means, covariances, features)


def dense_covariances(
    covariances: np.ndarray, covariance_type: str, n_features: int
) -> np.ndarray:
    """Component covariances as full matrices: (k, d, d), or (d, d) for tied."""
    return structure(covariance_type).dense(covariances, n_features)


def mixture_moments(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, covariance_type: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of the whole mixture.

    ``E[x] = sum_k w_k mu_k`` and, by the law of total variance,
    ``Cov[x] = sum_k w_k S_k + sum_k w_k (mu_k - E[x])(mu_k - E[x])^T``.
    """
    n_features = means.shape[1]
    weights = weights / weights.sum()
    mean = weights @ means
    dense = dense_covariances(covariances, covariance_type, n_features)
    pooled = not structure(covariance_type).per_component
    within = dense if pooled else np.einsum("k,kij->ij", weights, dense)
    deviations = means - mean
    between = (deviations.T * weights) @ deviations
    total = within + between
    return mean, 0.5 * (total + total.T)


# --------------------------------------------------------------------------------------
# Regression coefficients and conditional covariances


def gaussian_regression(
    covariances: np.ndarray, covariance_type: str, known: np.ndarray, missing: np.ndarray
) -> GaussianRegression:
    """Regression coefficients and conditional covariances for known features ``known``.

    ``known`` may be empty (nothing observed): the coefficients are then empty,
    the conditional covariances are those of the ``missing`` features and the
    marginal factors are empty. Raises ``numpy.linalg.LinAlgError`` when a known
    block is not positive definite.
    """
    known = np.asarray(known, dtype=np.intp)
    missing = np.asarray(missing, dtype=np.intp)
    o, m = len(known), len(missing)
    kind = structure(covariance_type)
    if kind.diagonal:
        conditional, factors = kind.diagonal_regression(covariances, known, missing)
        return GaussianRegression(known, missing, None, conditional, factors)
    matrices = kind.stack(covariances)
    k = len(matrices)
    coefficients = np.zeros((k, m, o))
    factors = np.empty((k, o, o))
    if o == 0:
        conditional = matrices[:, missing[:, np.newaxis], missing]
    else:
        schur = schur_factors(matrices, known, missing)
        conditional = schur.complement
        for j in range(k):
            # A^T = L^{-T} W and the precision factor L^{-T} of S_oo: triangular solves.
            coefficients[j] = lapack_result(
                lapack.dtrtrs(schur.lower[j], schur.cross[j], lower=1, trans=1)
            ).T
            factors[j] = lapack_result(lapack.dtrtri(schur.lower[j], lower=1)).T
    return GaussianRegression(
        known,
        missing,
        kind.unstack(coefficients),
        kind.unstack(conditional),
        kind.unstack(factors),
    )


# --------------------------------------------------------------------------------------
# Row-wise quantities for a block of rows sharing one missing pattern


def expand_known(
    means: np.ndarray, regression: GaussianRegression, covariance_type: str, shift: np.ndarray
) -> gm.ExpandedGaussians:
    """Expanded log-densities of the known blocks' marginals, centred by ``shift`` (o,)."""
    means_known = means[:, regression.known] - shift
    return gm.expand_gaussians(
        means_known, regression.marginal_precisions_cholesky, covariance_type
    )


def known_log_densities(
    rows_known: np.ndarray,
    expanded: gm.ExpandedGaussians,
    covariance_type: str,
    shift: np.ndarray,
) -> np.ndarray:
    """``log N(x_o | mu_k,o, S_k,oo)`` for a block of rows' known parts: shape (k, b).

    ``rows_known`` is (b, o); ``expanded`` and ``shift`` come from
    :func:`expand_known`. With no known feature every log-density is 0.
    """
    n_components = expanded.linear.shape[0]
    if rows_known.shape[1] == 0:
        return np.zeros((n_components, rows_known.shape[0]))
    xt = gm.centred_block(rows_known, shift)
    features = gm.quadratic_features(xt, covariance_type)
    return gm.log_gaussians(xt, features, expanded, covariance_type)


def log_responsibilities(log_weights: np.ndarray, log_densities: np.ndarray) -> np.ndarray:
    """``log p(k | x_o)`` (k, b) from ``log w_k`` (k,) and known-part log-densities (k, b)."""
    return log_normalise(log_densities + log_weights[:, np.newaxis], axis=0)


def conditional_means(
    rows_known: np.ndarray, means: np.ndarray, regression: GaussianRegression
) -> np.ndarray:
    """``mu_k,m|o`` for every component and row: shape (k, b, m).

    ``rows_known`` is (b, o), ``means`` the joint means (k, d).
    """
    means_missing = means[:, regression.missing]
    n_rows = rows_known.shape[0]
    if regression.coefficients is None or len(regression.known) == 0:
        shape = (means.shape[0], n_rows, len(regression.missing))
        return np.broadcast_to(means_missing[:, np.newaxis, :], shape).copy()
    deviations = rows_known[np.newaxis, :, :] - means[:, np.newaxis, regression.known]
    if regression.coefficients.ndim == 2:  # tied: one A for all components
        shifts = deviations @ regression.coefficients.T
    else:
        shifts = np.matmul(deviations, np.swapaxes(regression.coefficients, 1, 2))
    shifts += means_missing[:, np.newaxis, :]
    return shifts


def conditional_sampling_factors(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """``B_k`` with ``z @ B_k ~ N(0, S_k)`` for standard normal rows ``z``.

    full (k, m, m) and tied (m, m): the transposed lower Cholesky factor;
    diag (k, m) and spherical (k,): standard deviations (multiply elementwise).
    """
    return structure(covariance_type).conditional_sampling_factors(covariances)


def scale_noise(
    noise: np.ndarray, factors: np.ndarray, covariance_type: str, component: int
) -> np.ndarray:
    """Standard normal rows ``noise`` (b, m) turned into draws from component ``component``."""
    return structure(covariance_type).scale_noise(noise, factors, component)


# --------------------------------------------------------------------------------------
# Conditioning a whole mixture on one row


def condition_parameters(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    x_known: np.ndarray,
    known: np.ndarray,
    missing: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (k,), means (k, m) and covariances of the mixture of ``x_m`` given ``x_o``.

    ``x_known`` (o,) holds the values of the features ``known``; the result is
    over ``missing`` in that order, with the covariance type unchanged.
    Weights are normalised in log space; a weight that underflows is floored
    at the smallest normal float so that its logarithm stays finite.
    """
    regression = gaussian_regression(covariances, covariance_type, known, missing)
    shift = (weights / weights.sum()) @ means[:, regression.known]
    expanded = expand_known(means, regression, covariance_type, shift)
    row = np.asarray(x_known, dtype=np.float64)[np.newaxis, :]
    log_densities = known_log_densities(row, expanded, covariance_type, shift)
    log_posterior = log_responsibilities(np.log(weights), log_densities)[:, 0]
    new_weights = np.maximum(np.exp(log_posterior), np.finfo(np.float64).tiny)
    new_means = conditional_means(row, means, regression)[:, 0, :]
    return new_weights / new_weights.sum(), new_means, regression.covariances
