"""The joint-model families of the Synthesizer, by name: where ``model=`` is decoded.

=============  ====================================================================
``"trees"``    :class:`~lookalike.tabular.models.trees.SequentialTrees`: each column
               drawn from a tree's leaf given the columns before it (synthpop's CART).
``"cells"``    :class:`~lookalike.tabular.models.cells.CellMixture`: a mixture of small
               cells of similar rows, columns independent within a cell.
``"gaussian"`` One normal on the normal scores: a Gaussian copula (one per level of
               the :class:`Leads` ``levels`` column, on that level's own marginals
               where they are not normal).
``"gmm"``      A Gaussian mixture on the normal scores (a mixture copula), its number
               of components chosen by BIC.
``"kde"``      A Gaussian kernel density on the normal scores, bandwidth by
               cross-validation.
=============  ====================================================================

``"auto"`` is decided by :mod:`~lookalike.tabular.models.selection` among
:data:`AUTO_FAMILIES`. An estimator instance is used as it is: a joint model
(``SequentialTrees(...)``, ``CellMixture(...)``) directly, a density estimator
(``GaussianMixture(...)``, ``ReducedDensity(...)``) through
:class:`~lookalike.tabular.models.estimator.EstimatorModel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import clone

from lookalike._math.score_maps import identity_map
from lookalike.tabular.models.cells import CellMixture
from lookalike.tabular.models.estimator import EstimatorModel
from lookalike.tabular.models.trees import SequentialTrees

#: model="gmm": mixture sizes compared by BIC (capped at n_rows / 10).
GMM_N_COMPONENTS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)


class Leads(NamedTuple):
    """The columns the families follow (the Synthesizer decides them once).

    Attributes
    ----------
    first : str or None
        The column ``"trees"`` visits first: the target, else the first utility column
        (the column models trained on the synthetic rows will most likely predict).
    levels : str or None
        The discrete column whose levels ``"cells"`` never mixes in a cell and
        ``"gaussian"`` gives a copula each: ``first`` when it is a class label, else the
        label whose levels explain the most of the other columns
        (:func:`~lookalike.tabular.models.selection.informative_label`).
    """

    first: str | None = None
    levels: str | None = None


#: No column to follow (an estimator the user configured).
NO_LEADS = Leads()


#: The families "auto" compares, in order of preference when their scores tie.
AUTO_FAMILIES = ("trees", "cells", "gaussian")

#: Joint models used as they are when given as instances.
JOINT_MODELS = (SequentialTrees, CellMixture, EstimatorModel)


def _gaussian(n_rows: int, seed: int, n_jobs: int | None, leads: Leads) -> Any:
    from lookalike.gaussian import Gaussian

    return EstimatorModel(Gaussian(reg_covar=1e-4), random_state=seed, first=leads.levels)


def _gmm(n_rows: int, seed: int, n_jobs: int | None, leads: Leads) -> Any:
    from lookalike.mixture import GaussianMixture
    from lookalike.model_selection import ModelSearch

    sizes = [k for k in GMM_N_COMPONENTS if k <= max(1, n_rows // 10)]
    search = ModelSearch(
        GaussianMixture(reg_covar=1e-4),
        {"n_components": sizes},
        criterion="bic",
        random_state=seed,
        n_jobs=n_jobs,
    )
    return EstimatorModel(search, random_state=seed)


def _kde(n_rows: int, seed: int, n_jobs: int | None, leads: Leads) -> Any:
    from lookalike.kde import KernelDensity

    return EstimatorModel(
        KernelDensity(bandwidth="cv", cv=min(5, max(2, n_rows)), n_jobs=n_jobs),
        random_state=seed,
    )


#: Family name -> builder ``(n_rows, seed, n_jobs, leads) -> unfitted joint model``; a
#: family that follows a column takes one of the :class:`Leads` as its ``first``.
FAMILIES: dict[str, Callable[[int, int, int | None, Leads], Any]] = {
    "trees": lambda n_rows, seed, n_jobs, leads: SequentialTrees(
        first=leads.first, random_state=seed
    ),
    "cells": lambda n_rows, seed, n_jobs, leads: CellMixture(
        first=leads.levels, random_state=seed
    ),
    "gaussian": _gaussian,
    "gmm": _gmm,
    "kde": _kde,
}

#: Every string ``model=`` accepts.
MODELS = ("auto", *FAMILIES)


def make_model(
    model: Any, n_rows: int, seed: int, n_jobs: int | None = None, leads: Leads = NO_LEADS
) -> Any:
    """An unfitted joint model for ``model`` (a family name or an estimator instance).

    ``leads`` are the columns the families follow (:class:`Leads`: ``"trees"`` visits
    ``first`` first; ``"cells"`` and ``"gaussian"`` split by ``levels``); an estimator
    instance keeps its own settings.
    """
    if isinstance(model, str):
        return FAMILIES[model](n_rows, seed, n_jobs, leads)
    model = clone(model)
    if isinstance(model, JOINT_MODELS):
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=seed)
        return model
    return EstimatorModel(model, random_state=seed)


def check_model(model: Any) -> None:
    """Raise for a ``model=`` that is neither a family name nor an estimator."""
    if isinstance(model, str):
        if model not in MODELS:
            raise ValueError(
                f"model must be one of {', '.join(repr(m) for m in MODELS)} or an unfitted "
                f"lookalike estimator; got {model!r}."
            )
        return
    if not (hasattr(model, "fit") and hasattr(model, "sample")):
        raise TypeError(
            f"model must be one of {', '.join(repr(m) for m in MODELS)} or a density "
            f"estimator with fit and sample (e.g. lookalike.GaussianMixture(3)); got {model!r}."
        )


def describe_model(model: Any) -> str:
    """A short description of a fitted joint model."""
    name = type(model).__name__
    if name == "EstimatorModel":
        inner = model.estimator_
        inner_name = type(inner).__name__
        if inner_name == "GaussianMixture" and type(model.estimator).__name__ == "Gaussian":
            maps = model.level_maps_
            if maps is None:  # a model file from before the per-level maps
                return f"one normal per level of {model.first!r} on normal scores"
            own = int(np.any(maps != identity_map(), axis=-1).sum())
            return (
                f"a Gaussian copula per level of {model.first!r} ({inner.n_components} "
                f"levels; {own} level-column marginals of their own, the others normal) "
                "on normal scores"
            )
        if inner_name == "GaussianMixture":
            return (
                f"GaussianMixture(n_components={inner.n_components}, "
                f"covariance_type={inner.covariance_type!r}) on normal scores"
            )
        if inner_name == "KernelDensity":
            bandwidth = np.asarray(inner.bandwidth_)
            shown = f"{float(bandwidth):.4g}" if bandwidth.ndim == 0 else f"array{bandwidth.shape}"
            return f"KernelDensity(kernel={inner.kernel!r}, bandwidth={shown}) on normal scores"
        return f"{inner_name}() on normal scores"
    if name == "CellMixture":
        split = "" if model.first is None else f", first={model.first!r}"
        return f"CellMixture(cell_size={model.cell_size}, n_cells={model.n_cells_}{split})"
    params = {k: v for k, v in model.get_params().items() if k != "random_state"}
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{name}({shown})"
