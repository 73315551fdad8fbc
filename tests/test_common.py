"""Contract checks shared by every estimator, driven by one table.

Each row names an estimator factory, the parameters it is tested with and a
hyper-parameter grid for model selection whose best value is clear-cut (the
others are far too small or too large). New estimators append rows.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import lookalike as la
from conftest import make_blobs


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable[..., Any]
    params: dict[str, Any]
    grid: dict[str, list[Any]]
    # The grid value that fits blobs with three clusters best (held-out score).
    best: dict[str, Any]
    # A parameter and a different value, for the set_params round trip.
    other: tuple[str, Any]
    # Run scikit-learn's estimator checks on factory() here; False where the
    # estimator's own test file runs them with settings the checks need.
    sklearn_checks: bool = True


CASES = [
    Case(
        name="GaussianMixture",
        factory=la.GaussianMixture,
        params={"n_components": 3, "random_state": 0},
        grid={"n_components": [1, 2, 3]},
        best={"n_components": 3},
        other=("covariance_type", "diag"),
    ),
    Case(
        name="KernelDensity",
        factory=la.KernelDensity,
        params={"bandwidth": 10.0},
        grid={"bandwidth": [0.001, 10.0, 1e5]},
        best={"bandwidth": 10.0},
        other=("kernel", "epanechnikov"),
    ),
    Case(
        name="Gaussian",
        factory=la.Gaussian,
        params={"covariance_type": "full"},
        # The stretched blobs are far from round: one spherical variance fits badly.
        grid={"covariance_type": ["spherical", "full"]},
        best={"covariance_type": "full"},
        other=("covariance_type", "diag"),
        sklearn_checks=False,  # tests/test_gaussian.py
    ),
    Case(
        name="ReducedDensity",
        factory=lambda **params: la.ReducedDensity(
            la.GaussianMixture(random_state=0), PCA(2, whiten=True)
        ).set_params(**params),
        params={"estimator__n_components": 3},
        grid={"estimator__n_components": [1, 2, 3]},
        best={"estimator__n_components": 3},
        other=("estimator__covariance_type", "diag"),
        sklearn_checks=False,  # tests/test_reduced.py
    ),
]
IDS = [case.name for case in CASES]


def data(seed: int = 0) -> np.ndarray:
    # Three blobs, stretched so that scaling matters for the pipeline test.
    return make_blobs(300, seed=seed)[0] * np.array([100.0, 0.01]) + np.array([5.0, -3.0])


@parametrize_with_checks([case.factory() for case in CASES if case.sklearn_checks])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_works_in_a_pipeline(case):
    X = data()
    pipeline = make_pipeline(StandardScaler(), case.factory(**case.params)).fit(X)
    scaled = StandardScaler().fit_transform(X)
    alone = case.factory(**case.params).fit(scaled)
    assert_allclose(pipeline.score_samples(X), alone.score_samples(scaled), rtol=1e-10)
    assert pipeline.score(X) == pytest.approx(alone.score(scaled), rel=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grid_search_selects_by_the_default_score(case):
    X = data()
    rng = np.random.default_rng(1)
    X = X[rng.permutation(len(X))]  # blobs are stored in order; folds must mix them
    cv = KFold(3)
    search = GridSearchCV(case.factory(**case.params), case.grid, cv=cv).fit(X)
    assert search.best_params_ == case.best
    # The CV score is the estimator's own score on held-out folds.
    for index, candidate in enumerate(search.cv_results_["params"]):
        expected = np.mean(
            [
                case.factory(**{**case.params, **candidate}).fit(X[train]).score(X[test])
                for train, test in cv.split(X)
            ]
        )
        assert search.cv_results_["mean_test_score"][index] == pytest.approx(expected, rel=1e-10)


def comparable(params: dict[str, Any]) -> dict[str, Any]:
    # Nested estimators are compared through their own parameters (clone copies them).
    return {
        name: value.get_params() if hasattr(value, "get_params") else value
        for name, value in params.items()
    }


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_clone_and_params_round_trip(case):
    estimator = case.factory(**case.params)
    params = estimator.get_params()
    assert all(params[name] == value for name, value in case.params.items())
    copy = clone(estimator)
    assert copy is not estimator
    assert comparable(copy.get_params()) == comparable(params)

    name, value = case.other
    assert copy.set_params(**{name: value}) is copy
    assert copy.get_params()[name] == value
    assert estimator.get_params()[name] != value, "clone must not share state"
    copy.set_params(**params)
    assert comparable(copy.get_params()) == comparable(params)

    X = data()
    estimator.fit(X)
    fresh = clone(estimator)
    with pytest.raises(NotFittedError):
        fresh.score_samples(X)
    assert_allclose(fresh.fit(X).score_samples(X), estimator.score_samples(X), rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pickle_round_trip(case):
    X = data()
    estimator = case.factory(**case.params).fit(X)
    restored = pickle.loads(pickle.dumps(estimator))
    assert_array_equal(restored.score_samples(X), estimator.score_samples(X))
