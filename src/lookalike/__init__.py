"""lookalike: learn the density of a dataset and draw new, realistic data from it.

The public names below are imported on first use (PEP 562 ``__getattr__``), so
``import lookalike`` and the ``lookalike`` command start in a fraction of a
second; ``lookalike.GaussianMixture`` then imports the estimator (and
scikit-learn) the first time it is looked up. ``dir(lookalike)`` and
``from lookalike import *`` list every public name as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lookalike._version import __version__

if TYPE_CHECKING:  # the eager imports, for type checkers and IDEs
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

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "BandwidthCurve": "lookalike.kde",
    "Chunks": "lookalike.chunks",
    "EvaluationReport": "lookalike.evaluation",
    "Gaussian": "lookalike.gaussian",
    "GaussianMixture": "lookalike.mixture",
    "GenerativeClassifier": "lookalike.classifier",
    "KernelDensity": "lookalike.kde",
    "ModelSearch": "lookalike.model_selection",
    "ReducedDensity": "lookalike.reduced",
    "Synthesizer": "lookalike.tabular",
    "cross_validate_bandwidth": "lookalike.kde",
    "evaluate": "lookalike.evaluation",
    "load": "lookalike.persistence",
    "save": "lookalike.persistence",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule, as ``lookalike.plotting``) on first use."""
    module_name = _LAZY.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the submodule exists but one of its imports is missing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
