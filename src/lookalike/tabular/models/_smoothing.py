"""Smoothing between neighbouring values: copied scores moved towards a neighbour.

``trees`` and ``cells`` draw a continuous dimension by copying a training row's normal
score. Copied as it is, the value is a training value, and a synthetic row can repeat a
training row. Smoothing moves the copied score ``z`` some way towards the next lower or
the next higher training score of the dimension, in probability units ``u = Phi(z)``:
each member ``i`` owns a lower segment from ``u_i`` to ``u_i + s (u_below - u_i)`` and
an upper one to ``u_i + s (u_above - u_i)`` (``s`` the smoothing in [0, 1]; at the
lowest and highest score the outer segment is the point itself); a draw takes one of
the two with probability 1/2 and a uniform point on it. The training scores are the
column codec's randomised probability integral transforms, so interpolating between
neighbours in ``u`` is the codec's own interpolation between neighbouring values: the
column's marginal is unchanged on average, an atom (a repeated value, whose scores are
spread over its interval) keeps its rate, and a continuous value comes out between the
copied value and its neighbour instead of equal to it.

Conditions see the smoothed model: a range weighs a member by the share of its two
segments inside the range (:func:`covered`), a point by their density there
(:func:`density`), and :func:`smoothed` draws within the range.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from lookalike._math.marginals import normal_scores

__all__ = ["covered", "density", "segments", "smoothed"]


def segments(scores: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each score's probability ``u`` and the far ends of its lower and upper segments.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Normal scores of one dimension; NaN (a missing value) gets NaN segments and
        is nobody's neighbour.
    smoothing : float in [0, 1]

    Returns
    -------
    u, lower, upper : ndarrays of shape (n,)
    """
    u = special.ndtr(scores)
    lower, upper = u.copy(), u.copy()
    finite = np.flatnonzero(~np.isnan(u))
    order = finite[np.argsort(u[finite], kind="stable")]
    ranked = u[order]
    lower[order] = np.concatenate((ranked[:1], ranked[:-1]))
    upper[order] = np.concatenate((ranked[1:], ranked[-1:]))
    return u, u + smoothing * (lower - u), u + smoothing * (upper - u)


def smoothed(
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    scores: np.ndarray,
    members: np.ndarray,
    low: float,
    high: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Scores of ``members`` moved along one of their segments, within ``[low, high]``.

    ``bounds`` is :func:`segments`' output for ``scores``. The segment is chosen with
    probability 1/2 each, or, within an interval, in proportion to 1/2 times the share
    of it inside; the score is then uniform (in probability) on the part of the
    segment inside the interval. A member whose segments lie outside the interval
    (or a missing one) keeps its score.
    """
    u, lower, upper = bounds
    u_low, u_high = float(special.ndtr(low)), float(special.ndtr(high))
    if np.isinf(low) and np.isinf(high) and low < 0 < high:
        downward = rng.random(members.size) < 0.5
    else:
        low_part = covered(lower, u, u_low, u_high)[members]
        total = low_part + covered(u, upper, u_low, u_high)[members]
        downward = rng.random(members.size) * total < low_part
    start = np.where(downward, lower[members], u[members])
    stop = np.where(downward, u[members], upper[members])
    start, stop = np.maximum(start, u_low), np.minimum(stop, u_high)
    drawn = start + rng.random(members.size) * np.maximum(stop - start, 0.0)
    with np.errstate(invalid="ignore"):
        inside = stop > start
    return np.where(inside, normal_scores(np.where(inside, drawn, 0.5)), scores[members])


def density(start: np.ndarray, stop: np.ndarray, point: float) -> np.ndarray:
    """Uniform density of each segment ``[start, stop]`` (either order) at ``point``."""
    low, high = np.minimum(start, stop), np.maximum(start, stop)
    length = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((length > 0) & (low <= point) & (point <= high), 1.0 / length, 0.0)


def covered(start: np.ndarray, stop: np.ndarray, low: float, high: float) -> np.ndarray:
    """Share of each segment ``[start, stop]`` inside ``[low, high]`` (a point: 0 or 1)."""
    length = stop - start
    inside = np.clip(np.minimum(stop, high) - np.maximum(start, low), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(length > 0, inside / length, 0.0)
        return np.where(length > 0, share, (start >= low) & (start <= high)).astype(np.float64)
