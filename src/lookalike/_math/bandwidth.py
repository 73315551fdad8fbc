"""Bandwidth rules for kernel density estimates: rules of thumb and the ISJ plug-in.

Pure functions on arrays: no validation (the estimator checks its input and
raises), no I/O. Every rule has the signature
``rule(X, weights, kernel_name)`` with ``X`` of shape (n, d) (float64),
``weights`` of shape (n,) (non-negative, positive sum) or ``None``, and the
name of a kernel of :data:`~lookalike._math.kernels.KERNELS`; it returns an
isotropic bandwidth (float), per-feature bandwidths (d,) or a bandwidth matrix
(d, d). :data:`BANDWIDTH_RULES` maps the public names to the rules:

====================  ===========  =====================================================
name                  returns      bandwidth
====================  ===========  =====================================================
``scott``             float        ``n ** (-1 / (d + 4))`` (scikit-learn's, verbatim)
``silverman``         float        ``(n (d + 2) / 4) ** (-1 / (d + 4))`` (scikit-learn's)
``scott-diag``        (d,)         ``n_eff ** (-1 / (d + 4)) * std_j``
``silverman-diag``    (d,)         ``(n_eff (d + 2) / 4) ** (-1 / (d + 4)) * std_j``
``scott-full``        (d, d)       ``n_eff ** (-2 / (d + 4)) * Cov`` (scipy's gaussian_kde)
``silverman-full``    (d, d)       ``(n_eff (d + 2) / 4) ** (-2 / (d + 4)) * Cov`` (scipy's)
``silverman-robust``  (d,)         ``c(n_eff, d) * min(std_j, IQR_j / 1.349)`` (Silverman)
``isj``               (d,)         improved Sheather-Jones plug-in, feature by feature
====================  ===========  =====================================================

Bandwidths
    ``h`` multiplies the kernel's unit profile as scikit-learn defines it: the
    kernel is ``k(|x - x_i| / h)`` with the profiles of
    :mod:`~lookalike._math.kernels` (the gaussian's standard deviation, the
    tophat's radius, ...). A bandwidth matrix ``H = L L^T`` means the kernel
    ``k(|L^{-1}(x - x_i)|)`` (for the gaussian, ``H`` is the kernel's
    covariance, as scipy's ``gaussian_kde.covariance``); per-feature
    bandwidths ``h`` mean ``H = diag(h^2)``.

scikit-learn's ``scott`` and ``silverman``
    Kept exactly as scikit-learn's ``KernelDensity`` computes them, so that a
    changed import gives the same numbers. They are only the *factors* of
    Scott's and Silverman's rules: they ignore the spread of the data, the
    weights and the kernel, so the bandwidth does not scale with the data
    (multiply ``X`` by 100 and the bandwidth stays the same). This is
    scikit-learn's pitfall; they are sensible only for standardised data.
    The ``-diag``, ``-full`` and ``silverman-robust`` rules are the
    spread-aware versions.

Spread-aware rules
    ``scott-diag``/``silverman-diag`` multiply the factor by each feature's
    (weighted) standard deviation; ``scott-full``/``silverman-full`` multiply
    its square by the (weighted) covariance matrix, which is scipy's
    ``gaussian_kde(bw_method="scott" | "silverman")``. ``silverman-robust`` is
    Silverman's (1986, eq. 3.31) rule of thumb ``0.9 A n^{-1/5}`` with
    ``A = min(std, IQR / 1.349)`` in one dimension; in ``d > 1`` dimensions it
    uses the normal-reference factor ``(4 / (d + 2))^{1/(d+4)} n^{-1/(d+4)}``
    (Silverman 1986, eq. 4.14; the factor of ``silverman-diag``) times ``A_j``
    per feature. The 0.9 is Silverman's shrinkage of the 1-D normal-reference
    constant ``(4/3)^{1/5} = 1.06`` against multimodality; no such constant is
    established for ``d > 1``, so the rule jumps from 0.9 to 1.06-like
    constants between ``d = 1`` and ``d = 2``. If one of ``std_j`` and
    ``IQR_j`` is zero (e.g. more than half of the rows share a value), the
    other is used; if both are zero (a constant feature) the bandwidth of that
    feature is 0 and the caller must raise.

ISJ
    The improved Sheather-Jones plug-in of Botev, Grotowski & Kroese (2010):
    a 1-D rule, applied to each feature separately for ``d > 1`` (a diagonal
    bandwidth whose entries are the 1-D optimal bandwidths of the marginals;
    being 1-D rates, ``n^{-1/5}``, they undersmooth a ``d``-dimensional
    estimate). When its fixed-point equation has no root (very few points,
    constant data), it warns with :class:`ISJFallbackWarning` and uses
    ``silverman-robust`` of that feature (as 1-D data) instead. See
    :func:`isj_1d`.

Weights
    The effective sample size is Kish's ``n_eff = (sum w)^2 / sum w^2`` (as
    scipy's ``gaussian_kde.neff``); means, standard deviations, covariances
    (scipy's normalisation, :func:`weighted_covariance`) and quantiles
    (:func:`weighted_quantile`) are weighted. Weights are *relative*
    (reliability) weights: scaling them changes nothing, constant weights
    equal no weights and a zero weight equals removing the row. An integer
    weight is *not* the same as repeating the row for the rules that use
    ``n_eff`` or the covariance: ``n_eff <= sum w`` and the covariance is
    normalised by ``sum w - sum w^2 / sum w`` rather than ``sum w - 1``. The
    weighted sums and quantiles themselves do treat integer weights as
    repetitions. scikit-learn's ``scott`` and ``silverman`` ignore weights.

Kernels
    Rules derived for the Gaussian kernel give a Gaussian standard deviation
    ``h_gauss``; for another kernel they return the bandwidth with the same
    per-coordinate standard deviation,
    ``h = h_gauss / sqrt(KERNELS[kernel_name].variance(d))`` (and
    ``H = H_gauss / variance(d)`` for matrices), the convention of KDEpy.
    ``d`` is the number of features of ``X`` (the kernel is d-dimensional, even
    for rules that treat features one by one). For the gaussian the divisor
    is exactly 1. scikit-learn's ``scott`` and ``silverman`` are not converted.

References
----------
.. [1] Scott, D. W. (1992). *Multivariate Density Estimation: Theory,
   Practice, and Visualization*. Wiley. (Scott's factor ``n^{-1/(d+4)}``.)
.. [2] Silverman, B. W. (1986). *Density Estimation for Statistics and Data
   Analysis*. Chapman & Hall. (Eq. 3.31, the robust rule; eq. 4.14, the
   normal-reference factor in ``d`` dimensions.)
.. [3] Botev, Z. I., Grotowski, J. F. & Kroese, D. P. (2010). Kernel density
   estimation via diffusion. *Annals of Statistics* 38(5), 2916-2957.
.. [4] Kish, L. (1965). *Survey Sampling*. Wiley. (Effective sample size.)
.. [5] Hyndman, R. J. & Fan, Y. (1996). Sample quantiles in statistical
   packages. *The American Statistician* 50(4), 361-365.
.. [6] Wand, M. P. & Jones, M. C. (1995). *Kernel Smoothing*. Chapman & Hall.

Examples
--------
>>> import numpy as np
>>> from lookalike._math.bandwidth import BANDWIDTH_RULES
>>> X = np.random.default_rng(0).standard_normal((1000, 2)) * [1.0, 10.0]
>>> BANDWIDTH_RULES["scott"](X, None, "gaussian") == 1000 ** (-1 / 6)
True
>>> BANDWIDTH_RULES["scott-diag"](X, None, "gaussian").round(1)
array([0.3, 3.1])
>>> BANDWIDTH_RULES["scott-full"](X, None, "gaussian").shape
(2, 2)
>>> h = BANDWIDTH_RULES["isj"](X, None, "gaussian")  # the 1-D optimum per feature
>>> optimum = (4 / (3 * 1000)) ** (1 / 5) * np.array([1.0, 10.0])
>>> bool(np.all(np.abs(h / optimum - 1) < 0.15))
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy.fft import dct
from scipy.optimize import brentq

from lookalike._math.kernels import KERNELS
from lookalike._math.stats import (  # weighted moments, re-exported for the rules' users
    effective_sample_size as effective_sample_size,
)
from lookalike._math.stats import sample_size
from lookalike._math.stats import weighted_covariance as weighted_covariance
from lookalike._math.stats import weighted_quantile as weighted_quantile
from lookalike._math.stats import weighted_variance as weighted_variance
from lookalike.exceptions import ISJFallbackWarning

BandwidthRule = Callable[[np.ndarray, np.ndarray | None, str], float | np.ndarray]

# Interquartile range of the standard normal, Phi^{-1}(3/4) - Phi^{-1}(1/4) ("1.349").
NORMAL_IQR = 1.3489795003921634

# Silverman's (1986, eq. 3.31) constant of the robust 1-D rule of thumb.
SILVERMAN_ROBUST_CONSTANT = 0.9

# ISJ: points of the binning grid (a power of two, for the DCT), the empty margin on
# each side of the data as a fraction of the data's range, the number of stages of
# the plug-in (the functional ||f^(l)||^2 that starts the chain; l = 7 is the paper's
# five stages above ||f''||^2), and the largest diffusion time (squared bandwidth in
# units of the grid's length) searched for a root.
ISJ_GRID_SIZE = 2**14
ISJ_MARGIN = 0.5
ISJ_ORDER = 7
ISJ_MAX_TIME = 0.1

# Beyond this diffusion time exp(-pi^2 k^2 t) underflows for every k >= 1, so the
# estimated functional is zero; capping the time changes nothing and keeps exp finite.
_ISJ_TIME_CAP = 1e3
# exp(-x) is exactly 0 in double precision for x >= 746: ISJ terms beyond add nothing.
_EXP_ZERO_FROM = 746.0


# --------------------------------------------------------------------------------------
# Factors and the kernel conversion


def scott_factor(n: float, d: int) -> float:
    """Scott's (1992) factor ``n^{-1/(d+4)}``."""
    return float(n ** (-1.0 / (d + 4)))


def silverman_factor(n: float, d: int) -> float:
    """Silverman's (1986, eq. 4.14) factor ``(n (d + 2) / 4)^{-1/(d+4)}``.

    Equal to the normal-reference constant ``(4 / (d + 2))^{1/(d+4)}`` times
    ``n^{-1/(d+4)}``: the AMISE-optimal bandwidth of a Gaussian kernel for
    standard normal data.
    """
    return float((n * (d + 2.0) / 4.0) ** (-1.0 / (d + 4)))


def kernel_variance(kernel_name: str, d: int) -> float:
    """Per-coordinate variance of the unit-bandwidth kernel ``kernel_name`` in ``d`` dims."""
    return KERNELS[kernel_name].variance(d)


def gaussian_to_kernel(h_gauss: np.ndarray, kernel_name: str, d: int) -> np.ndarray:
    """Convert Gaussian standard deviations to ``kernel_name``'s bandwidths.

    ``h = h_gauss / sqrt(variance(d))``: the kernel of bandwidth ``h`` has the
    per-coordinate standard deviation ``h_gauss`` (KDEpy's convention). The
    gaussian kernel's variance is 1, so its bandwidths are returned unchanged.
    """
    return h_gauss / math.sqrt(kernel_variance(kernel_name, d))


# --------------------------------------------------------------------------------------
# scikit-learn's rules (factors only)


def scott(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> float:
    """scikit-learn's ``bandwidth="scott"``: ``n ** (-1 / (d + 4))``.

    ``n = X.shape[0]`` counts rows; weights, the spread of the data and the
    kernel are ignored, exactly as in scikit-learn (its pitfall: the bandwidth
    does not scale with the data). Use ``"scott-diag"`` or ``"scott-full"``
    for the spread-aware rule.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
        Ignored.
    kernel_name : str
        Ignored.

    Returns
    -------
    bandwidth : float
    """
    return float(X.shape[0] ** (-1 / (X.shape[1] + 4)))


def silverman(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> float:
    """scikit-learn's ``bandwidth="silverman"``: ``(n (d + 2) / 4) ** (-1 / (d + 4))``.

    As :func:`scott`: rows are counted, and weights, spread and kernel are
    ignored for parity with scikit-learn. Use ``"silverman-diag"``,
    ``"silverman-full"`` or ``"silverman-robust"`` for spread-aware rules.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
        Ignored.
    kernel_name : str
        Ignored.

    Returns
    -------
    bandwidth : float
    """
    return float((X.shape[0] * (X.shape[1] + 2) / 4) ** (-1 / (X.shape[1] + 4)))


# --------------------------------------------------------------------------------------
# Spread-aware rules of thumb


def _feature_std(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.sqrt(weighted_variance(X, weights))


def scott_diag(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Per-feature Scott bandwidths ``n_eff^{-1/(d+4)} std_j``, converted to the kernel.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidths : ndarray of shape (d,)
        ``std_j`` is the square root of the diagonal of
        :func:`weighted_covariance`; zero for a constant feature.
    """
    d = X.shape[1]
    h_gauss = scott_factor(sample_size(X, weights), d) * _feature_std(X, weights)
    return gaussian_to_kernel(h_gauss, kernel_name, d)


def silverman_diag(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Per-feature Silverman bandwidths ``(n_eff (d+2)/4)^{-1/(d+4)} std_j``, for the kernel.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidths : ndarray of shape (d,)
    """
    d = X.shape[1]
    h_gauss = silverman_factor(sample_size(X, weights), d) * _feature_std(X, weights)
    return gaussian_to_kernel(h_gauss, kernel_name, d)


def _full(
    X: np.ndarray, weights: np.ndarray | None, kernel_name: str, factor: float
) -> np.ndarray:
    d = X.shape[1]
    covariance = weighted_covariance(X, weights)
    covariance *= factor**2 / kernel_variance(kernel_name, d)
    return covariance


def scott_full(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Scott bandwidth matrix ``H = n_eff^{-2/(d+4)} Cov / variance(d)``.

    For the gaussian kernel this is scipy's
    ``gaussian_kde(X.T, bw_method="scott", weights=weights).covariance``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidth_matrix : ndarray of shape (d, d)
        Symmetric; singular when a feature is constant or the features are
        collinear (the caller's Cholesky factorisation then fails).
    """
    return _full(X, weights, kernel_name, scott_factor(sample_size(X, weights), X.shape[1]))


def silverman_full(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Silverman bandwidth matrix ``H = (n_eff (d+2)/4)^{-2/(d+4)} Cov / variance(d)``.

    For the gaussian kernel this is scipy's
    ``gaussian_kde(X.T, bw_method="silverman", weights=weights).covariance``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidth_matrix : ndarray of shape (d, d)
    """
    factor = silverman_factor(sample_size(X, weights), X.shape[1])
    return _full(X, weights, kernel_name, factor)


def robust_spread(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Per-feature ``A_j = min(std_j, IQR_j / 1.349)``, Silverman's robust scale.

    The IQR uses :func:`weighted_quantile`. Where one of the two is zero, the
    other is used; both are zero exactly when the feature is constant (over
    the rows of positive weight), and then ``A_j = 0``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None

    Returns
    -------
    spread : ndarray of shape (d,)
    """
    std = _feature_std(X, weights)
    iqr = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        lower, upper = weighted_quantile(X[:, j], np.array([0.25, 0.75]), weights)
        iqr[j] = (upper - lower) / NORMAL_IQR
    both = (std > 0) & (iqr > 0)
    return np.where(both, np.minimum(std, iqr), np.maximum(std, iqr))


def _silverman_robust_gauss(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    d = X.shape[1]
    n_eff = sample_size(X, weights)
    if d == 1:
        factor = SILVERMAN_ROBUST_CONSTANT * n_eff ** (-1.0 / 5.0)
    else:
        factor = silverman_factor(n_eff, d)
    return factor * robust_spread(X, weights)


def silverman_robust(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Silverman's robust rule of thumb per feature, converted to the kernel.

    .. math::

        h_j = c(n_{\\mathrm{eff}}, d)\\, \\min(\\mathrm{std}_j, \\mathrm{IQR}_j / 1.349),
        \\quad c = 0.9\\, n^{-1/5} \\ (d = 1),
        \\quad c = (4 / (d + 2))^{1/(d+4)}\\, n^{-1/(d+4)} \\ (d > 1).

    In 1-D this is Silverman (1986, eq. 3.31), as R's ``bw.nrd0`` (which
    rounds 1.349 to 1.34); KDEpy's ``"silverman"`` is the same scale with the
    normal-reference constant ``(4/3)^{1/5} = 1.06`` instead of 0.9. In ``d``
    dimensions the normal-reference factor of eq. 4.14 (the factor of
    ``silverman-diag``). See :func:`robust_spread` for the scale and its
    guards.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidths : ndarray of shape (d,)
        Zero for a constant feature: the caller must raise.
    """
    return gaussian_to_kernel(_silverman_robust_gauss(X, weights), kernel_name, X.shape[1])


# --------------------------------------------------------------------------------------
# Improved Sheather-Jones (Botev, Grotowski & Kroese 2010)


def _linear_binning(
    x: np.ndarray, weights: np.ndarray | None, start: float, length: float, size: int
) -> np.ndarray:
    """Probabilities of ``size`` cells of ``[start, start + length]``, linear binning.

    Each point's weight is split between the two nearest cell centres in
    proportion to its proximity; the data must lie between the first and last
    centres (the ISJ margin guarantees it).
    """
    position = (x - start) * (size / length) - 0.5
    left = np.floor(position)
    upper_share = position - left
    left_index = left.astype(np.intp)
    if weights is None:
        lower_mass = 1.0 - upper_share
        upper_mass = upper_share
    else:
        upper_mass = weights * upper_share
        lower_mass = weights - upper_mass
    counts = np.bincount(left_index, lower_mass, size)
    counts += np.bincount(left_index + 1, upper_mass, size)
    return counts / counts.sum()


def _double_factorial_odd(s: int) -> int:
    """``1 * 3 * 5 * ... * (2s - 1)``."""
    return math.prod(range(1, 2 * s, 2))


class _PlugIn:
    """The map ``t -> xi gamma^[l](t)`` of Botev et al. (2010) for binned data.

    On the unit interval with reflecting boundaries, the data's Gaussian
    smoothing at time ``t`` (variance ``t``) has the cosine series
    ``sum_k c_k exp(-k^2 pi^2 t / 2) cos(k pi x)``, where ``c_k`` is the DCT-II
    of the binned probabilities. Parseval gives the functionals

    .. math::

        \\lVert f_t^{(s)} \\rVert^2
            = \\tfrac12 \\sum_{k \\ge 1} (k \\pi)^{2s} c_k^2 e^{-k^2 \\pi^2 t}.

    Starting from ``||f^(l)||^2`` at ``t``, each stage ``s = l-1, ..., 2``
    computes the time that is optimal for estimating ``||f^(s)||^2`` given
    ``||f^(s+1)||^2`` (the paper's eq. for ``t_s*``),

    .. math::

        t_s = \\left( \\frac{(1 + 2^{-s-1/2})\\,(2s-1)!!}
              {3 N \\sqrt{\\pi/2}\\, \\lVert f^{(s+1)} \\rVert^2} \\right)^{2/(3+2s)},

    then estimates ``||f^(s)||^2`` at ``t_s``; the last stage gives the
    AMISE-optimal time of a Gaussian kernel,
    ``xi gamma(t) = (2 N sqrt(pi) ||f''||^2)^{-2/5}``. Every functional
    decreases with its time, so the map increases with ``t``.
    """

    def __init__(self, probabilities: np.ndarray, n_eff: float, order: int = ISJ_ORDER):
        coefficients = dct(probabilities, type=2)[1:]
        k_squared = np.arange(1, probabilities.size, dtype=np.float64) ** 2
        self._rates = (math.pi**2) * k_squared
        squares = coefficients**2
        self._terms = {
            s: 0.5 * math.pi ** (2 * s) * k_squared**s * squares for s in range(2, order + 1)
        }
        self._log_n = math.log(n_eff)
        self._order = order

    def functional(self, s: int, t: float) -> float:
        """``||f^(s)||^2`` at time ``t``: only terms ``exp`` does not zero; no BLAS dot."""
        t = min(t, _ISJ_TIME_CAP)
        count = int(np.searchsorted(self._rates, _EXP_ZERO_FROM / t)) if t > 0 else None
        with np.errstate(under="ignore"):
            decay = np.exp(-self._rates[:count] * t)
        return float(np.multiply(self._terms[s][:count], decay).sum())

    def __call__(self, t: float) -> float:
        """``xi gamma^[l](t)``; ``inf`` where a functional vanishes (no information)."""
        norm = self.functional(self._order, t)
        for s in range(self._order - 1, 1, -1):
            if not norm > 0.0:
                return math.inf
            log_numerator = math.log((1.0 + 2.0 ** (-s - 0.5)) * _double_factorial_odd(s))
            log_denominator = math.log(3.0 * math.sqrt(0.5 * math.pi)) + self._log_n
            log_time = (log_numerator - log_denominator - math.log(norm)) * 2.0 / (3 + 2 * s)
            norm = self.functional(s, math.exp(min(log_time, math.log(_ISJ_TIME_CAP))))
        if not norm > 0.0:
            return math.inf
        return math.exp(-0.4 * (math.log(2.0 * math.sqrt(math.pi)) + self._log_n + math.log(norm)))


def _smallest_fixed_point(plug_in: _PlugIn, max_time: float) -> float | None:
    """Smallest root of ``t = plug_in(t)`` in ``(0, max_time]``, or None.

    The map increases with ``t``, so ``t - plug_in(t) < 0`` below
    ``t0 = plug_in(0)``: the search doubles ``t`` from ``t0`` until the sign
    changes, then refines with Brent's method.
    """
    low = plug_in(0.0)
    if not (math.isfinite(low) and low > 0.0):
        return None
    if low >= max_time:
        return None
    if low - plug_in(low) >= 0.0:
        return low
    while True:
        high = min(2.0 * low, max_time)
        if high - plug_in(high) > 0.0:
            break
        if high >= max_time:
            return None
        low = high
    root = brentq(
        lambda t: t - plug_in(t), low, high, xtol=low * 1e-15, rtol=4 * np.finfo(float).eps
    )
    return float(root)


def isj_1d(
    x: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    n_eff: float | None = None,
    grid_size: int = ISJ_GRID_SIZE,
) -> float | None:
    """Improved Sheather-Jones bandwidth of 1-D data (a Gaussian standard deviation).

    The algorithm of Botev, Grotowski & Kroese (2010, section 3):

    1. Bin the data (weighted, linear binning) on ``grid_size`` cells of an
       interval that extends the data's range by ``ISJ_MARGIN`` of the range
       on each side, and map it to ``[0, 1]``.
    2. Take the DCT-II of the bin probabilities: the cosine coefficients of
       the data's density on ``[0, 1]`` with reflecting boundaries, where
       Gaussian smoothing to time ``t`` damps ``c_k`` by
       ``exp(-k^2 pi^2 t / 2)`` (diffusion).
    3. Solve ``t = xi gamma^[l](t)`` with ``l = 7`` (:class:`_PlugIn`): the
       time ``t`` at which the AMISE-optimal Gaussian bandwidth, estimated
       with ``l - 2 = 5`` stages of plug-in pilots that start from ``t``
       itself, equals ``t``. The smallest root is found by doubling ``t``
       from ``xi gamma(0)`` and Brent's method.
    4. The bandwidth is ``sqrt(t*)`` times the length of the binning interval.

    The result is scale-equivariant and translation-invariant up to rounding
    (the grid follows the data). Its resolution is the cell width,
    ``2 * range / grid_size`` for the default margin; data with far outliers
    concentrate the bulk in a few cells and get a poor estimate.

    Parameters
    ----------
    x : ndarray of shape (n,)
    weights : ndarray of shape (n,) or None
        Non-negative weights with a positive sum; rows of zero weight are
        ignored (also for the grid's range).
    n_eff : float, default=None
        The sample size ``N`` of the fixed-point equation; ``None`` means Kish's
        effective sample size of the weights (``n`` without weights). Passing
        ``sum(weights)`` treats integer weights as repeated rows.
    grid_size : int, default=ISJ_GRID_SIZE
        Number of cells (a power of two makes the DCT fastest).

    Returns
    -------
    bandwidth : float or None
        The Gaussian kernel's standard deviation, or ``None`` when the
        equation has no root in ``(0, ISJ_MAX_TIME]`` (too few distinct
        points, or constant data).

    References
    ----------
    .. [1] Botev, Z. I., Grotowski, J. F. & Kroese, D. P. (2010). Kernel
       density estimation via diffusion. *Annals of Statistics* 38(5),
       2916-2957.
    """
    if weights is not None:
        keep = weights > 0
        x, weights = x[keep], weights[keep]
    if n_eff is None:
        n_eff = sample_size(x, weights)
    low, high = float(np.min(x)), float(np.max(x))
    data_range = high - low
    if not data_range > 0.0 or not n_eff > 1.0:
        return None
    start = low - ISJ_MARGIN * data_range
    length = (1.0 + 2.0 * ISJ_MARGIN) * data_range
    probabilities = _linear_binning(x, weights, start, length, grid_size)
    time = _smallest_fixed_point(_PlugIn(probabilities, n_eff), ISJ_MAX_TIME)
    if time is None:
        return None
    return math.sqrt(time) * length


def isj(X: np.ndarray, weights: np.ndarray | None, kernel_name: str) -> np.ndarray:
    """Improved Sheather-Jones bandwidths, feature by feature, converted to the kernel.

    Each feature gets :func:`isj_1d` with ``N = n_eff`` (Kish); the result is a
    diagonal bandwidth of 1-D optimal bandwidths. Features whose fixed-point
    equation has no root get Silverman's robust 1-D rule (``0.9 A n^{-1/5}``,
    0 for a constant feature), with one :class:`ISJFallbackWarning` naming
    them.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,) or None
    kernel_name : str

    Returns
    -------
    bandwidths : ndarray of shape (d,)
    """
    n_eff = sample_size(X, weights)
    d = X.shape[1]
    h_gauss = np.empty(d)
    failed = []
    for j in range(d):
        bandwidth = isj_1d(X[:, j], weights, n_eff=n_eff)
        if bandwidth is None:
            failed.append(j)
            h_gauss[j] = _silverman_robust_gauss(X[:, j : j + 1], weights)[0]
        else:
            h_gauss[j] = bandwidth
    if failed:
        warnings.warn(
            f"The ISJ bandwidth's fixed-point equation has no solution for feature(s) {failed} "
            "(too few distinct values, or a constant feature); used Silverman's robust rule "
            "of thumb ('silverman-robust') for them instead.",
            ISJFallbackWarning,
            stacklevel=2,
        )
    return gaussian_to_kernel(h_gauss, kernel_name, d)


# --------------------------------------------------------------------------------------
# The registry

BANDWIDTH_RULES: dict[str, BandwidthRule] = {
    "scott": scott,
    "silverman": silverman,
    "scott-diag": scott_diag,
    "silverman-diag": silverman_diag,
    "scott-full": scott_full,
    "silverman-full": silverman_full,
    "silverman-robust": silverman_robust,
    "isj": isj,
}
