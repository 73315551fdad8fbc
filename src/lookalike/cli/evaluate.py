"""``lookalike evaluate``: synthetic rows against real ones, as an HTML report and/or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lookalike._io import atomic_open
from lookalike._logging import stage
from lookalike.cli._shared import (
    BadInput,
    QuietOption,
    SeedOption,
    VerboseOption,
    check_seed,
    command,
    echo,
    log,
    refuse_same,
)


@command
def evaluate(
    real: Annotated[
        Path,
        typer.Argument(
            help="The real (training) table: .csv, .parquet/.pq or .xlsx/.xls.", show_default=False
        ),
    ],
    synthetic: Annotated[
        Path, typer.Argument(help="The synthetic table, same columns.", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML report to write (e.g. report.html)."),
    ] = None,
    json_output: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Also (or instead) write every number of the report as JSON, for machines.",
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            help=(
                "Rows each metric uses at most (a seeded sample of each table; the report "
                "says how many each metric used). Default: 100,000."
            ),
            show_default=False,
        ),
    ] = None,
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout",
            help="Real rows not used for fitting: the privacy metrics compare against them.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Column to predict for the utility metrics (TSTR)."),
    ] = None,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Compare synthetic rows with real ones; write metrics and figures as one HTML file.

    Example: lookalike evaluate train.csv synthetic.csv --holdout test.csv -o report.html

    Example: lookalike evaluate train.csv synthetic.csv --json scores.json
    """
    check_seed(seed)
    if output is None and json_output is None:
        raise BadInput("give -o report.html, --json scores.json, or both")
    if output is not None and output.suffix.lower() not in (".html", ".htm"):
        raise BadInput(f"the report is HTML: give -o a .html file, not {output}")
    if max_rows is not None and max_rows < 100:
        raise BadInput(f"--max-rows must be at least 100; got {max_rows}")
    for written_to in (output, json_output):
        if written_to is None:
            continue
        for given, what in ((real, "the real table"), (synthetic, "the synthetic table")):
            refuse_same(written_to, given, what)
        if holdout is not None:
            refuse_same(written_to, holdout, "the holdout table")

    from lookalike._tables import read_table
    from lookalike.evaluation import evaluate as evaluate_tables

    real_frame = read_table(real)
    synthetic_frame = read_table(synthetic)
    holdout_frame = None if holdout is None else read_table(holdout)
    if target is not None and target not in real_frame.columns:
        raise BadInput(
            f"--target {target!r} is not a column of {real}; columns are: "
            f"{', '.join(map(str, real_frame.columns))}"
        )
    with stage(log, "computing fidelity, utility and privacy metrics"):
        caps = {} if max_rows is None else {"max_rows": max_rows}
        report = evaluate_tables(
            real_frame, synthetic_frame, holdout_frame, target=target, random_state=seed, **caps
        )
    written = []
    if output is not None:
        with stage(log, "writing %s", output):
            written.append(report.to_html(output))
    if json_output is not None:
        with stage(log, "writing %s", json_output), atomic_open(json_output) as handle:
            json.dump(report.to_dict(), handle, indent=1, allow_nan=False)
        written.append(json_output)
    if not quiet:
        for sentence in report.summary:
            echo(sentence)
        for path in written:
            echo(f"wrote {path}")
