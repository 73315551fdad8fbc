"""Kernel density estimation: :class:`KernelDensity` and cross-validated bandwidths.

A drop-in for ``sklearn.neighbors.KernelDensity`` that is exact and fast. The
package's modules, one job each:

- ``estimator``: :class:`KernelDensity` (validation, sampling, conditionals)
  and :func:`cross_validate_bandwidth`;
- ``bandwidth``: the bandwidth parameter resolved to numbers (rules, ``"cv"``
  with its grid) and the bandwidth as a linear map (``Scaling``);
- ``evaluation``: the evaluation strategies, exact and binned (FFT), each
  owning its plan, cost and fallback;
- ``conditional``: conditionals and marginals of a Gaussian estimate;
- ``cv``: the held-out log-likelihood curve over a grid of bandwidths;
- ``restore``: the checks of an estimate loaded from a model file.

Kernels and their samplers are in :mod:`lookalike._math.kernels`, the
bandwidth rules in :mod:`lookalike._math.bandwidth`.
"""

from lookalike.kde.bandwidth import (
    CV_GRID_DECADES,
    CV_GRID_EXTENSIONS,
    CV_GRID_PER_DECADE,
    SKLEARN_RULES,
)
from lookalike.kde.bandwidth import Scaling as _Scaling  # noqa: F401 (model files name it)
from lookalike.kde.cv import BandwidthCurve
from lookalike.kde.estimator import (
    ALL_METRICS,
    DEFAULT_GRID_POINTS,
    TREE_METRICS,
    KernelDensity,
    cross_validate_bandwidth,
)
from lookalike.kde.evaluation import (
    BINNED_ADVANTAGE,
    COMPACT_BINNED_SPACING,
    DEFAULT_BINNED_TOLERANCE,
    TOLERANCE_SLACK,
)

__all__ = [
    "ALL_METRICS",
    "BINNED_ADVANTAGE",
    "COMPACT_BINNED_SPACING",
    "CV_GRID_DECADES",
    "CV_GRID_EXTENSIONS",
    "CV_GRID_PER_DECADE",
    "DEFAULT_BINNED_TOLERANCE",
    "DEFAULT_GRID_POINTS",
    "SKLEARN_RULES",
    "TOLERANCE_SLACK",
    "TREE_METRICS",
    "BandwidthCurve",
    "KernelDensity",
    "cross_validate_bandwidth",
]
