"""``lookalike fit --dask`` and ``lookalike sample --dask`` on mixed tables (issue 16).

The commands run in process through typer's CliRunner against real
``distributed.LocalCluster`` schedulers: two module-wide clusters of worker threads
(one with 1 worker, one with 2), cheap to start, given to ``--dask`` by address; one
slow test runs ``--dask local`` (worker processes, started and closed by the
command). Oracles: the in-memory Synthesizer on the same rows (column kinds and
dtypes), :meth:`Synthesizer.sample_partitions`' documented scheme computed by hand
(partition ``i`` is ``sample(size_i)`` with ``SeedSequence(seed).spawn(K)[i]``), the
real table's dtypes read back by pandas, and the same command on the other cluster.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lookalike._io import atomic_directory
from lookalike.cli import _dask, app
from lookalike.mixture import GaussianMixture
from lookalike.persistence import load, save
from lookalike.tabular import Synthesizer

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

_PART_ROWS = (1300, 1100, 1200)
_N_ROWS = sum(_PART_ROWS)
_PROGRESS_LINE = re.compile(r"^\[ *\d+\.\ds\] ")


def messages(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress lines (``[  1.2s] reading ...``)."""
    return [line for line in stderr.strip().splitlines() if not _PROGRESS_LINE.match(line)]


def _invoke(*arguments: object) -> object:
    return CliRunner().invoke(app, [str(a) for a in arguments])


def _ok(result: object) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    return result


def _assert_bad_input(result: object, pattern: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    lines = messages(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""


def mixed(n: int, seed: int) -> pd.DataFrame:
    """Dependent numbers (decimals, NaN, a grid), text, a flag and dates."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    frame = pd.DataFrame(
        {
            "size": (2.0 * z[:, 0] + 10.0).round(2),
            "income": np.exp(z[:, 1] + 0.6 * z[:, 0]).round(3),
            "visits": 5 * rng.poisson(3 + 2 * (z[:, 0] > 0)) + 20,
            "colour": np.where(z[:, 2] > 0.3, "red", np.where(z[:, 2] < -1, "blue", "green")),
            "member": z[:, 1] > 0.2,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    return frame


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A folder of three Parquet files and the table as pandas reads it back."""
    folder = tmp_path_factory.mktemp("dask_cli") / "table"
    folder.mkdir()
    for index, rows in enumerate(_PART_ROWS):
        mixed(rows, seed=index).to_parquet(folder / f"part-{index}.parquet", index=False)
    return folder, pd.read_parquet(folder)


@pytest.fixture(scope="module")
def clusters() -> object:
    """Scheduler addresses of a 1-worker and a 2-worker cluster (threads: a fast start)."""
    from distributed import LocalCluster

    def cluster(n_workers: int) -> LocalCluster:
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=False,
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address=":0",
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with cluster(1) as one, cluster(2) as two:
            yield {1: one.scheduler_address, 2: two.scheduler_address}


@pytest.fixture(scope="module")
def fitted(dataset, clusters) -> tuple[object, Path]:
    """``lookalike fit FOLDER --dask ADDRESS --model trees``: the result and the model file."""
    folder, _ = dataset
    model = folder.parent / "trees.lookalike"
    result = _invoke("fit", folder, "-o", model, "--dask", clusters[2], "-m", "trees", "--seed", 0)
    return result, model


# --------------------------------------------------------------------------- fitting


def test_fit_dask_keeps_every_column_of_a_mixed_table(dataset, clusters, fitted):
    _, real = dataset
    result, model = fitted
    _ok(result)
    assert messages(result.stderr) == []  # no warning: nothing dropped
    summary = result.stdout.strip()
    assert summary.startswith(f"fitted {_N_ROWS} rows, 6 columns with SequentialTrees")
    assert f"in memory on the seeded sample of {_N_ROWS} rows, 3 partitions;" in summary
    assert summary.endswith(f"ran on {clusters[2]}); saved to {model}")
    synth = load(model)
    assert isinstance(synth, Synthesizer) and synth.columns_ == list(real.columns)
    assert synth.n_rows_ == _N_ROWS and synth.partitions_["lengths"] == list(_PART_ROWS)
    # Every column is modelled with the kind and dtype an in-memory fit gives it.
    memory = Synthesizer("gaussian", random_state=0).fit(real)
    assert [(c.name, c.kind, str(c.dtype)) for c in synth.schema_] == [
        (c.name, c.kind, str(c.dtype)) for c in memory.schema_
    ]
    assert [c.kind for c in synth.schema_] == [
        "continuous", "continuous", "integer", "categorical", "boolean", "datetime",
    ]  # fmt: skip

    result = _ok(_invoke("info", model))
    assert "fitted partition by partition (3 partitions): codecs from a seeded sample" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("options", "shown", "on_every_row"),
    [
        # 'member' explains income: a copula per level, fitted to the sample (one copula
        # by EM on every row is tested in test_tabular_dask).
        (["-m", "gaussian"], "a Gaussian copula per level of 'member'", False),
        (["-m", "gmm"], "GaussianMixture(", True),
        (["-k", "2", "--covariance", "diag"], "n_components=2, covariance_type='diag'", True),
        (["-m", "cells"], "CellMixture", False),
        (["-m", "kde"], "KernelDensity", False),
        (["-m", "auto"], "", None),
    ],
    ids=["gaussian", "gmm", "k2-diag", "cells", "kde", "auto"],
)
def test_every_model_of_the_command_fits_on_dask(
    dataset, clusters, tmp_path, options, shown, on_every_row
):
    folder, real = dataset
    model = tmp_path / "m.lookalike"
    result = _ok(
        _invoke(
            "fit", folder, "-o", model, "--dask", clusters[2], "--sample-rows", 1000,
            "--seed", 1, *options,
        )
    )  # fmt: skip
    assert messages(result.stderr) == []
    assert shown in result.stdout
    synth = load(model)
    fit = synth.partitions_["model_fit"]
    if on_every_row is None:  # auto: whichever family won, said where it was fitted
        on_every_row = "every row" in fit
    if on_every_row:
        assert fit == "partitioned EM on every row" and synth.partitions_["model_rows"] == _N_ROWS
    else:
        assert fit == "in memory on the seeded sample of 1000 rows"
    # The file samples, in memory as on the cluster, with every column.
    out = tmp_path / "few.parquet"
    _ok(_invoke("sample", model, "-n", 50, "-o", out, "--seed", 0))
    assert pd.read_parquet(out).dtypes.equals(real.dtypes)


def test_fit_dask_reports_infinite_values_as_without_dask(dataset, clusters, tmp_path):
    _, real = dataset
    table = real.copy()
    table.loc[[3, 10], "income"] = [np.inf, -np.inf]
    table.loc[[10, 20], "size"] = [np.inf, np.nan]
    for index in range(2):
        table.iloc[index * 1800 : (index + 1) * 1800].to_csv(
            tmp_path / f"t{index}.csv", index=False
        )
    glob = tmp_path / "t*.csv"
    as_missing, dropped = tmp_path / "missing.lookalike", tmp_path / "dropped.lookalike"
    common = ["--dask", clusters[2], "-m", "gaussian", "--columns", "size,income,colour"]
    result = _ok(_invoke("fit", glob, "-o", as_missing, *common))
    assert messages(result.stderr) == [
        "warning: 2 rows have infinite values in column(s) size, income; treated as missing"
    ]
    synth = load(as_missing)
    assert synth.columns_ == ["size", "income", "colour"] and synth.n_rows_ == _N_ROWS
    missing = table["size"].replace(np.inf, np.nan).isna().mean()
    assert synth.encoder_.codec("size").missing_rate == pytest.approx(missing, rel=1e-12)
    assert synth.encoder_.codec("income").missing_rate == pytest.approx(2 / _N_ROWS)

    result = _ok(_invoke("fit", glob, "-o", dropped, *common, "--non-finite", "drop"))
    assert messages(result.stderr) == [
        "warning: 2 rows have infinite values in column(s) size, income; dropped"
    ]
    assert result.stdout.startswith(f"fitted {_N_ROWS - 2} rows, 3 columns")
    assert load(dropped).encoder_.codec("income").missing_rate == 0


# --------------------------------------------------------------------------- sampling


def _sample(model: Path, out: Path, address: str, *options: object) -> pd.DataFrame:
    result = _ok(_invoke("sample", model, "-o", out, "--dask", address, *options))
    assert messages(result.stderr) == []
    return pd.read_parquet(out)


def test_sample_dask_writes_a_dataset_that_does_not_depend_on_the_workers(
    dataset, clusters, fitted, tmp_path
):
    _, real = dataset
    _, model = fitted
    where = ["-w", "colour=red", "-w", "size=9..11", "--seed", 7]
    one = _sample(model, tmp_path / "one", clusters[1], "-n", 5000, "--partitions", 4, *where)
    two = _sample(model, tmp_path / "two", clusters[2], "-n", 5000, "--partitions", 4, *where)
    pd.testing.assert_frame_equal(one, two)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        f"part.{i}.parquet" for i in range(4)
    ]
    assert len(two) == 5000 and two.dtypes.equals(real.dtypes)
    assert set(two["colour"]) == {"red"} and two["size"].between(9.0, 11.0).all()
    # The documented scheme by hand: partition i is sample(1250) with child i of the seed.
    synth = load(model)
    children = np.random.SeedSequence(7).spawn(4)
    for index in (0, 3):
        by_hand = synth.sample(
            1250,
            where={"colour": "red", "size": (9.0, 11.0)},
            random_state=np.random.default_rng(children[index]),
        )
        got = two.iloc[1250 * index : 1250 * (index + 1)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, by_hand)
    # Without conditions: every column as in the real table, missing values included.
    free = _sample(model, tmp_path / "free", clusters[2], "-n", 4000, "--seed", 8)
    assert len(free) == 4000 and free.dtypes.equals(real.dtypes)
    assert abs(free["size"].isna().mean() - real["size"].isna().mean()) < 0.035  # 5 s.e.
    assert set(free["colour"]) == set(real["colour"])
    other_seed = _sample(model, tmp_path / "other", clusters[2], "-n", 4000, "--seed", 9)
    assert not free.equals(other_seed)


def test_sample_dask_of_a_gaussian_mixture_file(clusters, tmp_path):
    X = np.random.default_rng(3).normal(size=(300, 2)) * [1.0, 10.0]
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = save(GaussianMixture(2, random_state=0).fit(frame), tmp_path / "gmm.lookalike")
    one = _sample(model, tmp_path / "one", clusters[1], "-n", 3000, "--partitions", 3, "--seed", 0)
    two = _sample(model, tmp_path / "two", clusters[2], "-n", 3000, "--partitions", 3, "--seed", 0)
    pd.testing.assert_frame_equal(one, two)
    assert list(two.columns) == ["a", "b"] and len(two) == 3000
    np.testing.assert_allclose(two.std().to_numpy(), frame.std().to_numpy(), rtol=0.15)
    result = _invoke(
        "sample", model, "-n", 5, "-o", tmp_path / "w", "--dask", clusters[2], "-w", "a=0..1"
    )
    _assert_bad_input(result, "--where needs a Synthesizer")


@pytest.mark.slow
def test_fit_and_sample_with_a_local_cluster_of_worker_processes(dataset, tmp_path):
    """``--dask local``: the Synthesizer travels to worker processes and back."""
    from dask.system import CPU_COUNT

    folder, real = dataset
    model, out = tmp_path / "local.lookalike", tmp_path / "new_rows"
    result = _ok(_invoke("fit", folder, "-o", model, "--dask", "local", "-m", "gmm", "--seed", 2))
    progress = [line for line in result.stderr.splitlines() if _PROGRESS_LINE.match(line)]
    assert any(line.endswith("] starting a local Dask cluster") for line in progress), progress
    assert f"ran on LocalCluster with {CPU_COUNT} workers" in result.stdout
    assert load(model).partitions_["model_fit"] == "partitioned EM on every row"
    result = _ok(_invoke("sample", model, "-n", 3000, "-o", out, "--dask", "local", "--seed", 0))
    assert result.stdout.strip() == f"wrote 3000 rows, 6 columns to {out} (1 Parquet file)"
    drawn = pd.read_parquet(out)
    assert len(drawn) == 3000 and drawn.dtypes.equals(real.dtypes)
    assert drawn["day"].between(real["day"].min(), real["day"].max()).all()
    # local:N starts N workers.
    one = _ok(_invoke("fit", folder, "-o", model, "--dask", "local:1", "-m", "gmm", "--seed", 2))
    assert "ran on LocalCluster with 1 workers" in one.stdout


# --------------------------------------------------------------------------- atomic folders


def test_a_dataset_folder_is_written_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".out.")
        (temporary / "part.0.parquet").write_text("rows")
        assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~_umask()
    refused = pytest.raises(FileExistsError, match="out exists and is not empty; remove it")
    with refused, atomic_directory(target):
        pass
    with (
        pytest.raises(OSError, match="disk full"),
        atomic_directory(tmp_path / "failed") as temporary,
    ):
        (temporary / "part.0.parquet").write_text("partial")
        raise OSError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty) as temporary:  # an empty folder is taken
        (temporary / "x").write_text("x")
    assert [p.name for p in empty.iterdir()] == ["x"]
    (empty / "x").unlink()
    with (
        pytest.raises(FileExistsError, match="empty exists and is not empty"),
        atomic_directory(empty) as temporary,
    ):
        (temporary / "x").write_text("x")
        (empty / "late").write_text("someone else wrote here meanwhile")
    assert [p.name for p in empty.iterdir()] == ["late"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "out"]


def test_a_failed_write_leaves_no_folder(dataset, clusters, fitted, tmp_path, monkeypatch):
    _, model = fitted
    import dask.dataframe as dd

    def fail(self, path, **kwargs):
        Path(path, "part.0.parquet").write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(dd.DataFrame, "to_parquet", fail)
    result = _invoke("sample", model, "-n", 10, "-o", tmp_path / "out", "--dask", clusters[2])
    _assert_bad_input(result, "disk full")
    assert list(tmp_path.iterdir()) == []


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- bad input


def _bad_cases(folder: Path, model: Path, full: Path) -> dict[str, tuple[list[object], str]]:
    out = ["-o", folder.parent / "bad.lookalike"]
    drawn = ["sample", model, "-n", 10]
    return {
        "unknown model on dask": (
            ["fit", folder, *out, "--dask", "local", "--model", "ctgan"],
            "--model must be one of auto, trees, cells, gaussian, gmm, kde; got 'ctgan'",
        ),
        "components of another model": (
            ["fit", folder, *out, "--dask", "local", "-m", "trees", "-k", "3"],
            "-k sets the number of components of --model gmm, not of --model trees",
        ),
        "covariance without components": (
            ["fit", folder, *out, "--dask", "local", "--covariance", "diag"],
            "--covariance tune.* add -k COMPONENTS",
        ),
        "no components": (["fit", folder, *out, "--dask", "local", "-k", "0"], "at least 1"),
        "bad covariance": (
            ["fit", folder, *out, "-k", "2", "--covariance", "round"],
            "--covariance must be one of full, tied, diag, spherical",
        ),
        "sheet on dask": (["fit", folder, *out, "--dask", "local", "--sheet", "x"], "--sheet"),
        "tiny sample": (
            ["fit", folder, *out, "--dask", "local", "--sample-rows", "1"],
            "--sample-rows must be at least 2",
        ),
        "sample rows without dask": (
            ["fit", folder / "part-0.parquet", *out, "--sample-rows", "10"],
            "--sample-rows applies to --dask fits only",
        ),
        "persist without dask": (
            ["fit", folder / "part-0.parquet", *out, "--no-persist"],
            "--persist/--no-persist applies to --dask fits only",
        ),
        "missing path": (
            ["fit", folder / "nowhere", *out, "--dask", "local"],
            "no such file or folder: .*nowhere",
        ),
        "glob without matches": (
            ["fit", folder / "*.json", *out, "--dask", "local"],
            r"no files match .*\*\.json",
        ),
        "unknown column": (
            ["fit", folder, *out, "--dask", "local", "--columns", "size,zz"],
            r"unknown column\(s\) 'zz' in .*; columns are: size, income, visits, colour",
        ),
        "kind of an unknown column": (
            ["fit", folder, *out, "--dask", "local", "--kind", "zz=integer"],
            r"--kind names unknown column\(s\) 'zz'",
        ),
        "empty address": (["fit", folder, *out, "--dask", " "], "--dask is empty"),
        "no workers": (
            ["fit", folder, *out, "--dask", "local:0"],
            "--dask local:N needs a number of workers N >= 1; got 'local:0'",
        ),
        "workers not a number": (
            [*drawn, "-o", folder.parent / "new", "--dask", "local:two"],
            "--dask local:N needs a number of workers N >= 1; got 'local:two'",
        ),
        "folder without dask": (["fit", folder, *out], "is a folder; .* add --dask local"),
        "glob without dask": (["fit", folder / "part-*", *out], "is a glob; .* add --dask"),
        "csv output with dask": (
            [*drawn, "-o", folder.parent / "new.csv", "--dask", "local"],
            r"--dask writes a partitioned Parquet dataset, a folder, .* \.csv file",
        ),
        "non-empty output folder": (
            [*drawn, "-o", full, "--dask", "local"],
            "exists and is not empty; remove it or choose another folder",
        ),
        "zero partitions": (
            [*drawn, "-o", folder.parent / "new", "--dask", "local", "--partitions", "0"],
            "--partitions must be at least 1",
        ),
        "partitions without dask": (
            [*drawn, "-o", folder.parent / "new.csv", "--partitions", "2"],
            "--partitions applies to --dask samples only",
        ),
        "folder output without dask": (
            [*drawn, "-o", full],
            "is a folder; give a file name .* or add --dask local",
        ),
        "where value on dask": (
            [*drawn, "-o", folder.parent / "new", "--dask", "local", "-w", "colour=purple"],
            "purple",
        ),
    }


_BAD_NAMES = [
    "unknown model on dask", "components of another model", "covariance without components",
    "no components", "bad covariance", "sheet on dask", "tiny sample",
    "sample rows without dask", "persist without dask", "missing path", "glob without matches",
    "unknown column", "kind of an unknown column", "empty address", "no workers",
    "workers not a number", "folder without dask",
    "glob without dask", "csv output with dask", "non-empty output folder", "zero partitions",
    "partitions without dask", "folder output without dask", "where value on dask",
]  # fmt: skip


def test_every_bad_case_is_run():
    assert sorted(_BAD_NAMES) == sorted(_bad_cases(Path("d"), Path("m"), Path("f")))


@pytest.mark.parametrize("name", _BAD_NAMES)
def test_bad_input_is_one_error_line_with_status_2(dataset, fitted, tmp_path, name):
    folder, _ = dataset
    _, model = fitted
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    arguments, pattern = _bad_cases(folder, model, full)[name]
    before = sorted(folder.parent.iterdir())
    result = _invoke(*arguments)
    _assert_bad_input(result, pattern)
    assert sorted(folder.parent.iterdir()) == before  # no model, no folder, no temporary
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def test_unreachable_scheduler_fails_fast_with_a_clear_message(dataset, monkeypatch, tmp_path):
    folder, _ = dataset
    monkeypatch.setattr(_dask, "DASK_CONNECT_TIMEOUT", 1.0)
    start = time.perf_counter()
    result = _invoke(
        "fit", folder, "-o", tmp_path / "bad.lookalike", "--dask", "tcp://127.0.0.1:1"
    )
    elapsed = time.perf_counter() - start
    _assert_bad_input(
        result, r"could not reach the Dask scheduler at tcp://127\.0\.0\.1:1 within 1 s"
    )
    assert elapsed < 15  # a 1 s connect timeout, not distributed's default 30 s
    assert list(tmp_path.iterdir()) == []


def test_missing_dask_gives_the_install_command(dataset, fitted, monkeypatch, tmp_path):
    folder, _ = dataset
    _, model = fitted
    monkeypatch.setitem(sys.modules, "dask", None)  # makes `import dask...` fail
    result = _invoke("fit", folder, "-o", tmp_path / "bad.lookalike", "--dask", "local")
    _assert_bad_input(result, r"pip install 'lookalike\[dask\]'")
    result = _invoke("sample", model, "-n", 5, "-o", tmp_path / "out", "--dask", "local")
    _assert_bad_input(result, r"pip install 'lookalike\[dask\]'")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- without --dask


def test_components_give_the_same_mixture_in_memory(dataset, tmp_path):
    """``-k`` means the same without ``--dask``: a mixture of that size on the scores."""
    folder, _ = dataset
    model = tmp_path / "k.lookalike"
    result = _ok(_invoke("fit", folder / "part-0.parquet", "-o", model, "-k", "3", "--seed", "0"))
    assert "GaussianMixture(n_components=3, covariance_type='full')" in result.stdout
    estimator = load(model).model_.estimator_
    assert (estimator.n_components, estimator.reg_covar) == (3, 1e-4)


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
