"""What ``fit --dask`` and ``sample --dask`` share: the cluster, the dataset, its infinities.

- :func:`dask_client` connects to ``local`` or ``local:N`` (a new LocalCluster of one
  worker per core, or of N workers, closed afterwards)
  or to a scheduler address, and turns every failure into one line that says what
  to do.
- :func:`open_dataset` reads a Parquet file, a folder of Parquet files or a glob of
  Parquet/CSV files lazily, text as pandas reads it (not dask's pyarrow strings),
  so a table fitted with ``--dask`` has the dtypes a fit without it would see.
- :func:`handle_non_finite_partitions` is ``--non-finite`` on partitions: one pass
  over the floating-point columns counts the infinite entries (reported as a fit
  without ``--dask`` reports them), then each partition is handled on the workers.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from lookalike._logging import stage
from lookalike.cli._shared import BadInput, log

#: Seconds to wait for a Dask scheduler before reporting it unreachable.
DASK_CONNECT_TIMEOUT = 10.0
_GLOB_CHARACTERS = frozenset("*?[")


def import_dask_api() -> Any:
    """``lookalike.distributed``, after checking that Dask and distributed are installed."""
    from lookalike._tables import MissingDependencyError

    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "--dask needs the optional packages dask[dataframe] and distributed: "
            "pip install 'lookalike[dask]'"
        ) from exc
    import lookalike.distributed

    return lookalike.distributed


def check_address(address: str) -> None:
    """Refuse an empty ``--dask`` or a ``local:N`` whose N is not a worker count."""
    if not address.strip():
        raise BadInput("--dask is empty; give 'local' or a scheduler address")
    local_workers(address)


def local_workers(address: str) -> tuple[bool, int | None]:
    """Whether ``address`` asks for a local cluster, and its workers (None: one per core).

    ``local`` starts one worker per core, ``local:N`` N workers; anything else is a
    scheduler's address.
    """
    if address == "local":
        return True, None
    if not address.startswith("local:"):
        return False, None
    count = address.removeprefix("local:")
    if not (count.isdigit() and int(count) >= 1):
        raise BadInput(f"--dask local:N needs a number of workers N >= 1; got {address!r}")
    return True, int(count)


def check_dataset_path(data: str) -> None:
    """Say early when a local dataset path (or glob) names nothing."""
    if "://" in data:  # a remote URL: the reader says what is wrong
        return
    if _GLOB_CHARACTERS.intersection(data) and not Path(data).exists():
        if not glob.glob(data):
            raise FileNotFoundError(f"no files match {data}")
    elif not Path(data).exists():
        raise FileNotFoundError(f"no such file or folder: {data}")


def open_dataset(data: str, selected: Sequence[str] | None) -> Any:
    """``data`` as a lazy dask DataFrame of the ``selected`` columns (all when None).

    Text columns keep the dtype pandas gives them (dask would turn them into pyarrow
    strings), so the fitted columns, and the samples, have the dtypes of a fit
    without ``--dask``.
    """
    api = import_dask_api()
    import dask

    with stage(log, "opening %s", data), dask.config.set({"dataframe.convert-string": False}):
        frame = api.read_dataset(data)  # lazy; selecting columns below prunes the reads
        known = [str(name) for name in frame.columns]
        if selected is None:
            return frame
        unknown = [name for name in selected if name not in known]
        if unknown:
            raise BadInput(
                f"unknown column(s) {', '.join(map(repr, unknown))} in {data}; columns are: "
                f"{', '.join(known)}"
            )
        if len(set(selected)) < len(selected):
            raise BadInput(f"--columns names a column twice: {', '.join(selected)}")
        return frame[list(selected)]


# --------------------------------------------------------------------------- --non-finite


def _infinite_entries(part: Any) -> tuple[int, list[bool]]:
    """Rows of one partition with an infinite entry, and which columns hold one."""
    import numpy as np

    infinite = np.isinf(part.to_numpy(dtype=float, na_value=np.nan))
    return int(infinite.any(axis=1).sum()), infinite.any(axis=0).tolist()


def _handled(part: Any, how: str) -> Any:
    from lookalike._tables import handle_non_finite

    return handle_non_finite(part, how)[0]


def handle_non_finite_partitions(frame: Any, how: str) -> tuple[Any, str]:
    """``frame`` with ``--non-finite how`` applied per partition, and the report line.

    The report (``""`` when nothing is infinite) is the one a fit without ``--dask``
    gives: ``"3 rows have infinite values in column(s) x; treated as missing"``.
    Counting reads the floating-point columns once (integer columns cannot hold
    infinities); nothing is read when there are none.
    """
    import dask
    from pandas.api.types import is_float_dtype

    floats = [str(name) for name, dtype in frame.dtypes.items() if is_float_dtype(dtype)]
    if not floats:
        return frame, ""
    count = dask.delayed(_infinite_entries, pure=True)
    with stage(log, "looking for infinite values in %d columns", len(floats)):
        found = dask.compute(*[count(part) for part in frame[floats].to_delayed()])
    n_rows = sum(rows for rows, _ in found)
    if n_rows == 0:
        return frame, ""
    names = [name for j, name in enumerate(floats) if any(cols[j] for _, cols in found)]
    noun = "row has" if n_rows == 1 else "rows have"
    action = "dropped" if how == "drop" else "treated as missing"
    report = f"{n_rows} {noun} infinite values in column(s) {', '.join(names)}; {action}"
    return frame.map_partitions(_handled, how, meta=frame.dtypes.to_dict()), report


# --------------------------------------------------------------------------- the cluster


@contextmanager
def dask_client(address: str) -> Iterator[str]:
    """Connect to ``address`` (``local``: a new LocalCluster); yield where the work runs."""
    from lookalike.distributed import connect

    local, n_workers = local_workers(address)
    message = "starting a local Dask cluster" if local else f"connecting to {address}"
    with ExitStack() as stack:
        try:
            with stage(log, message):
                client = stack.enter_context(
                    connect(
                        "local" if local else address,
                        n_workers=n_workers,
                        timeout=DASK_CONNECT_TIMEOUT,
                    )
                )
        except (OSError, ValueError, TypeError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            if local:
                raise BadInput(f"could not start a local Dask cluster: {detail}") from None
            if not isinstance(exc, OSError):  # e.g. an address that does not parse
                raise BadInput(f"bad Dask scheduler address {address!r}: {detail}") from None
            raise BadInput(
                f"could not reach the Dask scheduler at {address} within "
                f"{DASK_CONNECT_TIMEOUT:g} s; check the address and that the scheduler runs, "
                "or use --dask local"
            ) from None
        yield f"LocalCluster with {len(client.nthreads())} workers" if local else address
