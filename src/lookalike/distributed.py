"""User-facing Dask helpers: sample lazily, read datasets, connect to a cluster.

Estimators accept dask collections and :class:`~lookalike.chunks.Chunks`
where they accept arrays: ``GaussianMixture().fit(dask_array)`` runs exact EM
partition by partition (:mod:`lookalike.mixture.partitioned`), and
``score_samples``, ``predict`` and ``predict_proba`` of every estimator map
over the partitions (:func:`map_rows`). Where rows live and how a pass visits
them is :mod:`lookalike.partitions`; this module adds what a user calls
directly:

- :func:`sample`: draw rows as lazy dask arrays, chunk by chunk, on any worker;
- :func:`read_dataset`: a Parquet or CSV dataset as a lazy dask DataFrame;
- :func:`connect`: a ``distributed.Client``, local or remote, closed on exit;
- :func:`map_rows` and :class:`~lookalike.chunks.Chunks`, re-exported.

Dask is imported only when a dask collection is given; install it with
``pip install 'lookalike[dask]'``.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lookalike._validation import RandomStateLike, seed_sequence
from lookalike.chunks import Chunks
from lookalike.partitions import INSTALL_HINT, import_dask, map_rows
from lookalike.partitions import total_and_count as total_and_count  # re-exported

__all__ = ["Chunks", "connect", "map_rows", "read_dataset", "sample"]


# --------------------------------------------------------------------------------------
# Sampling chunk by chunk


def _sample_chunk(estimator: Any, n_rows: int, seed: np.random.SeedSequence) -> Any:
    return estimator.sample(n_rows, random_state=np.random.default_rng(seed))


def sample(
    estimator: Any,
    n_samples: int,
    *,
    chunk_rows: int = 1_000_000,
    random_state: RandomStateLike | np.random.SeedSequence = None,
) -> Any:
    """Draw ``n_samples`` rows as lazy dask arrays, chunk by chunk.

    Each chunk of at most ``chunk_rows`` rows is drawn by
    ``estimator.sample(n, random_state=Generator)`` with its own
    ``SeedSequence`` child, so chunks are independent, they can be drawn on
    any worker, and the result depends on ``random_state`` and ``chunk_rows``
    only, never on the number of workers.

    Parameters
    ----------
    estimator : fitted lookalike estimator
        Anything whose ``sample`` accepts a ``numpy.random.Generator``
        (GaussianMixture, KernelDensity, Gaussian, ReducedDensity...).
    n_samples : int
    chunk_rows : int, default=1_000_000
    random_state : None, int, RandomState, Generator or SeedSequence
        ``None`` draws fresh entropy.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Or a tuple of dask arrays when ``estimator.sample`` returns a tuple
        (GaussianMixture: ``(X, labels)``; labels are grouped by component
        within each chunk).

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike import GaussianMixture
    >>> from lookalike.distributed import sample
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> model = GaussianMixture(2, random_state=0).fit(X)
    >>> X, y = sample(model, 10_000, chunk_rows=4_000, random_state=0)
    >>> X.chunks[0]
    (4000, 4000, 2000)
    """
    dask = import_dask()
    import dask.array as da

    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not isinstance(chunk_rows, int | np.integer) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    root = seed_sequence(random_state)
    sizes = [min(chunk_rows, n_samples - start) for start in range(0, n_samples, chunk_rows)]
    first = estimator.sample(1, random_state=np.random.default_rng(0))
    model = dask.delayed(estimator, pure=True)
    draw = dask.delayed(_sample_chunk, pure=True)
    seeds = root.spawn(len(sizes))
    chunks = [draw(model, size, seed) for size, seed in zip(sizes, seeds, strict=True)]

    def stacked(select: Callable[[Any], Any], example: Any) -> Any:
        example = np.asarray(example)
        pieces = [
            da.from_delayed(select(chunk), shape=(size, *example.shape[1:]), dtype=example.dtype)
            for chunk, size in zip(chunks, sizes, strict=True)
        ]
        return da.concatenate(pieces, axis=0)

    if isinstance(first, tuple):
        return tuple(
            stacked(operator.itemgetter(position), example)
            for position, example in enumerate(first)
        )
    return stacked(lambda chunk: chunk, first)


# --------------------------------------------------------------------------------------
# Reading datasets and connecting to a cluster


def read_dataset(path: str | Path, *, columns: Sequence[str] | None = None) -> Any:
    """A Parquet or CSV dataset as a lazy dask DataFrame.

    Parameters
    ----------
    path : str or Path
        A Parquet file, a directory of Parquet files (a partitioned dataset),
        a CSV file, or a glob such as ``"data/part-*.csv"``. Remote URLs
        (``s3://...``) work when the matching fsspec backend is installed.
    columns : sequence of str, default=None
        Columns to read (all when ``None``).

    Returns
    -------
    frame : dask.dataframe.DataFrame
    """
    import_dask()
    import dask.dataframe as dd

    text = str(path)
    selected = None if columns is None else [str(c) for c in columns]
    lowered = text.lower().rstrip("/")
    is_remote = "://" in text
    if not is_remote and not any(char in text for char in "*?[") and not Path(text).exists():
        raise FileNotFoundError(f"No such file or directory: {text!r}")
    if lowered.endswith((".csv", ".csv.gz", ".txt")) or (
        not is_remote and not Path(text).is_dir() and ".csv" in lowered
    ):
        frame = dd.read_csv(text)
    else:
        frame = dd.read_parquet(text)
    if selected is None:
        return frame
    missing = [c for c in selected if c not in frame.columns]
    if missing:
        raise ValueError(f"Column(s) {missing} are not in {text} (it has {list(frame.columns)}).")
    # Selecting after reading still reads only these columns: dask pushes the
    # projection into the reader.
    return frame[selected]


@contextlib.contextmanager
def connect(address: str, *, n_workers: int | None = None, timeout: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address``, closed on exit.

    Parameters
    ----------
    address : str
        ``"local"`` starts a ``distributed.LocalCluster`` on 127.0.0.1 (worker
        processes with one thread each, ``n_workers`` of them, default one per
        core; no dashboard) and shuts it down on exit. Anything else is the
        address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``; the
        cluster keeps running after exit.
    n_workers : int, default=None
        Workers of a local cluster.
    timeout : float, default=10.0
        Seconds to wait for a remote scheduler.

    Yields
    ------
    client : distributed.Client
        Also the default client, so ``GaussianMixture().fit(dask_array)`` runs
        on its workers inside the ``with`` block.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if address == "local":
        dask = import_dask()
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which
        # also turns off glibc's adaptive mmap threshold: every block
        # temporary of the E-step becomes a fresh mmap, and EM iterations took
        # 2.5x as long (10M x 16, k=16, 2 workers). Workers we start go without.
        trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        with (
            dask.config.set(trim),
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; the scheduler's small HTTP server on a free port
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # A failing task re-raises on the client; the workers' own
                # error logs would only repeat it on the terminal.
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=timeout)
    except OSError as error:
        raise OSError(f"Could not reach a Dask scheduler at {address!r}: {error}") from None
    with client:
        yield client
