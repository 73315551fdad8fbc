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
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, r2_score
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
    classification, xs, ys = _prepared([train, test, synthetic], target, kinds)
    (x_train, x_test, x_synthetic), (y_train, y_test, y_synthetic) = xs, ys
    template = _model(classification, seed) if utility_model is None else utility_model
    scores: dict[str, dict[str, float]] = {}
    notes: dict[str, str] = {}
    for name, x, y in (("tstr", x_synthetic, y_synthetic), ("trtr", x_train, y_train)):
        if len(y) < 2 or len(y_test) == 0 or (classification and np.unique(y).size < 2):
            notes[name] = "too few rows or a single class"
            continue
        predicted = _fit_predict(template, utility_model is None, x, y, x_test)
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


def _fit_predict(
    template: Any, default: bool, x: np.ndarray, y: np.ndarray, x_test: np.ndarray
) -> np.ndarray:
    """Predictions for ``x_test`` of a clone of ``template`` fitted to ``(x, y)``."""
    model = clone(template)
    if default:
        model.set_params(early_stopping=len(x) >= EARLY_STOPPING_ROWS, n_iter_no_change=5)
    with threadpool_limits(1 if len(x) < SMALL_FIT_ROWS else None, user_api="openmp"):
        return np.asarray(model.fit(x, y).predict(x_test))


def holdout_score(
    fit_on: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    seed: int,
    forest_trees: int | None = None,
) -> float:
    """How well the other columns of ``fit_on`` predict ``target`` on ``test``'s rows.

    Balanced accuracy (the mean recall over classes, so that a rare class whose link to
    the other columns is lost counts as much as a common one) for a class label
    (:func:`is_classification`), :math:`R^2` otherwise, of the default model of
    :func:`utility_metrics` (histogram gradient boosting) trained on ``fit_on``, or with
    ``forest_trees`` a random forest of that many trees (ten times faster on small
    tables, where boosting pays a fixed cost per tree and class). Both frames are
    conformed (:func:`lookalike.evaluation.columns.conform`) to ``kinds``; rows with a
    missing target are dropped. NaN when ``fit_on`` has fewer than 2 such rows or one
    class, or ``test`` none.
    """
    classification, (x_fit, x_test), (y_fit, y_test) = _prepared([fit_on, test], target, kinds)
    if len(y_fit) < 2 or len(y_test) == 0 or (classification and np.unique(y_fit).size < 2):
        return float("nan")
    template = _model(classification, seed, forest_trees)
    predicted = _fit_predict(template, forest_trees is None, x_fit, y_fit, x_test)
    if classification:
        return float(balanced_accuracy_score(y_test, predicted))
    return float(r2_score(y_test, predicted))


def _prepared(
    frames: list[pd.DataFrame], target: str, kinds: dict[str, str]
) -> tuple[bool, list[np.ndarray], list[np.ndarray]]:
    """Whether ``target`` is a class label, and each frame's features and target values.

    Rows with a missing target are dropped; features are the other columns
    (:func:`lookalike.evaluation.columns.design_matrix`); a label comes as text, a
    number as float. The first frame (the training rows) decides the task.
    """
    numeric_target = kinds[target] != CATEGORICAL
    frames = [_present(frame, target, numeric_target) for frame in frames]
    classification = is_classification(frames[0][target], kinds[target])
    features = [column for column in kinds if column != target]
    xs = list(design_matrix(frames, kinds, features))
    if classification:
        ys = [_labels(frame[target], numeric_target) for frame in frames]
    else:
        ys = [frame[target].to_numpy(dtype=float) for frame in frames]
    return classification, xs, ys


def _model(classification: bool, seed: int, forest_trees: int | None = None) -> Any:
    """The default utility model: histogram boosting, or a forest of ``forest_trees``."""
    if forest_trees is not None:
        forest = RandomForestClassifier if classification else RandomForestRegressor
        return forest(forest_trees, random_state=seed)
    boosting = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    return boosting(random_state=seed)


def _row(metric: str, column: str, value: float, reference: float, note: str) -> dict[str, Any]:
    return {"category": "utility", "metric": metric, "column": column, "value": value,
            "reference": reference, "note": note}  # fmt: skip
