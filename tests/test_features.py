"""The shared parser of feature keys and known values (lookalike._features).

Oracles are by construction: indices written out by hand, names looked up with
``list.index``, and the row and dict forms of the same condition compared with
each other. Every error is checked for its type and for the words that name the
problem.
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from lookalike._features import feature_index, feature_indices, split_known

NAMES = np.array(["a", "b", "c", "d"], dtype=object)
D = len(NAMES)


# --------------------------------------------------------------------------------------
# feature_index


@pytest.mark.parametrize("key", [0, 3, np.int64(2), np.uint8(1)])
def test_index_by_integer(key):
    index = feature_index(key, D)
    assert index == int(key)
    assert type(index) is int


@pytest.mark.parametrize("name", list(NAMES))
def test_index_by_name_matches_list_lookup(name):
    assert feature_index(name, D, NAMES) == list(NAMES).index(name)
    # NumPy strings and a str-dtype names array work the same way.
    assert feature_index(np.str_(name), D, NAMES.astype(str)) == list(NAMES).index(name)


@pytest.mark.parametrize(
    ("key", "names", "message"),
    [
        (4, None, "Feature index 4 is out of range.*indices 0 to 3"),
        (-1, NAMES, "Feature index -1 is out of range"),
        ("a", None, "given by name.*fitted without feature names"),
        ("z", NAMES, r"Unknown feature name 'z'; the model's features are \['a', 'b'"),
        (True, None, "integer index or by name"),
        (1.0, None, "integer index or by name"),
        (None, NAMES, "integer index or by name"),
    ],
)
def test_index_errors(key, names, message):
    with pytest.raises(ValueError, match=message):
        feature_index(key, D, names)


# --------------------------------------------------------------------------------------
# feature_indices


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (2, [2]),
        ("c", [2]),
        ([3, 0], [3, 0]),
        (["d", "a"], [3, 0]),
        (["d", 1, "a"], [3, 1, 0]),
        ((1, 2), [1, 2]),
        (np.array([2, 0, 1]), [2, 0, 1]),
        (np.array([[2, 0]]), [2, 0]),
        (range(4), [0, 1, 2, 3]),
        ((key for key in ["b", "a"]), [1, 0]),
    ],
)
def test_indices_keep_the_given_order(features, expected):
    indices = feature_indices(features, D, NAMES)
    assert indices.dtype == np.intp
    assert_array_equal(indices, expected)


def test_indices_names_and_indices_agree():
    for size in range(1, D + 1):
        for chosen in itertools.permutations(range(D), size):
            names = [str(NAMES[i]) for i in chosen]
            assert_array_equal(feature_indices(names, D, NAMES), chosen)
            assert_array_equal(feature_indices(list(chosen), D, NAMES), chosen)


@pytest.mark.parametrize(
    ("features", "names", "message"),
    [
        ([], None, "features is empty; give at least one feature"),
        (np.array([], dtype=int), None, "features is empty"),
        ([0, 0], None, "repeats a feature.*only once"),
        (["a", 0], NAMES, "repeats a feature.*only once"),
        ([0, 5], None, "Feature index 5 is out of range"),
        (["a"], None, "fitted without feature names"),
        (["a", "nope"], NAMES, "Unknown feature name 'nope'"),
        ([True], None, "integer index or by name"),
        (True, None, "integer index or by name"),
        (1.5, None, "features must be a feature index or name, or a sequence"),
        (b"a", NAMES, "integer index or by name"),
    ],
)
def test_indices_errors(features, names, message):
    with pytest.raises(ValueError, match=message):
        feature_indices(features, D, names)


# --------------------------------------------------------------------------------------
# split_known


def test_row_split_matches_nan_mask():
    rng = np.random.default_rng(0)
    for mask in itertools.product([False, True], repeat=D):
        if all(mask) or not any(mask):
            continue
        row = rng.normal(size=D)
        row[list(mask)] = np.nan
        known, values, unknown = split_known(row, D)
        assert_array_equal(known, [i for i in range(D) if not mask[i]])
        assert_array_equal(unknown, [i for i in range(D) if mask[i]])
        assert_array_equal(values, row[known])
        assert known.dtype == np.intp and values.dtype == np.float64
        # The (1, d) form and a plain list give the same split.
        for same in (row[None, :], row.tolist()):
            for got, want in zip(split_known(same, D), (known, values, unknown), strict=True):
                assert_array_equal(got, want)


def test_dict_agrees_with_row_in_any_key_order_and_form():
    row = np.array([np.nan, 1.5, np.nan, -2.0])
    expected = split_known(row, D, NAMES)
    dicts = [
        {3: -2.0, 1: 1.5},
        {1: 1.5, 3: -2.0},
        {"d": -2.0, "b": 1.5},
        {np.int64(1): np.float32(1.5), "d": -2},
    ]
    for given in dicts:
        for got, want in zip(split_known(given, D, NAMES), expected, strict=True):
            assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("x", "names", "message"),
    [
        ([np.nan] * D, None, "Nothing is known.*at least one known feature"),
        ({}, None, "Nothing is known.*at least one known feature"),
        ([1.0] * D, None, "Every feature is known.*at least one unknown feature"),
        (dict.fromkeys(range(D), 0.0), None, "Every feature is known"),
        ([1.0, np.nan], None, r"one row of 4 values.*got shape \(2,\)"),
        (np.zeros((2, D)), None, r"one row of 4 values.*got shape \(2, 4\)"),
        (1.0, None, r"got shape \(\)"),
        (["x", 1.0, np.nan, 0.0], None, "x must be numeric"),
        ([np.inf, np.nan, 0.0, 0.0], None, "infinity.*finite"),
        ([-np.inf, np.nan, 0.0, 0.0], None, "infinity"),
        ({0: np.nan}, None, "feature 0 must be a finite number"),
        ({0: np.inf}, None, "feature 0 must be a finite number"),
        ({"a": "1.0"}, NAMES, "feature 'a' must be a finite number"),
        ({0: True}, None, "finite number"),
        ({0: 1.0 + 0j}, None, "finite number"),
        ({4: 1.0}, None, "out of range"),
        ({"a": 1.0}, None, "fitted without feature names"),
        ({"z": 1.0}, NAMES, "Unknown feature name 'z'"),
        ({"a": 1.0, 0: 2.0}, NAMES, "Feature 0 is given twice in x.*'a'"),
        ({1.0: 1.0}, None, "integer index or by name"),
    ],
)
def test_split_errors(x, names, message):
    with pytest.raises(ValueError, match=message):
        split_known(x, D, names)
