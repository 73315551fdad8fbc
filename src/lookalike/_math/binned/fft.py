"""FFT convolution of binned counts with a sampled kernel (and its Gaussian moments).

One zero-padded real FFT per array (sizes from ``scipy.fft.next_fast_len``),
padded so nothing wraps around; compact kernels are sampled over their whole
support, the Gaussian and exponential kernels out to where what they leave out
is below :data:`TRUNCATION_SHARE` of every value kept (the Gaussian spectrum is
a product of 1-D spectra). Besides the sums, :func:`convolve` gives the
occupancy of compact kernels' supports and the moments of the error model;
:data:`SHIFTED_MOMENT` is the profile the tail repair sums directly instead.
"""

from __future__ import annotations

import math
from typing import Literal, NoReturn

import numpy as np
import scipy.fft

from lookalike._math.kernels import KERNELS, Kernel

__all__ = [
    "REPAIR_FRACTION",
    "SHIFTED_MOMENT",
    "TRUNCATION_SHARE",
    "UNDERFLOW_LOG",
    "Moment",
    "convolve",
]

# FFT values below this fraction of the largest are recomputed directly (tail repair).
REPAIR_FRACTION = 1e-8
# The sampled unbounded kernels stop where what they leave out is below this fraction of
# any FFT value kept; never beyond log k = -UNDERFLOW_LOG, where exp underflows to zero.
TRUNCATION_SHARE = 1e-10
UNDERFLOW_LOG = 746.0

# The Gaussian moments convolved besides the sums: E_pi |z|^2 ("squared", the reach
# rho^2) and E_pi sum_k max(1, z_k^2 - 1) ("factor", the node bound's factor s).
Moment = Literal["squared", "factor"]


def _kernel_reach(
    kernel: Kernel, spacing: np.ndarray, shape: tuple[int, ...], log_share: float
) -> list[int]:
    """Largest node offset per dimension at which the sampled kernel is kept.

    Compact kernels: their support. Unbounded kernels stop where the profile
    falls below ``exp(log_share)``, where ``log_share`` makes everything cut
    off negligible next to every FFT value that is kept (see :func:`convolve`).
    """
    if math.isfinite(kernel.support):
        radius = kernel.support
    elif kernel.name == "gaussian":
        radius = math.sqrt(-2.0 * log_share)
    else:
        radius = -log_share
    return [int(min(m - 1, math.floor(radius / h))) for m, h in zip(shape, spacing, strict=True)]


def _circular_offsets(size: int, reach: int, step: float) -> np.ndarray:
    """Offsets ``l * step`` laid out circularly on ``size`` slots; ``inf`` beyond ``reach``."""
    offsets = np.full(size, np.inf)
    offsets[: reach + 1] = step * np.arange(reach + 1)
    if reach:
        offsets[size - reach :] = step * np.arange(reach, 0, -1)
    return offsets


def _gaussian_factors(
    spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], moment: Moment | None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """1-D transforms of ``exp(-u^2 / 2)``, and of ``m(u) exp(-u^2 / 2)``, per dimension.

    ``m(u) = u^2`` for ``moment="squared"``, ``max(1, u^2 - 1)`` for
    ``moment="factor"`` (none for ``None``). Each is sampled on the node offsets
    (:func:`_circular_offsets`) and transformed along its axis of the ``rfftn``
    layout (real: both are even).
    """
    d = len(fft_shape)
    plain, weighted = [], []
    for k, (size, r, h) in enumerate(zip(fft_shape, reach, spacing, strict=True)):
        u = _circular_offsets(size, r, h)
        values = np.exp(-0.5 * u * u)
        transform = scipy.fft.rfft if k == d - 1 else scipy.fft.fft
        plain.append(transform(values).real)
        if moment is not None:
            squared = np.where(values > 0.0, u, 0.0) ** 2
            if moment == "factor":
                squared = np.maximum(squared - 1.0, 1.0)
            weighted.append(transform(squared * values).real)
    return plain, weighted


def _gaussian_spectra(
    spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], moment: Moment | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``rfftn`` of the sampled ``k = exp(-|u|^2 / 2)``, and of ``sum_k m(u_k) k`` if asked.

    The first is the outer product of the 1-D transforms ``G_k``. The second
    (``m`` as in :func:`_gaussian_factors`: ``|u|^2 k`` or ``sum_k max(1, u_k^2 -
    1) k``) is ``sum_k A_k prod_{j != k} G_j`` with ``A_k`` the 1-D transform of
    ``m(u_k) exp(-u_k^2 / 2)``, built dimension by dimension: over the first
    ``k`` dimensions, ``M_{k+1} = M_k G_{k+1} + P_k A_{k+1}`` with ``P_k`` the
    product of the ``G``; the last step is one matrix product with an inner
    dimension of two.
    """
    plain, weighted = _gaussian_factors(spacing, fft_shape, reach, moment)
    if moment is None:
        spectrum = plain[0]
        for factor in plain[1:]:
            spectrum = np.multiply.outer(spectrum, factor)
        return spectrum, None
    product, moments = plain[0], weighted[0]
    for k in range(1, len(fft_shape) - 1):
        moments = np.multiply.outer(moments, plain[k]) + np.multiply.outer(product, weighted[k])
        product = np.multiply.outer(product, plain[k])
    if len(fft_shape) == 1:
        return product, moments
    spectrum = np.multiply.outer(product, plain[-1])
    left = np.stack([moments, product], axis=-1)
    return spectrum, np.matmul(left, np.stack([plain[-1], weighted[-1]]))


def _kernel_spectrum(
    kernel: Kernel, spacing: np.ndarray, fft_shape: tuple[int, ...], reach: list[int], workers: int
) -> np.ndarray:
    """``rfftn`` of the kernel sampled on the node offsets (real: the kernel is even)."""
    d = len(fft_shape)
    if kernel.name == "gaussian":
        # exp(-|u|^2 / 2) is a product over dimensions: so is its transform.
        return _gaussian_spectra(spacing, fft_shape, reach, None)[0]
    offsets = [
        _circular_offsets(size, r, h) for size, r, h in zip(fft_shape, reach, spacing, strict=True)
    ]
    squared = np.zeros((1,) * d)
    for k, u in enumerate(offsets):
        squared = squared + (u * u).reshape((-1,) + (1,) * (d - 1 - k))
    if kernel.profile is not None:
        values = kernel.profile(squared)
    else:
        values = np.exp(kernel.log_profile(squared))
    return scipy.fft.rfftn(values, workers=workers).real


def convolve(
    counts: np.ndarray,
    kernel: Kernel,
    spacing: np.ndarray,
    workers: int,
    indicator: bool = False,
    moment: Moment | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Full linear convolution of ``counts`` with the sampled kernel, on the same nodes.

    With ``indicator``, also the number of nonzero bins within the kernel's
    support of each node (compact kernels), from a second convolution. With
    ``moment`` (Gaussian kernel), also the convolution with ``|u|^2 k``
    (``"squared"``) or ``sum_k max(1, u_k^2 - 1) k`` (``"factor"``), which shares
    the transform of the counts.
    """
    shape = counts.shape
    # Every term is at most k(0) = 1 times a count, so the largest FFT value is at least
    # the largest count, and only values above REPAIR_FRACTION of it are kept. Cutting the
    # kernel where W k < TRUNCATION_SHARE * REPAIR_FRACTION * max(count) changes none of
    # them by more than TRUNCATION_SHARE (relative); the repaired ones are not truncated.
    # The moments' kernels m(u) k are cut at the same radius R: they lose at most R^2
    # times as much, below 1e-8 of any kept value of m(u) k (m >= 1, or m = |u|^2).
    log_share = math.log(TRUNCATION_SHARE * REPAIR_FRACTION * counts.max() / counts.sum())
    reach = _kernel_reach(kernel, spacing, shape, max(log_share, -UNDERFLOW_LOG))
    # Zero padding to m + reach per dimension: no wrap-around onto the nodes kept.
    fft_shape = tuple(
        scipy.fft.next_fast_len(m + r, real=True) for m, r in zip(shape, reach, strict=True)
    )
    crop = tuple(slice(0, m) for m in shape)
    transform = scipy.fft.rfftn(counts, s=fft_shape, workers=workers)
    moments = None
    if moment is not None:
        spectrum, moment_spectrum = _gaussian_spectra(spacing, fft_shape, reach, moment)
        product = transform * moment_spectrum
        moments = scipy.fft.irfftn(product, s=fft_shape, workers=workers, overwrite_x=True)
        moments = moments[crop]
    else:
        spectrum = _kernel_spectrum(kernel, spacing, fft_shape, reach, workers)
    transform *= spectrum
    values = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    if not indicator:
        return values, None, moments
    footprint = _kernel_spectrum(KERNELS["tophat"], spacing, fft_shape, reach, workers)
    transform = scipy.fft.rfftn((counts > 0).astype(np.float64), s=fft_shape, workers=workers)
    transform *= footprint
    occupied = scipy.fft.irfftn(transform, s=fft_shape, workers=workers, overwrite_x=True)[crop]
    return values, occupied, moments


def _log_shifted_moment(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``log((s + 2) exp(-s / 2))``: the profile of ``(|u|^2 + 2) k(|u|^2)``, Gaussian ``k``.

    Unlike ``s exp(-s / 2)`` it decreases with ``s``, as the exact engine's
    pruning (an upper bound of a block's terms from its nearest distance)
    requires.
    """
    shifted = np.log(np.asarray(s) + 2.0)
    out = np.multiply(s, -0.5, out=np.empty(np.shape(s)) if out is None else out)
    out += shifted
    return out


def _not_a_density(*_: object) -> NoReturn:
    raise NotImplementedError("The moment profile is only summed, never normalised or sampled.")


# The exact engine's view of (|u|^2 + 2) k(|u|^2) for the Gaussian k: it reads the name,
# the support and the profiles only.
SHIFTED_MOMENT = Kernel(
    "gaussian-shifted-moment",
    math.inf,
    False,
    _log_shifted_moment,
    None,
    _not_a_density,
    _not_a_density,
    _not_a_density,
)
