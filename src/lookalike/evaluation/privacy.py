"""Privacy of synthetic rows: copies, distances to the closest record, membership and
attribute-inference attacks, each against the same quantity for real holdout rows.

Holdout rows are real rows the generator never saw: how close they fall to the training rows,
how often they equal one, how well an attacker guesses their secrets, is what a generator
that learnt the distribution without remembering rows would show. Synthetic rows are judged
against that reference, never against zero (a table of few distinct rows has many exact
copies in any fresh sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from lookalike.evaluation.columns import NUMERIC
from lookalike.evaluation.distances import nearest_distances, nearest_ignoring

EXACT_COPY_EXCESS_LIMIT = 0.05
"""Synthetic rows equal to a training row more often than holdout rows are, by more than
this share, flag memorisation."""

MEMORISED_SHARE_LIMIT = 0.2
"""More than this share of synthetic rows closer to a training row than 95% of holdout rows
flags memorisation (about 0.05 expected)."""

DCR_RATIO_LIMIT = 0.5
"""A median synthetic DCR below this fraction of the median holdout DCR flags memorisation."""

NEAR_QUANTILE = 0.05
"""Quantile of the holdout DCR below which a synthetic row counts as suspiciously close."""

NUMERIC_TOLERANCE = 0.05
"""A guess of a numeric secret is right within this relative tolerance (as anonymeter)."""

MIN_CONTROL_MISSES = 10
"""The risk of a secret is measured only when the control attack misses at least this many
holdout rows: ``1 - control`` is its denominator, and a secret that the other columns
(almost) determine, or a (nearly) constant column, would make it noise."""


def row_hashes(frame: pd.DataFrame) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of every row's values (equal rows, equal hashes)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def copy_rate(train: pd.DataFrame, rows: pd.DataFrame) -> float:
    """Share of ``rows`` equal, in every compared column, to some row of ``train``."""
    if len(rows) == 0:
        return float("nan")
    return float(np.mean(np.isin(row_hashes(rows), row_hashes(train))))


@dataclass(frozen=True)
class DistanceResult:
    """Distances to the closest training row and the memorisation verdict drawn from them.

    Attributes
    ----------
    synthetic, holdout : ndarray
        Distance of each synthetic (holdout) row used to its closest training row.
    dcr_ratio : float
        Median synthetic DCR / median holdout DCR (1 when both are 0).
    memorised_share : float
        Share of synthetic rows closer to a training row than
        :data:`NEAR_QUANTILE` of holdout rows are.
    membership_auc : float
        ROC AUC of the score ``-(distance to the closest synthetic row)`` telling training
        rows (members) from holdout rows; 0.5 when nothing leaks.
    """

    synthetic: np.ndarray
    holdout: np.ndarray
    dcr_ratio: float
    memorised_share: float
    membership_auc: float


def distance_metrics(
    train: np.ndarray,
    holdout: np.ndarray,
    synthetic: np.ndarray,
    members: np.ndarray,
    non_members: np.ndarray,
    synthetic_reference: np.ndarray,
) -> DistanceResult:
    """DCR of synthetic and holdout rows to ``train``, and the membership attack.

    Parameters
    ----------
    train : ndarray of shape (n_train, d)
        Encoded training rows: the reference of the distances to the closest record.
    holdout, synthetic : ndarray of shape (n, d)
        Encoded query rows.
    members, non_members : ndarray
        Encoded training and holdout rows attacked by the membership attack.
    synthetic_reference : ndarray
        Encoded synthetic rows the attacker searches.
    """
    to_train_synthetic = nearest_distances(train, synthetic)
    to_train_holdout = nearest_distances(train, holdout)
    median_synthetic = float(np.median(to_train_synthetic))
    median_holdout = float(np.median(to_train_holdout))
    if median_holdout > 0:
        ratio = median_synthetic / median_holdout
    else:
        ratio = 1.0 if median_synthetic == 0 else float("inf")
    near = float(np.quantile(to_train_holdout, NEAR_QUANTILE))
    share = float(np.mean(to_train_synthetic < near))
    scores = -nearest_distances(synthetic_reference, np.vstack([members, non_members]))
    labels = np.r_[np.ones(len(members)), np.zeros(len(non_members))]
    membership = (
        float(roc_auc_score(labels, scores)) if len(members) and len(non_members) else float("nan")
    )
    return DistanceResult(to_train_synthetic, to_train_holdout, ratio, share, membership)


@dataclass(frozen=True)
class InferenceResult:
    """Attribute-inference attack on one secret column.

    Attributes
    ----------
    success : float
        Share of training rows whose secret the attacker guessed right.
    control : float
        The same share for holdout rows (the baseline: what the synthetic data teach
        about anyone, member or not).
    risk : float
        ``(success - control) / (1 - control)`` clipped to [0, 1]; NaN when the control
        attack misses fewer than :data:`MIN_CONTROL_MISSES` holdout rows (the other
        columns determine the secret, or it is nearly constant).
    risk_error : float
        Standard error of ``risk`` from the binomial errors of the two shares, propagated
        through the formula (0 when the attack always succeeds on training rows).
    """

    success: float
    control: float
    risk: float
    risk_error: float = float("nan")


def guesses_right(
    guesses: npt.ArrayLike, secrets: npt.ArrayLike, kind: str, scale: float | None = None
) -> npt.NDArray[np.bool_]:
    """Whether each guess hits its secret.

    Categorical secrets must be equal (missing equals missing); numeric secrets must lie
    within :data:`NUMERIC_TOLERANCE` of the true value, relative to its magnitude, or to
    ``scale`` when given (for dates, whose magnitude is their distance from 1970); both
    missing counts as right.
    """
    if kind == NUMERIC:
        g, s = np.asarray(guesses, dtype=float), np.asarray(secrets, dtype=float)
        size = np.abs(s) if scale is None else scale
        with np.errstate(invalid="ignore"):
            close = np.abs(g - s) <= NUMERIC_TOLERANCE * size
        return close | (g == s) | (np.isnan(g) & np.isnan(s))
    return np.asarray(guesses, dtype=object) == np.asarray(secrets, dtype=object)


def attribute_inference(
    targets: np.ndarray,
    controls: np.ndarray,
    synthetic: np.ndarray,
    slices: Mapping[str, slice],
    target_values: pd.DataFrame,
    control_values: pd.DataFrame,
    synthetic_values: pd.DataFrame,
    kinds: Mapping[str, str],
    scales: Mapping[str, float] | None = None,
) -> dict[str, InferenceResult]:
    """Attribute-inference risk of every column in ``slices`` (in the spirit of anonymeter).

    An attacker knows every column of a training row but the secret one, finds the
    synthetic row nearest on the known columns and takes its secret as the guess. The same
    attack on holdout rows is the baseline: whatever it guesses right comes from what the
    synthetic data say about the population, not about the training rows.

    Parameters
    ----------
    targets, controls : ndarray
        Encoded training rows (attacked) and holdout rows (the control).
    synthetic : ndarray
        Encoded synthetic rows (the attacker's data).
    slices : mapping of str to slice
        The encoded columns of each secret column.
    target_values, control_values, synthetic_values : DataFrame
        The same rows as conformed values (to judge the guesses).
    kinds : mapping of str to str
    scales : mapping of str to float, optional
        Columns whose numeric guesses are judged against a fixed scale (see
        :func:`guesses_right`).

    References
    ----------
    Giomi, Boenisch, Wehmeyer and Tasnádi, "A unified framework for quantifying privacy
    risk in synthetic data", PETS 2023 (anonymeter).
    """
    hidden_targets = nearest_ignoring(synthetic, targets, slices)
    hidden_controls = nearest_ignoring(synthetic, controls, slices)
    out = {}
    scales = scales or {}
    for column in slices:
        pool = synthetic_values[column].to_numpy()
        kind, scale = kinds[column], scales.get(column)
        success = float(
            np.mean(
                guesses_right(pool[hidden_targets[column]], target_values[column], kind, scale)
            )
        )
        control = float(np.mean(guesses_right(
            pool[hidden_controls[column]], control_values[column], kind, scale)))  # fmt: skip
        risk, error = inference_risk(success, control, len(target_values), len(control_values))
        out[column] = InferenceResult(success, control, risk, error)
    return out


def inference_risk(
    success: float, control: float, n_targets: int, n_controls: int
) -> tuple[float, float]:
    """Risk ``(success - control) / (1 - control)`` clipped to [0, 1], and its standard error.

    NaN (both) when the control attack misses fewer than :data:`MIN_CONTROL_MISSES` of the
    ``n_controls`` holdout rows. The error propagates the binomial variances of the two
    shares through the formula (first order):
    :math:`\\sigma^2 = \\frac{s(1-s)/n_t}{(1-c)^2} + \\frac{c(1-c)/n_c\\,(1-s)^2}{(1-c)^4}`.
    """
    if (1.0 - control) * n_controls < MIN_CONTROL_MISSES - 1e-9:
        return float("nan"), float("nan")
    risk = (success - control) / (1.0 - control)
    var_success = success * (1.0 - success) / max(n_targets, 1)
    var_control = control * (1.0 - control) / max(n_controls, 1)
    error = np.sqrt(
        var_success / (1.0 - control) ** 2
        + var_control * (1.0 - success) ** 2 / (1.0 - control) ** 4
    )
    return float(np.clip(risk, 0.0, 1.0)), float(error)


def memorisation_verdict(
    copies: float, holdout_copies: float, distances: DistanceResult
) -> tuple[bool, list[str]]:
    """Whether the synthetic rows look memorised, and which rules fired (in words)."""
    reasons = []
    excess = copies - (holdout_copies if np.isfinite(holdout_copies) else 0.0)
    if excess > EXACT_COPY_EXCESS_LIMIT:
        reasons.append(
            f"{copies:.0%} of synthetic rows are exact copies of training rows against "
            f"{holdout_copies:.0%} of holdout rows"
        )
    if distances.memorised_share > MEMORISED_SHARE_LIMIT:
        reasons.append(
            f"{distances.memorised_share:.0%} of synthetic rows are closer to a training row "
            "than 95% of holdout rows are (about 5% expected)"
        )
    if distances.dcr_ratio < DCR_RATIO_LIMIT:
        reasons.append(
            f"synthetic rows are {distances.dcr_ratio:.2f} times as far from the closest "
            "training row as holdout rows (median)"
        )
    return bool(reasons), reasons
