"""Fidelity, utility and privacy metrics of synthetic data, and :func:`evaluate`.

Fidelity asks whether the synthetic rows look like the real ones: per column, the
Kolmogorov-Smirnov statistic (numeric) or the total variation distance (categorical);
per pair of columns, the change of Pearson correlation (numeric pairs) or of Cramér's V
(categorical pairs); as a whole, how well a classifier tells real from synthetic rows
(the classifier two-sample test, C2ST) and, when a model is given, the mean
log-likelihood of holdout rows under it.

Utility asks whether a model trained on synthetic rows predicts a target on real rows
as well as one trained on real rows (train-synthetic-test-real against
train-real-test-real).

Privacy asks whether the synthetic rows copy training rows: the distance of each
synthetic row to the closest training row (DCR) is compared with the same distance for
holdout rows, which the generator never saw.

The statistics and classifiers come from scipy and scikit-learn; this module prepares
the data (column kinds, one-hot codes, standardisation, balanced splits) and turns the
numbers into sentences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from scipy.stats.contingency import association
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from lookalike._math.blocks import block_rows, row_slices
from lookalike._validation import RandomStateLike, as_random_state, check_none_complex
from lookalike.evaluation.report import METRIC_COLUMNS, EvaluationReport

MISSING = "<missing>"
"""The level that stands for a missing value in categorical columns."""

HOLDOUT_SHARE = 0.3
"""Share of the real rows held out when no holdout is given."""

MAX_CLASSES = 20
"""A numeric target with at most this many distinct integer values is a class label."""

EXACT_COPY_TOLERANCE = 1e-8
"""A synthetic row this close (standardised units) to a training row is an exact copy."""

# Memorisation thresholds: see ``privacy_metrics``.
MEMORISED_SHARE_LIMIT = 0.2
EXACT_COPY_LIMIT = 0.05
DCR_RATIO_LIMIT = 0.5
NEAR_QUANTILE = 0.05

SMALL_FIT_ROWS = 50_000
"""Below this many rows gradient boosting runs on one OpenMP thread: thread start-up and
synchronisation cost more than they save (2,100 rows x 6 columns: 0.4 s on one thread
against 4 s on two busy cores)."""


# ---------------------------------------------------------------------------
# Inputs: DataFrames, column kinds, encodings
# ---------------------------------------------------------------------------


def as_frame(data: Any, name: str, columns: pd.Index | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a 2-D array.

    Arrays get the column names of ``columns`` when given and of the same width, else
    ``"x0" .. "x{d-1}"``.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
    else:
        array = np.asarray(data)
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be a pandas DataFrame or a 2-D array, got an array of shape "
                f"{array.shape}; reshape 1-D data with reshape(-1, 1)."
            )
        if columns is not None and len(columns) == array.shape[1]:
            names = [str(column) for column in columns]
        else:
            names = [f"x{j}" for j in range(array.shape[1])]
        frame = pd.DataFrame(array, columns=names)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {frame.shape}); pass at least one row.")
    frame.columns = [str(column) for column in frame.columns]
    return frame


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """``"numeric"`` for numeric columns (booleans excluded), ``"categorical"`` otherwise."""
    kinds = {}
    for column in frame.columns:
        series = frame[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        kinds[column] = "numeric" if numeric else "categorical"
    return kinds


def _conform(
    frame: pd.DataFrame, reference: pd.DataFrame, kinds: dict[str, str], name: str
) -> pd.DataFrame:
    """``frame`` with the columns of ``reference`` in its order and numeric columns as floats."""
    missing = [column for column in reference.columns if column not in frame.columns]
    extra = [column for column in frame.columns if column not in reference.columns]
    if missing or extra:
        raise ValueError(
            f"{name} must have the columns of real: missing {missing}, unexpected {extra}. "
            "Rename or drop columns so that both tables share the same columns."
        )
    frame = frame[list(reference.columns)].copy()
    for column, kind in kinds.items():
        if kind == "numeric":
            try:
                frame[column] = pd.to_numeric(frame[column]).astype(float)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Column {column!r} is numeric in real but not in {name}; convert it to "
                    "numbers (or make it categorical in both tables)."
                ) from None
    return frame


def _levels(series: pd.Series) -> pd.Series:
    """Categorical values as strings, with missing values as their own level."""
    text = series.astype(object).map(str)
    return text.where(series.notna().to_numpy(), MISSING)


def _design(
    frames: list[pd.DataFrame],
    kinds: dict[str, str],
    columns: list[str],
    *,
    standardise: bool = False,
) -> list[np.ndarray]:
    """Numeric matrices for ``frames``: numeric columns, then one-hot categoricals.

    Levels come from all frames together, so every matrix has the same columns. With
    ``standardise``, numeric columns are centred and scaled by the first frame's mean and
    standard deviation and missing values become 0 (the mean); otherwise they stay as
    given, NaN included (for histogram gradient boosting).
    """
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for column in columns:
        if kinds[column] == "numeric":
            values = [frame[column].to_numpy(dtype=float) for frame in frames]
            if standardise:
                reference = values[0][~np.isnan(values[0])]
                centre = float(reference.mean()) if reference.size else 0.0
                scale = float(reference.std()) if reference.size else 1.0
                scale = scale if scale > 0 else 1.0
                values = [np.nan_to_num((value - centre) / scale, nan=0.0) for value in values]
            for block, value in zip(blocks, values, strict=True):
                block.append(value[:, None])
        else:
            codes = [_levels(frame[column]) for frame in frames]
            levels = sorted(set().union(*(set(code) for code in codes)))
            for block, code in zip(blocks, codes, strict=True):
                block.append(
                    (code.to_numpy()[:, None] == np.array(levels, dtype=object)).astype(float)
                )
    return [
        np.hstack(block) if block else np.zeros((len(frame), 0))
        for block, frame in zip(blocks, frames, strict=True)
    ]


def _fit_threads(n_rows: int) -> Any:
    """Context limiting OpenMP to one thread for small fits (see ``SMALL_FIT_ROWS``)."""
    return threadpool_limits(1 if n_rows < SMALL_FIT_ROWS else None, user_api="openmp")


def _seed(random_state: np.random.RandomState) -> int:
    return int(random_state.randint(np.iinfo(np.int32).max))


def _row(
    category: str, metric: str, column: str | None, value: float, note: str = ""
) -> dict[str, Any]:
    return {"category": category, "metric": metric, "column": column, "value": float(value),
            "note": note}  # fmt: skip


# ---------------------------------------------------------------------------
# Fidelity
# ---------------------------------------------------------------------------


def ks_statistic(real: npt.ArrayLike, synthetic: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of the non-missing values (NaN if none).

    Notes
    -----
    :math:`D = \\sup_x |F_{real}(x) - F_{syn}(x)|`, the largest gap between the empirical
    distribution functions, computed by :func:`scipy.stats.ks_2samp`; 0 for identical
    samples, 1 for samples with disjoint ranges.
    """
    a = np.asarray(real, dtype=float)
    b = np.asarray(synthetic, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    # Only the statistic is used; "asymp" skips the exact p-value, which warns on ties.
    return float(stats.ks_2samp(a, b, method="asymp").statistic)


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance between the level frequencies, missing values a level.

    Notes
    -----
    :math:`TV = \\frac12 \\sum_\\ell |p_\\ell - q_\\ell|` over the union of levels, with
    :math:`p, q` the relative frequencies in the real and synthetic columns; in
    :math:`[0, 1]`.
    """
    p = _levels(pd.Series(real)).value_counts(normalize=True)
    q = _levels(pd.Series(synthetic)).value_counts(normalize=True)
    levels = p.index.union(q.index)
    difference = p.reindex(levels, fill_value=0.0) - q.reindex(levels, fill_value=0.0)
    return float(0.5 * np.abs(difference.to_numpy()).sum())


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V between two categorical columns (missing values a level; NaN if constant)."""
    table = pd.crosstab(_levels(a), _levels(b)).to_numpy()
    if min(table.shape) < 2:
        return float("nan")
    return float(association(table, method="cramer"))


def fidelity_metrics(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str],
    random_state: np.random.RandomState,
) -> list[dict[str, Any]]:
    """Rows of the fidelity metrics: per column, per pair, and the classifier test."""
    rows = []
    for column, kind in kinds.items():
        if kind == "numeric":
            value = ks_statistic(real[column], synthetic[column])
            rows.append(_row("fidelity", "ks", column, value, "Kolmogorov-Smirnov statistic"))
        else:
            value = total_variation(real[column], synthetic[column])
            rows.append(_row("fidelity", "tv", column, value, "total variation distance"))
    numeric = [column for column, kind in kinds.items() if kind == "numeric"]
    if len(numeric) >= 2:
        # pandas uses pairwise complete rows; pairs with a constant column give NaN: skipped.
        corr_real = real[numeric].corr().to_numpy()
        corr_synthetic = synthetic[numeric].corr().to_numpy()
        for i in range(len(numeric)):
            for j in range(i + 1, len(numeric)):
                difference = abs(corr_real[i, j] - corr_synthetic[i, j])
                if np.isfinite(difference):
                    rows.append(
                        _row("fidelity", "correlation_diff", f"{numeric[i]}|{numeric[j]}",
                             difference, "absolute difference of Pearson correlations")
                    )  # fmt: skip
    categorical = [column for column, kind in kinds.items() if kind == "categorical"]
    for i in range(len(categorical)):
        for j in range(i + 1, len(categorical)):
            a, b = categorical[i], categorical[j]
            difference = abs(cramers_v(real[a], real[b]) - cramers_v(synthetic[a], synthetic[b]))
            if np.isfinite(difference):
                rows.append(
                    _row("fidelity", "cramers_v_diff", f"{a}|{b}", difference,
                         "absolute difference of Cramér's V")
                )  # fmt: skip
    auc = c2st_auc(real, synthetic, kinds, random_state=random_state)
    rows.append(
        _row("fidelity", "c2st_auc", None, auc,
             "ROC AUC of a classifier telling real from synthetic rows (0.5 = indistinguishable)")
    )  # fmt: skip
    return rows


def c2st_auc(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str],
    random_state: RandomStateLike = 0,
) -> float:
    """Classifier two-sample test: held-out ROC AUC of real (0) against synthetic (1) rows.

    The larger table is subsampled to the size of the smaller; categoricals are one-hot
    coded, numeric NaN left to :class:`~sklearn.ensemble.HistGradientBoostingClassifier`;
    30% of the rows (stratified) are held out to compute the AUC.

    Notes
    -----
    When the two tables are independent draws of one distribution, no classifier can do
    better than chance on rows it did not see: the AUC is 0.5 up to its sampling error,
    about :math:`\\sqrt{(n_0 + n_1 + 1) / (12 n_0 n_1)}` for :math:`n_0, n_1` test rows per
    class. An AUC near 1 means the synthetic rows are easy to tell apart.
    """
    rng = as_random_state(random_state)
    n = min(len(real), len(synthetic))
    if n < 10:
        return float("nan")
    real = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    synthetic = synthetic.iloc[np.sort(rng.choice(len(synthetic), n, replace=False))]
    x_real, x_synthetic = _design([real, synthetic], kinds, list(kinds))
    x = np.vstack([x_real, x_synthetic])
    y = np.r_[np.zeros(n), np.ones(n)]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=HOLDOUT_SHARE, stratify=y, random_state=_seed(rng)
    )
    classifier = HistGradientBoostingClassifier(random_state=_seed(rng))
    with _fit_threads(len(x_train)):
        classifier.fit(x_train, y_train)
        probability = classifier.predict_proba(x_test)[:, 1]
    return float(roc_auc_score(y_test, probability))


def holdout_log_likelihood(
    model: Any, holdout: pd.DataFrame, kinds: dict[str, str]
) -> tuple[float, str]:
    """Mean log-likelihood of the holdout rows under ``model``, or ``(nan, reason)``.

    Estimators with ``score_samples`` on arrays (the density estimators) get the numeric
    holdout as an array; other objects with ``score_samples`` get the DataFrame.
    """
    score_samples = getattr(model, "score_samples", None)
    if score_samples is None:
        return float("nan"), f"{type(model).__name__} has no score_samples method: skipped"
    all_numeric = all(kind == "numeric" for kind in kinds.values())
    data = holdout.to_numpy(dtype=float) if all_numeric else holdout
    if all_numeric and np.isnan(data).any():
        return float("nan"), "the holdout has missing values: skipped"
    try:
        scores = np.asarray(score_samples(data), dtype=float)
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as error:
        return float("nan"), f"score_samples failed ({error}): skipped"
    return float(np.mean(scores)), "mean log-likelihood of holdout rows under the model"


# ---------------------------------------------------------------------------
# Utility
# ---------------------------------------------------------------------------


def is_classification(target: pd.Series, kind: str) -> bool:
    """True for categorical or boolean targets and integer targets with few values."""
    if kind == "categorical":
        return True
    values = target.dropna().to_numpy(dtype=float)
    return bool(np.all(values == np.round(values)) and np.unique(values).size <= MAX_CLASSES)


def _labels(series: pd.Series, numeric: bool) -> pd.Series:
    if numeric:  # synthetic class labels of a numeric target may come out as floats
        series = series.astype(float).round().astype("Int64")
    return _levels(series)


def utility_metrics(
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    utility_model: Any,
    random_state: np.random.RandomState,
) -> list[dict[str, Any]]:
    """TSTR and TRTR scores: models trained on synthetic and on real rows, tested on real.

    Rows with a missing target are dropped. Classification reports accuracy and macro F1,
    regression :math:`R^2`.
    """
    train, test, synthetic = (frame[frame[target].notna()] for frame in (train, test, synthetic))
    classification = is_classification(train[target], kinds[target])
    features = [column for column in kinds if column != target]
    x_train, x_test, x_synthetic = _design([train, test, synthetic], kinds, features)
    numeric_target = kinds[target] == "numeric"
    if classification:
        y_train, y_test, y_synthetic = (
            _labels(frame[target], numeric_target).to_numpy() for frame in (train, test, synthetic)
        )
        default = HistGradientBoostingClassifier(random_state=_seed(random_state))
    else:
        y_train, y_test, y_synthetic = (
            frame[target].to_numpy(dtype=float) for frame in (train, test, synthetic)
        )
        default = HistGradientBoostingRegressor(random_state=_seed(random_state))
    template = default if utility_model is None else utility_model
    rows = []
    for name, x, y, label in (
        ("tstr", x_synthetic, y_synthetic, "trained on synthetic"),
        ("trtr", x_train, y_train, "trained on real"),
    ):
        if len(y) < 2 or (classification and np.unique(y).size < 2):
            note = f"{label} rows: too few rows or a single class, skipped"
            rows.append(_row("utility", name, target, float("nan"), note))
            continue
        with _fit_threads(len(x)):
            predicted = clone(template).fit(x, y).predict(x_test)
        if classification:
            accuracy = accuracy_score(y_test, predicted)
            f1 = f1_score(y_test, predicted, average="macro", zero_division=0)
            rows.append(
                _row("utility", f"{name}_accuracy", target, accuracy,
                     f"accuracy on real holdout rows, {label} rows")
            )  # fmt: skip
            rows.append(
                _row("utility", f"{name}_macro_f1", target, f1,
                     f"macro F1 on real holdout rows, {label} rows")
            )  # fmt: skip
        else:
            rows.append(
                _row("utility", f"{name}_r2", target, r2_score(y_test, predicted),
                     f"R^2 on real holdout rows, {label} rows")
            )  # fmt: skip
    return rows


# ---------------------------------------------------------------------------
# Privacy
# ---------------------------------------------------------------------------


def nearest_distances(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Euclidean distance of every query row to its nearest reference row, in row blocks."""
    neighbours = NearestNeighbors(n_neighbors=1).fit(reference)
    rows = block_rows(8 * max(reference.shape[0], 1))
    out = np.empty(queries.shape[0])
    for block in row_slices(queries.shape[0], rows):
        out[block] = neighbours.kneighbors(queries[block], return_distance=True)[0][:, 0]
    return out


def privacy_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str],
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], float, bool]:
    """Distances to the closest record, membership attack, memorisation flag.

    Returns
    -------
    rows : list of dict
        Metric rows.
    distances : dict
        ``"synthetic"`` (n_synthetic,) and ``"holdout"`` (n_holdout,): distance to the
        closest training row.
    memorised_share : float
        Share of synthetic rows closer to a training row than the 5th percentile of the
        holdout distances.
    memorised : bool
        ``memorised_share > 0.2`` or ``exact_copy_rate > 0.05`` or ``dcr_ratio < 0.5``.

    Notes
    -----
    Rows are compared in a space where numeric columns are standardised with the training
    rows' mean and standard deviation (missing values set to the mean) and categoricals are
    one-hot coded (missing values a level), so two rows that differ in one level are
    :math:`\\sqrt 2` apart. Holdout rows were not seen by the generator, so their distance
    to the closest training row (DCR) shows how close a fresh draw of the distribution
    falls; synthetic rows of a model that does not copy fall as close, so

    - ``dcr_ratio`` = median synthetic DCR / median holdout DCR is about 1 (>= 1 good);
    - ``memorised_share`` is about 5%; 20% or more means many synthetic rows sit on
      training rows;
    - ``exact_copy_rate``, the share of synthetic rows within 1e-8 of a training row, is
      near 0 for continuous data;
    - ``membership_auc``: an attacker who calls a row a training row when a synthetic row
      is close to it; the ROC AUC of the score -(distance to the closest synthetic row)
      between training (1) and holdout (0) rows is 0.5 when nothing leaks.

    The thresholds (0.2, 0.05, 0.5) are rules of thumb, not a privacy guarantee.
    """
    x_train, x_holdout, x_synthetic = _design(
        [train, holdout, synthetic], kinds, list(kinds), standardise=True
    )
    dcr_synthetic = nearest_distances(x_train, x_synthetic)
    dcr_holdout = nearest_distances(x_train, x_holdout)
    median_synthetic = float(np.median(dcr_synthetic))
    median_holdout = float(np.median(dcr_holdout))
    if median_holdout > 0:
        ratio = median_synthetic / median_holdout
    else:
        ratio = 1.0 if median_synthetic == 0 else float("inf")
    exact = float(np.mean(dcr_synthetic <= EXACT_COPY_TOLERANCE))
    near = float(np.quantile(dcr_holdout, NEAR_QUANTILE))
    share = float(np.mean(dcr_synthetic < near))
    to_synthetic = nearest_distances(x_synthetic, np.vstack([x_train, x_holdout]))
    members = np.r_[np.ones(len(x_train)), np.zeros(len(x_holdout))]
    membership = float(roc_auc_score(members, -to_synthetic))
    memorised = (
        share > MEMORISED_SHARE_LIMIT or exact > EXACT_COPY_LIMIT or ratio < DCR_RATIO_LIMIT
    )
    rows = [
        _row("privacy", "dcr_synthetic", None, median_synthetic,
             "median distance of synthetic rows to the closest training row"),
        _row("privacy", "dcr_holdout", None, median_holdout,
             "median distance of holdout rows to the closest training row"),
        _row("privacy", "dcr_ratio", None, ratio,
             f"dcr_synthetic / dcr_holdout (>= 1 good, < {DCR_RATIO_LIMIT} flags memorisation)"),
        _row("privacy", "exact_copy_rate", None, exact,
             f"share of synthetic rows equal to a training row (> {EXACT_COPY_LIMIT} flags)"),
        _row("privacy", "memorised_share", None, share,
             "share of synthetic rows closer to a training row than 95% of holdout rows "
             f"(about 0.05 expected, > {MEMORISED_SHARE_LIMIT} flags)"),
        _row("privacy", "membership_auc", None, membership,
             "ROC AUC of a distance attack telling training from holdout rows (0.5 = no leak)"),
    ]  # fmt: skip
    distances = {"synthetic": dcr_synthetic, "holdout": dcr_holdout}
    return rows, distances, share, bool(memorised)


# ---------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------


def _values(metrics: pd.DataFrame, metric: str) -> pd.Series:
    return metrics.loc[metrics["metric"] == metric].set_index("column")["value"].dropna()


def _summary(metrics: pd.DataFrame, target: str | None, memorised: bool, split: bool) -> list[str]:
    sentences = []
    parts = []
    ks, tv = _values(metrics, "ks"), _values(metrics, "tv")
    if len(ks):
        parts.append(
            f"mean KS statistic {ks.mean():.3f} over {len(ks)} numeric column(s) "
            f"(worst {ks.idxmax()}: {ks.max():.3f})"
        )
    if len(tv):
        parts.append(
            f"mean total variation {tv.mean():.3f} over {len(tv)} categorical column(s) "
            f"(worst {tv.idxmax()}: {tv.max():.3f})"
        )
    corr = _values(metrics, "correlation_diff")
    if len(corr):
        parts.append(f"mean correlation difference {corr.mean():.3f}")
    auc = _values(metrics, "c2st_auc")
    if len(auc):
        parts.append(
            f"a classifier tells real from synthetic rows with ROC AUC {auc.iloc[0]:.3f} "
            "(0.5 = indistinguishable)"
        )
    loglik = _values(metrics, "holdout_log_likelihood")
    if len(loglik):
        parts.append(f"mean holdout log-likelihood {loglik.iloc[0]:.3f}")
    sentences.append("Fidelity: " + "; ".join(parts) + ".")

    if target is None:
        sentences.append("Utility: not assessed (no target column given).")
    else:
        for score, label in (("accuracy", "accuracy"), ("r2", "R^2")):
            tstr, trtr = _values(metrics, f"tstr_{score}"), _values(metrics, f"trtr_{score}")
            if len(tstr) and len(trtr):
                sentences.append(
                    f"Utility: a model trained on synthetic rows predicts {target!r} on real "
                    f"holdout rows with {label} {tstr.iloc[0]:.3f}, against "
                    f"{trtr.iloc[0]:.3f} when trained on real rows."
                )
                break
        else:
            sentences.append(f"Utility: could not be assessed for target {target!r}.")

    share = float(_values(metrics, "memorised_share").iloc[0])
    ratio = float(_values(metrics, "dcr_ratio").iloc[0])
    exact = float(_values(metrics, "exact_copy_rate").iloc[0])
    membership = float(_values(metrics, "membership_auc").iloc[0])
    if memorised:
        sentences.append(
            f"Privacy: the synthetic data look memorised: {share:.0%} of synthetic rows are "
            "closer to a training row than 95% of holdout rows are (about 5% expected); "
            f"{exact:.0%} are exact copies; DCR ratio {ratio:.2f}; membership attack AUC "
            f"{membership:.2f}."
        )
    else:
        sentences.append(
            f"Privacy: no sign of copying: synthetic rows are {ratio:.2f} times as far from "
            f"the closest training row as holdout rows (median), {share:.0%} fall closer "
            f"than 95% of holdout rows (about 5% expected), {exact:.0%} are exact copies, "
            f"membership attack AUC {membership:.2f}."
        )
    if split:
        sentences.append(
            f"Note: no holdout was given, so {HOLDOUT_SHARE:.0%} of the real rows were held "
            "out for the utility and privacy metrics; these are only meaningful if the "
            f"synthetic data came from a model fitted on the other {1 - HOLDOUT_SHARE:.0%}."
        )
    fidelity_good = not len(auc) or auc.iloc[0] < 0.75
    if memorised:
        verdict = "Overall: the synthetic data copy training rows; do not share them as private."
    elif fidelity_good:
        verdict = "Overall: the synthetic data resemble the real data without copying them."
    else:
        verdict = (
            "Overall: the synthetic data do not copy training rows, but a classifier tells "
            "them from the real data easily; the model misses part of the distribution."
        )
    sentences.append(verdict)
    return sentences


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def evaluate(
    real: pd.DataFrame | npt.ArrayLike,
    synthetic: pd.DataFrame | npt.ArrayLike,
    holdout: pd.DataFrame | npt.ArrayLike | None = None,
    target: str | None = None,
    model: Any = None,
    *,
    random_state: RandomStateLike = 0,
    utility_model: Any = None,
) -> EvaluationReport:
    """Fidelity, utility and privacy of synthetic data compared with the real data.

    Parameters
    ----------
    real : DataFrame or array-like of shape (n_real, n_features)
        The training rows the generator was fitted on. Mixed types and missing values are
        allowed; arrays become DataFrames with columns ``"x0" .. "x{d-1}"``.
    synthetic : DataFrame or array-like of shape (n_synthetic, n_features)
        The generated rows, with the columns of ``real`` (an array of the same width takes
        the column names of ``real``).
    holdout : DataFrame or array-like of shape (n_holdout, n_features), default=None
        Real rows the generator never saw. None splits 30% of ``real`` off at random (the
        synthetic data should then come from a model fitted on the other 70% only; the
        summary says so).
    target : str, default=None
        Column to predict for the utility metrics; None skips them.
    model : object, default=None
        The fitted generator; when it has ``score_samples``, the mean holdout
        log-likelihood is reported (arrays for all-numeric data, the DataFrame otherwise;
        skipped with a note when that fails).
    random_state : None, int, RandomState or Generator, default=0
        Seeds subsampling, splits and classifiers; the same seed gives the same numbers.
    utility_model : scikit-learn estimator, default=None
        Model of the utility metrics (cloned); None uses histogram gradient boosting,
        a classifier or a regressor depending on the target. It receives numeric columns
        with NaN and one-hot categoricals.

    Returns
    -------
    EvaluationReport
        Metrics table, sentences, memorisation flag and the data compared.

    Notes
    -----
    Column kinds come from ``real``: numeric dtypes (not booleans) are numeric, the rest
    categorical. Per column: the KS statistic (numeric) or the total variation distance
    (categorical, missing values a level); per pair: absolute differences of Pearson
    correlations (numeric pairs, pairwise complete rows; pairs with a constant column are
    skipped) and of Cramér's V (categorical pairs; mixed pairs are not compared). The
    classifier test, the utility and the privacy metrics are described in
    :func:`c2st_auc`, :func:`utility_metrics` and :func:`privacy_metrics`. A target is
    treated as a class label when it is categorical, boolean, or integer with at most 20
    values.

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.evaluation import evaluate
    >>> rng = np.random.default_rng(0)
    >>> real, fresh, holdout = (rng.normal(size=(300, 2)) for _ in range(3))
    >>> report = evaluate(real, fresh, holdout)
    >>> report.memorised
    False
    >>> evaluate(real, real.copy(), holdout).memorised
    True
    """
    check_none_complex(real=real, synthetic=synthetic, holdout=holdout)
    real = as_frame(real, "real")
    kinds = column_kinds(real)
    synthetic = _conform(as_frame(synthetic, "synthetic", real.columns), real, kinds, "synthetic")
    given_holdout = None
    if holdout is not None:
        given_holdout = _conform(as_frame(holdout, "holdout", real.columns), real, kinds,
                                 "holdout")  # fmt: skip
    if target is not None and target not in kinds:
        raise ValueError(
            f"target {target!r} is not a column of real; the columns are {list(kinds)}."
        )
    rng = as_random_state(random_state)

    if given_holdout is None:
        if len(real) < 4:
            raise ValueError(
                f"real has {len(real)} rows; at least 4 are needed to split off a holdout "
                "(or pass holdout=...)."
            )
        train, test = train_test_split(real, test_size=HOLDOUT_SHARE, random_state=_seed(rng))
        train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    else:
        train, test = real, given_holdout

    rows = fidelity_metrics(real, synthetic, kinds, rng)
    if model is not None:
        value, note = holdout_log_likelihood(model, test, kinds)
        rows.append(_row("fidelity", "holdout_log_likelihood", None, value, note))
    if target is not None:
        rows += utility_metrics(train, test, synthetic, target, kinds, utility_model, rng)
    privacy_rows, distances, share, memorised = privacy_metrics(train, test, synthetic, kinds)
    rows += privacy_rows
    metrics = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    metrics["column"] = metrics["column"].astype(object).where(metrics["column"].notna(), None)
    summary = _summary(metrics, target, memorised, split=given_holdout is None)
    return EvaluationReport(
        metrics=metrics,
        summary=summary,
        memorised=memorised,
        memorised_share=share,
        real=real,
        synthetic=synthetic,
        holdout=given_holdout,
        target=target,
        kinds=kinds,
        distances=distances,
    )
