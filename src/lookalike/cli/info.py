"""``lookalike info``: what a model file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lookalike.cli._models import feature_names, file_size, is_mixture, load_model
from lookalike.cli._shared import command, echo


@command
def info(
    model: Annotated[
        Path, typer.Argument(help="A model file written by 'lookalike fit'.", show_default=False)
    ],
) -> None:
    """Show what a model file holds: columns, kinds, missing rates, model, score.

    For a GaussianMixture (from 'lookalike fit --dask'): components, covariance
    type, features, EM iterations and lower bound.

    Example: lookalike info penguins.lookalike
    """
    from rich.console import Console
    from rich.table import Table

    synthesizer = load_model(model)
    if is_mixture(synthesizer):
        _mixture_info(synthesizer, model)
        return
    summary = synthesizer.summary()
    table = Table(title=f"{model} ({file_size(model)})", title_justify="left")
    table.add_column("column", no_wrap=True, overflow="fold")
    table.add_column("kind")
    table.add_column("dtype")
    table.add_column("missing", justify="right")
    for column in summary["columns"]:
        rate = column.get("missing_rate") or 0.0
        table.add_row(
            str(column["name"]), str(column["kind"]), str(column["dtype"]), f"{rate:.1%}"
        )
    console = Console(soft_wrap=False)
    console.print(table)
    console.print(f"rows fitted: {summary.get('n_rows')}", highlight=False)
    console.print(f"model: {summary.get('model')}", highlight=False)
    criterion, score = summary.get("criterion"), summary.get("score")
    if criterion is not None or score is not None:
        shown = "n/a" if score is None else f"{score:.6g}"
        label = "score" if criterion is None else f"score ({criterion})"
        console.print(f"{label}: {shown}", highlight=False)
    if summary.get("n_features_encoded") is not None:
        console.print(f"encoded features: {summary['n_features_encoded']}", highlight=False)


def _mixture_info(mixture: Any, path: Path) -> None:
    names = feature_names(mixture)
    lines = [
        f"{path} ({file_size(path)})",
        f"class: {type(mixture).__name__}",
        f"n_components: {mixture.n_components}",
        f"covariance type: {mixture.covariance_type}",
        f"features ({len(names)}): {', '.join(names)}",
        f"n_iter_: {mixture.n_iter_}" + ("" if mixture.converged_ else " (not converged)"),
        f"lower_bound_: {mixture.lower_bound_:.6g} (mean log-likelihood per row)",
    ]
    for line in lines:
        echo(line)
