"""Gaussian mixtures restricted to points and intervals: exact and GHK-weighted draws.

:func:`truncated_standard_normal` draws ``N(0, 1)`` restricted to ``[low, high]`` by
the inverse CDF in log space (accurate far in the tails).

:func:`conditional_mixture_draws` draws from a Gaussian mixture ``sum_k w_k N(mu_k,
S_k)`` conditioned on some coordinates being fixed points and others lying in
intervals. Coordinates are ordered ``[points P, intervals I, free F]``:

1. Fixing ``x_P`` gives each component its conditional over ``(I, F)`` by the Schur
   complement (:func:`lookalike._math.schur.schur_factors`, the factorisation shared
   by every conditional) and reweights it by ``N(x_P; mu_kP, S_kPP)``.
2. Within a component, with ``L`` the Cholesky factor of the conditional covariance
   (intervals first), ``x = m + L e``; the interval coordinates are drawn one after
   the other, each ``e_t`` from a standard normal truncated so that ``x_t`` stays in
   its interval given ``e_<t`` (the GHK simulator; Geweke 1991, Hajivassiliou and
   McFadden 1998, Keane 1994). The free coordinates then follow with unrestricted
   ``e_F``.
3. Components are proposed in proportion to their weight times the exact mass of the
   first interval; with one interval this is exact sampling. With more, the draws
   carry the GHK weight ``prod_{t>=2} P(e_t in its interval)`` and are resampled in
   proportion to it (sampling-importance-resampling), with more proposals while the
   effective sample size is below the number of draws wanted.

References
----------
Geweke, J. (1991). Efficient simulation from the multivariate normal and Student-t
distributions subject to linear constraints. *Computer Science and Statistics:
Proceedings of the 23rd Symposium on the Interface*, 571-578.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
from scipy import special
from scipy.special import logsumexp

from lookalike._math.schur import schur_factors

T = TypeVar("T")

#: Most proposals drawn per wanted row when several intervals need importance weights.
MAX_PROPOSALS_PER_ROW = 64


def log_interval_mass(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``log(Phi(high) - Phi(low))``, accurate in both tails."""
    low, high = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    flip = low > 0  # upper tail: use the mirror image, where Phi is accurate
    a = np.where(flip, -high, low)
    b = np.where(flip, -low, high)
    log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return log_b + np.log1p(-np.exp(np.minimum(log_a - log_b, 0.0)))


def truncated_standard_normal(
    low: np.ndarray, high: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws of ``N(0, 1)`` restricted to ``[low, high]`` (elementwise)."""
    low, high = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    flip = low > 0
    a = np.where(flip, -high, low)
    b = np.where(flip, -low, high)
    log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
    u = rng.random(a.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(Phi(a) + u (Phi(b) - Phi(a))) = log_b + log(u + (1 - u) exp(log_a - log_b))
        log_p = log_b + np.log(u + (1.0 - u) * np.exp(np.minimum(log_a - log_b, 0.0)))
    x = special.ndtri_exp(np.minimum(log_p, 0.0))
    x = np.clip(np.nan_to_num(x, nan=0.0, posinf=b.max(initial=0), neginf=a.min(initial=0)), a, b)
    return np.where(flip, -x, x)


def conditional_mixture_draws(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    points: Mapping[int, float | np.ndarray],
    intervals: Mapping[int, tuple[float | np.ndarray, float | np.ndarray]],
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of the mixture given ``x_j = points[j]`` and ``x_j in intervals[j]``.

    Parameters
    ----------
    weights : ndarray of shape (k,)
    means : ndarray of shape (k, d)
    covariances : ndarray of shape (k, d, d) or (1, d, d)
        One full covariance per component, or one shared by all (a Gaussian KDE).
    points, intervals : dict
        Coordinate -> value, and coordinate -> ``(low, high)``. A value or an end may
        also be an array of shape (k,): one per component (a mixture whose
        components live on their own scales, each conditioned on its own image of
        the condition).
    n : int
    rng : Generator

    Returns
    -------
    draws : ndarray of shape (n, d)
    components : ndarray of shape (n,)
        The component each draw came from.

    Raises
    ------
    ValueError
        If the conditions have no mass under the mixture.
    """
    k, d = means.shape
    fixed = np.array(sorted(points), dtype=np.intp)
    ranged = np.array(sorted(intervals), dtype=np.intp)
    free = np.array([j for j in range(d) if j not in points and j not in intervals], np.intp)
    rest = np.concatenate((ranged, free))
    shared = covariances.shape[0] == 1
    log_w = np.log(np.maximum(weights, 1e-300))
    x_fixed = _per_component([points[j] for j in fixed], k)  # (k, p)
    cond_means = np.empty((k, rest.size))
    factors = np.empty((1 if shared else k, rest.size, rest.size))
    for c in range(covariances.shape[0]):
        components = np.arange(k) if shared else np.array([c])
        mu, log_density, factor = _condition_on_points(
            means[components], covariances[c], fixed, rest, x_fixed[components]
        )
        cond_means[components] = mu
        log_w[components] += log_density
        factors[c] = factor
    lows = _per_component([intervals[j][0] for j in ranged], k)  # (k, r)
    highs = _per_component([intervals[j][1] for j in ranged], k)
    if ranged.size:
        diag = factors[:, 0, 0]  # conditional sd of the first ranged dimension
        scale = np.full(k, diag[0]) if shared else diag
        log_w = log_w + log_interval_mass(
            (lows[:, 0] - cond_means[:, 0]) / scale, (highs[:, 0] - cond_means[:, 0]) / scale
        )
    if not np.isfinite(logsumexp(log_w)):
        raise ValueError(
            "The conditions have no probability under the fitted model; widen the ranges "
            "or choose values that occur in the data."
        )
    probabilities = np.exp(log_w - logsumexp(log_w))
    proposals = n if ranged.size <= 1 else max(4 * n, 256)
    while True:
        components = rng.choice(k, size=proposals, p=probabilities)
        draws, log_ghk = _ghk_draws(cond_means, factors, shared, components, lows, highs, rng)
        if ranged.size <= 1:
            chosen = np.arange(n)
            break
        ghk = np.exp(log_ghk - log_ghk.max())
        ess = ghk.sum() ** 2 / max(float((ghk**2).sum()), 1e-300)
        if ess >= n or proposals >= MAX_PROPOSALS_PER_ROW * n:
            chosen = rng.choice(proposals, size=n, p=ghk / ghk.sum())
            break
        proposals *= 4
    out = np.empty((n, d))
    out[:, fixed] = x_fixed[components[chosen]]
    out[:, rest] = draws[chosen]
    return out, components[chosen]


def _per_component(values: list[float | np.ndarray], k: int) -> np.ndarray:
    """Condition values, each a number or one per component, as a (k, len(values)) array."""
    out = np.empty((k, len(values)))
    for t, value in enumerate(values):
        out[:, t] = np.broadcast_to(np.asarray(value, dtype=np.float64), (k,))
    return out


def _condition_on_points(
    means: np.ndarray,
    covariance: np.ndarray,
    fixed: np.ndarray,
    rest: np.ndarray,
    x_fixed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional means over ``rest``, log-density of the points, Cholesky factor.

    With the Schur factors of ``S`` over the points ``P`` (``S_PP = L L^T``,
    ``W = L^{-1} S_P,rest``) and ``z = L^{-1} (x_P - mu_P)``: the conditional
    means are ``mu_rest + W^T z``, the log-density ``-|z|^2 / 2 - sum log L_ii
    - |P| log(2 pi) / 2``, the conditional covariance the Schur complement.
    """
    if fixed.size == 0:
        rest_block = covariance[np.ix_(rest, rest)]
        return means[:, rest], np.zeros(means.shape[0]), _jittered(np.linalg.cholesky, rest_block)
    schur = _jittered(
        lambda matrix: schur_factors(matrix[np.newaxis], fixed, rest), covariance, fixed
    )
    lower = schur.lower[0]
    deviations = x_fixed - means[:, fixed]  # (k, p)
    solved = np.linalg.solve(lower, deviations.T)  # (p, k)
    log_density = (
        -0.5 * np.sum(solved**2, axis=0)
        - np.sum(np.log(np.diag(lower)))
        - 0.5 * fixed.size * np.log(2 * np.pi)
    )
    cond_means = means[:, rest] + solved.T @ schur.cross[0]
    return cond_means, log_density, _jittered(np.linalg.cholesky, schur.complement[0])


def _jittered(
    factorise: Callable[[np.ndarray], T], matrix: np.ndarray, diagonal: np.ndarray | None = None
) -> T:
    """``factorise(matrix)``, retried with growing jitter on ``matrix[diagonal, diagonal]``.

    ``diagonal=None`` jitters the whole diagonal. The jitter starts at ``1e-10``
    times the mean of those diagonal entries and grows tenfold, six tries in all.
    """
    if matrix.size == 0:
        return factorise(matrix)
    indices = np.arange(matrix.shape[0]) if diagonal is None else diagonal
    jitter = 0.0
    scale = float(np.mean(matrix[indices, indices]))
    for _ in range(6):
        jittered = matrix.copy()
        jittered[indices, indices] += jitter
        try:
            return factorise(jittered)
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10.0, 1e-10 * max(scale, 1e-300))
    raise np.linalg.LinAlgError("the conditional covariance is not positive definite")


def _ghk_draws(
    cond_means: np.ndarray,
    factors: np.ndarray,
    shared: bool,
    components: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws over ``rest`` (intervals first) and their log GHK weights (t >= 2).

    ``lows`` and ``highs`` have shape (k, number of intervals): each component's ends.
    """
    m = components.size
    r = cond_means.shape[1]
    draws = np.empty((m, r))
    log_weight = np.zeros(m)
    groups = (
        [np.arange(m)]
        if shared
        else [np.flatnonzero(components == c) for c in range(factors.shape[0])]
    )
    for c, rows in enumerate(groups):
        if rows.size == 0:
            continue
        factor = factors[0 if shared else c]
        mean = cond_means[components[rows]]
        e = np.empty((rows.size, r))
        ends_low, ends_high = lows[components[rows]], highs[components[rows]]
        for t in range(lows.shape[1]):
            shift = mean[:, t] + e[:, :t] @ factor[t, :t]
            low = (ends_low[:, t] - shift) / factor[t, t]
            high = (ends_high[:, t] - shift) / factor[t, t]
            e[:, t] = truncated_standard_normal(low, high, rng)
            if t > 0:
                log_weight[rows] += log_interval_mass(low, high)
        n_ranged = lows.shape[1]
        e[:, n_ranged:] = rng.standard_normal((rows.size, r - n_ranged))
        draws[rows] = mean + e @ factor.T
        if n_ranged:
            draws[rows, :n_ranged] = np.clip(draws[rows, :n_ranged], ends_low, ends_high)
    return draws, log_weight
