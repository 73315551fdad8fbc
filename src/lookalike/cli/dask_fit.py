"""``lookalike fit --dask``: a Synthesizer fitted on a Dask cluster, partition by partition.

The dataset (a Parquet file, a folder of Parquet files or a glob of Parquet/CSV
files) is read lazily (:func:`lookalike.cli._dask.open_dataset`) and never collected
on the client: :meth:`Synthesizer.fit <lookalike.tabular.Synthesizer.fit>` fits the
column codecs from exact partition summaries and a seeded row sample, then the joint
model by partitioned EM on every row (``gaussian``, ``gmm``, ``-k``) or on that
sample (``trees``, ``cells``, ``kde``, ``auto``'s choice) (see
:mod:`lookalike.tabular.partitioned`). Every column is fitted, whatever its kind, as
without ``--dask``; the options mean the same. ``local`` starts a LocalCluster for
the fit and closes it afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike._logging import stage
from lookalike.cli._dask import (
    check_address,
    check_dataset_path,
    dask_client,
    handle_non_finite_partitions,
    open_dataset,
)
from lookalike.cli._models import check_kind_columns, report_fit
from lookalike.cli._shared import BadInput, log, refuse_same, warn


@dataclass(frozen=True)
class DaskFit:
    """What ``lookalike fit --dask`` fits, defaults filled in."""

    synthesizer: Callable[[], Any]
    columns: list[str] | None
    kinds: dict[str, str]
    non_finite: str
    sample_rows: int
    persist: bool | str


def fit_on_dask(data: str, output: Path, address: str, options: DaskFit, quiet: bool) -> None:
    """Fit a Synthesizer to the dataset ``data`` on the cluster at ``address``; save it."""
    check_address(address)
    if options.sample_rows < 2:
        raise BadInput(f"--sample-rows must be at least 2, got {options.sample_rows}")
    check_dataset_path(data)
    refuse_same(output, Path(data), "the input data")
    frame = open_dataset(data, options.columns)
    synthesizer = options.synthesizer()
    check_kind_columns(options.kinds, [str(name) for name in frame.columns], synthesizer.target)
    from lookalike.persistence import save

    with dask_client(address) as where:
        frame, report = handle_non_finite_partitions(frame, options.non_finite)
        if report:
            warn(report)
        # The Synthesizer's stages reach the terminal through the "lookalike" logger.
        with (
            redirect_stdout(sys.stderr),
            stage(log, "fitting %d columns on %s", frame.shape[1], where),
        ):
            synthesizer.fit(frame, sample_rows=options.sample_rows, persist=options.persist)
    with stage(log, "saving %s", output):
        saved = save(synthesizer, output)
    if not quiet:
        report_fit(synthesizer, saved, f" ({_how(synthesizer)}; ran on {where})")


def _how(synthesizer: Any) -> str:
    """How the joint model saw the rows: ``partitioned EM on every row`` or the sample."""
    partitions = getattr(synthesizer, "partitions_", None) or {}
    fit = str(partitions.get("model_fit", ""))
    shown = f"{partitions.get('partitions', '?')} partitions"
    return f"{fit}, {shown}" if fit else shown
