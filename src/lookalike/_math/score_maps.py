"""Monotone maps of normal scores: a subset's own marginal of a score, and back.

A sample ``z_1, ..., z_n`` of one score (a column's normal score among the rows of
one level of another column) defines the map

.. math:: T(z) = \\Phi^{-1}(\\hat F(z)),

with :math:`\\hat F` the sample's smoothed CDF: a Gaussian kernel estimate with
Silverman's bandwidth ``h = 0.9 min(sd, IQR / 1.349) n^(-1/5)``, shrunk about the
sample mean by ``1 / sqrt(1 + h^2 / sd^2)`` so that it keeps the sample's mean and
variance (Silverman 1986, section 6.4.1). ``T`` sends the sample to (about) standard
normal scores, so that one normal fitted to the mapped scores of several columns is a
Gaussian copula whose marginals are the subset's own, and ``T^{-1}`` sends normal draws
back to scores distributed like the sample. The smoothing matters for small subsets:
the draws fill the gaps between the sample's values instead of piling up at them.

A map is held by its *knots*: the values of ``T^{-1}`` at the fixed scores
``KNOT_SCORES[i] = Phi^{-1}((i + 1/2) / KNOTS)``. Between knots the map is linear;
below the first and above the last it continues linearly with the overall slope
``(KNOT_SCORES[-1] - KNOT_SCORES[0]) / (knots[-1] - knots[0])`` (normal tails of the
sample's spread), so the map is defined, strictly increasing and invertible on the
whole real line, and ``T(-inf) = -inf``. A sample of fewer than :data:`MIN_VALUES`
values, or without spread, gets the identity map (knots equal to ``KNOT_SCORES``); so
does, when asked (``normal_alpha``), a sample that a Shapiro-Wilk test cannot tell from a
normal: one normal on the unmapped scores then describes it with two parameters.

The knots are a fixed number whatever the sample's size, and a large sample is
smoothed from :data:`MAX_VALUES` of its quantiles: a map costs bounded time and
memory, and stores no row of a small sample, only smoothed quantiles.

References
----------
Silverman, B. W. (1986). *Density Estimation for Statistics and Data Analysis*.
Chapman and Hall.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from lookalike._math.bandwidth import NORMAL_IQR, SILVERMAN_ROBUST_CONSTANT

#: Knots per map, and the fixed normal scores they sit at.
KNOTS = 64
KNOT_SCORES = special.ndtri((np.arange(KNOTS) + 0.5) / KNOTS)
#: A sample needs this many values (with spread) for a map of its own.
MIN_VALUES = 3
#: A larger sample is smoothed from this many of its quantiles ...
MAX_VALUES = 512
#: ... and its smoothed CDF evaluated on a grid of this many points (the kernel's
#: width is many grid steps, so linear interpolation between them is exact to ~1e-4).
GRID = 256
#: The normality test of ``normal_alpha`` sees at most this many values (quantiles).
MAX_SHAPIRO = 5000


def identity_map() -> np.ndarray:
    """The knots of the identity map."""
    return KNOT_SCORES.copy()


def fit_score_map(z: np.ndarray, normal_alpha: float | None = None) -> np.ndarray:
    """The knots of the map of the finite values of ``z`` (see the module docstring).

    Parameters
    ----------
    z : ndarray of shape (n,)
        The sample; NaN and infinite values are left out.
    normal_alpha : float or None, default=None
        When given, a sample that a Shapiro-Wilk test does not reject as normal at
        this level keeps the identity map: a normal (two parameters) then describes
        it as well as its smoothed CDF (a curve) does, with less noise. A sample of
        more than :data:`MAX_SHAPIRO` values is tested by its quantiles.
    """
    z = np.sort(np.asarray(z, dtype=np.float64)[np.isfinite(z)])
    n = z.size
    if n < MIN_VALUES or not z[-1] > z[0]:
        return identity_map()
    if normal_alpha is not None and _looks_normal(z, normal_alpha):
        return identity_map()
    sd = float(z.std())
    quartiles = np.quantile(z, [0.25, 0.75])
    spread = min(sd, float(quartiles[1] - quartiles[0]) / NORMAL_IQR) or sd
    h = SILVERMAN_ROBUST_CONSTANT * spread * n**-0.2
    if n > MAX_VALUES:  # its quantiles at the Hazen positions of MAX_VALUES values
        z = np.quantile(z, (np.arange(MAX_VALUES) + 0.5) / MAX_VALUES)
    grid = np.linspace(z[0] - 6.0 * h, z[-1] + 6.0 * h, GRID)
    cdf = np.zeros(GRID)
    for block in np.array_split(z, max(1, z.size // 256)):
        cdf += special.ndtr((grid[:, None] - block[None, :]) / h).sum(axis=1)
    cdf /= z.size
    knots = np.interp(special.ndtr(KNOT_SCORES), cdf, grid)
    # Variance matched: the kernels' spread taken back out about the mean.
    mean = float(z.mean())
    knots = mean + (knots - mean) / np.sqrt(1.0 + (h / sd) ** 2)
    step = 1e-9 * (knots[-1] - knots[0])
    return np.maximum.accumulate(knots) + step * np.arange(KNOTS)


def _looks_normal(z: np.ndarray, alpha: float) -> bool:
    """Whether the Shapiro-Wilk test keeps normality for the sorted sample ``z``."""
    if z.size > MAX_SHAPIRO:
        z = np.quantile(z, (np.arange(MAX_SHAPIRO) + 0.5) / MAX_SHAPIRO)
    return bool(stats.shapiro(z).pvalue > alpha)


def _end_slope(knots: np.ndarray) -> float:
    return float((KNOT_SCORES[-1] - KNOT_SCORES[0]) / (knots[-1] - knots[0]))


def to_map_scores(knots: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(T(z), T'(z))``: the mapped scores and the map's slope at ``z``."""
    z = np.asarray(z, dtype=np.float64)
    slope = _end_slope(knots)
    w = np.interp(z, knots, KNOT_SCORES)
    with np.errstate(invalid="ignore"):
        w = np.where(z < knots[0], KNOT_SCORES[0] + (z - knots[0]) * slope, w)
        w = np.where(z > knots[-1], KNOT_SCORES[-1] + (z - knots[-1]) * slope, w)
    segment = np.clip(np.searchsorted(knots, z), 1, KNOTS - 1)
    inner = np.diff(KNOT_SCORES)[segment - 1] / np.diff(knots)[segment - 1]
    outside = (z < knots[0]) | (z > knots[-1])
    return w, np.where(outside, slope, inner)


def from_map_scores(knots: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``T^{-1}(w)``: scores distributed as the map's sample when ``w`` is standard normal."""
    w = np.asarray(w, dtype=np.float64)
    slope = _end_slope(knots)
    z = np.interp(w, KNOT_SCORES, knots)
    with np.errstate(invalid="ignore"):
        z = np.where(w < KNOT_SCORES[0], knots[0] + (w - KNOT_SCORES[0]) / slope, z)
        return np.where(w > KNOT_SCORES[-1], knots[-1] + (w - KNOT_SCORES[-1]) / slope, z)


def check_score_maps(maps: np.ndarray, name: str = "score maps") -> None:
    """Raise ValueError unless ``maps`` holds knots of maps: finite, strictly increasing.

    ``maps`` is a float64 array whose last axis has :data:`KNOTS` entries.
    """
    if not (isinstance(maps, np.ndarray) and maps.dtype == np.float64 and maps.ndim >= 1):
        raise ValueError(f"{name} must be a float64 array")
    if maps.shape[-1] != KNOTS:
        raise ValueError(f"{name} must have {KNOTS} knots on their last axis")
    if not np.all(np.isfinite(maps)) or not np.all(np.diff(maps, axis=-1) > 0):
        raise ValueError(f"{name} must be finite and strictly increasing")
