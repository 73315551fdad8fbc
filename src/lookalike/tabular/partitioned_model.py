"""The joint model of a partitioned table: partitioned EM where it is exact, else a sample.

Given the codecs fitted over the partitions (:mod:`lookalike.tabular.partitioned`):

- ``model="gaussian"``, ``model="gmm"`` and an unfitted
  :class:`~lookalike.mixture.GaussianMixture` are fitted by partitioned EM
  (:mod:`lookalike.distributed`) on the normal scores of **every row**, encoded on the
  workers pass after pass. ``"gaussian"`` is a one-component mixture started at the
  sample's mean and covariance (its first M-step is the maximum-likelihood fit to all
  rows, so it equals an in-memory :class:`~lookalike.gaussian.Gaussian` with the same
  ``reg_covar`` on the same scores); ``"gmm"`` chooses its number of components by
  BIC on the sample (as in memory) and refines the winner by EM on all rows, started
  from its sample fit. A ``"gaussian"`` that fits one copula per level of a column
  (the ``levels`` of its :class:`~lookalike.tabular.models.registry.Leads`;
  :func:`~lookalike.tabular.models.estimator.splits_by_levels`) is fitted to the
  sample instead: its levels' normals start from their rows' moments, which the
  partitioned EM over all rows (whose level scores are not set to their levels'
  middles) would not keep apart.
- every other family (``"trees"``, ``"cells"``, ``"kde"``, ``"auto"``'s choice, other
  estimators) needs its rows in memory and is fitted to the seeded sample's scores.

With ``persist="auto"`` the scores of all rows are kept in the workers' memory during
EM (read and encoded once) when a ``distributed.Client`` is active and they take at
most :data:`PERSIST_FRACTION` of the workers' memory limits together and at most
:data:`PERSIST_MAX_WORKER_BYTES` per worker; otherwise every EM pass reads and encodes
the partitions again, so that a worker's memory stays bounded by a few partitions
whatever the table's size (at 20M rows x 18 scores, 2 workers peak at 1.0 GB without
persisting, 2.1-2.2 GB persisting; benchmarks/results/tabular_dask.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from lookalike._validation import is_dask_collection
from lookalike.tabular.columns import ModelDim
from lookalike.tabular.models.estimator import EstimatorModel, splits_by_levels
from lookalike.tabular.models.registry import NO_LEADS, Leads, make_model

#: Families fitted by partitioned EM on every row.
EM_FAMILIES = ("gaussian", "gmm")
#: persist="auto" keeps the scores on the workers below this share of their memory ...
PERSIST_FRACTION = 0.25
#: ... and below this many bytes per worker.
PERSIST_MAX_WORKER_BYTES = 2**30
#: The ridge of the Gaussian families (as :mod:`lookalike.tabular.models.registry`).
REG_COVAR = 1e-4


def uses_partitioned_em(
    model: Any, dims: Sequence[ModelDim] = (), levels: str | None = None
) -> bool:
    """Whether ``model`` is fitted by EM on all rows of a partitioned table.

    ``dims`` is the model space and ``levels`` the column whose levels the Gaussian
    family splits by (:class:`~lookalike.tabular.models.registry.Leads`).
    """
    from lookalike.mixture import GaussianMixture

    if isinstance(model, str):
        if model == "gaussian" and splits_by_levels(dims, levels):
            return False
        return model in EM_FAMILIES
    return isinstance(model, GaussianMixture)


def fit_partitioned_model(
    model: Any,
    sample_scores: np.ndarray,
    dims: Sequence[ModelDim],
    all_scores: Any,
    seed: int,
    n_jobs: int | None,
    persist: bool | str = "auto",
    leads: Leads = NO_LEADS,
) -> Any:
    """The fitted joint model (see the module docstring).

    Parameters
    ----------
    model : str or estimator
        A family name (not ``"auto"``) or an unfitted estimator.
    sample_scores : ndarray of shape (n_sample, n_dims)
        The sample's normal scores (NaN for missing numeric values).
    dims : list of ModelDim
    all_scores : dask array or Chunks
        Every row's scores, missing ones filled
        (:func:`~lookalike.tabular.partitioned.encode_partitions`).
    seed : int
    n_jobs : int or None
    persist : bool or "auto", default="auto"
    leads : Leads, default=NO_LEADS
        The columns the families follow (:func:`make_model`).
    """
    if not uses_partitioned_em(model, dims, leads.levels):
        built = make_model(model, sample_scores.shape[0], seed, n_jobs, leads)
        return built.fit(sample_scores, dims)
    from lookalike.gaussian import Gaussian
    from lookalike.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    filled = np.array(sample_scores, dtype=np.float64)
    holes = np.isnan(filled)
    filled[holes] = rng.standard_normal(int(holes.sum()))
    if model == "gaussian":
        start = Gaussian(reg_covar=REG_COVAR).fit(filled)
        estimator = GaussianMixture(1, reg_covar=REG_COVAR, random_state=seed)
        started = clone(estimator).set_params(
            weights_init=np.ones(1), means_init=start.means_, precisions_init=start.precisions_
        )
    elif model == "gmm":
        best = make_model("gmm", filled.shape[0], seed, n_jobs).fit(filled, dims).estimator_
        estimator = GaussianMixture(
            best.n_components,
            covariance_type=best.covariance_type,
            reg_covar=best.reg_covar,
            random_state=seed,
        )
        started = clone(estimator).set_params(
            weights_init=best.weights_, means_init=best.means_, precisions_init=best.precisions_
        )
    else:
        estimator = clone(model)
        if estimator.random_state is None:
            estimator.set_params(random_state=seed)
        started = clone(estimator)
    scores = _persisted(all_scores, persist)
    try:
        fitted = started.fit(scores)
    finally:
        del scores
    return EstimatorModel.from_fitted(estimator, fitted, filled.shape[1], random_state=seed)


def _persisted(scores: Any, persist: bool | str) -> Any:
    if persist not in (True, False, "auto"):
        raise ValueError(f"persist must be True, False or 'auto'; got {persist!r}.")
    if persist is False or not is_dask_collection(scores):
        return scores
    if persist is True:
        return scores.persist()
    client = current_client()
    if client is None:
        return scores
    limits = [w.get("memory_limit", 0) for w in client.scheduler_info()["workers"].values()]
    if not limits or min(limits) <= 0 or scores.nbytes > PERSIST_FRACTION * sum(limits):
        return scores
    if scores.nbytes > PERSIST_MAX_WORKER_BYTES * len(limits):
        return scores
    return scores.persist()


def current_client() -> Any:
    """The active ``distributed.Client``, or None (no distributed, or no client)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is in the dask extra
        return None
    try:
        return default_client()
    except ValueError:
        return None


__all__ = ["EM_FAMILIES", "current_client", "fit_partitioned_model", "uses_partitioned_em"]
