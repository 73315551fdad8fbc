"""lookalike: learn the density of a dataset and draw new, realistic data from it."""

from lookalike._version import __version__
from lookalike.chunks import Chunks
from lookalike.classifier import GenerativeClassifier
from lookalike.evaluation import EvaluationReport, evaluate
from lookalike.gaussian import Gaussian
from lookalike.kde import BandwidthCurve, KernelDensity, cross_validate_bandwidth
from lookalike.mixture import GaussianMixture
from lookalike.model_selection import ModelSearch
from lookalike.persistence import load, save
from lookalike.reduced import ReducedDensity
from lookalike.tabular import Synthesizer

__all__ = [
    "BandwidthCurve",
    "Chunks",
    "EvaluationReport",
    "Gaussian",
    "GaussianMixture",
    "GenerativeClassifier",
    "KernelDensity",
    "ModelSearch",
    "ReducedDensity",
    "Synthesizer",
    "__version__",
    "cross_validate_bandwidth",
    "evaluate",
    "load",
    "save",
]
