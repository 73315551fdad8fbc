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

    For a GaussianMixture (saved from Python): components, covariance type,
    features, EM iterations and lower bound.

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
    selection = summary.get("selection")
    if selection and not selection.get("detector_auc"):
        console.print(f"model='auto': {selection['reason']}", highlight=False)
    elif selection:
        scores = ", ".join(f"{k} {v:.3f}" for k, v in selection["detector_auc"].items())
        console.print(
            f"held-out detector AUC (0.5 = indistinguishable): {scores}", highlight=False
        )
    if summary.get("dropped_ids"):
        console.print(f"id columns left out: {', '.join(summary['dropped_ids'])}", highlight=False)
    console.print(f"model dimensions: {summary.get('n_model_dims')}", highlight=False)
    copies = summary.get("copies")
    if copies:
        guarded = copies["unique_training_rows"]
        said = (
            f"redrawn (the model keeps fingerprints of {guarded} unique training rows)"
            if copies["policy"] == "redraw"
            else "kept (not checked)"
        )
        console.print(f"copies of unique training rows: {said}", highlight=False)
    partitions = summary.get("partitions")
    if partitions:
        console.print(
            f"fitted partition by partition ({partitions.get('partitions')} partitions): "
            f"codecs from a seeded sample of {partitions.get('sample_rows')} rows, the model "
            f"{partitions.get('model_fit')}",
            highlight=False,
        )


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
