"""Reading and writing tables (CSV, Parquet, Excel) for the command line.

The format is chosen from the file's suffix through :data:`TABLE_FORMATS`:

========================  ==========  =============================================
suffix                    format      needs
========================  ==========  =============================================
``.csv``                  CSV         pandas only
``.parquet``, ``.pq``     Parquet     pyarrow (``pip install 'lookalike[io]'``)
``.xlsx``                 Excel       openpyxl (``pip install 'lookalike[io]'``)
``.xls``                  old Excel   xlrd (reading only)
========================  ==========  =============================================

CSV files are read with the delimiter sniffed from their first 64 KiB (comma,
semicolon, tab or pipe; :func:`sniff_csv`), and with a decimal comma when the
delimiter is a semicolon and the numbers are written that way (as spreadsheets
in many locales save them). Reading and writing log one INFO record each on the
``lookalike._tables`` logger (see :mod:`lookalike._logging`).

Optional engines are imported only when a file of their format is touched; a
missing one raises a :class:`MissingDependencyError` (an ImportError) whose message is the install
command. Every problem with the user's file (missing, empty, unknown suffix,
unreadable, unknown sheet or column) raises a one-line :class:`ValueError` or
:class:`FileNotFoundError` naming the file and the fix, so that the command
line can print it without a traceback. Writing is atomic
(:func:`lookalike._io.atomic_path`): a failed write leaves no partial file and
keeps any previous file whole.
"""

from __future__ import annotations

import csv
import errno
import importlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from lookalike._io import atomic_path
from lookalike._logging import get_logger, stage

_T = TypeVar("_T")

__all__ = [
    "NON_FINITE_POLICIES",
    "TABLE_FORMATS",
    "MissingDependencyError",
    "check_writable",
    "handle_non_finite",
    "read_table",
    "sniff_csv",
    "table_format",
    "write_table",
]


class MissingDependencyError(ImportError):
    """An optional package a file format needs is not installed (the message says how)."""


#: Suffix (lower case) -> format name.
TABLE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xls": "xls",
}

_FORMAT_NAMES = {"csv": "CSV", "parquet": "Parquet", "excel": "Excel", "xls": "Excel (.xls)"}

# Format -> the optional modules it needs and the install hint for them.
_ENGINES: dict[str, tuple[tuple[str, ...], str]] = {
    "csv": ((), ""),
    "parquet": (("pyarrow",), "pip install 'lookalike[io]'"),
    "excel": (("openpyxl",), "pip install 'lookalike[io]'"),
    "xls": (("xlrd",), "pip install xlrd"),
}

_WRITABLE = ("csv", "parquet", "excel")

#: Delimiters :func:`sniff_csv` chooses among, and the bytes it reads to decide.
CSV_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024

log = get_logger(__name__)

#: How ``handle_non_finite`` treats infinite numeric entries.
NON_FINITE_POLICIES = ("missing", "drop")


def table_format(path: str | os.PathLike[str], *, writing: bool = False) -> str:
    """The format of ``path`` from its suffix: ``"csv"``, ``"parquet"``, ``"excel"`` or ``"xls"``.

    Raises
    ------
    ValueError
        If the suffix is not a known table format (or, with ``writing=True``,
        not one that can be written).

    Examples
    --------
    >>> table_format("data/penguins.PQ")
    'parquet'
    """
    suffix = Path(path).suffix.lower()
    known = _suffix_list(writing)
    fmt = TABLE_FORMATS.get(suffix)
    if fmt is None or (writing and fmt not in _WRITABLE):
        shown = f"suffix '{suffix}'" if suffix else "no suffix"
        action = "write" if writing else "read"
        raise ValueError(f"cannot {action} a table with {shown} ({path}); use one of {known}")
    return fmt


def check_writable(path: str | os.PathLike[str]) -> str:
    """Check, before any work, that a table can be written to ``path``; return its format.

    Raises
    ------
    ValueError
        If the suffix is not a writable table format or ``path`` is a folder.
    MissingDependencyError
        If the format's optional engine is not installed.
    """
    fmt = table_format(path, writing=True)
    _require_engine(fmt)
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder; give a file name for the output table")
    return fmt


def read_table(
    path: str | os.PathLike[str],
    *,
    sheet: str | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        The file; its suffix picks the format (see :data:`TABLE_FORMATS`).
    sheet : str, optional
        Excel only: the sheet to read (default: the first one).
    columns : sequence of str, optional
        Keep only these columns, in this order.

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        With at least one row and one column.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    MissingDependencyError
        If the format's optional engine is not installed (the message is the
        install command).
    ValueError
        If the suffix is unknown, the file cannot be parsed in its format,
        ``sheet`` is given for a non-Excel file or names no sheet, a name in
        ``columns`` is not a column, or the table has no rows or no columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("x,kind\\n1.5,a\\n2.0,b\\n")
    >>> read_table(folder / "t.csv", columns=["kind"])
      kind
    0    a
    1    b
    """
    path = Path(path)
    fmt = table_format(path)
    _check_readable(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a table file")
    if sheet is not None and fmt not in ("excel", "xls"):
        raise ValueError(f"a sheet was given but {path} is not an Excel file")
    _require_engine(fmt)
    with stage(log, "reading %s", path):
        if fmt in ("excel", "xls"):
            frame = _read_excel(path, fmt, sheet)
        else:
            frame = _parse(path, fmt, lambda: _READERS[fmt](path))
    if frame.shape[1] == 0:
        raise ValueError(f"the table in {path} has no columns")
    frame.columns = [str(name) for name in frame.columns]
    if columns is not None:
        frame = _select(frame, columns, path)
    if frame.shape[0] == 0:
        raise ValueError(f"the table in {path} has no rows")
    return frame


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` without its index to a CSV, Parquet or Excel file, atomically.

    The table is written to a temporary file in the target folder and renamed
    over ``path`` only when complete: if writing fails, ``path`` is left as it
    was (absent, or holding its previous content).

    Parameters
    ----------
    frame : DataFrame
        The table.
    path : str or path-like
        The target; its suffix picks the format (``.csv``, ``.parquet``/``.pq``
        or ``.xlsx``).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> write_table(pd.DataFrame({"x": [1, 2]}), target).read_text()
    'x\\n1\\n2\\n'
    """
    path = Path(path)
    fmt = check_writable(path)
    with stage(log, "writing %s", path), atomic_path(path) as temporary:
        _WRITERS[fmt](frame, temporary)
    return path


def sniff_csv(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The delimiter and decimal mark of a CSV file, from its first 64 KiB.

    The delimiter is the one of :data:`CSV_DELIMITERS` that :class:`csv.Sniffer`
    finds consistent across the lines read (``","`` when none is, as for a
    one-column file). The decimal mark is ``","`` only when the delimiter is
    ``";"`` and numbers written with a decimal comma (``3,5``) occur while none
    is written with a decimal point (``3.5``); otherwise ``"."``.

    Returns
    -------
    delimiter, decimal : str

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("x;y\\n1,5;a\\n2,25;b\\n")
    >>> sniff_csv(path)
    (';', ',')
    """
    with open(path, "rb") as stream:
        head = stream.read(_SNIFF_BYTES)
    text = head.decode("utf-8", errors="replace")
    if len(head) == _SNIFF_BYTES:  # drop the last, maybe partial, line
        text = text[: text.rfind("\n") + 1] or text
    try:
        delimiter = csv.Sniffer().sniff(text, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    decimal = "."
    if delimiter == ";" and _DECIMAL_COMMA.search(text) and not _DECIMAL_POINT.search(text):
        decimal = ","
    return delimiter, decimal


_DECIMAL_COMMA = re.compile(r"(?:^|;)\s*-?\d+,\d+\s*(?=;|$)", re.MULTILINE)
_DECIMAL_POINT = re.compile(r"(?:^|;)\s*-?\d+\.\d+(?:[eE][-+]?\d+)?\s*(?=;|$)", re.MULTILINE)


def handle_non_finite(frame: pd.DataFrame, how: str = "missing") -> tuple[pd.DataFrame, str]:
    """Find infinite entries in numeric columns; mark them missing or drop their rows.

    Parameters
    ----------
    frame : DataFrame
        The table (not modified).
    how : {"missing", "drop"}, default="missing"
        ``"missing"`` replaces each ``inf``/``-inf`` by NaN and keeps the row
        (its other values are still used); ``"drop"`` removes every row holding
        one.

    Returns
    -------
    frame : DataFrame
        The handled table (the input itself when nothing is infinite).
    report : str
        ``""`` when nothing is infinite, else one line such as
        ``"3 rows have infinite values in column(s) x, y; treated as missing"``.

    Examples
    --------
    >>> table = pd.DataFrame({"x": [1.0, float("inf"), 3.0], "y": ["a", "b", "c"]})
    >>> handled, report = handle_non_finite(table, "drop")
    >>> report
    '1 row has infinite values in column(s) x; dropped'
    >>> handled["y"].tolist()
    ['a', 'c']
    """
    if how not in NON_FINITE_POLICIES:
        raise ValueError(
            f"unknown non-finite policy {how!r}; use one of {', '.join(NON_FINITE_POLICIES)}"
        )
    numeric = frame.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        return frame, ""
    infinite = np.isinf(numeric.to_numpy(dtype=float, na_value=np.nan))
    rows = infinite.any(axis=1)
    n_rows = int(rows.sum())
    if n_rows == 0:
        return frame, ""
    names = [
        str(name) for name, bad in zip(numeric.columns, infinite.any(axis=0), strict=True) if bad
    ]
    noun = "row has" if n_rows == 1 else "rows have"
    report = f"{n_rows} {noun} infinite values in column(s) {', '.join(names)}"
    if how == "drop":
        return frame.loc[~rows].reset_index(drop=True), report + "; dropped"
    handled = frame.copy()
    for name in names:
        column = handled[name]
        handled[name] = column.mask(np.isinf(column.to_numpy(dtype=float, na_value=np.nan)))
    return handled, report + "; treated as missing"


# --------------------------------------------------------------------------- helpers


def _suffix_list(writing: bool) -> str:
    return ", ".join(s for s, f in TABLE_FORMATS.items() if not writing or f in _WRITABLE)


def _require_engine(fmt: str) -> None:
    """Import the optional modules ``fmt`` needs; a missing one gives the install hint."""
    modules, hint = _ENGINES[fmt]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingDependencyError(
                f"{_FORMAT_NAMES[fmt]} files need the optional package '{module}': {hint}"
            ) from exc


def _check_readable(path: Path) -> None:
    """Refuse a missing file, a broken link or a link loop with a one-line error."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{path} is a symbolic link loop, not a table file") from None
        if path.is_symlink():
            raise FileNotFoundError(f"{path} is a broken symbolic link") from None
        if isinstance(exc, FileNotFoundError):
            raise FileNotFoundError(f"no such file: {path}") from None
        raise


def _parse(path: Path, fmt: str, reader: Callable[[], _T]) -> _T:
    """Call ``reader``; any failure to parse the user's file becomes one ValueError."""
    try:
        return reader()
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty") from None
    except (MemoryError, ImportError):
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"could not read {path} as {_FORMAT_NAMES[fmt]}: {detail[:200]}") from exc


def _read_excel(path: Path, fmt: str, sheet: str | None) -> pd.DataFrame:
    engine = "openpyxl" if fmt == "excel" else "xlrd"
    workbook = _parse(path, fmt, lambda: pd.ExcelFile(path, engine=engine))
    with workbook:
        names = [str(name) for name in workbook.sheet_names]
        if sheet is None:
            if not names:
                raise ValueError(f"{path} has no sheets")
            sheet = names[0]
        elif sheet not in names:
            raise ValueError(f"no sheet {sheet!r} in {path}; its sheets are: {', '.join(names)}")
        chosen = sheet
        return _parse(path, fmt, lambda: pd.read_excel(workbook, sheet_name=chosen))


def _select(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> pd.DataFrame:
    wanted = [str(name) for name in columns]
    if not wanted:
        raise ValueError("the list of columns to keep is empty")
    unknown = [name for name in wanted if name not in frame.columns]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise ValueError(
            f"unknown column(s) {listed} in {path}; its columns are: {', '.join(frame.columns)}"
        )
    repeated = sorted({name for name in wanted if wanted.count(name) > 1})
    if repeated:
        raise ValueError(f"column(s) {', '.join(repeated)} listed more than once")
    return frame.loc[:, wanted]


def _read_csv(path: Path) -> pd.DataFrame:
    delimiter, decimal = sniff_csv(path)
    return pd.read_csv(path, sep=delimiter, decimal=decimal)


def _read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path, engine="pyarrow")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False, engine="pyarrow")


def _write_excel(frame: pd.DataFrame, path: Path) -> None:
    frame.to_excel(path, index=False, engine="openpyxl")


_READERS = {"csv": _read_csv, "parquet": _read_parquet}
_WRITERS = {"csv": _write_csv, "parquet": _write_parquet, "excel": _write_excel}
