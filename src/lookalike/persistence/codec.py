"""Values to manifest nodes and back: the format's codec and its allow-list of classes.

:class:`Writer` turns a Python value into a JSON node, collecting numpy arrays on
the side; :class:`Reader` rebuilds values from nodes, reading each array member at
most once. The node types are listed in :mod:`lookalike.persistence`. Objects are
rebuilt with ``object.__new__`` and their instance dictionary is filled in: no
``__init__``, ``__setstate__`` or any other code named by the file runs, only the
classes of :data:`ALLOWED_CLASSES` can be named, and each restored object is then
checked by its own class (:func:`restore_check`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from lookalike._restore import has_fitted_state
from lookalike.exceptions import ModelFileError
from lookalike.persistence.archive import (
    ARRAY_KINDS,
    ARRAY_MEMBER,
    MAX_MANIFEST_BYTES,
    read_array_member,
    read_member,
)

__all__ = ["ALLOWED_CLASSES", "FORMAT", "FORMAT_VERSION", "Reader", "Writer"]

FORMAT = "lookalike-model"
FORMAT_VERSION = 1
#: The units a pandas Timestamp may have.
_TIMESTAMP_UNITS = ("s", "ms", "us", "ns")

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
    "lookalike.tabular.encoder.TableEncoder",
    "lookalike.tabular.columns.base.ModelDim",
    "lookalike.tabular.columns.numeric.NumericCodec",
    "lookalike.tabular.columns.numeric.IntegerCodec",
    "lookalike.tabular.columns.datetime.DatetimeCodec",
    "lookalike.tabular.columns.categorical.CategoricalCodec",
    "lookalike.tabular.columns.categorical.BooleanCodec",
    "lookalike.tabular.columns.ids.IdCodec",
    "lookalike.tabular.constraints.Bounds",
    "lookalike.tabular.constraints.Order",
    "lookalike.tabular.constraints.FixedSum",
    "lookalike.tabular.models.trees.SequentialTrees",
    "lookalike.tabular.models._leaves.Leaves",
    "lookalike.tabular.models.cells.CellMixture",
    "lookalike.tabular.models.estimator.EstimatorModel",
    "lookalike.tabular.models.selection.Selection",
    "sklearn.decomposition.PCA",
    "sklearn.decomposition.IncrementalPCA",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.QuantileTransformer",
    "sklearn.preprocessing.PowerTransformer",
)
#: Classes that older versions wrote and this one cannot read (the old Synthesizer's parts).
RETIRED_CLASSES = ("lookalike.tabular.schema.ColumnSchema", "lookalike.tabular.transforms.")
# dotted path -> (module, attribute): the only imports load performs. The dotted names
# are those files carry; each package re-exports its classes (and lookalike.kde its
# _Scaling) from the module that defines them.
_CLASS_TABLE: dict[str, tuple[str, str]] = {
    dotted: (dotted.rpartition(".")[0], dotted.rpartition(".")[2]) for dotted in ALLOWED_CLASSES
}

_MAX_JSON_DEPTH = 200
_MAX_NODE_DEPTH = 64
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INLINE_SCALAR = re.compile(r"[<>|=]?(b1|[iuf][1248])")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_FRAME_TEXT_DTYPES = ("object", "str", "string")


# --------------------------------------------------------------------------------------
# Writing


class Writer:
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
        if _is_timestamp(value):
            return _encode_timestamp(value, where)
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
        dotted = allowed_name(type(value))
        if dotted is None:  # pragma: no cover - _is_object said it is allowed
            raise _unsupported(where, value)
        state = _instance_state(value)
        # A class names its caches, rebuilt on load rather than stored (the hook).
        dropped = frozenset(getattr(type(value), "_transient_state", ()))
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
        if dtype.kind in ARRAY_KINDS:
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
        if dtype.kind not in ARRAY_KINDS or dtype.names is not None or dtype.subdtype:
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
    value: np.random.RandomState | np.random.Generator, writer: Writer, where: str
) -> Any:
    if isinstance(value, np.random.RandomState):
        return {"random_state": "RandomState", "state": writer.encode(value.get_state(), where)}
    state = value.bit_generator.state
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise _unsupported(where, value.bit_generator)
    return {"random_state": "Generator", "state": writer.encode(state, where)}


def _is_timestamp(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "Timestamp" and kind.__module__.partition(".")[0] == "pandas"


def _encode_timestamp(value: Any, where: str) -> Any:
    """A pandas Timestamp: nanoseconds since the epoch (UTC), its unit and time zone."""
    zone = None if value.tz is None else str(value.tz)
    nanoseconds, unit = int(value.value), str(value.unit)
    if zone is not None and not _round_trips(nanoseconds, unit, zone, value):
        raise TypeError(
            f"cannot save {where}: time zone {zone!r} does not round-trip by name; "
            "convert the timestamps to a named zone (such as 'UTC' or 'Europe/Paris')"
        )
    return {"timestamp": nanoseconds, "unit": unit, "tz": zone}


def _round_trips(nanoseconds: int, unit: str, zone: str, value: Any) -> bool:
    try:
        return bool(_timestamp(nanoseconds, unit, zone) == value)
    except (ValueError, KeyError, TypeError):  # a zone pandas cannot find by that name
        return False


def _timestamp(nanoseconds: int, unit: str, zone: str | None) -> Any:
    import pandas as pd

    stamp = pd.Timestamp(nanoseconds, unit="ns")
    if zone is not None:
        stamp = stamp.tz_localize("UTC").tz_convert(zone)
    return stamp.as_unit(unit)


def _hashable_key(key: Any) -> bool:
    if key is None or type(key) in (bool, int, str, float):
        return True
    if isinstance(key, np.generic):
        return key.dtype.kind in ARRAY_KINDS
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
    return allowed_name(type(value)) is not None


def allowed_name(kind: type) -> str | None:
    """The allow-list's name of ``kind`` (``sklearn.decomposition.PCA``), or None.

    A class is named by where the allow-list finds it (``lookalike.mixture``
    re-exports ``GaussianMixture`` from ``lookalike.mixture.estimator``;
    ``lookalike.kde._Scaling`` is ``lookalike.kde.bandwidth.Scaling``), so
    files keep their names when a class moves inside its package.
    """
    for dotted, (module_name, attribute) in _CLASS_TABLE.items():
        if getattr(sys.modules.get(module_name), attribute, None) is kind:
            return dotted
    return None


def root_name(model: Any) -> str:
    return type(model).__name__ if _is_object(model) else "model"


def _instance_state(value: Any) -> dict[str, Any]:
    if hasattr(value, "__dict__"):
        return dict(vars(value))
    if is_dataclass(value):
        return {field.name: getattr(value, field.name) for field in fields(value)}
    return {}  # pragma: no cover - every allowed class has a __dict__ or is a dataclass


def is_fitted(model: Any) -> bool:
    """check_is_fitted for scikit-learn estimators; fitted attributes for other models."""
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        return hasattr(model, "fit") and has_fitted_state(model)
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except (NotFittedError, TypeError):
        return False
    return True


def sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


# --------------------------------------------------------------------------------------
# Reading


def read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    """The manifest's JSON object, after its checks (format, version, nesting depth)."""
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(f"manifest.json is too large ({info.file_size} bytes)")
    try:
        text = read_member(archive, info).decode("utf-8")
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


class Reader:
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
        if type(name) is not str or not ARRAY_MEMBER.fullmatch(name):
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
        return read_array_member(self.archive, info)


def _decode_float(reader: Reader, node: dict[str, Any], depth: int) -> float:
    _expect_keys(node, {"float"})
    value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(node["float"])
    if value is None:
        raise ModelFileError(f"invalid float node {node['float']!r}")
    return value


def _decode_list(reader: Reader, node: dict[str, Any], depth: int) -> list[Any]:
    _expect_keys(node, {"list"})
    return reader.items(node["list"], depth)


def _decode_tuple(reader: Reader, node: dict[str, Any], depth: int) -> tuple[Any, ...]:
    _expect_keys(node, {"tuple"})
    return tuple(reader.items(node["tuple"], depth))


def _decode_dict(reader: Reader, node: dict[str, Any], depth: int) -> dict[Any, Any]:
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


def _decode_array(reader: Reader, node: dict[str, Any], depth: int) -> np.ndarray:
    _expect_keys(node, {"array"})
    return reader.read_array(node["array"])


def _decode_strings(reader: Reader, node: dict[str, Any], depth: int) -> np.ndarray:
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


def _decode_scalar(reader: Reader, node: dict[str, Any], depth: int) -> Any:
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


def _decode_scalar_array(reader: Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"scalar_array"})
    array = reader.read_array(node["scalar_array"])
    if array.ndim != 0:
        raise ModelFileError("a scalar_array node must reference a 0-d array")
    return array[()]


def _decode_timestamp(reader: Reader, node: dict[str, Any], depth: int) -> Any:
    _expect_keys(node, {"timestamp", "unit", "tz"})
    nanoseconds, unit, zone = node["timestamp"], node["unit"], node["tz"]
    if type(nanoseconds) is not int or unit not in _TIMESTAMP_UNITS:
        raise ModelFileError("invalid timestamp node: an int of nanoseconds and a unit")
    if not (zone is None or type(zone) is str):
        raise ModelFileError("invalid timestamp node: tz must be null or a zone name")
    try:
        return _timestamp(nanoseconds, unit, zone)
    except (ValueError, OverflowError, KeyError, TypeError) as error:
        raise ModelFileError(f"invalid timestamp node: {error}") from None


def _decode_random_state(reader: Reader, node: dict[str, Any], depth: int) -> Any:
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


def _decode_dataframe(reader: Reader, node: dict[str, Any], depth: int) -> Any:
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


def _decode_object(reader: Reader, node: dict[str, Any], depth: int) -> Any:
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
    restore_check(instance)
    return instance


def _expect_keys(node: dict[str, Any], keys: set[str]) -> None:
    if set(node) != keys:
        raise ModelFileError(f"invalid node with keys {sorted(node)}")


_DECODERS: dict[str, Callable[[Reader, dict[str, Any], int], Any]] = {
    "float": _decode_float,
    "list": _decode_list,
    "tuple": _decode_tuple,
    "dict": _decode_dict,
    "array": _decode_array,
    "strings": _decode_strings,
    "scalar": _decode_scalar,
    "scalar_array": _decode_scalar_array,
    "random_state": _decode_random_state,
    "timestamp": _decode_timestamp,
    "dataframe": _decode_dataframe,
    "object": _decode_object,
}


def _allowed_class(dotted: str) -> type:
    entry = _CLASS_TABLE.get(dotted)
    if entry is None and dotted.startswith(RETIRED_CLASSES):
        raise ModelFileError(
            f"written by an older lookalike ({dotted!r} no longer exists): refit the model "
            "with this version and save it again"
        )
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


def check_root(model: Any, manifest: dict[str, Any]) -> None:
    declared = manifest.get("class")
    actual = allowed_name(type(model))
    if actual is None:
        raise ModelFileError(
            f"the root is a {type(model).__name__}, not a model (a model file holds one model)"
        )
    if declared != actual:
        raise ModelFileError(f"the manifest names class {declared!r} but the root is {actual!r}")
    if manifest.get("fitted") is True and not is_fitted(model):
        raise ModelFileError(f"the manifest says fitted but the {type(model).__name__} is not")


# --------------------------------------------------------------------------------------
# Checks of restored objects


def _default_new_parameters(instance: Any) -> None:
    """Give constructor parameters added after a file was written their defaults.

    A file holds the parameters its version had; a parameter introduced later
    (``GaussianMixture(on_collapse=...)``) is absent and takes the default the
    constructor documents, which is the behaviour the file was written with.
    """
    names = getattr(type(instance), "_get_param_names", None)
    if not callable(names):
        return
    state = vars(instance)
    signature = inspect.signature(type(instance).__init__)
    for name in names():
        parameter = signature.parameters.get(name)
        if (
            name not in state
            and parameter is not None
            and parameter.default is not parameter.empty
        ):
            state[name] = parameter.default


def restore_check(instance: Any) -> None:
    """Let a freshly restored object check its own state (and rebuild its caches).

    lookalike classes do it in their ``_restore_check`` method, which runs the
    validation a fitted model passes (hyper-parameters, shapes, finiteness,
    normalisation, positive definiteness...) and raises ValueError or
    TypeError naming the problem; persistence knows nothing of their insides.
    scikit-learn transformers get their parameter validation and a check that
    their fitted float arrays are finite.
    """
    _default_new_parameters(instance)
    try:
        hook = getattr(type(instance), "_restore_check", None)
        if callable(hook):
            instance._restore_check()
        elif type(instance).__module__.startswith("sklearn.") and has_fitted_state(instance):
            instance._validate_params()
            for name, value in vars(instance).items():
                if (
                    name.endswith("_")
                    and isinstance(value, np.ndarray)
                    and value.dtype.kind == "f"
                    and not np.all(np.isfinite(value))
                ):
                    raise ValueError(f"{name} has NaN or infinite values")
    except (AttributeError, KeyError, IndexError, ValueError, TypeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        raise ModelFileError(f"invalid {type(instance).__name__}: {message}") from None
