"""lookalike: learn the density of a dataset and draw new, realistic data from it."""

from lookalike._version import __version__
from lookalike.mixture import GaussianMixture

__all__ = ["GaussianMixture", "__version__"]
