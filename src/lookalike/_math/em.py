"""Expectation-maximisation for Gaussian mixtures on additive sufficient statistics.

Pure functions on arrays. One pass over a block of rows (:func:`e_step_block`)
evaluates the log-likelihood under the current parameters and returns the
block's :class:`Moments`: the responsibility-weighted count, first and second
moments of every component. Moments of blocks add up (:meth:`Moments.__add__`);
:func:`m_step` maps their sum to new parameters. Local, chunked and
distributed EM differ only in how blocks are visited.

All data seen here are *centred* and *feature-major*: the caller subtracts a
fixed shift ``c`` (the column means of the data) from every row and passes a
block of ``b`` rows as an array of shape (d, b) (see
:func:`~lookalike._math.gaussian.centred_block`); it adds ``c`` back to the
means after the M-step.

Blocks may be float32 (with float32 coefficients, see
:func:`~lookalike._math.gaussian.single_precision`): the matrix products and
``exp`` of the block then run in single precision, about twice as fast, and
each block's moments and log-likelihood are converted to float64 before
blocks are added, so rounding does not grow with the number of rows. A block's
float32 second moments about ``c`` carry a relative error of about
``eps32 * sqrt(b)`` (``b`` rows per block), which a covariance inherits
multiplied by ``1 + ||m_k||^2 / sigma_k^2``; the single-precision gate keeps
that factor small.

The second moments are taken around ``c``, not around each component's mean,
so that one matrix product serves all components at once (see
:mod:`lookalike._math.gaussian`); the covariance then follows from
``E_k[x x^T] - m_k m_k^T``. The centring keeps that subtraction accurate
unless a component is thousands of its own standard deviations away from the
data mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lookalike._math.gaussian import (
    ExpandedGaussians,
    centred_block,
    log_gaussians,
    quadratic_features,
    symmetric_from_triu,
)

# Added to every component's count, as scikit-learn does, so that an empty
# component divides by a tiny number rather than by zero.
COUNT_FLOOR = 10 * np.finfo(np.float64).eps


@dataclass
class Moments:
    """Responsibility-weighted sufficient statistics of one or more blocks.

    Attributes
    ----------
    counts : ndarray of shape (k,)
        ``N_k = sum_i w_i r_ik``.
    sums : ndarray of shape (k, d)
        ``S_k = sum_i w_i r_ik x_i`` (centred rows).
    second : ndarray
        full: (k, d(d+1)/2) packed ``sum_i w_i r_ik x_i x_i^T``;
        tied: (d, d) ``sum_i w_i x_i x_i^T``; diag: (k, d) ``sum_i w_i r_ik x_i^2``;
        spherical: (k, 1) ``sum_i w_i r_ik ||x_i||^2``.
    log_likelihood : float
        ``sum_i w_i log p(x_i)`` under the parameters of the pass (0 for
        moments computed from fixed responsibilities).
    total_weight : float
        ``sum_i w_i``.
    """

    counts: np.ndarray
    sums: np.ndarray
    second: np.ndarray
    log_likelihood: float
    total_weight: float

    def is_finite(self) -> bool:
        """Whether every statistic is finite (no overflow happened)."""
        return bool(
            np.isfinite(self.log_likelihood)
            and np.isfinite(self.counts).all()
            and np.isfinite(self.sums).all()
            and np.isfinite(self.second).all()
        )

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.counts + other.counts,
            self.sums + other.sums,
            self.second + other.second,
            self.log_likelihood + other.log_likelihood,
            self.total_weight + other.total_weight,
        )


def moments_from_responsibilities(
    xt: np.ndarray,
    features: np.ndarray,
    weighted_resp: np.ndarray,
    covariance_type: str,
    row_weights: np.ndarray | None = None,
    log_likelihood: float = 0.0,
) -> Moments:
    """Moments of one block given its weighted responsibilities ``w_i r_ik``.

    ``xt`` (d, b), ``features`` (see
    :func:`~lookalike._math.gaussian.quadratic_features`) and ``weighted_resp``
    (k, b) share one dtype, float64 or float32; the moments are float64.
    ``row_weights`` are the sample weights ``w_i`` (``None``: ones). The tied
    scatter uses ``w_i`` alone, like scikit-learn's tied estimator, which
    equals ``sum_k w_i r_ik`` whenever responsibilities sum to one.
    """
    counts = weighted_resp.sum(axis=1, dtype=np.float64)
    sums = (weighted_resp @ xt.T).astype(np.float64, copy=False)
    if covariance_type == "tied":
        weighted_rows = xt if row_weights is None else xt * row_weights.astype(xt.dtype)
        second = weighted_rows @ xt.T
    else:
        second = weighted_resp @ features.T
    second = second.astype(np.float64, copy=False)
    total_weight = float(xt.shape[1] if row_weights is None else row_weights.sum())
    return Moments(counts, sums, second, log_likelihood, total_weight)


def fixed_responsibility_moments(
    rows: np.ndarray,
    row_weights: np.ndarray | None,
    shift: np.ndarray,
    covariance_type: str,
    blocks: Sequence[slice],
    responsibilities: Callable[[slice, np.ndarray], np.ndarray],
) -> Moments | None:
    """Moments of given responsibilities (an initialisation), block after block.

    ``responsibilities(block, xt)`` returns the (k, b) responsibilities of the
    rows ``rows[block]``, whose centred feature-major form is ``xt``. Blocks
    are visited in order, so random draws inside ``responsibilities`` are
    reproducible. ``None`` when there are no blocks.
    """
    total: Moments | None = None
    for block in blocks:
        xt = centred_block(rows[block], shift)
        block_weights = None if row_weights is None else row_weights[block]
        resp = responsibilities(block, xt)
        if block_weights is not None:
            resp *= block_weights
        features = quadratic_features(xt, covariance_type)
        moments = moments_from_responsibilities(xt, features, resp, covariance_type, block_weights)
        total = moments if total is None else total + moments
    return total


def e_step_block(
    xt: np.ndarray,
    sample_weight: np.ndarray | None,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    covariance_type: str,
) -> Moments:
    """E-step over one feature-major block of centred rows, returned as moments.

    Computes ``log p(x_i) = logsumexp_k(log w_k + log N_k(x_i))``, the
    responsibilities ``r_ik = exp(log w_k + log N_k(x_i) - log p(x_i))`` and
    from them the block's moments. The quadratic features are computed once
    and serve both the log-densities and the second moments. ``xt`` and
    ``expanded`` share one dtype (float32 runs the block in single precision);
    the moments and the log-likelihood are float64 either way.
    """
    features = quadratic_features(xt, covariance_type)
    resp = log_joint_block(xt, expanded, log_weights, covariance_type, features)
    log_norm = normalise_log_columns(resp)
    if sample_weight is None:
        log_likelihood = float(log_norm.sum())
    else:
        resp *= sample_weight.astype(resp.dtype, copy=False)
        log_likelihood = float(log_norm @ sample_weight)
    return moments_from_responsibilities(
        xt, features, resp, covariance_type, sample_weight, log_likelihood
    )


def e_step_rows(
    rows: np.ndarray,
    sample_weight: np.ndarray | None,
    shift: np.ndarray,
    expanded: ExpandedGaussians,
    single: ExpandedGaussians | None,
    log_weights: np.ndarray,
    covariance_type: str,
) -> Moments:
    """E-step over a block of raw rows (b, d): centre, then :func:`e_step_block`.

    float32 rows run in single precision with the float32 coefficients
    ``single`` (see :func:`~lookalike._math.gaussian.single_precision`); if
    that pass overflows (rows far beyond float32's range of squares), the
    block is redone in float64, as are float64 rows and every block when
    ``single`` is ``None``.
    """
    if single is not None and rows.dtype == np.float32:
        xt = centred_block(rows, shift, np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            moments = e_step_block(xt, sample_weight, single, log_weights, covariance_type)
        if moments.is_finite():
            return moments
    xt = centred_block(rows, shift)
    return e_step_block(xt, sample_weight, expanded, log_weights, covariance_type)


def log_joint_block(
    xt: np.ndarray,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    covariance_type: str,
    features: np.ndarray | None = None,
) -> np.ndarray:
    """``log w_k + log N_k(x_i)`` for a feature-major block: shape (k, b)."""
    if features is None:
        features = quadratic_features(xt, covariance_type)
    log_joint = log_gaussians(xt, features, expanded, covariance_type)
    log_joint += log_weights.astype(log_joint.dtype, copy=False)[:, np.newaxis]
    return log_joint


def normalise_log_columns(log_joint: np.ndarray) -> np.ndarray:
    """Turn ``log_joint`` (k, b) into responsibilities in place; return ``log p``.

    ``log p_i = m_i + log sum_k exp(a_ki - m_i)`` with ``m_i = max_k a_ki``, so no
    term overflows and the largest is exactly one. The responsibilities keep
    the dtype of ``log_joint``; ``log p`` (b,) is float64.
    """
    column_max = log_joint.max(axis=0)
    log_joint -= column_max
    np.exp(log_joint, out=log_joint)
    column_sum = log_joint.sum(axis=0)
    log_joint /= column_sum
    return np.log(column_sum, dtype=np.float64) + column_max


@dataclass
class MStepResult:
    """Parameters from one M-step; means are centred by the data shift."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    empty_components: np.ndarray


def m_step(
    moments: Moments,
    covariance_type: str,
    reg_covar: float,
    empty_threshold: float = 0.0,
    tied_origin: np.ndarray | None = None,
) -> MStepResult:
    """Maximum-likelihood parameters from summed moments.

    .. math::

        w_k = N_k / \\sum_j N_j, \\quad m_k = S_k / N_k, \\quad
        \\Sigma_k = M_k / N_k - m_k m_k^T + \\lambda I

    with ``lambda = reg_covar``. ``N_k`` carries :data:`COUNT_FLOOR`, as in
    scikit-learn. For full covariances scikit-learn uses the two-pass scatter
    ``sum_i r_ik (x_i - m_k)(x_i - m_k)^T / N_k``, which with the floor equals
    ``M_k / N_k - (2 - N_k^0 / N_k) m_k m_k^T`` (``N_k^0`` the count without
    the floor): that factor is used, so that a component of one row (seeded
    initialisations) gets ``reg_covar`` as in scikit-learn, not
    ``reg_covar + 10 eps m_k m_k^T``. For diag and spherical, scikit-learn's
    formula is the one-pass one above. Tied pools the scatter of all components,
    diag keeps the diagonal, spherical its mean. Components whose count is at
    most ``empty_threshold`` are reported in ``empty_components`` so that the
    caller can keep their previous parameters.

    ``tied_origin`` (tied only) reproduces scikit-learn's tied estimator, which
    takes both scatters about the origin of the raw data; see
    :func:`tied_origin_correction`. ``None`` keeps the centred formula.
    """
    counts = moments.counts + COUNT_FLOOR
    n_features = moments.sums.shape[1]
    means = moments.sums / counts[:, np.newaxis]
    weights = counts / counts.sum()
    if covariance_type == "full":
        # 2 - N_k^0 / N_k = 1 + COUNT_FLOOR / N_k: the two-pass scatter (see above).
        mean_factor = 2.0 - moments.counts / counts
        second = symmetric_from_triu(moments.second, n_features) / counts[:, None, None]
        scaled_means = means * mean_factor[:, np.newaxis]
        covariances = second - scaled_means[:, :, np.newaxis] * means[:, np.newaxis, :]
        covariances = 0.5 * (covariances + np.swapaxes(covariances, 1, 2))
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif covariance_type == "tied":
        between = (means.T * counts) @ means
        covariances = (moments.second - between) / counts.sum()
        if tied_origin is not None:
            covariances += tied_origin_correction(moments, tied_origin)
        covariances = 0.5 * (covariances + covariances.T)
        covariances[np.arange(n_features), np.arange(n_features)] += reg_covar
    elif covariance_type == "diag":
        covariances = moments.second / counts[:, np.newaxis] - means**2 + reg_covar
    else:
        mean_square = moments.second[:, 0] / counts
        covariances = (mean_square - (means**2).sum(axis=1)) / n_features + reg_covar
    empty = np.flatnonzero(moments.counts <= empty_threshold)
    return MStepResult(weights, means, covariances, empty)


def tied_origin_correction(moments: Moments, origin: np.ndarray) -> np.ndarray:
    """Change of the tied covariance when its scatters are taken about ``origin``.

    The tied estimate is ``(sum_i w_i x_i x_i^T - sum_k N_k m_k m_k^T) / N`` with
    ``N = sum_k N_k``. When every row's responsibilities sum to one, this does
    not depend on where ``x`` and ``m_k`` are measured from; when they do not
    (scikit-learn's "k-means++" and "random_from_data" initialisations give
    one-hot responsibilities to ``k`` rows and zero to the others), it does.
    With ``o`` the origin in centred coordinates (``-shift`` for scikit-learn,
    which uses the raw data) and rows centred at their weighted mean, the
    estimate about ``o`` exceeds the centred one by

    .. math::

        \\left[S o^T + o S^T + (W - N)\\, o o^T\\right] / N,
        \\qquad S = \\sum_k N_k m_k,\\ W = \\sum_i w_i .
    """
    counts = moments.counts + COUNT_FLOOR
    total = counts.sum()
    pooled_sum = moments.sums.sum(axis=0)
    cross = np.outer(pooled_sum, origin)
    correction = cross + cross.T + (moments.total_weight - total) * np.outer(origin, origin)
    return correction / total
