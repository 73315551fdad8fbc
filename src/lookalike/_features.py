"""Which features a user means: indices or names, and rows with NaN at the unknown ones.

Shared by every ``condition`` and ``marginal`` (:mod:`lookalike._conditional` for
the Gaussian models, :class:`lookalike.kde.KernelDensity`), so that they accept
the same inputs and fail with the same messages. Plain functions of the user's
input, the number of features and the fitted ``feature_names_in_`` (or ``None``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["feature_index", "feature_indices", "split_known"]


def feature_index(key: Any, n_features: int, feature_names: np.ndarray | None = None) -> int:
    """The column index of one feature, given by integer index or by name.

    ``key`` is an integer in ``[0, n_features)`` (NumPy integers too, ``bool``
    refused) or a ``str`` found in ``feature_names`` (the model's
    ``feature_names_in_``; ``None`` when it was fitted without names). Returns
    a Python ``int``; raises ``ValueError`` for an index out of range, a name
    without names, an unknown name, or a key of another type.
    """
    if isinstance(key, str):
        if feature_names is None:
            raise ValueError(
                f"Feature {key!r} is given by name, but the model was fitted without feature "
                "names: fit it on a DataFrame with string column names, or give column "
                "indices."
            )
        matches = np.flatnonzero(np.asarray(feature_names) == key)
        if matches.size == 0:
            raise ValueError(
                f"Unknown feature name {key!r}; the model's features are "
                f"{[str(name) for name in feature_names]!r}."
            )
        return int(matches[0])
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        if not 0 <= int(key) < n_features:
            raise ValueError(
                f"Feature index {int(key)} is out of range: the model has {n_features} "
                f"features (indices 0 to {n_features - 1})."
            )
        return int(key)
    raise ValueError(f"A feature is given by integer index or by name (str); got {key!r}.")


def feature_indices(
    features: Any, n_features: int, feature_names: np.ndarray | None = None
) -> np.ndarray:
    """Column indices of ``features``, in the order given, as an ``intp`` array of shape (k,).

    ``features`` is one key (``int`` or ``str``) or a sequence or array of
    keys, each read by :func:`feature_index`; an array of any shape is read in
    C order. Raises ``ValueError`` when it is empty, not a collection of keys,
    holds an invalid key, or names a feature twice (by index, name, or both).
    """
    if isinstance(features, str | bytes | numbers.Integral):
        items: list[Any] = [features]
    else:
        try:
            items = np.asarray(list(features), dtype=object).ravel().tolist()
        except (TypeError, ValueError):
            raise ValueError(
                f"features must be a feature index or name, or a sequence of them; got "
                f"{features!r}."
            ) from None
    if not items:
        raise ValueError("features is empty; give at least one feature index or name.")
    indices = np.array(
        [feature_index(item, n_features, feature_names) for item in items], dtype=np.intp
    )
    if np.unique(indices).size != indices.size:
        raise ValueError(f"features repeats a feature: {items!r}; give each feature only once.")
    return indices


def split_known(
    x: npt.ArrayLike | Mapping[Any, Any],
    n_features: int,
    feature_names: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The known features of ``x``, their values, and the unknown features.

    ``x`` is one row of shape (n_features,) or (1, n_features) with NaN at the
    unknown features, or a mapping ``{feature index or name: value}`` of the
    known ones (keys read by :func:`feature_index`, values finite real
    numbers). Returns ``(known, values, unknown)``: the known indices sorted
    (``intp``, shape (k,)), their values (``float64``, shape (k,)) and the
    other indices sorted (shape (n_features - k,)). Raises ``ValueError`` for a
    wrong shape, a non-numeric row, infinity, a non-finite or non-numeric
    value, a feature given twice, or when nothing is known or nothing unknown.
    """
    if isinstance(x, Mapping):
        row = np.full(n_features, np.nan)
        given: dict[int, Any] = {}
        for key, value in x.items():
            index = feature_index(key, n_features, feature_names)
            if index in given:
                raise ValueError(
                    f"Feature {key!r} is given twice in x (also as {given[index]!r}); give "
                    "each feature only once."
                )
            given[index] = key
            row[index] = _finite_value(key, value)
    else:
        try:
            row = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"x must be numeric (NaN at the unknown features): {error}") from None
        if row.shape not in ((n_features,), (1, n_features)):
            raise ValueError(
                f"x must be one row of {n_features} values, of shape ({n_features},) or "
                f"(1, {n_features}), with NaN at the unknown features, or a dict of the "
                f"known values; got shape {row.shape}."
            )
        row = row.reshape(n_features)
        if np.any(np.isinf(row)):
            raise ValueError(
                "x contains infinity; known values must be finite (mark unknown features "
                "with NaN)."
            )
    unknown_mask = np.isnan(row)
    known = np.flatnonzero(~unknown_mask)
    unknown = np.flatnonzero(unknown_mask)
    if known.size == 0:
        raise ValueError(
            "Nothing is known: condition needs at least one known feature, but x gives none "
            "(every value is NaN, or the dict is empty). Give the known values, or use "
            "marginal() for the density of a subset of the features."
        )
    if unknown.size == 0:
        raise ValueError(
            "Every feature is known, so nothing is left to model: condition needs at least "
            "one unknown feature (NaN in x, or left out of the dict)."
        )
    return known, row[known], unknown


def _finite_value(key: Any, value: Any) -> float:
    """The value of feature ``key`` in a dict of known values: a finite real number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise ValueError(
            f"The value given for feature {key!r} must be a finite number; got {value!r}. "
            "Leave unknown features out of the dict."
        )
    return float(value)
