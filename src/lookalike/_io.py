"""Atomic output: write to a temporary file (or folder) beside the target, then rename.

A crash or an error while writing never leaves a half-written file where the
user expects a whole one, and never clobbers an existing file with a partial one.
A folder (a partitioned dataset) is written the same way and never replaces a
folder that holds anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[str]]:
    """Open a temporary file for text writing; it replaces ``path`` when closed cleanly."""
    with atomic_path(path) as temporary, open(temporary, mode, encoding="utf-8") as stream:
        yield stream


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; rename it to ``path`` on success.

    ``path`` must not exist or be an empty folder, when this starts and when it
    ends: a folder that holds anything is never replaced (``FileExistsError``).
    On failure the temporary folder and everything in it are removed.
    """
    target = Path(path)
    check_free_directory(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_current_umask())
        check_free_directory(target)
        if target.is_dir():
            target.rmdir()  # empty: checked just above
        os.rename(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def check_free_directory(target: str | os.PathLike[str]) -> None:
    """Refuse a ``target`` folder that holds anything, or a file (or link) in its place.

    Raises
    ------
    FileExistsError
        Saying what is in the way and what to do.
    """
    target = Path(target)
    if target.is_dir() and not target.is_symlink():
        if any(target.iterdir()):
            raise FileExistsError(
                f"{target} exists and is not empty; remove it or choose another folder"
            )
    elif target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} exists and is not a folder; choose another folder")


def _current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
