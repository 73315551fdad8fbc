"""The command line (``lookalike fit | sample | info``) and its table I/O.

Unit tests check ``lookalike._tables`` (round trips against the written frame,
one clear error per bad file) and the ``--where`` parser. End-to-end tests run
the installed command in a subprocess, as a user would, on the Palmer penguins
table: what it writes, that the seed reproduces it, and that every bad input
gives exit status 2 with one ``error:`` line and no traceback.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lookalike import Synthesizer, _tables
from lookalike._tables import (
    MissingDependencyError,
    handle_non_finite,
    read_table,
    table_format,
    write_table,
)
from lookalike.cli import parse_where


def _mixed_frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "count": rng.integers(0, 100, size=n),
            "label": rng.choice(["a", "b", "c"], size=n).astype(object),
            "flag": rng.random(n) < 0.5,
        }
    )


# --------------------------------------------------------------------------- _tables


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq", ".xlsx"])
def test_write_then_read_gives_the_frame_back(tmp_path, suffix):
    frame = _mixed_frame()
    path = write_table(frame, tmp_path / f"t{suffix}")
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_allclose(back["x"].to_numpy(float), frame["x"].to_numpy(), rtol=1e-15)
    np.testing.assert_array_equal(back["count"].to_numpy(), frame["count"].to_numpy())
    assert back["label"].astype(str).tolist() == frame["label"].tolist()
    assert back["flag"].astype(bool).tolist() == frame["flag"].tolist()
    assert back["count"].dtype.kind == "i" and back["flag"].dtype.kind == "b"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_read_table_picks_the_excel_sheet_and_columns(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"a": [1, 2]}).to_excel(writer, sheet_name="first", index=False)
        _mixed_frame(5).to_excel(writer, sheet_name="second", index=False)
    assert read_table(path)["a"].tolist() == [1, 2]  # the first sheet by default
    second = read_table(path, sheet="second", columns=["label", "x"])
    assert list(second.columns) == ["label", "x"]
    assert second["label"].tolist() == _mixed_frame(5)["label"].tolist()
    with pytest.raises(ValueError, match=r"no sheet 'third'.*first, second"):
        read_table(path, sheet="third")


@pytest.mark.parametrize(
    ("name", "content", "error", "pattern"),
    [
        ("absent.csv", None, FileNotFoundError, "no such file"),
        ("t.txt", b"a\n1\n", ValueError, r"suffix '\.txt'.*\.csv, \.parquet"),
        ("noext", b"a\n1\n", ValueError, "no suffix"),
        ("empty.csv", b"", ValueError, "is empty"),
        ("header.csv", b"a,b\n", ValueError, "has no rows"),
        ("bad.parquet", b"this is not parquet", ValueError, "could not read .* as Parquet"),
        ("bad.xlsx", b"PK\x03\x04 broken zip", ValueError, "could not read .* as Excel"),
        ("bad.csv", "é,ü\n1,2\n".encode("utf-16"), ValueError, "could not read .* as CSV"),
    ],
)
def test_read_table_errors_name_the_problem(tmp_path, name, content, error, pattern):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=pattern) as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_read_table_rejects_unknown_columns_and_misplaced_sheet(tmp_path):
    path = write_table(_mixed_frame(), tmp_path / "t.csv")
    with pytest.raises(ValueError, match=r"unknown column\(s\) 'y'.*x, count, label, flag"):
        read_table(path, columns=["x", "y"])
    with pytest.raises(ValueError, match="not an Excel file"):
        read_table(path, sheet="first")


def test_write_table_refuses_unknown_suffixes_and_old_excel(tmp_path):
    for name in ("out.txt", "out.xls"):
        with pytest.raises(ValueError, match="cannot write"):
            write_table(_mixed_frame(), tmp_path / name)
    assert table_format("a/b.PARQUET") == "parquet"
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("previous\n")

    def write_half_then_fail(frame, path):
        Path(path).write_text("x\n1\n")
        raise OSError("disk full")

    monkeypatch.setitem(_tables._WRITERS, "csv", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_table(_mixed_frame(), target)
    assert target.read_text() == "previous\n"
    assert list(tmp_path.iterdir()) == [target]
    with pytest.raises(OSError, match="disk full"):
        write_table(_mixed_frame(), tmp_path / "new.csv")
    assert list(tmp_path.iterdir()) == [target]


def test_a_missing_engine_gives_the_install_command(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'lookalike\[io\]'"):
        read_table(path)
    with pytest.raises(MissingDependencyError, match=r"pip install 'lookalike\[io\]'"):
        write_table(_mixed_frame(), tmp_path / "out.pq")


@pytest.mark.parametrize("how", ["missing", "drop"])
def test_handle_non_finite_matches_an_elementwise_oracle(how):
    rng = np.random.default_rng(1)
    frame = _mixed_frame(40)
    values = frame["x"].to_numpy().copy()
    values[rng.choice(40, 5, replace=False)] = rng.choice([np.inf, -np.inf], 5)
    frame["x"] = values
    frame.loc[[3, 7], "count"] = np.nan  # NaN is missing already, not infinite
    frame["y"] = rng.normal(size=40)
    frame.loc[[0], "y"] = np.inf
    bad_rows = [i for i in range(40) if math.isinf(frame["x"][i]) or math.isinf(frame["y"][i])]

    handled, report = handle_non_finite(frame, how)
    assert report.startswith(f"{len(bad_rows)} rows have infinite values in column(s) x, y")
    if how == "drop":
        assert handled["label"].tolist() == frame["label"].drop(index=bad_rows).tolist()
        assert np.isfinite(handled[["x", "y"]].to_numpy()).all()
    else:
        assert handled.shape == frame.shape
        expected_nan = frame["x"].isna() | np.isinf(frame["x"])
        assert (handled["x"].isna() == expected_nan).all()
        assert handled["y"].isna().sum() == 1 and not np.isinf(handled["y"]).any()
        assert np.isinf(frame["x"]).sum() == 5  # the input is not modified
    clean = _mixed_frame()
    assert handle_non_finite(clean, how) == (clean, "")


# --------------------------------------------------------------------------- --where


@pytest.fixture(scope="module")
def fitted_for_where():
    """A Synthesizer fitted on one column of each kind (its codecs read --where values)."""
    rng = np.random.default_rng(0)
    n = 60
    table = pd.DataFrame(
        {
            "mass": rng.normal(4000, 500, n),
            "year": rng.integers(2005, 2012, n),
            "male": rng.random(n) < 0.5,
            "species": rng.choice(["Adelie", "Gentoo"], n),
            "label": rng.choice([4, 6, 8], n),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), "D"),
            "key": [f"k{i}" for i in range(n)],
        }
    )
    kinds = {"label": "categorical", "key": "id"}
    return Synthesizer(model="gaussian", kinds=kinds, random_state=0).fit(table)


def test_parse_where_reads_values_with_each_columns_codec(fitted_for_where):
    parsed = parse_where(
        [
            "mass=3500..4500.5",
            "year = 2008",
            "male=False",
            "species=Adelie",
            "label=6",
            "when=2021-01-01..2021-03-31T12:00",
        ],
        fitted_for_where,
    )
    assert parsed == {
        "mass": (3500.0, 4500.5),
        "year": 2008,
        "male": False,
        "species": "Adelie",
        "label": 6,
        "when": (pd.Timestamp("2021-01-01"), pd.Timestamp("2021-03-31 12:00")),
    }
    assert type(parsed["year"]) is int and parsed["label"] == 6
    assert parse_where(["mass=-2..-1", "when=2020-05-06"], fitted_for_where) == {
        "mass": (-2.0, -1.0),
        "when": pd.Timestamp("2020-05-06"),
    }
    # The parsed conditions are what sample() accepts.
    rows = fitted_for_where.sample(20, where=parsed, random_state=0)
    assert set(rows["species"]) == {"Adelie"} and set(rows["label"]) == {6}


def test_parse_where_matches_categories_by_their_text(fitted_for_where):
    assert parse_where(["label=6.0", "species=gentoo"], fitted_for_where) == {
        "label": 6,
        "species": "Gentoo",
    }
    with pytest.raises(ValueError, match=r"value '7' is not a category of column 'label'"):
        parse_where(["label=7"], fitted_for_where)


@pytest.mark.parametrize(
    ("item", "pattern"),
    [
        ("mass", "must look like column=value"),
        ("=3", "must look like column=value"),
        ("mass=", "must look like column=value"),
        ("weight=3", r"unknown column 'weight' in --where; columns are: mass, year"),
        ("mass=heavy", "cannot read 'heavy' as a number"),
        ("mass=5..1", "empty range"),
        ("male=maybe", "use true or false"),
        ("species=a..b", "not a range"),
        ("when=yesterday-ish", "cannot read 'yesterday-ish' as one"),
        ("key=abc", "id column"),
        ("year=2007.5", r"column 'year' holds whole numbers; 2007.5 is not one.*2007 or 2008"),
        ("year=1e400", "holds whole numbers"),
        ("label=6.5", "not a category"),
        ("mass=nan", "not a number to condition on"),
        ("mass=1", "given twice"),
    ],
)
def test_parse_where_rejects_bad_conditions(fitted_for_where, item, pattern):
    items = ["mass=2..3", item] if pattern == "given twice" else [item]
    with pytest.raises(ValueError, match=pattern):
        parse_where(items, fitted_for_where)


def test_parse_where_reads_open_ended_ranges(fitted_for_where):
    parsed = parse_where(["mass=..40", "year=2008..", "when=..2024-03-31"], fitted_for_where)
    assert parsed == {
        "mass": (None, 40.0),
        "year": (2008, None),
        "when": (None, pd.Timestamp("2024-03-31")),
    }
    assert type(parsed["year"][0]) is int
    # An integer column's range may have fractional ends: year in [2007.5, 2009] is 2008, 2009.
    assert parse_where(["year=2007.5..2009"], fitted_for_where) == {"year": (2007.5, 2009)}
    with pytest.raises(ValueError, match="has no end"):
        parse_where(["mass=.."], fitted_for_where)


# --------------------------------------------------------------------------- end to end


def _run(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lookalike.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def _run_many(argument_lists) -> list[subprocess.CompletedProcess]:
    """Run several commands two at a time (the fits are independent)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda arguments: _run(*arguments), argument_lists))


_PROGRESS_LINE = re.compile(r"^\[ *\d+\.\ds\] ")


def messages(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress lines (``[  1.2s] reading ...``)."""
    return [line for line in stderr.strip().splitlines() if not _PROGRESS_LINE.match(line)]


def _assert_bad_input(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = messages(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def penguins(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """The Palmer penguins table (344 rows, 8 mixed columns, some missing) as a CSV."""
    from palmerpenguins import load_penguins

    frame = load_penguins()
    path = tmp_path_factory.mktemp("penguins") / "penguins.csv"
    frame.to_csv(path, index=False)
    return frame, path


@pytest.fixture(scope="module")
def model_file(penguins) -> Path:
    _, data = penguins
    model = data.parent / "penguins.lookalike"
    result = _run("fit", data, "-o", model, "--model", "gmm", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert model.is_file()
    assert "344 rows, 8 columns" in result.stdout and "Mixture" in result.stdout
    # Output is a pipe, not a terminal: one progress line per stage on stderr, in order.
    stages = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "] " in line]
    assert stages == [
        f"reading {data}",
        "fitting 344 rows x 8 columns",
        "fitting column codecs (8 columns, 344 rows)",  # the Synthesizer's own stages
        "fitting the joint model (gmm)",
        f"saving {model}",
    ], result.stderr
    return model


def test_fit_target_reaches_the_auto_selection(penguins, tmp_path):
    from lookalike.persistence import load

    _, data = penguins
    model = tmp_path / "target.lookalike"
    result = _run("fit", data, "-o", model, "--target", "island", "--seed", "0", "-q")
    assert result.returncode == 0, result.stderr
    selection = load(model).summary()["selection"]
    assert selection["utility_columns"] == ["island"]


def test_info_lists_what_was_fitted(penguins, model_file):
    from lookalike.persistence import load

    frame, _ = penguins
    summary = load(model_file).summary()
    result = _run("info", model_file)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [column["name"] for column in summary["columns"]] == list(frame.columns)
    for column in summary["columns"]:
        row = next(line for line in lines if f" {column['name']} " in line)
        assert f" {column['kind']} " in row and f" {column['dtype']} " in row, row
        assert f"{frame[column['name']].isna().mean():.1%}" in row, row  # e.g. 3.2% for sex
    assert "rows fitted: 344" in result.stdout
    assert summary["model"] in result.stdout and "GaussianMixture" in result.stdout
    assert f"model dimensions: {summary['n_model_dims']}" in result.stdout
    guarded = summary["copies"]["unique_training_rows"]
    assert guarded > 300  # penguins' rows are nearly all unique
    assert f"redrawn (the model keeps fingerprints of {guarded} unique" in result.stdout
    size = model_file.stat().st_size
    assert f"{size / 1024:.1f} KiB" in result.stdout or f"{size} bytes" in result.stdout


def test_sample_writes_the_fitted_columns(penguins, model_file, tmp_path):
    frame, _ = penguins
    out = tmp_path / "out.parquet"
    result = _run("sample", model_file, "-n", "50", "-o", out, "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "wrote 50 rows" in result.stdout
    drawn = pd.read_parquet(out)
    assert drawn.shape == (50, 8)
    assert list(drawn.columns) == list(frame.columns)
    assert set(drawn["species"].dropna()) <= set(frame["species"])
    assert drawn["year"].dtype.kind == "i"


def test_sample_where_conditions_on_a_category_and_a_range(model_file, tmp_path):
    out = tmp_path / "gentoo.csv"
    result = _run(
        "sample", model_file, "-n", "40", "-o", out, "--seed", "2",
        "--where", "species=Gentoo", "--where", "body_mass_g=4000..5000", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    drawn = pd.read_csv(out)
    assert len(drawn) == 40 and (drawn["species"] == "Gentoo").all()
    mass = drawn["body_mass_g"].dropna()
    assert len(mass) > 0 and mass.between(4000, 5000).all()


@pytest.mark.slow
def test_seed_reproduces_fit_and_sample_with_a_column_subset(penguins, tmp_path):
    _, data = penguins
    models = [tmp_path / "m0.lookalike", tmp_path / "m1.lookalike"]
    subset = "species, bill_length_mm,body_mass_g"
    fits = _run_many(
        ["fit", data, "-o", m, "--columns", subset, "--seed", "3", "-q"] for m in models
    )
    assert all(r.returncode == 0 and r.stdout == "" for r in fits), fits
    outs = [tmp_path / "s0.csv", tmp_path / "s1.csv"]
    samples = _run_many(
        ["sample", m, "-n", "30", "-o", o, "--seed", "5"]
        for m, o in zip(models, outs, strict=True)
    )
    assert all(r.returncode == 0 for r in samples), samples
    assert outs[0].read_bytes() == outs[1].read_bytes()
    drawn = pd.read_csv(outs[0])
    assert list(drawn.columns) == ["species", "bill_length_mm", "body_mass_g"]
    assert len(drawn) == 30 and drawn.notna().any(axis=None)


@pytest.mark.slow
def test_fit_reads_excel_sheets_and_parquet_and_reports_infinities(penguins, tmp_path):
    frame, _ = penguins
    part = frame.iloc[:120, [0, 2, 3, 7]].reset_index(drop=True)
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as writer:
        pd.DataFrame({"other": ["z"]}).to_excel(writer, sheet_name="notes", index=False)
        part.to_excel(writer, sheet_name="birds", index=False)
    infinite = part.copy()
    infinite.loc[[4, 9], "bill_length_mm"] = [np.inf, -np.inf]
    infinite.loc[[9], "bill_depth_mm"] = np.inf
    infinite.to_parquet(tmp_path / "birds.pq", index=False)

    excel, dropped = _run_many(
        [
            ["fit", book, "--sheet", "birds", "-o", tmp_path / "a.lookalike", "--seed", "0"],
            ["fit", tmp_path / "birds.pq", "-o", tmp_path / "b.lookalike", "--non-finite", "drop"],
        ]
    )
    assert excel.returncode == 0, excel.stderr
    assert "120 rows, 4 columns" in excel.stdout
    assert dropped.returncode == 0, dropped.stderr
    assert (
        "warning: 2 rows have infinite values in column(s) bill_length_mm, bill_depth_mm; "
        "dropped" in dropped.stderr
    )
    assert "118 rows, 4 columns" in dropped.stdout


_FAIL_WRITES = """
import lookalike._tables as t
def fail(frame, path):
    open(path, "w").write("partial")
    raise OSError("disk full")
t._WRITERS["csv"] = fail
"""
_BLOCK_PYARROW = "import sys; sys.modules['pyarrow'] = None"


@pytest.fixture(scope="module")
def bad_cases(penguins, model_file) -> dict[str, tuple[list, str, str]]:
    """Name -> (arguments, pattern of the error line, Python run before the command)."""
    from lookalike.kde import KernelDensity
    from lookalike.persistence import save

    _, data = penguins
    folder = model_file.parent / "bad"
    folder.mkdir()
    (folder / "header.csv").write_text("a,b\n")
    (folder / "table.txt").write_text("a\n1\n")
    kde = KernelDensity().fit(np.random.default_rng(0).normal(size=(30, 2)))
    save(kde, folder / "gm")
    model, out, fit_to = model_file, folder / "out.csv", ["-o", folder / "m"]
    for name in ("loop.csv", "loop.lookalike"):
        (folder / name).symlink_to(folder / name)  # a link to itself
    # Distinct text in every one of 25 rows (MIN_ID_ROWS = 20): two id columns.
    names = "".join(f"n{i},c{i}\n" for i in range(25))
    (folder / "names.csv").write_text("name,city\n" + names)
    (folder / "one.csv").write_text("x,label\n1.5,a\n")
    big_seed = str(2**32)
    return {
        "missing data": (["fit", folder / "nope.csv", *fit_to], "no such file", ""),
        "unknown suffix": (["fit", folder / "table.txt", *fit_to], "'.txt'", ""),
        "unknown target": (
            ["fit", data, *fit_to, "--target", "wingspan"],
            "--target names unknown column 'wingspan'",
            "",
        ),
        "empty table": (["fit", folder / "header.csv", *fit_to], "no rows", ""),
        "unknown column": (
            ["fit", data, *fit_to, "--columns", "species,wings"],
            r"unknown column\(s\) 'wings'",
            "",
        ),
        "bad model family": (["fit", data, *fit_to, "-m", "nn"], "--model must be one of", ""),
        "bad non-finite": (["fit", data, *fit_to, "--non-finite", "x"], "--non-finite", ""),
        "output is the data": (["fit", data, "-o", data], "is the input table", ""),
        "not a model file": (["sample", data, "-n", "5", "-o", out], "cannot load", ""),
        "not a synthesizer": (["info", folder / "gm"], "not a fitted Synthesizer", ""),
        "missing model": (["info", folder / "absent.lookalike"], "no such model file", ""),
        "n below one": (["sample", model, "-n", "0", "-o", out], "at least 1", ""),
        "output is the model": (["sample", model, "-n", "5", "-o", model], "model file", ""),
        "unknown output suffix": (["sample", model, "-n", "5", "-o", "o.json"], "'.json'", ""),
        "unknown where column": (
            ["sample", model, "-n", "5", "-o", out, "-w", "wings=2"],
            "unknown column 'wings' in --where",
            "",
        ),
        "value outside categories": (
            ["sample", model, "-n", "5", "-o", out, "-w", "species=Dodo"],
            "value 'Dodo' is not a category of column 'species'",
            "",
        ),
        "bad where value": (
            ["sample", model, "-n", "5", "-o", out, "-w", "body_mass_g=heavy"],
            "cannot read 'heavy' as a number",
            "",
        ),
        "missing engine": (
            ["sample", model, "-n", "5", "-o", folder / "o.parquet"],
            r"pip install 'lookalike\[io\]'",
            _BLOCK_PYARROW,
        ),
        "failing write": (["sample", model, "-n", "5", "-o", out], "disk full", _FAIL_WRITES),
        # Issue 12, section 3: each of these ended in a traceback or was accepted silently.
        "symlink loop as data": (["fit", folder / "loop.csv", *fit_to], "symbolic link loop", ""),
        "symlink loop as model": (
            ["sample", folder / "loop.lookalike", "-n", "5", "-o", out],
            "symbolic link loop",
            "",
        ),
        "symlink loop as output": (
            ["fit", data, "-o", folder / "loop.lookalike"],
            "symbolic link loop",
            "",
        ),
        "too many rows": (
            ["sample", model, "-n", str(10**13), "-o", out],
            r"-n 10000000000000 rows of 8 columns need at least .* [PT]iB of memory",
            "",
        ),
        "seed too large for fit": (
            ["fit", data, *fit_to, "--seed", big_seed],
            "--seed must be a whole number from 0 to 4294967295; got 4294967296",
            "",
        ),
        "negative seed for sample": (
            ["sample", model, "-n", "5", "-o", out, "--seed", "-1"],
            "--seed must be .* got -1",
            "",
        ),
        "seed too large for evaluate": (
            ["evaluate", data, data, "-o", folder / "r.html", "--seed", str(2**40)],
            "--seed must be",
            "",
        ),
        "seed too large for demo": (
            ["demo", "--out", folder / "demo", "--seed", big_seed],
            "--seed must be",
            "",
        ),
        "fractional integer in where": (
            ["sample", model, "-n", "5", "-o", out, "-w", "year=2007.5"],
            "column 'year' holds whole numbers; 2007.5 is not one",
            "",
        ),
        # Options the CLI gained for the library's Python-only ones, and messages naming them.
        "bad kind syntax": (["fit", data, *fit_to, "--kind", "year"], "COLUMN=KIND", ""),
        "kind of an unknown column": (
            ["fit", data, *fit_to, "--kind", "wings=categorical"],
            r"--kind names unknown column\(s\) 'wings'",
            "",
        ),
        "unknown kind": (
            ["fit", data, *fit_to, "--kind", "year=colour"],
            "'colour'",
            "",
        ),
        "bad bounds": (["fit", data, *fit_to, "--bounds", "x"], "--bounds must be one of", ""),
        "bad model": (
            ["fit", data, *fit_to, "--model", "forest"],
            "--model must be one of auto, trees, cells, gaussian, gmm, kde",
            "",
        ),
        "excel option with dask": (
            ["fit", data, *fit_to, "--dask", "local", "--sheet", "first"],
            "--sheet reads Excel files, which --dask cannot; use Parquet or CSV",
            "",
        ),
        "one row": (["fit", folder / "one.csv", *fit_to], "has 1 row; .* at least 2", ""),
        "only id columns": (
            ["fit", folder / "names.csv", *fit_to],
            "id column",
            "",
        ),
    }


_BAD_NAMES = [
    "missing data", "unknown suffix", "empty table", "unknown column", "bad model family",
    "bad non-finite", "output is the data", "not a model file", "not a synthesizer",
    "missing model", "n below one", "output is the model", "unknown output suffix",
    "unknown where column", "value outside categories", "bad where value", "missing engine",
    "failing write", "symlink loop as data", "symlink loop as model", "symlink loop as output",
    "too many rows", "seed too large for fit", "negative seed for sample",
    "seed too large for evaluate", "seed too large for demo", "fractional integer in where",
    "bad kind syntax", "kind of an unknown column", "unknown kind", "bad bounds",
    "bad model", "excel option with dask", "one row", "only id columns",
]  # fmt: skip


@pytest.mark.parametrize("name", _BAD_NAMES)
def test_bad_input_is_one_error_line_with_status_2(bad_cases, name, monkeypatch):
    """In process (fast): every bad input exits 2 with one ``error:`` line and no exception."""
    from typer.testing import CliRunner

    from lookalike.cli import app

    arguments, pattern, prelude = bad_cases[name]
    out = Path(arguments[arguments.index("-o") + 1]) if "-o" in arguments else None
    if prelude == _BLOCK_PYARROW:
        monkeypatch.setitem(sys.modules, "pyarrow", None)
    elif prelude:
        out.write_text("previous\n")

        def fail(frame, path):
            Path(path).write_text("partial")
            raise OSError("disk full")

        monkeypatch.setitem(_tables._WRITERS, "csv", fail)
    result = CliRunner().invoke(app, [str(a) for a in arguments])
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = messages(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""
    if prelude and prelude != _BLOCK_PYARROW:
        assert out.read_text() == "previous\n"  # the failed write left the old file whole
    if out is not None:
        assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_installed_command_reports_bad_input_without_traceback(bad_cases, tmp_path):
    """The same in real processes, for a sample of the cases (each process costs seconds)."""
    names = [
        "missing data", "not a model file", "value outside categories", "failing write",
        "symlink loop as data", "too many rows",
    ]  # fmt: skip
    out = tmp_path / "out.csv"
    out.write_text("previous\n")

    def run(name: str) -> subprocess.CompletedProcess:
        arguments, _, prelude = bad_cases[name]
        arguments = [out if a == bad_cases["failing write"][0][-1] else a for a in arguments]
        if not prelude:
            return _run(*arguments)
        command = f"{prelude}\nfrom lookalike.cli import main\nmain()"
        return subprocess.run(
            [sys.executable, "-c", command, *map(str, arguments)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(names, pool.map(run, names), strict=True))
    for name, result in results.items():
        try:
            _assert_bad_input(result, bad_cases[name][1])
        except AssertionError as exc:
            raise AssertionError(f"case {name!r}: {exc}") from exc
    assert out.read_text() == "previous\n"  # the failed write left the old file whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# --------------------------------------------------------------------------- start-up

_HEAVY_MODULES = (
    "numpy", "pandas", "scipy", "sklearn", "matplotlib", "dask", "distributed", "pyarrow",
    "lookalike.mixture", "lookalike.kde", "lookalike.tabular", "lookalike.evaluation",
)  # fmt: skip

_IMPORTED_AFTER = """
import sys
from lookalike.cli import main
sys.argv = ["lookalike", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("HEAVY:", ",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("arguments", [["--help"], ["--version"], ["fit", "--help"]])
def test_help_and_version_import_no_heavy_module(arguments):
    """``lookalike --help`` paid 5-7 s importing every estimator: now none is imported."""
    code = _IMPORTED_AFTER.format(heavy=_HEAVY_MODULES)
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", result.stdout


def test_version_prints_the_package_version():
    from typer.testing import CliRunner

    import lookalike
    from lookalike.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"lookalike {lookalike.__version__}\n"


def test_import_lookalike_is_lazy_and_every_public_name_resolves():
    code = (
        "import sys, lookalike\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result

    import importlib

    import lookalike

    for name in lookalike.__all__:
        assert name in dir(lookalike)
        value = getattr(lookalike, name)
        if name != "__version__":
            assert value is getattr(importlib.import_module(value.__module__), name)
    namespace: dict[str, object] = {}
    exec("from lookalike import *", namespace)
    assert set(lookalike.__all__) <= set(namespace)
    assert lookalike.plotting.plot_digits.__module__.startswith("lookalike.plotting")
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = lookalike.nothing_here


# --------------------------------------------------------------------------- reading CSV


@pytest.mark.parametrize(
    ("text", "sep", "decimal"),
    [
        ("x;y;label\n1,5;2;a\n-2,25;3;b\n3,0;4;c\n", ";", ","),  # spreadsheet, decimal comma
        ("x;y;label\n1.5;2;a\n2.25;3;b\n", ";", "."),
        ("x\ty\tlabel\n1.5\t2\ta\n2.5\t3\tb\n", "\t", "."),
        ("x|y|label\n1.5|2|a\n2.5|3|b\n", "|", "."),
        ('x,note\n1.5,"a;b"\n2.5,"c;d"\n', ",", "."),  # semicolons inside quoted text
        ("only\n1.5\n2.5\n", ",", "."),  # one column: nothing to sniff
    ],
)
def test_read_table_sniffs_the_delimiter_and_decimal_mark(tmp_path, text, sep, decimal):
    path = tmp_path / "t.csv"
    path.write_text(text)
    expected = pd.read_csv(path, sep=sep, decimal=decimal)  # told, not guessed
    assert _tables.sniff_csv(path) == (sep, decimal)
    pd.testing.assert_frame_equal(read_table(path), expected)
    assert read_table(path)["x" if "x" in expected else "only"].dtype.kind == "f"


def test_read_table_names_a_symbolic_link_loop(tmp_path):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match=r"loop\.csv is a symbolic link loop"):
        read_table(loop)
    broken = tmp_path / "broken.csv"
    broken.symlink_to(tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError, match="broken symbolic link"):
        read_table(broken)


# --------------------------------------------------------------------------- in process


def _invoke(*arguments: object):
    from typer.testing import CliRunner

    from lookalike.cli import app

    return CliRunner().invoke(app, [str(a) for a in arguments])


@pytest.fixture
def small_csv(tmp_path) -> Path:
    return write_table(_mixed_frame(80), tmp_path / "small.csv")


def test_a_semicolon_separated_table_fits_like_a_comma_separated_one(tmp_path):
    frame = _mixed_frame(80)
    text = frame.to_csv(index=False, sep=";", decimal=",")
    (tmp_path / "semi.csv").write_text(text)
    result = _invoke("fit", tmp_path / "semi.csv", "-o", tmp_path / "m.lookalike", "-m", "gmm")
    assert result.exit_code == 0, result.stderr
    assert "fitted 80 rows, 4 columns" in result.stdout
    from lookalike.persistence import load

    kinds = {c["name"]: c["kind"] for c in load(tmp_path / "m.lookalike").summary()["columns"]}
    assert kinds == {
        "x": "continuous",
        "count": "integer",
        "label": "categorical",
        "flag": "boolean",
    }


def test_table_options_reach_the_synthesizer(small_csv, tmp_path):
    from lookalike.persistence import load

    model = tmp_path / "m.lookalike"
    result = _invoke(
        "fit", small_csv, "-o", model, "-m", "gaussian", "--seed", "4294967295",
        "--kind", "count=categorical", "--kind", " x = continuous ", "--bounds", "clip",
        "--ids", "regenerate", "--copies", "keep",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    fitted = load(model)
    assert fitted.kinds == {"count": "categorical", "x": "continuous"}
    assert (fitted.bounds, fitted.ids, fitted.copies) == ("clip", "regenerate", "keep")
    assert fitted.unique_rows_.size == 0
    assert fitted.random_state == 2**32 - 1
    kinds = {c["name"]: c["kind"] for c in fitted.summary()["columns"]}
    assert kinds["count"] == "categorical"
    result = _invoke("fit", small_csv, "-o", model, "-m", "gaussian", "--bounds", "none")
    assert result.exit_code == 0, result.stderr
    assert load(model).bounds is None and load(model).copies == "redraw"
    result = _invoke("fit", small_csv, "-o", model, "--copies", "never")
    assert result.exit_code != 0 and "--copies" in result.stderr


def test_library_warnings_are_one_clean_line_each(small_csv, tmp_path, monkeypatch):
    """A numpy RuntimeWarning (twice) and a library warning naming a Python keyword."""
    import warnings

    original = _tables.read_table

    def noisy_read_table(*args, **kwargs):
        np.log(np.zeros(2))
        np.log(np.zeros(3))  # the same warning again: shown once
        warnings.warn("few rows were accepted; use bounds='clip'", UserWarning, stacklevel=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_tables, "read_table", noisy_read_table)
    result = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike", "-m", "gaussian")
    assert result.exit_code == 0, result.stderr
    assert messages(result.stderr) == [
        "warning: divide by zero encountered in log",
        "warning: few rows were accepted; use bounds='clip' "
        "(command line: --bounds observed|clip|none)",
    ]
    assert ".py" not in result.stderr
    quiet = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike", "-m", "gaussian", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_a_two_row_table_fits_with_clean_warning_lines(tmp_path):
    (tmp_path / "two.csv").write_text("a,b,c\n1.5,2.25,x\n3.75,5.5,y\n")
    result = _invoke("fit", tmp_path / "two.csv", "-o", tmp_path / "two.lookalike")
    assert result.exit_code == 0, result.stderr
    assert all(line.startswith("warning: ") for line in messages(result.stderr)), result.stderr
    assert ".py" not in result.stderr and "Traceback" not in result.stderr
    # Two distinct values in two rows do not make an id column: every column is modelled.
    out = tmp_path / "two_rows.csv"
    sampled = _invoke("sample", tmp_path / "two.lookalike", "-n", "5", "-o", out)
    assert sampled.exit_code == 0, sampled.stderr
    assert list(pd.read_csv(out).columns) == ["a", "b", "c"]


def test_library_errors_name_the_command_line_options(small_csv, tmp_path, monkeypatch):
    from lookalike.tabular import Synthesizer

    def refuse(self, frame):
        raise ValueError("declare it with kinds={'x': 'categorical'} or use bounds='clip'")

    monkeypatch.setattr(Synthesizer, "fit", refuse)
    result = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike")
    assert result.exit_code == 2
    assert messages(result.stderr) == [
        "error: declare it with kinds={'x': 'categorical'} or use bounds='clip' "
        "(command line: --kind COLUMN=KIND; --bounds observed|clip|none)"
    ]


def test_verbose_shows_details_and_keeps_stdout_for_the_result(small_csv, tmp_path):
    result = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike", "-m", "gmm", "-v")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("fitted 80 rows") and len(result.stdout.splitlines()) == 1
    assert re.search(r"\] debug: fitting 80 rows x 4 columns: done in \d+\.\d\d s", result.stderr)
    # The Synthesizer's own stages come once each, through the logger.
    assert result.stderr.count("fitting the joint model (gmm)") == 1, result.stderr
    plain = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike", "-m", "gmm")
    assert "debug:" not in plain.stderr and "fitting the joint model" in plain.stderr


def test_on_a_terminal_progress_is_a_status_line(small_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich treats stderr as a terminal
    result = _invoke("fit", small_csv, "-o", tmp_path / "m.lookalike", "-m", "gaussian")
    assert result.exit_code == 0, result.stderr
    # Redrawn in place (\r); the stage shown last is drawn when the line stops (shorter
    # stages may fall between two refreshes).
    assert "saving" in result.stderr and "\r" in result.stderr
    assert not any(_PROGRESS_LINE.match(line) for line in result.stderr.splitlines())


def test_sample_where_open_ended_ranges(model_file, tmp_path):
    out = tmp_path / "light.csv"
    result = _invoke(
        "sample", model_file, "-n", "60", "-o", out, "--seed", "3",
        "-w", "body_mass_g=..3600", "-w", "bill_length_mm=40..",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    drawn = pd.read_csv(out)
    mass, bill = drawn["body_mass_g"].dropna(), drawn["bill_length_mm"].dropna()
    assert len(drawn) == 60 and len(mass) > 0 and len(bill) > 0
    assert (mass <= 3600).all() and (bill >= 40).all()


def test_python_dash_m_lookalike_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "lookalike", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "fit" in result.stdout and "sample" in result.stdout
