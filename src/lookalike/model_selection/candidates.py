"""Candidate families of a model search: the grid expanded into configured estimators.

A grid point becomes a :class:`Candidate` (a clone of its estimator with the
point's parameters and the search's seed); ``model="auto"`` gets the default
families of :func:`auto_grid`. The helpers say what a candidate can be scored
by (:func:`counts_parameters`) and whether the bandwidth-grid path of
:mod:`lookalike.model_selection.sweep` reproduces it (:func:`exact_scalar_kde`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid

from lookalike.kde.bandwidth import automatic_grid

__all__ = [
    "AUTO_COVARIANCE_TYPES",
    "AUTO_N_COMPONENTS",
    "AUTO_WIDE_FEATURES",
    "Candidate",
    "auto_grid",
    "counts_parameters",
    "exact_scalar_kde",
    "expand_grid",
    "restore_n_jobs",
    "set_deep",
    "short",
]

# model="auto": mixture sizes tried (capped at n_samples / 10).
AUTO_N_COMPONENTS = (1, 2, 3, 5, 8, 13, 21)
AUTO_COVARIANCE_TYPES = ("full", "diag")
# model="auto": wide data (more features than this) also get ReducedDensity candidates.
AUTO_WIDE_FEATURES = 20


@dataclass
class Candidate:
    """One point of the grid: its estimator and the parameters the grid set."""

    estimator: Any  # configured, unfitted, with the user's n_jobs
    params: dict[str, Any]  # parameters set from the grid, without "model"
    grid_point: dict[str, Any]  # the grid point as given (with "model" if swept)

    @property
    def name(self) -> str:
        return type(self.estimator).__name__

    def describe(self) -> str:
        settings = " ".join(f"{k}={short(v)}" for k, v in self.params.items())
        return f"{self.name} {settings}".rstrip()


def expand_grid(
    model: Any,
    param_grid: Any,
    X: np.ndarray,
    weights: np.ndarray | None,
    seed: int | None,
) -> list[Candidate]:
    """The candidates of a search: each grid point as a configured, unfitted estimator.

    ``model`` is the search's estimator or ``"auto"``; ``param_grid`` its grid
    (None: the model alone, or :func:`auto_grid`); ``seed`` is set as the
    ``random_state`` of every (nested) estimator whose grid does not set it.
    """
    grid = _grid(model, param_grid, X, weights)
    candidates = []
    for point_dict, swept_model in grid:
        for point in ParameterGrid(point_dict):
            params = {k: v for k, v in point.items() if k != "model"}
            estimator = clone(point["model"])
            estimator.set_params(**clone(params, safe=False))
            if seed is not None:
                set_deep(estimator, "random_state", seed, skip=params)
            grid_point = dict(point) if swept_model else params
            candidates.append(Candidate(estimator, params, grid_point))
    if not candidates:
        raise ValueError(
            "param_grid gives no candidate (an empty list, or an empty list of values); "
            "give at least one value per parameter."
        )
    return candidates


def _grid(
    model: Any, param_grid: Any, X: np.ndarray, weights: np.ndarray | None
) -> list[tuple[dict[str, Any], bool]]:
    """The grid as dicts with a "model" entry, each with whether the model is swept."""
    if param_grid is None:
        if model == "auto":
            return [(point, True) for point in auto_grid(X, weights)]
        return [({"model": [model]}, False)]
    grid = param_grid
    if isinstance(grid, Mapping):
        grid = [grid]
    if not isinstance(grid, Sequence) or not all(isinstance(g, Mapping) for g in grid):
        raise TypeError(f"param_grid must be a dict or a list of dicts; got {param_grid!r}.")
    dicts = []
    for given in grid:
        point = dict(given)
        swept = "model" in point
        if not swept:
            if model == "auto":
                raise ValueError(
                    "With model='auto' every dict of param_grid must name its estimators "
                    "under the key 'model' (e.g. {'model': [GaussianMixture()], "
                    "'n_components': [1, 2]}); or pass the estimator as model."
                )
            point["model"] = [model]
        dicts.append((point, swept))
    return dicts


def auto_grid(X: np.ndarray, weights: np.ndarray | None) -> list[dict[str, Any]]:
    """The default grid of model="auto" (see ModelSearch's Notes)."""
    from lookalike._math.kernels import KERNELS
    from lookalike.kde import KernelDensity
    from lookalike.mixture import GaussianMixture

    n_samples, n_features = X.shape
    ladder = [k for k in AUTO_N_COMPONENTS if k <= n_samples / 10] or [1]
    grid: list[dict[str, Any]] = []
    try:
        from lookalike.gaussian import Gaussian

        grid.append({"model": [Gaussian(reg_covar=1e-6)]})
    except ImportError:  # pragma: no cover - GaussianMixture(1) is in the ladder anyway
        pass
    grid.append(
        {
            "model": [GaussianMixture()],
            "n_components": ladder,
            "covariance_type": list(AUTO_COVARIANCE_TYPES),
        }
    )
    data = np.asarray(X, dtype=np.float64)
    bandwidths = automatic_grid(data, weights, KERNELS["gaussian"])
    grid.append({"model": [KernelDensity()], "bandwidth": [float(h) for h in bandwidths]})
    if n_features > AUTO_WIDE_FEATURES:
        try:
            from lookalike.reduced import ReducedDensity
        except ImportError:  # pragma: no cover - depends on the package version
            return grid
        grid.append(
            {"model": [ReducedDensity(GaussianMixture())], "estimator__n_components": ladder}
        )
    return grid


def counts_parameters(estimator: Any) -> bool:
    """Whether BIC/AIC are defined (the estimator has ``bic`` and ``aic``)."""
    return hasattr(estimator, "bic") and hasattr(estimator, "aic")


def exact_scalar_kde(estimator: Any) -> bool:
    """A KernelDensity whose held-out scores the bandwidth-grid path reproduces exactly."""
    bandwidth = estimator.bandwidth
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real):
        return False
    if not (math.isfinite(float(bandwidth)) and float(bandwidth) > 0):
        return False
    params = estimator.metric_params or {}
    euclidean = estimator.metric in ("euclidean", "l2") or (
        estimator.metric in ("minkowski", "p") and params.get("p", 2) == 2
    )
    exact = estimator.algorithm in ("exact", "kd_tree", "ball_tree") or (
        estimator.algorithm == "auto" and estimator.rtol == 0
    )
    return euclidean and exact


def set_deep(estimator: Any, name: str, value: Any, skip: Iterable[str] = ()) -> None:
    """Set ``name`` and every nested ``..__name`` parameter, except those in ``skip``."""
    skip = set(skip)
    keys = [
        key
        for key in estimator.get_params(deep=True)
        if (key == name or key.endswith("__" + name)) and key not in skip
    ]
    # Outer keys first: setting a nested estimator must not undo an inner setting.
    for key in sorted(keys, key=lambda k: k.count("__")):
        estimator.set_params(**{key: value})


def restore_n_jobs(fitted: Any, configured: Any) -> None:
    """Give the refitted best estimator back the n_jobs the user configured."""
    wanted = configured.get_params(deep=True)
    fitted_params = fitted.get_params(deep=True)
    for key, value in wanted.items():
        if (key == "n_jobs" or key.endswith("__n_jobs")) and key in fitted_params:
            fitted.set_params(**{key: value})
    # Fitted copies of nested estimators (e.g. ReducedDensity.estimator_) keep n_jobs=1.
    for attribute, inner in list(vars(fitted).items()):
        if attribute.endswith("_") and hasattr(inner, "get_params"):
            original = getattr(configured, attribute[:-1], None)
            if original is not None and hasattr(original, "get_params"):
                restore_n_jobs(inner, original)


def short(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, BaseEstimator):
        return type(value).__name__
    return str(value)
