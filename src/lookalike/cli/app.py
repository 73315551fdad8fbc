"""The typer app: the ``lookalike`` command and its sub-commands, one module each.

Importing this module imports typer and the command modules only; each command
imports lookalike's estimators, pandas, scikit-learn, matplotlib or Dask when it
runs, so ``lookalike --help`` and ``lookalike --version`` start in a fraction of
a second.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lookalike.cli.demo import demo
from lookalike.cli.evaluate import evaluate
from lookalike.cli.fit import fit
from lookalike.cli.info import info
from lookalike.cli.sample import sample

app = typer.Typer(
    help="Learn the density of a dataset and draw new, realistic data from it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from lookalike._version import __version__

        typer.echo(f"lookalike {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show lookalike's version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """lookalike: classical generative models, fast."""


for _command in (fit, sample, evaluate, info, demo):
    app.command()(_command)


def main() -> None:
    """Entry point of the console script (and of ``python -m lookalike.cli``)."""
    app(prog_name="lookalike")
