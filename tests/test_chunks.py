"""Out-of-core EM on Chunks: same numbers as in memory, bounded memory, clear errors.

The oracle is the in-memory GaussianMixture (itself tested against
scikit-learn in test_mixture.py) started from the same initial parameters, and
scikit-learn's GaussianMixture directly for one case.
"""

from __future__ import annotations

import itertools
import tracemalloc
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from tests.conftest import COVARIANCE_TYPES, make_blobs, make_overlapping

import lookalike as la
from lookalike._math import blocks
from lookalike.chunks import Chunks

# Sums over chunks add in another order than sums over in-memory blocks; EM
# from the same start then agrees to rounding (observed ~1e-14), far inside this.
RTOL = 1e-8


def split(X: np.ndarray, *sizes: int) -> list[np.ndarray]:
    """X cut into pieces of the given sizes (the remainder forms the last piece)."""
    bounds = np.cumsum((0, *sizes))
    return [X[a:b] for a, b in itertools.pairwise(bounds)] + [X[bounds[-1] :]]


def start_of(model: la.GaussianMixture) -> dict[str, np.ndarray]:
    return {
        "weights_init": model.weights_,
        "means_init": model.means_,
        "precisions_init": model.precisions_,
    }


def assert_same_fit(a: la.GaussianMixture, b: la.GaussianMixture, rtol: float = RTOL) -> None:
    scale = np.abs(a.means_).max()
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=rtol)
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(
        a.covariances_, b.covariances_, rtol=rtol, atol=rtol * np.abs(a.covariances_).max()
    )
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunked_fit_equals_in_memory_fit_from_the_same_start(covariance_type):
    X = make_overlapping(1500, seed=1) + 100.0  # uncentred, so the shift matters
    start = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start.fit(X)
    kwargs = dict(covariance_type=covariance_type, tol=0, max_iter=12, **start_of(start))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        memory = la.GaussianMixture(3, **kwargs).fit(X)
        # uneven pieces, a one-row piece and an empty piece
        chunked = la.GaussianMixture(3, **kwargs).fit(Chunks(split(X, 700, 1, 0, 333)))
        sklearn = SkGaussianMixture(3, **kwargs).fit(X)
    assert_same_fit(memory, chunked)
    np.testing.assert_allclose(chunked.means_, sklearn.means_, rtol=1e-7)
    np.testing.assert_allclose(chunked.lower_bound_, sklearn.lower_bound_, rtol=1e-7)
    assert chunked.n_features_in_ == 3
    assert not hasattr(chunked, "feature_names_in_")


def test_chunked_fit_with_missing_values_equals_in_memory():
    X = make_overlapping(1200, seed=2)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[5] = np.nan  # a row with nothing observed is dropped in both
    start = la.GaussianMixture(3, missing="em", random_state=0).fit(X)
    kwargs = dict(missing="em", tol=0, max_iter=8, **start_of(start))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        memory = la.GaussianMixture(3, **kwargs).fit(X)
        chunked = la.GaussianMixture(3, **kwargs).fit(Chunks(split(X, 400, 400)))
    assert_same_fit(memory, chunked)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_chunked_initialisations_find_the_blobs(init_params):
    X, _ = make_blobs(3000, seed=3)
    order = np.random.default_rng(0).permutation(len(X))
    X = X[order]
    memory = la.GaussianMixture(3, init_params=init_params, n_init=3, random_state=0).fit(X)
    model = la.GaussianMixture(3, init_params=init_params, n_init=3, random_state=0)
    model.fit(Chunks(split(X, 1000, 1000)))
    # Both reach the maximum of the likelihood: same mean log-likelihood to 1e-6
    # nats, and the same component means (in some order) to 1e-4.
    assert model.lower_bound_ == pytest.approx(memory.lower_bound_, abs=1e-6)
    order_of = np.argsort(model.means_[:, 0])
    np.testing.assert_allclose(
        model.means_[order_of], memory.means_[np.argsort(memory.means_[:, 0])], atol=1e-4
    )


def test_random_initialisation_starts_near_the_data_mean():
    """Uniform random responsibilities give near-equal weights and means near the mean.

    Each weight is an average of 3000 uniform shares with sd about 0.09, so its
    sd is about 0.002; each mean is a weighted average whose deviation from the
    data mean is a few hundredths. Tolerances are ten times those.
    """
    X, _ = make_blobs(3000, seed=3)
    start = la.GaussianMixture(3, init_params="random", max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        start.fit(Chunks(split(X, 1000, 1000)))
    np.testing.assert_allclose(start.weights_, 1 / 3, atol=0.02)
    np.testing.assert_allclose(start.means_, np.broadcast_to(X.mean(axis=0), (3, 2)), atol=0.3)


def test_the_same_random_state_gives_the_same_numbers():
    X = make_overlapping(2000, seed=4)
    chunks = Chunks(split(X, 600, 600, 600))
    first = la.GaussianMixture(3, init_params="k-means++", random_state=7).fit(chunks)
    second = la.GaussianMixture(3, init_params="k-means++", random_state=7).fit(chunks)
    np.testing.assert_array_equal(first.means_, second.means_)
    other = la.GaussianMixture(3, init_params="random_from_data", random_state=8).fit(chunks)
    third = la.GaussianMixture(3, init_params="random_from_data", random_state=7).fit(chunks)
    assert not np.array_equal(other.means_, third.means_) or other.n_iter_ != third.n_iter_


def test_the_initialisation_sample_is_bounded(monkeypatch):
    """With more rows than the sample size, k-means runs on a sample of about that size."""
    import sklearn.cluster

    from lookalike import distributed

    seen: list[int] = []
    original = sklearn.cluster.KMeans.fit

    def spy(self, X, y=None, sample_weight=None):
        seen.append(len(X))
        return original(self, X, y, sample_weight)

    monkeypatch.setattr(sklearn.cluster.KMeans, "fit", spy)
    monkeypatch.setattr(distributed, "INIT_SAMPLE_ROWS", 500)
    X, _ = make_blobs(6000, seed=5)
    model = la.GaussianMixture(3, random_state=0).fit(Chunks(split(X, 2000, 2000)))
    # Bernoulli(1/12) sampling of 6000 rows: 500 expected, sd 21.
    assert len(seen) == 1 and 400 < seen[0] < 600
    assert model.converged_


def test_scoring_chunks_equals_scoring_in_memory():
    X = make_overlapping(900, seed=6)
    model = la.GaussianMixture(3, random_state=0).fit(X)
    chunks = Chunks(split(X, 300, 301))
    np.testing.assert_allclose(model.score_samples(chunks), model.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(chunks), model.predict(X))
    np.testing.assert_allclose(model.predict_proba(chunks), model.predict_proba(X), atol=1e-12)
    assert model.score(chunks) == pytest.approx(model.score(X), rel=1e-12)
    assert model.bic(chunks) == pytest.approx(model.bic(X), rel=1e-12)
    kde = la.KernelDensity(bandwidth=0.5).fit(X)
    np.testing.assert_allclose(kde.score_samples(chunks), kde.score_samples(X), rtol=1e-12)


def test_dataframe_chunks_keep_feature_names():
    X = make_overlapping(600, seed=7)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["label"] = "x"
    chunks = Chunks([frame.iloc[:250], frame.iloc[250:]], columns=["a", "b", "c"])
    model = la.GaussianMixture(2, random_state=0).fit(chunks)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    in_memory = model.score_samples(frame[["a", "b", "c"]])
    np.testing.assert_allclose(model.score_samples(chunks), in_memory)


def test_parquet_and_csv_datasets(tmp_path):
    X = make_overlapping(1000, seed=8)
    frame = pd.DataFrame(X, columns=["x", "y", "z"])
    frame["name"] = [f"row{i}" for i in range(len(frame))]
    folder = tmp_path / "parquet"
    folder.mkdir()
    for part, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(folder / f"part-{part}.parquet", index=False)
        frame.iloc[rows].to_csv(tmp_path / f"part-{part}.csv", index=False)
    start = la.GaussianMixture(3, random_state=0).fit(X)
    kwargs = dict(tol=0, max_iter=5, **start_of(start))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        memory = la.GaussianMixture(3, **kwargs).fit(X)
        columns = ["x", "y", "z"]
        parquet = Chunks.from_parquet(folder, columns=columns, chunk_rows=128)
        from_parquet = la.GaussianMixture(3, **kwargs).fit(parquet)
        csv = Chunks.from_csv(tmp_path / "part-*.csv", columns=columns, chunk_rows=100)
        from_csv = la.GaussianMixture(3, **kwargs).fit(csv)
    assert_same_fit(memory, from_parquet)
    assert_same_fit(memory, from_csv, rtol=1e-6)  # CSV text rounds to 17 digits
    assert list(from_parquet.feature_names_in_) == columns
    assert max(len(chunk) for chunk in parquet) <= 128
    with pytest.raises(ValueError, match=r"name .* not numeric"):
        Chunks.from_parquet(folder)
    with pytest.raises(ValueError, match=r"\['w'\] are not in"):
        Chunks.from_parquet(folder, columns=["x", "w"])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Chunks.from_parquet(tmp_path / "nowhere")


def test_memory_is_bounded_by_the_chunk(monkeypatch):
    """Peak traced memory of a fit stays near one chunk, far below the data's size."""
    from lookalike import distributed

    # Memory is bounded by one chunk, one block of temporaries and the k-means
    # sample of the initialisation: make the last two small next to the data.
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 64 * 1024)
    monkeypatch.setattr(distributed, "INIT_SAMPLE_ROWS", 2_000)
    n_chunks, chunk_rows, d = 40, 5_000, 8  # data: 12.8 MB; one chunk: 320 kB

    def generate():
        for i in range(n_chunks):
            rng = np.random.default_rng(i)
            yield rng.standard_normal((chunk_rows, d)) + (i % 2) * 4.0

    model = la.GaussianMixture(2, random_state=0, max_iter=5, tol=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
            model.fit(Chunks(generate))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data_bytes = n_chunks * chunk_rows * d * 8
    # measured: 1.2 MB (one chunk, the k-means sample, a block and the model)
    assert peak < data_bytes / 6, f"peak {peak / 1e6:.1f} MB for {data_bytes / 1e6:.1f} MB"
    np.testing.assert_allclose(np.sort(model.means_[:, 0]), [0.0, 4.0], atol=0.05)


def test_errors_are_clear():
    X = make_overlapping(300, seed=9)
    with pytest.raises(TypeError, match="more than once"):
        Chunks(iter([X]))
    with pytest.raises(TypeError, match="sequence of arrays"):
        Chunks(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has 2 features"):
        la.GaussianMixture(2).fit(Chunks([X, X[:, :2]]))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in partition 1.*missing='em'"):
        la.GaussianMixture(2).fit(Chunks([X, bad]))
    with pytest.raises(ValueError, match="sample_weight is not supported with Chunks"):
        la.GaussianMixture(2).fit(Chunks([X]), sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        la.GaussianMixture(5).fit(Chunks([X[:2], X[2:4]]))
    with pytest.raises(ValueError, match="minimum of 2"):
        la.GaussianMixture(1).fit(Chunks([X[:1]]))
    with pytest.raises(ValueError, match=r"Feature\(s\) \[0\] are constant"):
        constant = X.copy()
        constant[:, 0] = 1.0
        la.GaussianMixture(1, reg_covar=0).fit(Chunks([constant]))
    model = la.GaussianMixture(2, random_state=0).fit(Chunks([X]))
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.score_samples(Chunks([X[:, :2]]))


# --------------------------------------------------------------------------------------
# Sources that fail (issue 12): clear errors of scikit-learn's types, naming the problem,
# with the original error chained


def test_a_source_that_raises_names_the_chunk():
    X = make_overlapping(300, seed=9)

    def breaks_after_one() -> Any:
        yield X
        raise RuntimeError("the disk went away")

    with pytest.raises(
        ValueError, match=r"Reading chunk 1 of Chunks\(.*RuntimeError: the disk"
    ) as caught:
        la.GaussianMixture(2, random_state=0).fit(Chunks(breaks_after_one))
    assert isinstance(caught.value.__cause__, RuntimeError)

    def cannot_start() -> Any:
        raise OSError("no such bucket")

    with pytest.raises(ValueError, match=r"Calling the source of Chunks.*OSError: no such bucket"):
        la.GaussianMixture(2).fit(Chunks(cannot_start))


@pytest.mark.parametrize("returned", [5, None, "a string", {"a": 1}])
def test_a_source_function_must_return_an_iterable(returned):
    with pytest.raises(
        TypeError, match=f"must return an iterable .* returned {type(returned).__name__}"
    ):
        la.GaussianMixture(2).fit(Chunks(lambda: returned))


@pytest.mark.parametrize("chunk", [None, {"a": [1.0, 2.0]}, 3.5, "rows"])
def test_a_chunk_that_is_not_an_array(chunk):
    X = make_overlapping(300, seed=9)
    with pytest.raises(
        TypeError, match=f"Chunk 1 is a {type(chunk).__name__}; every chunk must be"
    ):
        la.GaussianMixture(2).fit(Chunks([X, chunk]))


@pytest.mark.parametrize("source", ["data.csv", b"rows", {"a": [1]}])
def test_a_source_that_is_a_name_or_a_dict(source):
    with pytest.raises(TypeError, match=r"Read files with Chunks\.from_csv"):
        Chunks(source)


def test_unknown_csv_columns_and_options(tmp_path):
    X = make_overlapping(100, seed=2)
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame(X[:, :2], columns=["a", "b"]).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"Column\(s\) \['zz'\] are not in .*one\.csv \(it has \['a', 'b', 'c'\]\)",
    ):
        Chunks.from_csv(tmp_path / "one.csv", columns=["a", "zz"])
    # A later file lacking a column: found when that file is reached, named with it.
    chunks = Chunks.from_csv(tmp_path, columns=["a", "c"])
    with pytest.raises(
        ValueError, match=r"chunk 1 of Chunks.from_csv.*\['c'\] are not in .*two\.csv"
    ):
        la.GaussianMixture(2).fit(chunks)
    with pytest.raises(
        TypeError, match=r"Invalid option for reading .*unexpected keyword argument 'bogus'"
    ):
        Chunks.from_csv(tmp_path / "one.csv", bogus=1)
    with pytest.raises(TypeError, match=r"sets \['chunksize'\] itself"):
        Chunks.from_csv(tmp_path / "one.csv", chunksize=10)
    for rows in (0, True, "10", 2.5):
        with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
            Chunks.from_csv(tmp_path / "one.csv", chunk_rows=rows)


def test_a_file_that_is_not_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "table.parquet"
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=r"table\.parquet cannot be read as Parquet .*Use Chunks.from_csv"
    ) as caught:
        Chunks.from_parquet(path)
    assert caught.value.__cause__ is not None
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        Chunks.from_parquet(path, chunk_rows=False)
