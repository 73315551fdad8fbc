"""Model files of the tabular Synthesizer: round trips of every family, hostile files.

The oracle of a round trip is the fitted Synthesizer itself: after ``load(save(s))``,
``sample`` (with and without ``where``) must return exactly the DataFrame ``s``
returns for the same seed, dtypes included, and ``summary()`` must be equal. The
table holds every column kind the codecs handle. Tampered files are built from a
saved one by editing its manifest or arrays; each must raise ModelFileError with a
one-line message naming the problem, never a traceback from inside sampling.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from lookalike.exceptions import ModelFileError
from lookalike.mixture import GaussianMixture
from lookalike.persistence import ALLOWED_CLASSES, load, save
from lookalike.reduced import ReducedDensity
from lookalike.tabular import Bounds, FixedSum, Order, Synthesizer
from lookalike.tabular.constraints import LowAcceptanceWarning
from lookalike.tabular.models._leaves import Leaves, node_arrays

DATA = Path(__file__).parent / "data"
N = 80
CONSTRAINTS = [Bounds("k", 0, 3), Order("when", "until"), FixedSum(["share_a", "share_b"], 0.7)]
WHERE = {
    "colour": "red",
    "flag": True,
    "when": ("2021-02-01", "2021-09-30"),
    "band": pd.Interval(5.0, 10.0),
}


def make_table(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Every column kind: numbers with atoms and NaN, integers, dates of every sort,
    durations, periods, categories (with missing values, ordered, intervals), booleans
    and id columns of each kind."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 400, n)
    x = rng.normal(10, 2, n).round(2)
    x[rng.random(n) < 0.2] = 0.0
    x[::7] = np.nan
    table = pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, n),
            "share_a": rng.uniform(0.2, 0.5, n).round(3),
            "share_b": rng.uniform(0.2, 0.5, n).round(3),
            "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(start, unit="D"),
            "until": pd.Timestamp("2021-01-01") + pd.to_timedelta(start + 30, unit="D"),
            "tz": pd.date_range("2022-03-20", periods=n, freq="7h", tz="Europe/Oslo"),
            "text_date": (
                pd.Timestamp("2020-05-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
            ).strftime("%Y-%m-%d %H:%M"),
            "wait": pd.to_timedelta(rng.integers(1, 600, n), unit="min"),
            "month": pd.period_range("2020-01", periods=n, freq="M")[rng.permutation(n)],
            "colour": rng.choice(["red", "green", "blue"], n),
            "size": pd.Categorical(
                rng.choice(["S", "M", "L"], n), categories=["S", "M", "L", "XL"], ordered=True
            ),
            "band": pd.cut(rng.uniform(0, 10, n), [0, 2.5, 5, 10]),
            "flag": rng.random(n) < 0.4,
            "user_id": [f"U{i:05d}" for i in range(n)],
            "token": [f"{v:08x}" for v in rng.permutation(10**6)[:n]],
            "row": np.arange(n),
        }
    )
    table.loc[::5, "colour"] = None
    return table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table()


_FITTED: dict[str, Synthesizer] = {}


def fitted(name: str, table: pd.DataFrame) -> Synthesizer:
    """A Synthesizer of family ``name`` fitted on ``table`` (once per module)."""
    if name not in _FITTED:
        model: Any = ReducedDensity(GaussianMixture(2)) if name == "reduced" else name
        ids = "regenerate" if name in ("trees", "gaussian", "reduced") else "drop"
        synthesizer = Synthesizer(model, constraints=CONSTRAINTS, ids=ids, random_state=0)
        _FITTED[name] = synthesizer.fit(table)
    return _FITTED[name]


def quietly(call: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowAcceptanceWarning)
        return call()


def assert_same_samples(synthesizer: Synthesizer, loaded: Synthesizer) -> None:
    for n, where, seed in ((30, None, 1), (12, WHERE, 2)):
        expected = quietly(lambda s=synthesizer, n=n, w=where, r=seed: s.sample(n, w, r))
        got = quietly(lambda s=loaded, n=n, w=where, r=seed: s.sample(n, w, r))
        assert len(expected) == n and list(expected.columns) == list(got.columns)
        pd.testing.assert_frame_equal(got, expected)
    assert loaded.summary() == synthesizer.summary()


# --------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("name", ["trees", "cells", "gaussian", "gmm", "kde", "reduced"])
def test_every_family_round_trips_with_every_column_kind(name, table, tmp_path):
    synthesizer = fitted(name, table)
    loaded = load(save(synthesizer, tmp_path / "s.lookalike"))
    assert type(loaded.model_) is type(synthesizer.model_)
    assert_same_samples(synthesizer, loaded)
    sample = quietly(lambda: loaded.sample(40, where=WHERE, random_state=3))
    assert set(sample["colour"]) == {"red"} and sample["flag"].all()
    assert set(sample["band"]) == {pd.Interval(5.0, 10.0)}
    # the kinds survive with their dtypes
    dropped = synthesizer.summary()["dropped_ids"]
    expected = table.drop(columns=dropped).dtypes
    pd.testing.assert_series_equal(sample.dtypes, expected)
    assert (sample["k"] <= 3).all() and (sample["when"] <= sample["until"]).all()
    np.testing.assert_allclose(sample["share_a"] + sample["share_b"], 0.7)


def test_auto_round_trips_with_its_selection(tmp_path):
    small = make_table(40, seed=1)[["x", "colour", "when", "flag"]]
    synthesizer = Synthesizer("auto", random_state=0).fit(small)
    loaded = load(save(synthesizer, tmp_path / "auto.lookalike"))
    assert loaded.selection_ == synthesizer.selection_
    for where in (None, {"colour": "blue"}):
        pd.testing.assert_frame_equal(
            loaded.sample(25, where=where, random_state=5),
            synthesizer.sample(25, where=where, random_state=5),
        )
    assert loaded.summary() == synthesizer.summary()
    assert loaded.summary()["selection"]["winner"] in ("trees", "cells", "gaussian")


def test_more_sorts_of_columns_round_trip(tmp_path):
    """Interval dtype, object booleans with None, tuple and mixed categories, nullable
    integers, dates before 1677 (datetime64[s]), a fixed-offset time zone, a year grain,
    float32."""
    rng = np.random.default_rng(2)
    n = 60
    table = pd.DataFrame(
        {
            "span": pd.arrays.IntervalArray.from_breaks([0, 1, 2, 3])[rng.integers(0, 3, n)],
            "maybe": pd.Series(rng.choice([True, False, None], n), dtype=object),
            "pair": pd.Series([("a", 1) if v else ("b", 2) for v in rng.random(n) < 0.5]),
            "mixed": pd.Series([("x", 1, 2.5)[i] for i in rng.integers(0, 3, n)], dtype=object),
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "old": np.datetime64("1500-01-01", "s") + np.arange(n).astype("timedelta64[D]"),
            "offset": pd.date_range(
                "2020-01-01", periods=n, freq="h", tz=dt.timezone(dt.timedelta(hours=2))
            ),
            "year": pd.date_range("2000-01-01", periods=n, freq="YS"),
            "small": rng.normal(size=n).astype(np.float32),
        }
    )
    table.loc[::6, "count"] = pd.NA
    table.loc[::7, "old"] = pd.NaT
    kinds = {"pair": "categorical", "mixed": "categorical"}
    synthesizer = Synthesizer("cells", kinds=kinds, random_state=0).fit(table)
    loaded = load(save(synthesizer, tmp_path / "s.lookalike"))
    for where in (None, {"span": pd.Interval(1, 2), "mixed": 2.5, "year": (None, "2030-01-01")}):
        expected = synthesizer.sample(20, where=where, random_state=1)
        pd.testing.assert_frame_equal(loaded.sample(20, where=where, random_state=1), expected)
    assert set(expected["span"]) == {pd.Interval(1, 2)} and set(expected["mixed"]) == {2.5}
    assert loaded.summary() == synthesizer.summary()


def test_categories_that_are_dates_round_trip(tmp_path):
    """Categorical columns of Timestamps (naive, a named zone, a fixed offset) and of
    date intervals: their categories are saved as timestamp nodes."""
    rng = np.random.default_rng(3)
    n = 60
    stamps = pd.to_datetime(["2024-01-01 00:00", "2024-02-01 12:30", "2024-03-01 00:00"])
    pick = rng.integers(0, 3, n)
    table = pd.DataFrame(
        {
            "day": pd.Categorical(stamps[pick]),
            "paris": pd.Categorical(stamps.tz_localize("Europe/Paris")[pick]),
            "offset": pd.Categorical(stamps.tz_localize(dt.timezone(dt.timedelta(hours=2)))[pick]),
            "week": pd.Categorical(
                pd.interval_range(pd.Timestamp("2024-01-01"), periods=3, freq="7D")[pick]
            ),
            "x": rng.normal(size=n),
        }
    )
    synthesizer = Synthesizer("gaussian", random_state=0).fit(table)
    loaded = load(save(synthesizer, tmp_path / "s.lookalike"))
    where = {"paris": stamps.tz_localize("Europe/Paris")[1]}
    for given in (None, where):
        expected = synthesizer.sample(20, where=given, random_state=1)
        pd.testing.assert_frame_equal(loaded.sample(20, where=given, random_state=1), expected)
    assert set(expected["paris"]) == {where["paris"]}
    for column in ("day", "paris", "offset", "week"):
        assert loaded.sample(5, random_state=2)[column].dtype == table[column].dtype


def test_a_zone_without_a_name_to_find_it_by_is_refused_at_save(tmp_path):
    zone = dt.timezone(dt.timedelta(hours=2), "CEST")  # "CEST" is no zone name pandas knows
    days = pd.date_range("2024-01-01", periods=3, tz=zone)
    table = pd.DataFrame({"day": pd.Categorical(list(days) * 10), "x": np.arange(30.0)})
    synthesizer = Synthesizer("gaussian", random_state=0).fit(table)
    with pytest.raises(TypeError, match="time zone 'CEST' does not round-trip by name"):
        save(synthesizer, tmp_path / "s.lookalike")
    assert not (tmp_path / "s.lookalike").exists()


def test_tampered_timestamps_are_refused(tmp_path):
    table = pd.DataFrame(
        {"day": pd.Categorical(pd.to_datetime(["2024-01-01", "2024-02-01"] * 20)), "x": 1.0}
    )
    table["x"] = np.arange(40.0)
    path = save(Synthesizer("gaussian", random_state=0).fit(table), tmp_path / "s.lookalike")

    def first_stamp(e: Edit) -> dict[str, Any]:
        return e.node("categories")["list"][0]

    for change, match in (
        (lambda node: node.update(unit="days"), "an int of nanoseconds and a unit"),
        (lambda node: node.update(timestamp="2024"), "an int of nanoseconds and a unit"),
        (lambda node: node.update(tz="Nowhere/Atlantis"), "invalid timestamp node"),
        (lambda node: node.update(tz=3), "tz must be null or a zone name"),
        (lambda node: node.update(timestamp=2**70), "invalid timestamp node"),
    ):
        edited = tampered(path, CATEGORICAL, lambda e, c=change: c(first_stamp(e)))
        refused(edited, match)


def test_unfitted_synthesizer_and_later_fit(table, tmp_path):
    synthesizer = Synthesizer("cells", constraints=CONSTRAINTS, kinds={"k": "integer"})
    loaded = load(save(synthesizer, tmp_path / "s.lookalike"))
    assert repr(loaded) == repr(synthesizer)
    a = synthesizer.set_params(random_state=4).fit(table)
    b = loaded.set_params(random_state=4).fit(table)
    pd.testing.assert_frame_equal(
        quietly(lambda: b.sample(10, random_state=0)),
        quietly(lambda: a.sample(10, random_state=0)),
    )


def test_a_generator_random_state_round_trips(table, tmp_path):
    synthesizer = Synthesizer("trees", random_state=np.random.default_rng(8)).fit(table)
    loaded = load(save(synthesizer, tmp_path / "s.lookalike"))
    # random_state=None draws from the stored Generator, which continues where it was
    pd.testing.assert_frame_equal(loaded.sample(15), synthesizer.sample(15))


def test_many_text_ids_go_to_an_array_not_the_manifest(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    ids = [f"{v:032x}" for v in rng.integers(0, 2**62, n)]
    table = pd.DataFrame({"key": ids, "x": rng.normal(size=n)})
    synthesizer = Synthesizer("gaussian", ids="regenerate", random_state=0).fit(table)
    path = save(synthesizer, tmp_path / "s.lookalike")
    with zipfile.ZipFile(path) as archive:
        assert ids[0] not in archive.read("manifest.json").decode()
    loaded = load(path)
    pd.testing.assert_frame_equal(
        loaded.sample(20, random_state=1), synthesizer.sample(20, random_state=1)
    )
    assert not set(loaded.sample(50)["key"]) & set(ids)


# --------------------------------------------------------------------------------------
# Trees as node arrays


@pytest.mark.parametrize("kind", [DecisionTreeRegressor, DecisionTreeClassifier])
def test_node_walk_finds_scikit_learns_leaves(kind):
    """The numpy walk of the node arrays against scikit-learn's own ``apply``."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((600, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.15] = np.nan
    y = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 2]) > 0
    tree = kind(min_samples_leaf=5, random_state=0).fit(
        X, y.astype(np.float64 if kind is DecisionTreeRegressor else int)
    )
    arrays = node_arrays(tree)
    numbers = np.arange(tree.tree_.node_count)
    step = Leaves(
        0,
        4,
        **arrays,
        leaf_of_node=numbers,
        offsets=np.zeros(2, np.int64),
        values=np.zeros(0),
        bandwidth=np.zeros(0),
        indicator=None,
    )
    fresh = rng.standard_normal((5000, 6)).astype(np.float32)  # extra columns are ignored
    fresh[rng.random(fresh.shape) < 0.2] = np.nan
    fresh[:50, :4] = X[:50]  # training rows
    inner = np.flatnonzero(arrays["left"] >= 0)
    for row, node in enumerate(rng.choice(inner, 200), start=50):  # features at thresholds
        fresh[row, arrays["feature"][node]] = np.float32(arrays["threshold"][node])
    np.testing.assert_array_equal(step.leaves(fresh), tree.apply(fresh[:, :4]))
    assert step.leaves(fresh[:0]).shape == (0,)


def test_fitted_trees_hold_no_scikit_learn_object(table):
    model = fitted("trees", table).model_

    def objects(value: Any) -> Iterator[Any]:
        yield value
        if isinstance(value, list | tuple):
            for item in value:
                yield from objects(item)
        elif hasattr(value, "__dict__"):
            for item in vars(value).values():
                yield from objects(item)

    modules = {type(v).__module__.split(".")[0] for v in objects(model)}
    assert "sklearn" not in modules
    assert any(step.left.size > 1 for step in model.steps_)  # real trees, not only leaves


# --------------------------------------------------------------------------------------
# Tampered files


class Edit:
    """One object node of a saved file: read and replace its attributes and arrays."""

    def __init__(self, pairs: list[list[Any]], members: dict[str, bytes]) -> None:
        self.pairs = {pair[0]: pair for pair in pairs}
        self.members = members

    def node(self, name: str) -> Any:
        return self.pairs[name][1]

    def set(self, name: str, node: Any) -> None:
        self.pairs[name][1] = node

    def array(self, name: str) -> np.ndarray:
        return np.load(io.BytesIO(self.members[self.node(name)["array"]]))

    def set_array(self, name: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.members[self.node(name)["array"]] = buffer.getvalue()


def _objects(node: Any, dotted: str) -> Iterator[list[list[Any]]]:
    """The attribute pairs of every object node of class ``dotted``, depth first."""
    if isinstance(node, dict):
        if node.get("object") == dotted:
            yield node["attributes"]["dict"]
        for value in node.values():
            yield from _objects(value, dotted)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value, dotted)


@pytest.fixture(scope="module")
def saved(table, tmp_path_factory) -> Callable[[str], Path]:
    folder = tmp_path_factory.mktemp("saved")
    return lambda name: save(fitted(name, table), folder / f"{name}.lookalike")


def tampered(source: Path, dotted: str, edit: Callable[[Edit], None], which: int = 0) -> Path:
    """A copy of ``source`` whose ``which``-th object of class ``dotted`` went through ``edit``."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    pairs = list(_objects(manifest["root"], dotted))[which]
    edit(Edit(pairs, members))
    members["manifest.json"] = json.dumps(manifest).encode()
    path = source.with_name(f"tampered-{source.name}")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def refused(path: Path, match: str) -> None:
    with pytest.raises(ModelFileError, match=match) as caught:
        load(path)
    assert "\n" not in str(caught.value)


CODECS = "lookalike.tabular.columns."
NUMERIC = CODECS + "numeric.NumericCodec"
CATEGORICAL = CODECS + "categorical.CategoricalCodec"
DATETIME = CODECS + "datetime.DatetimeCodec"
DIM = CODECS + "base.ModelDim"


def _reverse(name: str) -> Callable[[Edit], None]:
    return lambda e: e.set_array(name, e.array(name)[::-1].copy())


def _nan_at(name: str, index: int) -> Callable[[Edit], None]:
    def edit(e: Edit) -> None:
        array = e.array(name)
        array[index] = np.nan
        e.set_array(name, array)

    return edit


CODEC_CASES = [
    (NUMERIC, _nan_at("positions", 3), "column 'x': marginal positions has NaN"),
    (NUMERIC, _nan_at("upper", 0), "column 'x': marginal upper has NaN"),
    (NUMERIC, _reverse("positions"), r"positions \(knots and atoms\) must strictly increase"),
    (NUMERIC, lambda e: e.set_array("lower", e.array("lower")[:-1]), "one equal, non-zero length"),
    (NUMERIC, _reverse("upper"), r"probabilities \(lower, upper\) must increase"),
    (NUMERIC, lambda e: e.set("low", 5.0), "positions leave the observed range"),
    (NUMERIC, lambda e: e.set("decimals", 40), "decimals must be None or an int"),
    (NUMERIC, lambda e: e.set("dtype", "no-such-dtype"), "unknown dtype 'no-such-dtype'"),
    (NUMERIC, lambda e: e.set("missing_rate", 1.5), r"missing_rate must be a float in \[0, 1\)"),
    (
        CATEGORICAL,
        lambda e: e.set_array("probabilities", e.array("probabilities")[:-1]),
        "column 'colour': 3 probabilities for 4 levels",
    ),
    (
        CATEGORICAL,
        lambda e: e.set("levels", {"list": ["red", "red", "blue"]}),
        "levels must be distinct",
    ),
    (
        CATEGORICAL,
        lambda e: e.set("categories", {"list": ["red", "green", "mauve"]}),
        "categories and levels disagree",
    ),
    (
        CATEGORICAL,
        lambda e: e.set_array("probabilities", e.array("probabilities") * 2),
        "probabilities must be >= 0 and sum to 1",
    ),
    (DATETIME, lambda e: e.set("grain", "fortnight"), "unknown grain 'fortnight'"),
    (DATETIME, lambda e: e.set("timezone", "Mars/Olympus_Mons"), "unknown time zone"),
    (DATETIME, lambda e: e.set("high", 1e300), "out of the range of dates"),
    (DIM, lambda e: e.set("role", "bogus"), "unknown role 'bogus'"),
    (DIM, lambda e: e.set("levels", -1), "levels must be an int >= 0"),
]


@pytest.mark.parametrize(("dotted", "edit", "match"), CODEC_CASES, ids=lambda v: str(v)[:24])
def test_tampered_codecs_are_refused(saved, dotted, edit, match):
    refused(tampered(saved("cells"), dotted, edit), match)


def test_tampered_model_dimensions_are_refused(saved):
    path = saved("cells")

    def colour_dim(e: Edit) -> bool:
        return e.node("column") == "colour"

    def swap_cuts(e: Edit) -> None:
        cuts = e.node("cuts")["tuple"]
        cuts[0], cuts[1] = cuts[1], cuts[0]

    def find(dotted: str, test: Callable[[Edit], bool]) -> int:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("manifest.json"))
        found = [i for i, p in enumerate(_objects(manifest["root"], dotted)) if test(Edit(p, {}))]
        return found[0]

    which = find(DIM, colour_dim)
    refused(
        tampered(path, DIM, swap_cuts, which),
        "column 'colour': cuts must be finite and increasing",
    )

    # a level more than its codec has: the layout disagrees with the codecs
    def one_more_level(e: Edit) -> None:
        e.set("levels", e.node("levels") + 1)
        e.node("cuts")["tuple"].append(9.0)

    refused(tampered(path, DIM, one_more_level, which), "invalid TableEncoder: dims disagree")


LEAVES = "lookalike.tabular.models._leaves.Leaves"


def _first_split(edit: Callable[[Edit, int], None]) -> Callable[[Edit], None]:
    def run(e: Edit) -> None:
        left = e.array("left")
        edit(e, int(np.flatnonzero(left >= 0)[0]))

    return run


def _set_entry(name: str, value: Any) -> Callable[[Edit, int], None]:
    def edit(e: Edit, node: int) -> None:
        array = e.array(name)
        array[node] = value
        e.set_array(name, array)

    return edit


TREE_CASES = [
    (_first_split(_set_entry("left", 0)), "children must be nodes numbered after their parent"),
    (_first_split(_set_entry("feature", 99)), "split features must be earlier dimensions"),
    (_first_split(_set_entry("threshold", np.nan)), "a split threshold is NaN"),
    (lambda e: e.set_array("values", e.array("values")[:-1]), r"values must have shape"),
    (lambda e: e.set_array("offsets", e.array("offsets")[::-1].copy()), "offsets must start at 0"),
    (
        lambda e: e.set_array("missing_left", e.array("missing_left").astype(np.int64)),
        "missing_left must be a bool array",
    ),
]


@pytest.mark.parametrize(("edit", "match"), TREE_CASES, ids=lambda v: str(v)[:30])
def test_tampered_trees_are_refused(saved, table, edit, match):
    steps = fitted("trees", table).model_.steps_
    which = next(k for k, step in enumerate(steps) if step.left.size > 1)
    refused(tampered(saved("trees"), LEAVES, edit, which), match)


def test_tampered_joint_models_are_refused(saved, table):
    trees = "lookalike.tabular.models.trees.SequentialTrees"
    steps = fitted("trees", table).model_.steps_
    discrete = next(
        k for k, s in enumerate(steps) if fitted("trees", table).model_.dims_[s.dim].discrete
    )

    def codes_past_the_levels(e: Edit) -> None:
        e.set_array("values", e.array("values") + 50)

    refused(
        tampered(saved("trees"), LEAVES, codes_past_the_levels, discrete), "holds codes outside"
    )

    def swap_two_steps(e: Edit) -> None:
        steps = e.node("steps_")["list"]
        steps[0], steps[1] = steps[1], steps[0]

    refused(tampered(saved("trees"), trees, swap_two_steps), r"steps_\[0\] does not model")

    def shuffled_visit(e: Edit) -> None:
        e.set_array("visit_", e.array("visit_")[::-1].copy())

    refused(tampered(saved("trees"), trees, shuffled_visit), "visit_ is not the visit order")

    # dimensions that pass the model's own checks but are not the encoder's
    def shifted_cut(e: Edit) -> None:
        if e.node("levels") > 2:
            e.node("cuts")["tuple"][0] -= 1e-3

    model_dims = tampered(saved("trees"), trees, lambda e: _each_dim(e, shifted_cut))
    refused(model_dims, "invalid Synthesizer: the model's dimensions disagree with the encoder's")
    cells = "lookalike.tabular.models.cells.CellMixture"

    rows = fitted("cells", table).model_.rows_
    complete = np.flatnonzero(
        ~fitted("cells", table).model_.discrete_ & ~np.isnan(rows).any(axis=0)
    )

    def continuous_as_discrete(e: Edit) -> None:
        flags = e.array("discrete_")
        flags[complete[0]] = True
        e.set_array("discrete_", flags)

    refused(
        tampered(saved("cells"), cells, continuous_as_discrete),
        "invalid Synthesizer: the model's dimensions disagree with the encoder's",
    )
    refused(
        tampered(
            saved("cells"),
            cells,
            lambda e: e.set_array("cell_starts_", e.array("cell_starts_")[:-1]),
        ),
        "cell_starts_ must increase",
    )
    estimator = "lookalike.tabular.models.estimator.EstimatorModel"
    refused(
        tampered(saved("gaussian"), estimator, _nan_at("calibration_", 0)),
        "calibration_ has NaN",
    )
    refused(
        tampered(saved("gaussian"), estimator, lambda e: e.set("n_dims_", 3)),
        "estimator_ must be a fitted density on 3 dimensions",
    )
    refused(
        tampered(
            saved("gaussian"),
            estimator,
            lambda e: e.set_array("level_maps_", e.array("level_maps_")[..., ::-1].copy()),
        ),
        "level_maps_ must be finite and strictly increasing",
    )
    refused(
        tampered(
            saved("gaussian"),
            estimator,
            lambda e: e.set_array("level_maps_", e.array("level_maps_")[:1].copy()),
        ),
        "level_maps_ must hold one map per level",
    )


def _each_dim(e: Edit, edit: Callable[[Edit], None]) -> None:
    for node in e.node("dims_")["list"]:
        edit(Edit(node["attributes"]["dict"], e.members))


SYNTHESIZER = "lookalike.tabular.synthesizer.Synthesizer"


def test_tampered_synthesizer_is_refused(saved):
    path = saved("gaussian")

    def unknown_kind(e: Edit) -> None:
        e.set("kinds", {"dict": [["x", "bogus"]]})

    refused(tampered(path, SYNTHESIZER, unknown_kind), "kinds\\['x'\\]: unknown kind 'bogus'")
    refused(
        tampered(path, SYNTHESIZER, lambda e: e.set("columns_", {"list": ["x"]})),
        "columns_ are not the encoder's columns",
    )
    refused(
        tampered(
            path,
            SYNTHESIZER,
            lambda e: e.set_array("unique_rows_", e.array("unique_rows_")[::-1].copy()),
        ),
        "unique_rows_ must be sorted, distinct uint64 fingerprints",
    )
    refused(
        tampered(path, "lookalike.tabular.constraints.Bounds", lambda e: e.set("column", "nope")),
        "unknown column 'nope' in constraints",
    )
    refused(
        tampered(
            path,
            "lookalike.tabular.constraints.FixedSum",
            lambda e: e.set("columns", {"list": []}),
        ),
        "FixedSum: columns must be a non-empty list",
    )
    refused(
        tampered(path, CODECS + "ids.IdCodec", lambda e: e.set("observed", {"list": ["a"]})),
        "observed must be a 1-D array of str",
    )


def test_a_file_from_before_per_level_maps_loads_and_samples(saved, table, tmp_path):
    # Files written before the per-level maps hold no level_maps_: their mixture was
    # fitted to the scores themselves, as if every map were the identity.
    with zipfile.ZipFile(saved("gaussian")) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    pairs = next(_objects(manifest["root"], "lookalike.tabular.models.estimator.EstimatorModel"))
    assert any(pair[0] == "level_maps_" for pair in pairs)
    pairs[:] = [pair for pair in pairs if pair[0] != "level_maps_"]
    members["manifest.json"] = json.dumps(manifest).encode()
    path = tmp_path / "older.lookalike"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = load(path)
    assert loaded.model_.level_maps_ is None
    assert loaded.summary()["model"] == "one normal per level of 'flag' on normal scores"
    assert list(loaded.sample(20, random_state=0).columns) == list(table.columns)


def test_a_file_from_the_synthesizer_before_its_codecs_says_to_refit():
    """tests/data holds files of the Synthesizer before its codecs (main at ebc1365): a
    fitted one, with its ColumnSchema and transforms.TableEncoder, and an unfitted one
    with ``transform``."""
    for name in ("synthesizer_format1.lookalike", "synthesizer_unfitted_format1.lookalike"):
        refused(DATA / name, "written by an older lookalike .*refit the model")


# --------------------------------------------------------------------------------------
# Loading runs no code of the classes it restores


def test_loading_runs_no_constructor_or_fit(saved, monkeypatch):
    import importlib

    paths = [saved(name) for name in ("trees", "cells", "gaussian")]
    tabular = [name for name in ALLOWED_CLASSES if name.startswith("lookalike.tabular.")]
    assert not [n for n in tabular if ".schema." in n or ".transforms." in n]
    # The encoder's check builds its codecs' layout afresh to compare it with the
    # stored one: ModelDim values are made there, never from the file.
    tabular.remove("lookalike.tabular.columns.base.ModelDim")

    def trap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)  # keeps the signature that get_params reads
        def trapped(*args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"loading ran {method.__qualname__}")

        return trapped

    patched = 0
    for dotted in tabular:
        module, _, name = dotted.rpartition(".")
        kind = getattr(importlib.import_module(module), name)
        for method in ("__init__", "__post_init__", "__setstate__", "fit"):
            if method in vars(kind):
                monkeypatch.setattr(kind, method, trap(vars(kind)[method]))
                patched += 1
    assert patched >= len(tabular)
    for path in paths:
        assert type(load(path)) is Synthesizer


def test_a_class_outside_the_allow_list_is_refused(saved):
    def name_a_function(e: Edit) -> None:
        node = {"object": "lookalike.tabular.schema.fit_codecs", "attributes": {"dict": []}}
        e.set("model_", node)

    refused(tampered(saved("cells"), SYNTHESIZER, name_a_function), "refusing to load")
