"""Tables in, tables out: synthetic versions of real DataFrames.

:class:`Synthesizer` fits a codec to every column (:mod:`~lookalike.tabular.columns`:
each column's kind and exact marginal), a joint model to the columns' normal scores
(:mod:`~lookalike.tabular.models`), and decodes the model's draws into new rows that
meet the :mod:`~lookalike.tabular.constraints`.
"""

from lookalike.tabular.columns import ColumnCodec, infer_kind
from lookalike.tabular.constraints import (
    Bounds,
    Constraint,
    FixedSum,
    LowAcceptanceWarning,
    Order,
)
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.models import CellMixture, EstimatorModel, SequentialTrees
from lookalike.tabular.schema import ColumnSchema, TableTypeError
from lookalike.tabular.synthesizer import Synthesizer

__all__ = [
    "Bounds",
    "CellMixture",
    "ColumnCodec",
    "ColumnSchema",
    "Constraint",
    "EstimatorModel",
    "FixedSum",
    "LowAcceptanceWarning",
    "Order",
    "SequentialTrees",
    "Synthesizer",
    "TableEncoder",
    "TableTypeError",
    "infer_kind",
]
