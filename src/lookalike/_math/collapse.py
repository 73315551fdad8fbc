"""Collapsed mixture components: singular covariances found and, if asked, repaired.

Pure functions on arrays; the estimator decides whether a collapse is an error
(scikit-learn's behaviour) or is repaired.

EM's one-pass statistics give a covariance as ``E_k[x x^T] - m_k m_k^T`` (about
the data shift ``c``), whose rounding error is a few ``eps`` (2.2e-16) times
``E_k[x_j^2]``, feature by feature. A component that collapsed onto repeated
rows (or onto a lower-dimensional set) therefore has variances at the level
of that noise, positive or negative, instead of the exact zeros of a
two-pass estimate. A variance is called collapsed when it is below
:data:`COLLAPSE_FRACTION` of its feature's noise scale (:func:`noise_floors`);
for full and tied covariances the variances checked are the Cholesky pivots
(the variance of a feature given the previous ones). The floors are per
feature, so a feature measured in units a million times smaller than another
is not mistaken for a collapsed one.

The repair adds the smallest diagonal jitter ``floor * 10**e`` (``e = 0, 1,
..., 12``; ``floor`` per feature) that lifts every pivot above its floor;
diagonal and spherical variances are raised to their floors.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lookalike._math.gaussian import precision_cholesky_of_matrix

# A variance below this fraction of its feature's noise scale is rounding noise of
# the one-pass statistics, whose error is a few eps (2.2e-16) times that scale: the
# component has collapsed. 1e-13 leaves a margin of about 100 for the error to grow
# with the number of features.
COLLAPSE_FRACTION = 1e-13

# A component whose responsibility mass is below this fraction of the total weight
# carries no information: it keeps its previous mean and covariance.
EMPTY_FRACTION = 1e-12

_JITTER_EXPONENTS = range(13)


class Factors(NamedTuple):
    """Covariances with their precision factors, and what was found collapsed.

    Attributes
    ----------
    covariances : ndarray
        The covariances used (repaired ones changed), shaped by covariance type.
    precisions_cholesky : ndarray
        Their precision Cholesky factors (undefined for collapsed components
        that were not repaired).
    collapsed : list of int
        Components with a variance below its floor (for tied: ``[0]``).
    repairable : bool
        False when a covariance is not finite or no jitter repaired it.
    """

    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    collapsed: list[int]
    repairable: bool


def noise_floors(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Variances below which a component has collapsed.

    ``COLLAPSE_FRACTION * max(s_kj, sum_i w_i s_ij)`` with ``s_kj`` the
    component's mean square of feature ``j`` about the data shift (its variance
    plus its squared centred mean); the second term, the mixture's own mean
    square of that feature, keeps the floor positive for a point mass at the
    shift. Shapes: full and diag (k, d); tied (d,); spherical (k,), where
    ``s_k`` is the mean over features.
    """
    square_means = means**2
    if covariance_type == "full":
        variances = np.diagonal(covariances, axis1=1, axis2=2)
    elif covariance_type == "tied":
        variances = np.broadcast_to(np.diagonal(covariances), means.shape)
    elif covariance_type == "diag":
        variances = covariances
    else:
        variances = np.broadcast_to(np.asarray(covariances)[:, np.newaxis], means.shape)
    scales = np.abs(variances) + square_means
    if covariance_type == "spherical":
        scales = scales.mean(axis=1)
    overall = weights @ scales
    if covariance_type == "tied":
        return COLLAPSE_FRACTION * overall
    return COLLAPSE_FRACTION * np.maximum(scales, overall)


def factor_covariances(
    covariances: np.ndarray, covariance_type: str, floors: np.ndarray, repair: bool
) -> Factors:
    """Precision factors of ``covariances``, finding (and repairing) collapsed ones.

    ``floors`` come from :func:`noise_floors`. With ``repair=False`` collapsed
    components are only reported.
    """
    if not np.all(np.isfinite(covariances)) or not np.all(floors > 0):
        return Factors(covariances, np.full_like(covariances, np.nan), [], False)
    if covariance_type in ("diag", "spherical"):
        below = covariances < floors
        bad = np.flatnonzero(below.reshape(len(covariances), -1).any(axis=1)).tolist()
        if bad and repair:
            covariances = np.where(below, floors, covariances)
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = 1.0 / np.sqrt(covariances)
        return Factors(covariances, factors, bad, True)
    matrices = covariances[np.newaxis] if covariance_type == "tied" else covariances
    matrix_floors = floors[np.newaxis] if covariance_type == "tied" else floors
    repaired = matrices.copy()
    factors = np.full_like(matrices, np.nan)
    collapsed: list[int] = []
    for j, (matrix, floor) in enumerate(zip(matrices, matrix_floors, strict=True)):
        factor = _factor_with_pivots_above(matrix, floor)
        if factor is not None:
            factors[j] = factor
            continue
        collapsed.append(j)
        if not repair:
            continue
        for exponent in _JITTER_EXPONENTS:
            candidate = matrix + np.diag(floor * 10.0**exponent)
            # Rounding may leave a pivot of the jittered matrix a little under the jitter.
            factor = _factor_with_pivots_above(candidate, 0.5 * floor)
            if factor is not None:
                factors[j], repaired[j] = factor, candidate
                break
        else:
            return Factors(covariances, factors, collapsed, False)
    if covariance_type == "tied":
        return Factors(repaired[0], factors[0], collapsed, True)
    return Factors(repaired, factors, collapsed, True)


def _factor_with_pivots_above(matrix: np.ndarray, floor: np.ndarray) -> np.ndarray | None:
    """Precision factor ``U`` of ``matrix``, or None if a pivot is below its ``floor``.

    The pivots of the Cholesky factorisation are ``1 / diag(U)**2``.
    """
    try:
        factor = precision_cholesky_of_matrix(matrix)
    except np.linalg.LinAlgError:
        return None
    diagonal = np.diagonal(factor)
    if not np.all(np.isfinite(diagonal)) or np.any(diagonal * np.sqrt(floor) > 1.0):
        return None
    return factor
