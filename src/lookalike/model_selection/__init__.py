"""ModelSearch: BIC, AIC and cross-validated sweeps over density models.

One estimator that fits every candidate of a grid (families and their
hyper-parameters), scores them by an information criterion or by held-out
log-likelihood, keeps the whole comparison as a pandas DataFrame and refits the
best. The package's modules, one job each:

- ``estimator``: :class:`ModelSearch` (validation, the best candidate, delegation);
- ``candidates``: the grid expanded into configured estimators; the ``"auto"`` families;
- ``sweep``: the fits and scores of every candidate, run side by side;
- the results table is :mod:`lookalike._search_results`, a leaf that
  :mod:`lookalike.plotting` reads too.
"""

from lookalike._search_results import RESULT_COLUMNS
from lookalike.model_selection.candidates import (
    AUTO_COVARIANCE_TYPES,
    AUTO_N_COMPONENTS,
    AUTO_WIDE_FEATURES,
)
from lookalike.model_selection.estimator import CRITERIA, ModelSearch
from lookalike.model_selection.sweep import KDE_GRID_FAST_PATH, KDE_TRAINING_CHUNKS

__all__ = [
    "AUTO_COVARIANCE_TYPES",
    "AUTO_N_COMPONENTS",
    "AUTO_WIDE_FEATURES",
    "CRITERIA",
    "KDE_GRID_FAST_PATH",
    "KDE_TRAINING_CHUNKS",
    "RESULT_COLUMNS",
    "ModelSearch",
]
