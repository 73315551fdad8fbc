"""Posteriors and log-densities that stay defined for rows far outside the data.

Pure functions on arrays. The expanded log-density of
:mod:`lookalike._math.gaussian` squares the centred row, which overflows
float64 once the row is about 1e154 away from the data (sooner for tight
components): every component's log-joint becomes ``-inf`` (or NaN), and the
posterior ``exp(a_k - logsumexp(a))`` would be NaN. Such rows are recomputed
here exactly, by scaling.

With ``t = max_j |x_j|`` and ``u = (x - c) / t`` (so ``|u| <= 2`` when the
shift ``c`` is much smaller than ``x``), each component's log-joint is a
quadratic in ``t``:

.. math::

    a_k(x) = t^2 Q_k(u) + t L_k(u) + C_k,

with ``Q_k = -u^T P_k u / 2``, ``L_k = u^T P_k \\mu_k`` and ``C_k`` the
constant of the expanded form plus ``log w_k``: the same coefficients as the
expanded form, evaluated at a moderate ``u``. The best component is the
lexicographic maximum of ``(Q_k, L_k, C_k)``: when ``t^2 Q_k`` overflows,
two distinct ``Q`` differ by at least one rounding unit, ``1e-16 |Q|``, and
``t^2`` times that exceeds ``t L`` by a factor of about 1e130, so ``L``
decides only between exactly equal ``Q`` (tied covariances) and ``C`` only
between equal ``Q`` and ``L``. The other components' log-joints relative to
it, ``t (t dQ + dL) + dC``, are then non-positive and may be ``-inf``: their
posteriors underflow to 0, correctly. (A row that overflowed only in a very
tight component, at a moderate ``t``, may have a larger one: the differences
are taken from the largest.) The log-density is
``t (t Q* + L*) + C* + log sum_k exp(difference_k)``, which is ``-inf`` when
it lies beyond float64's range: the correctly rounded value.
"""

from __future__ import annotations

import numpy as np

from lookalike._math.gaussian import ExpandedGaussians, quadratic_features


def log_posteriors(
    log_joint: np.ndarray,
    rows: np.ndarray,
    shift: np.ndarray,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """``log p(k | x)`` (k, b) and ``log p(x)`` (b,) from a block's log-joint.

    ``log_joint`` (k, b, float64) is ``log w_k + log N_k(x)`` as computed in
    expanded form for the raw ``rows`` (b, d); it is overwritten. Columns
    that are not finite everywhere are recomputed by :func:`far_log_posteriors`
    (NaN stays NaN for rows with missing entries: the caller refuses them).
    """
    far = np.flatnonzero(~np.isfinite(log_joint).all(axis=0))
    if far.size:
        log_joint[:, far] = 0.0
    column_max = log_joint.max(axis=0)
    log_joint -= column_max
    log_sum = np.log(np.exp(log_joint).sum(axis=0))
    log_joint -= log_sum
    log_density = column_max + log_sum
    if far.size:
        far_rows = rows[far]
        complete = ~np.isnan(far_rows).any(axis=1)
        log_density[far[~complete]] = np.nan
        log_joint[:, far[~complete]] = np.nan
        if complete.any():
            log_resp, density = far_log_posteriors(
                far_rows[complete], shift, expanded, log_weights, covariance_type
            )
            log_joint[:, far[complete]] = log_resp
            log_density[far[complete]] = density
    return log_joint, log_density


def far_log_posteriors(
    rows: np.ndarray,
    shift: np.ndarray,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    covariance_type: str,
) -> tuple[np.ndarray, np.ndarray]:
    """``log p(k | x)`` (k, b) and ``log p(x)`` (b,) of finite rows (b, d), by scaling.

    ``expanded`` (float64) encodes the components centred by ``shift``; see
    the module docstring for the method. ``log p(x)`` may be ``-inf``; nothing
    is NaN.
    """
    n_components, n_rows = expanded.linear.shape[0], rows.shape[0]
    scale = np.abs(rows).max(axis=1).astype(np.float64)
    scale[scale == 0] = 1.0
    ut = rows.T / scale - shift[:, np.newaxis] / scale
    if covariance_type == "tied":
        whitened = expanded.quadratic @ ut
        row_quadratic = -0.5 * np.einsum("ij,ij->j", whitened, whitened)
        quadratic = np.broadcast_to(row_quadratic, (n_components, n_rows))
    elif covariance_type == "spherical":
        quadratic = expanded.quadratic * quadratic_features(ut, covariance_type)
    else:
        quadratic = expanded.quadratic @ quadratic_features(ut, covariance_type)
    linear = expanded.linear @ ut
    constant = np.broadcast_to(
        expanded.constant + log_weights[:, np.newaxis], (n_components, n_rows)
    )
    best = np.lexsort((constant, linear, quadratic), axis=0)[-1]
    columns = np.arange(n_rows)
    largest = np.finfo(np.float64).max
    with np.errstate(over="ignore", invalid="ignore"):
        quadratic_part = scale * (quadratic - quadratic[best, columns])
        difference = scale * (quadratic_part + (linear - linear[best, columns]))
        difference += constant - constant[best, columns]
        # The lexicographic best is the largest whenever t^2 Q overflows; for rows
        # that only overflowed in a very tight component, another may be larger.
        np.minimum(difference, largest, out=difference)
        top = difference.max(axis=0)
        difference -= top
        log_sum = np.log(np.exp(difference).sum(axis=0))
        log_density = scale * (scale * quadratic[best, columns] + linear[best, columns])
        log_density += constant[best, columns] + top + log_sum
    difference -= log_sum
    return difference, log_density
