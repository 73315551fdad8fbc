"""Joint models of the Synthesizer: the dependence between the columns' normal scores.

Each family is its own module and a lookalike estimator (``fit(Z, dims)``,
``sample(n, conditions, random_state)``; contract in :mod:`.base`); the family names
of ``Synthesizer(model=...)`` are decoded once, in :mod:`.registry`.
"""

from lookalike.tabular.models.cells import CellMixture
from lookalike.tabular.models.estimator import EstimatorModel
from lookalike.tabular.models.trees import SequentialTrees

__all__ = ["CellMixture", "EstimatorModel", "SequentialTrees"]
