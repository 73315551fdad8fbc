"""Safe model files: bit-identical round trips, hostile files, atomic writes.

The oracle of a round trip is the original model itself: every method of the
loaded model must return exactly (``assert_array_equal``) what the original
returns, and its whole state must compare equal, dtypes included. Hostile files
are built by hand; each must raise ModelFileError without running anything.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import struct
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.preprocessing import PowerTransformer, QuantileTransformer, StandardScaler

from conftest import make_blobs, time_limit
from lookalike.classifier import GenerativeClassifier
from lookalike.exceptions import ModelFileError
from lookalike.gaussian import Gaussian
from lookalike.kde import KernelDensity
from lookalike.mixture import GaussianMixture
from lookalike.model_selection import ModelSearch
from lookalike.persistence import load, save
from lookalike.reduced import ReducedDensity

KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")


# --------------------------------------------------------------------------------------
# Helpers


def _data(d: int = 2, n: int = 150) -> np.ndarray:
    X, _ = make_blobs(n, seed=1)
    if d == 2:
        return X
    return np.column_stack([X, np.random.default_rng(2).normal(size=(n, d - 2))])


def _round_trip(model: Any, folder: Path) -> Any:
    path = save(model, folder / "model.lookalike")
    assert path == folder / "model.lookalike" and path.is_file()
    return load(path)


def _assert_same_state(a: Any, b: Any, where: str = "model") -> None:
    """Deep equality of values, including array dtypes and object types."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and b.flags.writeable, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, np.random.RandomState):
        _assert_same_state(a.get_state(), b.get_state(), where)
    elif isinstance(a, np.random.Generator):
        _assert_same_state(a.bit_generator.state, b.bit_generator.state, where)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    elif hasattr(a, "__dict__") and type(a).__module__.split(".")[0] in ("lookalike", "sklearn"):
        state_a = {k: v for k, v in vars(a).items() if k != "_prepared"}
        state_b = {k: v for k, v in vars(b).items() if k != "_prepared"}
        assert sorted(state_a) == sorted(state_b), where
        for key in state_a:
            _assert_same_state(state_a[key], state_b[key], f"{where}.{key}")
    else:
        assert a == b, where


def _assert_same_outputs(model: Any, loaded: Any, X: Any) -> None:
    """Every query method the model has gives bit-identical results."""
    called = 0
    for method in ("score_samples", "predict", "predict_proba", "transform", "bic", "aic"):
        if hasattr(model, method):
            np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))
            called += 1
    if hasattr(model, "sample"):
        expected, got = model.sample(25, random_state=7), loaded.sample(25, random_state=7)
        if not isinstance(expected, tuple):
            expected, got = (expected,), (got,)
        for e, g in zip(expected, got, strict=True):
            np.testing.assert_array_equal(g, e)
        called += 1
    assert called >= 1


def _check_round_trip(model: Any, X: Any, folder: Path) -> Any:
    loaded = _round_trip(model, folder)
    _assert_same_state(model, loaded)
    _assert_same_outputs(model, loaded, X)
    if isinstance(model, BaseEstimator):
        _assert_same_state(model.get_params(deep=False), loaded.get_params(deep=False))
        _assert_same_state(clone(model).get_params(), clone(loaded).get_params())
    return loaded


# --------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_round_trip(covariance_type, tmp_path):
    X = _data(3)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    _check_round_trip(model, X, tmp_path)


def test_gaussian_mixture_float32_dataframe_and_missing(tmp_path):
    X32 = _data(3).astype(np.float32)
    model = GaussianMixture(2, random_state=0).fit(X32)
    assert model.means_.dtype == np.float32
    _check_round_trip(model, X32, tmp_path)

    frame = pd.DataFrame(_data(3), columns=["height", "width", "depth"])
    model = GaussianMixture(2, random_state=0).fit(frame)
    loaded = _check_round_trip(model, frame, tmp_path)
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["height", "width", "depth"]

    holes = _data(3)
    holes[::5, 1] = np.nan
    holes[::7, 2] = np.nan
    model = GaussianMixture(2, missing="em", random_state=0).fit(holes)
    _check_round_trip(model, holes, tmp_path)


def test_gaussian_mixture_random_state_objects(tmp_path):
    """A RandomState/Generator hyper-parameter keeps its stream: later draws agree."""
    X = _data()
    for random_state in (np.random.RandomState(5), np.random.default_rng(5)):
        model = GaussianMixture(2, random_state=random_state).fit(X)
        loaded = _round_trip(model, tmp_path)
        _assert_same_state(model, loaded)
        np.testing.assert_array_equal(loaded.sample(10)[0], model.sample(10)[0])


def test_unfitted_estimator_round_trip(tmp_path):
    model = GaussianMixture(n_components=4, covariance_type="diag", tol=1e-5, random_state=1)
    loaded = _round_trip(model, tmp_path)
    _assert_same_state(model, loaded)
    X = _data()
    np.testing.assert_array_equal(
        loaded.fit(X).score_samples(X), clone(model).fit(X).score_samples(X)
    )


KDE_CASES = {
    "scalar": (dict(bandwidth=0.5), 2, False),
    "rule": (dict(bandwidth="scott"), 2, False),
    "per-feature": (dict(bandwidth=np.array([0.4, 0.9])), 2, False),
    "matrix": (dict(bandwidth=np.array([[0.5, 0.1], [0.1, 0.3]])), 2, False),
    "binned-rtol": (dict(bandwidth=0.3, algorithm="binned", rtol=1e-4), 1, False),
    "auto-rtol": (dict(bandwidth="silverman", rtol=1e-3), 1, False),
    "weights": (dict(bandwidth=0.6), 2, True),
    "cv": (dict(bandwidth="cv", bandwidth_grid=[0.3, 3.0, 100.0], cv=3), 2, False),
    "manhattan": (dict(bandwidth=0.7, metric="manhattan"), 2, False),
}


@pytest.mark.parametrize("case", list(KDE_CASES))
def test_kernel_density_round_trip(case, tmp_path):
    params, d, weighted = KDE_CASES[case]
    X = _data()[:, :d]
    weights = np.random.default_rng(3).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    model = KernelDensity(**params).fit(X, sample_weight=weights)
    model.score_samples(X[:3])  # builds the lazy cache, which is not stored
    assert _round_trip(model, tmp_path)._prepared is None  # rebuilt on first use
    loaded = _check_round_trip(model, X, tmp_path)
    assert loaded._unit is loaded._data if case == "manhattan" else loaded._unit is not None


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_density_every_kernel(kernel, tmp_path):
    X = _data()
    model = KernelDensity(bandwidth=0.8, kernel=kernel).fit(X)
    _check_round_trip(model, X, tmp_path)


def test_gaussian_and_reduced_density(tmp_path):
    X = _data(4)
    _check_round_trip(Gaussian().fit(X), X, tmp_path)
    for inner in (GaussianMixture(2, random_state=0), KernelDensity(bandwidth=0.7)):
        model = ReducedDensity(inner, PCA(2, whiten=True)).fit(X)
        loaded = _check_round_trip(model, X, tmp_path)
        assert type(loaded.reducer_) is PCA


def test_generative_classifier_string_classes(tmp_path):
    X, labels = make_blobs(150, seed=4)
    names = np.array(["cat", "dog", "emu"])[labels]
    model = GenerativeClassifier(GaussianMixture(1, random_state=0)).fit(X, names)
    loaded = _check_round_trip(model, X, tmp_path)
    assert loaded.classes_.tolist() == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(loaded.score(X, names), model.score(X, names))


def test_model_search_round_trip(tmp_path):
    X = _data()
    grid = [
        {"model": [GaussianMixture(random_state=0)], "n_components": [1, 2]},
        {"model": [KernelDensity()], "bandwidth": [0.5, "scott"]},
    ]
    model = ModelSearch("auto", grid, criterion="cv", cv=3, random_state=0).fit(X)
    assert model.results_["bandwidth"].isna().any()  # None and NaN cells travel too
    loaded = _check_round_trip(model, X, tmp_path)
    pd.testing.assert_frame_equal(loaded.results_, model.results_)
    _assert_same_state(model.best_params_, loaded.best_params_)


@pytest.mark.parametrize("model", ["gmm", "kde"])
def test_synthesizer_round_trip(model, tmp_path):
    from lookalike.tabular import Bounds, Order, Synthesizer

    rng = np.random.default_rng(5)
    n = 150
    start = rng.integers(0, 500, n)
    table = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "member": rng.random(n) < 0.3,
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(start, unit="D"),
            "left": pd.Timestamp("2020-01-01") + pd.to_timedelta(start + 30, unit="D"),
        }
    )
    table.loc[::9, "income"] = np.nan
    constraints = [Bounds("age", 18, 90), Order("joined", "left")]
    synthesizer = Synthesizer(model, constraints=constraints, random_state=0).fit(table)
    loaded = _round_trip(synthesizer, tmp_path)
    _assert_same_state(synthesizer, loaded)
    expected = synthesizer.sample(40, random_state=3)
    pd.testing.assert_frame_equal(loaded.sample(40, random_state=3), expected)
    where = {"city": "Lima"}
    pd.testing.assert_frame_equal(
        loaded.sample(10, where=where, random_state=4),
        synthesizer.sample(10, where=where, random_state=4),
    )
    assert loaded.summary() == synthesizer.summary()


@pytest.mark.parametrize(
    "transformer",
    [
        PCA(2),
        IncrementalPCA(2),
        StandardScaler(),
        QuantileTransformer(n_quantiles=50),
        PowerTransformer(),
    ],
    ids=lambda t: type(t).__name__,
)
def test_scikit_learn_transformers(transformer, tmp_path):
    X = np.abs(_data(3)) + 0.1
    model = transformer.fit(X)
    loaded = _check_round_trip(model, X, tmp_path)
    Z = model.transform(X)
    np.testing.assert_array_equal(loaded.inverse_transform(Z), model.inverse_transform(Z))


def test_manifest_records_the_format(tmp_path):
    path = save(GaussianMixture(2, random_state=0).fit(_data()), tmp_path / "m.any-suffix")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
    assert "manifest.json" in names and all(
        n == "manifest.json" or n.startswith("arrays/") for n in names
    )
    assert manifest["format"] == "lookalike-model" and manifest["format_version"] == 1
    assert manifest["class"] == "lookalike.mixture.GaussianMixture" and manifest["fitted"]
    assert manifest["root"]["object"] == "lookalike.mixture.GaussianMixture"


# --------------------------------------------------------------------------------------
# Unsupported content and atomic writes


def test_unsupported_attribute_names_its_path(tmp_path):
    model = GaussianMixture(2, random_state=0).fit(_data())
    model.foo_ = object()
    with pytest.raises(TypeError, match=r"cannot save GaussianMixture\.foo_: type builtins"):
        save(model, tmp_path / "m.lookalike")
    inner = ReducedDensity(GaussianMixture(1), PCA(1)).fit(_data())
    inner.estimator_.extra_ = [1, lambda x: x]
    with pytest.raises(TypeError, match=r"ReducedDensity\.estimator_\.extra_\[1\]"):
        save(inner, tmp_path / "m.lookalike")
    with pytest.raises(TypeError, match="save writes lookalike models, not sklearn"):
        save(SkGaussianMixture(2).fit(_data()), tmp_path / "m.lookalike")
    mixed = GaussianMixture(1)
    mixed.names_ = np.array(["a", 1], dtype=object)
    with pytest.raises(TypeError, match=r"GaussianMixture\.names_: numpy object arrays"):
        save(mixed, tmp_path / "m.lookalike")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = save(GaussianMixture(2, random_state=0).fit(_data()), tmp_path / "m.lookalike")
    before = path.read_bytes()
    calls = []

    def failing_save(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        original(*args, **kwargs)

    original = np.save
    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save(KernelDensity(bandwidth=1.0).fit(_data()), path)
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    assert type(load(path)) is GaussianMixture


# --------------------------------------------------------------------------------------
# Hostile files


class _Trap:
    """Unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _manifest(root: Any, **changes: Any) -> bytes:
    body = {"format": "lookalike-model", "format_version": 1, "root": root, **changes}
    return json.dumps(body).encode()


def _write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


def _npy_with_header(header: dict[str, Any], payload: bytes) -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue() + payload


def _saved(folder: Path) -> Path:
    return save(GaussianMixture(2, random_state=0).fit(_data()), folder / "good.lookalike")


def _expect_refusal(path: Path, match: str, **kwargs: Any) -> None:
    with pytest.raises(ModelFileError, match=match) as caught:
        load(path, **kwargs)
    assert "\n" not in str(caught.value)


def test_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.lookalike"
    path.write_bytes(pickle.dumps(_Trap(marker)))
    _expect_refusal(path, "not a zip archive")
    assert not marker.exists()
    # The same payload as an .npy of object dtype inside a model file.
    header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
    npy = _npy_with_header(header, pickle.dumps(np.array([_Trap(marker)], dtype=object)))
    root = {"object": "lookalike.mixture.GaussianMixture", "attributes": {"dict": []}}
    root["attributes"]["dict"].append(["weights_", {"array": "arrays/0.npy"}])
    _write_zip(path, {"manifest.json": _manifest(root), "arrays/0.npy": npy})
    _expect_refusal(path, "dtype object is not allowed")
    assert not marker.exists()


def test_random_bytes_and_truncated_zip(tmp_path):
    path = tmp_path / "noise.lookalike"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    _expect_refusal(path, "not a zip archive")
    good = _saved(tmp_path).read_bytes()
    for cut in (len(good) // 2, len(good) - 10):
        path.write_bytes(good[:cut])
        _expect_refusal(path, "cannot load")
    path.write_bytes(b"")
    _expect_refusal(path, "not a zip archive")


def test_zip_bombs(tmp_path):
    zeros = bytes(16 * 1024**2)
    header = {"descr": "<f8", "fortran_order": False, "shape": (len(zeros) // 8,)}
    root = {"array": "arrays/0.npy"}
    path = tmp_path / "bomb.lookalike"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("manifest.json", _manifest(root))
        archive.writestr("arrays/0.npy", _npy_with_header(header, zeros))
    _expect_refusal(path, "zip bomb")
    # A real model file is fine when the caller allows its size...
    good = _saved(tmp_path)
    assert type(load(good)) is GaussianMixture
    # ...but not above max_bytes, judged on the declared sizes.
    _expect_refusal(good, "max_bytes=100", max_bytes=100)
    # A header that lies about the size: 4 GB declared for a few bytes.
    _write_zip(path, {"manifest.json": _manifest(root), "arrays/0.npy": _npy(np.ones(10))})
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)  # arrays/0.npy
    struct.pack_into("<I", data, entry + 24, 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    _expect_refusal(path, "zip bomb|max_bytes")


# Each payload creates the file "x" in the working directory when the class it names is
# called with it, as a loader that instantiated the classes a file names would do.
_PAYLOADS = {
    "os.system": f"\"{sys.executable}\" -c \"open('x', 'w').close()\"",
    "subprocess.check_call": [sys.executable, "-c", "open('x', 'w').close()"],
    "builtins.exec": "open('x', 'w').close()",
}


@pytest.mark.parametrize("name", list(_PAYLOADS))
def test_classes_outside_the_allow_list(name, tmp_path, monkeypatch):
    payload = _PAYLOADS[name]
    # The payload is live: calling the named object with it creates the marker.
    control = tmp_path / "control"
    control.mkdir()
    monkeypatch.chdir(control)
    module, _, attribute = name.rpartition(".")
    getattr(importlib.import_module(module), attribute)(payload)
    assert (control / "x").exists()
    # Named in a model file, at the root or deep inside a model, it is refused unrun.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    encoded = {"list": payload} if isinstance(payload, list) else payload
    evil = {"object": name, "attributes": {"dict": [["args", encoded]]}}
    nested = {
        "object": "lookalike.mixture.GaussianMixture",
        "attributes": {"dict": [["n_components", 1], ["random_state", evil]]},
    }
    for root in (evil, {"list": [1, evil]}, nested):
        path = _write_zip(work / "evil.lookalike", {"manifest.json": _manifest(root)})
        _expect_refusal(path, f"refusing to load '{name}': not a lookalike model class")
        assert sorted(p.name for p in work.iterdir()) == ["evil.lookalike"]


def test_npy_header_declaring_a_huge_shape(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12, 10**6)}
    npy = _npy_with_header(header, bytes(8))
    path = _write_zip(
        tmp_path / "huge.lookalike",
        {"manifest.json": _manifest({"array": "arrays/0.npy"}), "arrays/0.npy": npy},
    )
    _expect_refusal(path, r"header declares shape \(1000000000000, 1000000\)")
    structured = _npy_with_header(
        {"descr": [("a", "<f8")], "fortran_order": False, "shape": (1,)}, bytes(8)
    )
    _write_zip(
        path, {"manifest.json": _manifest({"array": "arrays/0.npy"}), "arrays/0.npy": structured}
    )
    _expect_refusal(path, "is not allowed")


@pytest.mark.parametrize(
    "member", ["../x", "/etc/passwd", "arrays/../../x.npy", "arrays/0.pkl", "arrays/", "a.npy"]
)
def test_unexpected_member_names(member, tmp_path):
    members = _members(_saved(tmp_path))
    members[member] = b"payload"
    path = _write_zip(tmp_path / "traversal.lookalike", members)
    _expect_refusal(path, "unexpected member")


def test_manifest_problems(tmp_path):
    path = tmp_path / "m.lookalike"
    good = _members(_saved(tmp_path))
    manifest = json.loads(good["manifest.json"])

    def write(text: bytes) -> Path:
        return _write_zip(path, {**good, "manifest.json": text})

    _write_zip(path, {k: v for k, v in good.items() if k != "manifest.json"})
    _expect_refusal(path, "no manifest.json")
    _expect_refusal(write(b"{not json"), "not valid JSON")
    _expect_refusal(write(b"\xff\xfe"), "not UTF-8")
    _expect_refusal(write(json.dumps({**manifest, "format": "other"}).encode()), "format")
    newer = json.dumps({**manifest, "format_version": 999}).encode()
    _expect_refusal(write(newer), r"newer lookalike \(format 999, this one reads 1\): upgrade")
    _expect_refusal(write(json.dumps({**manifest, "root": {"what": 1}}).encode()), "unknown node")
    _expect_refusal(write(b'{"format": "lookalike-model", "x": NaN}'), "not valid JSON")
    deep = b'{"list": [' * 5000 + b"1" + b"]}" * 5000
    prefix = b'{"format": "lookalike-model", "format_version": 1, "root": '
    _expect_refusal(write(prefix + deep + b"}"), "nests 10001 levels deep")
    nested: Any = 1
    for _ in range(90):  # below the JSON bracket limit, above the node depth limit
        nested = {"list": [nested]}
    _expect_refusal(write(_manifest(nested)), "nest more than")


def test_array_references(tmp_path):
    path = tmp_path / "m.lookalike"
    members = _members(_saved(tmp_path))
    del members["arrays/1.npy"]
    _write_zip(path, members)
    _expect_refusal(path, r"missing array member 'arrays/1\.npy'")
    twice = {"list": [{"array": "arrays/0.npy"}, {"array": "arrays/0.npy"}]}
    _write_zip(path, {"manifest.json": _manifest(twice), "arrays/0.npy": _npy(np.ones(3))})
    _expect_refusal(path, "referenced twice")
    outside = {"array": "manifest.json"}
    _write_zip(path, {"manifest.json": _manifest(outside)})
    _expect_refusal(path, "invalid array reference")


def test_crc_error(tmp_path):
    path = tmp_path / "m.lookalike"
    _write_zip(path, _members(_saved(tmp_path)), method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    start = data.index(b"\x93NUMPY")
    data[start + 200] ^= 0xFF  # inside the first array's payload
    path.write_bytes(bytes(data))
    _expect_refusal(path, "CRC|corrupted")


def _edit(folder: Path, edit: Any) -> Path:
    """A saved GaussianMixture whose manifest (as a dict) and members went through ``edit``."""
    members = _members(_saved(folder))
    manifest = json.loads(members["manifest.json"])
    attributes = {pair[0]: pair for pair in manifest["root"]["attributes"]["dict"]}
    edit(attributes, members)
    members["manifest.json"] = json.dumps(manifest).encode()
    return _write_zip(folder / "edited.lookalike", members)


def test_restored_objects_are_validated(tmp_path):
    def nan_components(attributes: dict[str, Any], members: dict[str, bytes]) -> None:
        attributes["n_components"][1] = {"float": "nan"}

    _expect_refusal(_edit(tmp_path, nan_components), "'n_components' parameter of Gaussian")

    def bogus_type(attributes: dict[str, Any], members: dict[str, bytes]) -> None:
        attributes["covariance_type"][1] = "bogus"

    _expect_refusal(_edit(tmp_path, bogus_type), "invalid GaussianMixture")

    def wrong_shape(attributes: dict[str, Any], members: dict[str, bytes]) -> None:
        members[attributes["means_"][1]["array"]] = _npy(np.zeros(2))

    _expect_refusal(_edit(tmp_path, wrong_shape), r"means_ must have shape \(2, 2\)")

    def nan_weight(attributes: dict[str, Any], members: dict[str, bytes]) -> None:
        members[attributes["weights_"][1]["array"]] = _npy(np.array([np.nan, 0.5]))

    _expect_refusal(_edit(tmp_path, nan_weight), "weights_ has NaN or infinite values")

    kde_path = save(KernelDensity(bandwidth=0.5).fit(_data()), tmp_path / "kde.lookalike")
    kde = _members(kde_path)
    kde_manifest = json.loads(kde["manifest.json"])
    kde_manifest["root"]["attributes"]["dict"] = [
        pair for pair in kde_manifest["root"]["attributes"]["dict"] if pair[0] != "_scaling"
    ]
    kde["manifest.json"] = json.dumps(kde_manifest).encode()
    _expect_refusal(_write_zip(kde_path, kde), "invalid KernelDensity")


# --------------------------------------------------------------------------------------
# Regression tests of issue 12: what save refuses, files that are not files, archive
# limits checked before reading, and restored models checked by their own classes


@pytest.mark.parametrize(
    "value", [{"weights": [0.5, 0.5]}, None, np.ones(3), [GaussianMixture()], 1.5]
)
def test_save_refuses_what_is_not_a_model(value, tmp_path):
    with pytest.raises(TypeError, match="save writes lookalike models, not"):
        save(value, tmp_path / "m.lookalike")
    assert list(tmp_path.iterdir()) == []


def test_save_to_a_directory_or_an_empty_path(tmp_path, monkeypatch):
    model = GaussianMixture(1).fit(_data())
    with pytest.raises(IsADirectoryError, match="is a directory; name a file inside it"):
        save(model, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save(model, str(tmp_path / "new") + os.sep)
    monkeypatch.chdir(tmp_path)
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="path must name a file"):
            save(model, empty)
    with pytest.raises(TypeError, match="path must be a str or path-like"):
        save(model, 3)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
    if hasattr(os, "mkfifo"):  # renaming over it would replace the FIFO by a file
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(ValueError, match="exists and is not a regular file"):
            save(model, tmp_path / "pipe")
        assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_load_refuses_what_is_not_a_regular_file(tmp_path):
    with time_limit(10, "load of a directory"):
        _expect_refusal(tmp_path, "it is a directory, not a regular file")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.lookalike"
        os.mkfifo(fifo)
        with time_limit(10, "load of a FIFO"):  # open() on a FIFO blocks for a writer
            _expect_refusal(fifo, r"pipe\.lookalike'.*a FIFO \(named pipe\)")
    for device in ("/dev/urandom", "/dev/zero"):
        if Path(device).exists():
            with time_limit(10, f"load of {device}"):
                _expect_refusal(Path(device), f"'{device}': it is a device, not a regular")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.lookalike")


def _lie_about_sizes(path: Path, sizes: dict[str, int]) -> None:
    """Rewrite the central directory's uncompressed size of the named members."""
    data = bytearray(path.read_bytes())
    start = 0
    while (entry := data.find(b"PK\x01\x02", start)) >= 0:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        name = bytes(data[entry + 46 : entry + 46 + name_length]).decode()
        if name in sizes:
            struct.pack_into("<I", data, entry + 24, sizes[name])
        start = entry + 4
    path.write_bytes(bytes(data))


def test_total_declared_size_is_checked_against_max_bytes(tmp_path):
    """Each member is under max_bytes; together they are not: refused before reading."""
    arrays = {f"arrays/{i}.npy": _npy(np.ones(12)) for i in range(3)}  # 224 bytes each
    root = {"list": [{"array": name} for name in arrays]}
    path = _write_zip(tmp_path / "m.lookalike", {"manifest.json": _manifest(root), **arrays})
    each = len(arrays["arrays/0.npy"])
    _expect_refusal(
        path, rf"declare \d+ bytes in all, more than max_bytes={3 * each}", max_bytes=3 * each
    )


def test_many_members_that_together_expand_too_much(tmp_path):
    """Members under 1 MiB escape the per-member ratio check; their total does not."""
    arrays = {f"arrays/{i}.npy": _npy(np.zeros(10)) for i in range(8)}
    path = _write_zip(
        tmp_path / "m.lookalike", {"manifest.json": _manifest({"list": []}), **arrays}
    )
    _lie_about_sizes(path, dict.fromkeys(arrays, 1024**2 - 1))  # 8 MiB from ~2 KB
    _expect_refusal(path, r"in all from a file of \d+: a compression ratio above 1000")


def test_duplicate_member_names(tmp_path):
    members = _members(_saved(tmp_path))
    path = tmp_path / "dup.lookalike"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
            archive.writestr("arrays/0.npy", _npy(np.array([0.5, 0.5])))
    _expect_refusal(path, r"duplicate member 'arrays/0\.npy'")


def test_member_count_is_read_from_the_end_record_first(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 65000, 65000)  # entries on disk, in all
    path.write_bytes(bytes(data))
    monkeypatch.setattr("lookalike.persistence.archive.MAX_MEMBERS", 1000)
    # zipfile never lists the members: the count alone is refused.
    monkeypatch.setattr(zipfile, "ZipFile", None)
    _expect_refusal(path, r"too many members \(65000 > 1000\)")


def test_manifest_size_is_capped(tmp_path):
    from lookalike.persistence import MAX_MANIFEST_BYTES

    assert MAX_MANIFEST_BYTES == 8 * 1024**2
    padding = np.random.default_rng(0).integers(97, 123, MAX_MANIFEST_BYTES).astype(np.uint8)
    text = _manifest({"list": []}, padding=padding.tobytes().decode())
    path = _write_zip(tmp_path / "m.lookalike", {"manifest.json": text}, zipfile.ZIP_STORED)
    _expect_refusal(path, rf"manifest.json declares \d+ bytes, more than the {MAX_MANIFEST_BYTES}")


def test_arrays_are_read_straight_into_their_buffer(tmp_path):
    """Loading an array costs its own size, not copies of it (a 1 GiB bomb took 2.2 GB)."""
    from lookalike.persistence.archive import read_array_member

    values = np.zeros(4 * 1024**2)  # 32 MiB
    values[:: 4096 + 7] = 1.0
    path = _write_zip(tmp_path / "m.lookalike", {"arrays/0.npy": _npy(values)})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("arrays/0.npy")
        tracemalloc.start()
        try:
            array = read_array_member(archive, info)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    np.testing.assert_array_equal(array, values)
    assert array.flags.writeable and array.flags.owndata
    assert peak < 1.5 * values.nbytes, peak / values.nbytes


def _tamper(folder: Path, model: Any, attribute: str, change: Any) -> Path:
    """``model`` saved with ``attribute``'s array replaced by ``change(array)``."""
    members = _members(save(model, folder / "model.lookalike"))
    manifest = json.loads(members["manifest.json"])
    pairs = dict(manifest["root"]["attributes"]["dict"])
    name = pairs[attribute]["array"]
    array = np.load(io.BytesIO(members[name]))
    members[name] = _npy(change(array.copy()))
    return _write_zip(folder / "tampered.lookalike", members)


def _scaled(factor: float) -> Any:
    return lambda a: a * factor


def _set(index: Any, value: float) -> Any:
    def change(a: np.ndarray) -> np.ndarray:
        a[index] = value
        return a

    return change


MIXTURE_TAMPERING = {
    "weights sum to 10": ("weights_", _scaled(10.0), "weights_ must sum to 1, they sum to 10"),
    "a zero weight": ("weights_", lambda a: np.array([0.0, 1.0]), "weights_ must be positive"),
    "a negative weight": (
        "weights_",
        lambda a: np.array([-0.5, 1.5]),
        "weights_ must be positive",
    ),
    "covariance not PD": (
        "covariances_",
        lambda a: np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2),
        r"covariances_ do not match precisions_cholesky_ .*component 0",
    ),
    "factor with a negative diagonal": (
        "precisions_cholesky_",
        lambda a: -a,
        "precisions_cholesky_ needs a positive diagonal",
    ),
    "factor not triangular": (
        "precisions_cholesky_",
        _set((0, 1, 0), 0.3),
        "precisions_cholesky_ must be upper triangular",
    ),
    "precisions not U U^T": ("precisions_", _scaled(2.0), "precisions_ do not match"),
    "NaN mean": ("means_", _set((0, 0), np.nan), "means_ has NaN or infinite values"),
    "float16 weights": ("weights_", lambda a: a.astype(np.float16), "weights_ must be a float32"),
    "integer means": ("means_", lambda a: a.astype(np.int64), "means_ must be a float32"),
}


@pytest.mark.parametrize("case", list(MIXTURE_TAMPERING))
def test_restored_mixture_is_checked_by_its_class(case, tmp_path):
    attribute, change, message = MIXTURE_TAMPERING[case]
    model = GaussianMixture(2, random_state=0).fit(_data())
    _expect_refusal(
        _tamper(tmp_path, model, attribute, change), "invalid GaussianMixture: " + message
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_every_covariance_type_restores_and_refuses_a_mismatch(covariance_type, tmp_path):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(_data(3))
    _check_round_trip(model, _data(3), tmp_path)
    path = _tamper(tmp_path, model, "covariances_", _scaled(1.5))
    _expect_refusal(path, "covariances_ do not match precisions_cholesky_")


def test_restored_float32_mixture_and_gaussian(tmp_path):
    X32 = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32) @ np.diag(
        np.float32([1e3, 1, 1, 1e-2, 1, 1])
    )
    for model in (GaussianMixture(4, random_state=0).fit(X32), Gaussian().fit(_data(4))):
        _check_round_trip(model, X32 if isinstance(model, GaussianMixture) else _data(4), tmp_path)
    gaussian = Gaussian().fit(_data(4))
    path = _tamper(tmp_path, gaussian, "mean_", _scaled(2.0))
    _expect_refusal(path, "invalid Gaussian: mean_ must equal means_")


KDE_TAMPERING = {
    "negative per-feature bandwidth": (
        dict(bandwidth=np.array([0.4, 0.9])),
        "bandwidth_",
        _scaled(-1.0),
        "bandwidth_: Per-feature bandwidths must be positive",
    ),
    "bandwidth not matching the scaling": (
        dict(bandwidth=np.array([0.4, 0.9])),
        "bandwidth_",
        _scaled(2.0),
        "_scaling does not match bandwidth_",
    ),
    "bandwidth matrix not PD": (
        dict(bandwidth=np.array([[0.5, 0.1], [0.1, 0.3]])),
        "bandwidth_",
        lambda a: np.array([[0.5, 0.9], [0.9, 0.3]]),
        "bandwidth_: The bandwidth matrix is not positive definite",
    ),
    "negative weight": (
        dict(bandwidth=0.5),
        "_weights",
        _set(0, -1.0),
        "_weights must be non-negative",
    ),
    "infinite data": (dict(bandwidth=0.5), "_data", _set((0, 0), np.inf), "_data has NaN"),
}


@pytest.mark.parametrize("case", list(KDE_TAMPERING))
def test_restored_kernel_density_is_checked_by_its_class(case, tmp_path):
    params, attribute, change, message = KDE_TAMPERING[case]
    weights = np.linspace(0.5, 2.0, 150) if attribute == "_weights" else None
    model = KernelDensity(**params).fit(_data(), sample_weight=weights)
    path = _tamper(tmp_path, model, attribute, change)
    _expect_refusal(path, "invalid KernelDensity: " + message)


def _edit_root(folder: Path, model: Any, edit: Any) -> Path:
    """``model`` saved, with its root's attribute dict (name -> node) passed through ``edit``."""
    members = _members(save(model, folder / "model.lookalike"))
    manifest = json.loads(members["manifest.json"])
    pairs = manifest["root"]["attributes"]["dict"]
    attributes = {pair[0]: pair[1] for pair in pairs}
    edit(attributes)
    manifest["root"]["attributes"]["dict"] = [[k, v] for k, v in attributes.items()]
    members["manifest.json"] = json.dumps(manifest).encode()
    return _write_zip(folder / "edited.lookalike", members)


def test_restored_composite_models_are_checked_by_their_classes(tmp_path):
    X, labels = make_blobs(150, seed=4)
    classifier = GenerativeClassifier(GaussianMixture(1, random_state=0)).fit(X, labels)

    def drop_a_class(attributes: dict[str, Any]) -> None:
        attributes["estimators_"]["list"].pop()

    _expect_refusal(
        _edit_root(tmp_path, classifier, drop_a_class),
        "invalid GenerativeClassifier: estimators_ must be a list of 3 densities",
    )
    reduced = ReducedDensity(GaussianMixture(1, random_state=0), PCA(2)).fit(_data(4))

    def claim_three_components(attributes: dict[str, Any]) -> None:
        attributes["n_components_"] = 3

    _expect_refusal(
        _edit_root(tmp_path, reduced, claim_three_components),
        "invalid ReducedDensity: estimator_ does not model n_components_ features",
    )
    search = ModelSearch(cv=3, random_state=0).fit(_data())

    def point_past_the_table(attributes: dict[str, Any]) -> None:
        attributes["best_index_"] = 10**6

    _expect_refusal(
        _edit_root(tmp_path, search, point_past_the_table),
        "invalid ModelSearch: best_index_ is not a row of results_",
    )


def test_a_file_from_a_future_format_names_both_versions(tmp_path):
    members = _members(_saved(tmp_path))
    manifest = json.loads(members["manifest.json"])
    members["manifest.json"] = json.dumps({**manifest, "format_version": 2}).encode()
    path = _write_zip(tmp_path / "future.lookalike", members)
    _expect_refusal(path, r"newer lookalike \(format 2, this one reads 1\): upgrade lookalike")


def test_a_root_that_is_not_a_model_is_refused(tmp_path):
    path = _write_zip(
        tmp_path / "m.lookalike",
        {"manifest.json": _manifest({"array": "arrays/0.npy"}), "arrays/0.npy": _npy(np.ones(3))},
    )
    _expect_refusal(path, "the root is a ndarray, not a model")


def test_files_written_before_the_package_split_still_load():
    """tests/data holds files written by lookalike 0.1's single-module persistence.py."""
    from scipy import stats

    folder = Path(__file__).parent / "data"
    mixture = load(folder / "gmm_format1.lookalike")
    assert type(mixture) is GaussianMixture and mixture.weights_.shape == (2,)
    X = np.random.default_rng(0).normal(size=(20, 2)) * 3
    oracle = np.log(
        sum(
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(mixture.weights_, mixture.means_, mixture.covariances_, strict=True)
        )
    )
    np.testing.assert_allclose(mixture.score_samples(X), oracle, rtol=1e-10)
    kde = load(folder / "kde_format1.lookalike")
    h = kde.bandwidth_
    assert type(kde) is KernelDensity and h.shape == (2,)
    data = kde._data
    brute = np.log(
        np.mean([stats.multivariate_normal(row, np.diag(h**2)).pdf(X) for row in data], axis=0)
    )
    np.testing.assert_allclose(kde.score_samples(X), brute, rtol=1e-10)
