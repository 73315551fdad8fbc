"""Evaluation of synthetic data: what gives it away, fidelity, coverage, utility, privacy.

:func:`evaluate` compares synthetic rows with the real rows they imitate and returns an
:class:`EvaluationReport`: the classifier two-sample test and the columns and pairs that
give the synthetic rows away first, then every metric beside its holdout reference, in
numbers and sentences; ``report.to_html(path)`` writes a self-contained HTML page and
``report.to_dict()`` a JSON-able summary. :func:`detector_auc` is the two-sample test alone.

Modules: ``columns`` and ``distances`` (kinds, encodings, blocked nearest neighbours),
``sources`` (seeded row samples of in-memory, Parquet and dask tables), ``detector``,
``tells`` and ``describe`` (what gives it away), ``fidelity``, ``coverage``, ``privacy``,
``utility``, ``summary`` (sentences), ``pipeline`` (:func:`evaluate`), ``report``,
``figures`` and ``html``.
"""

from lookalike.evaluation.detector import DetectorResult, detector_auc
from lookalike.evaluation.pipeline import evaluate
from lookalike.evaluation.report import EvaluationReport

__all__ = ["DetectorResult", "EvaluationReport", "detector_auc", "evaluate"]
