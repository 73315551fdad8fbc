"""ModelSearch against independent loops, scikit-learn's GridSearchCV and brute force.

Every score in ``results_`` is recomputed by an obvious loop (fit each candidate,
call its ``bic``/``aic``/``score_samples`` on KFold folds) and compared at
rtol 1e-10; the selection is compared with GridSearchCV.
"""

from __future__ import annotations

import itertools
import re
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_moons
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity as SkKernelDensity

import lookalike.model_selection as ms
from conftest import make_blobs
from lookalike._kmeans_cache import kmeans_cache
from lookalike.exceptions import ConvergenceWarning, NotFittedError
from lookalike.gaussian import Gaussian
from lookalike.kde import KernelDensity
from lookalike.mixture import GaussianMixture
from lookalike.model_selection import ModelSearch
from lookalike.reduced import ReducedDensity

RTOL = 1e-10


def shuffled_blobs(n_samples: int = 300, seed: int = 0) -> np.ndarray:
    """Three blobs, rows in random order (KFold does not shuffle)."""
    X, _ = make_blobs(n_samples, seed=seed)
    return X[np.random.default_rng(seed + 1).permutation(n_samples)]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data


@pytest.fixture
def kmeans_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts KMeans.fit calls (thread safe)."""
    calls: list[int] = []
    lock = threading.Lock()
    original = KMeans.fit

    def counting_fit(self, *args, **kwargs):
        with lock:
            calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KMeans, "fit", counting_fit)
    return calls


def manual_cv(estimator, X: np.ndarray, cv: int) -> tuple[float, float]:
    """Mean and std over KFold folds of the held-out mean log-density."""
    scores = []
    for train, test in KFold(cv).split(X):
        fitted = type(estimator)(**estimator.get_params()).fit(X[train])
        scores.append(np.mean(fitted.score_samples(X[test])))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------------------
# Information criteria


def test_bic_aic_equal_manual_loop_and_bic_finds_three_blobs(kmeans_calls):
    X = shuffled_blobs()
    grid = {"n_components": [1, 2, 3, 4, 5], "covariance_type": ["full", "diag"]}
    search = ModelSearch(GaussianMixture(), grid, criterion="bic", random_state=0).fit(X)
    table = search.results_
    assert len(kmeans_calls) == 5  # one k-means per n_components, shared by both types
    assert len(table) == 10
    for row in table.itertuples():
        gm = GaussianMixture(
            int(row.n_components), covariance_type=row.covariance_type, random_state=0
        ).fit(X)
        expected = {"covariance_type": row.covariance_type, "n_components": gm.n_components}
        assert row.params == expected
        np.testing.assert_allclose(row.bic, gm.bic(X), rtol=RTOL)
        np.testing.assert_allclose(row.aic, gm.aic(X), rtol=RTOL)
        np.testing.assert_allclose(row.log_likelihood, gm.score(X), rtol=RTOL)
        assert row.n_parameters == gm._n_parameters()
        assert row.converged == gm.converged_
    # 10 manual fits ran 10 k-means: the search shared them pairwise.
    assert len(kmeans_calls) == 15
    assert search.criterion_ == "bic"
    assert search.best_index_ == int(np.argmin(table["bic"]))
    assert search.best_score_ == table["bic"].min()
    assert search.best_params_["n_components"] == 3
    assert table["rank"][search.best_index_] == 1
    assert sorted(table["rank"]) == list(range(1, 11))
    assert np.all(np.isnan(table["cv_log_likelihood"])) and np.all(np.isnan(table["cv_std"]))
    # The refitted best is the candidate itself: its score equals the table's.
    np.testing.assert_allclose(search.score(X), table["log_likelihood"][search.best_index_])
    np.testing.assert_array_equal(
        search.score_samples(X[:5]), search.best_estimator_.score_samples(X[:5])
    )
    assert search.sample(7, random_state=0)[0].shape == (7, 2)


def test_criterion_defaults_to_bic_when_every_candidate_counts_parameters():
    X = shuffled_blobs(200)
    grid = [
        {"model": [Gaussian()]},
        {"model": [ReducedDensity(GaussianMixture())], "estimator__n_components": [1, 2]},
        {"model": [GaussianMixture(covariance_type="spherical")], "n_components": [2]},
    ]
    search = ModelSearch(param_grid=grid, random_state=0, model=GaussianMixture()).fit(X)
    assert search.criterion_ == "bic"
    table = search.results_
    assert table["model"].tolist() == [
        "Gaussian",
        "ReducedDensity",
        "ReducedDensity",
        "GaussianMixture",
    ]
    manual = [
        Gaussian().fit(X),
        ReducedDensity(GaussianMixture(1, random_state=0)).fit(X),
        ReducedDensity(GaussianMixture(2, random_state=0)).fit(X),
        GaussianMixture(2, covariance_type="spherical", random_state=0).fit(X),
    ]
    np.testing.assert_allclose(table["bic"], [m.bic(X) for m in manual], rtol=RTOL)
    np.testing.assert_allclose(table["aic"], [m.aic(X) for m in manual], rtol=RTOL)
    # Missing parameters: NaN for numbers.
    assert np.isnan(table["estimator__n_components"][0])
    assert table["estimator__n_components"][1:3].tolist() == [1.0, 2.0]
    assert np.isnan(table["n_components"][:3]).all()
    best = dict(search.best_params_)
    assert type(best.pop("model")).__name__ == table["model"][search.best_index_]
    assert best == table["params"][search.best_index_]


def test_sample_weight_integer_weights_equal_repeated_rows():
    X = shuffled_blobs(60)
    weights = np.random.default_rng(0).integers(1, 4, len(X))
    repeated = np.repeat(X, weights, axis=0)
    grid = {"covariance_type": ["full", "diag", "spherical"]}
    weighted = ModelSearch(Gaussian(), grid, criterion="aic").fit(X, sample_weight=weights)
    plain = ModelSearch(Gaussian(), grid, criterion="aic").fit(repeated)
    for column in ("log_likelihood", "bic", "aic", "n_parameters"):
        np.testing.assert_allclose(weighted.results_[column], plain.results_[column], rtol=1e-9)


# --------------------------------------------------------------------------------------
# Held-out likelihood


def test_cv_equals_manual_kfold_loop_for_mixtures_and_kde(monkeypatch):
    X = shuffled_blobs(240)
    grid = [
        {"model": [GaussianMixture(random_state=0)], "n_components": [1, 3]},
        {"model": [KernelDensity()], "bandwidth": [0.3, 0.7, 1.5]},
    ]
    search = ModelSearch(param_grid=grid, criterion="cv", cv=4).fit(X)
    table = search.results_
    assert search.criterion_ == "cv"
    candidates = [GaussianMixture(1, random_state=0), GaussianMixture(3, random_state=0)] + [
        KernelDensity(bandwidth=h) for h in (0.3, 0.7, 1.5)
    ]
    for row, estimator in zip(table.itertuples(), candidates, strict=True):
        mean, std = manual_cv(estimator, X, 4)
        np.testing.assert_allclose(row.cv_log_likelihood, mean, rtol=RTOL)
        np.testing.assert_allclose(row.cv_std, std, rtol=1e-8)
        full = type(estimator)(**estimator.get_params()).fit(X)
        np.testing.assert_allclose(row.log_likelihood, np.mean(full.score_samples(X)), rtol=RTOL)
    assert np.isnan(table["bic"][2:]).all() and np.isnan(table["n_parameters"][2:]).all()
    assert np.isfinite(table["bic"][:2]).all()
    assert table["model"].tolist() == ["GaussianMixture"] * 2 + ["KernelDensity"] * 3
    assert search.best_index_ == int(np.argmax(table["cv_log_likelihood"]))
    assert table["rank"][search.best_index_] == 1

    # The bandwidth-grid path (one distance pass per fold) equals fitting each candidate.
    monkeypatch.setattr(ms, "KDE_GRID_FAST_PATH", False)
    slow = ModelSearch(param_grid=grid, criterion="cv", cv=4).fit(X).results_
    for column in ("cv_log_likelihood", "cv_std", "log_likelihood"):
        np.testing.assert_allclose(table[column], slow[column], rtol=1e-9)


@pytest.mark.slow
def test_digits_kde_bandwidth_matches_gridsearchcv(digits):
    """Workflow 1: bandwidth of np.logspace(-1, 1, 20) by 5-fold CV on the digits.

    The oracle is GridSearchCV over scikit-learn's KernelDensity evaluated by brute
    force (one leaf holding every row). With its default tree (leaf_size=40),
    scikit-learn's rtol=0 log-densities on the digits are off by thousands of nats in
    total, and it then picks 1.83 instead of the exact optimum 2.34.
    """
    bandwidths = np.logspace(-1, 1, 20)
    search = ModelSearch(KernelDensity(), {"bandwidth": bandwidths}, criterion="cv", cv=5)
    search.fit(digits)
    # Brute force is exact but slow: check the sub-grid around the optimum with sklearn.
    window = bandwidths[10:15]
    reference = GridSearchCV(SkKernelDensity(leaf_size=len(digits)), {"bandwidth": window}, cv=5)
    reference.fit(digits)
    assert search.best_params_["bandwidth"] == reference.best_params_["bandwidth"]
    assert search.best_index_ == 10 + reference.best_index_
    sizes = np.array([len(test) for _, test in KFold(5).split(digits)])
    per_sample = np.mean(
        [reference.cv_results_[f"split{k}_test_score"] / sizes[k] for k in range(5)], axis=0
    )
    np.testing.assert_allclose(search.results_["cv_log_likelihood"][10:15], per_sample, rtol=1e-9)


@pytest.mark.slow
def test_digits_pca_aic_sweep_equals_manual_aic(digits):
    """Workflow 2: AIC of mixtures on whitened PCA(0.99) digits (coarse: 20 and 40)."""
    X = PCA(0.99, whiten=True).fit_transform(digits)
    assert X.shape == (1797, 41)
    ladder = [20, 40]
    search = ModelSearch(
        GaussianMixture(), {"n_components": ladder}, criterion="aic", random_state=0
    ).fit(X)
    manual = [GaussianMixture(k, random_state=0).fit(X).aic(X) for k in ladder]
    np.testing.assert_allclose(search.results_["aic"], manual, rtol=RTOL)
    assert search.best_index_ == int(np.argmin(manual))


@pytest.mark.slow
def test_auto_picks_mixture_on_blobs_and_kde_on_moons():
    blobs = shuffled_blobs(300)
    search = ModelSearch(random_state=0).fit(blobs)
    table = search.results_
    assert search.criterion_ == "cv"
    assert set(table["model"]) == {"Gaussian", "GaussianMixture", "KernelDensity"}
    assert search.best_index_ == int(np.argmax(table["cv_log_likelihood"]))
    assert table["model"][search.best_index_] == "GaussianMixture"
    assert table["n_components"][search.best_index_] == 3
    # The ladder is capped at n_samples / 10 = 30 and has both covariance types.
    mixtures = table[table["model"] == "GaussianMixture"]
    assert sorted(set(mixtures["n_components"])) == [1, 2, 3, 5, 8, 13, 21]
    assert set(mixtures["covariance_type"]) == {"full", "diag"}

    moons = make_moons(300, noise=0.05, random_state=0)[0]
    moons = moons[np.random.default_rng(0).permutation(len(moons))]
    search = ModelSearch(random_state=0).fit(moons)
    table = search.results_
    assert search.best_index_ == int(np.argmax(table["cv_log_likelihood"]))
    assert table["model"][search.best_index_] == "KernelDensity"
    best_mixture = table.loc[table["model"] != "KernelDensity", "cv_log_likelihood"].max()
    assert table["cv_log_likelihood"][search.best_index_] > best_mixture


def test_auto_adds_reduced_candidates_for_wide_data():
    X = np.random.default_rng(0).normal(size=(60, 22))
    grid = ms._auto_grid(X, None)
    assert [type(g["model"][0]).__name__ for g in grid] == [
        "Gaussian",
        "GaussianMixture",
        "KernelDensity",
        "ReducedDensity",
    ]
    assert grid[1]["n_components"] == [1, 2, 3, 5]
    assert grid[3]["estimator__n_components"] == [1, 2, 3, 5]
    assert len(grid[2]["bandwidth"]) == 21


# --------------------------------------------------------------------------------------
# Parallelism, reproducibility, cache


def test_tables_do_not_depend_on_n_jobs_and_are_reproducible():
    X = shuffled_blobs(150)
    grid = [
        {
            "model": [GaussianMixture()],
            "n_components": [2, 3],
            "covariance_type": ["full", "spherical"],
        },
        {"model": [KernelDensity()], "bandwidth": [0.5, 1.0]},
    ]
    tables = [
        ModelSearch(param_grid=grid, criterion="cv", cv=3, n_jobs=n_jobs, random_state=7)
        .fit(X)
        .results_.drop(columns="fit_time")
        for n_jobs in (1, 2, 2)
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    pd.testing.assert_frame_equal(tables[1], tables[2], check_exact=True)


def test_kmeans_cache_gives_identical_fits_with_fewer_runs(kmeans_calls):
    X = shuffled_blobs(200)
    settings = list(itertools.product(["full", "diag", "tied"], [0, 1]))

    def fit_all():
        return [
            GaussianMixture(3, covariance_type=c, n_init=2, random_state=s).fit(X)
            for c, s in settings
        ]

    plain = fit_all()
    assert len(kmeans_calls) == 12
    with kmeans_cache() as cache:
        cached = fit_all()
    assert len(kmeans_calls) == 12 + 4  # two seeds x two initialisations
    assert (cache.misses, cache.hits) == (4, 8)
    for a, b in zip(plain, cached, strict=True):
        np.testing.assert_array_equal(a.means_, b.means_)
        np.testing.assert_array_equal(a.covariances_, b.covariances_)
        assert a.lower_bound_ == b.lower_bound_
    # A RandomState instance ends in the same state as without the cache.
    states = []
    for use_cache in (False, True):
        rng = np.random.RandomState(5)
        if use_cache:
            with kmeans_cache():
                GaussianMixture(2, random_state=np.random.RandomState(5)).fit(X)
                GaussianMixture(2, random_state=rng).fit(X)
        else:
            GaussianMixture(2, random_state=rng).fit(X)
        states.append(rng.get_state()[1])
    np.testing.assert_array_equal(states[0], states[1])


# --------------------------------------------------------------------------------------
# Warnings, messages, errors


def test_convergence_warnings_are_collected_and_issued_once():
    X = shuffled_blobs(150)
    grid = {"n_components": [2, 3], "max_iter": [1]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = ModelSearch(GaussianMixture(tol=0), grid, criterion="bic", random_state=0)
        search.fit(X)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1
    assert "2 of 2 candidates did not converge" in str(convergence[0].message)
    assert search.results_["converged"].tolist() == [False, False]
    converged = ModelSearch(GaussianMixture(), {"n_components": [2]}, random_state=0).fit(X)
    assert converged.results_["converged"].tolist() == [True]


def test_verbose_prints_one_line_per_candidate(capsys):
    X = shuffled_blobs(100)
    grid = {"n_components": [1, 2], "covariance_type": ["full"]}
    ModelSearch(GaussianMixture(), grid, criterion="aic", random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    pattern = r"\[ModelSearch\] 2/2 GaussianMixture (covariance_type=full n_components=2|"
    pattern += r"n_components=2 covariance_type=full): aic=-?[0-9.e+]+, [0-9.]+ s"
    assert lines[0].startswith("[ModelSearch] 1/2 GaussianMixture")
    assert re.fullmatch(pattern, lines[1]), lines[1]
    ModelSearch(GaussianMixture(), grid, criterion="aic", random_state=0).fit(X)
    assert capsys.readouterr().out == ""


def test_errors():
    X = shuffled_blobs(100)
    with pytest.raises(ValueError, match="criterion"):
        ModelSearch(GaussianMixture(), criterion="mdl").fit(X)
    with pytest.raises(ValueError, match="criterion='cv'"):
        ModelSearch(KernelDensity(), {"bandwidth": [0.5]}, criterion="bic").fit(X)
    with pytest.raises(ValueError, match="no candidate"):
        ModelSearch(GaussianMixture(), []).fit(X)
    with pytest.raises(ValueError, match="non-empty"):
        ModelSearch(GaussianMixture(), {"n_components": []}).fit(X)
    with pytest.raises(ValueError, match="Invalid parameter 'n_component'"):
        ModelSearch(GaussianMixture(), {"n_component": [1, 2]}).fit(X)
    with pytest.raises(ValueError, match="'model'"):
        ModelSearch("auto", {"n_components": [1, 2]}).fit(X)
    with pytest.raises(NotFittedError):
        ModelSearch(GaussianMixture()).score_samples(X)
    unrefitted = ModelSearch(GaussianMixture(), {"n_components": [1]}, refit=False).fit(X)
    assert not hasattr(unrefitted, "best_estimator_")
    with pytest.raises(NotFittedError, match="refit=True"):
        unrefitted.score_samples(X)


def test_failed_candidates_get_nan_scores_and_a_warning():
    X = shuffled_blobs(50)
    grid = {"n_components": [2, 60]}  # 60 > n_samples: that fit raises ValueError
    with pytest.warns(FitFailedWarning, match="n_components=60"):
        search = ModelSearch(GaussianMixture(), grid, criterion="bic", random_state=0).fit(X)
    table = search.results_
    assert np.isfinite(table["bic"][0]) and np.isnan(table["bic"][1])
    assert table["rank"].tolist() == [1, 2] and search.best_index_ == 0
    assert table["converged"].tolist() == [True, False]
    with pytest.raises(ValueError, match="All 1 candidates failed"):
        ModelSearch(GaussianMixture(), {"n_components": [60]}).fit(X)


def test_plot_draws_the_criterion_curve():
    import matplotlib

    matplotlib.use("Agg")
    X = shuffled_blobs(100)
    search = ModelSearch(GaussianMixture(), {"n_components": [1, 2, 3]}, random_state=0)
    ax = search.fit(X).plot()
    assert ax.get_xlabel() == "n_components"
