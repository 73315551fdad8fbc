"""Dask-distributed fitting, scoring and sampling on a real LocalCluster.

The cluster has two worker processes on loopback, started once for this module.
Oracles: the in-memory estimators on the same data (tested elsewhere against
scikit-learn and scipy), and the same computation on dask's single-threaded
scheduler, which must give identical numbers whatever the number of workers.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from tests.conftest import COVARIANCE_TYPES, make_blobs, make_overlapping

import lookalike as la
from lookalike.distributed import connect, read_dataset, sample

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

RTOL = 1e-8  # the bar; observed differences are ~1e-14


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with connect("local", n_workers=2) as client:
            yield client


def start_of(model: la.GaussianMixture) -> dict[str, np.ndarray]:
    return {
        "weights_init": model.weights_,
        "means_init": model.means_,
        "precisions_init": model.precisions_,
    }


def assert_same_fit(a: la.GaussianMixture, b: la.GaussianMixture) -> None:
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=RTOL)
    np.testing.assert_allclose(a.means_, b.means_, rtol=RTOL, atol=RTOL * np.abs(a.means_).max())
    np.testing.assert_allclose(
        a.covariances_, b.covariances_, rtol=RTOL, atol=RTOL * np.abs(a.covariances_).max()
    )
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=RTOL)
    assert a.n_iter_ == b.n_iter_


def quiet_fit(model: la.GaussianMixture, X, **kwargs) -> la.GaussianMixture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        return model.fit(X, **kwargs)


def test_the_cluster_has_two_workers_without_malloc_trimming(client):
    assert len(client.scheduler_info()["workers"]) == 2
    # Dask's default MALLOC_TRIM_THRESHOLD_ made every EM iteration 2.5x slower.
    seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert set(seen.values()) == {None}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.slow
def test_dask_fit_equals_in_memory_fit_from_the_same_start(client, covariance_type):
    X = make_overlapping(2000, seed=1) - 50.0
    start = la.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    kwargs = dict(covariance_type=covariance_type, tol=0, max_iter=10, **start_of(start))
    memory = quiet_fit(la.GaussianMixture(3, **kwargs), X)
    on_cluster = quiet_fit(la.GaussianMixture(3, **kwargs), da.from_array(X, chunks=(450, 2)))
    assert_same_fit(memory, on_cluster)


@pytest.mark.slow
def test_dask_dataframe_and_sample_weights(client):
    X = make_overlapping(1500, seed=2)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(X))
    start = la.GaussianMixture(2, random_state=0).fit(X)
    kwargs = dict(tol=0, max_iter=6, **start_of(start))
    memory = quiet_fit(la.GaussianMixture(2, **kwargs), X, sample_weight=weights)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(w=weights)
    ddf = dd.from_pandas(frame, npartitions=4)
    on_frame = quiet_fit(
        la.GaussianMixture(2, **kwargs), ddf[["a", "b", "c"]], sample_weight=ddf["w"]
    )
    assert_same_fit(memory, on_frame)
    assert list(on_frame.feature_names_in_) == ["a", "b", "c"]
    on_array = quiet_fit(
        la.GaussianMixture(2, **kwargs),
        da.from_array(X, chunks=(400, 3)),
        sample_weight=da.from_array(weights, chunks=500),  # rechunked to match X
    )
    assert_same_fit(memory, on_array)
    with_numpy_weights = quiet_fit(
        la.GaussianMixture(2, **kwargs), da.from_array(X, chunks=(400, 3)), sample_weight=weights
    )
    assert_same_fit(memory, with_numpy_weights)


def test_missing_values_on_the_cluster(client):
    X = make_overlapping(1200, seed=3)
    X[np.random.default_rng(1).random(X.shape) < 0.15] = np.nan
    start = la.GaussianMixture(3, missing="em", random_state=0).fit(X)
    kwargs = dict(missing="em", tol=0, max_iter=5, **start_of(start))
    memory = quiet_fit(la.GaussianMixture(3, **kwargs), X)
    on_cluster = quiet_fit(la.GaussianMixture(3, **kwargs), da.from_array(X, chunks=(500, 3)))
    assert_same_fit(memory, on_cluster)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_results_do_not_depend_on_the_workers(client, init_params):
    """The cluster (2 workers) and the synchronous scheduler give identical bits."""
    X, _ = make_blobs(4000, seed=4)
    X = da.from_array(X[np.random.default_rng(0).permutation(len(X))], chunks=(1000, 2))
    model = la.GaussianMixture(3, init_params=init_params, random_state=3)
    on_cluster = model.fit(X)
    means = on_cluster.means_.copy()
    with dask.config.set(scheduler="synchronous"):
        single = la.GaussianMixture(3, init_params=init_params, random_state=3).fit(X)
    np.testing.assert_array_equal(means, single.means_)
    assert on_cluster.lower_bound_ == single.lower_bound_
    # and the fit found the blobs: the in-memory maximum of the likelihood
    memory = la.GaussianMixture(3, n_init=3, random_state=0).fit(X.compute())
    assert on_cluster.lower_bound_ == pytest.approx(memory.lower_bound_, abs=1e-6)


def test_scoring_is_lazy_and_equals_in_memory(client):
    X = make_overlapping(1000, seed=5)
    model = la.GaussianMixture(3, random_state=0).fit(X)
    Xd = da.from_array(X, chunks=(300, 3))
    scores = model.score_samples(Xd)
    assert isinstance(scores, da.Array) and scores.shape == (1000,)
    np.testing.assert_allclose(scores.compute(), model.score_samples(X), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(Xd).compute(), model.predict(X))
    proba = model.predict_proba(Xd)
    assert proba.shape == (1000, 3)
    np.testing.assert_allclose(proba.compute(), model.predict_proba(X), atol=1e-12)
    assert model.score(Xd) == pytest.approx(model.score(X), rel=1e-12)
    assert model.bic(Xd) == pytest.approx(model.bic(X), rel=1e-12)
    assert model.aic(Xd) == pytest.approx(model.aic(X), rel=1e-12)
    refitted = la.GaussianMixture(3, random_state=0)
    labels = refitted.fit_predict(Xd)
    np.testing.assert_array_equal(labels.compute(), refitted.predict(X))
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=3)
    named = la.GaussianMixture(3, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_allclose(named.score_samples(frame).compute(), model.score_samples(X))


def test_kde_scores_dask_queries(client):
    X = make_overlapping(500, seed=6)
    queries = make_overlapping(2000, seed=7)
    kde = la.KernelDensity(bandwidth="scott").fit(X)
    scores = kde.score_samples(da.from_array(queries, chunks=(700, 3)))
    assert isinstance(scores, da.Array)
    np.testing.assert_allclose(scores.compute(), kde.score_samples(queries), rtol=1e-12)
    assert kde.score(da.from_array(queries, chunks=(700, 3))) == pytest.approx(
        kde.score(queries), rel=1e-12
    )


def test_sampling_uses_one_stream_per_chunk(client):
    X, _ = make_blobs(3000, seed=8)
    model = la.GaussianMixture(3, random_state=0).fit(X)
    draws, labels = sample(model, 25_000, chunk_rows=10_000, random_state=11)
    assert draws.chunks[0] == (10_000, 10_000, 5_000)
    on_cluster = draws.compute()
    with dask.config.set(scheduler="synchronous"):
        single = sample(model, 25_000, chunk_rows=10_000, random_state=11)[0].compute()
    np.testing.assert_array_equal(on_cluster, single)
    # chunks are different streams, and the draws follow the model: the mean is
    # within 5 standard errors, the component shares within 5 binomial sds
    assert not np.allclose(on_cluster[:100], on_cluster[10_000:10_100])
    expected_mean = model.weights_ @ model.means_
    spread = np.sqrt(np.var(X, axis=0) / len(on_cluster))
    assert np.all(np.abs(on_cluster.mean(axis=0) - expected_mean) < 5 * spread)
    shares = np.bincount(labels.compute(), minlength=3) / 25_000
    assert np.all(np.abs(shares - model.weights_) < 5 * np.sqrt(model.weights_ / 25_000))
    kde_draws = sample(la.KernelDensity(bandwidth=0.5).fit(X), 3000, chunk_rows=1000)
    assert kde_draws.shape == (3000, 2) and np.isfinite(kde_draws.compute()).all()


def test_read_dataset_parquet_folder_and_csv_glob(client, tmp_path):
    X = make_overlapping(900, seed=9)
    frame = pd.DataFrame(X, columns=["x", "y", "z"])
    folder = tmp_path / "data"
    folder.mkdir()
    for part, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(folder / f"part-{part}.parquet", index=False)
        frame.iloc[rows].to_csv(tmp_path / f"part-{part}.csv", index=False)
    start = la.GaussianMixture(2, random_state=0).fit(X)
    kwargs = dict(tol=0, max_iter=4, **start_of(start))
    memory = quiet_fit(la.GaussianMixture(2, **kwargs), X)
    parquet = read_dataset(folder)
    assert parquet.npartitions == 3
    assert_same_fit(memory, quiet_fit(la.GaussianMixture(2, **kwargs), parquet))
    csv = read_dataset(tmp_path / "part-*.csv", columns=["x", "y"])
    assert list(csv.columns) == ["x", "y"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_dataset(tmp_path / "nowhere")


def test_errors_name_the_problem(client):
    X = make_overlapping(400, seed=10)
    with pytest.raises(ValueError, match="2D dask array"):
        la.GaussianMixture(2).fit(da.from_array(X[:, 0], chunks=100))
    bad = X.copy()
    bad[350, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity in partition 3"):
        la.GaussianMixture(2).fit(da.from_array(bad, chunks=(100, 3)))
    text = dd.from_pandas(pd.DataFrame({"a": X[:, 0], "b": ["x"] * len(X)}), npartitions=2)
    with pytest.raises(ValueError, match=r"b \(.*\).* not numeric"):
        la.GaussianMixture(2).fit(text)
    model = la.GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.score_samples(da.from_array(X[:, :2], chunks=(100, 2)))
    with pytest.raises(ValueError, match="sample_weight has 2 partitions"):
        frame = dd.from_pandas(pd.DataFrame(X), npartitions=4)
        weights = dd.from_pandas(pd.Series(np.ones(len(X))), npartitions=2)
        la.GaussianMixture(2).fit(frame, sample_weight=weights)


def test_connect_to_an_unreachable_scheduler_fails_fast():
    began = time.perf_counter()
    with (
        pytest.raises(OSError, match="Could not reach a Dask scheduler"),
        connect("tcp://127.0.0.1:1", timeout=1),
    ):
        pass
    assert time.perf_counter() - began < 15
