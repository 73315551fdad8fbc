"""Every estimator's ``sample`` validates ``n_samples`` through one helper.

Bools and non-integers are refused as scikit-learn refuses bad parameter types
(an error that is both a ValueError and a TypeError); sizes whose output cannot
fit in memory are refused at once with a ValueError that says how many bytes
they would need and how to sample in pieces, instead of a MemoryError after
trying to allocate them (or an OverflowError for 2**63).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

import lookalike as la
import lookalike._validation as validation
from lookalike.exceptions import InvalidParameterError

X = np.random.default_rng(0).standard_normal((60, 3))
y = np.repeat([0, 1], 30)

# (estimator, smallest accepted n_samples)
ESTIMATORS = {
    "GaussianMixture": (lambda: la.GaussianMixture(2, random_state=0).fit(X), 1),
    "Gaussian": (lambda: la.Gaussian().fit(X), 1),
    "KernelDensity": (lambda: la.KernelDensity().fit(X), 0),
    "ReducedDensity": (lambda: la.ReducedDensity(la.Gaussian(), PCA(2)).fit(X), 1),
    "GenerativeClassifier": (lambda: la.GenerativeClassifier().fit(X, y), 1),
}


def rows_of(drawn: object) -> np.ndarray:
    return np.asarray(drawn[0] if isinstance(drawn, tuple) else drawn)


@pytest.fixture(scope="module", params=ESTIMATORS.keys())
def fitted(request):
    make, minimum = ESTIMATORS[request.param]
    return make(), minimum


@pytest.mark.parametrize("bad", [True, False, np.True_, 2.0, 2.5, "3", None, [3]])
def test_bools_and_non_integers_are_refused(fitted, bad):
    model, _ = fitted
    with pytest.raises(InvalidParameterError, match="'n_samples' parameter") as info:
        model.sample(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_integers_of_any_kind_are_accepted(fitted):
    model, _ = fitted
    for n in (3, np.int64(3), np.uint8(3)):
        assert rows_of(model.sample(n, random_state=0)).shape == (3, 3)


def test_sizes_below_the_minimum_are_refused(fitted):
    model, minimum = fitted
    with pytest.raises(ValueError, match="Invalid value for 'n_samples'"):
        model.sample(minimum - 1)


@pytest.mark.parametrize("n", [10**10, 2**40, 2**63, 10**30])
def test_sizes_that_cannot_fit_are_refused_with_the_bytes_and_a_way_out(fitted, n, monkeypatch):
    model, _ = fitted
    monkeypatch.setattr(validation, "physical_memory_bytes", lambda: 2**30)
    with pytest.raises(ValueError, match=r"would need [\d,]+ bytes") as info:
        model.sample(n)
    assert "lookalike.distributed.sample" in str(info.value)
    assert "smaller n_samples" in str(info.value)


def test_sizes_beyond_the_address_space_are_refused_when_memory_is_unknown(monkeypatch):
    model = la.GaussianMixture(2, random_state=0).fit(X)
    monkeypatch.setattr(validation, "physical_memory_bytes", lambda: None)
    with pytest.raises(ValueError, match="would need"):
        model.sample(2**63)


def test_the_limit_is_this_machines_memory(monkeypatch):
    # 1,000 rows of 3 float64 values plus an int64 label: 32,000 bytes.
    model = la.GaussianMixture(2, random_state=0).fit(X)
    monkeypatch.setattr(validation, "physical_memory_bytes", lambda: 32_000)
    assert model.sample(1000, random_state=0)[0].shape == (1000, 3)
    with pytest.raises(ValueError, match="32,032 bytes"):
        model.sample(1001)


def test_physical_memory_is_known_here():
    memory = validation.physical_memory_bytes()
    assert memory is None or memory > 2**20
