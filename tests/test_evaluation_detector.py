"""The classifier two-sample test and what gives synthetic rows away (detector, tells, describe).

Known answers: two unit Gaussians a distance delta apart are told apart with AUC
Phi(delta / sqrt 2) at best; a table with one broken column names that column first; a
table of independent marginals names a dependent pair; two draws of one distribution name
nothing. AUC computations from counts are checked against scikit-learn's roc_auc_score on
the expanded rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from lookalike.evaluation import detector_auc, evaluate
from lookalike.evaluation.columns import MISSING, numeric_values
from lookalike.evaluation.describe import describe_column, describe_pair, share, value_text
from lookalike.evaluation.tells import (
    auc_from_count_rows,
    auc_from_counts,
    bin_codes,
    find_tells,
)


def table(n: int, seed: int) -> pd.DataFrame:
    """Mixed columns: a dependent numeric pair, a zero-inflated column, a 31-level category,
    a boolean, dates, and missing values."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": 0.8 * a + 0.6 * rng.normal(size=n),
            "spend": np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 50.0, size=n)),
            "shop": rng.choice([f"s{i:02d}" for i in range(31)], size=n).astype(object),
            "member": rng.random(n) < 0.4,
            "day": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )
    frame.loc[rng.random(n) < 0.1, "spend"] = np.nan
    return frame


KINDS = {
    "a": "numeric",
    "b": "numeric",
    "spend": "numeric",
    "shop": "categorical",
    "member": "categorical",
    "day": "numeric",
}


def conformed(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluation's own form: numbers as floats (dates in ns), categories as text."""
    out = frame.copy()
    out["day"] = numeric_values(out["day"])
    out["member"] = out["member"].map(str).astype(object)
    out["shop"] = out["shop"].astype(object).where(out["shop"].notna(), MISSING)
    return out


# --------------------------------------------------------------------------------------
# The detector


def test_detector_reaches_the_bayes_auc_of_two_shifted_gaussians():
    # N(0, 1) against N(1, 1): the best possible AUC is Phi(1 / sqrt 2) = 0.760. With
    # 8,000 rows per class the AUC's standard error is about 0.005; trees fall a little
    # short of the likelihood ratio, so the tolerance is 0.03 (6 standard errors).
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"x": rng.normal(size=8000)})
    synthetic = pd.DataFrame({"x": rng.normal(1.0, 1.0, size=8000)})
    result = detector_auc(real, synthetic, random_state=0)
    assert result.auc == pytest.approx(stats.norm.cdf(1 / np.sqrt(2)), abs=0.03)
    assert len(result.fold_aucs) == 5 and result.n_folds == 5
    assert result.auc == pytest.approx(np.mean(result.fold_aucs))
    assert result.n_rows_used == 16_000


def test_detector_handles_mixed_columns_and_is_seeded():
    # Two draws of one distribution: 1,500 rows per class, standard error of the mean AUC
    # about 0.011; tolerance 0.06 (5.5 standard errors, false-failure rate < 1e-7).
    real, same = table(1500, 1), table(1500, 2)
    result = detector_auc(real, same, n_folds=3, random_state=3)
    assert abs(result.auc - 0.5) < 0.06
    assert result.columns == tuple(real.columns)
    again = detector_auc(real, same[list(reversed(same.columns))], n_folds=3, random_state=3)
    assert again.fold_aucs == result.fold_aucs  # column order does not matter; same seed
    other = detector_auc(real, same, n_folds=3, random_state=4)
    assert other.fold_aucs != result.fold_aucs
    # A broken date column alone is caught: dates all in one month.
    broken = same.assign(day=pd.Timestamp("2022-03-01") + pd.to_timedelta(same.index % 28, "D"))
    assert detector_auc(real, broken, n_folds=3).auc > 0.95


def test_detector_caps_rows_and_balances_classes():
    real, synthetic = table(900, 3), table(400, 4)
    assert detector_auc(real, synthetic, n_folds=2, max_rows=300).n_rows_used == 600
    assert detector_auc(real, synthetic, n_folds=2, max_rows=None).n_rows_used == 800


def test_detector_with_many_levels_uses_codes():
    # 600 levels: beyond the trees' native categorical splits; codes ordered by frequency.
    rng = np.random.default_rng(5)
    levels = np.array([f"l{i}" for i in range(600)], dtype=object)
    real = pd.DataFrame({"c": rng.choice(levels, 3000), "x": rng.normal(size=3000)})
    synthetic = real.assign(c=rng.choice(levels[:300], 3000))  # half the levels never appear
    assert detector_auc(real, synthetic, n_folds=3).auc > 0.7


@pytest.mark.parametrize(
    ("synthetic", "message"),
    [
        (pd.DataFrame({"x": [1.0] * 10}), "columns of real"),
        (pd.DataFrame({"x": [1.0] * 10, "y": [1j] * 10}), "Complex data not supported"),
        (pd.DataFrame({"x": [1.0] * 3, "y": [2.0] * 3}), "at least n_folds"),
    ],
)
def test_detector_errors(synthetic, message):
    real = pd.DataFrame({"x": np.arange(10.0), "y": np.ones(10)})
    with pytest.raises(ValueError, match=message):
        detector_auc(real, synthetic)
    with pytest.raises(ValueError, match="n_folds"):
        detector_auc(real, real, n_folds=1)


# --------------------------------------------------------------------------------------
# AUC from bin counts, against scikit-learn on the expanded rows


def test_auc_from_counts_matches_roc_auc_score_with_ties():
    rng = np.random.default_rng(6)
    for _ in range(20):
        k = int(rng.integers(2, 12))
        score = rng.integers(0, 4, size=k).astype(float)  # many tied bins
        pos, neg = rng.integers(0, 30, size=k), rng.integers(0, 30, size=k)
        pos[0] += 1
        neg[-1] += 1
        labels = np.r_[np.ones(pos.sum()), np.zeros(neg.sum())]
        scores = np.r_[np.repeat(score, pos), np.repeat(score, neg)]
        expected = roc_auc_score(labels, scores)
        assert auc_from_counts(score, pos.astype(float), neg.astype(float)) == pytest.approx(
            expected, abs=1e-12
        )
        rows = auc_from_count_rows(score[None, :], pos[None, :] * 1.0, neg[None, :] * 1.0)
        assert rows[0] == pytest.approx(expected, abs=1e-12)


def test_bin_codes_give_atoms_and_missing_values_their_own_bins():
    rng = np.random.default_rng(7)
    real = np.where(rng.random(2000) < 0.3, 0.0, rng.normal(size=2000))
    real[:50] = np.nan
    synthetic = rng.normal(size=2000)
    real_codes, synthetic_codes, n_codes = bin_codes(real, synthetic, "numeric", 16)
    assert np.unique(real_codes[real == 0.0]).size == 1  # the atom is one bin ...
    zero_code = real_codes[real == 0.0][0]
    assert not np.any(real_codes[(real != 0.0) & ~np.isnan(real)] == zero_code)  # ... alone
    assert np.unique(real_codes[:50]).size == 1 and real_codes[0] == n_codes - 3  # NaN bin
    assert synthetic_codes.max() < n_codes
    text = np.array(["a", "b", "c", "d"], dtype=object)
    codes, _, k = bin_codes(text[[0, 0, 0, 1, 2, 3]], text[[0, 3]], "categorical", 3)
    # Pooled counts rank a (4), d (2), then b and c (1 each) share the last bin.
    assert k == 3 and list(codes) == [0, 0, 0, 2, 2, 1]


# --------------------------------------------------------------------------------------
# Tells: known answers


@pytest.fixture(scope="module")
def draws():
    return conformed(table(3000, 10)), conformed(table(3000, 11))


def _tells(real, synthetic):
    return find_tells(real, synthetic, KINDS, random_state=np.random.default_rng(0))


def test_two_draws_of_one_distribution_have_no_tell(draws):
    # The thresholds (6 standard errors for columns, 8 for pairs) were set from 80 trials of
    # equal tables where the largest column reached 4.8 and the largest pair 6.3 standard
    # errors: a false tell here has a probability well below 1e-3.
    real, synthetic = draws
    result = _tells(real, synthetic)
    assert result.tells == []
    assert all(abs(auc - 0.5) < 6 * result.standard_error for auc in result.column_auc.values())


@pytest.mark.parametrize(
    ("column", "break_it", "words"),
    [
        ("shop", lambda s: s.map(lambda v: "other"), "31 real levels, none in the synthetic"),
        ("spend", lambda s: s.fillna(0.0).round(-2), "distinct values"),
        ("spend", lambda s: s.where(s != 0.0, 5.0), "the value 0 holds"),
        ("spend", lambda s: s.fillna(1.0), "of real rows and 0% of synthetic rows"),
        ("a", lambda s: s * 3.0, "lie outside the real range"),
        ("day", lambda s: s + 200 * 86_400e9, "2022-"),
        ("member", lambda s: s.map(lambda v: "True"), "never appear in the synthetic rows"),
    ],
)
def test_one_broken_column_is_named_first(draws, column, break_it, words):
    real, synthetic = draws
    broken = synthetic.assign(**{column: break_it(synthetic[column])})
    result = _tells(real, broken)
    assert result.tells[0].columns == (column,)
    report_sentence = describe_column(real[column], broken[column], KINDS[column],
                                      "datetime" if column == "day" else "")  # fmt: skip
    assert words in report_sentence
    assert "nan" not in report_sentence.lower()


def test_independent_marginals_are_told_by_a_dependent_pair(draws):
    real, synthetic = draws
    rng = np.random.default_rng(12)
    independent = synthetic.apply(lambda s: s.to_numpy()[rng.permutation(len(s))])
    result = _tells(real, independent)
    assert result.tells, "the broken dependence of a and b must be a tell"
    assert result.tells[0].columns == ("a", "b")
    assert all(tell.kind == "pair" for tell in result.tells)
    assert result.pair_excess[("a", "b")] > 0.15
    sentence = describe_pair(real, independent, ("a", "b"), KINDS)
    assert "rank correlation 0.7" in sentence and "in synthetic rows" in sentence


def test_evaluate_leads_with_the_detector_and_names_the_tell():
    real, holdout, fresh = table(1500, 20), table(800, 21), table(1500, 22)
    broken = fresh.assign(shop="other")
    report = evaluate(real, broken, holdout, random_state=0)
    assert report.summary[0].startswith("Detector: gradient-boosted trees")
    assert report.summary[1].startswith("Column 'shop' gives it away: 31 real levels, none")
    assert report.tells[0].columns == ("shop",)
    assert report.value("c2st_auc") > 0.95 and abs(report.reference("c2st_auc") - 0.5) < 0.1
    assert report.value("column_auc", "shop") > 0.95
    assert report.detector is not None and report.detector.auc == report.value("c2st_auc")


# --------------------------------------------------------------------------------------
# Words


def test_shares_and_values_in_words():
    assert [share(x) for x in (0.0, 0.0004, 0.034, 0.31, 0.9996, 1.0)] == [
        "0%",
        "<0.1%",
        "3.4%",
        "31%",
        ">99.9%",
        "100%",
    ]
    assert share(float("nan")) == "an unknown share"
    assert value_text(pd.Timestamp("2022-03-04").value, "datetime") == "2022-03-04"
    assert value_text(1234.0, "integer") == "1,234" and value_text(0.123456, "") == "0.1235"
    assert value_text(float("nan"), "") == "missing"


@pytest.mark.parametrize(
    ("real", "synthetic"),
    [
        (np.full(20, np.nan), np.arange(20.0)),
        (np.ones(20), np.ones(20)),
        (np.arange(20.0), np.full(20, np.nan)),
    ],
)
def test_degenerate_columns_are_described_without_nan(real, synthetic):
    sentence = describe_column(real, synthetic, "numeric")
    assert sentence and "nan" not in sentence.lower()
    frame = pd.DataFrame({"x": real, "y": real})
    other = pd.DataFrame({"x": synthetic, "y": synthetic})
    sentence = describe_pair(frame, other, ("x", "y"), {"x": "numeric", "y": "numeric"})
    assert "nan" not in sentence.lower()
