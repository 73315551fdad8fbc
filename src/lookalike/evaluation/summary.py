"""The report's sentences: the detector and its tells first, then coverage, fidelity, utility,
privacy and a verdict. A number that could not be computed is left out of its sentence or
named as such; no sentence ever shows NaN."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lookalike.evaluation.detector import DetectorResult
from lookalike.evaluation.tells import Tell

MAX_SUMMARY_TELLS = 3
"""Tells named in the summary (all of them are in the report)."""

EASY_AUC = 0.75
"""A detector AUC above this means the synthetic rows are easy to tell apart."""


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _values(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = metrics.loc[metrics["metric"] == metric]
    return rows.loc[np.array([_ok(v) for v in rows["value"]], dtype=bool)]


def _first(metrics: pd.DataFrame, metric: str) -> tuple[float, float]:
    rows = _values(metrics, metric)
    if rows.empty:
        return float("nan"), float("nan")
    return float(rows["value"].iloc[0]), float(rows["reference"].iloc[0])


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def detector_sentences(
    detector: DetectorResult | None,
    reference: DetectorResult | None,
    tells: Sequence[Tell],
    note: str = "",
) -> list[str]:
    """The detector's AUC with its spread and reference, then the worst tells."""
    if detector is None or not _ok(detector.auc):
        return [f"Detector: not run ({note or 'too few rows'})."]
    low, high = min(detector.fold_aucs), max(detector.fold_aucs)
    text = (
        f"Detector: gradient-boosted trees tell synthetic from real rows with ROC AUC "
        f"{detector.auc:.3f} ({detector.n_folds} folds, {low:.3f} to {high:.3f}; "
        "0.5 = indistinguishable)"
    )
    if reference is not None and _ok(reference.auc):
        text += f"; real holdout rows against training rows score {reference.auc:.3f}"
    if detector.auc < 0.5 - 4 * detector.standard_error:
        text += (
            "; an AUC below 0.5 means the detector learnt synthetic rows as real ones: "
            "synthetic rows repeat real rows"
        )
    sentences = [text + "."]
    if tells:
        sentences += [_capital(tell.sentence) + "." for tell in tells[:MAX_SUMMARY_TELLS]]
        if len(tells) > MAX_SUMMARY_TELLS:
            sentences[-1] = sentences[-1][:-1] + f" ({len(tells) - MAX_SUMMARY_TELLS} more tells "
            sentences[-1] += "in the report)."
    elif detector.auc > 0.6:
        sentences.append(
            "No single column or pair of columns gives it away: the detector combines "
            "several columns."
        )
    return sentences


def coverage_sentence(metrics: pd.DataFrame) -> str | None:
    parts = []
    for metric in ("precision", "recall", "authenticity"):
        value, reference = _first(metrics, metric)
        if _ok(value):
            part = f"{metric} {value:.2f}"
            if _ok(reference):
                part += f" (holdout {reference:.2f})"
            parts.append(part)
    return ("Coverage: " + ", ".join(parts) + ".") if parts else None


def fidelity_sentence(metrics: pd.DataFrame) -> str | None:
    parts = []
    for metric, label, kind in (
        ("ks", "mean KS statistic", "numeric"),
        ("tv", "mean total variation", "categorical"),
    ):
        rows = _values(metrics, metric)
        if len(rows):
            worst = rows.loc[rows["value"].idxmax()]
            part = f"{label} {rows['value'].mean():.3f} over {len(rows)} {kind} column(s)"
            reference = rows["reference"][[_ok(v) for v in rows["reference"]]]
            if len(reference):
                part += f" (holdout {reference.mean():.3f})"
            parts.append(part + f", worst {worst['column']}: {worst['value']:.3f}")
    corr = _values(metrics, "correlation_diff")
    if len(corr):
        parts.append(f"mean correlation difference {corr['value'].mean():.3f}")
    loglik, reference = _first(metrics, "holdout_log_likelihood")
    if _ok(loglik):
        part = f"mean holdout log-likelihood {loglik:.3f}"
        if _ok(reference):
            part += f" (training rows {reference:.3f})"
        parts.append(part)
    return ("Fidelity: " + "; ".join(parts) + ".") if parts else None


def utility_sentence(metrics: pd.DataFrame, target: str | None) -> str:
    if target is None:
        return "Utility: not assessed (no target column given)."
    for score, label in (("accuracy", "accuracy"), ("r2", "R^2")):
        tstr, trtr = _first(metrics, f"tstr_{score}")[0], _first(metrics, f"trtr_{score}")[0]
        if _ok(tstr) and _ok(trtr):
            return (
                f"Utility: a model trained on synthetic rows predicts {target!r} on real "
                f"holdout rows with {label} {tstr:.3f}, against {trtr:.3f} when trained on "
                "real rows."
            )
    return f"Utility: could not be assessed for target {target!r}."


def privacy_sentence(
    metrics: pd.DataFrame,
    memorised: bool,
    reasons: Sequence[str],
    risk_error: float = float("nan"),
) -> str:
    ratio = _first(metrics, "dcr_ratio")[0]
    share = _first(metrics, "memorised_share")[0]
    copies, copies_reference = _first(metrics, "exact_copy_rate")
    membership = _first(metrics, "membership_auc")[0]
    risk_rows = _values(metrics, "attribute_inference_risk")
    extra = []
    if _ok(membership):
        extra.append(f"membership attack AUC {membership:.2f}")
    per_column = risk_rows[risk_rows["column"].notna()]
    if len(per_column):
        worst = per_column.loc[per_column["value"].idxmax()]
        error = f", standard error {risk_error:.2f}" if _ok(risk_error) else ""
        extra.append(
            f"attribute-inference risk up to {worst['value']:.2f} (secret column "
            f"{worst['column']!r}{error})"
        )
    tail = ("; " + ", ".join(extra)) if extra else ""
    if memorised:
        return "Privacy: the synthetic data look memorised: " + "; ".join(reasons) + tail + "."
    parts = []
    if _ok(ratio):
        parts.append(
            f"synthetic rows are {ratio:.2f} times as far from the closest training row as "
            "holdout rows (median)"
        )
    if _ok(share):
        parts.append(f"{share:.0%} fall closer than 95% of holdout rows (about 5% expected)")
    if _ok(copies):
        text = f"{copies:.0%} are exact copies"
        if _ok(copies_reference):
            text += f" (holdout rows: {copies_reference:.0%})"
        parts.append(text)
    return "Privacy: no sign of copying: " + ", ".join(parts) + tail + "."


def verdict(memorised: bool, detector: DetectorResult | None) -> str:
    if memorised:
        return "Overall: the synthetic data copy training rows; do not share them as private."
    if detector is None or not _ok(detector.auc) or detector.auc <= EASY_AUC:
        return "Overall: the synthetic data resemble the real data without copying them."
    return (
        "Overall: the synthetic data do not copy training rows, but a classifier tells them "
        "from the real data easily; fix the tells above first."
    )
