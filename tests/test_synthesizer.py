"""Synthesizer on real tables (penguins, wine, breast cancer, digits) and built frames.

Statistical checks state their oracle and tolerance; level shares are compared with
the real ones by chi-square tests of homogeneity at alpha = 1e-3 (the false-failure
rate of each test; the synthetic rows are drawn from a model of the real ones, which
makes the test conservative).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from lookalike.exceptions import NotFittedError
from lookalike.gaussian import Gaussian
from lookalike.kde import KernelDensity
from lookalike.mixture import GaussianMixture
from lookalike.reduced import ReducedDensity
from lookalike.tabular import (
    Bounds,
    CellMixture,
    FixedSum,
    Order,
    SequentialTrees,
    Synthesizer,
)
from lookalike.tabular.models import EstimatorModel

N = 2000
ALPHA = 1e-3
FAMILIES = ["trees", "cells", "gaussian", "gmm", "kde"]


def homogeneous(real: pd.Series, fake: pd.Series) -> float:
    """p-value of the chi-square test that two columns have the same level shares."""
    a = real.astype(str).value_counts()
    b = fake.astype(str).value_counts()
    levels = a.index.union(b.index)
    table = np.vstack([a.reindex(levels, fill_value=0), b.reindex(levels, fill_value=0)])
    return float(stats.chi2_contingency(table)[1])


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="module")
def penguin_synth(penguins: pd.DataFrame) -> Synthesizer:
    return Synthesizer(model="trees", random_state=0).fit(penguins)


@pytest.fixture(scope="module")
def penguin_sample(penguin_synth: Synthesizer) -> pd.DataFrame:
    return penguin_synth.sample(N, random_state=1)


def test_round_trip_of_columns_and_dtypes(penguins, penguin_sample):
    assert list(penguin_sample.columns) == list(penguins.columns)
    assert penguin_sample.dtypes.astype(str).tolist() == penguins.dtypes.astype(str).tolist()
    assert len(penguin_sample) == N


def test_categories_and_missing_rates_match(penguins, penguin_sample):
    for name in penguins.columns:
        assert homogeneous(penguins[name].isna(), penguin_sample[name].isna()) > ALPHA, name
    for name in ("species", "island", "sex"):
        assert homogeneous(penguins[name], penguin_sample[name]) > ALPHA, name
    assert penguin_sample["sex"].isna().any()  # missingness is generated, not imputed away


def test_numeric_values_in_observed_range_and_resolution(penguins, penguin_sample):
    for name in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"):
        values = penguin_sample[name].dropna()
        assert values.min() >= penguins[name].min() and values.max() <= penguins[name].max()
    assert set(penguin_sample["year"]) <= {2007, 2008, 2009}
    bill = penguin_sample["bill_length_mm"].dropna()
    assert np.allclose(bill, np.round(bill, 1))  # observed resolution: one decimal


@pytest.mark.parametrize("family", FAMILIES)
def test_rare_levels_come_out_at_their_rates_for_every_family(family):
    # Issue 18's reproducer (levels at 86/10/3/1%), a 0.5% level, a 20-level column and
    # a numeric neighbour; with one-hot decoding the 1% level came out at 99%.
    rng = np.random.default_rng(0)
    n = 2000
    shares = np.r_[0.5 * np.ones(1) * 0.01, np.full(19, 0.995 / 19)]
    frame = pd.DataFrame(
        {
            "c": rng.choice(list("ABCD"), n, p=[0.86, 0.10, 0.03, 0.01]),
            "wide": rng.choice([f"l{k}" for k in range(20)], n, p=shares / shares.sum()),
            "x": rng.normal(size=n),
        }
    )
    fake = Synthesizer(model=family, random_state=0).fit(frame).sample(n, random_state=1)
    for name in ("c", "wide"):
        assert homogeneous(frame[name], fake[name]) > ALPHA, (family, name)


def test_a_single_categorical_column_alone():
    frame = pd.DataFrame(
        {"c": np.random.default_rng(0).choice(list("ABCD"), 2000, p=[0.86, 0.10, 0.03, 0.01])}
    )
    for family in ("gaussian", "trees"):
        fake = Synthesizer(model=family, random_state=0).fit(frame).sample(2000)
        assert homogeneous(frame["c"], fake["c"]) > ALPHA, family


def test_where_category_gives_the_conditional_distribution(penguins, penguin_synth):
    gentoo = penguin_synth.sample(N, where={"species": "Gentoo"}, random_state=2)
    assert set(gentoo["species"]) == {"Gentoo"}
    real = penguins.loc[penguins["species"] == "Gentoo"]
    assert (
        stats.ks_2samp(gentoo["body_mass_g"].dropna(), real["body_mass_g"].dropna()).pvalue > ALPHA
    )
    # Gentoo live on Biscoe only: no other island comes out.
    assert set(gentoo["island"]) == {"Biscoe"}


@pytest.mark.parametrize("family", FAMILIES)
def test_where_values_and_ranges_are_exact_for_every_family(penguins, family):
    synth = Synthesizer(model=family, random_state=0).fit(penguins)
    rows = synth.sample(300, where={"species": "Chinstrap", "body_mass_g": (3500, 4000)})
    assert set(rows["species"]) == {"Chinstrap"}
    assert rows["body_mass_g"].between(3500, 4000).all()
    years = synth.sample(50, where={"year": 2008}, random_state=5)
    assert set(years["year"]) == {2008}


def test_impossible_combinations_stay_rare(penguins):
    # Species x island pairs absent from the data (e.g. Gentoo on Dream) come out at
    # most at the rate of a fresh real sample (0) plus binomial noise.
    fake = Synthesizer(model="trees", random_state=0).fit(penguins).sample(3000, random_state=3)
    seen = set(zip(penguins["species"], penguins["island"], strict=True))
    unseen = [pair not in seen for pair in zip(fake["species"], fake["island"], strict=True)]
    assert np.mean(unseen) < 0.005


def test_summary_is_json_and_names_the_model(penguins, penguin_synth):
    summary = penguin_synth.summary()
    json.dumps(summary)
    assert [c["name"] for c in summary["columns"]] == list(penguins.columns)
    kinds = {c["name"]: c["kind"] for c in summary["columns"]}
    assert kinds["species"] == "categorical" and kinds["year"] == "integer"
    assert kinds["bill_length_mm"] == "continuous"
    assert summary["n_rows"] == 344 and summary["model"].startswith("SequentialTrees(")
    # one dimension per column, plus a missing indicator for each numeric column with NaN
    assert summary["n_model_dims"] == 8 + 4
    assert summary["dropped_ids"] == []


def test_auto_compares_families_by_held_out_detector_and_utility():
    data = load_wine(as_frame=True).frame
    data["target"] = data["target"].astype(str)
    synth = Synthesizer(random_state=0).fit(data)
    selection = synth.summary()["selection"]
    assert set(selection["detector_auc"]) == {"trees", "cells", "gaussian"}
    assert set(selection["utility_loss"]) == set(selection["detector_auc"])
    assert selection["utility_columns"][0] == "target"  # the only class label
    total = {
        family: max(auc, 0.5) + selection["utility_loss"][family]
        for family, auc in selection["detector_auc"].items()
    }
    # 178 rows: the 4-fold cross-fitting runs three times (12 fits per family).
    assert selection["repeats"] == 3 and selection["folds_used"] == dict.fromkeys(total, 12)
    # The winner's sum is the lowest up to the tie width (0.5 / sqrt(rows compared)).
    assert total[selection["winner"]] <= min(total.values()) + 0.5 / np.sqrt(3 * 178) + 1e-3
    assert "lowest sum of its held-out detector ROC AUC" in selection["reason"]


def test_small_tables_repeat_the_cross_fitting():
    from lookalike.tabular.models.selection import MAX_REPEATS, REPEAT_ROWS, repeats

    assert repeats(40) == MAX_REPEATS == 3 and repeats(REPEAT_ROWS // 3) == 3
    assert repeats(REPEAT_ROWS // 2) == 2 and repeats(REPEAT_ROWS) == 1 and repeats(10**6) == 1


def test_families_follow_the_target_or_the_likely_outcome():
    # Named target: it leads. Otherwise the first utility column: the last column when
    # it can be predicted (here a label), else the class label with fewest levels.
    rng = np.random.default_rng(0)
    n = 300
    table = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "grade": rng.choice(list("abcd"), n),
            "flag": rng.choice(["yes", "no"], n),
            "y": rng.normal(size=n),
        }
    )
    first = lambda synth: synth.fit(table).model_.first  # noqa: E731
    assert first(Synthesizer(model="trees", target="x", random_state=0)) == "x"
    assert first(Synthesizer(model="trees", random_state=0)) == "y"
    without_outcome = table.assign(y=0.0)  # a constant last column predicts nothing
    assert Synthesizer(model="trees", random_state=0).fit(without_outcome).model_.first == "flag"
    # An estimator the user configured keeps its own order.
    own = Synthesizer(model=SequentialTrees(order="given"), random_state=0).fit(table)
    assert own.model_.first is None and own.model_.order_ == list(table.columns)
    # Cells and the Gaussian family follow the same column: a label splits them.
    for family in ("cells", "gaussian"):
        assert first(Synthesizer(model=family, target="grade", random_state=0)) == "grade"
    split = Synthesizer(model="gaussian", target="grade", random_state=0).fit(table)
    assert split.model_.estimator_.n_components == 4
    # A number has no levels; the labels here explain nothing of the rest: one normal.
    plain = Synthesizer(model="gaussian", target="x", random_state=0).fit(table)
    assert type(plain.model_.estimator_).__name__ == "Gaussian"
    user = Synthesizer(model=CellMixture(), target="grade", random_state=0).fit(table)
    assert user.model_.first is None  # an estimator the user configured is kept as given


def test_auto_does_not_choose_a_family_that_loses_a_label():
    # A label whose link to x is not monotone in any order of its levels (x is centred
    # at 0 for "a", +3 for "b", -3 for "c"): a Gaussian copula keeps only a linear
    # link and predicts the label badly; trees and cells keep it. The table ends with
    # an unrelated label ("mood"), the first utility column, so the Gaussian family
    # fits one normal per mood, which does not help with "label". Six noise columns
    # keep the draws of trees and cells far enough from their training rows to pass
    # the distance-to-closest-record check. Deterministic (seeded).
    rng = np.random.default_rng(0)
    label = rng.choice(["a", "b", "c"], 600)
    centre = pd.Series(label).map({"a": 0.0, "b": 3.0, "c": -3.0}).to_numpy()
    x = centre + rng.normal(0, 0.5, 600)
    noise = {f"w{i}": rng.normal(size=600) for i in range(6)}
    mood = rng.choice(["calm", "cross"], 600)
    table = pd.DataFrame({"x": x, **noise, "label": label, "mood": mood})
    selection = Synthesizer(random_state=0).fit(table).selection_
    assert selection.utility_columns == ["mood", "label"]
    losses = selection.utility_losses
    assert losses["gaussian"] > 0.2 and max(losses["trees"], losses["cells"]) < 0.15, losses
    assert selection.winner != "gaussian"


def test_gaussian_family_keeps_the_label_it_splits_by():
    # The same non-monotone label as the target: the Gaussian family fits one copula
    # per level, so the drawn label follows x (a nearest-centre rule, right for 99.8%
    # of real rows, is right for 95% of drawn rows), where one normal for all rows keeps
    # only a linear link. A level's rows have their own piece of x's normal scores,
    # not a normal: each level maps them through its own marginal.
    rng = np.random.default_rng(0)
    label = rng.choice(["a", "b", "c"], 600)
    centres = {"a": 0.0, "b": 3.0, "c": -3.0}
    table = pd.DataFrame({"x": pd.Series(label).map(centres) + rng.normal(0, 0.5, 600)})
    table["label"] = label

    def agreement(model):
        fitted = Synthesizer(model=model, target="label", random_state=0).fit(table)
        drawn = fitted.sample(3000, random_state=1)
        nearest = np.array(list(centres))[
            np.argmin(np.abs(drawn["x"].to_numpy()[:, None] - list(centres.values())), axis=1)
        ]
        return fitted, float(np.mean(nearest == drawn["label"].to_numpy()))

    split, agreed = agreement("gaussian")
    assert split.model_.estimator_.n_components == 3 and agreed > 0.9
    described = split.summary()["model"]
    assert described == (
        "a Gaussian copula per level of 'label' (3 levels; 3 level-column marginals of "
        "their own, the others normal) on normal scores"
    )
    assert agreement(EstimatorModel(Gaussian(reg_covar=1e-4)))[1] < 0.7


def test_target_must_be_a_modelled_column(penguins):
    with pytest.raises(ValueError, match="target 'nope' is not a column"):
        Synthesizer(target="nope", random_state=0).fit(penguins)
    table = penguins.assign(tag=[f"id{i}" for i in range(len(penguins))])
    with pytest.raises(ValueError, match="an id column"):
        Synthesizer(kinds={"tag": "id"}, target="tag", random_state=0).fit(table)


def test_augment_checks_the_utility_of_its_target(penguins):
    synth = Synthesizer(random_state=0)
    out = synth.augment(penguins, "island", strategy={"Torgersen": 20}, random_state=0)
    assert synth.selection_.utility_columns == ["island"]
    assert (out["island"].iloc[len(penguins) :] == "Torgersen").all()


def test_reproducible_with_int_seed(penguins):
    a = Synthesizer(model="cells", random_state=7).fit(penguins).sample(100)
    b = Synthesizer(model="cells", random_state=7).fit(penguins).sample(100)
    pd.testing.assert_frame_equal(a, b)
    c = Synthesizer(model="cells", random_state=8).fit(penguins).sample(100)
    assert not a.equals(c)


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer])
def test_marginals_and_correlations_of_numeric_tables(loader):
    df = loader(as_frame=True).frame.drop(columns="target")
    fake = Synthesizer(model="gaussian", random_state=0).fit(df).sample(2000, random_state=0)
    for c in df.columns:  # every marginal is the column's own (codec), up to sampling noise
        assert stats.ks_2samp(fake[c], df[c]).pvalue > ALPHA, c
    difference = np.abs(fake.corr().to_numpy() - df.corr().to_numpy())
    assert difference.mean() < 0.08 and difference.max() < 0.3


@pytest.mark.parametrize("bounds", ["observed", "clip", None])
def test_class_shares_are_kept_under_every_bounds_setting(bounds):
    # Issue 19: rejection by observed bounds skewed the label shares (digits: 42% zeros).
    digits = load_digits(as_frame=True).frame.iloc[:600]
    digits["target"] = digits["target"].astype(str)
    fake = Synthesizer(model="cells", bounds=bounds, random_state=0).fit(digits).sample(1500)
    assert homogeneous(digits["target"], fake["target"]) > ALPHA
    pixels = digits.columns[:-1]
    if bounds is not None:
        assert (fake[pixels] >= digits[pixels].min()).all().all()
        assert (fake[pixels] <= digits[pixels].max()).all().all()


def test_kde_on_digits_produces_the_requested_rows():
    # Issue 19: model="kde" on digits accepted 3 of 1.4 million draws and failed.
    digits = load_digits(as_frame=True).frame.iloc[:400]
    rows = Synthesizer(model="kde", random_state=0).fit(digits).sample(200)
    assert len(rows) == 200 and set(rows.columns) == set(digits.columns)
    assert (rows[digits.columns[:-1]] % 1 == 0).all().all()  # integer intensities


def test_dates_on_their_grain_ids_booleans_and_category_dtype():
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "code": [f"C{k:05d}" for k in rng.permutation(n)],
            "model_year": pd.to_datetime(rng.integers(1990, 2020, n).astype(str)),
            "month": pd.date_range("2020-01-01", periods=24, freq="MS")[rng.integers(0, 24, n)],
            "stamp": pd.Timestamp("2021-06-01")
            + pd.to_timedelta(rng.integers(0, 10_000, n), "min"),
            "flag": rng.random(n) < 0.3,
            "grade": pd.Categorical(
                rng.choice(["a", "b", "c"], n), categories=["a", "b", "c", "d"]
            ),
            "amount": rng.lognormal(3, 1, n),
        }
    )
    synth = Synthesizer(model="trees", ids="regenerate", random_state=0).fit(df)
    kinds = {c["name"]: c["kind"] for c in synth.summary()["columns"]}
    assert kinds["customer_id"] == kinds["code"] == "id"
    assert kinds["model_year"] == kinds["month"] == kinds["stamp"] == "datetime"
    fake = synth.sample(500)
    assert fake.dtypes.astype(str).tolist() == df.dtypes.astype(str).tolist()
    assert fake["customer_id"].is_unique and not set(fake["customer_id"]) & set(df["customer_id"])
    assert fake["code"].str.fullmatch(r"C\d{5}").all() and not set(fake["code"]) & set(df["code"])
    assert ((fake["model_year"].dt.month == 1) & (fake["model_year"].dt.day == 1)).all()
    assert (fake["month"].dt.day == 1).all()
    assert (fake["stamp"].dt.second == 0).all()
    assert list(fake["grade"].cat.categories) == ["a", "b", "c", "d"]
    assert set(fake["grade"]) <= {"a", "b", "c"}
    dropped = Synthesizer(model="trees", random_state=0).fit(df)
    assert "customer_id" not in dropped.sample(5).columns
    assert dropped.summary()["dropped_ids"] == ["customer_id", "code"]
    window = synth.sample(50, where={"stamp": ("2021-06-02", "2021-06-03"), "flag": True})
    assert window["stamp"].between("2021-06-02", "2021-06-03").all() and window["flag"].all()


def test_columns_that_were_dropped_silently_are_modelled():
    # Issue 12: tz-aware datetimes, Period, Interval, a declared categorical and a
    # 2-row table all lost columns.
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "tz": pd.date_range("2021-01-01", periods=n, freq="h", tz="America/New_York"),
            "period": pd.period_range("2020-01", periods=n, freq="M"),
            "interval": pd.cut(rng.random(n), 3),
            "number": rng.integers(0, 5, n),
        }
    )
    synth = Synthesizer(model="trees", kinds={"number": "categorical"}, random_state=0).fit(df)
    fake = synth.sample(50)
    assert list(fake.columns) == list(df.columns)
    assert fake.dtypes.astype(str).tolist() == df.dtypes.astype(str).tolist()
    tiny = pd.DataFrame({"a": ["x", "y"], "b": [1.5, 2.5], "c": ["p", "q"]})
    assert list(Synthesizer(model="trees", random_state=0).fit(tiny).sample(3).columns) == [
        "a",
        "b",
        "c",
    ]


def test_sample_sizes():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0] * 10, "b": list("xyz") * 10})
    synth = Synthesizer(model="gaussian", random_state=0).fit(df)
    empty = synth.sample(0)
    assert empty.shape == (0, 2) and empty.dtypes.astype(str).tolist() == ["float64", "str"]
    for bad in (True, -1, 2.5, "3"):
        with pytest.raises(ValueError, match="n must be a non-negative int"):
            synth.sample(bad)
    for huge in (10**12, 2**63):
        with pytest.raises(ValueError, match="GiB of memory"):
            synth.sample(huge)


def test_constraints_hold_in_every_row():
    rng = np.random.default_rng(1)
    n = 400
    start = rng.normal(10, 3, n)
    parts = rng.dirichlet([2, 3, 5], n) * 100
    df = pd.DataFrame(
        {
            "start": start,
            "end": start + rng.gamma(2, 1, n),
            "a": parts[:, 0],
            "b": parts[:, 1],
            "c": parts[:, 2],
            "x": rng.normal(0, 1, n),
        }
    )
    constraints = [Bounds("x", 0, None), Order("start", "end"), FixedSum(["a", "b", "c"], 100)]
    synth = Synthesizer(model="gaussian", constraints=constraints, random_state=0).fit(df)
    fake = synth.sample(1000)
    assert (fake["x"] >= 0).all() and (fake["start"] <= fake["end"]).all()
    assert np.allclose(fake[["a", "b", "c"]].sum(axis=1), 100.0, rtol=1e-12)
    # A narrow range is met by the model, not by rejection: no warning.
    rows = synth.sample(20, where={"x": (2.5, 3.5)})
    assert rows["x"].between(2.5, 3.5).all()
    strict = Synthesizer(
        model="gaussian", constraints=[Order("start", "start", strict=True)], random_state=0
    )
    with pytest.raises(ValueError, match="satisfied the Order/FixedSum constraints"):
        strict.fit(df).sample(20)


def test_augment_balance_and_dict(penguins):
    synth = Synthesizer(model="trees", random_state=0)
    balanced = synth.augment(penguins, "species")
    counts = balanced["species"].value_counts()
    assert counts.nunique() == 1 and counts.iloc[0] == penguins.species.value_counts().max()
    pd.testing.assert_frame_equal(balanced.iloc[: len(penguins)], penguins)
    extra = synth.augment(penguins, "species", {"Chinstrap": 30, "Gentoo": 5}, random_state=3)
    added = extra.iloc[len(penguins) :]
    assert added["species"].value_counts().to_dict() == {"Chinstrap": 30, "Gentoo": 5}


def test_errors(penguins):
    with pytest.raises(TypeError, match="pandas DataFrame"):
        Synthesizer().fit(penguins.to_numpy())
    with pytest.raises(ValueError, match="empty"):
        Synthesizer().fit(penguins.iloc[:0])
    with pytest.raises(ValueError, match="'blank' has no observed value"):
        Synthesizer().fit(penguins.assign(blank=np.nan))
    with pytest.raises(ValueError, match="unknown column 'nope' in kinds"):
        Synthesizer(kinds={"nope": "integer"}).fit(penguins)
    with pytest.raises(ValueError, match="unknown column 'nope' in constraints"):
        Synthesizer(constraints=[Bounds("nope", 0, 1)]).fit(penguins)
    with pytest.raises(NotFittedError):
        Synthesizer().sample(3)
    synth = Synthesizer(model="gaussian", random_state=0).fit(penguins)
    with pytest.raises(ValueError, match="unknown column 'x' in where; columns are: species"):
        synth.sample(3, where={"x": 1})
    with pytest.raises(ValueError, match="value 'Emperor' is not a category of column 'species'"):
        synth.sample(3, where={"species": "Emperor"})
    with pytest.raises(ValueError, match="outside the column's observed range"):
        synth.sample(3, where={"body_mass_g": 10.0})
    with pytest.raises(ValueError, match="cannot read 'not-a-date'"):
        Synthesizer(model="gaussian").fit(
            pd.DataFrame({"t": pd.date_range("2020-01-01", periods=30)})
        ).sample(3, where={"t": "not-a-date"})
    with pytest.raises(ValueError, match="model must be one of"):
        Synthesizer(model="nope").fit(penguins)


def test_estimator_instances_and_rejection_fallback(penguins):
    synth = Synthesizer(model=GaussianMixture(3), random_state=0).fit(penguins)
    assert synth.model_.estimator_.n_components == 3
    tuned = Synthesizer(model=SequentialTrees(min_samples_leaf=20), random_state=0).fit(penguins)
    assert tuned.model_.min_samples_leaf == 20
    cells = Synthesizer(model=CellMixture(cell_size=4), random_state=0).fit(penguins)
    assert cells.model_.cell_size == 4
    reduced = Synthesizer(model=ReducedDensity(GaussianMixture(2)), random_state=0).fit(penguins)
    rows = reduced.sample(100, where={"species": "Chinstrap"})  # no mixture form: rejection
    assert set(rows["species"]) == {"Chinstrap"}
    assert 0 < reduced.model_.acceptance_ < 1
    kde = Synthesizer(model=KernelDensity(bandwidth=0.3), random_state=0).fit(penguins)
    assert set(kde.sample(50, where={"island": "Dream"})["island"]) == {"Dream"}


def test_missingness_depends_on_other_columns():
    # y is missing only when g == "b": the joint models built for mixed tables must keep
    # that link. (The copula families "gaussian" and "gmm" see a category through its
    # randomised normal score, which attenuates a dependence between two discrete
    # dimensions: they keep its direction only, as the last lines check.)
    rng = np.random.default_rng(3)
    n = 600
    g = rng.choice(["a", "b"], n)
    y = rng.normal(0, 1, n)
    y[(g == "b") & (rng.random(n) < 0.5)] = np.nan
    df = pd.DataFrame({"g": g, "y": y})
    for family in ("trees", "cells", "gmm"):
        fake = Synthesizer(model=family, random_state=0).fit(df).sample(3000, random_state=0)
        rate_a = fake.loc[fake.g == "a", "y"].isna().mean()
        rate_b = fake.loc[fake.g == "b", "y"].isna().mean()
        # real rates 0 and 0.5; binomial sd of rate_b with ~1500 rows is 0.013, so a
        # difference of 0.1 is 5 sd away from equal rates
        if family == "gmm":
            assert rate_b - rate_a > 0.1, family
        else:
            assert rate_a < 0.05 and abs(rate_b - 0.5) < 0.08, family


def test_where_on_a_rare_class_returns_that_class():
    data = load_breast_cancer(as_frame=True).frame
    data["target"] = data["target"].astype(str)
    rng = np.random.default_rng(2)
    rare = np.flatnonzero(data["target"].to_numpy() == "0")
    keep = np.ones(len(data), dtype=bool)
    keep[rare] = False
    keep[rng.choice(rare, size=15, replace=False)] = True
    small = data[keep].reset_index(drop=True)
    for family in ("gmm", "trees", "cells"):
        rows = Synthesizer(family, random_state=2).fit(small).sample(200, where={"target": "0"})
        assert set(rows["target"]) == {"0"}
        if family == "gmm":
            continue  # a few Gaussians on ordered scores barely see a 15-row class
        real_rare = small.loc[small["target"] == "0", "mean radius"].mean()
        real_common = small.loc[small["target"] == "1", "mean radius"].mean()
        generated = rows["mean radius"].mean()
        assert abs(generated - real_rare) < abs(generated - real_common), family


@pytest.mark.slow
def test_bounds_hold_where_rejection_over_many_columns_would_accept_nothing():
    # A KDE on 64 pixel columns puts a third of each column's draws outside 0..16: hardly
    # any row is inside every range, so rejection would accept nothing. Observed bounds are
    # exact ranges of each column's marginal instead, met by every row.
    from sklearn.datasets import load_digits

    pixels = load_digits(as_frame=True).frame.drop(columns="target").iloc[:300]
    model = KernelDensity(bandwidth=1.0)
    for bounds in ("observed", "clip"):
        rows = Synthesizer(model, bounds=bounds, random_state=0).fit(pixels).sample(50)
        assert list(rows.columns) == list(pixels.columns)
        assert (rows.dtypes == pixels.dtypes).all()
        assert (rows >= pixels.min()).all().all() and (rows <= pixels.max()).all().all()


@pytest.mark.slow
def test_a_wide_categorical_fits_in_bounded_memory():
    # Issue 13: a 1,906-level column one-hot encoded made a fit reach 21.6 GB. A categorical
    # column is one model dimension whatever its levels: 50k rows x 10 columns with a
    # 2,000-level column peak at about 20 MiB of traced memory (measured); one-hot would need
    # 50k x 2,000 x 8 bytes = 763 MiB for the encoded matrix alone.
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 50_000
    merchants = np.array([f"m{i:04d}" for i in range(2000)])
    shares = 1.0 / np.arange(1, 2001)
    shares /= shares.sum()
    table = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3, 1, n), 2),
            "items": rng.poisson(3, n),
            "merchant": rng.choice(merchants, n, p=shares),
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, n), "s"),
            "flag": rng.random(n) < 0.3,
            "score": rng.normal(size=n),
            "age": rng.integers(18, 90, n),
            "ratio": rng.beta(2, 5, n),
            "zeroes": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(5, n)),
            "code": rng.choice(list("ABCDE"), n),
        }
    )
    table.loc[rng.random(n) < 0.1, "amount"] = np.nan
    tracemalloc.start()
    try:
        synth = Synthesizer(model="gaussian", random_state=0).fit(table)
        fake = synth.sample(n, random_state=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert synth.summary()["n_model_dims"] <= 12  # 10 columns + amount's missing indicator
    assert set(fake["merchant"]) <= set(merchants)
    # The top merchant's share (12.2%) comes back within 5 binomial sd (0.0015 each).
    top = (table["merchant"] == "m0000").mean()
    assert abs((fake["merchant"] == "m0000").mean() - top) < 5 * np.sqrt(top * (1 - top) / n)


def test_auto_stops_at_its_time_budget(monkeypatch, penguins):
    # Issue 12: "auto" on 50 rows x 1000 columns took minutes. Past the budget a family
    # is scored on the folds it finished and the families not started are skipped.
    from lookalike.tabular.models import selection

    monkeypatch.setattr(selection, "TIME_BUDGET", 0.0)
    synth = Synthesizer(random_state=0).fit(penguins)
    described = synth.summary()["selection"]
    assert described["folds_used"] == {"trees": 1}
    assert described["skipped"] == ["cells", "gaussian"]
    assert described["winner"] == "trees" and synth.model_.__class__.__name__ == "SequentialTrees"


def test_text_dates_are_compared_as_dates_by_auto_and_evaluate():
    # A column of text dates is a datetime column for the codecs; the selection's
    # detector and utility check and evaluate() compare it as dates (it failed with
    # "is a date in real but not in real" before).
    from lookalike.evaluation import evaluate

    rng = np.random.default_rng(0)
    n = 200
    days = rng.integers(0, 90, n)
    table = pd.DataFrame(
        {
            "when": (pd.Timestamp("2020-05-01") + pd.to_timedelta(days, unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "amount": days * 2.0 + rng.normal(size=n),
            "kind": rng.choice(["a", "b"], n),
        }
    )
    synth = Synthesizer(random_state=0).fit(table)
    assert synth.selection_ is not None and synth.selection_.scores
    fake = synth.sample(n, random_state=1)
    report = evaluate(table, fake)
    assert report.kinds["when"] == "numeric"
    shuffled = fake.assign(when=fake["when"].sample(frac=1, random_state=0).to_numpy())
    # The dates' link to the amount is seen: breaking it is noticed by the detector.
    assert evaluate(table, shuffled).detector.auc > report.detector.auc
