"""The result of :func:`lookalike.evaluation.evaluate`: metrics, sentences, the data compared."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

METRIC_COLUMNS = ("category", "metric", "column", "value", "note")


@dataclass
class EvaluationReport:
    """Fidelity, utility and privacy of synthetic data, as numbers and as sentences.

    Built by :func:`lookalike.evaluation.evaluate`; not meant to be created by hand.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per metric value, with columns ``"category"`` (``"fidelity"``, ``"utility"``
        or ``"privacy"``), ``"metric"`` (for example ``"ks"``, ``"c2st_auc"``,
        ``"dcr_ratio"``), ``"column"`` (a column name, ``"a|b"`` for a pair of columns, or
        None), ``"value"`` (float) and ``"note"`` (plain text).
    summary : list of str
        Plain-language sentences: one per category and an overall verdict.
    memorised : bool
        True when the privacy metrics say the synthetic rows copy training rows.
    memorised_share : float
        Share of synthetic rows closer to a training row than 95% of holdout rows are,
        in ``[0, 1]``; about 0.05 for a model that does not copy its training rows.
    real, synthetic : pandas.DataFrame
        The data compared, after conversion of arrays to DataFrames.
    holdout : pandas.DataFrame or None
        The holdout given (None when ``evaluate`` split one off ``real`` itself).
    target : str or None
        The target column of the utility metrics.
    kinds : dict of str to str
        ``"numeric"`` or ``"categorical"`` for every column.
    distances : dict of str to ndarray
        Distances to the closest training row, ``"synthetic"`` of shape (n_synthetic,) and
        ``"holdout"`` of shape (n_holdout,), in the standardised space of the privacy
        metrics (used by the report's histogram).
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
    distances: dict[str, np.ndarray] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (one row per metric value)."""
        return self.metrics

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a self-contained HTML report to ``path`` and return it as a Path."""
        from lookalike.evaluation.html import render_html

        return render_html(self, path)

    def value(self, metric: str, column: str | None = None) -> float:
        """The value of one metric (``column`` None matches rows without a column).

        Raises
        ------
        KeyError
            When the report holds no such metric.
        """
        rows = self.metrics[self.metrics["metric"] == metric]
        wanted = rows["column"].isna() if column is None else rows["column"] == column
        rows = rows[wanted]
        if rows.empty:
            raise KeyError(
                f"No metric {metric!r} for column {column!r} in this report; the metrics are "
                f"{sorted(set(self.metrics['metric']))}."
            )
        return float(rows["value"].iloc[0])

    def __repr__(self) -> str:
        lines = [
            f"EvaluationReport({len(self.real)} real rows, {len(self.synthetic)} synthetic rows, "
            f"{len(self.metrics)} metric values, memorised={self.memorised})"
        ]
        lines += [f"  - {sentence}" for sentence in self.summary]
        return "\n".join(lines)
