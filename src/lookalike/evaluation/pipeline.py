""":func:`evaluate`: every metric of synthetic data against real data, on bounded samples.

The steps, each on a stated, seeded sample of rows (the report's ``sampling`` table):

1. the classifier two-sample test (:mod:`~lookalike.evaluation.detector`) and what gives the
   synthetic rows away (:mod:`~lookalike.evaluation.tells`,
   :mod:`~lookalike.evaluation.describe`);
2. per-column and per-pair statistics (:mod:`~lookalike.evaluation.fidelity`);
3. precision, recall and authenticity (:mod:`~lookalike.evaluation.coverage`);
4. distances to the closest record, copies, membership and attribute-inference attacks
   (:mod:`~lookalike.evaluation.privacy`);
5. train-synthetic-test-real utility (:mod:`~lookalike.evaluation.utility`).

Each metric is computed twice where it applies: for the synthetic rows against the real rows,
and for the real holdout rows against the training rows, the reference a perfect generator
would reach on this table. Progress goes to the ``logging`` logger ``"lookalike.evaluation"``
at INFO level (silent unless the application configures logging).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from lookalike._validation import RandomStateLike, as_random_state
from lookalike.evaluation import coverage, fidelity, privacy
from lookalike.evaluation.columns import (
    ColumnPlan,
    conform,
    encode_rows,
    plan_columns,
    sample_rows,
    seed_from,
)
from lookalike.evaluation.describe import describe_tells
from lookalike.evaluation.detector import DetectorResult, detector_auc
from lookalike.evaluation.report import METRIC_COLUMNS, SAMPLING_COLUMNS, EvaluationReport
from lookalike.evaluation.sources import Table, load_table
from lookalike.evaluation.summary import (
    coverage_sentence,
    detector_sentences,
    fidelity_sentence,
    privacy_sentence,
    utility_sentence,
    verdict,
)
from lookalike.evaluation.tells import METHOD, TellsResult, find_tells
from lookalike.evaluation.utility import utility_metrics

logger = logging.getLogger("lookalike.evaluation")

DEFAULT_MAX_ROWS = 100_000
"""Rows of each table ``evaluate`` reads at most (a seeded sample beyond)."""

HOLDOUT_SHARE = 0.3
"""Share of the real rows held out when no holdout is given."""

DETECTOR_ROWS = 10_000
"""Rows of each table in the classifier two-sample test."""

TELL_ROWS = 20_000
"""Rows of each table in the per-column and per-pair detectors."""

DISTANCE_REFERENCE_ROWS = 10_000
"""Training (and synthetic) rows searched by the nearest-neighbour metrics."""

DISTANCE_QUERY_ROWS = 5_000
"""Synthetic and holdout rows whose nearest training rows are searched."""

COVERAGE_ROWS = 3_000
"""Rows of each set in precision, recall and authenticity."""

ATTACK_ROWS = 500
"""Training rows attacked (and holdout rows as the control) by the attribute inference."""

MAX_SECRETS = 30
"""Secret columns of the attribute inference at most (a seeded choice beyond)."""

UTILITY_ROWS = 10_000
"""Training rows of each utility model, and real test rows, at most."""

FIDELITY_ROWS = 50_000
"""Rows of each table in the per-column and per-pair statistics."""

MAX_PAIR_ROWS = 200
"""Pair rows of each pair metric kept in the metrics table (largest first)."""


@contextmanager
def _step(name: str) -> Iterator[None]:
    start = time.perf_counter()
    logger.info("%s ...", name)
    yield
    logger.info("%s done in %.1f s", name, time.perf_counter() - start)


def _row(
    category: str,
    metric: str,
    column: str | None,
    value: float,
    reference: float = float("nan"),
    note: str = "",
) -> dict[str, Any]:
    return {"category": category, "metric": metric, "column": column, "value": float(value),
            "reference": float(reference), "note": note}  # fmt: skip


def _pick(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows in random order (so that any prefix is a random sample too)."""
    order = rng.permutation(len(frame))[:n]
    return frame.iloc[order].reset_index(drop=True)


def _check_int(value: Any, name: str, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        allowed = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= {low}{allowed}, got {value!r}.")


def _holdout_log_likelihood(
    model: Any, rows: pd.DataFrame, reference_rows: pd.DataFrame
) -> tuple[float, float, str]:
    """Mean log-likelihood of holdout rows (and of training rows) under ``model``."""
    score_samples = getattr(model, "score_samples", None)
    if score_samples is None:
        return np.nan, np.nan, f"{type(model).__name__} has no score_samples method: skipped"
    numeric = all(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in rows.dtypes
    )
    results = []
    for frame in (rows, reference_rows):
        data = frame.to_numpy(dtype=float) if numeric else frame
        if numeric and np.isnan(data).any():
            return np.nan, np.nan, "the rows have missing values: skipped"
        try:
            results.append(float(np.mean(np.asarray(score_samples(data), dtype=float))))
        except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as error:
            return np.nan, np.nan, f"score_samples failed ({error}): skipped"
    return (
        results[0],
        results[1],
        "mean log-likelihood of holdout rows under the model (reference: training rows)",
    )


class _Evaluation:
    """The state of one evaluation while its steps run."""

    def __init__(self, streams: dict[str, np.random.Generator]) -> None:
        self.streams = streams
        self.rows: list[dict[str, Any]] = []
        self.sampling: list[dict[str, Any]] = []
        self.risk_error = float("nan")

    def used(self, step: str, real: int | None, synthetic: int | None, holdout: int | None,
             note: str = "") -> None:  # fmt: skip
        self.sampling.append({"step": step, "real_rows": real, "synthetic_rows": synthetic,
                              "holdout_rows": holdout, "note": note})  # fmt: skip


def _detector_step(
    state: _Evaluation,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    n_folds: int,
) -> tuple[DetectorResult | None, DetectorResult | None, str]:
    results: list[DetectorResult | None] = []
    note = ""
    for a, b, stream in ((real, synthetic, "detector"), (train, test, "detector_reference")):
        try:
            results.append(
                detector_auc(
                    a,
                    b,
                    n_folds=n_folds,
                    max_rows=DETECTOR_ROWS,
                    random_state=seed_from(state.streams[stream]),
                )
            )
        except ValueError as error:
            results.append(None)
            note = note or str(error)
    detector, reference = results
    value = np.nan if detector is None else detector.auc
    spread = np.nan if detector is None else detector.auc_std
    ref_value = np.nan if reference is None else reference.auc
    ref_spread = np.nan if reference is None else reference.auc_std
    used = 0 if detector is None else detector.n_rows_used // 2
    state.rows.append(
        _row("fidelity", "c2st_auc", None, value, ref_value,
             f"ROC AUC of gradient-boosted trees telling real from synthetic rows, "
             f"{n_folds}-fold (0.5 = indistinguishable)" + (f"; not run: {note}" if note else ""))
    )  # fmt: skip
    state.rows.append(
        _row("fidelity", "c2st_auc_std", None, spread, ref_spread,
             "standard deviation of the detector's AUC over folds")
    )  # fmt: skip
    ref_used = None if reference is None else reference.n_rows_used // 2
    state.used("detector", used, used, None, f"{n_folds}-fold cross-validation")
    state.used("detector reference", ref_used, None, ref_used, "training against holdout rows")
    return detector, reference, note


def _tells_step(
    state: _Evaluation,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    plan: ColumnPlan,
) -> TellsResult:
    stream = state.streams["tells"]
    real_part, synthetic_part = _pick(real, TELL_ROWS, stream), _pick(synthetic, TELL_ROWS, stream)
    result = find_tells(real_part, synthetic_part, plan.kinds, random_state=stream)
    train_part, test_part = _pick(train, TELL_ROWS, stream), _pick(test, TELL_ROWS, stream)
    reference = find_tells(
        train_part, test_part, plan.kinds, random_state=stream, max_pair_columns=0
    )
    described = describe_tells(result.tells, real_part, synthetic_part, plan.kinds, plan.registry)
    result = TellsResult(
        result.column_auc, result.pair_auc, result.pair_excess, described,
        result.standard_error, result.n_real, result.n_synthetic, result.pair_columns,
    )  # fmt: skip
    for column, auc in result.column_auc.items():
        state.rows.append(
            _row("fidelity", "column_auc", column, auc, reference.column_auc.get(column, np.nan),
                 "ROC AUC of a detector on this column alone (binned, cross-fitted)")
        )  # fmt: skip
    pairs = sorted(result.pair_excess.items(), key=lambda item: -item[1])[:MAX_PAIR_ROWS]
    for (first, second), excess in pairs:
        state.rows.append(
            _row("fidelity", "pair_excess_auc", f"{first}|{second}", excess, np.nan,
                 f"AUC of the pair's joint detector ({result.pair_auc[(first, second)]:.3f}) "
                 "minus that of its columns' own detectors combined")
        )  # fmt: skip
    state.used("tells", len(real_part), len(synthetic_part), None,
               f"binned detectors, {len(result.pair_columns)} columns in pairs")  # fmt: skip
    return result


def _fidelity_step(
    state: _Evaluation,
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    plan: ColumnPlan,
) -> None:
    stream = state.streams["fidelity"]  # samples in row order: all rows when under the cap
    real, synthetic, train, test = (
        sample_rows(frame, FIDELITY_ROWS, stream) for frame in (real, synthetic, train, test)
    )
    values = fidelity.column_statistics(real, synthetic, plan.kinds)
    references = fidelity.column_statistics(train, test, plan.kinds)
    notes = {"ks": "Kolmogorov-Smirnov statistic", "tv": "total variation distance"}
    for column, (metric, value) in values.items():
        state.rows.append(
            _row("fidelity", metric, column, value, references[column][1], notes[metric])
        )
    pairs = fidelity.pair_statistics(real, synthetic, plan.kinds)
    pair_references = fidelity.pair_statistics(train, test, plan.kinds)
    notes = {
        "correlation_diff": "absolute difference of Pearson correlations",
        "cramers_v_diff": "absolute difference of Cramér's V",
    }
    for metric, found in pairs.items():
        kept = sorted(found.items(), key=lambda item: -item[1])
        note = notes[metric]
        if len(kept) > MAX_PAIR_ROWS:
            note += f" (the largest {MAX_PAIR_ROWS} of {len(kept)} pairs)"
            kept = kept[:MAX_PAIR_ROWS]
        order = {pair: i for i, pair in enumerate(found)}
        for pair, value in sorted(kept, key=lambda item: order[item[0]]):
            reference = pair_references[metric].get(pair, np.nan)
            state.rows.append(_row("fidelity", metric, pair, value, reference, note))
    state.used("fidelity", len(real), len(synthetic), len(test),
               "per-column and per-pair statistics")  # fmt: skip


def _distance_steps(
    state: _Evaluation,
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    plan: ColumnPlan,
) -> tuple[bool, list[str], float, dict[str, np.ndarray]]:
    stream = state.streams["distances"]
    reference = _pick(train, DISTANCE_REFERENCE_ROWS, stream)
    synthetic_queries = _pick(synthetic, DISTANCE_QUERY_ROWS, stream)
    holdout_queries = _pick(test, DISTANCE_QUERY_ROWS, stream)
    synthetic_reference = _pick(synthetic, DISTANCE_REFERENCE_ROWS, stream)
    m = min(DISTANCE_QUERY_ROWS, len(train), len(test))
    members, non_members = _pick(train, m, stream), _pick(test, m, stream)
    encoded = encode_rows(
        reference,
        [reference, synthetic_queries, holdout_queries, synthetic_reference, members, non_members],
        plan.kinds,
    )
    x_train, x_synthetic, x_holdout, x_synthetic_ref, x_members, x_non = encoded.arrays

    with _step("coverage: precision, recall, authenticity"):
        n_cov = min(COVERAGE_ROWS, len(synthetic_reference), len(holdout_queries))
        x_train_cov = x_train[:COVERAGE_ROWS]
        balls = coverage.Coverage(x_train_cov)
        scores = balls.score(x_synthetic_ref[:n_cov])
        references = balls.score(x_holdout[:n_cov])
    precision, recall, authentic = (scores[m] for m in ("precision", "recall", "authenticity"))
    ref_precision, ref_recall, ref_authentic = (
        references[m] for m in ("precision", "recall", "authenticity")
    )
    k = coverage.K_NEIGHBOURS
    state.rows += [
        _row("fidelity", "precision", None, precision, ref_precision,
             f"{coverage.MEANINGS['precision']} (k = {k})"),
        _row("fidelity", "recall", None, recall, ref_recall,
             f"{coverage.MEANINGS['recall']} (k = {k})"),
    ]  # fmt: skip
    state.used("coverage", len(x_train_cov), n_cov, n_cov,
               "k-NN precision and recall, authenticity; holdout rows as reference")  # fmt: skip

    with _step("privacy: distances to the closest record, membership attack"):
        distances = privacy.distance_metrics(
            x_train, x_holdout, x_synthetic, x_members, x_non, x_synthetic_ref
        )
        copies = privacy.copy_rate(train, synthetic)
        holdout_copies = privacy.copy_rate(train, test)
    memorised, reasons = privacy.memorisation_verdict(copies, holdout_copies, distances)
    median_s = float(np.median(distances.synthetic))
    median_h = float(np.median(distances.holdout))
    state.rows += [
        _row("privacy", "dcr_synthetic", None, median_s, median_h,
             "median distance of synthetic rows to the closest training row "
             "(reference: holdout rows)"),
        _row("privacy", "dcr_holdout", None, median_h, np.nan,
             "median distance of holdout rows to the closest training row"),
        _row("privacy", "dcr_ratio", None, distances.dcr_ratio, 1.0,
             f"dcr_synthetic / dcr_holdout (>= 1 good, < {privacy.DCR_RATIO_LIMIT} flags "
             "memorisation)"),
        _row("privacy", "exact_copy_rate", None, copies, holdout_copies,
             "share of synthetic rows equal to a training row (reference: holdout rows); more "
             f"than {privacy.EXACT_COPY_EXCESS_LIMIT:.0%} above the holdout's rate flags"),
        _row("privacy", "memorised_share", None, distances.memorised_share,
             privacy.NEAR_QUANTILE,
             "share of synthetic rows closer to a training row than 95% of holdout rows "
             f"(> {privacy.MEMORISED_SHARE_LIMIT} flags)"),
        _row("privacy", "membership_auc", None, distances.membership_auc, 0.5,
             "ROC AUC of a distance attack telling training from holdout rows (0.5 = no leak)"),
        _row("privacy", "authenticity", None, authentic, ref_authentic,
             coverage.MEANINGS["authenticity"]),
    ]  # fmt: skip
    state.used("privacy distances", len(reference), len(synthetic_queries), len(holdout_queries),
               "distances to the closest of the training rows used")  # fmt: skip
    state.used("exact copies", len(train), len(synthetic), len(test), "all rows read, by hash")
    state.used("membership attack", len(members), len(synthetic_reference), len(non_members),
               "training rows as members, holdout rows as non-members")  # fmt: skip

    with _step("privacy: attribute inference"):
        secrets = list(plan.kinds)
        if len(secrets) > MAX_SECRETS:
            chosen = np.sort(stream.choice(len(secrets), MAX_SECRETS, replace=False))
            secrets = [secrets[i] for i in chosen]
        a = min(ATTACK_ROWS, m)
        slices = {column: encoded.slices[column] for column in secrets}
        scales = {
            column: float(np.nanstd(train[column].to_numpy(dtype=float)))
            for column in secrets
            if plan.registry[column] == "datetime"
        }
        results = {}
        if len(plan.kinds) > 1 and a > 0:
            results = privacy.attribute_inference(
                x_members[:a], x_non[:a], x_synthetic_ref, slices,
                members.iloc[:a], non_members.iloc[:a], synthetic_reference, plan.kinds,
                scales,
            )  # fmt: skip
    for column, result in results.items():
        state.rows.append(
            _row("privacy", "attribute_inference_success", column, result.success,
                 result.control,
                 "share of training rows whose value here an attacker guesses from the nearest "
                 "synthetic row on the other columns (reference: the same attack on holdout "
                 "rows)")
        )  # fmt: skip
    for column, result in results.items():
        note = (
            "(success - holdout success) / (1 - holdout success); standard error "
            f"{result.risk_error:.2f}"
            if np.isfinite(result.risk)
            else "not measurable: the attack on holdout rows misses fewer than "
            f"{privacy.MIN_CONTROL_MISSES} rows (the other columns determine this column, or "
            "it is nearly constant)"
        )
        state.rows.append(
            _row("privacy", "attribute_inference_risk", column, result.risk, 0.0, note)
        )
    risks = {c: r.risk for c, r in results.items() if np.isfinite(r.risk)}
    if risks:
        worst = max(risks, key=risks.__getitem__)
        state.rows.append(
            _row("privacy", "attribute_inference_risk", None, risks[worst], 0.0,
                 f"largest over {len(results)} secret columns (column {worst!r}, standard "
                 f"error {results[worst].risk_error:.2f})")
        )  # fmt: skip
        state.risk_error = results[worst].risk_error
    state.used("attribute inference", a, len(synthetic_reference), a,
               f"{len(results)} secret columns")  # fmt: skip
    distance_arrays = {"synthetic": distances.synthetic, "holdout": distances.holdout}
    return memorised, reasons, distances.memorised_share, distance_arrays


def _utility_step(
    state: _Evaluation,
    train: pd.DataFrame,
    test: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    plan: ColumnPlan,
    utility_model: Any,
) -> None:
    stream = state.streams["utility"]
    train_part, test_part = _pick(train, UTILITY_ROWS, stream), _pick(test, UTILITY_ROWS, stream)
    synthetic_part = _pick(synthetic, UTILITY_ROWS, stream)
    state.rows += utility_metrics(
        train_part, test_part, synthetic_part, target, plan.kinds, utility_model,
        seed_from(stream),
    )  # fmt: skip
    state.used("utility", len(train_part), len(synthetic_part), len(test_part),
               f"models predicting {target!r}")  # fmt: skip


STREAMS = (
    "real", "synthetic", "holdout", "split", "detector", "detector_reference", "tells",
    "distances", "utility", "fidelity",
)  # fmt: skip


def evaluate(
    real: Any,
    synthetic: Any,
    holdout: Any = None,
    target: str | None = None,
    model: Any = None,
    *,
    random_state: RandomStateLike = 0,
    utility_model: Any = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    n_folds: int = 5,
) -> EvaluationReport:
    """Fidelity, coverage, utility and privacy of synthetic data compared with real data.

    Parameters
    ----------
    real : DataFrame, array-like of shape (n_real, n_features), Parquet path or dask DataFrame
        The training rows the generator was fitted on. Mixed types and missing values are
        allowed; arrays become DataFrames with columns ``"x0" .. "x{d-1}"``; a path names
        a Parquet file, a directory of Parquet files or a glob.
    synthetic : DataFrame, array-like, Parquet path or dask DataFrame
        The generated rows (an array of the same width takes the column names of
        ``real``). Only the columns both tables share are compared; the report names the
        others.
    holdout : DataFrame, array-like, Parquet path or dask DataFrame, default=None
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
        Seeds every sample, split, fold and model; the same seed gives the same numbers.
    utility_model : scikit-learn estimator, default=None
        Model of the utility metrics (cloned); None uses histogram gradient boosting,
        a classifier or a regressor depending on the target. It receives numeric columns
        with NaN and one-hot categoricals.
    max_rows : int or None, default=100000
        Rows of each table read at most: larger tables (and Parquet files or dask
        DataFrames of any size) are reduced to a seeded uniform sample, read partition by
        partition so that memory stays bounded. None reads every row (in-memory only).
        Each step then uses its own stated sample (the report's ``sampling`` table).
    n_folds : int, default=5
        Folds of the classifier two-sample test.

    Returns
    -------
    EvaluationReport
        Metrics with their holdout references, tells, sentences, memorisation flag and
        the rows compared.

    Raises
    ------
    ValueError
        For complex data, tables sharing no column, an unknown target, a column numeric
        in ``real`` but not in ``synthetic``, or too few rows to hold out.

    Notes
    -----
    Column kinds come from the tabular column registry
    (:func:`lookalike.tabular.schema.infer_kind`) applied to ``real``: continuous,
    integer and datetime columns are numeric (dates as nanoseconds), categorical and
    boolean columns categorical; id columns are left out. The metrics are described in
    :mod:`lookalike.evaluation.detector`, :mod:`~lookalike.evaluation.tells`,
    :mod:`~lookalike.evaluation.fidelity`, :mod:`~lookalike.evaluation.coverage`,
    :mod:`~lookalike.evaluation.privacy` and :mod:`~lookalike.evaluation.utility`. A
    target is a class label when it is categorical, boolean, or integer with at most 20
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
    _check_int(max_rows, "max_rows", 10, allow_none=True)
    _check_int(n_folds, "n_folds", 2)
    seed = int(as_random_state(random_state).randint(np.iinfo(np.int32).max))
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    state = _Evaluation(
        {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}
    )

    with _step("reading the tables"):
        t_real = load_table(real, "real", max_rows, state.streams["real"])
        t_synthetic = load_table(synthetic, "synthetic", max_rows, state.streams["synthetic"],
                                 list(t_real.frame.columns))  # fmt: skip
        t_holdout: Table | None = None
        if holdout is not None:
            t_holdout = load_table(holdout, "holdout", max_rows, state.streams["holdout"],
                                   list(t_real.frame.columns))  # fmt: skip
    others = {"synthetic": t_synthetic.frame}
    if t_holdout is not None:
        others["holdout"] = t_holdout.frame
    plan = plan_columns(t_real.frame, others)
    if target is not None and target not in plan.kinds:
        reason = plan.left_out.get(str(target))
        raise ValueError(
            f"target {target!r} is not a column of real; the columns are {list(plan.kinds)}."
            if reason is None
            else f"target {target!r} cannot be used: it is {reason}."
        )
    if plan.left_out:
        logger.info("columns left out: %s", plan.left_out)
    real_c = conform(t_real.frame, plan.kinds, "real", plan.registry)
    synthetic_c = conform(t_synthetic.frame, plan.kinds, "synthetic", plan.registry)
    original_real = t_real.frame
    if t_holdout is None:
        if len(real_c) < 4:
            raise ValueError(
                f"real has {len(real_c)} rows; at least 4 are needed to split off a holdout "
                "(or pass holdout=...)."
            )
        order = state.streams["split"].permutation(len(real_c))
        n_test = max(1, round(HOLDOUT_SHARE * len(real_c)))
        test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
        train, test = real_c.iloc[train_rows].reset_index(drop=True), real_c.iloc[test_rows]
        test = test.reset_index(drop=True)
        original_train = original_real.iloc[train_rows]
        original_test = original_real.iloc[test_rows]
        holdout_c = None
    else:
        holdout_c = conform(t_holdout.frame, plan.kinds, "holdout", plan.registry)
        train, test = real_c, holdout_c
        original_train, original_test = original_real, t_holdout.frame
    state.used("input", len(real_c), len(synthetic_c), len(test),
               f"read from {t_real.n_rows:,} real, {t_synthetic.n_rows:,} synthetic"
               + ("" if t_holdout is None else f", {t_holdout.n_rows:,} holdout")
               + " rows (seeded sample beyond max_rows)")  # fmt: skip

    with _step(f"detector: {n_folds}-fold gradient-boosted trees"):
        detector, detector_reference, detector_note = _detector_step(
            state, real_c, synthetic_c, train, test, n_folds
        )
    with _step("tells: per-column and per-pair detectors"):
        tells = _tells_step(state, real_c, synthetic_c, train, test, plan)
    with _step("fidelity: per-column and per-pair statistics"):
        _fidelity_step(state, real_c, synthetic_c, train, test, plan)
    if model is not None:
        value, reference, note = _holdout_log_likelihood(model, original_test, original_train)
        state.rows.append(_row("fidelity", "holdout_log_likelihood", None, value, reference, note))
    memorised, reasons, share, distances = _distance_steps(state, train, test, synthetic_c, plan)
    if target is not None:
        with _step(f"utility: models predicting {target!r}"):
            _utility_step(state, train, test, synthetic_c, target, plan, utility_model)

    metrics = pd.DataFrame(state.rows, columns=list(METRIC_COLUMNS))
    metrics["column"] = metrics["column"].astype(object).where(metrics["column"].notna(), None)
    summary = detector_sentences(detector, detector_reference, tells.tells, detector_note)
    summary += [
        s for s in (coverage_sentence(metrics), fidelity_sentence(metrics)) if s is not None
    ]
    summary.append(utility_sentence(metrics, target))
    summary.append(privacy_sentence(metrics, memorised, reasons, state.risk_error))
    if plan.left_out:
        described = ", ".join(f"{c!r} ({why})" for c, why in plan.left_out.items())
        summary.append(f"Columns left out: {described}.")
    if t_holdout is None:
        summary.append(
            f"Note: no holdout was given, so {HOLDOUT_SHARE:.0%} of the real rows were held "
            "out for the references, utility and privacy metrics; these are only meaningful "
            f"if the synthetic data came from a model fitted on the other "
            f"{1 - HOLDOUT_SHARE:.0%}."
        )
    summary.append(verdict(memorised, detector))
    return EvaluationReport(
        metrics=metrics,
        summary=summary,
        memorised=memorised,
        memorised_share=share,
        real=real_c,
        synthetic=synthetic_c,
        holdout=holdout_c,
        target=target,
        kinds=dict(plan.kinds),
        column_kinds=dict(plan.registry),
        left_out=dict(plan.left_out),
        distances=distances,
        detector=detector,
        detector_reference=detector_reference,
        tells=tells.tells,
        tells_method=METHOD,
        sampling=pd.DataFrame(state.sampling, columns=list(SAMPLING_COLUMNS)),
        n_rows={
            "real": t_real.n_rows,
            "synthetic": t_synthetic.n_rows,
            "holdout": None if t_holdout is None else t_holdout.n_rows,
        },
    )
