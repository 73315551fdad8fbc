"""Exact conditioning and marginalisation of Gaussian kernel density estimates.

Pure functions on arrays, no validation. A Gaussian kernel density estimate
with training points ``x_i``, weights ``w_i`` and bandwidth covariance ``H``
(``h^2 I`` for a scalar bandwidth, ``diag(h^2)`` per feature, the matrix itself
otherwise) is the mixture ``sum_i w_i N(x | x_i, H) / sum_i w_i``. Split the
features into known ones ``o`` and unknown ones ``m``.

Marginal
    Each component's marginal is ``N(x_m | x_i,m, H_mm)``: keep the columns
    ``m`` of the points, the same weights, and ``H`` restricted to ``m``.

Conditional
    Bayes' rule on each component gives

    .. math::

        f(x_m \\mid x_o) = \\sum_i \\pi_i\\, N(x_m \\mid \\mu_i, S), \\quad
        \\pi_i \\propto w_i N(x_o \\mid x_{i,o}, H_{oo}),

        \\mu_i = x_{i,m} + H_{mo} H_{oo}^{-1} (x_o - x_{i,o}), \\quad
        S = H_{mm} - H_{mo} H_{oo}^{-1} H_{om},

    again a Gaussian kernel density estimate, with one bandwidth ``S`` shared by
    all points. With ``H_oo = L L^T`` and ``W = L^{-1} H_om`` (the Schur
    factorisation of :func:`lookalike._math.schur.schur_factors`, shared with
    the conditionals of Gaussian mixtures), ``z_i = L^{-1} (x_o - x_{i,o})``
    gives the log-weights ``log w_i - |z_i|^2 / 2`` (up to a constant), the
    shifts ``H_mo H_oo^{-1} (x_o - x_{i,o}) = W^T z_i`` and ``S = H_mm - W^T W``,
    so no inverse is formed. For a diagonal ``H`` the cross terms vanish: no
    shift, ``S = H_mm``.

The weights are normalised in log space; points whose weight is below the
smallest normal float relative to the largest are dropped (their terms could not
change any density at working precision, and the rest keep full precision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from lookalike._math.schur import schur_factors

# Weights below this fraction of the largest are dropped: exp of anything smaller is
# subnormal (or zero) in float64.
LOG_SMALLEST_WEIGHT = math.log(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class ConditionalKDE:
    """A Gaussian kernel density estimate over the unknown features.

    Attributes
    ----------
    centres : ndarray of shape (n_kept, n_unknown)
        The (shifted) training points that keep a weight.
    weights : ndarray of shape (n_kept,)
        Their weights, summing to one.
    bandwidth : float or ndarray
        The conditional bandwidth, in the parent's form: a float (isotropic), an
        array of shape (n_unknown,) (per feature) or a matrix of shape
        (n_unknown, n_unknown) (the Schur complement).
    kept : ndarray of shape (n_kept,)
        Indices of the kept training points.
    log_marginal_sum : float
        ``log sum_i w_i N(x_o | x_{i,o}, H_oo)`` (unnormalised weights, the
        Gaussian's constant included): the log-density of the known features
        times the total weight.
    """

    centres: np.ndarray
    weights: np.ndarray
    bandwidth: float | np.ndarray
    kept: np.ndarray
    log_marginal_sum: float


def restrict_bandwidth(bandwidth: float | np.ndarray, features: np.ndarray) -> float | np.ndarray:
    """The bandwidth of the marginal over ``features`` (indices, any order).

    Parameters
    ----------
    bandwidth : float or ndarray of shape (d,) or (d, d)
    features : ndarray of shape (k,) of int

    Returns
    -------
    float or ndarray of shape (k,) or (k, k)
    """
    array = np.asarray(bandwidth, dtype=np.float64)
    if array.ndim == 0:
        return float(array)
    if array.ndim == 1:
        return array[features].copy()
    return array[np.ix_(features, features)].copy()


def condition_gaussian_kde(
    points: np.ndarray,
    weights: np.ndarray | None,
    bandwidth: float | np.ndarray,
    known: np.ndarray,
    unknown: np.ndarray,
    values: np.ndarray,
) -> ConditionalKDE:
    """Condition a Gaussian kernel density estimate on known feature values.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Training points.
    weights : ndarray of shape (n,) or None
        Non-negative weights (``None``: all ones).
    bandwidth : float or ndarray of shape (d,) or (d, d)
        Kernel standard deviation (scalar or per feature) or covariance matrix.
    known, unknown : ndarray of int
        Disjoint feature indices, each non-empty.
    values : ndarray of shape (len(known),)
        The known values ``x_o``.

    Returns
    -------
    ConditionalKDE
    """
    band = np.asarray(bandwidth, dtype=np.float64)
    offsets = values - points[:, known]  # (n, o): x_o - x_{i,o}
    if band.ndim < 2:
        scale = band if band.ndim == 0 else band[known]
        offsets /= scale
        squared = np.einsum("ij,ij->i", offsets, offsets)
        log_det = float(len(known) * np.log(scale) if band.ndim == 0 else np.log(scale).sum())
        centres = points[:, unknown]
        conditional: float | np.ndarray = restrict_bandwidth(band, unknown)
    else:
        schur = schur_factors(band[np.newaxis], known, unknown)
        lower = schur.lower[0]
        z = solve_triangular(lower, offsets.T, lower=True)  # (o, n)
        squared = np.einsum("ij,ij->j", z, z)
        log_det = float(np.log(np.diagonal(lower)).sum())
        centres = points[:, unknown] + z.T @ schur.cross[0]
        conditional = schur.complement[0]
    log_weights = -0.5 * squared
    if weights is not None:
        with np.errstate(divide="ignore"):
            log_weights += np.log(weights)
    largest = float(np.max(log_weights))
    kept = np.flatnonzero(log_weights - largest >= LOG_SMALLEST_WEIGHT)
    total = float(logsumexp(log_weights[kept]))
    constant = -0.5 * len(known) * math.log(2.0 * math.pi) - log_det
    return ConditionalKDE(
        centres=np.ascontiguousarray(centres[kept]),
        weights=np.exp(log_weights[kept] - total),
        bandwidth=conditional,
        kept=kept,
        log_marginal_sum=total + constant,
    )
