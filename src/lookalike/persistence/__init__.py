"""Safe model files: :func:`save` and :func:`load` without pickle.

A model file (suffix ``.lookalike`` by convention; any suffix is accepted) is a
zip archive (``ZIP_DEFLATED``) with exactly these members:

``manifest.json``
    UTF-8 JSON object::

        {"format": "lookalike-model", "format_version": 1,
         "lookalike_version": "0.1.0", "sklearn_version": "1.9.1",
         "created": "2026-01-01T12:00:00+00:00",
         "class": "lookalike.mixture.GaussianMixture",   # the root's class, or null
         "fitted": true,                                 # the root passed check_is_fitted
         "root": <node>}

``arrays/<n>.npy``
    One numpy array each, in the ``.npy`` format (version 1.0 or 2.0) written
    with ``allow_pickle=False``; ``<n>`` is a decimal number. Each is
    referenced by exactly one node.

A node is JSON and is one of

========================================  ==================================================
``null``, ``true``, an integer, a string  itself
a JSON number with a fraction or exponent  a Python ``float``
``{"float": "nan" | "inf" | "-inf"}``     a non-finite ``float``
``{"list": [node, ...]}``                 a ``list``
``{"tuple": [node, ...]}``                a ``tuple``
``{"dict": [[key, node], ...]}``          a ``dict``; each key is a node of a hashable value
``{"array": "arrays/3.npy"}``             a numpy array of a bool, int, uint, float,
                                          complex, datetime64, timedelta64 or fixed-width
                                          str/bytes dtype (never object, never structured)
``{"strings": [str, ...], "shape": [..]}``  a numpy object array of Python strings (such as
                                          ``feature_names_in_``), C order
``{"scalar": "<f8", "value": number}``    a numpy bool/int/uint/float scalar of that dtype
``{"scalar_array": "arrays/4.npy"}``      any other numpy scalar, as a 0-d array
``{"random_state": "RandomState" |``      a ``numpy.random.RandomState`` or ``Generator``
``"Generator", "state": node}``           with its bit generator's state
``{"timestamp": int, "unit": "us",``      a ``pandas.Timestamp`` (nanoseconds since the
``"tz": null | "Europe/Paris"}``          epoch in UTC, its unit and time zone name), such
                                          as a categorical column's dates
``{"dataframe": {"n_rows": n,``           a pandas DataFrame with a default ``RangeIndex``;
``"columns": [[name, column], ...]}}``    a column is ``{"dtype": "float64", "values":
                                          array node}`` or, for ``object``/``str`` dtypes,
                                          ``{"dtype": "object", "values": list node}``
``{"object": "lookalike.kde.KernelDensity",  an instance of an allow-listed class: its instance
``"attributes": {"dict": ...}}``          dictionary (hyper-parameters and fitted state)
========================================  ==================================================

The root node is an object node: a model file holds one model.

Objects are rebuilt with ``object.__new__(cls)`` and their instance dictionary
is filled in: no ``__init__``, ``__setstate__`` or any other code named by the
file runs, and only the classes of :data:`ALLOWED_CLASSES` can be named. Lazy
caches (``KernelDensity``'s sorted training points and unit-bandwidth copy)
are not stored; they are rebuilt on load.

:func:`load` checks everything before it trusts it: that the path is a regular
file; the member count, names (none twice), each member's declared size and
the total of all of them against ``max_bytes``, the compression ratios and the
manifest's size (:mod:`lookalike.persistence.archive`), all before anything is
decompressed; the manifest's format version, JSON nesting depth and node
types; each ``.npy`` header (dtype and shape, and that the shape matches the
member's size) before the array is built; CRCs; and finally each restored
object, which checks itself through its class's ``_restore_check`` hook with
the validation a fitted model passes (hyper-parameters; shapes, dtypes and
finiteness of the fitted state; mixture weights positive and summing to one;
precision factors triangular with a positive diagonal and consistent with the
covariances; positive bandwidths; a Synthesizer's column marginals finite and
monotone, its model dimensions those of its codecs, its joint model fitted on
them, its trees' node arrays a tree...). Any failure raises
:class:`~lookalike.exceptions.ModelFileError` (a ValueError) with one line that
names it. A file of the Synthesizer written before its column codecs is
refused with a message that says to refit the model.

The package has three parts: :mod:`~lookalike.persistence.archive` (the zip
container and its limits), :mod:`~lookalike.persistence.codec` (values to
manifest nodes and back, the allow-list) and this module (:func:`save` and
:func:`load`).
"""

from __future__ import annotations

import datetime
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from lookalike._io import atomic_path
from lookalike._version import __version__
from lookalike.exceptions import ModelFileError
from lookalike.persistence.archive import (
    DEFAULT_MAX_BYTES,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    check_member_count,
    check_members,
    file_size,
    open_archive,
    open_regular_file,
)
from lookalike.persistence.codec import (
    ALLOWED_CLASSES,
    FORMAT,
    FORMAT_VERSION,
    Reader,
    Writer,
    allowed_name,
    check_root,
    is_fitted,
    read_manifest,
    sklearn_version,
)

__all__ = [
    "ALLOWED_CLASSES",
    "DEFAULT_MAX_BYTES",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "ModelFileError",
    "load",
    "save",
]


# --------------------------------------------------------------------------------------
# Saving


def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to a safe model file at ``path``.

    Parameters
    ----------
    model : estimator
        A lookalike estimator, fitted or not (``GaussianMixture``,
        ``KernelDensity``, ``Gaussian``, ``ReducedDensity``,
        ``GenerativeClassifier``, ``ModelSearch``, ``Synthesizer``), or one of
        the scikit-learn transformers of :data:`ALLOWED_CLASSES`. Anything else
        (a dict, ``None``, an array, another library's estimator) is refused
        with a TypeError: a model file holds one model, and :func:`load`
        refuses files that do not.
    path : str or path-like
        The file to write; ``.lookalike`` is the conventional suffix. The file
        is written to a temporary name in the same folder and renamed, so an
        existing file is replaced whole or not at all. Missing parent folders
        are created.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``model`` is not of an allowed class, or holds something the
        format cannot store; the message names the attribute, e.g.
        ``GaussianMixture.foo_``.
    ValueError
        If ``path`` is empty, or names something other than a regular file
        (a device such as ``/dev/null``, a FIFO), which is never replaced.
    IsADirectoryError
        If ``path`` is an existing directory (name a file inside it).

    See Also
    --------
    load : read the file back.

    Notes
    -----
    The format is described in the docstring of :mod:`lookalike.persistence`.
    Nothing is written when encoding fails.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from lookalike.mixture import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> model = GaussianMixture(2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = save(model, pathlib.Path(folder) / "model.lookalike")
    ...     restored = load(written)
    >>> bool(np.array_equal(restored.score_samples(X), model.score_samples(X)))
    True
    """
    dotted = allowed_name(type(model))
    if dotted is None:
        kind = type(model)
        raise TypeError(
            f"save writes lookalike models, not {kind.__module__}.{kind.__qualname__}: "
            "pass an estimator such as lookalike.GaussianMixture or lookalike.Synthesizer "
            "(the classes of lookalike.persistence.ALLOWED_CLASSES)"
        )
    target = _target_path(path)
    writer = Writer()
    root = writer.encode(model, type(model).__name__)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lookalike_version": __version__,
        "sklearn_version": sklearn_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "class": dotted,
        "fitted": is_fitted(model),
        "root": root,
    }
    text = json.dumps(manifest, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_MANIFEST_BYTES:
        raise TypeError(
            f"cannot save {type(model).__name__}: its manifest would take {len(encoded)} "
            f"bytes, more than the {MAX_MANIFEST_BYTES} a model file allows (large lists or "
            "strings belong in numpy arrays)"
        )
    with (
        atomic_path(target) as temporary,
        zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        for name, array in writer.arrays:
            with archive.open(name, "w", force_zip64=True) as stream:
                np.save(stream, array, allow_pickle=False)
        archive.writestr(MANIFEST, encoded)
    return target


def _target_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, refused early when it cannot name a file to write."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str) or text.strip() == "":
        raise ValueError(f"path must name a file; got {text!r}")
    target = Path(text)
    if target.is_dir() or text.endswith(("/", os.sep)):
        raise IsADirectoryError(
            f"cannot save to {text!r}: it is a directory; name a file inside it, e.g. "
            f"{str(target / 'model.lookalike')!r}"
        )
    if target.exists() and not target.is_file():  # a device or FIFO: never replaced
        raise ValueError(f"cannot save to {text!r}: it exists and is not a regular file")
    return target


# --------------------------------------------------------------------------------------
# Loading


def load(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read a model written by :func:`save`, without running any code from the file.

    Parameters
    ----------
    path : str or path-like
        The model file: a regular file (FIFOs, devices and directories are
        refused before they are read).
    max_bytes : int, default=4 GiB
        Largest total uncompressed size of all the file's members accepted (and
        so the most memory the model's arrays can take). It is checked on the
        sizes the file declares before anything is decompressed, and enforced
        while reading. Within it, loading costs the arrays' own size in memory
        and the time to inflate them (about 10 s per GiB): lower it for files
        from untrusted sources.

    Returns
    -------
    model : object
        The restored model, of the class named in the file.

    Raises
    ------
    ModelFileError
        If the path is not a regular file, or the file is not a lookalike
        model file, is truncated or corrupted (CRC), comes from a newer
        format, names a class outside :data:`ALLOWED_CLASSES`, has unexpected
        or duplicate members or more than :data:`MAX_MEMBERS`, declares more
        than ``max_bytes`` in all or a manifest over :data:`MAX_MANIFEST_BYTES`,
        is compressed suspiciously well (ratio over :data:`MAX_RATIO`), holds
        an array of object dtype or one whose header disagrees with its size,
        nests too deeply, or restores to a model that fails its class's checks.
        The message is one line. ModelFileError is a ValueError.
    FileNotFoundError
        If ``path`` does not exist.

    See Also
    --------
    save : write a model file.

    Notes
    -----
    Arrays are read from ``.npy`` members only after their header has been
    parsed (``numpy.lib.format``) and ``prod(shape) * itemsize`` found equal
    to the member's size, straight into the array's own buffer (memory equal
    to the array's size, time linear in it); objects are created with
    ``object.__new__`` and their attributes assigned, so neither pickle nor
    any constructor runs; each then checks its own state (``_restore_check``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from lookalike.kde import KernelDensity
    >>> X = np.random.default_rng(0).normal(size=(50, 1))
    >>> kde = KernelDensity(bandwidth="scott").fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     restored = load(save(kde, pathlib.Path(folder) / "kde.lookalike"))
    >>> restored.bandwidth_ == kde.bandwidth_
    True
    """
    if (
        isinstance(max_bytes, bool)
        or not isinstance(max_bytes, int | np.integer)
        or max_bytes <= 0
    ):
        raise ValueError(f"max_bytes must be a positive int; got {max_bytes!r}.")
    target = Path(path)
    with open_regular_file(target) as handle:
        try:
            return _load(handle, int(max_bytes))
        except ModelFileError as error:
            raise ModelFileError(f"cannot load {str(target)!r}: {error}") from None
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
            MemoryError,
            NotImplementedError,
        ) as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise ModelFileError(
                f"cannot load {str(target)!r}: corrupted or invalid model file "
                f"({type(error).__name__}: {detail})"
            ) from None


def _load(handle: Any, max_bytes: int) -> Any:
    size = file_size(handle)
    check_member_count(handle, size)
    with open_archive(handle) as archive:
        members = check_members(archive.infolist(), max_bytes, size)
        if MANIFEST not in members:
            raise ModelFileError("not a lookalike model file (no manifest.json)")
        manifest = read_manifest(archive, members[MANIFEST])
        reader = Reader(archive, members, max_bytes - members[MANIFEST].file_size)
        model = reader.decode(manifest["root"], 0)
        check_root(model, manifest)
        if reader.sklearn_objects and manifest.get("sklearn_version") != sklearn_version():
            warnings.warn(
                f"The model file was written with scikit-learn {manifest.get('sklearn_version')}"
                f" and is read with {sklearn_version()}; its scikit-learn transformers may "
                "behave differently.",
                UserWarning,
                stacklevel=3,
            )
        return model
