"""Tests of lookalike.evaluation: metrics against scipy/numpy oracles and known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy import stats
from sklearn.linear_model import LinearRegression

import lookalike as la
from conftest import make_blobs
from lookalike.evaluation import EvaluationReport, detector_auc, evaluate
from lookalike.evaluation.distances import nearest_distances
from lookalike.evaluation.fidelity import cramers_v, ks_statistic, total_variation
from lookalike.evaluation.utility import is_classification


def mixed_frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Numeric columns with NaN, a correlated pair, and a categorical column with NaN."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n) + shift
    frame = pd.DataFrame(
        {
            "a": a,
            "b": 0.8 * a + 0.6 * rng.normal(size=n),
            "c": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]).astype(object),
            "d": rng.exponential(size=n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "d"] = np.nan
    frame.loc[rng.random(n) < 0.1, "c"] = np.nan
    return frame


def brute_tv(x: list, y: list) -> float:
    """0.5 * sum |p - q| by explicit counting, missing values as one level."""
    key = [("missing" if pd.isna(v) else v) for v in x]
    other = [("missing" if pd.isna(v) else v) for v in y]
    levels = set(key) | set(other)
    return 0.5 * sum(abs(key.count(v) / len(key) - other.count(v) / len(other)) for v in levels)


# ---------------------------------------------------------------------------
# Fidelity metrics against oracles
# ---------------------------------------------------------------------------


def test_ks_and_tv_match_direct_calculations():
    real, synthetic = mixed_frame(400, 0), mixed_frame(300, 1, shift=0.3)
    report = evaluate(real, synthetic, mixed_frame(200, 2))
    for column in ("a", "b", "d"):
        expected = stats.ks_2samp(real[column].dropna(), synthetic[column].dropna()).statistic
        assert report.value("ks", column) == pytest.approx(expected, abs=1e-12)
    expected = brute_tv(list(real["c"]), list(synthetic["c"]))
    assert report.value("tv", "c") == pytest.approx(expected, abs=1e-12)
    assert total_variation(real["c"], synthetic["c"]) == pytest.approx(expected, abs=1e-12)
    assert ks_statistic([np.nan], [1.0, 2.0]) != ks_statistic([np.nan], [1.0, 2.0])  # NaN


def test_correlation_and_cramers_v_against_oracles():
    real, synthetic = mixed_frame(500, 3), mixed_frame(500, 4)
    synthetic["b"] = synthetic["b"].sample(frac=1.0, random_state=0).to_numpy()  # breaks a|b
    report = evaluate(real, synthetic, mixed_frame(200, 5))
    ok = real[["a", "b"]].dropna()
    ok_s = synthetic[["a", "b"]].dropna()
    expected = abs(np.corrcoef(ok["a"], ok["b"])[0, 1] - np.corrcoef(ok_s["a"], ok_s["b"])[0, 1])
    assert report.value("correlation_diff", "a|b") == pytest.approx(expected, abs=1e-12)
    assert report.value("correlation_diff", "a|b") > 0.5
    # Cramér's V from the chi-square statistic without continuity correction.
    rng = np.random.default_rng(6)
    u = pd.Series(rng.choice(["x", "y", "z"], 300))
    v = pd.Series(np.where(rng.random(300) < 0.6, u, rng.choice(["x", "y"], 300)))
    table = pd.crosstab(u, v).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert cramers_v(u, v) == pytest.approx(np.sqrt(chi2 / (300 * (min(table.shape) - 1))))


def test_identical_data_have_zero_distances():
    real = mixed_frame(300, 7)
    report = evaluate(real, real.copy(), mixed_frame(100, 8))
    values = report.metrics.set_index("metric")["value"]
    assert np.all(values.loc[["ks"]] == 0)
    assert np.all(values.loc[["tv"]] == 0)
    assert np.all(values.loc[["correlation_diff"]] == 0)
    assert report.value("exact_copy_rate") == 1.0


def test_c2st_is_chance_on_independent_draws_and_near_one_on_shifted_data():
    # 600 test rows per class -> AUC standard error 0.017 under the null; tolerance 0.1 is
    # about 6 standard errors (false-failure rate < 1e-8).
    # Every row is held out once over the folds: 2000 rows per class -> standard error of the
    # mean AUC about 0.009; tolerance 0.1 is 10 standard errors (false-failure rate < 1e-20).
    real, same = mixed_frame(2000, 9), mixed_frame(2000, 10)
    assert abs(detector_auc(real, same, random_state=0).auc - 0.5) < 0.1
    shifted = mixed_frame(2000, 11, shift=4.0)
    assert detector_auc(real, shifted, random_state=0).auc > 0.97


# ---------------------------------------------------------------------------
# Utility
# ---------------------------------------------------------------------------


def labelled(n: int, seed: int) -> pd.DataFrame:
    """Two overlapping Gaussian classes (Bayes accuracy about 0.84) plus a noisy regression."""
    rng = np.random.default_rng(seed)
    label = rng.random(n) < 0.5
    x = rng.normal(size=(n, 3)) + np.where(label, 1.0, -1.0)[:, None] * np.array([1.0, 0.0, 0])
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "x2": x[:, 2],
            "label": np.where(label, "yes", "no").astype(object),
            "y": x @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=n),
        }
    )


def test_tstr_close_to_trtr_when_synthetic_rows_are_fresh_draws():
    # 1500 test rows: accuracy standard error about 0.01, R^2 about 0.005.
    train, fresh, holdout = labelled(1500, 12), labelled(1500, 13), labelled(1500, 14)
    report = evaluate(train, fresh, holdout, target="label")
    tstr, trtr = report.value("tstr_accuracy", "label"), report.value("trtr_accuracy", "label")
    assert trtr > 0.75
    assert abs(tstr - trtr) < 0.05
    assert (
        abs(report.value("tstr_macro_f1", "label") - report.value("trtr_macro_f1", "label")) < 0.05
    )
    (utility,) = [sentence for sentence in report.summary if sentence.startswith("Utility")]
    assert "accuracy" in utility
    linear = evaluate(train, fresh, holdout, target="y", utility_model=LinearRegression())
    assert linear.value("trtr_r2", "y") > 0.8
    assert abs(linear.value("tstr_r2", "y") - linear.value("trtr_r2", "y")) < 0.02
    # A model trained on label-shuffled synthetic rows is at chance: TSTR falls well below.
    broken = fresh.assign(label=fresh["label"].sample(frac=1.0, random_state=1).to_numpy())
    bad = evaluate(train, broken, holdout, target="label")
    assert bad.value("tstr_accuracy", "label") < 0.65


def test_target_type_detection():
    assert is_classification(pd.Series(["a", "b"]), "categorical")
    assert is_classification(pd.Series([0.0, 1.0, 2.0, np.nan]), "numeric")
    assert not is_classification(pd.Series([0.5, 1.0, 2.0]), "numeric")
    assert not is_classification(pd.Series(np.arange(100.0)), "numeric")


# ---------------------------------------------------------------------------
# Privacy
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixture_data():
    train = make_blobs(600, seed=20)[0]
    holdout = make_blobs(600, seed=21)[0]
    return train, holdout


def test_copy_of_training_rows_is_memorised(mixture_data):
    train, holdout = mixture_data
    report = evaluate(train, train[::-1].copy(), holdout)
    assert report.memorised
    assert report.memorised_share == 1.0
    assert report.value("exact_copy_rate") == 1.0
    assert report.value("membership_auc") == pytest.approx(1.0)
    assert any("memorised" in sentence and "100%" in sentence for sentence in report.summary)
    # Beside its references: holdout rows copy nothing, and sit at their own distance.
    assert report.reference("exact_copy_rate") == 0.0
    assert report.value("dcr_ratio") == 0.0 and report.value("dcr_synthetic") == 0.0
    assert report.value("authenticity") == 0.0
    # The attacker reads every secret off the copy: attribute inference at its maximum.
    for column in ("x0", "x1"):
        assert report.value("attribute_inference_success", column) == 1.0
        assert report.value("attribute_inference_risk", column) == 1.0
    assert report.value("attribute_inference_risk") == 1.0
    # Rows in both classes: the detector learns them as real, below chance, and says why.
    assert report.value("c2st_auc") < 0.4 and "repeat real rows" in report.summary[0]


def test_fresh_rows_score_like_the_real_holdout(mixture_data):
    # Synthetic rows drawn from the real distribution: every metric near its reference.
    # 600 rows per table: detector AUC standard error about 0.017 (tolerance 0.1, 6 standard
    # errors); precision, recall and authenticity are shares of 600 rows (standard error
    # <= 0.02 each, and the reference has its own), tolerance 0.1 (false-failure rate
    # below 1e-3 for each comparison).
    train, holdout = mixture_data
    fresh = make_blobs(600, seed=25)[0]
    report = evaluate(train, fresh, holdout)
    assert abs(report.value("c2st_auc") - 0.5) < 0.1
    assert abs(report.reference("c2st_auc") - 0.5) < 0.1
    for metric in ("precision", "recall", "authenticity"):
        assert abs(report.value(metric) - report.reference(metric)) < 0.1, metric
    assert report.tells == []
    assert not report.memorised
    assert report.value("attribute_inference_risk") < 0.15


def test_independent_marginals_are_caught_and_a_dependent_pair_named():
    # Three correlated columns, drawn again and shuffled column by column: each column is
    # right, their dependence is gone. 1,500 rows per table.
    def correlated(n, seed):
        rng = np.random.default_rng(seed)
        z = rng.normal(size=n)
        return pd.DataFrame({"u": z + 0.3 * rng.normal(size=n),
                             "v": z + 0.3 * rng.normal(size=n),
                             "w": rng.normal(size=n)})  # fmt: skip

    real, holdout, fresh = correlated(1500, 30), correlated(800, 31), correlated(1500, 32)
    rng = np.random.default_rng(33)
    independent = fresh.apply(lambda s: s.to_numpy()[rng.permutation(len(s))])
    report = evaluate(real, independent, holdout)
    assert report.value("c2st_auc") > 0.75
    assert max(report.value("ks", c) for c in "uvw") < 0.06  # the saturated column scores
    assert report.tells[0].columns == ("u", "v")
    assert any(s.startswith("Columns 'u' and 'v' give it away together") for s in report.summary)


def test_tiny_bandwidth_kde_is_memorised(mixture_data):
    train, holdout = mixture_data
    synthetic = la.KernelDensity(bandwidth=1e-3).fit(train).sample(600, random_state=0)
    report = evaluate(train, synthetic, holdout)
    assert report.memorised
    assert report.memorised_share > 0.9
    assert report.value("exact_copy_rate") == 0.0  # near copies, not exact ones
    assert report.value("dcr_ratio") < 0.1
    assert "memorised" in " ".join(report.summary)


def test_well_fitted_mixture_is_not_memorised(mixture_data):
    train, holdout = mixture_data
    model = la.GaussianMixture(3, random_state=0).fit(train)
    synthetic = model.sample(600)[0]
    report = evaluate(train, synthetic, holdout, model=model)
    assert not report.memorised
    assert "memorised" not in " ".join(report.summary)
    # A fresh draw falls below the holdout's 5th percentile with probability about 0.05;
    # with 600 rows the share's standard error is about 0.01.
    assert report.memorised_share < 0.12
    assert 0.7 < report.value("dcr_ratio") < 1.4
    assert abs(report.value("membership_auc") - 0.5) < 0.1
    # Holdout log-likelihood: the model's own mean score on the holdout.
    assert report.value("holdout_log_likelihood") == pytest.approx(model.score(holdout))
    assert len(report.distances["synthetic"]) == 600 and len(report.distances["holdout"]) == 600


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(22)
    reference, queries = rng.normal(size=(300, 4)), rng.normal(size=(250, 4))
    brute = np.sqrt(((queries[:, None, :] - reference[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(reference, queries), brute, rtol=1e-10)


# ---------------------------------------------------------------------------
# Inputs: DataFrames with NaN, arrays, errors, seeds
# ---------------------------------------------------------------------------


def test_penguins_end_to_end_with_missing_values():
    df = load_penguins()
    assert df.isna().any().any()
    train, holdout = df.iloc[::2].reset_index(drop=True), df.iloc[1::2].reset_index(drop=True)
    synthetic = train.sample(frac=1.0, random_state=0).reset_index(drop=True)
    synthetic["body_mass_g"] = synthetic["body_mass_g"].to_numpy()[::-1]  # break one column

    class NoScore:  # a Synthesizer-like model without score_samples
        pass

    report = evaluate(train, synthetic, holdout, target="species", model=NoScore())
    assert isinstance(report, EvaluationReport)
    assert report.kinds["species"] == "categorical" and report.kinds["bill_length_mm"] == "numeric"
    assert set(report.metrics["category"]) == {"fidelity", "utility", "privacy"}
    assert list(report.metrics.columns) == [
        "category",
        "metric",
        "column",
        "value",
        "reference",
        "note",
    ]
    assert report.value("tv", "sex") == 0.0
    assert report.value("correlation_diff", "flipper_length_mm|body_mass_g") > 0.3
    assert np.isnan(report.value("holdout_log_likelihood"))
    assert report.value("trtr_accuracy", "species") > 0.9
    assert report.memorised  # a shuffled copy of the training rows
    assert report.to_frame() is report.metrics
    assert "EvaluationReport" in repr(report) and report.summary[0] in repr(report)


def test_arrays_and_automatic_holdout():
    X = make_blobs(500, seed=23)[0]
    synthetic = make_blobs(400, seed=24)[0]
    report = evaluate(X, synthetic)
    assert list(report.real.columns) == ["x0", "x1"]
    assert list(report.synthetic.columns) == ["x0", "x1"]
    assert report.holdout is None
    assert any("no holdout was given" in sentence for sentence in report.summary)
    assert not report.memorised
    # An array synthetic table takes the column names of a DataFrame real table.
    frame = pd.DataFrame(X, columns=["u", "v"])
    named = evaluate(frame, synthetic, frame.iloc[:100])
    assert list(named.synthetic.columns) == ["u", "v"]


def test_same_seed_same_numbers_and_clear_errors():
    real, synthetic = labelled(300, 25), labelled(300, 26)
    first = evaluate(real, synthetic, target="label", random_state=3)
    second = evaluate(real, synthetic, target="label", random_state=3)
    pd.testing.assert_frame_equal(first.metrics, second.metrics)
    with pytest.raises(ValueError, match="2-D"):
        evaluate(np.ones(5), np.ones(5))
    # A column only one table has is left out, and said so (not an error).
    partial = evaluate(real, synthetic.drop(columns="x0"), target="label")
    assert "x0" not in partial.kinds and "x0" in partial.left_out
    assert any("'x0' (not in synthetic)" in sentence for sentence in partial.summary)
    with pytest.raises(ValueError, match="not a column"):
        evaluate(real, synthetic, target="nope")
    with pytest.raises(ValueError, match="numeric in real"):
        evaluate(real, synthetic.assign(x0="text"))
    with pytest.raises(KeyError, match="No metric"):
        first.value("nope")


def test_digits_arrays():
    from sklearn.datasets import load_digits

    X = load_digits().data
    real, fresh, holdout = X[0::3], X[1::3], X[2::3]
    report = evaluate(real, fresh, holdout)
    assert len(report.kinds) == 64 and set(report.kinds.values()) == {"numeric"}
    assert not report.memorised
    assert report.value("exact_copy_rate") < 0.01
    assert abs(report.value("c2st_auc") - 0.5) < 0.1  # 360 test rows per class: 6 std errors
    kde = la.KernelDensity(bandwidth=1e-3).fit(real).sample(len(real), random_state=0)
    assert evaluate(real, kde, holdout).memorised
