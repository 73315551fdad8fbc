"""``lookalike fit``: a Synthesizer fitted to one table (or, with ``--dask``, a mixture)."""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Annotated, Any

import typer

from lookalike._logging import stage
from lookalike.cli._shared import (
    MODEL_CHOICES,
    NON_FINITE_CHOICES,
    BadInput,
    QuietOption,
    VerboseOption,
    check_choice,
    check_seed,
    command,
    echo,
    log,
    refuse_same,
    split_columns,
    warn,
)

#: ``--bounds`` -> the Synthesizer's ``bounds``.
BOUNDS_CHOICES: dict[str, str | None] = {"observed": "observed", "clip": "clip", "none": None}
IDS_CHOICES = ("drop", "regenerate")
_GLOB_CHARACTERS = frozenset("*?[")
#: Fewest rows a table fit learns from (one row has no spread to learn).
MIN_ROWS = 2

#: ``lookalike fit --dask`` defaults (repeated in the help; the fit lives in dask_fit.py).
DASK_COMPONENTS = 8
DASK_COVARIANCE = "full"
DASK_MAX_ITER = 100
DASK_TOL = 1e-3


@command
def fit(
    data: Annotated[
        str,
        typer.Argument(
            help=(
                "The table: .csv, .parquet/.pq or .xlsx/.xls. With --dask: a Parquet file, a "
                "folder of Parquet files or a quoted glob of Parquet/CSV files."
            ),
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Model file to write (e.g. model.lookalike)."),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=(
                "Joint model: auto (chosen by a held-out detector), trees, cells, gaussian, "
                "gmm or kde (default: auto; gmm with --dask)."
            ),
            show_default=False,
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Comma-separated columns to keep (default: all)."),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help=(
                "A column's kind, overriding inference, as COLUMN=KIND with KIND one of "
                "continuous, integer, boolean, categorical, datetime, id; repeat for several "
                "columns (e.g. --kind year=categorical)."
            ),
            show_default=False,
        ),
    ] = None,
    bounds: Annotated[
        str | None,
        typer.Option(
            "--bounds",
            help=(
                "Keep numeric and datetime values within each column's observed range "
                "('observed', exact: each column's marginal is the observed one; 'clip' is "
                "the same) or let continuous columns extend past it with fitted tails "
                "('none'). Default: observed."
            ),
            show_default=False,
        ),
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option(
            "--ids",
            help=(
                "Id columns are never modelled: 'drop' leaves them out of samples, "
                "'regenerate' fills them with new unique ids (default: drop)."
            ),
            show_default=False,
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet to read (default: the first).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed, 0 to 4294967295.")
    ] = None,
    non_finite: Annotated[
        str | None,
        typer.Option(
            "--non-finite",
            help=(
                "Rows with inf/-inf in numeric columns: 'missing' keeps the rows and treats "
                "those entries as missing values; 'drop' removes the rows. With --dask, "
                "'missing' fits the mixture with missing values integrated out "
                "(missing='em') and 'drop' also drops rows with missing values "
                "(default: missing)."
            ),
            show_default=False,
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help=(
                "Fit a GaussianMixture with Dask: 'local' starts a cluster on this machine "
                "(one worker per core), or give a scheduler address such as "
                "tcp://10.0.0.5:8786. Needs the dask extra of lookalike."
            ),
            show_default=False,
        ),
    ] = None,
    components: Annotated[
        int | None,
        typer.Option(
            "--components",
            "-k",
            help=f"--dask: number of mixture components (default: {DASK_COMPONENTS}).",
            show_default=False,
        ),
    ] = None,
    covariance: Annotated[
        str | None,
        typer.Option(
            "--covariance",
            help=(
                "--dask: covariance type: full, tied, diag or spherical "
                f"(default: {DASK_COVARIANCE})."
            ),
            show_default=False,
        ),
    ] = None,
    max_iter: Annotated[
        int | None,
        typer.Option(
            "--max-iter",
            help=f"--dask: most EM iterations (default: {DASK_MAX_ITER}).",
            show_default=False,
        ),
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            "--tol",
            help=(
                "--dask: stop when the mean log-likelihood gains less than this "
                f"(default: {DASK_TOL:g})."
            ),
            show_default=False,
        ),
    ] = None,
    persist: Annotated[
        bool | None,
        typer.Option(
            "--persist/--no-persist",
            help=(
                "--dask: keep the data in the workers' memory across EM iterations, or "
                "re-read it on every pass (out of core) (default: persist)."
            ),
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Fit a synthesizer to a table (or, with --dask, a mixture to a dataset) and save it.

    Example: lookalike fit penguins.csv -o penguins.lookalike --model gmm --seed 0

    Example: lookalike fit data.csv -o m.lookalike --kind year=categorical --bounds clip

    Example: lookalike fit 'sales/*.parquet' -o sales.lookalike --dask local -k 12
    """
    check_seed(seed)
    if dask is not None:
        table_only = {"--kind": kind, "--bounds": bounds, "--ids": ids}
        for option, value in table_only.items():
            if value is not None:
                raise BadInput(f"{option} applies to table fits, not to --dask mixture fits")
        from lookalike.cli.dask_fit import DaskOptions, fit_on_dask

        fit_on_dask(
            data,
            output,
            dask,
            DaskOptions(
                model=model,
                columns=split_columns(columns),
                sheet=sheet,
                seed=seed,
                non_finite=non_finite,
                components=DASK_COMPONENTS if components is None else components,
                covariance=DASK_COVARIANCE if covariance is None else covariance,
                max_iter=DASK_MAX_ITER if max_iter is None else max_iter,
                tol=DASK_TOL if tol is None else tol,
                persist=True if persist is None else persist,
            ),
            quiet,
        )
        return

    dask_only = {
        "--components": components,
        "--covariance": covariance,
        "--max-iter": max_iter,
        "--tol": tol,
        "--persist/--no-persist": persist,
    }
    for option, given in dask_only.items():
        if given is not None:
            raise BadInput(f"{option} applies to --dask fits only; add --dask local or ADDRESS")
    model = "auto" if model is None else model
    non_finite = "missing" if non_finite is None else non_finite
    bounds = "observed" if bounds is None else bounds
    ids = "drop" if ids is None else ids
    check_choice("--model", model, MODEL_CHOICES)
    check_choice("--non-finite", non_finite, NON_FINITE_CHOICES)
    check_choice("--bounds", bounds, tuple(BOUNDS_CHOICES))
    check_choice("--ids", ids, IDS_CHOICES)
    kinds = parse_kinds(kind or [])
    table = _single_table(data)
    refuse_same(output, table, "the input table")
    selected = split_columns(columns)

    from lookalike._tables import handle_non_finite, read_table

    frame = read_table(table, sheet=sheet, columns=selected)
    unknown = [name for name in kinds if name not in frame.columns]
    if unknown:
        raise BadInput(
            f"--kind names unknown column(s) {', '.join(map(repr, unknown))}; columns are: "
            f"{', '.join(map(str, frame.columns))}"
        )
    frame, report = handle_non_finite(frame, non_finite)
    if report:
        warn(report)
    if frame.shape[0] == 0:
        raise BadInput(f"no rows left in {table} after dropping rows with infinite values")
    if frame.shape[0] < MIN_ROWS:
        raise BadInput(
            f"{table} has {frame.shape[0]} row; a synthesizer learns from at least {MIN_ROWS}"
        )
    from lookalike.persistence import save
    from lookalike.tabular import Synthesizer

    synthesizer = Synthesizer(
        model=model,
        kinds=kinds or None,
        bounds=BOUNDS_CHOICES[bounds],
        ids=ids,
        random_state=seed,
    )
    # The Synthesizer's stages reach the terminal through the "lookalike" logger (its
    # verbose printing would repeat them); anything a library prints goes to stderr.
    shape = frame.shape
    with (
        redirect_stdout(sys.stderr),
        stage(log, "fitting %d rows x %d columns", shape[0], shape[1]),
    ):
        synthesizer.fit(frame)
    with stage(log, "saving %s", output):
        saved = save(synthesizer, output)
    if not quiet:
        summary = synthesizer.summary()
        echo(
            f"fitted {frame.shape[0]} rows, {frame.shape[1]} columns with "
            f"{summary.get('model', model)}; saved to {saved}"
        )
        id_columns = _id_columns(summary)
        if id_columns and ids == "drop":
            echo(
                f"id column(s) {', '.join(id_columns)} are not modelled and samples leave "
                "them out (--ids regenerate fills them with new unique ids)"
            )


def parse_kinds(items: list[str]) -> dict[str, str]:
    """``["year=categorical", ...]`` -> ``{"year": "categorical", ...}``.

    The kind names are checked by the Synthesizer (its error names the choices).

    Examples
    --------
    >>> parse_kinds(["year = categorical", "id=id"])
    {'year': 'categorical', 'id': 'id'}
    """
    kinds: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            raise BadInput(f"--kind {item!r} must look like COLUMN=KIND, e.g. year=categorical")
        if name in kinds:
            raise BadInput(f"column {name!r} is given twice in --kind")
        kinds[name] = value
    return kinds


def _id_columns(summary: dict[str, Any]) -> list[str]:
    return [str(c["name"]) for c in summary.get("columns", []) if c.get("kind") == "id"]


def _single_table(data: str) -> Path:
    """The one table a fit without --dask reads; a folder or a glob asks for --dask."""
    table = Path(data)
    if table.is_dir():
        raise BadInput(
            f"{data} is a folder; to fit a partitioned dataset add --dask local (or a "
            "scheduler address), or give one table file"
        )
    if not table.exists() and not table.is_symlink() and _GLOB_CHARACTERS.intersection(data):
        raise BadInput(
            f"{data} is a glob; to fit several files add --dask local (or a scheduler "
            "address), or give one table file"
        )
    return table
