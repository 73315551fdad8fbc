"""Synthetic tables drawn partition by partition, on the workers of a Dask cluster.

:func:`sample_partitions` returns a lazy dask DataFrame: partition ``i`` holds
``sizes[i]`` rows drawn by ``Synthesizer.sample`` with the ``numpy.random.Generator``
of ``SeedSequence(seed).spawn(k)[i]``, so the rows depend on the seed and on the
number of partitions only, never on the number of workers or on which worker draws
which partition. Nothing is drawn until the frame is computed or written
(``.to_parquet(directory)`` writes one file per partition, straight from the
workers).

Regenerated ids (``ids="regenerate"``) that continue a numbering (integers, or a
prefix and a number) continue it across partitions: partition ``i`` starts after the
rows of partitions ``0 .. i-1``, so they are unique over the whole table. Random text
ids are unique within a partition and differ from the sample of observed ids; across
partitions they are distinct with high probability only.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lookalike._validation import seed_sequence

#: Default rows per partition of a sampled table.
ROWS_PER_PARTITION = 1_000_000


def partition_sizes(n: int, npartitions: int) -> list[int]:
    """``n`` rows over ``npartitions`` partitions, the first ``n % npartitions`` one larger."""
    base, extra = divmod(n, npartitions)
    return [base + (1 if i < extra else 0) for i in range(npartitions)]


def _draw_partition(
    synthesizer: Any,
    where: Mapping[str, Any] | None,
    start: int,
    size: int,
    seed: np.random.SeedSequence,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = synthesizer.sample(size, where=where, random_state=rng)
    if synthesizer.ids == "regenerate":
        for codec in synthesizer.encoder_.ids:
            if np.size(codec.observed):  # random text ids: as drawn
                continue
            shifted = copy.copy(codec)
            shifted.largest = codec.largest + start
            frame[codec.name] = shifted.generate(size, rng).to_numpy()
    frame.index = pd.RangeIndex(start, start + size)
    return frame


def sample_partitions(
    synthesizer: Any,
    n: int,
    npartitions: int | None = None,
    where: Mapping[str, Any] | None = None,
    random_state: Any = None,
) -> Any:
    """``n`` synthetic rows as a lazy dask DataFrame (see the module docstring).

    Parameters
    ----------
    synthesizer : fitted Synthesizer
    n : int
    npartitions : int, default=None
        ``None``: one partition per :data:`ROWS_PER_PARTITION` rows (at least one).
    where : dict, default=None
        As in ``Synthesizer.sample``; checked here, before anything is drawn.
    random_state : None, int, RandomState, Generator or SeedSequence, default=None
        ``None``: the synthesizer's ``random_state`` (fresh entropy when that is
        ``None`` too).

    Returns
    -------
    dask.dataframe.DataFrame
        With the sampled table's columns and dtypes and a ``RangeIndex``-like index
        ``0 .. n-1`` (known divisions).
    """
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - dask is in the test extra
        raise ImportError(
            "Sampling on Dask needs dask and distributed: pip install 'lookalike[dask]'"
        ) from None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative int; got {n!r}.")
    n = int(n)
    if npartitions is None:
        npartitions = max(1, math.ceil(n / ROWS_PER_PARTITION))
    if (
        isinstance(npartitions, bool)
        or not isinstance(npartitions, numbers.Integral)
        or npartitions < 1
    ):
        raise ValueError(f"npartitions must be a positive int; got {npartitions!r}.")
    npartitions = int(min(npartitions, max(n, 1)))
    meta = synthesizer.sample(0, where=where, random_state=0)  # checks where
    sizes = partition_sizes(n, npartitions)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(int).tolist()
    seeds = seed_sequence(
        synthesizer.random_state if random_state is None else random_state
    ).spawn(npartitions)
    model = dask.delayed(synthesizer, pure=True)
    draw = dask.delayed(_draw_partition, pure=True)
    parts = [
        draw(model, where, start, size, seed)
        for start, size, seed in zip(starts, sizes, seeds, strict=True)
    ]
    divisions = (*starts, max(n - 1, 0))
    return dd.from_delayed(parts, meta=meta, divisions=divisions, verify_meta=False)


__all__ = ["ROWS_PER_PARTITION", "partition_sizes", "sample_partitions"]
