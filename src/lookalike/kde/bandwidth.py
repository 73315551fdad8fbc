"""KernelDensity's bandwidth: the parameter, its resolution to numbers, and its linear map.

``bandwidth`` is a positive number, a rule name of
:data:`~lookalike._math.bandwidth.BANDWIDTH_RULES` (the one registry of every
rule, scikit-learn's ``"scott"`` and ``"silverman"`` included), ``"cv"``, an
array of per-feature bandwidths or a bandwidth matrix. :func:`resolve_bandwidth`
turns it into a checked float, ``(d,)`` array or ``(d, d)`` matrix;
``"cv"`` is cross-validated over a grid (:func:`automatic_grid` by default,
extended when the best bandwidth sits at an edge). :class:`Scaling` is the
resolved bandwidth as the map to unit-bandwidth coordinates, in which every
evaluation strategy works.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.linalg import solve_triangular

from lookalike._math.bandwidth import BANDWIDTH_RULES
from lookalike._math.kernels import Kernel
from lookalike._math.stats import sample_size, weighted_scatter
from lookalike._validation import as_float_array
from lookalike.exceptions import BandwidthEdgeWarning

__all__ = [
    "CV_GRID_DECADES",
    "CV_GRID_EXTENSIONS",
    "CV_GRID_PER_DECADE",
    "SKLEARN_RULES",
    "BandwidthParameter",
    "Scaling",
    "automatic_grid",
    "check_bandwidth",
    "check_grid",
    "check_rule_result",
    "resolve_bandwidth",
]

# Automatic cross-validation grid: bandwidths from a tenth to ten times a normal-reference
# pilot, 10 per decade; extended by a decade (up to twice) when the best is at an edge.
CV_GRID_DECADES = 1.0
CV_GRID_PER_DECADE = 10
CV_GRID_EXTENSIONS = 2

# scikit-learn's names for the rules it implements, n ** (-1 / (d + 4)) and
# (n (d + 2) / 4) ** (-1 / (d + 4)); like every rule they are in BANDWIDTH_RULES.
SKLEARN_RULES = ("scott", "silverman")


@dataclass(frozen=True)
class BandwidthParameter:
    """A positive number, a rule name, "cv", or an array of per-feature bandwidths or a matrix."""

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return value in BANDWIDTH_RULES or value == "cv"
        if isinstance(value, bool):
            return False
        if isinstance(value, numbers.Real):
            number = float(value)
            return number > 0 and math.isfinite(number)
        return isinstance(value, list | tuple | np.ndarray)

    def describe(self) -> str:
        names = ", ".join(repr(name) for name in (*BANDWIDTH_RULES, "cv"))
        return (
            "a float in the range (0.0, inf), an array of per-feature bandwidths or a "
            f"bandwidth matrix, or a str among {{{names}}}"
        )


# --------------------------------------------------------------------------------------
# Resolution


def resolve_bandwidth(
    bandwidth: Any,
    X: np.ndarray,
    weights: np.ndarray | None,
    kernel: Kernel,
    cross_validate: Any,
) -> float | np.ndarray:
    """The bandwidth parameter as a checked float, (d,) array or (d, d) matrix.

    ``cross_validate(X, weights, kernel)`` resolves ``"cv"``; a rule name is
    looked up in :data:`~lookalike._math.bandwidth.BANDWIDTH_RULES`.
    """
    if not isinstance(bandwidth, str):
        value = bandwidth
    elif bandwidth == "cv":
        value = cross_validate(X, weights, kernel)
    else:
        value = BANDWIDTH_RULES[bandwidth](X, weights, kernel.name)
        check_rule_result(bandwidth, value)
    return check_bandwidth(value, X.shape[1])


def cross_validated_bandwidth(
    X: np.ndarray,
    weights: np.ndarray | None,
    kernel: Kernel,
    bandwidth_grid: npt.ArrayLike | None,
    curve_of: Any,
) -> tuple[float, Any]:
    """The bandwidth of highest held-out likelihood, and its curve.

    ``curve_of(X, grid)`` cross-validates a grid (a
    :class:`~lookalike.kde.cv.BandwidthCurve`). Without a given grid, the
    automatic one is extended by a decade (at most :data:`CV_GRID_EXTENSIONS`
    times) while the best bandwidth sits at its edge; a best bandwidth still at
    an edge warns :class:`~lookalike.exceptions.BandwidthEdgeWarning`.
    """
    given = bandwidth_grid is not None
    if bandwidth_grid is not None:
        grid = check_grid(bandwidth_grid)
    else:
        grid = automatic_grid(X, weights, kernel)
    curve = curve_of(X, grid)
    for _ in range(0 if given else CV_GRID_EXTENSIONS):
        if 0 < curve.best_index < len(curve.bandwidths) - 1:
            break
        step = 10.0 ** (1.0 / CV_GRID_PER_DECADE)
        edge = curve.bandwidths[curve.best_index]
        direction = 1.0 if curve.best_index == len(curve.bandwidths) - 1 else -1.0
        extra = edge * step ** (direction * np.arange(1, CV_GRID_PER_DECADE + 1))
        grid = np.sort(np.concatenate([curve.bandwidths, extra]))
        curve = curve_of(X, grid)
    if curve.best_index in (0, len(curve.bandwidths) - 1):
        warnings.warn(
            f"The cross-validated bandwidth {curve.best_bandwidth:.4g} is at the edge of the "
            "grid; the optimum may lie outside it. Extend bandwidth_grid.",
            BandwidthEdgeWarning,
            stacklevel=5,
        )
    return curve.best_bandwidth, curve


def automatic_grid(X: np.ndarray, weights: np.ndarray | None, kernel: Kernel) -> np.ndarray:
    """Bandwidths around the normal-reference rule for the average feature spread."""
    d = X.shape[1]
    n_eff = sample_size(X, weights)
    variance = float(weighted_scatter(X, weights, full=False)[1].mean())
    spread = math.sqrt(variance) if variance > 0 else 1.0
    pilot = spread * (4.0 / ((d + 2.0) * n_eff)) ** (1.0 / (d + 4.0))
    pilot /= math.sqrt(kernel.variance(d))
    count = int(2 * CV_GRID_DECADES * CV_GRID_PER_DECADE) + 1
    return pilot * np.logspace(-CV_GRID_DECADES, CV_GRID_DECADES, count)


# --------------------------------------------------------------------------------------
# Checks


def check_bandwidth(bandwidth: Any, n_features: int) -> float | np.ndarray:
    """A positive float, a positive (d,) array or an SPD (d, d) matrix; else ValueError."""
    if isinstance(bandwidth, numbers.Real) and not isinstance(bandwidth, bool):
        return float(bandwidth)
    array = as_float_array(bandwidth, "bandwidth")
    if array.ndim == 0:
        if not (np.isfinite(array) and array > 0):
            raise ValueError(f"bandwidth must be positive and finite; got {float(array)}.")
        return float(array)
    if not np.all(np.isfinite(array)):
        raise ValueError("bandwidth contains NaN or infinity.")
    if array.shape == (n_features,):
        if np.any(array <= 0):
            raise ValueError(f"Per-feature bandwidths must be positive; got {array.tolist()}.")
        return array
    if array.shape == (n_features, n_features):
        if not np.allclose(array, array.T, rtol=1e-10, atol=0):
            raise ValueError("A bandwidth matrix must be symmetric.")
        try:
            np.linalg.cholesky(array)
        except np.linalg.LinAlgError:
            raise ValueError(
                "The bandwidth matrix is not positive definite. Use the 'scott-full' rule, a "
                "smaller number of features (lookalike.ReducedDensity), or per-feature "
                "bandwidths."
            ) from None
        return array
    raise ValueError(
        f"bandwidth must be a float, an array of shape ({n_features},) or "
        f"({n_features}, {n_features}); got shape {array.shape}."
    )


def check_rule_result(name: str, bandwidth: float | np.ndarray) -> None:
    """A rule gives zero only for constant features: say which."""
    values = np.atleast_1d(np.asarray(bandwidth, dtype=np.float64))
    if values.ndim == 2:
        values = np.diagonal(values)
    constant = np.flatnonzero(~(values > 0))
    if constant.size:
        raise ValueError(
            f"Feature(s) {constant.tolist()} are constant, so the {name!r} rule gives them a "
            "zero bandwidth. Drop those features or give the bandwidth explicitly."
        )


def check_grid(bandwidths: npt.ArrayLike) -> np.ndarray:
    """A non-empty 1-D array of positive, finite bandwidths; else ValueError."""
    grid = as_float_array(bandwidths, "bandwidth_grid")
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"bandwidth_grid must be a non-empty 1-D array; got shape {grid.shape}.")
    if not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError("bandwidth_grid must hold positive, finite bandwidths.")
    return grid


# --------------------------------------------------------------------------------------
# The bandwidth as a linear map to unit-bandwidth coordinates


@dataclass(frozen=True)
class Scaling:
    """``u = (x - centre) A^{-T}`` maps data to coordinates where the kernel has bandwidth 1.

    ``A`` is ``h I`` (isotropic), ``diag(h)`` (per feature) or the lower
    Cholesky factor ``L`` of a bandwidth matrix ``H = L L^T``; ``log_det`` is
    ``log |det A|``, the log-volume change of the map. Model files name this
    class ``lookalike.kde._Scaling``.
    """

    centre: np.ndarray
    factor: np.ndarray  # () isotropic, (d,) per feature, (d, d) lower-triangular
    log_det: float

    @classmethod
    def of(cls, bandwidth: float | np.ndarray, centre: np.ndarray) -> Scaling:
        d = centre.shape[0]
        factor = np.asarray(bandwidth, dtype=np.float64)
        if factor.ndim == 0:
            return cls(centre, factor, d * math.log(float(factor)))
        if factor.ndim == 1:
            return cls(centre, factor, float(np.log(factor).sum()))
        lower = np.linalg.cholesky(factor)
        return cls(centre, lower, float(np.log(np.diagonal(lower)).sum()))

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            centred = X - self.centre
            if self.factor.ndim < 2:
                centred *= 1.0 / self.factor
                return centred
            return solve_triangular(self.factor, centred.T, lower=True).T

    def from_unit(self, offsets: np.ndarray) -> np.ndarray:
        """Map draws of the unit kernel to draws of the bandwidth's kernel."""
        if self.factor.ndim < 2:
            return offsets * self.factor
        return offsets @ self.factor.T

    def feature_scales(self, n_features: int) -> np.ndarray:
        """Standard deviation of the kernel along each feature, in bandwidth units."""
        if self.factor.ndim < 2:
            return np.broadcast_to(self.factor, (n_features,)).astype(np.float64)
        return np.sqrt((self.factor**2).sum(axis=1))
