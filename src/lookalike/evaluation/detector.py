"""Placeholder of the lead's branch: the detector (replaced by feat/evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits


@dataclass
class DetectorResult:
    auc: float
    fold_aucs: list[float]
    n_rows_used: int


def _numeric(frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in frame.columns:
        both = pd.concat([frame[name], other[name]], ignore_index=True)
        if pd.api.types.is_datetime64_any_dtype(both.dtype):
            values = both.dt.tz_localize(None) if getattr(both.dt, "tz", None) else both
            numbers = values.astype("int64").astype(float)
            numbers[both.isna().to_numpy()] = np.nan
            out[name] = numbers
        elif pd.api.types.is_bool_dtype(both.dtype) or not pd.api.types.is_numeric_dtype(
            both.dtype
        ):
            codes = pd.Categorical(both.astype(str)).codes.astype(float)
            codes[both.isna().to_numpy()] = np.nan
            out[name] = codes
        else:
            out[name] = both.astype(float)
    return pd.DataFrame(out)


def detector_auc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    n_folds: int = 3,
    max_rows: int | None = 20_000,
    random_state: Any = 0,
) -> DetectorResult:
    rng = np.random.default_rng(random_state)
    n = min(len(real), len(synthetic), max_rows or len(real))
    real = real.iloc[rng.choice(len(real), n, replace=False)]
    synthetic = synthetic.iloc[rng.choice(len(synthetic), n, replace=False)]
    X = _numeric(real.reset_index(drop=True), synthetic.reset_index(drop=True))
    y = np.r_[np.zeros(n), np.ones(n)]
    aucs = []
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    with threadpool_limits(1):
        for train, test in splitter.split(X, y):
            clf = HistGradientBoostingClassifier(random_state=0).fit(X.iloc[train], y[train])
            aucs.append(roc_auc_score(y[test], clf.predict_proba(X.iloc[test])[:, 1]))
    return DetectorResult(float(np.mean(aucs)), aucs, 2 * n)
