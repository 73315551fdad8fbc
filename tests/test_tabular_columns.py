"""Column codecs: kinds, exact round trips, exact marginals, parsing and conditions.

Oracles: the column itself (round trips), its observed shares (chi-square tests at
alpha = 1e-3, the false-failure rate of each) and its observed range and grain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lookalike.tabular.columns import CODECS, KINDS, infer_kind, make_codec
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.schema import fit_codecs

ALPHA = 1e-3
N = 3000


def _table(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "reading": rng.choice(np.round(np.linspace(0, 15, 31), 1), n),  # 31 levels
            "amount": np.round(rng.lognormal(3, 1, n), 2),
            "pixel": rng.choice([0.0, 0, 0, 1, 5, 16], n),
            "count": rng.poisson(3, n),
            "colour": rng.choice(list("ABCD"), n, p=[0.86, 0.10, 0.03, 0.01]),
            "flag": rng.random(n) < 0.3,
            "day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "year": pd.to_datetime(rng.choice(["1990-01-01", "2000-01-01", "2010-01-01"], n)),
            "month": pd.Timestamp("2001-01-01"),
            "local": (
                pd.Timestamp("2021-10-30")
                + pd.to_timedelta(rng.integers(0, 3 * 24 * 4, n) * 15, "min")
            ).tz_localize(
                "Europe/Paris", ambiguous=np.zeros(n, bool), nonexistent="shift_forward"
            ),
            "quarter": pd.period_range("2000Q1", periods=40, freq="Q")[rng.integers(0, 40, n)],
            "text_time": (
                pd.Timestamp("2022-05-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s")
            ).strftime("%d/%m/%Y %H:%M:%S"),
            "bucket": pd.cut(rng.random(n), 4),
            "wait": pd.to_timedelta(rng.integers(0, 100, n), "s"),
            "grade": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), ["lo", "mid", "hi", "top"], ordered=True
            ),
        }
    )
    months = pd.date_range("2001-01-01", periods=24, freq="MS")
    frame["month"] = months[rng.integers(0, 24, n)]
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.05, "colour"] = None
    frame.loc[rng.random(n) < 0.05, "day"] = pd.NaT
    return frame


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def codecs(table):
    return fit_codecs(table)


def test_kinds_are_inferred_in_one_place(table, codecs):
    kinds = {c.name: c.kind for c in codecs}
    assert kinds == {
        "reading": "continuous",
        "amount": "continuous",
        "pixel": "integer",
        "count": "integer",
        "colour": "categorical",
        "flag": "boolean",
        "day": "datetime",
        "year": "datetime",
        "month": "datetime",
        "local": "datetime",
        "quarter": "datetime",
        "text_time": "datetime",
        "bucket": "categorical",
        "wait": "integer",
        "grade": "categorical",
    }
    assert set(CODECS) == set(KINDS)
    assert all(infer_kind(table[c.name]) == c.kind for c in codecs)


@pytest.mark.parametrize("layout", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y %H:%M"])
def test_text_dates_keep_their_format_when_the_first_value_is_ambiguous(layout):
    # "01/02/2024" reads month first and day first; "13/01/2024" further down says which.
    days = pd.to_datetime(["2024-02-01", "2024-01-13", "2024-03-05", "2024-12-31"] * 10)
    text = pd.Series(days.strftime(layout), name="when")
    codec = fit_codecs(text.to_frame())[0]
    assert codec.kind == "datetime" and codec.text_format == layout
    rng = np.random.default_rng(0)
    pd.testing.assert_series_equal(codec.decode(codec.encode(text, rng)), text, check_names=False)


def test_ids_need_enough_rows_and_distinct_values():
    names = pd.Series([f"n{k}" for k in range(30)], name="name")
    assert infer_kind(names) == "id"
    assert infer_kind(names.iloc[:2]) == "categorical"  # a 2-row table has no ids
    assert infer_kind(pd.Series(np.arange(30), name="row")) == "id"
    assert infer_kind(pd.Series(np.arange(30) * 7, name="weight")) == "integer"
    assert infer_kind(pd.Series(np.arange(30) * 7, name="order_id")) == "id"


def test_every_observed_value_round_trips(table, codecs):
    rng = np.random.default_rng(1)
    for codec in codecs:
        back = codec.decode(codec.encode(table[codec.name], rng))
        pd.testing.assert_series_equal(
            back, table[codec.name].reset_index(drop=True), check_names=False
        )


def test_standard_normal_scores_decode_to_the_observed_marginal(table, codecs):
    rng = np.random.default_rng(2)
    n = 20_000
    for codec in codecs:
        real = table[codec.name]
        fake = codec.decode(rng.standard_normal((n, len(codec.dims))))
        assert fake.dtype == real.dtype, codec.name
        shares_real = real.astype(str).value_counts()
        shares_fake = fake.astype(str).value_counts()
        if shares_real.size <= 60:  # atoms and levels at their rates
            levels = shares_real.index.union(shares_fake.index)
            contingency = np.vstack(
                [
                    shares_real.reindex(levels, fill_value=0),
                    shares_fake.reindex(levels, fill_value=0),
                ]
            )
            assert stats.chi2_contingency(contingency)[1] > ALPHA, codec.name
            assert set(shares_fake.index) <= set(shares_real.index), codec.name
        if codec.kind in ("continuous", "integer") and not str(real.dtype).startswith("time"):
            observed = real.dropna()
            drawn = fake.dropna()
            assert drawn.min() >= observed.min() and drawn.max() <= observed.max()
            assert stats.ks_2samp(observed, drawn).pvalue > ALPHA, codec.name


def test_atoms_of_a_quantised_column_stay_atoms(table, codecs):
    reading = next(c for c in codecs if c.name == "reading")
    fake = reading.decode(np.random.default_rng(3).standard_normal((5000, 1)))
    assert set(fake) <= set(table["reading"])  # 31 levels in, the same 31 out
    amount = next(c for c in codecs if c.name == "amount")
    values = amount.decode(np.random.default_rng(4).standard_normal((5000, 2))).dropna()
    assert np.allclose(values, np.round(values, 2))  # the observed resolution


def test_calendar_grains(table, codecs):
    rng = np.random.default_rng(5)
    by_name = {c.name: c for c in codecs}
    years = by_name["year"].decode(rng.standard_normal((2000, 1)))
    assert set(years) <= set(table["year"])  # whole decades: the grid of observed steps
    months = by_name["month"].decode(rng.standard_normal((2000, 1)))
    assert (months.dt.day == 1).all() and (months.dt.hour == 0).all()
    local = by_name["local"].decode(rng.standard_normal((2000, 1)))
    assert str(local.dt.tz) == "Europe/Paris" and local.notna().all()
    assert (local.dt.minute % 15 == 0).all()  # the 15-minute grid, across the DST change
    quarters = by_name["quarter"].decode(rng.standard_normal((100, 1)))
    assert str(quarters.dtype) == "period[Q-DEC]"
    text = by_name["text_time"].decode(rng.standard_normal((100, 1)))
    assert text.str.fullmatch(r"\d\d/\d\d/2022 \d\d:\d\d:\d\d").all()
    assert by_name["year"].describe()["grain"] == "year"
    assert by_name["month"].describe()["grain"] == "month"


def test_a_high_cardinality_column_costs_one_dimension():
    rng = np.random.default_rng(6)
    merchants = pd.Series(rng.choice([f"m{k}" for k in range(2000)], 20_000), name="merchant")
    codec = make_codec("merchant", "categorical").fit(merchants)
    assert len(codec.dims) == 1 and codec.dims[0].levels == merchants.nunique()


def test_parse_text_values(codecs):
    by_name = {c.name: c for c in codecs}
    assert by_name["colour"].parse("B") == "B"
    assert by_name["flag"].parse("yes") is True
    assert by_name["count"].parse("4") == 4
    assert by_name["day"].parse("2020-03-01") == pd.Timestamp("2020-03-01")
    with pytest.raises(ValueError, match=r"holds whole numbers; 2\.5 is not one"):
        by_name["count"].parse("2.5")
    with pytest.raises(ValueError, match="cannot read 'not-a-date' as one"):
        by_name["day"].parse("not-a-date")
    with pytest.raises(ValueError, match="not a category of column 'colour'"):
        by_name["colour"].parse("Z")


def test_conditions_select_exactly_the_wanted_values(table, codecs):
    encoder = TableEncoder(codecs)
    rng = np.random.default_rng(7)
    for name, value, check in [
        ("colour", "D", lambda s: (s == "D").all()),
        ("amount", (20.0, 40.0), lambda s: s.between(20, 40).all()),
        ("count", 4, lambda s: (s == 4).all()),
        (
            "day",
            ("2020-03-01", "2020-03-31"),
            lambda s: s.between("2020-03-01", "2020-03-31").all(),
        ),
        ("year", "2000-01-01", lambda s: (s == pd.Timestamp("2000-01-01")).all()),
    ]:
        conditions = encoder.conditions({name: value})
        start, stop = encoder.spans[name]
        z = np.empty((500, stop - start))
        for j, condition in conditions.items():
            if condition[0] == "interval":
                low, high = stats.norm.cdf(condition[1]), stats.norm.cdf(condition[2])
                z[:, j - start] = stats.norm.ppf(rng.uniform(low, high, 500))
            else:
                z[:, j - start] = condition[1]
        assert check(encoder.codec(name).decode(z)), name


def test_bad_columns_are_named(table):
    with pytest.raises(ValueError, match="'z': complex data not supported"):
        fit_codecs(pd.DataFrame({"z": np.array([1 + 2j, 3j])}))
    with pytest.raises(ValueError, match="Column 'cells' holds list values"):
        fit_codecs(pd.DataFrame({"cells": [[1, 2], [3]]}))
    with pytest.raises(ValueError, match="holds infinite values"):
        fit_codecs(pd.DataFrame({"x": [1.0, np.inf]}))
    with pytest.raises(ValueError, match="declared integer but holds fractional"):
        fit_codecs(pd.DataFrame({"x": [1.5, 2.0]}), {"x": "integer"})
    with pytest.raises(ValueError, match="cannot be read as dates"):
        fit_codecs(pd.DataFrame({"x": ["a", "b"]}), {"x": "datetime"})
    with pytest.raises(ValueError, match="kinds\\['x'\\] must be one of"):
        fit_codecs(pd.DataFrame({"x": [1, 2]}), {"x": "text"})
    declared = fit_codecs(table[["count"]], {"count": "categorical"})
    assert (
        declared[0].kind == "categorical" and len(declared[0].levels) == table["count"].nunique()
    )


def test_dates_beyond_the_nanosecond_range():
    stamps = pd.Series(
        np.array(["1200-01-01", "1500-06-01", "2500-01-01"], dtype="datetime64[s]"), name="t"
    )
    codec = fit_codecs(stamps.to_frame())[0]
    back = codec.decode(codec.encode(stamps, np.random.default_rng(0)))
    pd.testing.assert_series_equal(back, stamps, check_names=False)


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(pd.Categorical(["a", None, "b", "a", "c"] * 40)),
        pd.Series(["x", None, "y", "x", "z"] * 40, dtype="string"),
        pd.Series([3, 1, 2, 3, 1] * 40),
        pd.Series([1.5, np.nan, 2.5, 1.5, -0.0] * 40),
        pd.Series([True, None, False, True, True] * 40, dtype="boolean"),
        pd.Series(pd.cut(np.arange(200.0), [-1, 50, 120, 200])),
        pd.Series([1, True, 1.0, "1", None] * 40, dtype=object),  # one level each
    ],
    ids=["category", "string", "int", "float", "boolean", "interval", "object"],
)
def test_categorical_codes_of_a_factorised_column_equal_the_value_by_value_lookup(column):
    codec = fit_codecs(pd.DataFrame({"c": column}), {"c": "categorical"}, tails=False)[0]
    fast = codec.codes(column)
    assert np.array_equal(fast, codec._codes_of_each(column))
    rng = np.random.default_rng(0)
    assert np.array_equal(codec.codes(codec.decode(codec.encode(column, rng))), fast)
