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

from lookalike import _tables
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

_FITTED = [
    {"name": "mass", "kind": "continuous", "dtype": "float64"},
    {"name": "year", "kind": "integer", "dtype": "int64"},
    {"name": "male", "kind": "boolean", "dtype": "bool"},
    {"name": "species", "kind": "categorical", "dtype": "object"},
    {"name": "label", "kind": "categorical", "dtype": "int64"},
    {"name": "when", "kind": "datetime", "dtype": "datetime64[ns]"},
    {"name": "key", "kind": "id", "dtype": "object"},
]


def test_parse_where_converts_by_column_kind():
    parsed = parse_where(
        [
            "mass=3500..4500.5",
            "year = 2008",
            "male=False",
            "species=Adelie",
            "label=6",
            "when=2024-01-01..2024-03-31T12:00",
        ],
        _FITTED,
    )
    assert parsed == {
        "mass": (3500.0, 4500.5),
        "year": 2008,
        "male": False,
        "species": "Adelie",
        "label": 6,
        "when": (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-31 12:00")),
    }
    assert type(parsed["year"]) is int and type(parsed["label"]) is int
    assert parse_where(["mass=-2..-1", "when=2020-05-06"], _FITTED) == {
        "mass": (-2.0, -1.0),
        "when": pd.Timestamp("2020-05-06"),
    }


def test_parse_where_matches_categories_by_their_text():
    categories = {"label": [4, 6, 8], "species": ["Adelie", "Gentoo"]}
    parsed = parse_where(["label=6", "species=Gentoo"], _FITTED, categories)
    assert parsed == {"label": 6, "species": "Gentoo"}
    with pytest.raises(ValueError, match=r"value '7' is not a category of column 'label'"):
        parse_where(["label=7"], _FITTED, categories)


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
    ],
)
def test_parse_where_rejects_bad_conditions(item, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_where([item], _FITTED)


def test_parse_where_rejects_a_column_given_twice():
    with pytest.raises(ValueError, match="given twice"):
        parse_where(["mass=1", "mass=2..3"], _FITTED)


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


def _assert_bad_input(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
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
    return model


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
    if summary["score"] is not None:
        assert f"score ({summary['criterion']}): {summary['score']:.6g}" in result.stdout
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
    return {
        "missing data": (["fit", folder / "nope.csv", *fit_to], "no such file", ""),
        "unknown suffix": (["fit", folder / "table.txt", *fit_to], "'.txt'", ""),
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
    }


_BAD_NAMES = [
    "missing data", "unknown suffix", "empty table", "unknown column", "bad model family",
    "bad non-finite", "output is the data", "not a model file", "not a synthesizer",
    "missing model", "n below one", "output is the model", "unknown output suffix",
    "unknown where column", "value outside categories", "bad where value", "missing engine",
    "failing write",
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
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""
    if prelude and prelude != _BLOCK_PYARROW:
        assert out.read_text() == "previous\n"  # the failed write left the old file whole
    if out is not None:
        assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_installed_command_reports_bad_input_without_traceback(bad_cases, tmp_path):
    """The same in real processes, for a sample of the cases (each process costs seconds)."""
    names = ["missing data", "not a model file", "value outside categories", "failing write"]
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
