"""``lookalike fit --dask``: a GaussianMixture fitted on a Dask cluster.

The dataset (a Parquet file, a folder of Parquet files or a glob of Parquet/CSV
files) is read lazily through :func:`lookalike.distributed.read_dataset`; only
its numeric columns are fitted. Infinite entries become missing values
(``missing="em"``), or ``--non-finite drop`` drops every row with a non-finite
entry. ``local`` starts a LocalCluster for the fit and closes it afterwards.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike._logging import stage
from lookalike.cli._shared import (
    MODEL_CHOICES,
    NON_FINITE_CHOICES,
    BadInput,
    check_choice,
    echo,
    log,
    refuse_same,
    warn,
)

COVARIANCE_CHOICES = ("full", "tied", "diag", "spherical")
#: Seconds to wait for a Dask scheduler before reporting it unreachable.
DASK_CONNECT_TIMEOUT = 10.0
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class DaskOptions:
    """The options of ``lookalike fit --dask``, defaults filled in."""

    model: str | None
    columns: list[str] | None
    sheet: str | None
    seed: int | None
    non_finite: str | None
    components: int
    covariance: str
    max_iter: int
    tol: float
    persist: bool


def fit_on_dask(data: str, output: Path, address: str, options: DaskOptions, quiet: bool) -> None:
    """Read ``data`` lazily, fit a GaussianMixture on the cluster at ``address``, save it."""
    _check_options(data, address, options)
    refuse_same(output, Path(data), "the input data")
    api = _import_dask_api()
    from lookalike.mixture import GaussianMixture
    from lookalike.persistence import save

    with stage(log, "opening %s", data):
        frame = api.read_dataset(data)  # lazy; selecting columns below prunes the reads
    frame, dropped = _numeric_columns(frame, options.columns, data)
    if dropped:
        warn(
            f"dropped non-numeric column(s) {', '.join(dropped)}; a GaussianMixture "
            "fits numeric columns only"
        )
    frame = frame.astype("float64")
    drop = options.non_finite == "drop"
    frame = frame.map_partitions(_finite_rows if drop else _infinite_as_missing)
    estimator = GaussianMixture(
        n_components=options.components,
        covariance_type=options.covariance,
        tol=options.tol,
        max_iter=options.max_iter,
        random_state=options.seed,
        missing="raise" if drop else "em",
    )
    with _dask_client(address) as where:
        if options.persist:
            with stage(log, "loading the data into the workers' memory"):
                frame = frame.persist()
        with stage(log, "counting rows"):
            n_rows = len(frame)
        if n_rows == 0:
            raise BadInput(f"{data} has no rows to fit")
        with stage(log, "fitting %d rows x %d columns on %s", n_rows, frame.shape[1], where):
            estimator.fit(frame)
    with stage(log, "saving %s", output):
        saved = save(estimator, output)
    if not quiet:
        state = "" if estimator.converged_ else " (not converged)"
        echo(
            f"fitted {n_rows} rows, {frame.shape[1]} columns with GaussianMixture "
            f"({estimator.n_components} components, {estimator.covariance_type} covariance): "
            f"{estimator.n_iter_} iterations{state}, lower bound {estimator.lower_bound_:.6g}; "
            f"ran on {where}; saved to {saved}"
        )


def _check_options(data: str, address: str, options: DaskOptions) -> None:
    """Refuse, before any work, what a Dask fit cannot do."""
    if options.model is not None:
        check_choice("--model", options.model, MODEL_CHOICES)
        if options.model != "gmm":
            raise BadInput(
                f"--model {options.model} cannot run on dask: only gmm (a GaussianMixture) "
                "does; use --model gmm or drop --dask"
            )
    if options.sheet is not None:
        raise BadInput("--sheet reads Excel files, which --dask cannot; use Parquet or CSV")
    if options.non_finite is not None:
        check_choice("--non-finite", options.non_finite, NON_FINITE_CHOICES)
    if options.components < 1:
        raise BadInput(f"--components must be at least 1, got {options.components}")
    check_choice("--covariance", options.covariance, COVARIANCE_CHOICES)
    if options.max_iter < 1:
        raise BadInput(f"--max-iter must be at least 1, got {options.max_iter}")
    if not options.tol >= 0:
        raise BadInput(f"--tol must be a non-negative number, got {options.tol}")
    if not address.strip():
        raise BadInput("--dask is empty; give 'local' or a scheduler address")
    if "://" not in data:  # a local path: say early when it is missing
        if _GLOB_CHARACTERS.intersection(data) and not Path(data).exists():
            if not glob.glob(data):
                raise FileNotFoundError(f"no files match {data}")
        elif not Path(data).exists():
            raise FileNotFoundError(f"no such file or folder: {data}")


def _import_dask_api() -> Any:
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


def _numeric_columns(frame: Any, selected: list[str] | None, data: str) -> tuple[Any, list[str]]:
    """Keep the numeric (not boolean) columns; requested non-numeric ones are an error."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if selected is not None:
        known = [str(name) for name in frame.columns]
        unknown = [name for name in selected if name not in known]
        if unknown:
            raise BadInput(
                f"unknown column(s) {', '.join(map(repr, unknown))} in {data}; columns are: "
                f"{', '.join(known)}"
            )
        if len(set(selected)) < len(selected):
            raise BadInput(f"--columns names a column twice: {', '.join(selected)}")
        frame = frame[selected]
    numeric: list[str] = []
    other: list[str] = []
    for name, dtype in frame.dtypes.items():
        keep = is_numeric_dtype(dtype) and not is_bool_dtype(dtype)
        (numeric if keep else other).append(str(name))
    if other and selected is not None:
        raise BadInput(
            f"column(s) {', '.join(other)} of {data} are not numeric; a GaussianMixture "
            "fits numeric columns only: leave them out of --columns"
        )
    if not numeric:
        raise BadInput(f"{data} has no numeric columns to fit")
    return frame[numeric], other


def _infinite_as_missing(part: Any) -> Any:
    """One partition with inf/-inf entries turned into missing values (NaN)."""
    import numpy as np

    return part.replace([np.inf, -np.inf], np.nan)


def _finite_rows(part: Any) -> Any:
    """The rows of one partition whose entries are all finite (no NaN, no inf)."""
    import numpy as np

    return part[np.isfinite(part.to_numpy(dtype="float64")).all(axis=1)]


@contextmanager
def _dask_client(address: str) -> Iterator[str]:
    """Connect to ``address`` (``local``: a new LocalCluster); yield where the work runs."""
    from lookalike.distributed import connect

    local = address == "local"
    message = "starting a local Dask cluster" if local else f"connecting to {address}"
    with ExitStack() as stack:
        try:
            with stage(log, message):
                client = stack.enter_context(connect(address, timeout=DASK_CONNECT_TIMEOUT))
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
