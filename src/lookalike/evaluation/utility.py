"""Utility of synthetic rows: train on synthetic, test on real (TSTR) beside train on real (TRTR).

A model trained on synthetic rows predicts a target on real holdout rows; the same model
trained on the real training rows is the reference. Classification reports accuracy and
macro F1, regression :math:`R^2`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, r2_score
from threadpoolctl import threadpool_limits

from lookalike.evaluation.columns import CATEGORICAL, MISSING, design_matrix

MAX_CLASSES = 20
"""A numeric target with at most this many distinct integer values is a class label."""

EARLY_STOPPING_ROWS = 2_000
"""From this many training rows, the default models stop adding trees once 5 in a row do not
improve the loss on a validation tenth of their training rows (scikit-learn's default waits
for 10,000 rows); smaller fits are cheap, and a validation tenth of them too noisy."""

SMALL_FIT_ROWS = 50_000
"""Below this many rows gradient boosting runs on one OpenMP thread."""


def is_classification(target: pd.Series, kind: str) -> bool:
    """True for categorical or boolean targets and integer targets with few values."""
    if kind == CATEGORICAL:
        return True
    values = pd.Series(target).dropna().to_numpy(dtype=float)
    return bool(np.all(values == np.round(values)) and np.unique(values).size <= MAX_CLASSES)


def _labels(series: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:  # synthetic class labels of a numeric target may come out as floats
        values = series.to_numpy(dtype=float)
        return np.array([str(round(v)) for v in values], dtype=object)
    return series.to_numpy(dtype=object)


def _present(frame: pd.DataFrame, target: str, numeric: bool) -> pd.DataFrame:
    if numeric:
        return frame[~np.isnan(frame[target].to_numpy(dtype=float))]
    return frame[frame[target] != MISSING]


def utility_metrics(
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    utility_model: Any,
    seed: int,
) -> list[dict[str, Any]]:
    """TSTR and TRTR scores as metric rows (``reference`` holds the TRTR score).

    Rows with a missing target are dropped. Features: numeric columns (NaN kept) and
    one-hot categoricals (:func:`lookalike.evaluation.columns.design_matrix`). The default
    model is histogram gradient boosting with early stopping (:data:`EARLY_STOPPING_ROWS`).
    """
    numeric_target = kinds[target] != CATEGORICAL
    train, test, synthetic = (
        _present(frame, target, numeric_target) for frame in (train, test, synthetic)
    )
    classification = is_classification(train[target], kinds[target])
    features = [column for column in kinds if column != target]
    x_train, x_test, x_synthetic = design_matrix([train, test, synthetic], kinds, features)
    if classification:
        y_train, y_test, y_synthetic = (
            _labels(frame[target], numeric_target) for frame in (train, test, synthetic)
        )
        default: Any = HistGradientBoostingClassifier(random_state=seed)
    else:
        y_train, y_test, y_synthetic = (
            frame[target].to_numpy(dtype=float) for frame in (train, test, synthetic)
        )
        default = HistGradientBoostingRegressor(random_state=seed)
    template = default if utility_model is None else utility_model
    scores: dict[str, dict[str, float]] = {}
    notes: dict[str, str] = {}
    for name, x, y in (("tstr", x_synthetic, y_synthetic), ("trtr", x_train, y_train)):
        if len(y) < 2 or len(y_test) == 0 or (classification and np.unique(y).size < 2):
            notes[name] = "too few rows or a single class"
            continue
        model = clone(template)
        if utility_model is None:
            model.set_params(early_stopping=len(x) >= EARLY_STOPPING_ROWS, n_iter_no_change=5)
        with threadpool_limits(1 if len(x) < SMALL_FIT_ROWS else None, user_api="openmp"):
            predicted = model.fit(x, y).predict(x_test)
        if classification:
            scores[name] = {
                "accuracy": float(accuracy_score(y_test, predicted)),
                "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
            }
        else:
            scores[name] = {"r2": float(r2_score(y_test, predicted))}
    measures = ("accuracy", "macro_f1") if classification else ("r2",)
    labels = {"accuracy": "accuracy", "macro_f1": "macro F1", "r2": "R^2"}
    rows = []
    for name, label in (("tstr", "trained on synthetic"), ("trtr", "trained on real")):
        if name not in scores:
            rows.append(_row(f"{name}", target, float("nan"), np.nan,
                             f"{label} rows: {notes[name]}, skipped"))  # fmt: skip
            continue
        for measure in measures:
            reference = scores.get("trtr", {}).get(measure, np.nan)
            rows.append(
                _row(f"{name}_{measure}", target, scores[name][measure], reference,
                     f"{labels[measure]} on {len(y_test)} real holdout rows, model {label} "
                     f"rows ({len(y_synthetic if name == 'tstr' else y_train)})")
            )  # fmt: skip
    return rows


def _row(metric: str, column: str, value: float, reference: float, note: str) -> dict[str, Any]:
    return {"category": "utility", "metric": metric, "column": column, "value": value,
            "reference": reference, "note": note}  # fmt: skip
