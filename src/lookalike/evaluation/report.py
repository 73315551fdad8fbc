"""The result of :func:`lookalike.evaluation.evaluate`: metrics, tells, sentences, data."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lookalike.evaluation.detector import DetectorResult
from lookalike.evaluation.tells import Tell

METRIC_COLUMNS = ("category", "metric", "column", "value", "reference", "note")
"""Columns of :attr:`EvaluationReport.metrics`."""

SAMPLING_COLUMNS = ("step", "real_rows", "synthetic_rows", "holdout_rows", "note")
"""Columns of :attr:`EvaluationReport.sampling`."""


@dataclass
class EvaluationReport:
    """Fidelity, coverage, utility and privacy of synthetic data, as numbers and sentences.

    Built by :func:`lookalike.evaluation.evaluate`; not meant to be created by hand.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per metric value, with columns ``"category"`` (``"fidelity"``,
        ``"utility"`` or ``"privacy"``), ``"metric"`` (for example ``"c2st_auc"``, ``"ks"``,
        ``"precision"``, ``"dcr_ratio"``), ``"column"`` (a column name, ``"a|b"`` for a pair
        of columns, or None), ``"value"`` (float), ``"reference"`` (the same metric for
        the real holdout rows against the training rows, what a perfect generator would
        score; NaN where it does not apply) and ``"note"`` (plain text).
    summary : list of str
        Plain-language sentences: the detector and what gives the synthetic rows away
        first, then coverage, fidelity, utility, privacy and an overall verdict.
    memorised : bool
        True when the privacy metrics say the synthetic rows copy training rows.
    memorised_share : float
        Share of synthetic rows closer to a training row than 95% of holdout rows are,
        in ``[0, 1]``; about 0.05 for a model that does not copy its training rows.
    real, synthetic : pandas.DataFrame
        The rows compared (a seeded sample when a table had more than ``max_rows`` rows),
        compared columns only: numbers as float64 (dates as nanoseconds since the epoch),
        categorical columns as text with missing values as ``"<missing>"``.
    holdout : pandas.DataFrame or None
        The holdout rows compared, likewise (None when ``evaluate`` split one off
        ``real`` itself).
    target : str or None
        The target column of the utility metrics.
    kinds : dict of str to str
        ``"numeric"`` or ``"categorical"`` for every compared column.
    column_kinds : dict of str to str
        The registry kind of every compared column (``"continuous"``, ``"integer"``,
        ``"datetime"``, ``"boolean"``, ``"categorical"``).
    left_out : dict of str to str
        Columns not compared, with the reason (id columns, columns only one table has).
    distances : dict of str to ndarray
        Distances to the closest training row, ``"synthetic"`` and ``"holdout"``, in the
        standardised space of the privacy metrics (used by the report's histogram).
    detector : DetectorResult or None
        The classifier two-sample test of real against synthetic rows.
    detector_reference : DetectorResult or None
        The same test of training against holdout rows.
    tells : list of Tell
        Columns and pairs that give the synthetic rows away, worst first, with sentences.
    tells_method : str
        How tells are found, in one sentence.
    sampling : pandas.DataFrame
        Rows used by each step (``"step"``, ``"real_rows"``, ``"synthetic_rows"``,
        ``"holdout_rows"``, ``"note"``).
    n_rows : dict of str to int or None
        Rows of each input table (``"real"``, ``"synthetic"``, ``"holdout"``) before any
        sampling.
    """

    metrics: pd.DataFrame
    summary: list[str]
    memorised: bool
    memorised_share: float
    real: pd.DataFrame
    synthetic: pd.DataFrame
    holdout: pd.DataFrame | None = None
    target: str | None = None
    kinds: dict[str, str] = field(default_factory=dict)
    column_kinds: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    distances: dict[str, np.ndarray] = field(default_factory=dict)
    detector: DetectorResult | None = None
    detector_reference: DetectorResult | None = None
    tells: list[Tell] = field(default_factory=list)
    tells_method: str = ""
    sampling: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SAMPLING_COLUMNS))
    n_rows: dict[str, int | None] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per metric value)."""
        return self.metrics

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a self-contained HTML report to ``path`` and return it as a Path."""
        from lookalike.evaluation.html import render_html

        return render_html(self, path)

    def _rows(self, metric: str, column: str | None) -> pd.DataFrame:
        rows = self.metrics[self.metrics["metric"] == metric]
        wanted = rows["column"].isna() if column is None else rows["column"] == column
        rows = rows[wanted]
        if rows.empty:
            raise KeyError(
                f"No metric {metric!r} for column {column!r} in this report; the metrics are "
                f"{sorted(set(self.metrics['metric']))}."
            )
        return rows

    def value(self, metric: str, column: str | None = None) -> float:
        """The value of one metric (``column`` None matches rows without a column).

        Raises
        ------
        KeyError
            When the report holds no such metric.
        """
        return float(self._rows(metric, column)["value"].iloc[0])

    def reference(self, metric: str, column: str | None = None) -> float:
        """The holdout reference of one metric (NaN where none applies).

        Raises
        ------
        KeyError
            When the report holds no such metric.
        """
        return float(self._rows(metric, column)["reference"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """Everything but the data, as JSON-able values (NaN and infinities become None).

        Keys: ``summary``, ``memorised``, ``memorised_share``, ``detector``,
        ``detector_reference``, ``tells``, ``tells_method``, ``metrics`` (a list of
        records), ``sampling`` (a list of records), ``columns`` (``compared`` with kinds,
        ``left_out`` with reasons), ``target`` and ``n_rows``.

        Examples
        --------
        >>> import json, numpy as np
        >>> from lookalike.evaluation import evaluate
        >>> rng = np.random.default_rng(0)
        >>> report = evaluate(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
        >>> sorted(json.loads(json.dumps(report.to_dict())))[:4]
        ['columns', 'detector', 'detector_reference', 'memorised']
        """
        return {
            "summary": list(self.summary),
            "memorised": bool(self.memorised),
            "memorised_share": _plain(self.memorised_share),
            "detector": None if self.detector is None else self.detector.to_dict(),
            "detector_reference": (
                None if self.detector_reference is None else self.detector_reference.to_dict()
            ),
            "tells": [tell.to_dict() for tell in self.tells],
            "tells_method": self.tells_method,
            "metrics": _records(self.metrics),
            "sampling": _records(self.sampling),
            "columns": {
                "compared": {
                    name: {"kind": kind, "registry_kind": self.column_kinds.get(name)}
                    for name, kind in self.kinds.items()
                },
                "left_out": dict(self.left_out),
            },
            "target": self.target,
            "n_rows": {key: _plain(value) for key, value in self.n_rows.items()},
        }

    def __repr__(self) -> str:
        lines = [
            f"EvaluationReport({len(self.real)} real rows, {len(self.synthetic)} synthetic rows, "
            f"{len(self.metrics)} metric values, memorised={self.memorised})"
        ]
        lines += [f"  - {sentence}" for sentence in self.summary]
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    """A JSON-able scalar: numpy scalars to Python, NaN and infinities to None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(key): _plain(value) for key, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
