"""Tables in, tables out: synthetic versions of real DataFrames."""

from lookalike.tabular.constraints import Bounds, FixedSum, LowAcceptanceWarning, Order
from lookalike.tabular.schema import ColumnSchema, TableTypeError

try:
    from lookalike.tabular.synthesizer import Synthesizer
except ImportError:  # under construction
    Synthesizer = None  # type: ignore[assignment,misc]

__all__ = [
    "Bounds",
    "ColumnSchema",
    "FixedSum",
    "LowAcceptanceWarning",
    "Order",
    "Synthesizer",
    "TableTypeError",
]
