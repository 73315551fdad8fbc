"""Metrics of the quality benchmark, the same code for every generator.

- :func:`detector_auc`: a HistGradientBoostingClassifier (``random_state=0``,
  ``categorical_features="from_dtype"``) tells real rows (label 0) from an equal number
  of synthetic rows (label 1); the mean ROC AUC over 5 stratified shuffled folds
  (``random_state=0``). 0.5: indistinguishable. Categorical columns keep their category
  dtype (with more than 255 levels: their codes as numbers), numbers are float64.
- :func:`utility`: the same gradient boosting (classifier or regressor) fitted on one
  table and scored on the holdout: accuracy, or R2 for a numeric target.
- :class:`Distances`: distance to the closest training row, on numbers standardised by
  the training mean and standard deviation (a missing number is 0 plus a 0/1 missing
  flag) and categories one-hot (missing as a level of its own) scaled by 1/sqrt(2), so
  that a different category counts as much as one standard deviation.
- :func:`copy_rate`: the share of rows equal, in every column, to some training row.
- :func:`membership_auc`: a distance attack on membership. Each real row is scored by
  minus its distance (as in :class:`Distances`) to the closest synthetic row; the ROC
  AUC of that score telling training rows (members, as many as the holdout, drawn with
  ``random_state=0``) from holdout rows. 0.5: the synthetic rows lie no closer to the
  rows they were fitted on than to new rows of the same table.

The library's own ``lookalike.evaluation.detector.detector_auc`` (used by reports and by
``model="auto"``) splits categories natively too but grows smaller trees with early
stopping (its ``TREE_PARAMETERS``); the issue's detector, with scikit-learn's default
trees, is the one here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors

#: Categorical columns with more levels than this go to the detector as numeric codes.
MAX_CATEGORIES = 255


def column_kinds(train: pd.DataFrame) -> dict[str, str]:
    """``"categorical"``, ``"integer"`` (whole numbers, NaN allowed) or ``"continuous"``."""
    kinds = {}
    for column in train.columns:
        values = train[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            kinds[column] = "categorical"
        else:
            present = values.dropna().to_numpy(dtype=float)
            whole = len(present) > 0 and bool(np.all(present == np.round(present)))
            kinds[column] = "integer" if whole else "continuous"
    return kinds


def conform(synthetic: pd.DataFrame, train: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """``synthetic`` with ``train``'s columns and dtypes; integer columns rounded."""
    absent = [c for c in train.columns if c not in synthetic.columns]
    if absent:
        raise ValueError(f"synthetic rows lack columns {absent}")
    out = {}
    for column in train.columns:
        values = synthetic[column].reset_index(drop=True)
        if kinds[column] == "categorical":
            categories = train[column].cat.categories
            text = values.astype(object).where(values.notna(), None)
            text = text.map(lambda v: None if v is None else str(v))
            by_text = {str(c): c for c in categories}
            out[column] = pd.Categorical(text.map(by_text), categories=categories)
        else:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            if kinds[column] == "integer":
                numbers = numbers.round()
            if pd.api.types.is_integer_dtype(train[column].dtype) and numbers.notna().all():
                numbers = numbers.astype(train[column].dtype)
            out[column] = numbers
    return pd.DataFrame(out)


def model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64; categories as category dtype, or codes when there are too many."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if len(values.cat.categories) > MAX_CATEGORIES:
                codes = values.cat.codes.to_numpy().astype(float)
                codes[codes < 0] = np.nan
                out[column] = codes
            else:
                out[column] = values
        else:
            out[column] = values.to_numpy(dtype=float)
    return pd.DataFrame(out)


def detector_auc(real: pd.DataFrame, synthetic: pd.DataFrame, n_folds: int = 5) -> float:
    """Mean ROC AUC of the detector over stratified folds (0.5: indistinguishable)."""
    X = model_frame(pd.concat([real, synthetic], ignore_index=True))
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    aucs = []
    for fit, test in folds.split(X, y):
        detector = HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=0
        )
        detector.fit(X.iloc[fit], y[fit])
        aucs.append(roc_auc_score(y[test], detector.predict_proba(X.iloc[test])[:, 1]))
    return float(np.mean(aucs))


def utility(fit_on: pd.DataFrame, holdout: pd.DataFrame, target: str, task: str) -> float:
    """Accuracy (classification) or R2 (regression) on the holdout of a model fit on ``fit_on``."""
    fit_on = fit_on[fit_on[target].notna()]
    holdout = holdout[holdout[target].notna()]
    features = [c for c in fit_on.columns if c != target]
    X_fit, X_test = model_frame(fit_on[features]), model_frame(holdout[features])
    if task == "classification":
        y_fit = fit_on[target].astype(str).to_numpy()
        y_test = holdout[target].astype(str).to_numpy()
        if len(np.unique(y_fit)) == 1:
            return float(np.mean(y_test == y_fit[0]))
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
        model.fit(X_fit, y_fit)
        return float(accuracy_score(y_test, model.predict(X_test)))
    regressor = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
    regressor.fit(X_fit, fit_on[target].to_numpy(dtype=float))
    return float(r2_score(holdout[target].to_numpy(dtype=float), regressor.predict(X_test)))


class Distances:
    """Distance of rows to their closest training row (see the module docstring)."""

    def __init__(self, train: pd.DataFrame) -> None:
        self.numeric = [
            c for c in train.columns if not isinstance(train[c].dtype, pd.CategoricalDtype)
        ]
        self.categorical = [c for c in train.columns if c not in self.numeric]
        numbers = train[self.numeric].to_numpy(dtype=float)
        self.mean = np.nanmean(numbers, axis=0) if self.numeric else np.zeros(0)
        std = np.nanstd(numbers, axis=0) if self.numeric else np.zeros(0)
        self.std = np.where(std > 0, std, 1.0)
        self.levels = {c: [str(v) for v in train[c].cat.categories] for c in self.categorical}
        self.neighbours = NearestNeighbors(n_neighbors=1).fit(self.encode(train))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        if self.numeric:
            numbers = (frame[self.numeric].to_numpy(dtype=float) - self.mean) / self.std
            absent = np.isnan(numbers)
            parts += [np.where(absent, 0.0, numbers), absent.astype(float)]
        for column in self.categorical:
            text = frame[column].astype(object).where(frame[column].notna(), None)
            levels = [*self.levels[column], None]
            onehot = np.zeros((len(frame), len(levels)))
            index = {level: i for i, level in enumerate(levels)}
            positions = pd.Series(
                [index.get(None if v is None else str(v), -1) for v in text], dtype=int
            )
            rows = np.flatnonzero(positions.to_numpy() >= 0)
            onehot[rows, positions.to_numpy()[rows]] = 1.0 / np.sqrt(2.0)
            parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def to_train(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's distance to its closest training row."""
        distances, _ = self.neighbours.kneighbors(self.encode(frame))
        return distances[:, 0]


def membership_auc(
    distances: Distances, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame
) -> float:
    """AUC of ``-(distance to the closest synthetic row)``: training rows vs holdout rows."""
    pick = np.random.default_rng(0).choice(len(train), len(holdout), replace=False)
    queries = np.vstack([distances.encode(train.iloc[pick]), distances.encode(holdout)])
    nearest = NearestNeighbors(n_neighbors=1).fit(distances.encode(synthetic))
    to_synthetic = nearest.kneighbors(queries)[0][:, 0]
    members = np.r_[np.ones(len(holdout)), np.zeros(len(holdout))]
    return float(roc_auc_score(members, -to_synthetic))


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of its exact values (categories as text, NaN as NaN)."""
    plain = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            plain[column] = values.astype(object).where(values.notna(), "<missing>").astype(str)
        else:
            plain[column] = values.to_numpy(dtype=float)
    return pd.util.hash_pandas_object(pd.DataFrame(plain), index=False).to_numpy()


def copy_rate(frame: pd.DataFrame, train_hashes: np.ndarray) -> float:
    """Share of ``frame``'s rows equal to some training row in every column."""
    return float(np.isin(row_hashes(frame), train_hashes).mean())
