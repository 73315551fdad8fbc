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
``{"dataframe": {"n_rows": n,``           a pandas DataFrame with a default ``RangeIndex``;
``"columns": [[name, column], ...]}}``    a column is ``{"dtype": "float64", "values":
                                          array node}`` or, for ``object``/``str`` dtypes,
                                          ``{"dtype": "object", "values": list node}``
``{"object": "lookalike.kde.KernelDensity",  an instance of an allow-listed class: its instance
``"attributes": {"dict": ...}}``          dictionary (hyper-parameters and fitted state)
========================================  ==================================================

Objects are rebuilt with ``object.__new__(cls)`` and their instance dictionary
is filled in: no ``__init__``, ``__setstate__`` or any other code named by the
file runs, and only the classes of :data:`ALLOWED_CLASSES` can be named. Lazy
caches (``KernelDensity``'s sorted training points and unit-bandwidth copy)
are not stored; they are rebuilt on load.

:func:`load` checks everything before it trusts it: the member names, each
member's declared size against ``max_bytes`` and its compression ratio, the
total size, the JSON nesting depth, each ``.npy`` header (dtype and shape, and
that the shape matches the member's size) before the array is built, CRCs,
and finally the restored objects (hyper-parameters, shapes and finiteness of
fitted state, ``check_is_fitted``). Any failure raises
:class:`~lookalike.exceptions.ModelFileError` with one line that names it.
"""

from __future__ import annotations

import datetime
import importlib
import io
import json
import math
import os
import re
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lookalike._io import atomic_path
from lookalike._version import __version__
from lookalike.exceptions import ModelFileError

__all__ = ["ALLOWED_CLASSES", "FORMAT", "FORMAT_VERSION", "load", "save"]

FORMAT = "lookalike-model"
FORMAT_VERSION = 1

#: The classes a model file may name, as dotted paths; nothing else is ever imported.
ALLOWED_CLASSES: tuple[str, ...] = (
    "lookalike.mixture.GaussianMixture",
    "lookalike.kde.KernelDensity",
    "lookalike.kde._Scaling",
    "lookalike.gaussian.Gaussian",
    "lookalike.reduced.ReducedDensity",
    "lookalike.classifier.GenerativeClassifier",
    "lookalike.model_selection.ModelSearch",
    "lookalike.tabular.synthesizer.Synthesizer",
    "lookalike.tabular.schema.ColumnSchema",
    "lookalike.tabular.transforms.TableEncoder",
    "lookalike.tabular.constraints.Bounds",
    "lookalike.tabular.constraints.Order",
    "lookalike.tabular.constraints.FixedSum",
    "sklearn.decomposition.PCA",
    "sklearn.decomposition.IncrementalPCA",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.QuantileTransformer",
    "sklearn.preprocessing.PowerTransformer",
)
# dotted path -> (module, attribute): the only imports load performs.
_CLASS_TABLE: dict[str, tuple[str, str]] = {
    dotted: (dotted.rpartition(".")[0], dotted.rpartition(".")[2]) for dotted in ALLOWED_CLASSES
}

# Attributes that are caches, rebuilt on load rather than stored.
_TRANSIENT: dict[str, frozenset[str]] = {
    "lookalike.kde.KernelDensity": frozenset({"_prepared", "_unit"}),
}

DEFAULT_MAX_BYTES = 4 * 1024**3
MAX_RATIO = 1000  # deflate tops out near 1032:1, reached by runs of zeros: a bomb's signature
_RATIO_FROM = 1024**2  # members smaller than this are too small to matter
_MAX_MEMBERS = 100_000
_MAX_MANIFEST = 256 * 1024**2
_MAX_JSON_DEPTH = 200
_MAX_NODE_DEPTH = 64
_MANIFEST = "manifest.json"
_ARRAY_MEMBER = re.compile(r"arrays/(0|[1-9][0-9]{0,8})\.npy")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARRAY_KINDS = frozenset("biufcmMUS")
_INLINE_SCALAR = re.compile(r"[<>|=]?(b1|[iuf][1248])")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_FRAME_TEXT_DTYPES = ("object", "str", "string")


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
        the scikit-learn transformers of :data:`ALLOWED_CLASSES`.
    path : str or path-like
        Where to write; ``.lookalike`` is the conventional suffix. The file is
        written to a temporary name in the same folder and renamed, so an
        existing file is replaced whole or not at all.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If the model holds something the format cannot store; the message
        names the attribute, e.g. ``GaussianMixture.foo_``.

    See Also
    --------
    load : read the file back.

    Notes
    -----
    The format is described in the module docstring of
    :mod:`lookalike.persistence`. Nothing is written when encoding fails.

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
    writer = _Writer()
    root = writer.encode(model, _root_name(model))
    dotted = _allowed_name(type(model))
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lookalike_version": __version__,
        "sklearn_version": _sklearn_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "class": dotted,
        "fitted": _is_fitted(model),
        "root": root,
    }
    text = json.dumps(manifest, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    target = Path(path)
    with (
        atomic_path(target) as temporary,
        zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        for name, array in writer.arrays:
            with archive.open(name, "w", force_zip64=True) as stream:
                np.save(stream, array, allow_pickle=False)
        archive.writestr(_MANIFEST, text.encode("utf-8"))
    return target


class _Writer:
    """Turns Python values into manifest nodes, collecting arrays on the side."""

    def __init__(self) -> None:
        self.arrays: list[tuple[str, np.ndarray]] = []
        self._active: set[int] = set()

    def add_array(self, array: np.ndarray) -> str:
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, array))
        return name

    def encode(self, value: Any, where: str) -> Any:
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return _encode_float(value)
        if isinstance(value, np.generic):
            return self._scalar(value, where)
        if type(value) is np.ndarray:
            return self._array(value, where)
        if isinstance(value, np.random.RandomState | np.random.Generator):
            return _encode_random_state(value, self, where)
        if type(value) in (list, tuple, dict) or _is_dataframe(value) or _is_object(value):
            if id(value) in self._active:
                raise TypeError(f"cannot save {where}: it contains itself")
            self._active.add(id(value))
            try:
                return self._container(value, where)
            finally:
                self._active.discard(id(value))
        raise _unsupported(where, value)

    def _container(self, value: Any, where: str) -> Any:
        if type(value) is list:
            return {"list": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is tuple:
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is dict:
            items = []
            for key, item in value.items():
                if not _hashable_key(key):
                    raise TypeError(
                        f"cannot save {where}: dict key {key!r} of type {type(key).__name__} "
                        "is not supported"
                    )
                items.append([self.encode(key, where), self.encode(item, f"{where}[{key!r}]")])
            return {"dict": items}
        if _is_dataframe(value):
            return self._dataframe(value, where)
        dotted = _allowed_name(type(value))
        if dotted is None:  # pragma: no cover - _is_object said it is allowed
            raise _unsupported(where, value)
        state = _instance_state(value)
        dropped = _TRANSIENT.get(dotted, frozenset())
        attributes = [
            [name, self.encode(item, f"{where}.{name}")]
            for name, item in state.items()
            if name not in dropped
        ]
        return {"object": dotted, "attributes": {"dict": attributes}}

    def _scalar(self, value: np.generic, where: str) -> Any:
        dtype = value.dtype
        if dtype.kind in "biuf" and dtype.itemsize <= 8:
            return {"scalar": dtype.str, "value": self.encode(value.item(), where)}
        if dtype.kind in _ARRAY_KINDS:
            return {"scalar_array": self.add_array(np.asarray(value))}
        raise _unsupported(where, value)

    def _array(self, value: np.ndarray, where: str) -> Any:
        dtype = value.dtype
        if dtype.kind == "O":
            flat = value.ravel(order="C").tolist()
            if all(type(item) is str for item in flat):
                return {"strings": flat, "shape": list(value.shape)}
            raise TypeError(
                f"cannot save {where}: numpy object arrays are supported only when every "
                "element is a str; convert it to a numeric or fixed-width str dtype"
            )
        if dtype.kind not in _ARRAY_KINDS or dtype.names is not None or dtype.subdtype:
            raise TypeError(f"cannot save {where}: numpy dtype {dtype} is not supported")
        if not (value.flags.c_contiguous or value.flags.f_contiguous):
            # Keep the memory order of strided views (e.g. rows of a Fortran matrix): BLAS
            # picks its kernel from the layout, and bit-identical results need the same one.
            value = value.copy(order="K")
        return {"array": self.add_array(value)}

    def _dataframe(self, frame: Any, where: str) -> Any:
        import pandas as pd

        index = frame.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            raise TypeError(
                f"cannot save {where}: only DataFrames with a default RangeIndex are "
                "supported (use reset_index(drop=True))"
            )
        if not frame.columns.is_unique:
            raise TypeError(f"cannot save {where}: its column names are not unique")
        columns = []
        for name in frame.columns:
            column = frame[name]
            inner = f"{where}[{name!r}]"
            dtype = column.dtype
            if isinstance(dtype, np.dtype) and dtype.kind != "O":
                values = self._array(column.to_numpy(copy=True), inner)
            elif str(dtype) in _FRAME_TEXT_DTYPES:
                values = self.encode(column.tolist(), inner)
            else:
                raise TypeError(f"cannot save {inner}: column dtype {dtype} is not supported")
            columns.append([self.encode(name, where), {"dtype": str(dtype), "values": values}])
        return {"dataframe": {"n_rows": len(frame), "columns": columns}}


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _encode_random_state(
    value: np.random.RandomState | np.random.Generator, writer: _Writer, where: str
) -> Any:
    if isinstance(value, np.random.RandomState):
        return {"random_state": "RandomState", "state": writer.encode(value.get_state(), where)}
    state = value.bit_generator.state
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise _unsupported(where, value.bit_generator)
    return {"random_state": "Generator", "state": writer.encode(state, where)}


def _hashable_key(key: Any) -> bool:
    if key is None or type(key) in (bool, int, str, float):
        return True
    if isinstance(key, np.generic):
        return key.dtype.kind in _ARRAY_KINDS
    return type(key) is tuple and all(_hashable_key(k) for k in key)


def _unsupported(where: str, value: Any) -> TypeError:
    kind = type(value)
    return TypeError(
        f"cannot save {where}: type {kind.__module__}.{kind.__qualname__} is not supported "
        "(model files hold numbers, strings, lists, tuples, dicts, numpy arrays and the "
        "classes of lookalike.persistence.ALLOWED_CLASSES)"
    )


def _is_dataframe(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.partition(".")[0] == "pandas"


def _is_object(value: Any) -> bool:
    return _allowed_name(type(value)) is not None


def _allowed_name(kind: type) -> str | None:
    """The allow-list's name of ``kind`` (``sklearn.decomposition.PCA``), or None."""
    module, name = kind.__module__, kind.__qualname__
    public = ".".join(part for part in module.split(".") if not part.startswith("_"))
    for dotted in (f"{module}.{name}", f"{public}.{name}"):
        if dotted in _CLASS_TABLE:
            module_name, attribute = _CLASS_TABLE[dotted]
            found = getattr(sys.modules.get(module_name), attribute, None)
            if found is kind:
                return dotted
    return None


def _root_name(model: Any) -> str:
    return type(model).__name__ if _is_object(model) else "model"


def _instance_state(value: Any) -> dict[str, Any]:
    if hasattr(value, "__dict__"):
        return dict(vars(value))
    if is_dataclass(value):
        return {field.name: getattr(value, field.name) for field in fields(value)}
    return {}  # pragma: no cover - every allowed class has a __dict__ or is a dataclass


def _is_fitted(model: Any) -> bool:
    """check_is_fitted for scikit-learn estimators; fitted attributes for other models."""
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        return hasattr(model, "fit") and _has_fitted_state(model)
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except (NotFittedError, TypeError):
        return False
    return True


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


# --------------------------------------------------------------------------------------
# Loading


def load(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read a model written by :func:`save`, without running any code from the file.

    Parameters
    ----------
    path : str or path-like
        The model file.
    max_bytes : int, default=4 GiB
        Largest total uncompressed size accepted (and so the most memory the
        arrays can take); checked on the declared sizes before anything is
        decompressed, and enforced while reading.

    Returns
    -------
    model : object
        The restored model, of the class named in the file.

    Raises
    ------
    ModelFileError
        If the file is not a lookalike model file, is truncated or corrupted
        (CRC), comes from a newer format, names a class outside
        :data:`ALLOWED_CLASSES`, has unexpected members, is larger than
        ``max_bytes`` or compressed suspiciously well, holds an array of object
        dtype or one whose header disagrees with its size, nests too deeply,
        or restores to an invalid estimator. The message is one line.
    FileNotFoundError
        If ``path`` does not exist.

    See Also
    --------
    save : write a model file.

    Notes
    -----
    Arrays are read from ``.npy`` members only after their header has been
    parsed (``numpy.lib.format``) and ``prod(shape) * itemsize`` found equal
    to the member's size; objects are created with ``object.__new__`` and
    their attributes assigned, so neither pickle nor any constructor runs.

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
    with open(target, "rb") as handle:
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
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise ModelFileError(
            "not a lookalike model file (not a zip archive; old pickle files cannot be "
            "loaded safely: refit the model and save it with lookalike.save)"
        ) from None
    with archive:
        members = _check_members(archive.infolist(), max_bytes)
        if _MANIFEST not in members:
            raise ModelFileError("not a lookalike model file (no manifest.json)")
        manifest = _read_manifest(archive, members[_MANIFEST])
        reader = _Reader(archive, members, max_bytes - members[_MANIFEST].file_size)
        model = reader.decode(manifest["root"], 0)
        _check_root(model, manifest)
        if reader.sklearn_objects and manifest.get("sklearn_version") != _sklearn_version():
            warnings.warn(
                f"The model file was written with scikit-learn {manifest.get('sklearn_version')}"
                f" and is read with {_sklearn_version()}; its scikit-learn transformers may "
                "behave differently.",
                UserWarning,
                stacklevel=3,
            )
        return model


def _check_members(infos: list[zipfile.ZipInfo], max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > _MAX_MEMBERS:
        raise ModelFileError(f"too many members ({len(infos)} > {_MAX_MEMBERS})")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if name != _MANIFEST and not _ARRAY_MEMBER.fullmatch(name):
            raise ModelFileError(
                f"unexpected member {name!r} (a model file holds only manifest.json and "
                "arrays/<n>.npy)"
            )
        if name in members:
            raise ModelFileError(f"duplicate member {name!r}")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"member {name!r} uses an unsupported compression method")
        size = info.file_size
        if size > max_bytes:
            raise ModelFileError(
                f"member {name!r} declares {size} bytes, more than max_bytes={max_bytes}"
            )
        if size > _RATIO_FROM and size > MAX_RATIO * max(info.compress_size, 1):
            raise ModelFileError(
                f"member {name!r} expands {size} bytes from {info.compress_size}: a "
                f"compression ratio above {MAX_RATIO} looks like a zip bomb"
            )
        total += size
        members[name] = info
    if total > max_bytes:
        raise ModelFileError(
            f"the members declare {total} bytes in all, more than max_bytes={max_bytes}"
        )
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes; never more than its declared size; CRC checked."""
    with archive.open(info) as stream:
        data = stream.read(info.file_size)
        extra = stream.read(1)  # reaching the end makes zipfile check the CRC
    if len(data) != info.file_size or extra:
        raise ModelFileError(f"member {info.filename!r} is truncated or corrupted")
    return data


def _read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    if info.file_size > _MAX_MANIFEST:
        raise ModelFileError(f"manifest.json is too large ({info.file_size} bytes)")
    try:
        text = _read_member(archive, info).decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("manifest.json is not UTF-8 text") from None
    depth = _json_depth(text)
    if depth > _MAX_JSON_DEPTH:
        raise ModelFileError(
            f"manifest.json nests {depth} levels deep (at most {_MAX_JSON_DEPTH})"
        )
    try:
        manifest = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except (ValueError, RecursionError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(f"manifest.json is not valid JSON ({detail})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"not a lookalike model file (manifest format is not {FORMAT!r})")
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"invalid format_version {version!r} in manifest.json")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"written by a newer lookalike (format {version}, this one reads "
            f"{FORMAT_VERSION}): upgrade lookalike"
        )
    if "root" not in manifest:
        raise ModelFileError("manifest.json has no 'root'")
    return manifest


def _json_depth(text: str) -> int:
    """Deepest nesting of JSON arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (non-finite floats are written as nodes)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return result


class _Reader:
    """Rebuilds Python values from manifest nodes, reading each array at most once."""

    def __init__(
        self, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], budget: int
    ) -> None:
        self.archive = archive
        self.members = members
        self.budget = budget
        self.used: set[str] = set()
        self.sklearn_objects = False

    def decode(self, node: Any, depth: int) -> Any:
        if depth > _MAX_NODE_DEPTH:
            raise ModelFileError(f"values nest more than {_MAX_NODE_DEPTH} levels deep")
        if node is None or type(node) in (bool, int, str, float):
            return node
        if type(node) is not dict or len(node) == 0:
            raise ModelFileError(f"invalid node of type {type(node).__name__}")
        kind = next(iter(node))
        handler = _DECODERS.get(kind)
        if handler is None:
            raise ModelFileError(f"unknown node {kind!r}")
        return handler(self, node, depth + 1)

    def items(self, node: Any, depth: int) -> list[Any]:
        if type(node) is not list:
            raise ModelFileError("a list node must hold a JSON array")
        return [self.decode(item, depth) for item in node]

    def read_array(self, name: Any) -> np.ndarray:
        if type(name) is not str or not _ARRAY_MEMBER.fullmatch(name):
            raise ModelFileError(f"invalid array reference {name!r}")
        if name not in self.members:
            raise ModelFileError(f"missing array member {name!r}")
        if name in self.used:
            raise ModelFileError(f"array member {name!r} is referenced twice")
        self.used.add(name)
        info = self.members[name]
        self.budget -= info.file_size
        if self.budget < 0:
            raise ModelFileError("the arrays exceed max_bytes")
        return _parse_npy(name, _read_member(self.archive, info))


def _parse_npy(name: str, data: bytes) -> np.ndarray:
    """Check the .npy header (dtype, shape against size) before building the array."""
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    version = npy.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = npy.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = npy.read_array_header_2_0(stream)
    else:
        raise ModelFileError(f"{name}: unsupported .npy version {version}")
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.names or dtype.subdtype:
        raise ModelFileError(f"{name}: dtype {dtype} is not allowed in a model file")
    if dtype.itemsize == 0:
        raise ModelFileError(f"{name}: dtype {dtype} has no size")
    count = math.prod(int(n) for n in shape)
    payload = len(data) - stream.tell()
    if count * dtype.itemsize != payload:
        raise ModelFileError(
            f"{name}: header declares shape {tuple(shape)} of {dtype} ({count * dtype.itemsize} "
            f"bytes) but the member holds {payload}"
        )
    stream.seek(0)
    array: np.ndarray = npy.read_array(stream, allow_pickle=False)
    return array


def _decode_float(reader: _Reader, node: dict[str, Any], depth: int) -> float:
    _expect_keys(node, {"float"})
    value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(node["float"])
    if value is None:
        raise ModelFileError(f"invalid float node {node['float']!r}")
    return value


def _decode_list(reader: _Reader, node: dict[str, Any], depth: int) -> list[Any]:
    _expect_keys(node, {"list"})
    return reader.items(node["list"], depth)


def _decode_tuple(reader: _Reader, node: dict[str, Any], depth: int) -> tuple[Any, ...]:
    _expect_keys(node, {"tuple"})
    return tuple(reader.items(node["tuple"], depth))


def _decode_dict(reader: _Reader, node: dict[str, Any], depth: int) -> dict[Any, Any]:
    _expect_keys(node, {"dict"})
    pairs = node["dict"]
    if type(pairs) is not list:
        raise ModelFileError("a dict node must hold a JSON array of pairs")
    result: dict[Any, Any] = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise ModelFileError("a dict node's entries must be [key, value] pairs")
        key = reader.decode(pair[0], depth)
        if not _hashable_key(key):
            raise ModelFileError(f"invalid dict key of type {type(key).__name__}")
        result[key] = reader.decode(pair[1], depth)
    return result


def _decode_array(reader: _Reader, node: dict[str, Any], depth: int) -> np.ndarray:
    _expect_keys(node, {"array"})
    return reader.read_array(node["array"])


def _decode_strings(reader: _Reader, node: dict[str, Any], depth: int) -> np.ndarray:
    _expect_keys(node, {"strings", "shape"})
    values, shape = node["strings"], node["shape"]
    if type(values) is not list or not all(type(v) is str for v in values):
        raise ModelFileError("a strings node must hold a list of strings")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise ModelFileError("a strings node's shape must be a list of non-negative ints")
    if len(shape) > 32 or math.prod(shape) != len(values):
        raise ModelFileError("a strings node's shape does not match its length")
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


def _decode_scalar(reader: _Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"scalar", "value"})
    code, value = node["scalar"], reader.decode(node["value"], depth)
    if type(code) is not str or not _INLINE_SCALAR.fullmatch(code):
        raise ModelFileError(f"invalid scalar dtype {code!r}")
    dtype = np.dtype(code)
    expected: tuple[type, ...] = {"b": (bool,), "f": (float, int)}.get(dtype.kind, (int,))
    if type(value) not in expected:
        raise ModelFileError(f"invalid {dtype} scalar value {value!r}")
    if dtype.kind in "iu" and not np.iinfo(dtype).min <= value <= np.iinfo(dtype).max:
        raise ModelFileError(f"value {value} is out of range for {dtype}")
    return np.asarray(value, dtype=dtype)[()]


def _decode_scalar_array(reader: _Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"scalar_array"})
    array = reader.read_array(node["scalar_array"])
    if array.ndim != 0:
        raise ModelFileError("a scalar_array node must reference a 0-d array")
    return array[()]


def _decode_random_state(reader: _Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"random_state", "state"})
    kind, state = node["random_state"], reader.decode(node["state"], depth)
    if kind == "RandomState":
        random_state = np.random.RandomState()
        random_state.set_state(state)
        return random_state
    if kind == "Generator" and type(state) is dict:
        name = state.get("bit_generator")
        if name not in _BIT_GENERATORS:
            raise ModelFileError(f"unknown bit generator {name!r}")
        bit_generator = getattr(np.random, name)()
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    raise ModelFileError(f"invalid random_state node {kind!r}")


def _decode_dataframe(reader: _Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"dataframe"})
    body = node["dataframe"]
    if type(body) is not dict or set(body) != {"n_rows", "columns"}:
        raise ModelFileError("a dataframe node needs 'n_rows' and 'columns'")
    n_rows, columns = body["n_rows"], body["columns"]
    if type(n_rows) is not int or n_rows < 0 or type(columns) is not list:
        raise ModelFileError("invalid dataframe node")
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is installed with the extras
        raise ModelFileError("this model holds a DataFrame: install pandas") from None
    data: dict[Any, Any] = {}
    for entry in columns:
        if type(entry) is not list or len(entry) != 2 or type(entry[1]) is not dict:
            raise ModelFileError("invalid dataframe column entry")
        name = reader.decode(entry[0], depth)
        column = entry[1]
        if set(column) != {"dtype", "values"} or not _hashable_key(name) or name in data:
            raise ModelFileError("invalid dataframe column entry")
        values = reader.decode(column["values"], depth)
        dtype = column["dtype"]
        if isinstance(values, np.ndarray) and values.ndim == 1 and str(values.dtype) == dtype:
            series = pd.Series(values, copy=False)
        elif type(values) is list and dtype in _FRAME_TEXT_DTYPES:
            series = pd.Series(values, dtype=dtype)
        else:
            raise ModelFileError(f"invalid values for dataframe column {name!r}")
        if len(series) != n_rows:
            raise ModelFileError(f"dataframe column {name!r} has the wrong length")
        data[name] = series
    frame = pd.DataFrame(data, index=pd.RangeIndex(n_rows))
    return frame


def _decode_object(reader: _Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"object", "attributes"})
    dotted = node["object"]
    if type(dotted) is not str:
        raise ModelFileError("an object node must name its class")
    kind = _allowed_class(dotted)
    attributes = reader.decode(node["attributes"], depth)
    if type(attributes) is not dict:
        raise ModelFileError(f"{dotted}: attributes must be a dict node")
    instance: Any = object.__new__(kind)
    slots = (
        {field.name for field in fields(kind)}
        if is_dataclass(kind) and not hasattr(instance, "__dict__")
        else None
    )
    for name, value in attributes.items():
        if type(name) is not str or not _ATTRIBUTE.fullmatch(name) or name.startswith("__"):
            raise ModelFileError(f"{dotted}: invalid attribute name {name!r}")
        if slots is None:
            instance.__dict__[name] = value
        elif name in slots:
            object.__setattr__(instance, name, value)
        else:
            raise ModelFileError(f"{dotted}: unknown field {name!r}")
    if dotted.startswith("sklearn."):
        reader.sklearn_objects = True
    _finish(instance, dotted)
    return instance


def _expect_keys(node: dict[str, Any], keys: set[str]) -> None:
    if set(node) != keys:
        raise ModelFileError(f"invalid node with keys {sorted(node)}")


_DECODERS: dict[str, Callable[[_Reader, dict[str, Any], int], Any]] = {
    "float": _decode_float,
    "list": _decode_list,
    "tuple": _decode_tuple,
    "dict": _decode_dict,
    "array": _decode_array,
    "strings": _decode_strings,
    "scalar": _decode_scalar,
    "scalar_array": _decode_scalar_array,
    "random_state": _decode_random_state,
    "dataframe": _decode_dataframe,
    "object": _decode_object,
}


def _allowed_class(dotted: str) -> type:
    entry = _CLASS_TABLE.get(dotted)
    if entry is None:
        raise ModelFileError(f"refusing to load {dotted!r}: not a lookalike model class")
    module_name, name = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ModelFileError(
            f"class {dotted!r} is not available in this installation (module {module_name!r} "
            "is missing): upgrade lookalike or install its extras"
        ) from None
    kind = getattr(module, name, None)
    if not isinstance(kind, type):
        raise ModelFileError(f"class {dotted!r} is not available in this installation")
    return kind


# --------------------------------------------------------------------------------------
# Checks of restored objects (the light validation after building)


def _finish(instance: Any, dotted: str) -> None:
    """Validate a freshly restored object and rebuild its caches."""
    if not _has_fitted_state(instance):
        return
    if dotted.startswith("lookalike."):
        module = importlib.import_module(_CLASS_TABLE[dotted][0])
        table = getattr(module, "_PARAMETERS", None)
        if isinstance(table, dict) and type(instance).__name__ in _PARAMETERISED:
            try:
                from lookalike._validation import validate_params

                validate_params(instance, table)
            except (AttributeError, ValueError, TypeError) as error:
                raise ModelFileError(f"invalid {type(instance).__name__}: {error}") from None
    elif hasattr(instance, "_validate_params"):
        try:
            instance._validate_params()
        except (AttributeError, ValueError, TypeError) as error:
            raise ModelFileError(f"invalid {type(instance).__name__}: {error}") from None
    check = _CHECKS.get(dotted)
    if check is not None:
        try:
            check(instance)
        except (AttributeError, KeyError, ValueError, TypeError) as error:
            message = " ".join(str(error).split())
            raise ModelFileError(f"invalid {type(instance).__name__}: {message}") from None


_PARAMETERISED = frozenset(
    {"GaussianMixture", "KernelDensity", "Gaussian", "GenerativeClassifier", "ModelSearch"}
)


def _has_fitted_state(instance: Any) -> bool:
    state = vars(instance) if hasattr(instance, "__dict__") else {}
    return any(name.endswith("_") and not name.startswith("__") for name in state)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _float_array(value: Any, name: str, shape: tuple[int, ...]) -> None:
    _require(
        isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.shape == shape,
        f"{name} must be a float array of shape {shape}",
    )
    _require(bool(np.all(np.isfinite(value))), f"{name} has NaN or infinite values")


def _check_mixture(model: Any) -> None:
    if "weights_" not in vars(model):
        return
    d = model.n_features_in_
    _require(type(d) is int and d > 0, "n_features_in_ must be a positive int")
    k = model.weights_.shape[0] if isinstance(model.weights_, np.ndarray) else -1
    _require(k >= 1, "weights_ must be a non-empty array")
    _float_array(model.weights_, "weights_", (k,))
    _float_array(model.means_, "means_", (k, d))
    shapes = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    shape = shapes[model.covariance_type]
    for name in ("covariances_", "precisions_cholesky_", "precisions_"):
        _float_array(getattr(model, name), name, shape)


def _check_kernel_density(model: Any) -> None:
    state = vars(model)
    if "_data" not in state:
        return
    data, weights, scaling = model._data, model._weights, model._scaling
    _require(
        isinstance(data, np.ndarray) and data.dtype == np.float64 and data.ndim == 2,
        "_data must be a 2-D float64 array",
    )
    n, d = data.shape
    _require(n >= 1 and d == model.n_features_in_, "_data does not match n_features_in_")
    _float_array(data, "_data", (n, d))
    if weights is not None:
        _float_array(weights, "_weights", (n,))
        _require(bool(np.all(weights >= 0)), "_weights must be non-negative")
    total = model._total_weight
    _require(type(total) is float and total > 0 and math.isfinite(total), "bad _total_weight")
    bandwidth = np.asarray(model.bandwidth_)
    _require(
        bandwidth.dtype.kind in "fi" and bool(np.all(np.isfinite(bandwidth))),
        "bandwidth_ must be finite",
    )
    from lookalike.kde import _Scaling

    _require(type(scaling) is _Scaling, "_scaling is missing")
    _float_array(scaling.centre, "_scaling.centre", (d,))
    _require(scaling.factor.ndim <= 2, "_scaling.factor has the wrong shape")
    model._prepared = None
    model._unit = scaling.to_unit(data) if model._euclidean else data


_CHECKS: dict[str, Callable[[Any], None]] = {
    "lookalike.mixture.GaussianMixture": _check_mixture,
    "lookalike.gaussian.Gaussian": _check_mixture,
    "lookalike.kde.KernelDensity": _check_kernel_density,
}


def _check_root(model: Any, manifest: dict[str, Any]) -> None:
    declared = manifest.get("class")
    actual = _allowed_name(type(model))
    if declared != actual:
        raise ModelFileError(f"the manifest names class {declared!r} but the root is {actual!r}")
    if manifest.get("fitted") is True and not _is_fitted(model):
        raise ModelFileError(f"the manifest says fitted but the {type(model).__name__} is not")
