"""The ``lookalike`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Learn the density of a dataset and draw new, realistic data from it.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """lookalike: classical generative models, fast."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "lookalike-demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Fit mixtures to the bundled digits, print BIC and AIC, write 100 new digits.

    Example: lookalike demo --out demo-output
    """
    from lookalike.demo import run_demo

    run_demo(out, seed=seed, echo=(lambda _: None) if quiet else typer.echo)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
