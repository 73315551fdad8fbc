"""``lookalike fit --dask``, and ``sample`` / ``info`` on the GaussianMixture files it writes.

The commands run in process through typer's CliRunner. One fit uses ``--dask local``
(a LocalCluster of worker processes, started and closed by the command); the
other connects to a scheduler address, served by a module-wide threaded
LocalCluster that is cheap to start. The oracle for a fit is an in-memory
:class:`~lookalike.mixture.GaussianMixture` on the same rows: on well-separated
blobs with a tight tolerance both reach the same optimum, so lower bounds and
means agree; the saved lower bound also equals ``score`` of all rows in memory.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lookalike.cli import app, dask_fit
from lookalike.mixture import GaussianMixture
from lookalike.persistence import load, save

_CENTRES = np.array([[0.0, 0.0, 0.0], [8.0, 2.0, -3.0], [-4.0, 9.0, 5.0]])
_PART_ROWS = (700, 500, 800)
_TIGHT = ["--tol", "1e-9", "--max-iter", "500", "--seed", "0"]


_PROGRESS_LINE = re.compile(r"^\[ *\d+\.\ds\] ")


def messages(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress lines (``[  1.2s] reading ...``)."""
    return [line for line in stderr.strip().splitlines() if not _PROGRESS_LINE.match(line)]


def _invoke(*arguments: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in arguments])


def _blobs(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Three well-separated, correlated Gaussian blobs in columns a, b, c, plus a text column."""
    labels = rng.integers(0, 3, size=n)
    mixing = np.array([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [0.2, -0.3, 0.6]])
    values = _CENTRES[labels] + rng.normal(size=(n, 3)) @ mixing.T
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    frame["site"] = np.array(["north", "south", "east"])[labels].astype(object)
    return frame


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A partitioned Parquet folder and three CSV files (with some non-finite rows).

    Returns the folder, the Parquet rows, and the CSV rows (non-finite ones included).
    """
    folder = tmp_path_factory.mktemp("dask_cli")
    (folder / "parquet").mkdir()
    rng = np.random.default_rng(20240607)
    parquet_parts, csv_parts = [], []
    for index, n in enumerate(_PART_ROWS):
        part = _blobs(n, rng)
        part.to_parquet(folder / "parquet" / f"part-{index}.parquet", index=False)
        parquet_parts.append(part)
        part = _blobs(n, rng)
        part.loc[[3, 10], "a"] = [np.inf, np.nan]
        part.loc[[10, 20], "c"] = [-np.inf, np.nan]
        part.to_csv(folder / f"part-{index}.csv", index=False)
        csv_parts.append(part)
    return folder, pd.concat(parquet_parts), pd.concat(csv_parts)


@pytest.fixture(scope="module")
def scheduler() -> object:
    """The address of a running scheduler (threaded workers in this process: a fast start)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def local_fit(dataset) -> tuple[object, Path]:
    """``lookalike fit FOLDER --dask local``: the result and the model file."""
    folder, _, _ = dataset
    model = folder / "parquet.lookalike"
    result = _invoke("fit", folder / "parquet", "-o", model, "--dask", "local", "-k", "3", *_TIGHT)
    return result, model


def _assert_same_optimum(
    fitted: GaussianMixture, oracle: GaussianMixture, X: pd.DataFrame
) -> None:
    assert fitted.converged_ and oracle.converged_
    # Both converged with tol 1e-9 on blobs ~8 standard deviations apart: one optimum.
    np.testing.assert_allclose(fitted.lower_bound_, oracle.lower_bound_, rtol=1e-6)
    order, oracle_order = np.argsort(fitted.means_[:, 0]), np.argsort(oracle.means_[:, 0])
    np.testing.assert_allclose(fitted.means_[order], oracle.means_[oracle_order], atol=1e-4)
    np.testing.assert_allclose(
        fitted.weights_[order], oracle.weights_[oracle_order], rtol=0, atol=1e-5
    )
    # The saved lower bound is the mean log-likelihood of all rows, computed here in memory.
    np.testing.assert_allclose(fitted.lower_bound_, fitted.score(X), rtol=1e-6)


# --------------------------------------------------------------------------- fitting


@pytest.mark.slow
def test_fit_dask_local_on_a_parquet_folder_equals_the_in_memory_fit(dataset, local_fit):
    from dask.system import CPU_COUNT

    _, frame, _ = dataset
    result, model = local_fit
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert messages(result.stderr) == [
        "warning: dropped non-numeric column(s) site; a GaussianMixture fits numeric columns only"
    ]
    # Not a terminal: one progress line per stage on stderr.
    progress = [line for line in result.stderr.splitlines() if _PROGRESS_LINE.match(line)]
    assert any(line.endswith("] starting a local Dask cluster") for line in progress), progress
    fitting = f"] fitting {sum(_PART_ROWS)} rows x 3 columns on LocalCluster with {CPU_COUNT}"
    assert any(fitting in line for line in progress), progress
    summary = result.stdout.strip()
    assert summary.startswith(f"fitted {sum(_PART_ROWS)} rows, 3 columns with GaussianMixture")
    assert "(3 components, full covariance)" in summary
    assert f"ran on LocalCluster with {CPU_COUNT} workers" in summary
    assert summary.endswith(f"saved to {model}")

    fitted = load(model)
    assert type(fitted) is GaussianMixture
    assert fitted.feature_names_in_.tolist() == ["a", "b", "c"]
    assert (fitted.n_components, fitted.covariance_type) == (3, "full")
    assert f"{fitted.n_iter_} iterations, lower bound {fitted.lower_bound_:.6g};" in summary
    X = frame[["a", "b", "c"]]
    oracle = GaussianMixture(3, tol=1e-9, max_iter=500, random_state=0).fit(X)
    _assert_same_optimum(fitted, oracle, X)


def test_fit_dask_address_on_a_csv_glob_drops_non_finite_rows(dataset, scheduler):
    folder, _, frame = dataset
    model = folder / "csv.lookalike"
    result = _invoke(
        "fit", folder / "part-*.csv", "-o", model, "--dask", scheduler,
        "--columns", "c,a", "-k", "3", "--covariance", "diag", "--no-persist",
        "--non-finite", "drop", *_TIGHT,
    )  # fmt: skip
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert messages(result.stderr) == []  # the columns were chosen: nothing dropped
    X = frame[["c", "a"]]
    X = X[np.isfinite(X.to_numpy()).all(axis=1)]
    assert len(X) == sum(_PART_ROWS) - 9  # rows 3, 10 and 20 of each of the three files
    summary = result.stdout.strip()
    assert summary.startswith(f"fitted {len(X)} rows, 2 columns with GaussianMixture")
    assert "(3 components, diag covariance)" in summary
    assert f"ran on {scheduler};" in summary

    fitted = load(model)
    assert fitted.feature_names_in_.tolist() == ["c", "a"]
    oracle = GaussianMixture(
        3, covariance_type="diag", tol=1e-9, max_iter=500, random_state=0
    ).fit(X)
    _assert_same_optimum(fitted, oracle, X)


# --------------------------------------------------------------------------- sample, info


def _mixture_moments(model: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a full-covariance mixture (law of total variance)."""
    mean = model.weights_ @ model.means_
    second = np.einsum("k,kij->ij", model.weights_, model.covariances_)
    second += np.einsum("k,ki,kj->ij", model.weights_, model.means_, model.means_)
    return mean, second - np.outer(mean, mean)


@pytest.mark.slow
def test_sample_and_info_read_a_gaussian_mixture_file(local_fit, tmp_path):
    _, model = local_fit
    fitted = load(model)
    out, again = tmp_path / "drawn.parquet", tmp_path / "again.parquet"
    n = 3000
    for path in (out, again):
        result = _invoke("sample", model, "-n", n, "-o", path, "--seed", "1")
        assert result.exit_code == 0, (result.stderr, result.exception)
        assert result.stdout.strip() == f"wrote {n} rows, 3 columns to {path}"
    drawn = pd.read_parquet(out)
    pd.testing.assert_frame_equal(drawn, pd.read_parquet(again))  # the seed reproduces it
    assert list(drawn.columns) == ["a", "b", "c"] and len(drawn) == n
    # Column means within 5 standard errors of the mixture's mean: false-failure rate
    # below 2e-6 for the three columns together.
    mean, covariance = _mixture_moments(fitted)
    error = np.sqrt(np.diag(covariance) / n)
    assert np.all(np.abs(drawn.to_numpy().mean(axis=0) - mean) < 5 * error)
    # Rows are shuffled, not grouped by component (P(100 rows from one component) ~ 1e-47).
    assert len(set(fitted.predict(drawn.iloc[:100]).tolist())) > 1

    result = _invoke("info", model)
    assert result.exit_code == 0, (result.stderr, result.exception)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{model} (")
    assert lines[1:] == [
        "class: GaussianMixture",
        "n_components: 3",
        "covariance type: full",
        "features (3): a, b, c",
        f"n_iter_: {fitted.n_iter_}",
        f"lower_bound_: {fitted.lower_bound_:.6g} (mean log-likelihood per row)",
    ]

    result = _invoke("sample", model, "-n", 5, "-o", tmp_path / "w.csv", "-w", "a=0..1")
    assert result.exit_code == 2 and "--where needs a Synthesizer" in result.stderr


def test_sample_names_columns_x0_when_the_mixture_has_no_feature_names(tmp_path):
    X = np.random.default_rng(3).normal(size=(200, 2)) * [1.0, 10.0]
    model = save(GaussianMixture(1, random_state=0).fit(X), tmp_path / "plain.lookalike")
    out = tmp_path / "drawn.csv"
    result = _invoke("sample", model, "-n", 2000, "-o", out, "--seed", "0", "-q")
    assert result.exit_code == 0 and result.stdout == ""
    drawn = pd.read_csv(out)
    assert list(drawn.columns) == ["x0", "x1"] and len(drawn) == 2000
    # Sample standard deviations of a single Gaussian: within 10% of the fitted ones
    # (relative standard error sqrt(1/(2n)) ~ 1.6%, so 6 standard errors).
    fitted_std = np.sqrt(np.diag(load(model).covariances_[0]))
    np.testing.assert_allclose(drawn.std().to_numpy(), fitted_std, rtol=0.1)
    assert "features (2): x0, x1" in _invoke("info", model).stdout
    # Rows that cannot fit in memory are refused before any work (was a MemoryError traceback).
    result = _invoke("sample", model, "-n", 10**13, "-o", tmp_path / "huge.csv")
    _assert_bad_input(result, r"-n 10000000000000 rows of 2 columns need at least .* of memory")
    assert not (tmp_path / "huge.csv").exists()


# --------------------------------------------------------------------------- bad input


def _bad_cases(folder: Path) -> dict[str, tuple[list[object], str]]:
    out = ["-o", folder / "bad.lookalike"]
    parquet = folder / "parquet"
    return {
        "kde on dask": (
            ["fit", parquet, *out, "--dask", "local", "--model", "kde"],
            "--model kde cannot run on dask: only gmm",
        ),
        "auto on dask": (["fit", parquet, *out, "--dask", "local", "-m", "auto"], "only gmm"),
        "missing path": (
            ["fit", folder / "nowhere", *out, "--dask", "local"],
            "no such file or folder: .*nowhere",
        ),
        "glob without matches": (
            ["fit", folder / "*.json", *out, "--dask", "local"],
            r"no files match .*\*\.json",
        ),
        "non-numeric column": (
            ["fit", parquet, *out, "--dask", "local", "--columns", "a,site"],
            r"column\(s\) site of .* are not numeric",
        ),
        "unknown column": (
            ["fit", parquet, *out, "--dask", "local", "--columns", "a,zz"],
            r"unknown column\(s\) 'zz' in .*; columns are: a, b, c, site",
        ),
        "bad covariance": (
            ["fit", parquet, *out, "--dask", "local", "--covariance", "round"],
            "--covariance must be one of full, tied, diag, spherical",
        ),
        "no components": (["fit", parquet, *out, "--dask", "local", "-k", "0"], "at least 1"),
        "bad non-finite on dask": (
            ["fit", parquet, *out, "--dask", "local", "--non-finite", "keep"],
            "--non-finite must be one of missing, drop",
        ),
        "folder without dask": (["fit", parquet, *out], "is a folder; .* add --dask local"),
        "glob without dask": (["fit", folder / "part-*.csv", *out], "is a glob; .* add --dask"),
        "dask option without dask": (
            ["fit", folder / "part-0.csv", *out, "-k", "4"],
            "--components applies to --dask fits only",
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "kde on dask", "auto on dask", "missing path", "glob without matches",
        "non-numeric column", "unknown column", "bad covariance", "no components",
        "bad non-finite on dask", "folder without dask", "glob without dask",
        "dask option without dask",
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line_with_status_2(dataset, name):
    folder, _, _ = dataset
    arguments, pattern = _bad_cases(folder)[name]
    result = _invoke(*arguments)
    _assert_bad_input(result, pattern)
    assert not (folder / "bad.lookalike").exists()


def _assert_bad_input(result: object, pattern: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    lines = messages(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""


def test_unreachable_scheduler_fails_fast_with_a_clear_message(dataset, monkeypatch):
    folder, _, _ = dataset
    monkeypatch.setattr(dask_fit, "DASK_CONNECT_TIMEOUT", 1.0)
    start = time.perf_counter()
    result = _invoke(
        "fit", folder / "parquet", "-o", folder / "bad.lookalike", "--columns", "a,b",
        "--dask", "tcp://127.0.0.1:1",
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    _assert_bad_input(
        result, r"could not reach the Dask scheduler at tcp://127\.0\.0\.1:1 within 1 s"
    )
    assert elapsed < 15  # a 1 s connect timeout, not distributed's default 30 s


def test_missing_dask_gives_the_install_command(dataset, monkeypatch):
    folder, _, _ = dataset
    monkeypatch.setitem(sys.modules, "dask", None)  # makes `import dask...` fail
    result = _invoke("fit", folder / "parquet", "-o", folder / "bad.lookalike", "--dask", "local")
    _assert_bad_input(result, r"pip install 'lookalike\[dask\]'")


def test_non_finite_entries_are_missing_values_by_default(dataset, scheduler):
    """Without --non-finite drop, inf and NaN become missing values of a missing='em' fit."""
    folder, _, frame = dataset
    model = folder / "missing.lookalike"
    result = _invoke(
        "fit", folder / "part-*.csv", "-o", model, "--dask", scheduler,
        "--columns", "a,b,c", "-k", "3", *_TIGHT,
    )  # fmt: skip
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout.startswith(f"fitted {sum(_PART_ROWS)} rows, 3 columns")
    fitted = load(model)
    assert fitted.missing == "em"
    X = frame[["a", "b", "c"]].replace([np.inf, -np.inf], np.nan)
    oracle = GaussianMixture(3, missing="em", tol=1e-9, max_iter=500, random_state=0).fit(X)
    _assert_same_optimum(fitted, oracle, X)
