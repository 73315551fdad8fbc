"""Radially symmetric smoothing kernels: profiles, d-dimensional normalisation, samplers.

Pure functions on arrays. A kernel of bandwidth ``h`` in ``d`` dimensions is

.. math::

    K_h(u) = \\frac{k(\\lVert u \\rVert / h)}{C_d \\, h^d},
    \\qquad C_d = \\int_{\\mathbb{R}^d} k(\\lVert v \\rVert)\\, dv
              = S_{d-1} \\int_0^\\infty r^{d-1} k(r)\\, dr ,

with the *profile* ``k`` of the table below, as scikit-learn defines it, and
``S_{d-1} = 2 \\pi^{d/2} / \\Gamma(d/2)`` the area of the unit sphere. Profiles
are evaluated at the squared scaled distance ``s = (\\lVert u \\rVert / h)^2``,
which is what blocked distance computations produce; the kernels with a finite
support are zero for ``s >= 1`` (an open ball, as scikit-learn).

=============  ======================  =====================================
kernel         profile ``k(r)``        radius of a draw (direction uniform)
=============  ======================  =====================================
gaussian       ``exp(-r^2 / 2)``       ``r^2 ~ chi^2_d`` (a normal vector)
tophat         ``1``                   ``r ~ Beta(d, 1)``
epanechnikov   ``1 - r^2``             ``r^2 ~ Beta(d/2, 2)``
exponential    ``exp(-r)``             ``r ~ Gamma(d, 1)``
linear         ``1 - r``               ``r ~ Beta(d, 2)``
cosine         ``cos(pi r / 2)``       ``Beta(d, 2)``, accepted w.p. ``sinc``
=============  ======================  =====================================

A draw from ``K_1`` is a uniform direction times a radius whose density is
proportional to ``r^{d-1} k(r)``; the table gives that law. For the cosine
kernel, ``cos(pi r/2) = sin(pi (1-r)/2) <= (pi/2)(1-r)``, so a ``Beta(d, 2)``
proposal accepted with probability ``sin(x) / x`` at ``x = pi (1-r)/2`` is
exact, and accepts at least ``2/pi`` of the proposals in any dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

Profile = Callable[..., np.ndarray]

# --------------------------------------------------------------------------------------
# Geometry of the unit ball


def log_sphere_area(d: int) -> float:
    """``log S_{d-1}``: log of the area of the unit sphere in ``d`` dimensions."""
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - float(gammaln(0.5 * d))


def log_ball_volume(d: int) -> float:
    """``log V_d``: log of the volume of the unit ball in ``d`` dimensions."""
    return 0.5 * d * math.log(math.pi) - float(gammaln(0.5 * d + 1.0))


def cosine_moment(n: int) -> float:
    """``int_0^1 r^n cos(pi r / 2) dr`` for an integer ``n >= 0``.

    Integrating by parts twice gives ``C_n = 1/a - n (n-1)/a^2 C_{n-2}`` with
    ``a = pi/2``. Run forwards this recurrence loses every digit by ``n ~ 30``;
    run backwards it damps errors by ``a^2 / (n (n-1))`` per step, so it starts
    60 steps above ``n`` from the rough ``C_N ~ a / ((N+1)(N+2))`` (the
    integrand near ``r = 1``) and is exact to rounding by the time it arrives.
    """
    a = 0.5 * math.pi
    top = n + 60
    value = a / ((top + 1) * (top + 2))
    for m in range(top, n, -2):
        value = (1.0 / a - value) * a * a / (m * (m - 1))
    return value


# --------------------------------------------------------------------------------------
# Radius laws for the samplers


def _radius_gaussian(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return np.sqrt(rng.chisquare(d, size=n))


def _radius_tophat(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.beta(d, 1.0, size=n)


def _radius_epanechnikov(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return np.sqrt(rng.beta(0.5 * d, 2.0, size=n))


def _radius_exponential(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.gamma(d, 1.0, size=n)


def _radius_linear(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.beta(d, 2.0, size=n)


def _radius_cosine(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    out = np.empty(n)
    filled = 0
    while filled < n:
        # Acceptance is at least 2/pi; ask for enough to finish in one round usually.
        wanted = int((n - filled) * 1.6) + 16
        proposal = rng.beta(d, 2.0, size=wanted)
        x = 0.5 * np.pi * (1.0 - proposal)
        accept = rng.uniform(size=wanted) * x <= np.sin(x)
        kept = proposal[accept][: n - filled]
        out[filled : filled + kept.size] = kept
        filled += kept.size
    return out


# --------------------------------------------------------------------------------------
# Profiles as functions of the squared scaled distance s = (r / h)^2
#
# Each takes ``s >= 0`` and an optional ``out`` array (which may be ``s`` itself) and
# works in place: the evaluation engine calls them on multi-MiB blocks, where
# temporaries would cost as much as the arithmetic.


def _prepare(s: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.empty(np.shape(s)) if out is None else out


def _log_gaussian(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.multiply(s, -0.5, out=_prepare(s, out))


def _log_tophat(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    inside = np.asarray(s) < 1.0
    out = _prepare(s, out)
    out.fill(-np.inf)
    out[inside] = 0.0
    return out


def _log_epanechnikov(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = _profile_epanechnikov(s, out)
    with np.errstate(divide="ignore"):
        return np.log(out, out=out)


def _log_exponential(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.sqrt(s, out=_prepare(s, out))
    return np.negative(out, out=out)


def _log_linear(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = _profile_linear(s, out)
    with np.errstate(divide="ignore"):
        return np.log(out, out=out)


def _log_cosine(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = _profile_cosine(s, out)
    with np.errstate(divide="ignore"):
        return np.log(out, out=out)


def _profile_tophat(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.less(s, 1.0, out=_prepare(s, out))


def _profile_epanechnikov(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.subtract(1.0, s, out=_prepare(s, out))
    return np.maximum(out, 0.0, out=out)


def _profile_linear(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.sqrt(s, out=_prepare(s, out))
    np.subtract(1.0, out, out=out)
    return np.maximum(out, 0.0, out=out)


def _profile_cosine(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # cos(pi r / 2) = sin(pi (1 - r) / 2): exactly zero at and beyond the edge.
    out = _profile_linear(s, out)
    np.multiply(out, 0.5 * np.pi, out=out)
    return np.sin(out, out=out)


# --------------------------------------------------------------------------------------
# The kernels


@dataclass(frozen=True)
class Kernel:
    """A radially symmetric kernel of unit bandwidth.

    Attributes
    ----------
    name : str
    support : float
        Radius beyond which the profile is zero (``inf`` for unbounded kernels).
    fragile_at_zero : bool
        ``log k`` has an unbounded slope in ``s`` at ``s = 0`` (it depends on
        ``r = sqrt(s)``: exponential, linear), so near-zero squared distances
        must be exact: ``sqrt`` magnifies their rounding.
    log_profile : callable
        ``log_profile(s, out=None)``: ``log k`` at squared scaled distances
        ``s >= 0`` (``-inf`` outside the support), written into ``out`` if
        given (``out`` may be ``s``).
    profile : callable or None
        ``profile(s, out=None)``: ``k`` at ``s``, for kernels whose values never
        underflow (compact support); ``None`` for gaussian and exponential,
        which are summed in log space.
    """

    name: str
    support: float
    fragile_at_zero: bool
    log_profile: Profile
    profile: Profile | None
    _log_radial_integral: Callable[[int], float]
    _second_moment_ratio: Callable[[int], float]
    _radius: Callable[[np.random.Generator, int, int], np.ndarray]

    def log_normaliser(self, d: int) -> float:
        """``log C_d``: log of the integral of the profile over ``R^d``."""
        return log_sphere_area(d) + self._log_radial_integral(d)

    def log_norm(self, d: int, bandwidth: float = 1.0) -> float:
        """Log of the constant that makes ``k(r/h)`` a density: ``-log(C_d h^d)``."""
        return -self.log_normaliser(d) - d * math.log(bandwidth)

    def variance(self, d: int) -> float:
        """Variance of each coordinate of a draw from the unit-bandwidth kernel."""
        return self._second_moment_ratio(d) / d

    def sample(self, rng: np.random.Generator, n: int, d: int) -> np.ndarray:
        """``n`` draws from the unit-bandwidth kernel in ``d`` dimensions: shape (n, d)."""
        if self.name == "gaussian":
            return rng.standard_normal((n, d))
        direction = rng.standard_normal((n, d))
        norms = np.linalg.norm(direction, axis=1, keepdims=True)
        # A zero normal vector has probability zero; guard the division anyway.
        norms[norms == 0.0] = 1.0
        return direction / norms * self._radius(rng, n, d)[:, np.newaxis]


def _cosine_log_integral(d: int) -> float:
    return math.log(cosine_moment(d - 1))


KERNELS: dict[str, Kernel] = {
    "gaussian": Kernel(
        "gaussian",
        math.inf,
        False,
        _log_gaussian,
        None,
        # int_0^inf r^{d-1} exp(-r^2/2) dr = 2^{d/2-1} Gamma(d/2)
        lambda d: (0.5 * d - 1.0) * math.log(2.0) + float(gammaln(0.5 * d)),
        lambda d: float(d),
        _radius_gaussian,
    ),
    "tophat": Kernel(
        "tophat",
        1.0,
        False,
        _log_tophat,
        _profile_tophat,
        lambda d: -math.log(d),
        lambda d: d / (d + 2.0),
        _radius_tophat,
    ),
    "epanechnikov": Kernel(
        "epanechnikov",
        1.0,
        False,
        _log_epanechnikov,
        _profile_epanechnikov,
        lambda d: math.log(2.0 / (d * (d + 2.0))),
        lambda d: d / (d + 4.0),
        _radius_epanechnikov,
    ),
    "exponential": Kernel(
        "exponential",
        math.inf,
        True,
        _log_exponential,
        None,
        lambda d: float(gammaln(d)),
        lambda d: d * (d + 1.0),
        _radius_exponential,
    ),
    "linear": Kernel(
        "linear",
        1.0,
        True,
        _log_linear,
        _profile_linear,
        lambda d: -math.log(d * (d + 1.0)),
        lambda d: d * (d + 1.0) / ((d + 2.0) * (d + 3.0)),
        _radius_linear,
    ),
    "cosine": Kernel(
        "cosine",
        1.0,
        False,
        _log_cosine,
        _profile_cosine,
        _cosine_log_integral,
        lambda d: cosine_moment(d + 1) / cosine_moment(d - 1),
        _radius_cosine,
    ),
}

KERNEL_NAMES = tuple(KERNELS)
