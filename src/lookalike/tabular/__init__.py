"""Tables in, tables out: synthetic versions of real DataFrames.

:class:`Synthesizer` infers each column's kind (:mod:`~lookalike.tabular.schema`),
encodes the table as floats (:mod:`~lookalike.tabular.transforms`), fits a density
model, and decodes its samples into new rows that satisfy the
:mod:`~lookalike.tabular.constraints`.
"""

from lookalike.tabular.constraints import Bounds, FixedSum, LowAcceptanceWarning, Order
from lookalike.tabular.schema import ColumnSchema, TableTypeError
from lookalike.tabular.synthesizer import Synthesizer
from lookalike.tabular.transforms import TableEncoder

__all__ = [
    "Bounds",
    "ColumnSchema",
    "FixedSum",
    "LowAcceptanceWarning",
    "Order",
    "Synthesizer",
    "TableEncoder",
    "TableTypeError",
]
