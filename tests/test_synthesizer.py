"""Synthesizer on real tables (penguins, wine, breast cancer) and built frames.

Statistical checks state their oracle and tolerance; sample sizes keep the
false-failure rate of each below about 1e-3 (binomial and multinomial bounds).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_wine

from lookalike.exceptions import NotFittedError
from lookalike.kde import KernelDensity
from lookalike.tabular import Bounds, FixedSum, LowAcceptanceWarning, Order, Synthesizer

N = 2000


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="module")
def penguin_synth(penguins: pd.DataFrame) -> Synthesizer:
    return Synthesizer(model="gmm", random_state=0).fit(penguins)


@pytest.fixture(scope="module")
def penguin_sample(penguin_synth: Synthesizer) -> pd.DataFrame:
    return penguin_synth.sample(N, random_state=1)


def test_round_trip_of_columns_and_dtypes(penguins, penguin_sample):
    assert list(penguin_sample.columns) == list(penguins.columns)
    assert penguin_sample.dtypes.astype(str).tolist() == penguins.dtypes.astype(str).tolist()
    assert len(penguin_sample) == N


def test_categories_observed_and_frequencies_close(penguins, penguin_sample):
    for name in ("species", "island", "sex"):
        real = penguins[name].value_counts(normalize=True)
        fake = penguin_sample[name].value_counts(normalize=True)
        assert set(fake.index) <= set(real.index)
        total_variation = 0.5 * (fake.reindex(real.index, fill_value=0) - real).abs().sum()
        # Sampling noise of 2000 draws is ~0.02; the model may add a little more.
        assert total_variation < 0.06, (name, total_variation)


def test_missing_rates_within_binomial_error(penguins, penguin_sample):
    # The real rate has its own error (344 rows): compare two binomial proportions,
    # two-sided at alpha = 1e-3.
    for name in penguins.columns:
        p_real = penguins[name].isna().mean()
        p_fake = penguin_sample[name].isna().mean()
        pooled = (p_real * len(penguins) + p_fake * N) / (len(penguins) + N)
        se = np.sqrt(pooled * (1 - pooled) * (1 / len(penguins) + 1 / N)) + 1e-12
        assert abs(p_real - p_fake) <= 3.3 * se + 1e-12, (name, p_real, p_fake)
    assert penguin_sample["sex"].isna().any()  # missingness is generated, not imputed away


def test_numeric_values_in_observed_range_and_integers(penguins, penguin_sample):
    for name in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"):
        values = penguin_sample[name].dropna()
        assert values.min() >= penguins[name].min() and values.max() <= penguins[name].max()
    years = penguin_sample["year"]
    assert years.dtype == np.int64 and set(years) <= {2007, 2008, 2009}
    flipper = penguin_sample["flipper_length_mm"].dropna()
    assert np.all(flipper == np.round(flipper))
    bill = penguin_sample["bill_length_mm"].dropna()
    assert np.allclose(bill, np.round(bill, 1))  # observed resolution: one decimal


def test_where_category_matches_conditional_distribution(penguins, penguin_synth):
    gentoo = penguin_synth.sample(N, where={"species": "Gentoo"}, random_state=2)
    assert set(gentoo["species"]) == {"Gentoo"}
    real = penguins.loc[penguins["species"] == "Gentoo", "body_mass_g"].dropna()
    everything = penguin_synth.sample(N, random_state=3)["body_mass_g"].dropna()
    conditional = stats.ks_2samp(gentoo["body_mass_g"].dropna(), real).statistic
    unconditional = stats.ks_2samp(everything, real).statistic
    assert conditional < 0.5 * unconditional
    assert set(gentoo["island"]) <= set(penguins.loc[penguins.species == "Gentoo", "island"])


def test_where_range_is_respected(penguins, penguin_synth):
    rows = penguin_synth.sample(300, where={"body_mass_g": (4000, 4500)}, random_state=4)
    assert rows["body_mass_g"].between(4000, 4500).all()
    both = penguin_synth.sample(
        200, where={"species": "Adelie", "bill_length_mm": (38, None)}, random_state=4
    )
    assert (both["bill_length_mm"] >= 38).all() and set(both["species"]) == {"Adelie"}


def test_where_exact_number(penguin_synth):
    rows = penguin_synth.sample(50, where={"year": 2008}, random_state=5)
    assert set(rows["year"]) == {2008}


def test_summary_is_json_and_complete(penguin_synth, penguins):
    summary = penguin_synth.summary()
    json.dumps(summary)
    assert [c["name"] for c in summary["columns"]] == list(penguins.columns)
    kinds = {c["name"]: c["kind"] for c in summary["columns"]}
    assert kinds["species"] == "categorical" and kinds["year"] == "integer"
    assert kinds["bill_length_mm"] == "continuous"
    assert summary["n_rows"] == 344 and summary["criterion"] == "bic"
    assert summary["model"].startswith("GaussianMixture(n_components=")
    # 3 + 3 + 2 one-hot, 5 numeric, 5 missing indicators
    assert summary["n_features_encoded"] == 18


def test_reproducible_with_int_seed(penguins):
    a = Synthesizer(model="gaussian", random_state=7).fit(penguins).sample(100)
    b = Synthesizer(model="gaussian", random_state=7).fit(penguins).sample(100)
    pd.testing.assert_frame_equal(a, b)
    c = Synthesizer(model="gaussian", random_state=8).fit(penguins).sample(100)
    assert not a.equals(c)


def test_auto_model_under_two_seconds_order_of_magnitude(penguins):
    synth = Synthesizer(random_state=0).fit(penguins)
    assert synth.summary()["criterion"] == "cv"
    assert len(synth.sample(10)) == 10


def test_kde_model_conditions_exactly(penguins):
    synth = Synthesizer(model="kde", random_state=0).fit(penguins)
    rows = synth.sample(1000, where={"island": "Torgersen"}, random_state=0)
    assert set(rows["island"]) == {"Torgersen"}
    # Only Adelie penguins live on Torgersen; the smoothed model keeps most of that.
    assert (rows["species"] == "Adelie").mean() > 0.85


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer])
def test_marginals_and_correlations_of_numeric_tables(loader):
    df = loader(as_frame=True).frame.drop(columns="target")
    synth = Synthesizer(model="gmm", random_state=0).fit(df)
    fake = synth.sample(2000, random_state=0)
    ks = [stats.ks_2samp(fake[c], df[c]).statistic for c in df.columns]
    # KS of two samples of the same law with 2000 and ~200-570 rows is ~0.05 on average.
    assert np.mean(ks) < 0.12, np.mean(ks)
    difference = np.abs(fake.corr().to_numpy() - df.corr().to_numpy())
    assert difference.mean() < 0.08 and difference.max() < 0.4


def test_datetimes_ids_booleans_and_category_dtype():
    rng = np.random.default_rng(0)
    n = 300
    days = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    stamps = pd.to_datetime("2021-06-01") + pd.to_timedelta(rng.integers(0, 10_000, n), unit="min")
    df = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "code": [f"C{k:05d}" for k in rng.permutation(n)],
            "day": days,
            "stamp": stamps,
            "flag": rng.random(n) < 0.3,
            "grade": pd.Categorical(
                rng.choice(["a", "b", "c"], n), categories=["a", "b", "c", "d"]
            ),
            "amount": rng.lognormal(3, 1, n),
        }
    )
    synth = Synthesizer(model="gaussian", ids="regenerate", random_state=0).fit(df)
    kinds = {c["name"]: c["kind"] for c in synth.summary()["columns"]}
    assert kinds == {
        "customer_id": "id",
        "code": "id",
        "day": "datetime",
        "stamp": "datetime",
        "flag": "boolean",
        "grade": "categorical",
        "amount": "continuous",
    }
    assert synth.summary()["columns"][-1]["transform"] in ("yeo-johnson", "quantile")
    fake = synth.sample(500)
    assert fake.dtypes.astype(str).tolist() == df.dtypes.astype(str).tolist()
    assert fake["customer_id"].is_unique and not set(fake["customer_id"]) & set(df["customer_id"])
    assert fake["code"].is_unique and not set(fake["code"]) & set(df["code"])
    assert fake["code"].str.fullmatch(r"C\d{5}").all()
    assert (fake["day"] == fake["day"].dt.normalize()).all()  # dates stay dates
    assert fake["day"].between(df["day"].min(), df["day"].max()).all()
    assert (fake["stamp"].dt.second == 0).all()  # minute resolution
    assert list(fake["grade"].cat.categories) == ["a", "b", "c", "d"]
    assert set(fake["grade"]) <= {"a", "b", "c"}
    assert fake["flag"].dtype == bool and 0.2 < fake["flag"].mean() < 0.4
    dropped = Synthesizer(model="gaussian", random_state=0).fit(df).sample(5)
    assert "customer_id" not in dropped.columns and "code" not in dropped.columns
    with pytest.warns(LowAcceptanceWarning):  # one month of a year: ~8% accepted
        window = synth.sample(50, where={"day": ("2020-03-01", "2020-03-31"), "flag": True})
    assert window["day"].between("2020-03-01", "2020-03-31").all() and window["flag"].all()


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
    synth = Synthesizer(model="gmm", constraints=constraints, random_state=0).fit(df)
    fake = synth.sample(1000)
    assert (fake["x"] >= 0).all() and (fake["start"] <= fake["end"]).all()
    assert np.allclose(fake[["a", "b", "c"]].sum(axis=1), 100.0, rtol=1e-12)
    with pytest.warns(LowAcceptanceWarning, match=r"Only \d+\.\d% of the generated rows"):
        rows = synth.sample(20, where={"x": (2.5, 3.5)})
    assert rows["x"].between(2.5, 3.5).all()


def test_augment_balance_and_dict(penguins):
    synth = Synthesizer(model="gmm", random_state=0)
    balanced = synth.augment(penguins, "species")
    counts = balanced["species"].value_counts()
    assert counts.nunique() == 1 and counts.iloc[0] == penguins.species.value_counts().max()
    pd.testing.assert_frame_equal(balanced.iloc[: len(penguins)], penguins)
    extra = synth.augment(penguins, "species", {"Chinstrap": 30, "Gentoo": 5}, random_state=3)
    added = extra.iloc[len(penguins) :]
    assert added["species"].value_counts().to_dict() == {"Chinstrap": 30, "Gentoo": 5}
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    merged = added[numeric].merge(penguins[numeric].drop_duplicates(), how="inner")
    assert len(merged) == 0  # no copies of real rows


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
    with pytest.raises(ValueError, match="model must be one of"):
        Synthesizer(model="nope").fit(penguins)


def test_estimator_instance_and_rejection_fallback(penguins):
    from lookalike.mixture import GaussianMixture
    from lookalike.reduced import ReducedDensity

    synth = Synthesizer(model=GaussianMixture(3), random_state=0).fit(penguins)
    assert synth.model_.n_components == 3 and synth.model_ is not synth.model
    reduced = Synthesizer(model=ReducedDensity(GaussianMixture(2)), random_state=0).fit(penguins)
    rows = reduced.sample(100, where={"species": "Chinstrap"})  # no condition(): rejection
    assert set(rows["species"]) == {"Chinstrap"}
    with pytest.raises(ValueError, match="no exact conditionals"):
        reduced.sample(5, where={"bill_length_mm": 40.0})


def test_missingness_depends_on_other_columns():
    # y is missing only when g == "b": the joint model must keep that link.
    rng = np.random.default_rng(3)
    n = 600
    g = rng.choice(["a", "b"], n)
    y = rng.normal(0, 1, n)
    y[(g == "b") & (rng.random(n) < 0.5)] = np.nan
    df = pd.DataFrame({"g": g, "y": y})
    fake = Synthesizer(model="gmm", random_state=0).fit(df).sample(3000, random_state=0)
    rate_a = fake.loc[fake.g == "a", "y"].isna().mean()
    rate_b = fake.loc[fake.g == "b", "y"].isna().mean()
    # real rates 0 and 0.5; binomial sd of rate_b with ~1500 rows is 0.013
    assert rate_a < 0.05 and abs(rate_b - 0.5) < 0.08


def test_where_on_a_rare_class_returns_that_class():
    # Regression: decoding applied the calibration offsets to the fixed one-hot vector,
    # and a rare class's large offset turned every conditioned row into the common class.
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data["target"] = data["target"].astype(str)
    rng = np.random.default_rng(2)
    rare = np.flatnonzero(data["target"].to_numpy() == "0")
    keep = np.ones(len(data), dtype=bool)
    keep[rare] = False
    keep[rng.choice(rare, size=15, replace=False)] = True
    small = data[keep].reset_index(drop=True)
    synth = Synthesizer("gmm", random_state=2).fit(small)
    rows = synth.sample(200, where={"target": "0"}, random_state=2)
    assert set(rows["target"]) == {"0"}
    # The conditioned rows look like the rare class, not the common one.
    real_rare = small.loc[small["target"] == "0", "mean radius"].mean()
    real_common = small.loc[small["target"] == "1", "mean radius"].mean()
    generated = rows["mean radius"].mean()
    assert abs(generated - real_rare) < abs(generated - real_common)


@pytest.mark.slow
def test_clip_bounds_when_rejection_over_many_columns_accepts_nothing():
    # A KDE on 64 pixel columns puts a third of each column's draws outside 0..16: hardly
    # any row is inside every range, so rejection fails with a message naming "clip".
    from sklearn.datasets import load_digits

    pixels = load_digits(as_frame=True).frame.drop(columns="target").iloc[:300]
    model = KernelDensity(bandwidth=1.0)
    with pytest.raises(ValueError, match="bounds='clip'"):
        Synthesizer(model, random_state=0).fit(pixels).sample(50)
    rows = Synthesizer(model, bounds="clip", random_state=0).fit(pixels).sample(50)
    assert list(rows.columns) == list(pixels.columns)
    assert (rows.dtypes == pixels.dtypes).all()
    assert (rows >= pixels.min()).all().all() and (rows <= pixels.max()).all().all()
