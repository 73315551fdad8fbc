"""The ``lookalike`` command line: ``fit``, ``sample``, ``evaluate``, ``info`` and ``demo``.

``lookalike fit`` reads a table (CSV, Parquet or Excel), fits a
:class:`~lookalike.tabular.Synthesizer` and saves it as a safe model file;
``lookalike sample`` loads one and writes new rows, optionally conditioned with
``--where``; ``lookalike evaluate`` compares synthetic rows with real ones and
writes a self-contained HTML report; ``lookalike info`` shows what a model
file holds. Problems with the user's input (a missing or unreadable file, an
unknown column, a value outside a column's categories, a file that is not a
model) print one line
``error: ...`` on stderr and exit with status 2, without a traceback; any other
exception is a bug and keeps its traceback. Outputs are written atomically.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
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
        Path,
        typer.Argument(help="The table: .csv, .parquet/.pq or .xlsx/.xls.", show_default=False),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Model file to write (e.g. model.lookalike)."),
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Density family: auto, gmm, kde or gaussian.")
    ] = "auto",
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Comma-separated columns to keep (default: all)."),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet to read (default: the first).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    non_finite: Annotated[
        str,
        typer.Option(
            "--non-finite",
            help=(
                "Rows with inf/-inf in numeric columns: 'missing' keeps the rows and treats "
                "those entries as missing values; 'drop' removes the rows."
            ),
        ),
    ] = "missing",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Fit a synthesizer to a table and save it as a model file.

    Example: lookalike fit penguins.csv -o penguins.lookalike --model gmm --seed 0
    """
    from lookalike._tables import handle_non_finite, read_table
    from lookalike.persistence import save
    from lookalike.tabular import Synthesizer

    _check_choice("--model", model, MODEL_CHOICES)
    _check_choice("--non-finite", non_finite, NON_FINITE_CHOICES)
    _refuse_same(output, data, "the input table")
    selected = _split_columns(columns)
    with _progress(f"reading {data}", quiet):
        frame = read_table(data, sheet=sheet, columns=selected)
    frame, report = handle_non_finite(frame, non_finite)
    if report and not quiet:
        typer.echo(f"warning: {report}", err=True)
    if frame.shape[0] == 0:
        raise _BadInput(f"no rows left in {data} after dropping rows with infinite values")
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
    synthesizer = _load_synthesizer(model)
    conditions = parse_where(
        where or [], synthesizer.summary()["columns"], _categories_of(synthesizer)
    )
    with _progress(f"drawing {n} rows", quiet):
        rows = synthesizer.sample(n, where=conditions or None, random_state=seed)
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

    Example: lookalike info penguins.lookalike
    """
    from rich.console import Console
    from rich.table import Table

    synthesizer = _load_synthesizer(model)
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


def _load_synthesizer(path: Path) -> Any:
    from lookalike.persistence import load

    if not path.exists():
        raise FileNotFoundError(f"no such model file: {path}")
    if path.is_dir():
        raise _BadInput(f"{path} is a folder, not a model file")
    loaded = load(path)
    if not (callable(getattr(loaded, "summary", None)) and hasattr(loaded, "columns_")):
        raise _BadInput(
            f"{path} holds a {type(loaded).__name__}, not a fitted Synthesizer; "
            "make one with 'lookalike fit'"
        )
    return loaded


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
