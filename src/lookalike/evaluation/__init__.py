"""Evaluation of synthetic data: fidelity, utility and privacy metrics, and the HTML report.

:func:`evaluate` compares synthetic rows with the real rows they imitate and returns an
:class:`EvaluationReport` (a metrics table, plain-language sentences and a memorisation flag);
``report.to_html(path)`` writes a self-contained HTML page.
"""

from lookalike.evaluation.metrics import evaluate
from lookalike.evaluation.report import EvaluationReport

__all__ = ["EvaluationReport", "evaluate"]
