"""Gaussian log-densities for the four covariance structures of a mixture.

Pure functions on arrays: no validation, no estimator state.

Every component is held by the Cholesky factor ``U`` of its precision matrix
(``P = U U^T``, ``U`` upper triangular, as scikit-learn stores
``precisions_cholesky_``). Its log-density is

.. math::

    \\log N(x \\mid \\mu, P) = -\\tfrac12 (x-\\mu)^T P (x-\\mu)
        - \\tfrac{d}{2} \\log 2\\pi + \\sum_i \\log U_{ii}.

For speed the quadratic form is expanded around a fixed shift ``c`` (the column
means of the data, subtracted once per row block):

.. math::

    -\\tfrac12 (x-\\mu)^T P (x-\\mu)
        = \\underbrace{-\\tfrac12 x^T P x}_{\\text{quadratic}}
        + x^T P \\mu - \\tfrac12 \\mu^T P \\mu ,

so one matrix product over row-wise *quadratic features* of ``x`` (the upper
triangle of ``x x^T`` for full covariances, ``x * x`` for diagonal ones) gives
the quadratic term of every component at once, and the same features give the
M-step's second moments (see :mod:`lookalike._math.em`). Because ``x`` and
``mu`` are centred by ``c`` first, the cancellation error of the expansion is
about ``eps * ||mu_k - c||_P^2``: the squared distance, in component
standard deviations, between a component and the data mean, times machine
precision. In float64 that stays below 1e-9 nats until components sit 10^3
standard deviations from the data mean.

Shapes, with ``k`` components and ``d`` features::

    covariance_type   covariances     precisions_cholesky
    "full"            (k, d, d)       (k, d, d)
    "tied"            (d, d)          (d, d)
    "diag"            (k, d)          (k, d)
    "spherical"       (k,)            (k,)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import linalg

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

LOG_2PI = float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------------------
# Parameter counts


def n_covariance_parameters(covariance_type: str, n_components: int, n_features: int) -> int:
    """Free parameters in the covariances of a mixture of this structure."""
    per_matrix = n_features * (n_features + 1) // 2
    return {
        "full": n_components * per_matrix,
        "tied": per_matrix,
        "diag": n_components * n_features,
        "spherical": n_components,
    }[covariance_type]


# --------------------------------------------------------------------------------------
# Conversions between covariances, precisions and their Cholesky factors


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


def precisions_from_cholesky(precisions_cholesky: np.ndarray, covariance_type: str) -> np.ndarray:
    """Precision matrices ``U U^T`` (or squared scales) from their factors."""
    if covariance_type == "full":
        return np.matmul(precisions_cholesky, np.swapaxes(precisions_cholesky, 1, 2))
    if covariance_type == "tied":
        return precisions_cholesky @ precisions_cholesky.T
    return precisions_cholesky**2


def covariances_from_precisions_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Covariances implied by precision Cholesky factors."""
    if covariance_type == "full":
        return np.stack([covariance_of_precision_cholesky(u) for u in precisions_cholesky])
    if covariance_type == "tied":
        return covariance_of_precision_cholesky(precisions_cholesky)
    return 1.0 / precisions_cholesky**2


def log_det_precision_cholesky(
    precisions_cholesky: np.ndarray, covariance_type: str, n_features: int
) -> np.ndarray:
    """``sum(log(diag(U)))`` = half the log-determinant of each precision.

    Returns an array of shape (n_components,) for full, diag and spherical,
    and a scalar array for tied.
    """
    if covariance_type == "full":
        return np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diagonal(precisions_cholesky)).sum()
    if covariance_type == "diag":
        return np.log(precisions_cholesky).sum(axis=1)
    return n_features * np.log(precisions_cholesky)


# --------------------------------------------------------------------------------------
# Quadratic features: the row-wise statistics shared by the E-step and the M-step
#
# Blocks are *feature-major*: a block of ``b`` rows is held as ``xt`` of shape
# (d, b). Reductions over components then run along contiguous rows of length
# ``b``, which is several times faster than along short rows of length ``k``.


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


def quadratic_features(xt: np.ndarray, covariance_type: str) -> np.ndarray:
    """Column statistics from which the quadratic term and second moments follow.

    For a feature-major block ``xt`` (d, b): full: upper triangle of ``x x^T``
    (d(d+1)/2, b); diag: ``x * x`` (d, b); spherical: ``||x||^2`` (1, b); tied:
    ``xt`` itself, because the tied quadratic term is one whitened norm.
    """
    if covariance_type == "full":
        return outer_triu(xt)
    if covariance_type == "diag":
        return xt * xt
    if covariance_type == "spherical":
        return np.einsum("ij,ij->j", xt, xt)[np.newaxis, :]
    return xt


# --------------------------------------------------------------------------------------
# Log-densities in expanded form


class ExpandedGaussians(NamedTuple):
    """``log N_k(x) = quadratic_k(x) + linear[k] @ x + constant[k]``.

    ``quadratic`` depends on the covariance type: full (k, p) packed
    ``-P_k / 2``; tied (d, d) the transposed precision factor ``U^T``; diag
    (k, d) ``-P_k / 2``; spherical (k, 1) ``-p_k / 2``. ``linear`` is (k, d) and
    ``constant`` (k, 1). All are float64 (float32 from :func:`single_precision`)
    and refer to data centred by the same shift as the means.
    """

    quadratic: np.ndarray
    linear: np.ndarray
    constant: np.ndarray


def expand_gaussians(
    means: np.ndarray, precisions_cholesky: np.ndarray, covariance_type: str
) -> ExpandedGaussians:
    """Coefficients of the expanded log-densities of every component.

    Parameters
    ----------
    means : ndarray of shape (k, d)
        Component means, already centred by the shift used for the data.
    precisions_cholesky : ndarray
        Precision Cholesky factors, shaped as the module docstring says.
    covariance_type : str
    """
    n_components, n_features = means.shape
    means = means.astype(np.float64, copy=False)
    factors = precisions_cholesky.astype(np.float64, copy=False)
    log_det = log_det_precision_cholesky(factors, covariance_type, n_features)
    if covariance_type == "full":
        precisions = precisions_from_cholesky(factors, "full")
        linear = np.einsum("kij,kj->ki", precisions, means)
        quadratic = -0.5 * triu_with_doubled_offdiagonal(precisions)
        mahalanobis_of_means = np.einsum("ki,ki->k", linear, means)
    elif covariance_type == "tied":
        whitened_means = means @ factors
        linear = whitened_means @ factors.T
        quadratic = factors.T
        mahalanobis_of_means = np.einsum("kj,kj->k", whitened_means, whitened_means)
    elif covariance_type == "diag":
        precisions = factors**2
        linear = precisions * means
        quadratic = -0.5 * precisions
        mahalanobis_of_means = np.einsum("kj,kj->k", linear, means)
    else:
        precisions = factors**2
        linear = precisions[:, np.newaxis] * means
        quadratic = -0.5 * precisions[:, np.newaxis]
        mahalanobis_of_means = precisions * np.einsum("kj,kj->k", means, means)
    constant = -0.5 * (n_features * LOG_2PI + mahalanobis_of_means) + log_det
    return ExpandedGaussians(
        np.ascontiguousarray(quadratic),
        np.ascontiguousarray(linear),
        np.broadcast_to(constant, (n_components,)).reshape(n_components, 1).copy(),
    )


def log_gaussians(
    xt: np.ndarray, features: np.ndarray, expanded: ExpandedGaussians, covariance_type: str
) -> np.ndarray:
    """Log-density of every column of ``xt`` under each component: shape (k, b).

    ``features`` is ``quadratic_features(xt, covariance_type)``; both are
    feature-major blocks of centred rows, of the dtype of ``expanded``.
    """
    out = expanded.linear @ xt
    if covariance_type == "tied":
        whitened = expanded.quadratic @ xt
        out -= 0.5 * np.einsum("ij,ij->j", whitened, whitened)
    elif covariance_type == "spherical":
        out += expanded.quadratic * features
    else:
        out += expanded.quadratic @ features
    out += expanded.constant
    return out


def centred_block(
    rows: np.ndarray, shift: np.ndarray, dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    """``(rows - shift).T`` as a C-contiguous (d, b) block of ``dtype``.

    The difference is rounded once to ``dtype``, so a float32 block carries
    ``x - c`` to float32 precision even when the rows sit far from the origin.
    float32 rows with a float32-representable ``shift`` are subtracted in
    float32 directly, about twice as fast as through float64.
    """
    out = np.empty((rows.shape[1], rows.shape[0]), dtype=dtype)
    if rows.dtype == out.dtype:
        narrow = shift.astype(out.dtype)
        if np.array_equal(narrow, shift):
            np.subtract(rows.T, narrow[:, np.newaxis], out=out)
            return out
    np.subtract(rows.T, shift[:, np.newaxis], out=out, casting="same_kind")
    return out


# --------------------------------------------------------------------------------------
# Single precision
#
# The expanded form loses about ``eps * (x^T P_k x)`` to cancellation, which for a row
# near component k is ``eps * (||mu_k||_P^2 + d)``: the squared distance, in standard
# deviations, between the component and the shift (its "spread"). The one-pass second
# moments lose the same factor. In float32 (eps = 6e-8), measured on two clusters in
# 4-D fitted from the same start in float32 and float64: covariances differed by about
# 1.3e-7 * spread (relative), lower bounds by about 6e-8 * spread nats. Up to
# SINGLE_PRECISION_SPREAD (components within about 30 standard deviations of the
# shift) that is at most 1.3e-4 and 6e-5; beyond it the E-step keeps float64. The
# 1M x 16 x 16 benchmark's largest spread is about 900.

SINGLE_PRECISION_SPREAD = 1e3


def single_precision(expanded: ExpandedGaussians, means: np.ndarray) -> ExpandedGaussians | None:
    """``expanded`` in float32, or ``None`` when float32 would lose too much.

    ``means`` (k, d) are the centred means that ``expanded`` encodes; since
    ``linear[k] = P_k mu_k``, ``linear[k] @ mu_k`` is the squared Mahalanobis
    distance of each mean from the shift. ``None`` when its largest value plus
    the number of features exceeds :data:`SINGLE_PRECISION_SPREAD`, or when a
    coefficient does not fit float32.
    """
    spread = np.einsum("kd,kd->k", expanded.linear, means).max() + means.shape[1]
    limit = float(np.finfo(np.float32).max) / 16
    largest = max(float(np.abs(part).max()) for part in expanded)
    if not (spread <= SINGLE_PRECISION_SPREAD and largest <= limit):
        return None
    return ExpandedGaussians(*(part.astype(np.float32) for part in expanded))
