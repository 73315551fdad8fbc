"""``lookalike sample``: new rows from a model file, optionally conditioned, as a table.

With ``--dask`` the rows are drawn on a cluster into a partitioned Parquet dataset
(:mod:`lookalike.cli.dask_sample`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from lookalike._logging import stage
from lookalike.cli._models import is_mixture, load_model, mixture_rows
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
from lookalike.cli.where import parse_where

#: Bytes a drawn row costs per model feature and per output column, at the least.
_BYTES_PER_VALUE = 8


@command
def sample(
    model: Annotated[
        Path, typer.Argument(help="A model file written by 'lookalike fit'.", show_default=False)
    ],
    n: Annotated[int, typer.Option("-n", "--n-rows", help="Number of rows to draw.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Table to write: .csv, .parquet/.pq or .xlsx.")
    ],
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            help=(
                "Condition as column=value, or column=low..high for a numeric or datetime "
                "range (open-ended: column=..high or column=low..); repeat for several "
                "columns."
            ),
        ),
    ] = None,
    seed: SeedOption = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help=(
                "Draw the rows on a Dask cluster, partition by partition, and write them as "
                "a partitioned Parquet dataset: -o names a new (or empty) folder. 'local' "
                "starts a cluster on this machine ('local:4': four workers), or give a "
                "scheduler address such as "
                "tcp://10.0.0.5:8786."
            ),
            show_default=False,
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            help=(
                "--dask: Parquet files to write (default: one per million rows). The rows "
                "depend on --seed and on this number, never on the number of workers."
            ),
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Draw new rows from a model file and write them as a table (or, with --dask, a dataset).

    Example: lookalike sample m.lookalike -n 500 -o new.csv -w species=Adelie -w year=2007..2008

    Example: lookalike sample m.lookalike -n 100000000 -o new_rows/ --dask local --seed 0
    """
    from lookalike._tables import check_writable, write_table

    if n < 1:
        raise BadInput(f"-n must be at least 1, got {n}")
    check_seed(seed)
    refuse_same(output, model, "the model file")
    if dask is not None:
        from lookalike.cli.dask_sample import sample_on_dask

        sample_on_dask(model, n, output, dask, where or [], seed, partitions, quiet)
        return
    if partitions is not None:
        raise BadInput("--partitions applies to --dask samples only; add --dask local or ADDRESS")
    if output.is_dir():
        raise BadInput(
            f"{output} is a folder; give a file name for the output table, or add --dask "
            "local to write a partitioned Parquet dataset into a new folder"
        )
    check_writable(output)
    with stage(log, "loading %s", model):
        fitted = load_model(model)
    if is_mixture(fitted):
        if where:
            raise BadInput(
                f"--where needs a Synthesizer; {model} holds a {type(fitted).__name__}, "
                "which samples without conditions"
            )
        n_features = fitted.means_.shape[1]
        check_fits_in_memory(n, 2 * n_features, f"{n_features} columns")
        with stage(log, "drawing %d rows", n):
            rows = mixture_rows(fitted, n, seed)
    else:
        summary = fitted.summary()
        n_columns = len(summary["columns"])
        encoded = summary.get("n_model_dims") or n_columns
        check_fits_in_memory(n, n_columns + int(encoded), f"{n_columns} columns")
        conditions = parse_where(where or [], fitted)
        with stage(log, "drawing %d rows", n):
            rows = fitted.sample(n, where=conditions or None, random_state=seed)
    write_table(rows, output)
    if not quiet:
        echo(f"wrote {rows.shape[0]} rows, {rows.shape[1]} columns to {output}")


def check_fits_in_memory(n: int, values_per_row: int, what: str) -> None:
    """Refuse ``-n`` whose rows cannot fit in this machine's memory, before any work.

    A row costs at least ``values_per_row`` float64 values (the model's draw and
    the output table); the check compares that lower bound with the physical
    memory, so it refuses only requests that cannot succeed.
    """
    total = _physical_memory()
    needed = n * max(values_per_row, 1) * _BYTES_PER_VALUE
    if total is not None and needed > total:
        most = max(total // (max(values_per_row, 1) * _BYTES_PER_VALUE), 1)
        raise BadInput(
            f"-n {n} rows of {what} need at least {_bytes(needed)} of memory and this machine "
            f"has {_bytes(total)}; draw at most about {most:,} rows per call (and write "
            "several files)"
        )


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None


def _bytes(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"
