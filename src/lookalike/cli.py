"""The ``lookalike`` command line: ``fit``, ``sample``, ``evaluate``, ``info`` and ``demo``.

``lookalike fit`` reads a table (CSV, Parquet or Excel), fits a
:class:`~lookalike.tabular.Synthesizer` and saves it as a safe model file;
with ``--dask local|ADDRESS`` it instead reads a Parquet file, a folder of
Parquet files or a glob of Parquet/CSV files through Dask and fits a
:class:`~lookalike.mixture.GaussianMixture` on a local or remote cluster.
``lookalike sample`` loads a model file and writes new rows, optionally
conditioned with ``--where`` (Synthesizer only); ``lookalike evaluate``
compares synthetic rows with real ones and writes a self-contained HTML
report; ``lookalike info`` shows what a model file holds. Problems with the
user's input (a missing or unreadable file, an unknown column, a value outside
a column's categories, a file that is not a model, an unreachable Dask
scheduler) print one line ``error: ...`` on stderr and exit with status 2,
without a traceback; any other exception is a bug and keeps its traceback.
Outputs are written atomically.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

app = typer.Typer(
    help="Learn the density of a dataset and draw new, realistic data from it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Exit status for bad input (the same as for a command-line usage error).
EXIT_BAD_INPUT = 2

MODEL_CHOICES = ("auto", "gmm", "kde", "gaussian")
NON_FINITE_CHOICES = ("missing", "drop")
COVARIANCE_CHOICES = ("full", "tied", "diag", "spherical")

#: ``lookalike fit --dask`` defaults: mixture components, covariance type, EM
#: iterations and tolerance (the last three are GaussianMixture's own defaults).
DASK_COMPONENTS = 8
DASK_COVARIANCE = "full"
DASK_MAX_ITER = 100
DASK_TOL = 1e-3
#: Seconds to wait for a Dask scheduler before reporting it unreachable.
DASK_CONNECT_TIMEOUT = 10.0
_GLOB_CHARACTERS = frozenset("*?[")

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _BadInput(Exception):
    """A problem with the command's arguments detected by the CLI itself."""


def _user_errors(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn the library's input errors into ``error: ...`` on stderr and exit status 2."""
    from lookalike._tables import MissingDependencyError
    from lookalike.exceptions import NotFittedError

    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except (
            _BadInput,
            ValueError,
            TypeError,
            OSError,
            NotFittedError,
            MissingDependencyError,
        ) as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


@app.callback()
def _main() -> None:
    """lookalike: classical generative models, fast."""


# --------------------------------------------------------------------------- fit


@app.command()
@_user_errors
def fit(
    data: Annotated[
        str,
        typer.Argument(
            help=(
                "The table: .csv, .parquet/.pq or .xlsx/.xls. With --dask: a Parquet file, a "
                "folder of Parquet files or a quoted glob of Parquet/CSV files."
            ),
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Model file to write (e.g. model.lookalike)."),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Density family: auto, gmm, kde or gaussian (default: auto; gmm with --dask).",
            show_default=False,
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Comma-separated columns to keep (default: all)."),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet to read (default: the first).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    non_finite: Annotated[
        str | None,
        typer.Option(
            "--non-finite",
            help=(
                "Rows with inf/-inf in numeric columns: 'missing' keeps the rows and treats "
                "those entries as missing values; 'drop' removes the rows. With --dask, "
                "'missing' fits the mixture with missing values integrated out "
                "(missing='em') and 'drop' also drops rows with missing values "
                "(default: missing)."
            ),
            show_default=False,
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help=(
                "Fit a GaussianMixture with Dask: 'local' starts a cluster on this machine "
                "(one worker per core), or give a scheduler address such as "
                "tcp://10.0.0.5:8786. Needs the dask extra of lookalike."
            ),
            show_default=False,
        ),
    ] = None,
    components: Annotated[
        int | None,
        typer.Option(
            "--components",
            "-k",
            help=f"--dask: number of mixture components (default: {DASK_COMPONENTS}).",
            show_default=False,
        ),
    ] = None,
    covariance: Annotated[
        str | None,
        typer.Option(
            "--covariance",
            help=(
                "--dask: covariance type: full, tied, diag or spherical "
                f"(default: {DASK_COVARIANCE})."
            ),
            show_default=False,
        ),
    ] = None,
    max_iter: Annotated[
        int | None,
        typer.Option(
            "--max-iter",
            help=f"--dask: most EM iterations (default: {DASK_MAX_ITER}).",
            show_default=False,
        ),
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            "--tol",
            help=(
                "--dask: stop when the mean log-likelihood gains less than this "
                f"(default: {DASK_TOL:g})."
            ),
            show_default=False,
        ),
    ] = None,
    persist: Annotated[
        bool | None,
        typer.Option(
            "--persist/--no-persist",
            help=(
                "--dask: keep the data in the workers' memory across EM iterations, or "
                "re-read it on every pass (out of core) (default: persist)."
            ),
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Fit a synthesizer to a table (or, with --dask, a mixture to a dataset) and save it.

    Example: lookalike fit penguins.csv -o penguins.lookalike --model gmm --seed 0

    Example: lookalike fit 'sales/*.parquet' -o sales.lookalike --dask local -k 12
    """
    if dask is not None:
        _fit_on_dask(
            data,
            output,
            dask,
            _DaskOptions(
                model=model,
                columns=_split_columns(columns),
                sheet=sheet,
                seed=seed,
                non_finite=non_finite,
                components=DASK_COMPONENTS if components is None else components,
                covariance=DASK_COVARIANCE if covariance is None else covariance,
                max_iter=DASK_MAX_ITER if max_iter is None else max_iter,
                tol=DASK_TOL if tol is None else tol,
                persist=True if persist is None else persist,
            ),
            quiet,
        )
        return

    from lookalike._tables import handle_non_finite, read_table
    from lookalike.persistence import save
    from lookalike.tabular import Synthesizer

    dask_only = {
        "--components": components,
        "--covariance": covariance,
        "--max-iter": max_iter,
        "--tol": tol,
        "--persist/--no-persist": persist,
    }
    for option, value in dask_only.items():
        if value is not None:
            raise _BadInput(f"{option} applies to --dask fits only; add --dask local or ADDRESS")
    model = "auto" if model is None else model
    non_finite = "missing" if non_finite is None else non_finite
    _check_choice("--model", model, MODEL_CHOICES)
    _check_choice("--non-finite", non_finite, NON_FINITE_CHOICES)
    table = _single_table(data)
    _refuse_same(output, table, "the input table")
    selected = _split_columns(columns)
    with _progress(f"reading {table}", quiet):
        frame = read_table(table, sheet=sheet, columns=selected)
    frame, report = handle_non_finite(frame, non_finite)
    if report and not quiet:
        typer.echo(f"warning: {report}", err=True)
    if frame.shape[0] == 0:
        raise _BadInput(f"no rows left in {table} after dropping rows with infinite values")
    synthesizer = Synthesizer(model=model, random_state=seed)
    with _progress(f"fitting {frame.shape[0]} rows x {frame.shape[1]} columns", quiet):
        synthesizer.fit(frame)
    with _progress(f"saving {output}", quiet):
        saved = save(synthesizer, output)
    if not quiet:
        family = synthesizer.summary().get("model", model)
        typer.echo(
            f"fitted {frame.shape[0]} rows, {frame.shape[1]} columns with {family}; "
            f"saved to {saved}"
        )


def _single_table(data: str) -> Path:
    """The one table a fit without --dask reads; a folder or a glob asks for --dask."""
    table = Path(data)
    if table.is_dir():
        raise _BadInput(
            f"{data} is a folder; to fit a partitioned dataset add --dask local (or a "
            "scheduler address), or give one table file"
        )
    if not table.exists() and _GLOB_CHARACTERS.intersection(data):
        raise _BadInput(
            f"{data} is a glob; to fit several files add --dask local (or a scheduler "
            "address), or give one table file"
        )
    return table


# --------------------------------------------------------------------------- fit --dask


@dataclass(frozen=True)
class _DaskOptions:
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


def _fit_on_dask(
    data: str, output: Path, address: str, options: _DaskOptions, quiet: bool
) -> None:
    """``lookalike fit --dask``: read a dataset lazily, fit a GaussianMixture on a cluster."""
    from lookalike.mixture import GaussianMixture
    from lookalike.persistence import save

    _check_dask_options(data, address, options)
    _refuse_same(output, Path(data), "the input data")
    api = _import_dask_api()
    with _progress(f"opening {data}", quiet):
        frame = api.read_dataset(data)  # lazy; selecting columns below prunes the reads
    frame, dropped = _numeric_columns(frame, options.columns, data)
    if dropped and not quiet:
        typer.echo(
            f"warning: dropped non-numeric column(s) {', '.join(dropped)}; a GaussianMixture "
            "fits numeric columns only",
            err=True,
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
    with _dask_client(address, quiet) as where:
        if options.persist:
            with _progress("loading the data into the workers' memory", quiet):
                frame = frame.persist()
        with _progress("counting rows", quiet):
            n_rows = len(frame)
        if n_rows == 0:
            raise _BadInput(f"{data} has no rows to fit")
        with _progress(f"fitting {n_rows} rows x {frame.shape[1]} columns on {where}", quiet):
            estimator.fit(frame)
    with _progress(f"saving {output}", quiet):
        saved = save(estimator, output)
    if not quiet:
        state = "" if estimator.converged_ else " (not converged)"
        typer.echo(
            f"fitted {n_rows} rows, {frame.shape[1]} columns with GaussianMixture "
            f"({estimator.n_components} components, {estimator.covariance_type} covariance): "
            f"{estimator.n_iter_} iterations{state}, lower bound {estimator.lower_bound_:.6g}; "
            f"ran on {where}; saved to {saved}"
        )


def _check_dask_options(data: str, address: str, options: _DaskOptions) -> None:
    """Refuse, before any work, what a Dask fit cannot do."""
    if options.model is not None:
        _check_choice("--model", options.model, MODEL_CHOICES)
        if options.model != "gmm":
            raise _BadInput(
                f"--model {options.model} cannot run on dask: only gmm (a GaussianMixture) "
                "does; use --model gmm or drop --dask"
            )
    if options.sheet is not None:
        raise _BadInput("--sheet reads Excel files, which --dask cannot; use Parquet or CSV")
    if options.non_finite is not None:
        _check_choice("--non-finite", options.non_finite, NON_FINITE_CHOICES)
    if options.components < 1:
        raise _BadInput(f"--components must be at least 1, got {options.components}")
    _check_choice("--covariance", options.covariance, COVARIANCE_CHOICES)
    if options.max_iter < 1:
        raise _BadInput(f"--max-iter must be at least 1, got {options.max_iter}")
    if not options.tol >= 0:
        raise _BadInput(f"--tol must be a non-negative number, got {options.tol}")
    if not address.strip():
        raise _BadInput("--dask is empty; give 'local' or a scheduler address")
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
            raise _BadInput(
                f"unknown column(s) {', '.join(map(repr, unknown))} in {data}; columns are: "
                f"{', '.join(known)}"
            )
        if len(set(selected)) < len(selected):
            raise _BadInput(f"--columns names a column twice: {', '.join(selected)}")
        frame = frame[selected]
    numeric: list[str] = []
    other: list[str] = []
    for name, dtype in frame.dtypes.items():
        keep = is_numeric_dtype(dtype) and not is_bool_dtype(dtype)
        (numeric if keep else other).append(str(name))
    if other and selected is not None:
        raise _BadInput(
            f"column(s) {', '.join(other)} of {data} are not numeric; a GaussianMixture "
            "fits numeric columns only: leave them out of --columns"
        )
    if not numeric:
        raise _BadInput(f"{data} has no numeric columns to fit")
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
def _dask_client(address: str, quiet: bool) -> Iterator[str]:
    """Connect to ``address`` (``local``: a new LocalCluster); yield where the work runs."""
    from lookalike.distributed import connect

    local = address == "local"
    message = "starting a local Dask cluster" if local else f"connecting to {address}"
    with ExitStack() as stack:
        try:
            with _progress(message, quiet):
                client = stack.enter_context(connect(address, timeout=DASK_CONNECT_TIMEOUT))
        except (OSError, ValueError, TypeError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            if local:
                raise _BadInput(f"could not start a local Dask cluster: {detail}") from None
            if not isinstance(exc, OSError):  # e.g. an address that does not parse
                raise _BadInput(f"bad Dask scheduler address {address!r}: {detail}") from None
            raise _BadInput(
                f"could not reach the Dask scheduler at {address} within "
                f"{DASK_CONNECT_TIMEOUT:g} s; check the address and that the scheduler runs, "
                "or use --dask local"
            ) from None
        yield f"LocalCluster with {len(client.nthreads())} workers" if local else address


# --------------------------------------------------------------------------- sample


@app.command()
@_user_errors
def sample(
    model: Annotated[
        Path, typer.Argument(help="A model file written by 'lookalike fit'.", show_default=False)
    ],
    n: Annotated[int, typer.Option("-n", "--n-rows", help="Number of rows to draw.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Table to write: .csv, .parquet/.pq or .xlsx.")
    ],
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            help=(
                "Condition as column=value, or column=low..high for a numeric or datetime "
                "range; repeat for several columns."
            ),
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Draw new rows from a model file and write them as a table.

    Example: lookalike sample m.lookalike -n 500 -o new.csv -w species=Adelie -w year=2007..2008
    """
    from lookalike._tables import check_writable, write_table

    if n < 1:
        raise _BadInput(f"-n must be at least 1, got {n}")
    _refuse_same(output, model, "the model file")
    check_writable(output)
    fitted = _load_model(model)
    if _is_mixture(fitted):
        if where:
            raise _BadInput(
                f"--where needs a Synthesizer; {model} holds a {type(fitted).__name__} "
                "(from 'lookalike fit --dask'), which samples without conditions"
            )
        with _progress(f"drawing {n} rows", quiet):
            rows = _mixture_rows(fitted, n, seed)
    else:
        conditions = parse_where(where or [], fitted.summary()["columns"], _categories_of(fitted))
        with _progress(f"drawing {n} rows", quiet):
            rows = fitted.sample(n, where=conditions or None, random_state=seed)
    with _progress(f"writing {output}", quiet):
        write_table(rows, output)
    if not quiet:
        typer.echo(f"wrote {rows.shape[0]} rows, {rows.shape[1]} columns to {output}")


# --------------------------------------------------------------------------- evaluate


@app.command()
@_user_errors
def evaluate(
    real: Annotated[
        Path,
        typer.Argument(
            help="The real (training) table: .csv, .parquet/.pq or .xlsx/.xls.", show_default=False
        ),
    ],
    synthetic: Annotated[
        Path, typer.Argument(help="The synthetic table, same columns.", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="HTML report to write (e.g. report.html).")
    ],
    holdout: Annotated[
        Path | None,
        typer.Option(
            "--holdout",
            help="Real rows not used for fitting: the privacy metrics compare against them.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Column to predict for the utility metrics (TSTR)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Compare synthetic rows with real ones; write metrics and figures as one HTML file.

    Example: lookalike evaluate train.csv synthetic.csv --holdout test.csv -o report.html
    """
    from lookalike._tables import read_table
    from lookalike.evaluation import evaluate as evaluate_tables

    if output.suffix.lower() not in (".html", ".htm"):
        raise _BadInput(f"the report is HTML: give -o a .html file, not {output}")
    for given, what in ((real, "the real table"), (synthetic, "the synthetic table")):
        _refuse_same(output, given, what)
    if holdout is not None:
        _refuse_same(output, holdout, "the holdout table")
    with _progress(f"reading {real} and {synthetic}", quiet):
        real_frame = read_table(real)
        synthetic_frame = read_table(synthetic)
        holdout_frame = None if holdout is None else read_table(holdout)
    if target is not None and target not in real_frame.columns:
        raise _BadInput(
            f"--target {target!r} is not a column of {real}; columns are: "
            f"{', '.join(map(str, real_frame.columns))}"
        )
    with _progress("computing fidelity, utility and privacy metrics", quiet):
        report = evaluate_tables(
            real_frame, synthetic_frame, holdout_frame, target=target, random_state=seed
        )
    with _progress(f"writing {output}", quiet):
        written = report.to_html(output)
    if not quiet:
        for sentence in report.summary:
            typer.echo(sentence)
        typer.echo(f"wrote {written}")


# --------------------------------------------------------------------------- info


@app.command()
@_user_errors
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

    synthesizer = _load_model(model)
    if _is_mixture(synthesizer):
        _mixture_info(synthesizer, model)
        return
    summary = synthesizer.summary()
    table = Table(title=f"{model} ({_file_size(model)})", title_justify="left")
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


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs.")] = Path(
        "lookalike-demo"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Fit mixtures to the bundled digits, print BIC and AIC, write 100 new digits.

    Also writes report.html, evaluating new digits against real and held-out ones.

    Example: lookalike demo --out demo-output
    """
    from lookalike.demo import run_demo

    run_demo(out, seed=seed, echo=(lambda _: None) if quiet else typer.echo)


# --------------------------------------------------------------------------- --where


def parse_where(
    items: Sequence[str],
    columns: Sequence[Mapping[str, Any]],
    categories: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Parse ``--where`` strings into the ``where`` mapping of ``Synthesizer.sample``.

    Parameters
    ----------
    items : sequence of str
        Each ``"column=value"`` or ``"column=low..high"`` (a closed range, for
        continuous, integer and datetime columns).
    columns : sequence of mapping
        The fitted columns, as ``Synthesizer.summary()["columns"]``: each with
        ``"name"``, ``"kind"`` and ``"dtype"``.
    categories : mapping, optional
        Column name -> its categories. A categorical value is matched against
        their text; without it the value is converted by the column's dtype.

    Returns
    -------
    dict
        Column -> a scalar (float, int, bool, category or ``pandas.Timestamp``)
        or a ``(low, high)`` tuple.

    Raises
    ------
    ValueError
        If an item has no ``=``, names an unknown column or an id column, a
        column is given twice, a value cannot be read as the column's kind, a
        range is empty or given for a column that has no order, or a value is
        not one of a categorical column's categories.

    Examples
    --------
    >>> fitted = [{"name": "species", "kind": "categorical", "dtype": "object"},
    ...           {"name": "mass", "kind": "continuous", "dtype": "float64"}]
    >>> parse_where(["species=Adelie", "mass=3500..4500"], fitted)
    {'species': 'Adelie', 'mass': (3500.0, 4500.0)}
    """
    by_name = {str(column["name"]): column for column in columns}
    conditions: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not equals or not name or not text:
            raise ValueError(f"--where {item!r} must look like column=value or column=low..high")
        if name not in by_name:
            raise ValueError(
                f"unknown column {name!r} in --where; columns are: {', '.join(by_name)}"
            )
        if name in conditions:
            raise ValueError(f"column {name!r} is given twice in --where")
        column = by_name[name]
        kind, dtype = str(column["kind"]), str(column.get("dtype", ""))
        known = None if categories is None else categories.get(name)
        conditions[name] = _parse_condition(name, kind, dtype, text, known)
    return conditions


def _parse_condition(
    name: str, kind: str, dtype: str, text: str, categories: Sequence[Any] | None
) -> Any:
    if kind == "id":
        raise ValueError(f"column {name!r} is an id column; it cannot be conditioned on")
    low_text, dots, high_text = text.partition("..")
    if dots:
        if kind not in _RANGE_PARSERS:
            raise ValueError(
                f"column {name!r} is {kind}: give one value (column=value), not a range"
            )
        parse = _RANGE_PARSERS[kind]
        low, high = parse(name, low_text.strip()), parse(name, high_text.strip())
        if not low <= high:
            raise ValueError(f"empty range {text!r} for column {name!r}: low is above high")
        return (low, high)
    if kind in _RANGE_PARSERS:
        return _RANGE_PARSERS[kind](name, text)
    if kind == "boolean":
        return _parse_bool(name, text)
    if kind == "categorical":
        return _parse_category(name, dtype, text, categories)
    raise ValueError(f"column {name!r} has kind {kind!r}, which --where does not support")


def _parse_float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"column {name!r} is numeric; cannot read {text!r} as a number") from None


def _parse_int(name: str, text: str) -> int | float:
    value = _parse_float(name, text)
    return int(value) if value.is_integer() else value


def _parse_datetime(name: str, text: str) -> Any:
    import pandas as pd

    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ValueError(
            f"column {name!r} holds dates; cannot read {text!r} as one (use e.g. 2024-01-31)"
        ) from None
    if pd.isna(stamp):
        raise ValueError(f"column {name!r} holds dates; {text!r} is not a date")
    return stamp


_RANGE_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "continuous": _parse_float,
    "integer": _parse_int,
    "datetime": _parse_datetime,
}

_TRUE = ("true", "yes", "1", "t", "y")
_FALSE = ("false", "no", "0", "f", "n")


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"column {name!r} is boolean; use true or false, not {text!r}")


def _parse_category(name: str, dtype: str, text: str, categories: Sequence[Any] | None) -> Any:
    if categories is not None:
        for category in categories:
            if str(category) == text:
                return category
        for category in categories:  # 6 matches 6.0, True matches true
            if str(category).lower() == text.lower() or _same_number(category, text):
                return category
        shown = ", ".join(str(category) for category in categories)
        raise ValueError(
            f"value {text!r} is not a category of column {name!r}; categories: {shown}"
        )
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return _parse_int(name, text)
    if dtype.startswith(("float", "Float")):
        return _parse_float(name, text)
    if dtype in ("bool", "boolean"):
        return _parse_bool(name, text)
    return text


def _same_number(category: Any, text: str) -> bool:
    if isinstance(category, bool) or not isinstance(category, int | float):
        return False
    try:
        return float(text) == float(category)
    except ValueError:
        return False


def _categories_of(synthesizer: Any) -> dict[str, list[Any]]:
    """Column -> categories, read from the fitted schema where it exposes them."""
    schema = getattr(synthesizer, "schema_", None)
    if isinstance(schema, Mapping):
        entries: list[Any] = list(schema.values())
    elif isinstance(schema, list | tuple):
        entries = list(schema)
    else:
        entries = list(getattr(schema, "columns", []) or [])
    found: dict[str, list[Any]] = {}
    for entry in entries:
        name = getattr(entry, "name", None)
        values = getattr(entry, "categories", None)
        if name is not None and isinstance(values, list | tuple) and values:
            found[str(name)] = list(values)
    return found


# --------------------------------------------------------------------------- helpers


def _check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise _BadInput(f"{option} must be one of {', '.join(choices)}; got {value!r}")


def _split_columns(columns: str | None) -> list[str] | None:
    if columns is None:
        return None
    names = [name.strip() for name in columns.split(",") if name.strip()]
    if not names:
        raise _BadInput("--columns is empty; give comma-separated column names")
    return names


def _refuse_same(output: Path, protected: Path, what: str) -> None:
    """Refuse to write ``output`` when it is ``protected`` (same path or same file)."""
    same = output.resolve() == protected.resolve()
    if not same and output.exists() and protected.exists():
        same = os.path.samefile(output, protected)
    if same:
        raise _BadInput(f"the output {output} is {what}; choose another output file")


def _load_model(path: Path) -> Any:
    """A fitted Synthesizer or GaussianMixture read from ``path``; anything else is an error."""
    from lookalike.persistence import load

    if not path.exists():
        raise FileNotFoundError(f"no such model file: {path}")
    if path.is_dir():
        raise _BadInput(f"{path} is a folder, not a model file")
    loaded = load(path)
    if _is_mixture(loaded):
        return loaded
    if not (callable(getattr(loaded, "summary", None)) and hasattr(loaded, "columns_")):
        raise _BadInput(
            f"{path} holds a {type(loaded).__name__}, not a fitted Synthesizer (or "
            "GaussianMixture); make one with 'lookalike fit'"
        )
    return loaded


def _is_mixture(model: Any) -> bool:
    """Whether ``model`` is a fitted :class:`~lookalike.mixture.GaussianMixture`."""
    from lookalike.mixture import GaussianMixture

    return isinstance(model, GaussianMixture) and hasattr(model, "means_")


def _feature_names(mixture: Any) -> list[str]:
    names = getattr(mixture, "feature_names_in_", None)
    if names is None:
        return [f"x{j}" for j in range(mixture.means_.shape[1])]
    return [str(name) for name in names]


def _mixture_rows(mixture: Any, n: int, seed: int | None) -> Any:
    """``n`` rows drawn from a fitted mixture, shuffled, as a DataFrame of its features."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(seed)
    values, _ = mixture.sample(n, random_state=generator)
    values = values[generator.permutation(n)]  # sample() groups the rows by component
    return pd.DataFrame(values, columns=_feature_names(mixture))


def _mixture_info(mixture: Any, path: Path) -> None:
    names = _feature_names(mixture)
    lines = [
        f"{path} ({_file_size(path)})",
        f"class: {type(mixture).__name__}",
        f"n_components: {mixture.n_components}",
        f"covariance type: {mixture.covariance_type}",
        f"features ({len(names)}): {', '.join(names)}",
        f"n_iter_: {mixture.n_iter_}" + ("" if mixture.converged_ else " (not converged)"),
        f"lower_bound_: {mixture.lower_bound_:.6g} (mean log-likelihood per row)",
    ]
    for line in lines:
        typer.echo(line)


def _file_size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _progress(message: str, quiet: bool) -> Iterator[None]:
    """A Rich spinner on stderr while the block runs (nothing when quiet or not a terminal)."""
    if quiet:
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    context = console.status(message) if console.is_terminal else nullcontext()
    with context:
        yield


def main() -> None:
    """Entry point of the console script (and of ``python -m lookalike.cli``)."""
    app(prog_name="lookalike")


if __name__ == "__main__":  # pragma: no cover
    main()
