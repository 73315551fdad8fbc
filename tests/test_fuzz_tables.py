"""Property-based fuzzing of the table path: Synthesizer fit/sample, save/load, the CLI.

Issue 12's contract for tables: whatever the columns (numbers with NaN and infinities,
constants, integers, text, dates with and without time zones, booleans, mixed objects)
and however few rows, ``Synthesizer.fit(df).sample(n)`` either raises a clear ValueError
or TypeError (never a numpy or pandas internal), or returns exactly the columns it was
given (ids left out only when said in ``summary()["dropped_ids"]``), with their dtypes,
``n`` rows, and no value outside a numeric column's observed range; save/load gives the
same rows back; the CLI answers bad tables with one ``error:`` line and status 2. Each
case runs under :func:`conftest.time_limit`. Hypothesis is derandomized: the same
examples on every run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lookalike as la
from conftest import time_limit

CASE_SECONDS = 60.0
FUZZ = settings(
    max_examples=int(os.environ.get("LOOKALIKE_FUZZ_EXAMPLES", "10")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INTERNAL_ERRORS = (
    ZeroDivisionError,
    MemoryError,
    OverflowError,
    IndexError,
    KeyError,
    AttributeError,
)


def _column(kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    if kind == "float":
        values = rng.normal(size=n) * 10.0 ** rng.integers(-3, 6)
        values[rng.random(n) < 0.2] = np.nan
        return pd.Series(values)
    if kind == "rounded":
        return pd.Series(np.round(rng.exponential(3, n), 1))
    if kind == "constant":
        return pd.Series(np.full(n, 7.5))
    if kind == "int":
        return pd.Series(rng.integers(-5, 50, n))
    if kind == "text":
        return pd.Series(rng.choice(["a", "b", "c", "d"], n), dtype=object)
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.3)
    if kind == "date":
        return pd.Series(
            pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
        )
    if kind == "tz":
        days = pd.to_timedelta(rng.integers(0, 90, n), "h")
        return pd.Series(pd.Timestamp("2021-03-01", tz="Europe/Paris") + days)
    if kind == "mixed":
        return pd.Series([1, "x", 2.5, None][: max(n, 0)] * (n // 4 + 1), dtype=object)[:n]
    raise AssertionError(kind)


KINDS = ["float", "rounded", "constant", "int", "text", "bool", "date", "tz", "mixed"]


def _table(kinds: list[str], n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"{kind}{j}": _column(kind, n, rng) for j, kind in enumerate(kinds)})


def _check_error(error: BaseException) -> None:
    assert isinstance(error, ValueError | TypeError), f"{type(error).__name__}: {error}"
    assert not isinstance(error, INTERNAL_ERRORS), f"{type(error).__name__}: {error}"
    assert str(error).strip(), "an error without a message"


@FUZZ
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
    n=st.integers(0, 60),
    model=st.sampled_from(["gaussian", "trees", "cells"]),
    seed=st.integers(0, 2**16),
)
def test_synthesizer_keeps_the_contract(kinds, n, model, seed):
    table = _table(kinds, n, seed)
    with time_limit(CASE_SECONDS, "Synthesizer fit/sample"):
        try:
            synth = la.Synthesizer(model=model, random_state=seed).fit(table)
        except Exception as error:
            _check_error(error)
            return
        rows = synth.sample(7, random_state=1)
    dropped = set(synth.summary()["dropped_ids"])
    kept = [c for c in table.columns if c not in dropped]
    assert list(rows.columns) == kept
    assert rows.shape[0] == 7
    for column in kept:
        assert rows[column].dtype == table[column].dtype, column
        if table[column].dtype.kind in "fi" and table[column].notna().any():
            present = rows[column].dropna()
            assert (present >= table[column].min()).all(), column
            assert (present <= table[column].max()).all(), column
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.lookalike"
        la.save(synth, path)
        again = la.load(path).sample(7, random_state=1)
    pd.testing.assert_frame_equal(again, rows)


@settings(FUZZ, max_examples=max(3, FUZZ.max_examples // 3))
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3), n=st.integers(0, 3))
def test_cli_fit_answers_tiny_tables_in_one_line(kinds, n, tmp_path_factory):
    from typer.testing import CliRunner

    from lookalike.cli import app

    folder = tmp_path_factory.mktemp("fuzz")
    data = folder / "t.csv"
    _table(kinds, n, 0).to_csv(data, index=False)
    with time_limit(CASE_SECONDS, "lookalike fit"):
        result = CliRunner().invoke(app, ["fit", str(data), "-o", str(folder / "m.lookalike")])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("n_samples", [0, 3])
def test_sample_sizes_at_the_edges(n_samples):
    synth = la.Synthesizer(model="gaussian", random_state=0).fit(_table(["float", "text"], 30, 0))
    assert synth.sample(n_samples).shape == (n_samples, 2)
