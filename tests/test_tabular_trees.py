"""SequentialTrees: synthpop-style CART joint model of the tabular model space.

Statistical checks state their oracle and their false-failure rate: each chi-square or
binomial check is at alpha = 1e-3 (under the model the check describes), so the file as
a whole fails by chance with probability below about 2e-2.

The constructed table has a known structure: a category ``A``, a category ``B`` that
depends on it (``a -> {x, y}``, ``b -> {y, z}``, ``c -> {z}``), a numeric ``X`` in a
band that ``A`` picks (``10 k(A) +- 1``, never outside ``+- 5``), an integer ``K`` made
only of atoms (zeros and small counts) and a numeric ``W`` missing 20% of the time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy import stats
from sklearn.base import clone

from lookalike.exceptions import InvalidParameterError, NotFittedError
from lookalike.tabular.columns import ModelDim
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.models.base import satisfied
from lookalike.tabular.models.trees import SequentialTrees
from lookalike.tabular.schema import fit_codecs

ALPHA = 1e-3
N = 3000
BANDS = {"a": 0.0, "b": 10.0, "c": 20.0}
PARTNERS = {"a": ("x", "y"), "b": ("y", "z"), "c": ("z", "z")}
IMPOSSIBLE = {("a", "z"), ("b", "x"), ("c", "x"), ("c", "y")}


def make_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    A = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    B = np.array([PARTNERS[a][i] for a, i in zip(A, rng.integers(0, 2, n), strict=True)])
    X = np.round(np.array([BANDS[a] for a in A]) + rng.standard_normal(n), 3)
    K = np.where(rng.random(n) < 0.4, 0, rng.poisson(2.0, n) + 1)
    W = np.round(rng.gamma(2.0, 1.0, n) + (A == "c") * 3.0, 4)
    W[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({"A": A, "B": B, "X": X, "K": K, "W": W})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_table(800, seed=0)


@pytest.fixture(scope="module")
def encoder(table) -> TableEncoder:
    return TableEncoder(fit_codecs(table))


@pytest.fixture(scope="module")
def Z(table, encoder) -> np.ndarray:
    return encoder.encode(table, np.random.default_rng(1))


@pytest.fixture(scope="module")
def model(Z, encoder) -> SequentialTrees:
    return SequentialTrees(random_state=0).fit(Z, encoder.dims)


def decode(encoder: TableEncoder, S: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(encoder.decode(S))


def chi_square_gof(observed: pd.Series, expected_shares: pd.Series) -> float:
    """p-value of counts ``observed`` against shares (levels of zero share must be absent)."""
    shares = expected_shares[expected_shares > 0]
    counts = observed.reindex(shares.index, fill_value=0).to_numpy(dtype=float)
    assert observed.reindex(expected_shares.index, fill_value=0).sum() == observed.sum(), (
        "a level outside the expected support came out"
    )
    if shares.size < 2:
        return 1.0
    expected = shares.to_numpy() / shares.sum() * counts.sum()
    return float(stats.chisquare(counts, expected).pvalue)


def chi_square_two_sample(first: pd.Series, second: pd.Series) -> float:
    """p-value of the homogeneity test of two samples of one categorical column."""
    both = pd.concat([first.value_counts(dropna=False), second.value_counts(dropna=False)], axis=1)
    return float(stats.chi2_contingency(both.fillna(0).to_numpy().T).pvalue)


# ---------------------------------------------------------------------------------------
# Estimator conventions, determinism, layout


def test_init_stores_parameters_and_clone_works():
    model = SequentialTrees(min_samples_leaf=-3, order="bogus", smoothing=-1.0)
    assert model.get_params()["min_samples_leaf"] == -3
    copy = clone(SequentialTrees(min_samples_leaf=7, max_depth=4, random_state=2))
    assert copy.get_params() == {
        "min_samples_leaf": 7,
        "max_depth": 4,
        "order": "auto",
        "first": None,
        "smoothing": 1.0,
        "random_state": 2,
    }
    assert copy.set_params(smoothing=0.5).smoothing == 0.5


def test_same_seed_same_rows(Z, encoder, model):
    again = SequentialTrees(random_state=0).fit(Z, encoder.dims)
    np.testing.assert_array_equal(
        model.sample(300, random_state=3), again.sample(300, random_state=3)
    )
    conditions = encoder.conditions({"B": "y"})
    np.testing.assert_array_equal(
        model.sample(200, conditions, random_state=4),
        again.sample(200, conditions, random_state=4),
    )
    first = model.sample(300, random_state=np.random.default_rng(5))
    second = model.sample(300, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(model.sample(300, random_state=6), first)


def test_layout_and_nan_only_where_the_indicator_says_missing(Z, encoder, model):
    S = model.sample(N, random_state=7)
    assert S.shape == (N, Z.shape[1])
    dims = encoder.dims
    value, indicator = encoder.spans["W"][0], encoder.spans["W"][0] + 1
    assert dims[indicator].role == "missing"
    missing = dims[indicator].codes(S[:, indicator]) == 1
    np.testing.assert_array_equal(np.isnan(S[:, value]), missing)
    others = [j for j in range(S.shape[1]) if j != value]
    assert np.isfinite(S[:, others]).all()
    for j, dim in enumerate(dims):
        if dim.discrete:
            assert dims[j].codes(S[:, j]).max() < dim.levels
    assert 0 < missing.mean() < 1


def test_visit_order_puts_few_level_columns_first_and_indicators_before_values(model, encoder, Z):
    assert model.order_ == ["A", "B", "X", "K", "W"]
    value = encoder.spans["W"][0]
    assert list(model.visit_[-2:]) == [value + 1, value]
    given = SequentialTrees(order=["W", "K", "X", "B", "A"]).fit(
        encoder.encode(make_table(50, 1), np.random.default_rng(0)), encoder.dims
    )
    assert given.order_ == ["W", "K", "X", "B", "A"]
    assert list(given.visit_[:2]) == [value + 1, value]
    # ``first`` leads and the others keep their order.
    led = SequentialTrees(first="X", random_state=0).fit(Z, encoder.dims)
    assert led.order_ == ["X", "A", "B", "K", "W"]
    led = SequentialTrees(order=["W", "K", "X", "B", "A"], first="B").fit(Z, encoder.dims)
    assert led.order_ == ["B", "W", "K", "X", "A"]


# ---------------------------------------------------------------------------------------
# Marginals: levels and atoms at their rates


def test_first_two_visited_columns_have_the_exact_empirical_marginal(table, Z, encoder):
    # The first column is drawn from its empirical marginal; the second copies members
    # of leaves of a tree on the first, which a synthetic row reaches as often as a
    # training row does: both marginals equal the training table's exactly, so a
    # chi-square goodness-of-fit test against the training shares holds at ALPHA.
    model = SequentialTrees(order=["K", "A", "B", "X", "W"], smoothing=0.0, random_state=1)
    model.fit(Z, encoder.dims)
    synthetic = decode(encoder, model.sample(N, random_state=2))
    for name in ("K", "A"):
        p = chi_square_gof(
            synthetic[name].value_counts(), table[name].value_counts(normalize=True)
        )
        assert p > ALPHA, (name, p)


def test_every_level_atom_and_missing_rate_at_the_training_rate(table, model, encoder):
    # Later columns copy leaf members too, so only observed levels and atoms come out.
    # Their rates equal the training's up to the leaf mixing of later trees (a leaf is
    # reached by synthetic prefixes slightly more or less often than by training rows),
    # which is allowed up to the size of a real sample's own noise: a two-sample
    # chi-square homogeneity test of the N synthetic rows against the training rows.
    # Were the rates exactly the training's, the test would be conservative (it counts
    # the training rows' variance although they are fixed): false failure below ALPHA.
    synthetic = decode(encoder, model.sample(N, random_state=8))
    for name in ("A", "B", "K"):
        assert set(synthetic[name].unique()) <= set(table[name].unique()), name
        p = chi_square_two_sample(synthetic[name], table[name])
        assert p > ALPHA, (name, p)
    p = chi_square_two_sample(synthetic["W"].isna(), table["W"].isna())
    assert p > ALPHA, p


# ---------------------------------------------------------------------------------------
# Dependence


def test_impossible_combinations_never_come_out_of_leaf_copies(Z, encoder):
    # Under the table's law these combinations have probability 0 (X outside its band:
    # below 1e-6 per row), so a held-out real sample shows none. Copying leaf members
    # (smoothing = 0) never produces them.
    exact = SequentialTrees(smoothing=0.0, random_state=0).fit(Z, encoder.dims)
    synthetic = decode(encoder, exact.sample(N, random_state=9))
    pairs = set(zip(synthetic["A"], synthetic["B"], strict=True))
    assert not pairs & IMPOSSIBLE
    assert (np.abs(synthetic["X"] - synthetic["A"].map(BANDS)) < 5).all()


def test_impossible_combinations_with_smoothing_stay_below_a_real_samples_bound(model, encoder):
    # Smoothing moves a band's outermost value towards the next band's, so a few rows
    # per ten thousand fall between bands; a held-out real sample of N rows shows none
    # of them, and the synthetic rate stays below that zero count's one-sided 1 - ALPHA
    # Clopper-Pearson bound (1 - ALPHA^(1/N) = 0.0023). Categories are never smoothed.
    synthetic = decode(encoder, model.sample(N, random_state=9))
    pairs = set(zip(synthetic["A"], synthetic["B"], strict=True))
    assert not pairs & IMPOSSIBLE
    outside = (np.abs(synthetic["X"] - synthetic["A"].map(BANDS)) >= 5).mean()
    assert outside <= stats.beta.ppf(1 - ALPHA, 1, N)


def test_penguin_species_island_and_flipper_dependence_is_kept():
    # Combinations absent from the whole table come out at most at the rate a
    # held-out real sample of 30% shows them, up to its one-sided 1 - ALPHA
    # Clopper-Pearson bound (the rate is 0 there, so the bound is what a model with the
    # population's law could show by chance).
    penguins = load_penguins()
    train = penguins.sample(frac=0.7, random_state=0)
    hold = penguins.drop(train.index)
    encoder = TableEncoder(fit_codecs(train))
    Z = encoder.encode(train, np.random.default_rng(0))
    model = SequentialTrees(random_state=0).fit(Z, encoder.dims)
    synthetic = decode(encoder, model.sample(N, random_state=1))
    seen = set(zip(penguins["species"], penguins["island"], strict=True))
    gentoo = penguins[penguins["species"] == "Gentoo"]["flipper_length_mm"].min()

    def absent(frame: pd.DataFrame) -> int:
        unseen = [pair not in seen for pair in zip(frame["species"], frame["island"], strict=True)]
        short = (frame["species"] == "Gentoo") & (frame["flipper_length_mm"] < gentoo - 5)
        return int(np.sum(unseen) + short.sum())

    k = absent(hold)
    bound = stats.beta.ppf(1 - ALPHA, k + 1, len(hold) - k)
    assert absent(synthetic) / N <= bound


# ---------------------------------------------------------------------------------------
# Conditions


def test_condition_on_the_first_column_is_its_exact_conditional(table, Z, encoder):
    # A is visited first: its condition is drawn directly, and B then copies members of
    # the leaf of A = b: the data's conditional shares of B given A = b.
    model = SequentialTrees(order="given", random_state=0).fit(Z, encoder.dims)
    conditions = encoder.conditions({"A": "b"})
    S = model.sample(N, conditions, random_state=1)
    assert satisfied(S, conditions).all()
    synthetic = decode(encoder, S)
    assert (synthetic["A"] == "b").all()
    expected = table.loc[table["A"] == "b", "B"].value_counts(normalize=True)
    assert chi_square_gof(synthetic["B"].value_counts(), expected) > ALPHA


def test_condition_on_a_later_column_matches_the_data_conditional(table, model, encoder):
    # B is visited after A and its tree's leaves separate A's levels, so the model's
    # conditional P(A | B = y) is the data's. Sampling-importance-resampling grows its
    # proposals until their effective sample size reaches N, so the resampled shares
    # vary no more than N independent draws: chi-square goodness of fit at ALPHA.
    conditions = encoder.conditions({"B": "y"})
    S = model.sample(N, conditions, random_state=2)
    assert satisfied(S, conditions).all()
    synthetic = decode(encoder, S)
    assert (synthetic["B"] == "y").all()
    expected = table.loc[table["B"] == "y", "A"].value_counts(normalize=True)
    assert chi_square_gof(synthetic["A"].value_counts(), expected) > ALPHA


def test_interval_condition_on_a_continuous_column(table, model, encoder):
    # X in [-1, 12] holds part of band a and part of band b; the model's P(A | X in I)
    # is the data's, since X's leaves never mix levels of A.
    conditions = encoder.conditions({"X": (-1.0, 12.0)})
    S = model.sample(N, conditions, random_state=3)
    assert satisfied(S, conditions).all()
    synthetic = decode(encoder, S)
    assert synthetic["X"].between(-1.0, 12.0).all()
    inside = table[table["X"].between(-1.0, 12.0)]
    expected = inside["A"].value_counts(normalize=True)
    assert chi_square_gof(synthetic["A"].value_counts(), expected) > ALPHA
    # X's marginal under the model is the data's, so X given X in I is the data's X
    # restricted to I (one-sample KS against that step function: conservative at ALPHA).
    reference = np.sort(inside["X"].to_numpy())
    ecdf = lambda x: np.searchsorted(reference, x, side="right") / reference.size  # noqa: E731
    assert stats.kstest(synthetic["X"].to_numpy(), ecdf).pvalue > ALPHA


def test_point_condition_on_a_continuous_dimension_is_met_exactly(Z, encoder, model):
    j = encoder.spans["X"][0]
    b_scores = np.sort(Z[decode(encoder, Z)["A"] == "b", j])
    point = float(b_scores[b_scores.size // 2])
    S = model.sample(500, {j: ("point", point)}, random_state=4)
    np.testing.assert_array_equal(S[:, j], point)
    # The kernel weights put the point in band b: uniform weights would give A = b in
    # 30% of the rows (probability of >= 90% then: below 1e-100).
    assert (decode(encoder, S)["A"] == "b").mean() >= 0.9


def test_interval_over_two_levels_and_missing_indicator_conditions(table, model, encoder):
    dims = encoder.dims
    a = encoder.spans["A"][0]
    two_levels = {a: ("interval", -np.inf, dims[a].cuts[1])}  # levels 0 and 1: a and b
    S = model.sample(N, two_levels, random_state=5)
    assert satisfied(S, two_levels).all()
    synthetic = decode(encoder, S)
    expected = table.loc[table["A"].isin(["a", "b"]), "A"].value_counts(normalize=True)
    assert chi_square_gof(synthetic["A"].value_counts(), expected) > ALPHA

    present = encoder.conditions({"W": (1.0, 3.0)})
    S = model.sample(500, present, random_state=6)
    assert satisfied(S, present).all()
    assert decode(encoder, S)["W"].between(1.0, 3.0).all()

    value, indicator = encoder.spans["W"]
    indicator -= 1
    missing = {indicator: ("interval", dims[indicator].cuts[0], 9.0)}
    S = model.sample(500, missing, random_state=7)
    assert satisfied(S, missing).all()
    assert np.isnan(S[:, value]).all()


def test_conditions_without_mass_raise(Z, encoder, model):
    j = encoder.spans["X"][0]
    scores = np.sort(Z[:, j])
    gap = (float(scores[10]) + 1e-12, float(scores[11]) - 1e-12)  # between two members
    exact = SequentialTrees(smoothing=0.0, random_state=0).fit(Z, encoder.dims)
    with pytest.raises(ValueError, match="no probability"):
        exact.sample(10, {j: ("interval", *gap)}, random_state=0)
    model.sample(10, {j: ("interval", *gap)}, random_state=0)  # smoothing covers gaps
    below = (float(scores[0]) - 1.0, float(scores[0]) - 1e-9)  # below every member
    with pytest.raises(ValueError, match="no probability"):
        model.sample(10, {j: ("interval", *below)}, random_state=0)
    with pytest.raises(ValueError, match="no probability"):
        model.sample(10, encoder.conditions({"A": "c", "B": "x"}), random_state=0)
    value = encoder.spans["W"][0]
    missing = {value + 1: ("interval", encoder.dims[value + 1].cuts[0], 9.0)}
    with pytest.raises(ValueError, match="no probability"):
        model.sample(10, {**missing, value: ("interval", -1.0, 1.0)}, random_state=0)


# ---------------------------------------------------------------------------------------
# Smoothing and many-level columns


def test_smoothing_stops_copying_continuous_values_and_keeps_atoms(table, Z, encoder, model):
    j = encoder.spans["X"][0]
    observed = set(Z[:, j].tolist())
    exact = SequentialTrees(smoothing=0.0, random_state=0).fit(Z, encoder.dims)
    copied = exact.sample(500, random_state=1)[:, j]
    assert all(z in observed for z in copied)
    smooth = SequentialTrees(smoothing=1.0, random_state=0).fit(Z, encoder.dims)
    S = smooth.sample(N, random_state=1)
    # Only the lowest and highest value stay put when moving outwards.
    copied = [z for z in S[:, j] if z in observed]
    assert set(copied) <= {Z[:, j].min(), Z[:, j].max()}
    assert len(copied) < 0.01 * N
    synthetic = decode(encoder, S)
    # A value moves at most to its neighbour among the training values: X given A stays
    # within A's band widened by one neighbouring value on each side.
    values = np.sort(table["X"].to_numpy())
    for level in BANDS:
        band = table.loc[table["A"] == level, "X"]
        low = values[max(np.searchsorted(values, band.min()) - 1, 0)]
        high = values[min(np.searchsorted(values, band.max(), side="right"), values.size - 1)]
        assert synthetic.loc[synthetic["A"] == level, "X"].between(low, high).all(), level
    assert set(synthetic["K"].unique()) <= set(table["K"].unique())


def test_smoothing_keeps_atom_rates():
    # K, made of atoms only, is visited second, after X (independent of it), so its
    # leaves hold several of its atoms. Without smoothing its marginal is exactly the
    # training's (see the test above). The move towards the neighbouring training
    # value keeps each atom's rate in expectation over the encoding and within 1/n =
    # 0.0004 for this one, below the resolution of a goodness-of-fit test on 10,000
    # rows against the training shares (ALPHA). Moving towards leaf neighbours instead
    # shifts rates by up to 0.008 (17% of K = 5), which this test detects.
    table = make_table(2400, seed=3)
    encoder = TableEncoder(fit_codecs(table))
    Z = encoder.encode(table, np.random.default_rng(4))
    model = SequentialTrees(order=["X", "K", "A", "B", "W"], smoothing=1.0, random_state=0)
    K = decode(encoder, model.fit(Z, encoder.dims).sample(10_000, random_state=5))["K"]
    assert set(K.unique()) <= set(table["K"].unique())
    assert chi_square_gof(K.value_counts(), table["K"].value_counts(normalize=True)) > ALPHA


@pytest.mark.parametrize("where", [{"X": (9.0, 11.0)}, {"W": (1.0, 2.0)}])
def test_smoothed_interval_conditions_are_met_and_match_the_data(table, Z, encoder, where):
    # With smoothing = 1 a leaf's continuous dimension is its members' linearly
    # interpolated distribution; X's (and W's) marginal is then the interpolated
    # empirical one, so the conditional shares of A are the data's up to the
    # interpolation at the interval's ends (a few members): chi-square at ALPHA.
    smooth = SequentialTrees(smoothing=1.0, random_state=0).fit(Z, encoder.dims)
    conditions = encoder.conditions(where)
    S = smooth.sample(N, conditions, random_state=2)
    assert satisfied(S, conditions).all()
    ((name, (low, high)),) = where.items()
    synthetic = decode(encoder, S)
    assert synthetic[name].between(low, high).all()
    if name == "X":
        expected = table.loc[table["X"].between(low, high), "A"].value_counts(normalize=True)
        assert chi_square_gof(synthetic["A"].value_counts(), expected) > ALPHA


def test_smoothed_point_condition_uses_the_segment_density(Z, encoder):
    smooth = SequentialTrees(smoothing=1.0, random_state=0).fit(Z, encoder.dims)
    j = encoder.spans["X"][0]
    b_scores = np.sort(Z[decode(encoder, Z)["A"] == "b", j])
    point = 0.5 * float(b_scores[10] + b_scores[11])
    S = smooth.sample(300, {j: ("point", point)}, random_state=3)
    np.testing.assert_array_equal(S[:, j], point)
    # Only segments of b's leaves cover a point between two b members.
    assert (decode(encoder, S)["A"] == "b").all()


def test_many_level_column_is_regressed_and_keeps_its_dependence():
    # C has 60 levels, 20 per level of A; a regression tree on C's normal scores still
    # only copies observed levels, and never pairs a level of C with the wrong A.
    rng = np.random.default_rng(0)
    n = 1200
    A = rng.choice(["a", "b", "c"], n)
    C = np.array([f"{a}{k}" for a, k in zip(A, rng.integers(0, 20, n), strict=True)])
    table = pd.DataFrame({"A": A, "C": C})
    encoder = TableEncoder(fit_codecs(table))
    assert encoder.dims[1].levels == 60
    Z = encoder.encode(table, rng)
    model = SequentialTrees(order="given", random_state=0).fit(Z, encoder.dims)
    synthetic = decode(encoder, model.sample(N, random_state=1))
    assert (synthetic["C"].str[0] == synthetic["A"]).all()
    assert set(synthetic["C"]) <= set(C)


# ---------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_samples_leaf": 0}, "min_samples_leaf"),
        ({"min_samples_leaf": 2.5}, "min_samples_leaf"),
        ({"max_depth": 0}, "max_depth"),
        ({"smoothing": -0.1}, "smoothing"),
        ({"smoothing": float("inf")}, "smoothing"),
        ({"order": "bogus"}, "order"),
        ({"order": 3}, "order"),
        ({"order": ["A", "B", "X", "K"]}, "missing \\['W'\\]"),
        ({"order": ["A", "B", "X", "K", "W", "V"]}, "unknown \\['V'\\]"),
        ({"order": ["A", "A", "X", "K", "W", "B"]}, "repeated \\['A'\\]"),
        ({"random_state": "seed"}, "random_state"),
        ({"first": "V"}, "'first' parameter .* Got 'V'"),
        ({"first": 3}, "'first' parameter .* Got 3"),
    ],
)
def test_bad_hyper_parameters_raise_at_fit(Z, encoder, params, message):
    model = SequentialTrees(**params)
    with pytest.raises(InvalidParameterError, match=message):
        model.fit(Z, encoder.dims)


def test_bad_data_and_calls_raise(Z, encoder, model):
    dims = encoder.dims
    with pytest.raises(NotFittedError):
        SequentialTrees().sample(3)
    with pytest.raises(ValueError, match="shape"):
        SequentialTrees().fit(Z[:, :-1], dims)
    bad = Z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="holds NaN"):
        SequentialTrees().fit(bad, dims)
    bad = Z.copy()
    bad[0, encoder.spans["X"][0]] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        SequentialTrees().fit(bad, dims)
    value = encoder.spans["W"][0]
    bad = Z.copy()
    bad[np.flatnonzero(~np.isnan(Z[:, value]))[0], value] = np.nan
    with pytest.raises(ValueError, match="missing indicator"):
        SequentialTrees().fit(bad, dims)
    scrambled = list(dims)
    scrambled[2] = ModelDim("A", "value", 0)  # A, B, A: A's dimensions are split
    with pytest.raises(ValueError, match="contiguous"):
        SequentialTrees().fit(Z, scrambled)
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            model.sample(n)
    with pytest.raises(ValueError, match="dimension 99"):
        model.sample(3, {99: ("point", 0.0)})
    with pytest.raises(ValueError, match="low <= high"):
        model.sample(3, {0: ("interval", 1.0, 0.0)})
    with pytest.raises(ValueError, match="must be"):
        model.sample(3, {0: ("between", 0.0, 1.0)})
