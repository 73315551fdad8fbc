"""lookalike: learn the density of a dataset and draw new, realistic data from it."""

from lookalike._version import __version__
from lookalike.kde import BandwidthCurve, KernelDensity, cross_validate_bandwidth
from lookalike.mixture import GaussianMixture

__all__ = [
    "BandwidthCurve",
    "GaussianMixture",
    "KernelDensity",
    "__version__",
    "cross_validate_bandwidth",
]
