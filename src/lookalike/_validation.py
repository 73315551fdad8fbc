"""Validation of hyper-parameters and inputs, shared by every estimator.

Estimators declare their hyper-parameters in a table (name -> constraint) and
call :func:`validate_params` at the start of ``fit``; ``__init__`` only stores
values, so ``sklearn.base.clone`` and ``set_params`` work as usual.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lookalike.exceptions import InvalidParameterError

RandomStateLike = None | int | np.random.RandomState | np.random.Generator


@dataclass(frozen=True)
class Interval:
    """A number in ``[low, high]`` (``None`` = unbounded); ``integer`` forbids floats."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    allow_none: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool):
            return False
        kind = numbers.Integral if self.integer else numbers.Real
        if not isinstance(value, kind):
            return False
        number = float(value)
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return False
        return not (self.high is not None and number > self.high)

    def describe(self) -> str:
        kind = "an int" if self.integer else "a float"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        opening = "(" if self.low_open or self.low is None else "["
        closing = ")" if self.high is None else "]"
        text = f"{kind} in the range {opening}{low}, {high}{closing}"
        return text + " or None" if self.allow_none else text


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (strings usually)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str | type(None) | bool) and value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Boolean:
    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool | np.bool_)

    def describe(self) -> str:
        return "a bool"


# Seeds numpy.random.RandomState accepts (and scikit-learn's random_state allows).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RandomState:
    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, np.random.RandomState | np.random.Generator):
            return True
        return _is_seed(value)

    def describe(self) -> str:
        return (
            f"None, an int in the range [0, {MAX_SEED}], a numpy.random.RandomState or "
            "a numpy.random.Generator"
        )


def _is_seed(value: Any) -> bool:
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and 0 <= int(value) <= MAX_SEED
    )


@dataclass(frozen=True)
class ArrayLikeOrNone:
    def accepts(self, value: Any) -> bool:
        return value is None or not isinstance(value, str | bytes | dict)

    def describe(self) -> str:
        return "an array-like or None"


@dataclass(frozen=True)
class DictOrNone:
    def accepts(self, value: Any) -> bool:
        return value is None or isinstance(value, dict)

    def describe(self) -> str:
        return "a dict or None"


@dataclass(frozen=True)
class CrossValidation:
    """``cv`` as scikit-learn's ``check_cv`` takes it: an int >= 2, a splitter or splits."""

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, numbers.Integral):
            return int(value) >= 2
        return value is not None and not isinstance(value, str | float)

    def describe(self) -> str:
        return "an int in the range [2, inf), a cross-validation splitter or an iterable of splits"


class Constraint(Protocol):
    """What a hyper-parameter table holds: a test of a value and its description."""

    def accepts(self, value: Any) -> bool: ...

    def describe(self) -> str: ...


def validate_params(estimator: Any, table: dict[str, Constraint]) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter out of its constraint."""
    for name, constraint in table.items():
        value = getattr(estimator, name)
        if not constraint.accepts(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be "
                f"{constraint.describe()}. Got {value!r} instead."
            )


def check_sample_weight(sample_weight: npt.ArrayLike | None, n_samples: int) -> np.ndarray | None:
    """Validate weights: shape (n_samples,), finite, non-negative, positive sum.

    Returns ``None`` when ``sample_weight`` is ``None`` (all ones), else a
    float64 array.
    """
    if sample_weight is None:
        return None
    check_not_complex(sample_weight, "sample_weight")
    if isinstance(sample_weight, numbers.Number):
        weights = np.full(n_samples, float(sample_weight))  # type: ignore[arg-type]
    else:
        weights = as_float_array(sample_weight, "sample_weight")
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected ({n_samples},)!")
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(weights < 0):
        raise ValueError("Negative values in data passed to `sample_weight`.")
    if not weights.sum() > 0:
        raise ValueError("Sample weights must sum to a positive number; all are zero.")
    return weights


# --------------------------------------------------------------------------------------
# Arrays: complex values are refused everywhere (as scikit-learn refuses them)


def _complex_error(name: str) -> ValueError:
    return ValueError(
        f"Complex data not supported: {name} holds complex numbers. Pass real values, "
        f"for instance the real part (np.real) or the modulus (np.abs) of {name}."
    )


def _is_complex_scalar(value: Any) -> bool:
    return isinstance(value, complex | np.complexfloating)


def _holds_complex(value: Any) -> bool:
    """Whether ``value`` (array, DataFrame, Series, nested list, scalar) holds complex numbers.

    Arrays and frames are judged by their dtypes; only object data (and lists,
    converted once) are scanned element by element.
    """
    if value is None or isinstance(value, str | bytes):
        return False
    if _is_complex_scalar(value):
        return True
    if is_dask_collection(value):  # judged by dtypes only: never computed here
        dtypes = getattr(value, "dtypes", None)
        kinds = [getattr(d, "kind", "") for d in ([] if dtypes is None else list(dtypes))]
        return getattr(getattr(value, "dtype", None), "kind", "") == "c" or "c" in kinds
    dtypes = getattr(value, "dtypes", None)
    if dtypes is not None and hasattr(value, "columns"):  # a DataFrame
        kinds = [getattr(dtype, "kind", "O") for dtype in dtypes]
        if "c" in kinds:
            return True
        return any(
            kind == "O" and _holds_complex(value.iloc[:, j].to_numpy())
            for j, kind in enumerate(kinds)
        )
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "c":
            return True
        if dtype.kind != "O":
            return False
        flat = np.asarray(value).ravel()
        return any(_is_complex_scalar(item) for item in flat.tolist())
    if getattr(dtype, "kind", None) == "c":  # pandas extension or dask dtypes
        return True
    if isinstance(value, list | tuple):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            return any(_holds_complex(item) for item in value)
        return _holds_complex(array)
    return False


def check_not_complex(value: Any, name: str = "X") -> None:
    """Raise ValueError ("Complex data not supported...") if ``value`` holds complex numbers."""
    if _holds_complex(value):
        raise _complex_error(name)


def check_none_complex(**values: Any) -> None:
    """:func:`check_not_complex` for each keyword (its name is the value's name)."""
    for name, value in values.items():
        check_not_complex(value, name)


def as_float_array(value: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    """``value`` as a ``dtype`` array; complex or non-numeric values raise ValueError.

    numpy would silently drop the imaginary part of complex values (with a
    ``ComplexWarning``); they are refused, like scikit-learn refuses them.
    """
    check_not_complex(value, name)
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric: {error}") from None


def as_finite_float_array(value: Any, name: str) -> np.ndarray:
    """:func:`as_float_array` whose values must also be finite (no NaN, no infinity)."""
    array = as_float_array(value, name)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return array


def validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn's ``validate_data`` with complex input refused first, in one line.

    Every estimator validates ``X`` (and ``y``) through this function, so
    complex numbers in an array, a DataFrame column, an object array or a
    nested list all get the same ``ValueError("Complex data not supported:
    ...")`` (scikit-learn itself raises TypeError for complex lists and object
    arrays, and prints the whole array otherwise).
    """
    from sklearn.utils.validation import validate_data as sklearn_validate_data

    named = dict(zip(("X", "y"), args, strict=False))
    named.update({key: kwargs[key] for key in ("X", "y") if key in kwargs})
    for name, value in named.items():
        if not (isinstance(value, str) and value == "no_validation"):
            check_not_complex(value, name)
    return sklearn_validate_data(estimator, *args, **kwargs)


# --------------------------------------------------------------------------------------
# Scale: values whose squares overflow (or whose spread underflows) float64


#: A feature whose values spread over less than this (but more than 0) has a variance
#: below 1e-300, where float64 loses precision and precisions overflow.
MIN_SPREAD = 1e-150


def check_scale(
    X: np.ndarray, name: str = "X", *, terms: int | None = None, min_spread: bool = False
) -> None:
    """Refuse data whose squares, summed over ``terms`` entries, would overflow float64.

    Densities are computed from squared (scaled) differences summed over rows
    and features: with ``m = max |x|``, the sums stay below the float64 maximum
    while ``16 m^2 terms < 1.8e308`` (``terms`` defaults to ``X.size``; the 16
    covers ``(x - y)^2 <= 4 m^2`` and a margin). With ``min_spread``, a feature
    spreading over less than :data:`MIN_SPREAD` (but not constant) is refused
    too: its variance underflows. NaN entries are ignored (and skip the spread check).

    Raises
    ------
    ValueError
        Naming the largest magnitude (or the features) and what to do: rescale.
    """
    if X.size == 0 or X.dtype.kind not in "fiu":
        return
    values = X[~np.isnan(X)] if X.dtype.kind == "f" and np.isnan(X).any() else X
    largest = float(max(abs(values.max()), abs(values.min()))) if values.size else 0.0
    count = max(int(X.size if terms is None else terms), 1)
    limit = math.sqrt(float(np.finfo(np.float64).max) / (16.0 * count))
    if largest > limit:
        raise ValueError(
            f"{name} has values up to {largest:.3g} in magnitude; squares of such values summed "
            f"over {count} entries overflow float64 (the limit here is {limit:.3g}). Rescale "
            "the data first: divide by a power of ten, take logarithms, or use "
            "sklearn.preprocessing.StandardScaler."
        )
    if min_spread and X.ndim == 2 and X.shape[0] > 1 and values is X:
        spread = X.max(axis=0) - X.min(axis=0)
        tiny = np.flatnonzero((spread > 0) & (spread < MIN_SPREAD))
        if tiny.size:
            raise ValueError(
                f"Feature(s) {tiny.tolist()} of {name} vary by less than {MIN_SPREAD:g} (down "
                f"to {float(spread[tiny].min()):.3g}): their variances underflow float64. "
                "Rescale the data first: multiply by a power of ten, or use "
                "sklearn.preprocessing.StandardScaler."
            )


def as_random_state(random_state: RandomStateLike) -> np.random.RandomState:
    """A legacy ``RandomState`` for scikit-learn helpers (KMeans, kmeans_plusplus).

    ``None``, ints and ``RandomState`` follow ``sklearn.utils.check_random_state``
    (so results equal scikit-learn's); a ``Generator`` seeds a new
    ``RandomState`` from its stream.
    """
    if isinstance(random_state, np.random.Generator):
        seed = random_state.integers(0, 2**32 - 1, dtype=np.uint64)
        return np.random.RandomState(int(seed))
    if random_state is None or random_state is np.random:
        return np.random.mtrand._rand
    if _is_seed(random_state):
        return np.random.RandomState(int(random_state))  # type: ignore[arg-type]
    if isinstance(random_state, np.random.RandomState):
        return random_state
    raise ValueError(
        f"{random_state!r} cannot be used to seed a numpy.random.RandomState instance: "
        f"use None, an int in the range [0, {MAX_SEED}], a numpy.random.RandomState or a "
        "numpy.random.Generator."
    )


def seed_sequence(random_state: Any) -> np.random.SeedSequence:
    """A ``SeedSequence`` whose children seed independent streams (chunks, partitions).

    A ``SeedSequence`` is used as it is; ``None`` draws fresh entropy; an int seeds it
    directly; a ``Generator`` gives one draw of its stream; anything else goes through
    :func:`as_random_state` and gives four draws of it (a ``RandomState``, or a
    ValueError naming what is accepted).
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63 - 1)))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.SeedSequence(int(random_state))
    rng = as_random_state(random_state)
    return np.random.SeedSequence([int(v) for v in rng.randint(0, 2**31 - 1, size=4)])


def check_array_shape(array: np.ndarray, expected: Iterable[int], name: str) -> None:
    """Raise ValueError unless ``array.shape == expected``."""
    expected = tuple(expected)
    if array.shape != expected:
        raise ValueError(
            f"The parameter {name!r} should have the shape of {expected}, but got {array.shape}"
        )


def is_dask_collection(value: Any) -> bool:
    """Whether ``value`` is a dask collection (array, DataFrame...), without importing dask."""
    graph = getattr(value, "__dask_graph__", None)
    return callable(graph) and not isinstance(value, type)


def is_partitioned(value: Any) -> bool:
    """Whether ``value`` is data visited partition by partition (dask or Chunks)."""
    from lookalike.chunks import Chunks

    return isinstance(value, Chunks) or is_dask_collection(value)


# --------------------------------------------------------------------------------------
# Sizes and magnitudes (sampling, fitting)


def physical_memory_bytes() -> int | None:
    """Total physical memory of this machine in bytes, or ``None`` if unknown."""

    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def _human_bytes(n_bytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} PiB"  # pragma: no cover - the loop returns


def check_n_samples(
    n_samples: Any,
    n_features: int,
    dtype: npt.DTypeLike = np.float64,
    *,
    minimum: int = 1,
    bytes_per_row: int = 0,
) -> int:
    """Validate the ``n_samples`` of a ``sample`` method; return it as an int.

    Refuses bools and non-integers (:class:`InvalidParameterError`, a
    ``ValueError`` and ``TypeError`` as scikit-learn's), values below
    ``minimum`` (``ValueError``) and sizes whose output, ``n_samples`` rows of
    ``n_features`` values of ``dtype`` plus ``bytes_per_row`` (labels...),
    cannot fit in this machine's memory (``ValueError`` saying how many bytes
    it would need and how to sample in pieces).
    """
    if isinstance(n_samples, bool | np.bool_) or not isinstance(n_samples, numbers.Integral):
        raise InvalidParameterError(
            f"The 'n_samples' parameter of sample must be an int in the range "
            f"[{minimum}, inf). Got {n_samples!r} instead."
        )
    count = int(n_samples)
    if count < minimum:
        kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        needs = ". The sampling requires at least one sample:" if minimum == 1 else ":"
        raise ValueError(f"Invalid value for 'n_samples': {count}{needs} it must be {kind}.")
    row_bytes = max(n_features, 1) * np.dtype(dtype).itemsize + bytes_per_row
    needed = count * row_bytes
    memory = physical_memory_bytes()
    too_many = count > np.iinfo(np.intp).max // max(row_bytes, 1)
    if too_many or (memory is not None and needed > memory):
        available = "" if memory is None else f", more than this machine's {_human_bytes(memory)}"
        raise ValueError(
            f"n_samples={count} rows of {n_features} {np.dtype(dtype).name} values would "
            f"need {needed:,} bytes ({_human_bytes(needed)}){available}. Draw them in "
            "pieces: call sample() repeatedly with a smaller n_samples, or use "
            "lookalike.distributed.sample(estimator, n_samples, chunk_rows=...) for a lazy "
            "dask array."
        )
    return count
