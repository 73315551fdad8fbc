"""The one Schur factorisation behind every Gaussian conditional.

Pure functions on arrays, no validation. Split the features of a covariance
``S`` into known ones ``o`` and missing ones ``m``. Every conditional in
lookalike (a Gaussian mixture given some features and its imputation, the
missing-data E-step, a Gaussian kernel density estimate given some features,
the tabular models' draws given fixed points) needs the same three pieces,
computed here once:

.. math::

    S_{oo} = L L^T, \\qquad W = L^{-1} S_{om}, \\qquad
    S_{m|o} = S_{mm} - W^T W = S_{mm} - S_{mo} S_{oo}^{-1} S_{om}.

From them, without forming an inverse: the log-density of the known part,
``log N(x_o | mu_o, S_oo) = -|z|^2 / 2 - sum log L_ii - |o| log(2 pi) / 2``
with ``z = L^{-1} (x_o - mu_o)``; the conditional mean ``mu_m + W^T z``; the
regression coefficients ``A = S_mo S_oo^{-1}``, ``A^T = L^{-T} W``; and the
conditional covariance ``S_m|o``.

The factorisation calls LAPACK directly (``potrf``, ``trtrs``: the routines
behind ``scipy.linalg.cho_factor`` and ``solve_triangular``), which on the
small blocks of a conditional is many times faster than the checked wrappers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import lapack

__all__ = ["SchurFactors", "lapack_result", "schur_factors"]


class SchurFactors(NamedTuple):
    """The Schur factorisation of a stack of ``j`` covariances over known/missing features.

    Attributes
    ----------
    lower : ndarray of shape (j, o, o)
        Lower Cholesky factors ``L`` of the known blocks ``S_oo``.
    cross : ndarray of shape (j, o, m)
        ``W = L^{-1} S_om``.
    complement : ndarray of shape (j, m, m)
        The Schur complements ``S_mm - W^T W`` (symmetrised): the conditional
        covariances of the missing features given the known ones.
    """

    lower: np.ndarray
    cross: np.ndarray
    complement: np.ndarray


def lapack_result(result: tuple[np.ndarray, int]) -> np.ndarray:
    """The array of a LAPACK call; ``LinAlgError`` when its ``info`` is not zero."""
    array, info = result
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK info={info}: matrix not positive definite")
    return array


def schur_factors(matrices: np.ndarray, known: np.ndarray, missing: np.ndarray) -> SchurFactors:
    """Factor the known block of each covariance and form the Schur complements.

    Parameters
    ----------
    matrices : ndarray of shape (j, d, d)
        Symmetric positive definite matrices (one per component, one for tied).
    known, missing : ndarray of int
        Disjoint feature indices, ``o`` and ``m`` of them; ``known`` is not empty.

    Returns
    -------
    SchurFactors

    Raises
    ------
    numpy.linalg.LinAlgError
        When a known block is not positive definite.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[[4.0, 2.0], [2.0, 3.0]]])
    >>> factors = schur_factors(cov, np.array([0]), np.array([1]))
    >>> factors.lower[0], factors.cross[0], factors.complement[0]
    (array([[2.]]), array([[1.]]), array([[2.]]))
    """
    # The three blocks of every matrix at once: indexing costs more than the LAPACK
    # calls on blocks this small.
    known_blocks = matrices[:, known[:, np.newaxis], known]
    cross_blocks = matrices[:, known[:, np.newaxis], missing]
    complement = matrices[:, missing[:, np.newaxis], missing]
    lower = np.empty_like(known_blocks)
    cross = np.empty_like(cross_blocks)
    for j in range(len(matrices)):
        lower[j] = lapack_result(lapack.dpotrf(known_blocks[j], lower=1, clean=1))
        whitened = lapack_result(lapack.dtrtrs(lower[j], cross_blocks[j], lower=1))
        cross[j] = whitened
        complement[j] -= whitened.T @ whitened
    complement = 0.5 * (complement + np.swapaxes(complement, 1, 2))
    return SchurFactors(lower, cross, complement)
