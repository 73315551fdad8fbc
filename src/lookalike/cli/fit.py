"""``lookalike fit``: a Synthesizer fitted to a table, in memory or on a Dask cluster."""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from lookalike._logging import stage
from lookalike.cli._models import (
    MIXTURE_COVARIANCE,
    MIXTURE_MAX_ITER,
    MIXTURE_TOL,
    check_kind_columns,
    joint_model,
    report_fit,
)
from lookalike.cli._shared import (
    NON_FINITE_CHOICES,
    BadInput,
    QuietOption,
    SeedOption,
    VerboseOption,
    check_choice,
    check_seed,
    command,
    log,
    refuse_same,
    split_columns,
    warn,
)

#: ``--bounds`` -> the Synthesizer's ``bounds``.
BOUNDS_CHOICES: dict[str, str | None] = {"observed": "observed", "clip": "clip", "none": None}
IDS_CHOICES = ("drop", "regenerate")
COPIES_CHOICES = ("redraw", "keep")
_GLOB_CHARACTERS = frozenset("*?[")
#: Fewest rows a table fit learns from (one row has no spread to learn).
MIN_ROWS = 2
#: ``--sample-rows`` default: the Synthesizer's ``sample_rows`` (repeated in the help).
DASK_SAMPLE_ROWS = 200_000


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
                "gmm or kde (default: auto). All run with --dask: gaussian and gmm by EM on "
                "every row, the others on a seeded sample of --sample-rows rows."
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
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help=(
                "The column that models trained on the synthetic rows will predict; "
                "--model auto then keeps it predictable from the other columns."
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
    copies: Annotated[
        str | None,
        typer.Option(
            "--copies",
            help=(
                "'redraw': a sampled row equal to a training row that occurs once is drawn "
                "again (the model file keeps a fingerprint of each such row); 'keep': no "
                "check (default: redraw)."
            ),
            show_default=False,
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet to read (default: the first).")
    ] = None,
    seed: SeedOption = None,
    non_finite: Annotated[
        str | None,
        typer.Option(
            "--non-finite",
            help=(
                "Rows with inf/-inf in numeric columns: 'missing' keeps the rows and treats "
                "those entries as missing values; 'drop' removes the rows (default: missing)."
            ),
            show_default=False,
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help=(
                "Fit on a Dask cluster, partition by partition, without collecting the "
                "table: 'local' starts a cluster on this machine (one worker per core; "
                "'local:4' four workers), or "
                "give a scheduler address such as tcp://10.0.0.5:8786. Needs the dask extra "
                "of lookalike."
            ),
            show_default=False,
        ),
    ] = None,
    components: Annotated[
        int | None,
        typer.Option(
            "--components",
            "-k",
            help=(
                "A mixture of this many components as the joint model (--model gmm with "
                "its size fixed; default: gmm chooses it by BIC)."
            ),
            show_default=False,
        ),
    ] = None,
    covariance: Annotated[
        str | None,
        typer.Option(
            "--covariance",
            help=(
                "With -k: the mixture's covariance type, full, tied, diag or spherical "
                f"(default: {MIXTURE_COVARIANCE})."
            ),
            show_default=False,
        ),
    ] = None,
    max_iter: Annotated[
        int | None,
        typer.Option(
            "--max-iter",
            help=f"With -k: most EM iterations (default: {MIXTURE_MAX_ITER}).",
            show_default=False,
        ),
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            "--tol",
            help=(
                "With -k: stop when the mean log-likelihood gains less than this "
                f"(default: {MIXTURE_TOL:g})."
            ),
            show_default=False,
        ),
    ] = None,
    sample_rows: Annotated[
        int | None,
        typer.Option(
            "--sample-rows",
            help=(
                "--dask: rows of the seeded sample that fits the columns' marginals and the "
                f"models other than gaussian and gmm (default: {DASK_SAMPLE_ROWS})."
            ),
            show_default=False,
        ),
    ] = None,
    persist: Annotated[
        bool | None,
        typer.Option(
            "--persist/--no-persist",
            help=(
                "--dask: keep every row's normal scores in the workers' memory across EM "
                "iterations, or encode the partitions again on every pass (out of core) "
                "(default: persist when they fit in a quarter of the workers' memory and "
                "1 GiB per worker)."
            ),
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Fit a synthesizer to a table (in memory, or with --dask on a cluster) and save it.

    Example: lookalike fit penguins.csv -o penguins.lookalike --model gmm --seed 0

    Example: lookalike fit data.csv -o m.lookalike --kind year=categorical --bounds clip

    Example: lookalike fit 'sales/*.parquet' -o sales.lookalike --dask local --seed 0
    """
    check_seed(seed)
    joint = joint_model(model, components, covariance, max_iter, tol, seed)
    non_finite = "missing" if non_finite is None else non_finite
    bounds = "observed" if bounds is None else bounds
    ids = "drop" if ids is None else ids
    copies = "redraw" if copies is None else copies
    check_choice("--non-finite", non_finite, NON_FINITE_CHOICES)
    check_choice("--bounds", bounds, tuple(BOUNDS_CHOICES))
    check_choice("--ids", ids, IDS_CHOICES)
    check_choice("--copies", copies, COPIES_CHOICES)
    kinds = parse_kinds(kind or [])
    selected = split_columns(columns)
    options = _SynthesizerOptions(joint, kinds, BOUNDS_CHOICES[bounds], ids, target, seed, copies)
    if dask is not None:
        if sheet is not None:
            raise BadInput("--sheet reads Excel files, which --dask cannot; use Parquet or CSV")
        from lookalike.cli.dask_fit import DaskFit, fit_on_dask

        fit_on_dask(
            data,
            output,
            dask,
            DaskFit(
                synthesizer=options.make,
                columns=selected,
                kinds=kinds,
                non_finite=non_finite,
                sample_rows=DASK_SAMPLE_ROWS if sample_rows is None else sample_rows,
                persist="auto" if persist is None else persist,
            ),
            quiet,
        )
        return

    dask_only = {"--sample-rows": sample_rows, "--persist/--no-persist": persist}
    for option, given in dask_only.items():
        if given is not None:
            raise BadInput(f"{option} applies to --dask fits only; add --dask local or ADDRESS")
    table = _single_table(data)
    refuse_same(output, table, "the input table")

    from lookalike._tables import handle_non_finite, read_table

    frame = read_table(table, sheet=sheet, columns=selected)
    check_kind_columns(kinds, [str(name) for name in frame.columns], target)
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

    synthesizer = options.make()
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
        report_fit(synthesizer, saved, "")


@dataclass(frozen=True)
class _SynthesizerOptions:
    """The Synthesizer the options describe (made afresh for each fit)."""

    model: Any
    kinds: dict[str, str]
    bounds: str | None
    ids: str
    target: str | None
    seed: int | None
    copies: str = "redraw"

    def make(self) -> Any:
        from lookalike.tabular import Synthesizer

        return Synthesizer(
            model=self.model,
            kinds=self.kinds or None,
            bounds=self.bounds,
            ids=self.ids,
            target=self.target,
            copies=self.copies,
            random_state=self.seed,
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
