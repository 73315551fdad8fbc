"""``lookalike sample --dask``: rows drawn on a Dask cluster into a partitioned Parquet dataset.

A Synthesizer draws with :meth:`~lookalike.tabular.Synthesizer.sample_partitions`:
partition ``i`` of ``K`` is ``sample(size_i, where=...)`` with the generator of
``SeedSequence(seed).spawn(K)[i]``, on whichever worker runs it, so the rows depend
on ``--seed`` and ``--partitions`` only, never on the number of workers. A
GaussianMixture file is drawn the same way (shuffled rows of its features, no
``--where``). The workers write one Parquet file per partition into a temporary
folder beside ``-o``, renamed to ``-o`` when every file is written
(:func:`lookalike._io.atomic_directory`): ``-o`` must be a new or empty folder, and
a failed run leaves nothing behind. The folder must be reachable from the workers
(on a remote cluster: a shared file system).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lookalike._logging import stage
from lookalike.cli._dask import check_address, dask_client, import_dask_api
from lookalike.cli._models import feature_names, is_mixture, load_model, mixture_rows
from lookalike.cli._shared import BadInput, echo, log
from lookalike.cli.where import parse_where

#: Suffixes of single-file tables, which a partitioned dataset is not.
_FILE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls", ".json")


def sample_on_dask(
    model: Path,
    n: int,
    output: Path,
    address: str,
    where: Sequence[str],
    seed: int | None,
    npartitions: int | None,
    quiet: bool,
) -> None:
    """Draw ``n`` rows of ``model`` on the cluster at ``address`` into the folder ``output``."""
    from lookalike._io import check_free_directory

    check_address(address)
    if npartitions is not None and npartitions < 1:
        raise BadInput(f"--partitions must be at least 1, got {npartitions}")
    if output.suffix.lower() in _FILE_SUFFIXES:
        raise BadInput(
            f"--dask writes a partitioned Parquet dataset, a folder, and {output} names a "
            f"{output.suffix} file; give a folder such as {output.with_suffix('')}/"
        )
    check_free_directory(output)
    import_dask_api()
    with stage(log, "loading %s", model):
        fitted = load_model(model)
    npartitions = _partitions(n, npartitions)
    if is_mixture(fitted):
        if where:
            raise BadInput(
                f"--where needs a Synthesizer; {model} holds a {type(fitted).__name__}, "
                "which samples without conditions"
            )
        rows = mixture_partitions(fitted, n, npartitions, seed)
    else:
        conditions = parse_where(where, fitted)
        rows = fitted.sample_partitions(
            n, npartitions=npartitions, where=conditions or None, random_state=seed
        )
    with dask_client(address) as place:
        message = "drawing and writing %d rows in %d partitions on %s"
        with stage(log, message, n, npartitions, place):
            write_dataset(rows, output)
    if not quiet:
        echo(
            f"wrote {n} rows, {len(rows.columns)} columns to {output} "
            f"({npartitions} Parquet file{'s' if npartitions > 1 else ''})"
        )


def _partitions(n: int, npartitions: int | None) -> int:
    """``--partitions``, or one per million rows; never more than ``n``."""
    from lookalike.tabular.partitioned_sample import ROWS_PER_PARTITION

    if npartitions is None:
        npartitions = math.ceil(n / ROWS_PER_PARTITION)
    return max(1, min(npartitions, n))


def mixture_partitions(mixture: Any, n: int, npartitions: int, seed: int | None) -> Any:
    """``n`` shuffled rows of a fitted mixture as a lazy dask DataFrame.

    Partition ``i`` is drawn with ``SeedSequence(seed).spawn(npartitions)[i]``, as
    :meth:`Synthesizer.sample_partitions <lookalike.tabular.Synthesizer.sample_partitions>`
    draws its partitions.
    """
    import dask
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    from lookalike._validation import seed_sequence
    from lookalike.tabular.partitioned_sample import partition_sizes

    sizes = partition_sizes(n, npartitions)
    children = seed_sequence(seed).spawn(npartitions)
    shared = dask.delayed(mixture, pure=True)
    draw = dask.delayed(mixture_rows, pure=True)
    parts = [draw(shared, size, child) for size, child in zip(sizes, children, strict=True)]
    meta = pd.DataFrame({name: np.empty(0) for name in feature_names(mixture)})
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def write_dataset(rows: Any, output: Path) -> None:
    """Write the dask DataFrame ``rows`` to the new folder ``output``, atomically."""
    from lookalike._io import atomic_directory

    with atomic_directory(output) as temporary:
        # An absolute path: the workers need not share the client's working folder.
        rows.to_parquet(str(temporary.resolve()), write_index=False)
