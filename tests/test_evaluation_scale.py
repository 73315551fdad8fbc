"""Inputs of evaluate: samples of large, Parquet and dask tables, odd columns, refusals, output.

Row sampling is one seeded scheme for every source, so an in-memory table, the same rows in
a Parquet file of several row groups and in a dask DataFrame give the same numbers.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lookalike as la
from lookalike.evaluation import evaluate
from lookalike.evaluation.sources import _draw


def mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "a": a,
            "b": a + rng.normal(size=n),
            "c": rng.choice(["u", "v", "w"], n).astype(object),
            "when": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
        }
    )
    frame.loc[rng.random(n) < 0.05, "c"] = None
    return frame


def test_row_draws_are_uniform_and_respect_partitions():
    rng = np.random.default_rng(0)
    keep = _draw([5, 0, 7, 3], 6, rng)
    assert sum(len(k) for k in keep) == 6 and len(keep[1]) == 0
    assert all(np.all(k < n) for k, n in zip(keep, [5, 0, 7, 3], strict=True))
    assert _draw([5, 7], 20, rng) == [None, None]
    # Every row equally likely: 4,000 draws of 3 of 10 rows, each row kept 1,200 times in
    # expectation (sd 29); chi-square goodness of fit at a 1e-4 false-failure rate.
    counts = np.zeros(10)
    for _ in range(4000):
        for offset, rows in zip((0, 4), _draw([4, 6], 3, rng), strict=True):
            counts[offset + rows] += 1
    assert stats.chisquare(counts).pvalue > 1e-4


def test_parquet_dask_and_memory_give_the_same_numbers(tmp_path):
    pytest.importorskip("pyarrow")
    dd = pytest.importorskip("dask.dataframe")
    real, synthetic, holdout = mixed(3000, 1), mixed(2500, 2), mixed(1200, 3)
    real.to_parquet(tmp_path / "real.parquet", row_group_size=700)
    folder = tmp_path / "synthetic"
    folder.mkdir()
    synthetic.iloc[:1000].to_parquet(folder / "part-0.parquet", row_group_size=300)
    synthetic.iloc[1000:].to_parquet(folder / "part-1.parquet", row_group_size=400)
    options = {"max_rows": 1000, "random_state": 5, "n_folds": 3}
    in_memory = evaluate(real, synthetic, holdout, **options)
    from_files = evaluate(tmp_path / "real.parquet", str(folder), holdout, **options)
    from_dask = evaluate(
        dd.from_pandas(real, npartitions=4), dd.from_pandas(synthetic, npartitions=3),
        holdout, **options,
    )  # fmt: skip
    for other in (from_files, from_dask):
        pd.testing.assert_frame_equal(other.metrics, in_memory.metrics)
        pd.testing.assert_frame_equal(other.real, in_memory.real)
    assert in_memory.n_rows == {"real": 3000, "synthetic": 2500, "holdout": 1200}
    assert len(in_memory.real) == 1000 and len(in_memory.holdout) == 1000
    row = in_memory.sampling.set_index("step").loc["input"]
    assert (row["real_rows"], row["synthetic_rows"], row["holdout_rows"]) == (1000, 1000, 1000)
    detector = in_memory.sampling.set_index("step").loc["detector"]
    assert detector["real_rows"] == in_memory.detector.n_rows_used // 2 == 1000


def test_parquet_errors(tmp_path):
    with pytest.raises(ValueError, match="No such file"):
        evaluate(tmp_path / "missing.parquet", mixed(50, 0))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No Parquet file"):
        evaluate(tmp_path / "empty", mixed(50, 0))
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        evaluate(tmp_path / "bad.parquet", mixed(50, 0))


def test_ten_thousand_levels_take_time_linear_in_the_rows():
    # A one-hot encoding of 10,000 levels for 6,000 rows would need about 0.5 GB per table
    # and a dense 10,000 x 10,000 contingency table 0.8 GB; every step here is linear in the
    # rows (levels are hashed, counted sparsely, coded by frequency).
    rng = np.random.default_rng(4)
    n = 6_000

    def frame(seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "code": np.char.add("k", r.integers(0, 10_000, n).astype(str)).astype(object),
                "code2": np.char.add("m", r.integers(0, 10_000, n).astype(str)).astype(object),
                "x": r.normal(size=n),
            }
        )

    real, synthetic = frame(5), frame(6)
    synthetic["code"] = rng.choice(real["code"].unique()[:50], n)  # 50 levels only
    report = evaluate(real, synthetic, frame(7), random_state=0, n_folds=2)
    assert report.kinds["code"] == "categorical"
    assert report.tells[0].columns == ("code",)
    assert report.value("tv", "code") > 0.9


@pytest.mark.parametrize("where", ["real", "synthetic", "holdout"])
def test_complex_data_are_refused(where):
    tables = {"real": mixed(60, 0), "synthetic": mixed(60, 1), "holdout": mixed(60, 2)}
    tables[where] = tables[where].assign(a=tables[where]["a"] + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):
        evaluate(tables["real"], tables["synthetic"], tables["holdout"])
    objects = mixed(60, 3).assign(a=[complex(1, 1)] + [1.0] * 59)
    with pytest.raises(ValueError, match="Complex data not supported"):
        evaluate(objects, mixed(60, 4))
    with pytest.raises(ValueError, match="Complex data not supported"):
        evaluate(np.ones((20, 2)) * 1j, np.ones((20, 2)))


def test_dates_are_numbers_not_levels():
    real, holdout = mixed(800, 5), mixed(400, 6)
    synthetic = mixed(800, 7)
    synthetic["when"] = synthetic["when"] + pd.Timedelta(hours=1)  # no date is shared
    report = evaluate(real, synthetic, holdout)
    assert report.kinds["when"] == "numeric" and report.column_kinds["when"] == "datetime"
    expected = stats.ks_2samp(
        real["when"].astype("datetime64[ns]").astype("int64"),
        synthetic["when"].astype("datetime64[ns]").astype("int64"),
    ).statistic
    assert report.value("ks", "when") == pytest.approx(expected)
    # An hour is a small fraction of the dates' spread: the distances barely move, where a
    # date compared as a level would put every synthetic row a whole unit away.
    assert report.value("dcr_ratio") < 1.5


def test_fit_sample_evaluate_with_an_id_column():
    rng = np.random.default_rng(8)
    n = 300
    table = pd.DataFrame({"customer_id": np.arange(n) + 1000, "x": rng.normal(size=n),
                          "c": rng.choice(["a", "b", "c"], n)})  # fmt: skip
    synthetic = la.Synthesizer(model="gaussian", random_state=0).fit(table).sample(200)
    assert "customer_id" not in synthetic.columns
    report = evaluate(table, synthetic)
    assert list(report.kinds) == ["x", "c"]
    assert report.left_out == {"customer_id": "not in synthetic"}
    assert any("'customer_id'" in sentence for sentence in report.summary)
    # An id column both tables share is left out as an id.
    with_ids = evaluate(table, table.sample(frac=1.0, random_state=1).assign(x=rng.normal(size=n)))
    assert "customer_id" in with_ids.left_out and "id column" in with_ids.left_out["customer_id"]


def test_report_as_json_and_progress_in_the_log(caplog, capsys):
    with caplog.at_level(logging.INFO, logger="lookalike.evaluation"):
        report = evaluate(mixed(400, 9), mixed(400, 10), target="c")
    steps = [r.getMessage() for r in caplog.records if r.name == "lookalike.evaluation"]
    assert any(m.startswith("detector:") and "done in" in m for m in steps)
    assert any(m.startswith("privacy: attribute inference") for m in steps)
    assert capsys.readouterr().out == ""  # progress is logged, never printed
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["summary"] == report.summary
    assert data["detector"]["auc"] == pytest.approx(report.value("c2st_auc"))
    assert len(data["metrics"]) == len(report.metrics)
    assert data["columns"]["compared"]["when"] == {"kind": "numeric", "registry_kind": "datetime"}
    assert data["n_rows"] == {"real": 400, "synthetic": 400, "holdout": None}


@pytest.mark.parametrize(
    "case",
    ["constant", "all missing", "tiny", "one column", "disjoint"],
)
def test_sentences_never_show_nan(case):
    rng = np.random.default_rng(11)
    real, synthetic = mixed(200, 12), mixed(200, 13)
    if case == "constant":
        real["a"], synthetic["a"] = 1.0, 1.0
        real["c"] = "u"
    elif case == "all missing":
        real["b"] = np.nan
        synthetic["b"] = rng.normal(size=200)
    elif case == "tiny":
        real, synthetic = real.iloc[:8], synthetic.iloc[:6]
    elif case == "one column":
        real, synthetic = real[["a"]], synthetic[["a"]]
    else:
        synthetic["a"] = synthetic["a"] + 100.0
        synthetic["c"] = "zzz"
    report = evaluate(real, synthetic, random_state=0)
    text = " ".join(report.summary)
    assert not any(word.strip(".,;:()").lower() in ("nan", "inf") for word in text.split())
    for tell in report.tells:
        assert "nan" not in tell.sentence.lower().split()
    assert json.dumps(report.to_dict(), allow_nan=False)
    if case == "disjoint":
        assert report.tells[0].columns in (("a",), ("c",))
        assert report.value("precision") < 0.1


def test_argument_errors():
    real = mixed(50, 14)
    with pytest.raises(ValueError, match="max_rows"):
        evaluate(real, real, max_rows=3)
    with pytest.raises(ValueError, match="n_folds"):
        evaluate(real, real, n_folds=1)
    with pytest.raises(ValueError, match="share no column"):
        evaluate(real, real.rename(columns=lambda c: c + "_other"))
    with pytest.raises(ValueError, match="cannot be used"):
        evaluate(real.assign(key=np.arange(50).astype(str)), real, target="key")
    assert math.isfinite(evaluate(real, real.iloc[:30], max_rows=None).value("c2st_auc"))
