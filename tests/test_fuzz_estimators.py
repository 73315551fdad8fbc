"""Property-based fuzzing of every public estimator and of save/load (issue 12).

The contract, for every input of the families of issue 12 (complex, huge and tiny
magnitudes, NaN and infinity, no rows, one row, constant columns, identical rows,
integer, boolean and object dtypes, nested lists, wide tables, odd sample sizes):

- either a clear error of scikit-learn's types (ValueError or TypeError; NotFittedError
  before ``fit``) whose message says what is wrong (families that must fail name their
  problem: "Complex data not supported", "NaN", "infinity", "0 sample(s)"...),
- or finite output of the right shape (log-densities, samples, probabilities), and a
  model that survives :func:`lookalike.save` / :func:`lookalike.load` bit for bit;
- never an exception from numpy's or scipy's insides (``LinAlgError``,
  ``FloatingPointError``, ``ZeroDivisionError``, ``MemoryError``, ``OverflowError``,
  ``IndexError``...), a ``RuntimeWarning`` (an error in this suite, see pyproject's
  ``filterwarnings``), NaN, or a hang: each case runs under :func:`conftest.time_limit`.

Hypothesis draws the family, the shape and the data's seed (``derandomize=True``: the
same examples on every run, so CI cannot flake); the arrays are built from the seed.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import FitFailedWarning, NotFittedError

import lookalike as la
from conftest import time_limit

# Generous: a hang, not a slow case, is what this catches (the machine may be busy).
CASE_SECONDS = 60.0

# Examples per test: 12 keeps the file within seconds in CI; set LOOKALIKE_FUZZ_EXAMPLES
# (e.g. 300) for a deeper run.
FUZZ = settings(
    max_examples=int(os.environ.get("LOOKALIKE_FUZZ_EXAMPLES", "12")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Exception types that are numpy's or Python's insides, never a message for the user;
# LinAlgError is a ValueError subclass, so it is named here explicitly.
INTERNAL_ERRORS = (
    np.linalg.LinAlgError,
    FloatingPointError,
    ZeroDivisionError,
    MemoryError,
    OverflowError,
    IndexError,
    KeyError,
    AttributeError,
)


# --------------------------------------------------------------------------------------
# Estimators (small settings: the fuzz suite must stay fast)

ESTIMATORS: dict[str, Callable[[], Any]] = {
    "GaussianMixture": lambda: la.GaussianMixture(2, max_iter=10, random_state=0),
    "Gaussian": lambda: la.Gaussian(),
    "KernelDensity": lambda: la.KernelDensity(bandwidth="scott"),
    "KernelDensity-isj-epanechnikov": lambda: la.KernelDensity(
        bandwidth="isj", kernel="epanechnikov"
    ),
    "ReducedDensity": lambda: la.ReducedDensity(la.Gaussian(reg_covar=1e-9)),
    "GenerativeClassifier": lambda: la.GenerativeClassifier(la.Gaussian(reg_covar=1e-9)),
    "ModelSearch": lambda: la.ModelSearch(
        la.GaussianMixture(max_iter=10, random_state=0),
        {"n_components": [1, 2]},
        criterion="bic",
    ),
}
# Features drawn are capped per estimator (ISJ costs a root search per feature).
MAX_FEATURES = {"KernelDensity-isj-epanechnikov": 3}


def _labels(n: int) -> np.ndarray:
    return np.arange(n) % 2


def _fit(name: str, estimator: Any, X: Any) -> Any:
    if name == "GenerativeClassifier":
        return estimator.fit(X, _labels(len(X)))
    return estimator.fit(X)


# --------------------------------------------------------------------------------------
# Input families


def _base(seed: int, n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.uniform(0.5, 2.0, (d, d)) + rng.normal(0, 3, d)


def _complex(X: np.ndarray, seed: int) -> Any:
    return X + 1j * np.random.default_rng(seed).normal(size=X.shape)


def _object_with_complex(X: np.ndarray, seed: int) -> Any:
    out = X.astype(object)
    out[0, 0] = complex(out[0, 0], 1.0)
    return out


def _with(value: float) -> Callable[[np.ndarray, int], np.ndarray]:
    def put(X: np.ndarray, seed: int) -> np.ndarray:
        out = X.copy()
        out[np.random.default_rng(seed).integers(len(out)), -1] = value
        return out

    return put


def _scaled(factor: float) -> Callable[[np.ndarray, int], np.ndarray]:
    return lambda X, seed: X * factor


def _constant_column(X: np.ndarray, seed: int) -> np.ndarray:
    out = X.copy()
    out[:, 0] = 3.25
    return out


def _identical_rows(X: np.ndarray, seed: int) -> np.ndarray:
    return np.repeat(X[:1], len(X), axis=0)


def _strings(X: np.ndarray, seed: int) -> np.ndarray:
    return np.array([[f"v{j}" for j in range(X.shape[1])]] * len(X), dtype=object)


RESCALE = "Rescale the data"

# name -> (transform of a normal table, regex the error must match; None when a clear
# error and finite output are both acceptable)
FAMILIES: dict[str, tuple[Callable[[np.ndarray, int], Any], str | None]] = {
    "normal": (lambda X, seed: X, None),
    "complex": (_complex, "Complex data not supported: X holds complex numbers"),
    "object with a complex": (_object_with_complex, "Complex data not supported"),
    "nested list of complex": (lambda X, s: _complex(X, s).tolist(), "Complex data not supported"),
    "NaN": (_with(np.nan), "NaN"),
    "+inf": (_with(np.inf), "infinity"),
    "-inf": (_with(-np.inf), "infinity"),
    "huge 1e100": (_scaled(1e100), None),
    "huge 1e150": (_scaled(1e150), None),
    "huge 1e154": (_scaled(1e154), RESCALE),
    "huge 1e200": (_scaled(1e200), RESCALE),
    "huge 1e300": (_scaled(1e300), RESCALE),
    "a value of 1e300": (_with(1e300), RESCALE),
    "tiny 1e-100": (_scaled(1e-100), None),
    "tiny 1e-160": (_scaled(1e-160), None),
    "tiny 1e-300": (_scaled(1e-300), None),
    "constant column": (_constant_column, None),
    "identical rows": (_identical_rows, None),
    "int": (lambda X, seed: np.round(X * 10).astype(np.int64), None),
    "bool": (lambda X, seed: X.mean(axis=0) < X, None),
    "object numbers": (lambda X, seed: X.astype(object), None),
    "object strings": (_strings, "could not convert|string"),
    "nested list": (lambda X, seed: X.tolist(), None),
    "float32": (lambda X, seed: X.astype(np.float32), None),
}
_MIXTURES = ("GaussianMixture", "ModelSearch")  # ModelSearch's candidates are mixtures


def _first(output: Any) -> np.ndarray:
    return np.asarray(output[0] if isinstance(output, tuple) else output)


def _check_error(error: BaseException, expected: str | None) -> None:
    assert isinstance(error, ValueError | TypeError), f"{type(error).__name__}: {error}"
    assert not isinstance(error, INTERNAL_ERRORS), f"internal error {type(error).__name__}"
    message = str(error)
    assert len(message.strip()) >= 15, f"unhelpful message {message!r}"
    if expected is not None:
        assert re.search(expected, message), (expected, message)


def _check_outputs(name: str, model: Any, X: Any, n: int, d: int) -> None:
    """Finite, correctly shaped outputs; the same after save/load."""
    classifier = name == "GenerativeClassifier"
    method = "predict_joint_log_proba" if classifier else "score_samples"
    log_density = np.asarray(getattr(model, method)(X))
    shape = (n, len(model.classes_)) if classifier else (n,)
    assert log_density.shape == shape and np.all(np.isfinite(log_density)), log_density
    drawn = _first(model.sample(4, random_state=0))
    assert drawn.shape == (4, d) and np.all(np.isfinite(drawn)), drawn
    if classifier:
        proba = model.predict_proba(X)
        assert proba.shape == shape and np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    with tempfile.TemporaryDirectory() as folder:
        loaded = la.load(la.save(model, Path(folder) / "model.lookalike"))
    np.testing.assert_array_equal(getattr(loaded, method)(X), log_density)


def _run_case(name: str, family: str, X: Any, n: int, d: int) -> None:
    expected = FAMILIES[family][1]
    if n < 2 and expected == RESCALE:
        expected = None  # "too few rows" is checked first, and is as clear
    estimator = ESTIMATORS[name]()
    with time_limit(CASE_SECONDS, f"{name} on {family} ({n} x {d})"), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # convergence, degenerate, ISJ fallback
        warnings.simplefilter("ignore", FitFailedWarning)  # ModelSearch names a failed candidate
        try:
            model = _fit(name, estimator, X)
        except Exception as error:
            _check_error(error, expected)
            return
        assert expected is None, f"{name} accepted {family} data"
        _check_outputs(name, model, X, n, d)


# --------------------------------------------------------------------------------------
# The fuzz tests


@pytest.mark.parametrize("name", list(ESTIMATORS))
@FUZZ
@given(
    family=st.sampled_from(sorted(FAMILIES)),
    n=st.integers(0, 40),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_every_estimator_keeps_the_contract(name, family, n, d, seed):
    # Mixtures on huge, singular data (n <= d): test_gaussian_mixture_huge_singular_data.
    assume(not (name in _MIXTURES and family.startswith("huge") and n <= d))
    d = min(d, MAX_FEATURES.get(name, d))
    if n == 0:  # no rows: the error must say so
        with time_limit(CASE_SECONDS), pytest.raises(ValueError, match=r"0 sample\(s\)"):
            _fit(name, ESTIMATORS[name](), np.empty((0, d)))
        return
    X = FAMILIES[family][0](_base(seed, n, d), seed)
    _run_case(name, family, X, n, d)


def _family_cases() -> list[Any]:
    cases = []
    for name in ESTIMATORS:
        for family in sorted(FAMILIES):
            cases.append(pytest.param(name, family, id=f"{name}-{family}"))
    return cases


@pytest.mark.parametrize(("name", "family"), _family_cases())
def test_every_family_once(name, family):
    """Each family at a size where every estimator can fit (the fuzz may miss one)."""
    d = min(3, MAX_FEATURES.get(name, 3))
    X = FAMILIES[family][0](_base(7, 30, d), 7)
    _run_case(name, family, X, 30, d)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_one_row(name):
    X = _base(3, 1, 2)
    estimator = ESTIMATORS[name]()
    with time_limit(CASE_SECONDS), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            model = _fit(name, estimator, X)
        except Exception as error:
            _check_error(error, r"sample|1 rows|minimum|constant")
            return
    _check_outputs(name, model, X, 1, 2)


WIDE = {
    "GaussianMixture": lambda: la.GaussianMixture(
        2, covariance_type="diag", max_iter=5, random_state=0
    ),
    "Gaussian": lambda: la.Gaussian(covariance_type="diag"),
    "KernelDensity": lambda: la.KernelDensity(bandwidth="scott"),
    "ReducedDensity": lambda: la.ReducedDensity(la.Gaussian(reg_covar=1e-9)),
    "GenerativeClassifier": lambda: la.GenerativeClassifier(la.KernelDensity(bandwidth=30.0)),
    "ModelSearch": lambda: la.ModelSearch(
        la.GaussianMixture(covariance_type="diag", max_iter=5, random_state=0),
        {"n_components": [1, 2]},
        criterion="bic",
    ),
}


@pytest.mark.parametrize("name", list(WIDE))
def test_wide_tables(name):
    """50 rows x 1000 columns: finite output in time proportional to the size."""
    X = np.random.default_rng(0).normal(size=(50, 1000))
    with time_limit(CASE_SECONDS, f"{name} on 50 x 1000"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = _fit(name, WIDE[name](), X)
        _check_outputs(name, model, X, 50, 1000)


def test_isj_on_a_wide_table():
    """ISJ's cost is linear in the features (see benchmarks/bench_kde.py, part "wide")."""
    X = np.random.default_rng(0).normal(size=(50, 40))
    with time_limit(CASE_SECONDS, "ISJ on 50 x 40"):
        model = la.KernelDensity(bandwidth="isj", kernel="epanechnikov").fit(X)
    assert model.bandwidth_.shape == (40,) and np.all(model.bandwidth_ > 0)
    _check_outputs("KernelDensity", model, X, 50, 40)


# --------------------------------------------------------------------------------------
# Sample sizes, sample weights, unfitted use


_FITTED: dict[str, Any] = {}


def _fitted(name: str) -> Any:
    if name not in _FITTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _FITTED[name] = _fit(name, ESTIMATORS[name](), _base(11, 40, 3))
    return _FITTED[name]


# Sizes that must be refused: negative, not ints, bools (an int by accident), and sizes
# whose arrays could never fit in memory (they ended in MemoryError or OverflowError).
BAD_SIZES = [-1, 2.5, "3", None, True, False, 10**12, 2**63]


def _size_cases() -> list[Any]:
    cases = []
    for name in ESTIMATORS:
        for size in BAD_SIZES:
            cases.append(pytest.param(name, size, id=f"{name}-{size!r}"))
    return cases


@pytest.mark.parametrize(("name", "size"), _size_cases())
def test_bad_sample_sizes_are_refused(name, size):
    model = _fitted(name)
    with time_limit(CASE_SECONDS), pytest.raises((ValueError, TypeError)) as caught:
        model.sample(size, random_state=0)
    _check_error(caught.value, r"n_samples")


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("size", [1, np.int64(3), 0])
def test_good_sample_sizes(name, size):
    model = _fitted(name)
    try:
        drawn = _first(model.sample(size, random_state=0))
    except ValueError as error:  # 0 rows: refused (scikit-learn's mixtures) or empty
        assert size == 0
        _check_error(error, r"n_samples")
        return
    assert drawn.shape == (int(size), 3) and np.all(np.isfinite(drawn))


@pytest.mark.parametrize("name", [n for n in ESTIMATORS if n != "GenerativeClassifier"])
@FUZZ
@given(
    kind=st.sampled_from(["complex", "negative", "nan", "wrong length", "strings", "all zero"]),
    seed=st.integers(0, 2**16),
)
def test_bad_sample_weights_are_refused(name, kind, seed):
    X = _base(seed, 20, 2)
    weights = {
        "complex": np.ones(20) + 1j,
        "negative": -np.ones(20),
        "nan": np.full(20, np.nan),
        "wrong length": np.ones(19),
        "strings": np.array(["a"] * 20),
        "all zero": np.zeros(20),
    }[kind]
    expected = {
        "complex": "Complex data not supported: sample_weight",
        "negative": "Negative values",
        "nan": "NaN",
        "wrong length": "shape",
        "strings": "numeric|could not convert",
        "all zero": "positive|zero",
    }[kind]
    estimator = ESTIMATORS[name]()
    with time_limit(CASE_SECONDS), pytest.raises((ValueError, TypeError)) as caught:
        estimator.fit(X, sample_weight=weights)
    _check_error(caught.value, expected)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_unfitted_use_is_a_not_fitted_error(name):
    estimator = ESTIMATORS[name]()
    method = "predict" if name == "GenerativeClassifier" else "score_samples"
    with pytest.raises(NotFittedError):
        getattr(estimator, method)(_base(0, 5, 2))
    with pytest.raises(NotFittedError):
        estimator.sample(3)


def test_complex_is_refused_everywhere_else():
    """Inits, bandwidths, priors, predict-time data, Chunks and evaluate (issue 12)."""
    X = _base(1, 40, 2)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: la.GaussianMixture(2, means_init=X[:2] + 1j).fit(X), "means_init"),
        (lambda: la.GaussianMixture(2, weights_init=[0.5 + 0j, 0.5]).fit(X), "weights_init"),
        (lambda: la.KernelDensity(bandwidth=np.array([1.0, 1j])).fit(X), "bandwidth"),
        (
            lambda: la.GenerativeClassifier(priors=[0.5j, 0.5]).fit(X, _labels(40)),
            "priors",
        ),
        (lambda: la.GaussianMixture(2).fit(la.Chunks([X, X + 0j])), "X in partition 1"),
        (lambda: _fitted("Gaussian").score_samples(_complex(X, 0)), "X"),
        (lambda: _fitted("GenerativeClassifier").predict(_complex(X, 0)), "X"),
        (lambda: la.evaluate(X, _complex(X, 0)), "synthetic"),
    ]
    for call, name in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy's ComplexWarning would mean a silent drop
            with pytest.raises(ValueError, match=f"Complex data not supported: {name} holds"):
                call()


# --------------------------------------------------------------------------------------
# GaussianMixture at huge magnitudes: refused or finite, never NaN


@pytest.mark.parametrize("scale", [1e154, 1e200, 1e300])
def test_gaussian_mixture_huge_values(scale):
    """Issue 12: score_samples/predict_proba returned NaN near 1e154..1e300."""
    X = _base(5, 40, 2) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            model = la.GaussianMixture(2, random_state=0).fit(X)
        except ValueError as error:
            _check_error(error, None)
            return
        assert np.all(np.isfinite(model.score_samples(X)))
        assert np.all(np.isfinite(model.predict_proba(X)))


def test_gaussian_mixture_huge_singular_data():
    """Found by this suite (LOOKALIKE_FUZZ_EXAMPLES=150): fewer rows than features at
    1e100 fit, but sample() warns that the covariance is not positive semi-definite
    (numpy's multivariate_normal on a covariance whose reg_covar is lost in rounding)."""
    X = _base(0, 2, 3) * 1e100
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = la.GaussianMixture(2, max_iter=10, random_state=0).fit(X)
        drawn = model.sample(4, random_state=0)[0]
    assert np.all(np.isfinite(drawn))
