"""What every command shares: error lines, warning lines, progress, option checks.

:func:`command` wraps each command of the app. While the command runs:

- **Errors.** A problem with the user's input (:class:`BadInput`, the library's
  ``ValueError``/``TypeError``, ``OSError``, a missing optional package, not
  enough memory for what was asked) prints one line ``error: ...`` on stderr
  and exits with status 2 (:data:`EXIT_BAD_INPUT`), without a traceback. Any
  other exception is a bug and keeps its traceback.
- **Warnings.** Every warning (lookalike's own, numpy's RuntimeWarnings) prints
  once as one line ``warning: ...`` on stderr, with no source path.
- **Progress.** The library reports the stages of long work as INFO records of
  the ``"lookalike"`` logger (see :mod:`lookalike._logging`). On a terminal they
  drive one Rich status line (spinner, current stage, elapsed time); otherwise
  each prints as one line ``[  12.3s] fitting ...`` on stderr, so a pipe or a
  log file shows where a long run is. ``--verbose`` adds DEBUG records.
- ``--quiet`` silences warnings and progress (errors still print).

Messages of the library that name a Python-only keyword (``kinds=``,
``bounds=``, ...) get the command-line option that sets it appended.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from lookalike._logging import LOGGER_NAME

#: ``--quiet/-q``, an option of every command.
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]

#: ``--seed``, the random seed of every command that draws or fits.
SeedOption = Annotated[int | None, typer.Option("--seed", help="Random seed, 0 to 4294967295.")]

#: ``--verbose/-v``, an option of every command.
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show the details of each stage.")
]

#: Exit status for bad input (the same as for a command-line usage error).
EXIT_BAD_INPUT = 2

#: Choices of ``fit --model`` and ``fit --non-finite`` (with and without --dask).
MODEL_CHOICES = ("auto", "trees", "cells", "gaussian", "gmm", "kde")
NON_FINITE_CHOICES = ("missing", "drop")

#: Seeds accepted by ``--seed``: numpy's and scikit-learn's range.
SEED_MAX = 2**32 - 1

_P = ParamSpec("_P")
_R = TypeVar("_R")

log = logging.getLogger(f"{LOGGER_NAME}.cli")


class BadInput(Exception):
    """A problem with the command's arguments detected by the command line itself."""


# --------------------------------------------------------------------------- messages

#: Python keyword in a library message -> the command-line option that sets it.
_OPTION_NAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bkinds\s*[=\[]"), "--kind COLUMN=KIND"),
    (re.compile(r"\bbounds\s*="), "--bounds observed|clip|none"),
    (re.compile(r"\bids\s*="), "--ids drop|regenerate"),
    (re.compile(r"\bwhere\s*="), "--where COLUMN=VALUE or COLUMN=LOW..HIGH"),
    (re.compile(r"\brandom_state\s*="), "--seed"),
)


def one_line(text: str) -> str:
    """``text`` with its whitespace (newlines included) collapsed to single spaces."""
    return " ".join(text.split())


def for_the_command_line(message: str) -> str:
    """``message`` with the command-line options for the Python keywords it names appended.

    Examples
    --------
    >>> for_the_command_line("declare it with kinds={'x': 'categorical'}")
    "declare it with kinds={'x': 'categorical'} (command line: --kind COLUMN=KIND)"
    >>> for_the_command_line("no keyword here")
    'no keyword here'
    """
    options = [option for pattern, option in _OPTION_NAMES if pattern.search(message)]
    if not options:
        return message
    return f"{message} (command line: {'; '.join(options)})"


def _is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a problem with the user's input (as opposed to a bug)."""
    if isinstance(exc, BadInput | ValueError | TypeError | OSError | MemoryError):
        return True
    tables = sys.modules.get("lookalike._tables")  # MissingDependencyError lives there
    return tables is not None and isinstance(exc, tables.MissingDependencyError)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        detail = one_line(str(exc))
        return (
            "not enough memory for this request"
            + (f" ({detail})" if detail else "")
            + ("; ask for fewer rows or columns")
        )
    if isinstance(exc, RecursionError):  # pragma: no cover - not an input error
        return "recursion limit reached"
    return one_line(str(exc)) or type(exc).__name__


# --------------------------------------------------------------------------- the wrapper


def command(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a command with error lines, warning lines and progress (see the module doc).

    The command's ``quiet`` and ``verbose`` keyword arguments, when it has them,
    choose what is shown.
    """

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        quiet = bool(kwargs.get("quiet", False))
        verbose = bool(kwargs.get("verbose", False))
        with ExitStack() as stack:
            stack.enter_context(_warning_lines(quiet))
            if not quiet:
                stack.enter_context(progress(verbose))
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if not _is_input_error(exc):
                    raise
                message = for_the_command_line(_error_text(exc))
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)

    return wrapper


#: Warnings meant for developers, hidden from the command's users (as Python does).
_DEVELOPER_WARNINGS: tuple[type[Warning], ...] = (
    DeprecationWarning,
    PendingDeprecationWarning,
    ImportWarning,
    ResourceWarning,
)


@contextmanager
def _warning_lines(quiet: bool) -> Iterator[None]:
    """Show each distinct warning once as ``warning: ...`` on stderr (nothing when quiet)."""
    shown: set[str] = set()

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = for_the_command_line(one_line(str(message)) or category.__name__)
        if quiet or text in shown:
            return
        shown.add(text)
        typer.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # once per place, whatever -W or pytest set
        for category in _DEVELOPER_WARNINGS:  # as Python's defaults: not for users
            warnings.filterwarnings("ignore", category=category)
        warnings.showwarning = show
        yield


def warn(message: str) -> None:
    """A warning of the command line itself, shown like the library's."""
    warnings.warn(message, UserWarning, stacklevel=2)


# --------------------------------------------------------------------------- progress


class _LineHandler(logging.Handler):
    """One line per record on stderr: ``[  12.3s] message`` (DEBUG: ``debug: message``)."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.start = start

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = one_line(record.getMessage())
            if record.levelno < logging.INFO:
                message = f"debug: {message}"
            elapsed = time.perf_counter() - self.start
            typer.echo(f"[{elapsed:6.1f}s] {message}", err=True)
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


class _StatusHandler(logging.Handler):
    """A Rich status line on a terminal: spinner, the current stage, elapsed time.

    It shows from the start of the command ("starting" while modules load) until
    its end, then disappears; whatever is printed meanwhile (results, warnings,
    DEBUG records) appears above it.
    """

    def __init__(self, console: Any) -> None:
        super().__init__()
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=None)
        self.progress.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = one_line(record.getMessage())
            if record.levelno < logging.INFO:
                self.console.print(f"debug: {message}", highlight=False, markup=False)
            else:
                self.progress.update(self.task, description=message)
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)

    def close(self) -> None:
        self.progress.stop()
        super().close()


@contextmanager
def progress(verbose: bool = False) -> Iterator[None]:
    """Show the ``"lookalike"`` logger's records while the block runs (see the module doc)."""
    from rich.console import Console

    logger = logging.getLogger(LOGGER_NAME)
    console = Console(stderr=True)
    handler: logging.Handler = (
        _StatusHandler(console) if console.is_terminal else _LineHandler(time.perf_counter())
    )
    level = logging.DEBUG if verbose else logging.INFO
    handler.setLevel(level)
    previous_level = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        handler.close()


# --------------------------------------------------------------------------- option checks


def check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    """Refuse ``value`` for ``option`` unless it is one of ``choices``."""
    if value not in choices:
        raise BadInput(f"{option} must be one of {', '.join(choices)}; got {value!r}")


def check_seed(seed: int | None, option: str = "--seed") -> None:
    """Refuse a seed outside ``[0, 2**32 - 1]`` (numpy's and scikit-learn's range)."""
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise BadInput(f"{option} must be a whole number from 0 to {SEED_MAX}; got {seed}")


def split_columns(columns: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None stays None."""
    if columns is None:
        return None
    names = [name.strip() for name in columns.split(",") if name.strip()]
    if not names:
        raise BadInput("--columns is empty; give comma-separated column names")
    return names


def resolved(path: Path) -> Path:
    """``path`` made absolute with symbolic links resolved; a link loop is bad input."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # Python < 3.13 raises RuntimeError on a loop
        raise BadInput(f"{path}: symbolic link loop ({one_line(str(exc))})") from None


def check_input_file(path: Path, what: str) -> None:
    """Refuse a missing ``path``, a folder, or a symbolic link loop, naming ``what``."""
    try:
        path.stat()
    except OSError as exc:
        if path.is_symlink():
            resolved(path)  # a loop raises here
            raise FileNotFoundError(f"{path} is a broken symbolic link") from None
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"no such {what}: {path}") from None
        raise BadInput(f"cannot open {path}: {one_line(exc.strerror or str(exc))}") from None
    if path.is_dir():
        raise BadInput(f"{path} is a folder, not a {what}")


def refuse_same(output: Path, protected: Path, what: str) -> None:
    """Refuse to write ``output`` when it is ``protected`` (same path or same file)."""
    same = resolved(output) == resolved(protected)
    if not same and output.exists() and protected.exists():
        same = os.path.samefile(output, protected)
    if same:
        raise BadInput(f"the output {output} is {what}; choose another output file")


def echo(message: str) -> None:
    """A result line on stdout."""
    typer.echo(message)
