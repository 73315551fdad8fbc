"""The Synthesizer on partitioned tables, on a real LocalCluster (issue 16).

Oracles: the in-memory Synthesizer on the same rows (its codecs' exact parts: kinds,
missing rates, ranges, grids, grains, category shares, ids); the in-memory estimators
(``Gaussian``, ``GaussianMixture``) on the same normal scores; the documented sampling
scheme computed by hand (``Synthesizer.sample`` with ``SeedSequence(seed).spawn(k)``
children); and the same computation on another number of workers.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lookalike as la
from lookalike.chunks import Chunks
from lookalike.distributed import connect
from lookalike.tabular import Synthesizer
from lookalike.tabular.columns.base import marginal_of
from lookalike.tabular.partitioned import (
    TableSource,
    encode_partitions,
    merge_kinds,
    sample_quotas,
)

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with connect("local", n_workers=2) as client:
            yield client


def mixed(n: int, seed: int = 0) -> pd.DataFrame:
    """A mixed table: dependent numbers with decimals, a grid, NaN, text, bool, dates, ids."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    frame = pd.DataFrame(
        {
            "user_id": np.arange(1000, 1000 + n),
            "size": (2.0 * z[:, 0] + 10.0).round(2),
            "income": np.exp(z[:, 1] + 0.6 * z[:, 0]).round(3),
            "visits": 5 * rng.poisson(3 + 2 * (z[:, 0] > 0), n) + 20,
            "colour": np.where(z[:, 2] > 0.3, "red", np.where(z[:, 2] < -1, "blue", "green")),
            "member": z[:, 1] > 0.2,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame["colour"] = frame["colour"].astype(object)
    return frame


def partitioned(frame: pd.DataFrame, npartitions: int):
    # Keep object text as object (dask would turn it into pyarrow strings).
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_pandas(frame, npartitions=npartitions, sort=False)


def test_merge_kinds_and_quotas():
    assert merge_kinds(["integer", "integer", None]) == "integer"
    assert merge_kinds(["integer", "continuous"]) == "continuous"
    assert merge_kinds(["id", "integer"]) == "integer"
    assert merge_kinds(["id", "id"]) == "id"
    assert merge_kinds(["datetime", "categorical"]) == "categorical"
    assert merge_kinds([None, None]) is None
    quotas = sample_quotas([10, 30, 60, 0], 7)
    assert quotas.sum() == 7 and quotas.tolist() == [1, 2, 4, 0]
    assert sample_quotas([3, 4], 100).tolist() == [3, 4]


def test_codecs_from_partitions_equal_in_memory_codecs_where_exact(client):
    frame = mixed(8000, seed=1)
    sample_rows = 2000
    synth = Synthesizer("gaussian", ids="regenerate", random_state=0)
    synth.fit(partitioned(frame, 4), sample_rows=sample_rows)
    memory = Synthesizer("gaussian", ids="regenerate", random_state=0).fit(frame)
    assert synth.n_rows_ == 8000 and synth.partitions_["sample_rows"] == sample_rows
    for got, want in zip(synth.schema_, memory.schema_, strict=True):
        assert (got.name, got.kind, got.dtype) == (want.name, want.kind, want.dtype)
        assert got.missing_rate == want.missing_rate
        for attribute in ("low", "high", "decimals", "step", "grain", "largest", "levels"):
            assert getattr(got, attribute, None) == getattr(want, attribute, None), attribute
        if hasattr(want, "probabilities"):
            np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-14)
        if want.kind in ("continuous", "integer"):
            # DKW: the sample marginal's Kolmogorov distance from the full column's
            # exceeds sqrt(ln(2 / 1e-6) / (2 S)) with probability < 1e-6 (plus half an
            # atom-free knot step of the 4096-knot compression, far smaller here).
            values = np.sort(frame[want.name].dropna().to_numpy(dtype=float))
            _, cdf = la._math.marginals.cdf_interval(marginal_of(got), values)
            empirical = np.searchsorted(values, values, side="right") / values.size
            observed_sample = sample_rows * (1 - want.missing_rate)
            bound = np.sqrt(np.log(2 / 1e-6) / (2 * observed_sample)) + 1 / values.size
            assert np.max(np.abs(cdf - empirical)) < bound


def test_grids_grains_and_kinds_merge_over_partitions(client):
    # Partition 0 alone would give: whole numbers, a grid of 10, daily dates; the rows of
    # partition 1 make the column fractional, the grid 5 and the dates hourly.
    first = pd.DataFrame(
        {
            "x": np.arange(50, dtype=float),
            "n": 10 * np.arange(50),
            "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(50), "D"),
        }
    )
    second = first.copy()
    second.loc[0, "x"] = 0.5
    second.loc[0, "n"] = 5
    second.loc[0, "t"] = pd.Timestamp("2020-01-01 03:00")
    frame = pd.concat([first, second], ignore_index=True)
    table = dd.from_pandas(frame, npartitions=2, sort=False)
    assert table.npartitions == 2
    synth = Synthesizer("trees", random_state=0).fit(table, sample_rows=20)
    memory = Synthesizer("trees", random_state=0).fit(frame)
    for got, want in zip(synth.schema_, memory.schema_, strict=True):
        assert got.kind == want.kind
        for attribute in ("low", "high", "decimals", "step", "grain"):
            assert getattr(got, attribute, None) == getattr(want, attribute, None), attribute
    assert synth.encoder_.codec("t").grain == "h"
    # The sample's marginal, fitted at its own grain, was moved onto the hourly grain.
    stamps = synth.sample(500, random_state=1)["t"]
    assert stamps.min() >= frame["t"].min() and stamps.max() <= frame["t"].max()


def test_partitioned_gaussian_equals_in_memory_gaussian_on_the_same_scores(client):
    # Without 'member' no label explains the other columns (colour is independent of
    # them), so the Gaussian family is one copula, fitted by EM on every row.
    frame = mixed(6000, seed=2).drop(columns="member")
    table = partitioned(frame, 3)
    synth = Synthesizer("gaussian", random_state=3).fit(table, sample_rows=1500)
    assert synth.summary()["partitions"]["model_fit"] == "partitioned EM on every row"
    info = synth.partitions_
    scores = encode_partitions(
        TableSource(table), synth.encoder_, info["lengths"], info["seed_entropy"]
    ).compute()
    assert scores.shape == (6000, synth.encoder_.n_dims) and np.isfinite(scores).all()
    oracle = la.Gaussian(reg_covar=1e-4).fit(scores)
    fitted = synth.model_.estimator_
    # EM on partitions sums moments partition by partition: rounding only.
    np.testing.assert_allclose(fitted.means_, oracle.means_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.covariances_, oracle.covariances_, rtol=1e-10)


def test_partitioned_gaussian_with_a_label_last_fits_a_normal_per_level_on_the_sample(client):
    # The table ends with a label: the Gaussian family follows it (one normal per
    # level), as in memory, fitted to the seeded sample rather than by EM on all rows.
    frame = mixed(4000, seed=5)
    frame["colour"] = frame.pop("colour")
    synth = Synthesizer("gaussian", random_state=0).fit(partitioned(frame, 2), sample_rows=2000)
    assert synth.partitions_["model_fit"] == "in memory on the seeded sample of 2000 rows"
    assert synth.model_.first == "colour" and synth.model_.estimator_.n_components == 3
    drawn = synth.sample(6000, random_state=1)
    for level, rows in frame.groupby("colour"):  # size depends on z0 only, not on colour
        fake = drawn.loc[drawn["colour"] == level, "size"]
        assert abs(fake.mean() - rows["size"].mean()) < 4 * 2.0 / np.sqrt(fake.size) + 0.05


def test_partitioned_mixture_equals_in_memory_em_from_the_same_start(client):
    frame = mixed(5000, seed=4)
    table = partitioned(frame, 4)
    d = Synthesizer("gaussian", random_state=0).fit(table, sample_rows=500).encoder_.n_dims
    rng = np.random.default_rng(0)
    start = {
        "weights_init": np.full(3, 1 / 3),
        "means_init": rng.normal(scale=0.5, size=(3, d)),
        "precisions_init": np.repeat(np.eye(d)[None], 3, axis=0),
    }
    model = la.GaussianMixture(3, tol=0, max_iter=8, reg_covar=1e-4, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.exceptions.ConvergenceWarning)
        synth = Synthesizer(model, random_state=5).fit(table, sample_rows=500)
        info = synth.partitions_
        scores = encode_partitions(
            TableSource(table), synth.encoder_, info["lengths"], info["seed_entropy"]
        ).compute()
        oracle = la.GaussianMixture(3, tol=0, max_iter=8, reg_covar=1e-4, **start).fit(scores)
    fitted = synth.model_.estimator_
    np.testing.assert_allclose(fitted.weights_, oracle.weights_, rtol=1e-8)
    np.testing.assert_allclose(fitted.means_, oracle.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitted.covariances_, oracle.covariances_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitted.lower_bound_, oracle.lower_bound_, rtol=1e-10)


def _distances(real: pd.DataFrame, fake: pd.DataFrame) -> dict[str, float]:
    """KS distance per numeric/date column, total variation per categorical column."""
    found = {}
    for name in fake.columns:
        if name in ("colour", "member"):
            p = real[name].value_counts(normalize=True)
            q = fake[name].value_counts(normalize=True)
            found[name] = 0.5 * p.subtract(q, fill_value=0).abs().sum()
        else:
            a = pd.to_numeric(real[name]).dropna().to_numpy(dtype=float)
            b = pd.to_numeric(fake[name]).dropna().to_numpy(dtype=float)
            found[name] = stats.ks_2samp(a, b).statistic
    return found


def test_trees_on_the_sample_match_the_in_memory_fit_in_quality(client):
    frame = mixed(6000, seed=6).drop(columns="user_id")
    synth = Synthesizer("trees", random_state=0).fit(partitioned(frame, 3), sample_rows=3000)
    assert synth.partitions_["model_rows"] == 3000
    memory = Synthesizer("trees", random_state=0).fit(frame)
    fake, fake_memory = synth.sample(6000, random_state=1), memory.sample(6000, random_state=1)
    ours, theirs = _distances(frame, fake), _distances(frame, fake_memory)
    # Two-sample KS at a 1e-4 false-failure rate for 6000 vs 6000 rows is 0.040; the
    # sample's own marginal error (3000 rows) adds about as much: 0.08 in all. Total
    # variation of 3 levels from 6000 rows: below 0.03 at the same rate.
    for name, distance in ours.items():
        assert distance < (0.03 if name in ("colour", "member") else 0.08), (name, distance)
        assert distance < theirs[name] + 0.05, (name, distance, theirs[name])
    # Dependence kept: the correlation of size and income (log) as in the real rows.
    real_corr = frame[["size", "income"]].assign(income=np.log(frame["income"])).corr().iloc[0, 1]
    fake_corr = fake[["size", "income"]].assign(income=np.log(fake["income"])).corr().iloc[0, 1]
    assert abs(fake_corr - real_corr) < 0.1


def test_sampling_does_not_depend_on_the_number_of_workers(client):
    frame = mixed(3000, seed=7)
    synth = Synthesizer("gaussian", ids="regenerate", random_state=0).fit(frame)
    lazy = synth.sample_partitions(4000, npartitions=3, random_state=11)
    assert lazy.npartitions == 3
    two_workers = lazy.compute()
    with dask.config.set(scheduler="synchronous"):
        one_thread = synth.sample_partitions(4000, npartitions=3, random_state=11).compute()
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, dashboard_address=None, threads_per_worker=1
        ) as cluster,
        distributed.Client(cluster) as one,
    ):
        one_worker = one.compute(
            synth.sample_partitions(4000, npartitions=3, random_state=11)
        ).result()
    pd.testing.assert_frame_equal(two_workers, one_thread)
    pd.testing.assert_frame_equal(two_workers, one_worker)
    # The documented scheme, by hand: partition i is sample(size_i) with child i.
    children = np.random.SeedSequence(11).spawn(3)
    bounds = [(0, 1334), (1334, 2667), (2667, 4000)]  # 4000 rows: the first one larger
    for child, (start, stop) in zip(children, bounds, strict=True):
        by_hand = synth.sample(stop - start, random_state=np.random.default_rng(child))
        got = two_workers.iloc[start:stop].reset_index(drop=True).drop(columns="user_id")
        # (dask turns object text into pyarrow strings)
        by_hand = by_hand.drop(columns="user_id").astype(got.dtypes.to_dict())
        pd.testing.assert_frame_equal(got, by_hand)
    # Regenerated integer ids continue across partitions: unique, after the observed ones.
    ids = two_workers["user_id"].to_numpy()
    assert np.unique(ids).size == 4000 and ids.min() > frame["user_id"].max()
    assert not two_workers.equals(synth.sample_partitions(4000, 3, random_state=12).compute())


def test_where_holds_in_every_partition_and_parquet_is_written(client, tmp_path):
    frame = mixed(3000, seed=8)
    synth = Synthesizer("trees", random_state=0).fit(partitioned(frame, 2), sample_rows=2000)
    lazy = synth.sample_partitions(
        2500, npartitions=3, where={"colour": "red", "size": (9.0, 11.0)}, random_state=0
    )
    out = tmp_path / "fake"
    lazy.to_parquet(out)
    assert len(list(out.glob("*.parquet"))) == 3
    back = pd.read_parquet(out)
    assert len(back) == 2500 and set(back["colour"]) == {"red"}
    assert back["size"].between(9.0, 11.0).all()
    with pytest.raises(ValueError, match="not a category"):
        synth.sample_partitions(10, where={"colour": "purple"})


def _worker_table(n_parts: int, rows: int):
    """A table built on the workers: the client never holds its rows.

    Without 'member', no label explains the other columns: "gaussian" is then one
    copula fitted by EM on every row (a label would make it a copula per level,
    fitted in memory to the seeded sample).
    """
    return dd.from_map(lambda i: mixed(rows, seed=100 + i).drop(columns="member"), range(n_parts))


def test_the_client_never_collects_the_table(client, monkeypatch):
    table = _worker_table(8, 15_000)
    table_bytes = mixed(15_000, seed=100).drop(columns="member").memory_usage(deep=True).sum() * 8

    def refuse(*args, **kwargs):
        raise AssertionError("the whole table was collected on the client")

    monkeypatch.setattr(type(table), "compute", refuse)
    tracemalloc.start()
    try:
        synth = Synthesizer("gaussian", random_state=0).fit(table, sample_rows=5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert synth.n_rows_ == 120_000
    # The client holds the 5000-row sample (4% of the rows), its scores and small
    # summaries: a quarter of the table's bytes is far above that and far below the table.
    assert peak < table_bytes / 4, (peak, table_bytes)


def test_chunks_parquet_path_and_dask_frame_give_the_same_fit(client, tmp_path):
    frame = mixed(4000, seed=9)
    table = dd.from_pandas(frame, npartitions=2, sort=False)  # text as pyarrow strings
    text = table.dtypes["colour"]
    pieces = [
        frame.iloc[:2000].reset_index(drop=True).astype({"colour": text}),
        frame.iloc[2000:].reset_index(drop=True).astype({"colour": text}),
    ]
    from_dask = Synthesizer("gaussian", random_state=0).fit(table, sample_rows=1000)
    from_chunks = Synthesizer("gaussian", random_state=0).fit(Chunks(pieces), sample_rows=1000)
    path = tmp_path / "real"
    table.to_parquet(path)
    from_path = Synthesizer("gaussian", random_state=0).fit(str(path), sample_rows=1000)
    for other in (from_chunks, from_path):
        assert other.partitions_["lengths"] == from_dask.partitions_["lengths"] == [2000, 2000]
        assert [c.describe() for c in other.schema_] == [c.describe() for c in from_dask.schema_]
        np.testing.assert_allclose(
            other.model_.estimator_.covariances_,
            from_dask.model_.estimator_.covariances_,
            rtol=1e-12,
        )


def test_partitioned_input_errors_name_the_problem(client):
    frame = mixed(500, seed=10)
    with pytest.raises(TypeError, match="Chunks of DataFrames"):
        Synthesizer().fit(Chunks([frame.to_numpy()[:, 1:3].astype(float)]))
    empty = frame.assign(nothing=np.nan)
    with pytest.raises(ValueError, match="'nothing' has no observed value"):
        Synthesizer("gaussian").fit(partitioned(empty, 2))
    with pytest.raises(ValueError, match="sample_rows"):
        Synthesizer("gaussian").fit(partitioned(frame, 2), sample_rows=1)
    with pytest.raises(ValueError, match="unknown column 'nope' in kinds"):
        Synthesizer("gaussian", kinds={"nope": "integer"}).fit(partitioned(frame, 2))
    with pytest.raises(ValueError, match="persist"):
        Synthesizer("gaussian").fit(partitioned(frame, 2), persist="always")
    with pytest.raises(FileNotFoundError):
        Synthesizer("gaussian").fit("/nonexistent/table.parquet")
    with pytest.raises(ValueError, match="npartitions"):
        Synthesizer("gaussian", random_state=0).fit(frame).sample_partitions(10, npartitions=0)


def test_sample_partitions_sizes_dtypes_and_index():
    frame = mixed(400, seed=11)
    synth = Synthesizer("gaussian", random_state=0).fit(frame)
    with dask.config.set(scheduler="synchronous"):
        empty = synth.sample_partitions(0).compute()
        few = synth.sample_partitions(2, npartitions=5, random_state=0)
        assert few.npartitions == 2
        rows = synth.sample_partitions(1001, npartitions=4, random_state=0)
        drawn = rows.compute()
    assert len(empty) == 0 and list(empty.columns) == list(synth.sample(1).columns)
    assert rows.divisions == (0, 251, 501, 751, 1000)
    assert drawn.index.equals(pd.RangeIndex(1001))
    expected = synth.sample(5).dtypes
    assert drawn.dtypes.drop("colour").equals(expected.drop("colour"))


def test_a_partitioned_fit_saves_and_loads(tmp_path):
    frame = mixed(2000, seed=12)
    with dask.config.set(scheduler="synchronous"):
        synth = Synthesizer("gaussian", random_state=0).fit(partitioned(frame, 2), sample_rows=500)
    path = tmp_path / "synth.lookalike"
    la.save(synth, path)
    loaded = la.load(path)
    pd.testing.assert_frame_equal(
        loaded.sample(300, random_state=1), synth.sample(300, random_state=1)
    )
    assert loaded.summary()["partitions"]["rows"] == 2000


def test_random_text_ids_are_regenerated_unlike_the_sampled_ones():
    frame = mixed(600, seed=13)
    rng = np.random.default_rng(0)
    frame["token"] = ["".join(rng.choice(list("abcdefgh"), 12)) for _ in range(len(frame))]
    with dask.config.set(scheduler="synchronous"):
        synth = Synthesizer("gaussian", ids="regenerate", random_state=0)
        synth.fit(partitioned(frame, 3), sample_rows=200)
        fake = synth.sample_partitions(300, npartitions=2, random_state=0).compute()
    codec = synth.encoder_.codec("token")
    assert codec.kind == "id" and np.size(codec.observed) == 200
    assert fake["token"].str.len().eq(12).all() and fake["token"].is_unique
    assert not set(fake["token"]) & set(frame["token"])


@pytest.mark.parametrize(
    ("nbytes", "limits", "kept"),
    [
        (2 * 2**30, [12 * 2**30, 12 * 2**30], True),  # 1 GiB per worker, 1/12 of memory
        (3 * 2**30, [12 * 2**30, 12 * 2**30], False),  # 1.5 GiB per worker: over the cap
        (2**30, [2**30, 2**30], False),  # over a quarter of the workers' memory
        (2**20, [0, 2**30], False),  # a worker without a memory limit
    ],
)
def test_auto_persist_keeps_scores_within_a_share_and_a_cap_per_worker(
    monkeypatch, nbytes, limits, kept
):
    from lookalike.tabular import partitioned_model

    class Scores:
        def __init__(self) -> None:
            self.nbytes = nbytes

        def __dask_graph__(self) -> dict:
            return {}

        def persist(self) -> str:
            return "persisted"

    class Client:
        def scheduler_info(self) -> dict:
            return {"workers": {str(i): {"memory_limit": m} for i, m in enumerate(limits)}}

    monkeypatch.setattr(partitioned_model, "current_client", lambda: Client())
    scores = Scores()
    result = partitioned_model._persisted(scores, "auto")
    assert (result == "persisted") is kept
    assert partitioned_model._persisted(scores, True) == "persisted"
    assert partitioned_model._persisted(scores, False) is scores
