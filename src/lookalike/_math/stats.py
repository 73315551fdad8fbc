"""Weighted sample statistics: means, effective sample size, covariances, quantiles.

Pure functions on arrays, the one home of weighted moments: bandwidth rules
(:mod:`lookalike._math.bandwidth`), kernel density estimates and their
bandwidth grids, the Gaussian's maximum-likelihood fit, the mixture's centring
shift and model search read their means and spreads from here. Weights are
non-negative with a positive sum; ``None`` means all ones.

Two normalisations of the spread live here: :func:`weighted_covariance` and
:func:`weighted_variance` divide by ``sum w - sum w^2 / sum w`` (unbiased
without weights; scipy's ``gaussian_kde``), :func:`weighted_scatter` by the
total weight (the maximum-likelihood estimate).
"""

from __future__ import annotations

import numpy as np

from lookalike._math.blocks import block_rows, row_slices

__all__ = [
    "effective_sample_size",
    "sample_size",
    "weighted_column_means",
    "weighted_covariance",
    "weighted_mean",
    "weighted_quantile",
    "weighted_scatter",
    "weighted_variance",
]


def weighted_mean(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Column means of X, the weights normalised first (no overflow at any scale)."""
    if weights is None:
        return X.mean(axis=0)
    return (weights / weights.sum()) @ X


def weighted_column_means(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Column means of X in float64 (for float32 X too): the weighted sums over the total."""
    if weights is None:
        return X.mean(axis=0, dtype=np.float64)
    return (weights @ X.astype(np.float64, copy=False)) / weights.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``n_eff = (sum w)^2 / sum w^2``.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Non-negative weights with a positive sum.

    Returns
    -------
    n_eff : float
        Between 1 (one positive weight) and ``n`` (equal weights); unchanged
        when the weights are scaled. It is scipy's ``gaussian_kde.neff``.
    """
    total = float(np.sum(weights))
    return total * total / float(np.dot(weights, weights))


def sample_size(X: np.ndarray, weights: np.ndarray | None) -> float:
    """The number of rows, or Kish's effective sample size of the weights."""
    return float(X.shape[0]) if weights is None else effective_sample_size(weights)


def _shifted_centred(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """``X`` minus its weighted mean, computed around a data row.

    Shifting by a row with positive weight first keeps the mean accurate on
    uncentred data and makes a constant feature centre to exact zeros.
    """
    reference = 0 if weights is None else int(np.argmax(weights > 0))
    shifted = X - X[reference]
    mean = shifted.mean(axis=0) if weights is None else weights @ shifted / np.sum(weights)
    shifted -= mean
    return shifted


def _normaliser(n: int, weights: np.ndarray | None) -> float:
    """``sum w - sum w^2 / sum w`` (``n - 1`` unweighted): numpy's ``aweights`` divisor."""
    if weights is None:
        return float(n - 1)
    total = float(np.sum(weights))
    return total - float(np.dot(weights, weights)) / total


def weighted_covariance(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Weighted covariance matrix with scipy's ``gaussian_kde`` normalisation.

    .. math::

        \\Sigma = \\frac{\\sum_i w_i (x_i - \\bar x)(x_i - \\bar x)^T}
                       {\\sum_i w_i - \\sum_i w_i^2 / \\sum_i w_i},
        \\qquad \\bar x = \\frac{\\sum_i w_i x_i}{\\sum_i w_i},

    which is ``numpy.cov(X, rowvar=False, aweights=weights)`` and, without
    weights, the unbiased covariance (divisor ``n - 1``).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
        Non-negative weights with a positive sum.

    Returns
    -------
    covariance : ndarray of shape (d, d)
        Constant features have exactly zero rows and columns. With a single
        row of positive weight (``n_eff = 1``) the spread cannot be measured
        and the result is all zeros.
    """
    centred = _shifted_centred(X, weights)
    divisor = _normaliser(X.shape[0], weights)
    if not divisor > 0.0:
        return np.zeros((X.shape[1], X.shape[1]))
    scaled = centred if weights is None else centred * weights[:, np.newaxis]
    covariance = scaled.T @ centred
    covariance /= divisor
    # Symmetric to the last bit: the product of two different arrays need not be.
    return 0.5 * (covariance + covariance.T)


def weighted_variance(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Per-feature weighted variances: the diagonal of :func:`weighted_covariance`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None

    Returns
    -------
    variances : ndarray of shape (d,)
        Exactly zero for constant features, and all zeros when ``n_eff = 1``.
    """
    centred = _shifted_centred(X, weights)
    divisor = _normaliser(X.shape[0], weights)
    if not divisor > 0.0:
        return np.zeros(X.shape[1])
    squares = np.square(centred, out=centred)
    total = squares.sum(axis=0) if weights is None else weights @ squares
    return total / divisor


def weighted_scatter(
    X: np.ndarray, weights: np.ndarray | None, full: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and the scatter about it over the total weight (maximum likelihood).

    .. math::

        \\bar x = \\frac{\\sum_i w_i x_i}{\\sum_i w_i}, \\qquad
        S = \\frac{\\sum_i w_i (x_i - \\bar x)(x_i - \\bar x)^T}{\\sum_i w_i}.

    Two passes over row blocks sized from the memory budget, in float64 for
    float32 ``X`` too: the mean, then the scatter about it (so no temporary
    grows with ``n`` beyond one block, and uncentred data lose no accuracy).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
        Non-negative weights with a positive sum.
    full : bool, default=True
        The whole matrix, or only its diagonal.

    Returns
    -------
    mean : ndarray of shape (d,)
    scatter : ndarray of shape (d, d) (``full``) or (d,)
        Symmetric to the last bit when full.

    Examples
    --------
    >>> import numpy as np
    >>> mean, scatter = weighted_scatter(np.array([[0.0], [2.0]]), np.array([1.0, 3.0]))
    >>> float(mean[0]), float(scatter[0, 0])
    (1.5, 0.75)
    """
    n_samples, n_features = X.shape
    blocks = row_slices(n_samples, block_rows(8 * 2 * max(n_features, 1)))
    total = float(n_samples) if weights is None else float(weights.sum())
    column_sums = np.zeros(n_features)
    for rows in blocks:
        block = X[rows].astype(np.float64, copy=False)
        column_sums += block.sum(axis=0) if weights is None else weights[rows] @ block
    mean = column_sums / total
    scatter = np.zeros((n_features, n_features) if full else n_features)
    for rows in blocks:
        centred = X[rows].astype(np.float64) - mean
        weighted = centred if weights is None else centred * weights[rows, np.newaxis]
        scatter += weighted.T @ centred if full else np.einsum("ij,ij->j", weighted, centred)
    scatter /= total
    if full:
        scatter = 0.5 * (scatter + scatter.T)
    return mean, scatter


def weighted_quantile(
    x: np.ndarray, q: float | np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Weighted quantiles by inverting the weighted empirical distribution function.

    Hyndman & Fan's (1996) definition 1 (numpy's ``method="inverted_cdf"``):
    the smallest data value ``x_(i)`` whose cumulative weight
    ``sum_{j <= i} w_(j)`` reaches ``q sum w``. Integer weights give exactly
    the quantiles of the rows repeated; scaling the weights changes nothing;
    rows of zero weight are ignored.

    Parameters
    ----------
    x : ndarray of shape (n,)
    q : float or ndarray of shape (m,)
        Probabilities in ``[0, 1]``.
    weights : ndarray of shape (n,) or None
        Non-negative weights with a positive sum.

    Returns
    -------
    quantiles : ndarray of the shape of ``q``
        Always values of ``x``.
    """
    probabilities = np.asarray(q, dtype=np.float64)
    if weights is None:
        return np.asarray(np.quantile(x, probabilities, method="inverted_cdf"))
    keep = weights > 0
    values, kept = x[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(kept[order])
    index = np.searchsorted(cumulative, probabilities * cumulative[-1], side="left")
    return values[order][np.minimum(index, values.size - 1)]
