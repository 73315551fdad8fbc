"""``lookalike evaluate``: synthetic rows against real ones, as one HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lookalike._logging import stage
from lookalike.cli._shared import BadInput, check_seed, command, echo, log, refuse_same


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
        Path, typer.Option("--output", "-o", help="HTML report to write (e.g. report.html).")
    ],
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
    seed: Annotated[int, typer.Option("--seed", help="Random seed, 0 to 4294967295.")] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the details of each stage.")
    ] = False,
) -> None:
    """Compare synthetic rows with real ones; write metrics and figures as one HTML file.

    Example: lookalike evaluate train.csv synthetic.csv --holdout test.csv -o report.html
    """
    check_seed(seed)
    if output.suffix.lower() not in (".html", ".htm"):
        raise BadInput(f"the report is HTML: give -o a .html file, not {output}")
    for given, what in ((real, "the real table"), (synthetic, "the synthetic table")):
        refuse_same(output, given, what)
    if holdout is not None:
        refuse_same(output, holdout, "the holdout table")

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
        report = evaluate_tables(
            real_frame, synthetic_frame, holdout_frame, target=target, random_state=seed
        )
    with stage(log, "writing %s", output):
        written = report.to_html(output)
    if not quiet:
        for sentence in report.summary:
            echo(sentence)
        echo(f"wrote {written}")
