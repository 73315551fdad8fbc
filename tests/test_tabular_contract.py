"""One contract for every joint model of the Synthesizer, driven by a table of models.

Each model fits the encoded model space of a mixed table (numbers with atoms and missing
values, categories, an integer column) and must: store its parameters as given and clone;
give the same rows for the same seed and different rows for another; return finite
scores of the right shape (NaN only where a missing indicator says missing); meet
conditions exactly; survive a model file; refuse sampling before fit. The oracle for
marginals is the training table: each decoded column is compared with its training
column (KS for continuous columns, chi-square for categories, both at alpha = 1e-3,
the false-failure rate of each).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from lookalike.exceptions import NotFittedError
from lookalike.gaussian import Gaussian
from lookalike.mixture import GaussianMixture
from lookalike.persistence import load, save
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.models import CellMixture, EstimatorModel, SequentialTrees
from lookalike.tabular.models.base import satisfied
from lookalike.tabular.schema import fit_codecs

ALPHA = 1e-3
N = 1200

MODELS = {
    "trees": SequentialTrees(random_state=0),
    "trees-first": SequentialTrees(first="label", random_state=0),
    "cells": CellMixture(random_state=0),
    "cells-unsmoothed": CellMixture(smoothing=0.0, random_state=0),
    "cells-first": CellMixture(first="label", random_state=0),
    "gaussian": EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0),
    "gaussian-first": EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label"),
    "mixture": EstimatorModel(GaussianMixture(3, random_state=0), random_state=0),
}


@pytest.fixture(scope="module")
def space():
    rng = np.random.default_rng(0)
    label = rng.choice(["a", "b", "c"], N, p=[0.5, 0.3, 0.2])
    x = np.where(label == "a", 0.0, 2.0) + rng.normal(size=N)
    y = np.round(np.abs(x) + rng.exponential(size=N), 1)
    y[rng.random(N) < 0.15] = np.nan
    table = pd.DataFrame({"x": x, "y": y, "k": rng.poisson(2, N), "label": label})
    encoder = TableEncoder(fit_codecs(table))
    return table, encoder, encoder.encode(table, rng)


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request, space):
    _, encoder, Z = space
    return request.param, clone(MODELS[request.param]).fit(Z, encoder.dims)


@pytest.mark.parametrize("name", list(MODELS))
def test_parameters_are_stored_and_clone(name):
    model = MODELS[name]
    params = model.get_params()
    copy = clone(model)
    assert type(copy) is type(model) and set(copy.get_params()) == set(params)
    for key, value in params.items():
        if not hasattr(value, "get_params"):
            assert copy.get_params()[key] == value, key


def test_same_seed_same_rows_and_another_seed_other_rows(fitted):
    _, model = fitted
    first = model.sample(200, random_state=1)
    np.testing.assert_array_equal(first, model.sample(200, random_state=1))
    assert not np.array_equal(first, model.sample(200, random_state=2))


def test_rows_have_the_model_space_layout(fitted, space):
    _, encoder, Z = space
    _, model = fitted
    drawn = model.sample(500, random_state=3)
    assert drawn.shape == (500, Z.shape[1])
    dims = encoder.dims
    (indicator,) = [j for j, d in enumerate(dims) if d.column == "y" and d.role == "missing"]
    (value,) = [j for j, d in enumerate(dims) if d.column == "y" and d.role != "missing"]
    assert np.isfinite(np.delete(drawn, value, axis=1)).all()
    missing = drawn[:, indicator] > dims[indicator].cuts[0]  # the upper level: missing
    assert 0 < missing.mean() < 0.5  # y is missing in 15% of the rows
    # NaN only where the indicator says missing (trees and cells leave NaN there; the
    # Gaussian families draw a value, which decoding then ignores).
    assert np.isfinite(drawn[~missing, value]).all()


def test_decoded_marginals_follow_the_training_table(fitted, space):
    table, encoder, _ = space
    name, model = fitted
    fake = pd.DataFrame(encoder.decode(model.sample(N, random_state=4)))
    for column in ("x", "y"):
        assert stats.ks_2samp(fake[column].dropna(), table[column].dropna()).pvalue > ALPHA, (
            name,
            column,
        )
    levels = ["a", "b", "c"]
    counts = np.vstack(
        [
            table["label"].value_counts().reindex(levels),
            fake["label"].value_counts().reindex(levels),
        ]
    )
    assert stats.chi2_contingency(counts)[1] > ALPHA, name


def test_conditions_are_met_exactly(fitted, space):
    _, encoder, _ = space
    name, model = fitted
    for where in ({"label": "b"}, {"x": (0.5, 2.5)}, {"label": "a", "k": (1, 3)}):
        conditions = encoder.conditions(where)
        drawn = model.sample(300, conditions, random_state=5)
        assert drawn.shape[0] == 300 and satisfied(drawn, conditions).all(), (name, where)


def test_model_files_round_trip(fitted, tmp_path):
    name, model = fitted
    loaded = load(save(model, tmp_path / f"{name}.lookalike"))
    np.testing.assert_array_equal(
        loaded.sample(100, random_state=6), model.sample(100, random_state=6)
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_sampling_before_fit_is_refused(name):
    with pytest.raises(NotFittedError):
        clone(MODELS[name]).sample(3)
