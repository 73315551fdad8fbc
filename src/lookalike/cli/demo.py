"""``lookalike demo``: the main job on the bundled digits (see :mod:`lookalike.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli._shared import QuietOption, VerboseOption, check_seed, command, echo


@command
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "lookalike-demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed, 0 to 4294967295.")] = 0,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Fit mixtures to the bundled digits, print BIC and AIC, write 100 new digits.

    Also writes report.html, evaluating new digits against real and held-out ones, and
    table_report.html, the same for the labelled digits through Synthesizer(target='digit').

    Example: lookalike demo --out demo-output
    """
    check_seed(seed)
    from lookalike.demo import run_demo

    run_demo(out, seed=seed, echo=(lambda _: None) if quiet else echo)
