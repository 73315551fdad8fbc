"""Statistics, distances, coverage and privacy of the evaluation against brute-force oracles.

Each fast path (sparse contingency counts, blocked nearest neighbours, k-NN balls, hidden-
column attacks) is compared with the definition computed directly (scipy, dense loops).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

import lookalike.evaluation.distances as distances_module
import lookalike.evaluation.fidelity as fidelity_module
from lookalike.evaluation import evaluate
from lookalike.evaluation.columns import encode_rows
from lookalike.evaluation.coverage import Coverage, authenticity, precision_recall
from lookalike.evaluation.distances import (
    nearest,
    nearest_distances,
    nearest_ignoring,
    within_radius,
)
from lookalike.evaluation.fidelity import correlation_ratio, cramers_v, rank_correlation
from lookalike.evaluation.privacy import guesses_right, inference_risk

# --------------------------------------------------------------------------------------
# Association statistics


def test_cramers_v_on_a_non_square_table_is_not_tschuprows_t():
    # A 3 x 5 table: Cramér's V divides chi2 / n by min(r, c) - 1 = 2, Tschuprow's T by
    # sqrt((r - 1)(c - 1)) = sqrt(8); the two differ by a factor 2**(1/4) here.
    rng = np.random.default_rng(0)
    u = rng.choice(["a", "b", "c"], 600)
    v = np.where(rng.random(600) < 0.5, np.char.add(u, "1"), rng.choice(["x", "y"], 600))
    table = pd.crosstab(u, v).to_numpy()
    assert table.shape == (3, 5)
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    cramer = np.sqrt(chi2 / (600 * (min(table.shape) - 1)))
    tschuprow = np.sqrt(chi2 / (600 * np.sqrt((table.shape[0] - 1) * (table.shape[1] - 1))))
    assert abs(cramer - tschuprow) > 0.05
    assert cramers_v(u, v) == pytest.approx(cramer, rel=1e-12)
    # The report's pair metric uses the same statistic.
    real = pd.DataFrame({"u": u, "v": v})
    other = pd.DataFrame({"u": u, "v": rng.permutation(v)})
    diff = fidelity_module.pair_statistics(real, other, {"u": "categorical", "v": "categorical"})
    expected = abs(cramer - cramers_v(other["u"], other["v"]))
    assert diff["cramers_v_diff"]["u|v"] == pytest.approx(expected, rel=1e-12)


def test_sparse_contingency_counts_equal_dense_ones(monkeypatch):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 400, 5000).astype(str).astype(object)
    b = np.where(rng.random(5000) < 0.3, a, rng.integers(0, 300, 5000).astype(str))
    a[:20] = None  # missing values are a level
    dense = cramers_v(a, b)
    monkeypatch.setattr(fidelity_module, "DENSE_PAIR_CELLS", 0)
    assert cramers_v(a, b) == pytest.approx(dense, rel=1e-12)
    levels_a = pd.Series(a).fillna("<missing>")
    table = pd.crosstab(levels_a, b).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert dense == pytest.approx(np.sqrt(chi2 / (5000 * (min(table.shape) - 1))), rel=1e-9)


def test_correlation_ratio_and_rank_correlation_against_definitions():
    rng = np.random.default_rng(2)
    groups = rng.choice(["p", "q", "r"], 400)
    values = rng.normal(size=400) + (groups == "q") * 2.0
    values[:10] = np.nan
    keep = ~np.isnan(values)
    x, g = values[keep], groups[keep]
    between = sum((g == k).sum() * (x[g == k].mean() - x.mean()) ** 2 for k in "pqr")
    assert correlation_ratio(groups, values) == pytest.approx(
        np.sqrt(between / ((x - x.mean()) ** 2).sum()), rel=1e-12
    )
    other = values * 2 + rng.normal(size=400)
    both = keep & ~np.isnan(other)
    expected = stats.spearmanr(values[both], other[both]).statistic
    assert rank_correlation(values, other) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------
# Distances in blocks


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(distances_module, "BLOCK_BYTES", 8 * 50 * 7)  # 7 query rows per block


def test_nearest_neighbours_match_brute_force(small_blocks):
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(50, 4)) + 100.0  # uncentred: rounding must not matter
    queries = np.vstack([rng.normal(size=(30, 4)) + 100.0, reference[:5]])  # 5 exact copies
    full = cdist(queries, reference)
    distance, index = nearest(reference, queries, k=3)
    np.testing.assert_allclose(distance, np.sort(full, axis=1)[:, :3], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(index[:, 0], np.argmin(full, axis=1))
    assert np.all(distance[30:, 0] == 0.0)  # copies at exactly zero
    np.testing.assert_allclose(nearest_distances(reference, queries), full.min(axis=1), atol=1e-9)
    own = nearest(reference, reference, k=2, skip_self=True)[0]
    self_distances = cdist(reference, reference) + np.diag(np.full(50, np.inf))
    np.testing.assert_allclose(own, np.sort(self_distances, axis=1)[:, :2], atol=1e-6)
    radii = rng.uniform(0.5, 2.0, size=50)
    expected = np.any(full <= radii[None, :], axis=1)
    np.testing.assert_array_equal(within_radius(reference, radii, queries), expected)


def test_nearest_ignoring_each_column_matches_brute_force(small_blocks):
    rng = np.random.default_rng(4)
    reference, queries = rng.normal(size=(50, 5)), rng.normal(size=(20, 5))
    slices = {"first": slice(0, 1), "pair": slice(1, 3), "rest": slice(3, 5)}
    found = nearest_ignoring(reference, queries, slices)
    for name, columns in slices.items():
        keep = np.ones(5, dtype=bool)
        keep[columns] = False
        expected = np.argmin(cdist(queries[:, keep], reference[:, keep]), axis=1)
        np.testing.assert_array_equal(found[name], expected)


def test_hashed_levels_are_unit_distance_apart():
    # Over 32 levels a column is hashed to 32 dimensions: equal levels at distance 0,
    # different ones at 1 +- 0.2 (the cosine of two random unit vectors in 32 dimensions
    # has standard deviation 1/sqrt(32) = 0.18; squared distance 1 - cosine).
    levels = np.array([f"level {i}" for i in range(200)], dtype=object)
    frame = pd.DataFrame({"c": levels})
    encoded = encode_rows(frame, [frame, frame.iloc[::-1]], {"c": "categorical"})
    rows = encoded.arrays[0]
    assert rows.shape == (200, 32) and encoded.slices == {"c": slice(0, 32)}
    pairwise = cdist(rows, rows)[np.triu_indices(200, k=1)]
    assert np.all(pairwise > 0.35) and abs(np.mean(pairwise) - 1.0) < 0.05
    np.testing.assert_array_equal(encoded.arrays[1], rows[::-1])  # the same level, same row
    small = pd.DataFrame({"c": np.array(["a", "b", "c"], dtype=object)})
    one_hot = encode_rows(small, [small], {"c": "categorical"}).arrays[0]
    np.testing.assert_allclose(cdist(one_hot, one_hot), 1.0 - np.eye(3))


# --------------------------------------------------------------------------------------
# Coverage against its definition


def brute_coverage(real, synthetic, k):
    """Precision, recall and authenticity straight from the definitions (dense matrices)."""
    real_real = cdist(real, real) + np.diag(np.full(len(real), np.inf))
    synthetic_synthetic = cdist(synthetic, synthetic) + np.diag(np.full(len(synthetic), np.inf))
    real_radius = np.sort(real_real, axis=1)[:, k - 1]
    synthetic_radius = np.sort(synthetic_synthetic, axis=1)[:, k - 1]
    cross = cdist(synthetic, real)
    precision = np.mean(np.any(cross <= real_radius[None, :], axis=1))
    transposed = cross.T
    recall = np.mean(np.any(transposed <= synthetic_radius[None, :], axis=1))
    nearest_real = np.argmin(cross, axis=1)
    authentic = np.mean(cross.min(axis=1) > real_real.min(axis=1)[nearest_real])
    return precision, recall, authentic


def test_precision_recall_authenticity_match_their_definitions():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(300, 3))
    synthetic = np.vstack([rng.normal(size=(200, 3)) * 0.5, rng.normal(size=(50, 3)) + 6])
    expected = brute_coverage(real, synthetic, 5)
    scores = Coverage(real).score(synthetic)
    got = (scores["precision"], scores["recall"], scores["authenticity"])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert precision_recall(real, synthetic) == pytest.approx(expected[:2])
    assert authenticity(real, synthetic) == pytest.approx(expected[2])
    # Known answers: rows far away are neither precise nor covering; copies are not authentic.
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    assert authenticity(real, real[:100]) == 0.0


# --------------------------------------------------------------------------------------
# Privacy: the reference is the holdout measured against the training rows


def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    centre, scale = train.mean(axis=0), train.std(axis=0)
    return [(x - centre) / scale for x in (train, *others)]


def test_dcr_of_holdout_and_synthetic_rows_is_to_the_training_rows():
    # Holdout rows nearer to the synthetic rows than to the training rows: a DCR measured
    # against the wrong table gives other numbers.
    rng = np.random.default_rng(6)
    train = rng.normal(size=(300, 3))
    synthetic = rng.normal(size=(300, 3)) + 3.0
    holdout = synthetic[:150] + rng.normal(scale=0.05, size=(150, 3))
    report = evaluate(train, synthetic, holdout)
    x_train, x_holdout, x_synthetic = standardised(train, holdout, synthetic)
    to_train_holdout = cdist(x_holdout, x_train).min(axis=1)
    to_train_synthetic = cdist(x_synthetic, x_train).min(axis=1)
    np.testing.assert_allclose(np.sort(report.distances["holdout"]), np.sort(to_train_holdout),
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(
        np.sort(report.distances["synthetic"]), np.sort(to_train_synthetic), rtol=1e-9
    )
    assert report.value("dcr_holdout") == pytest.approx(np.median(to_train_holdout))
    assert report.reference("dcr_synthetic") == pytest.approx(np.median(to_train_holdout))
    assert report.value("dcr_ratio") == pytest.approx(
        np.median(to_train_synthetic) / np.median(to_train_holdout)
    )
    assert np.median(cdist(x_holdout, x_synthetic).min(axis=1)) < 0.2 < np.median(to_train_holdout)


def discrete_rows(n: int, seed: int) -> pd.DataFrame:
    """7% of rows from 10 common rows (each surely in a training set), the rest continuous."""
    rng = np.random.default_rng(seed)
    common = rng.random(n) < 0.07
    x = np.where(common, rng.integers(0, 10, n).astype(float), rng.normal(50, 5, n))
    return pd.DataFrame({"x": x, "y": np.where(common, x * 2, rng.normal(size=n))})


def test_exact_copies_are_judged_against_the_holdouts_own_rate():
    # A fresh draw copies training rows as often as the holdout does (7% here, standard
    # error 0.7%): not memorised, though above the 5% an absolute rule would flag.
    train, holdout, fresh = discrete_rows(1500, 7), discrete_rows(1500, 8), discrete_rows(1500, 9)
    report = evaluate(train, fresh, holdout)
    assert 0.05 < report.value("exact_copy_rate") < 0.09
    assert 0.05 < report.reference("exact_copy_rate") < 0.09
    assert not report.memorised
    # 15% more copies than the holdout has: memorised.
    copies = pd.concat([fresh.iloc[:1275], train.iloc[:225]], ignore_index=True)
    flagged = evaluate(train, copies, holdout)
    assert flagged.value("exact_copy_rate") - flagged.reference("exact_copy_rate") > 0.1
    assert flagged.memorised
    assert any("exact copies of training rows against" in s for s in flagged.summary)


def test_attribute_inference_against_a_brute_force_attack():
    rng = np.random.default_rng(10)
    n = 300
    a = rng.normal(size=n)
    train = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=n),
                          "c": np.where(a > 0, "pos", "neg")})  # fmt: skip
    h = rng.normal(size=n)
    holdout = pd.DataFrame({"a": h, "b": h + 0.1 * rng.normal(size=n),
                            "c": np.where(h > 0, "pos", "neg")})  # fmt: skip
    # Synthetic rows: half copies of training rows, half fresh.
    s = rng.normal(size=n // 2)
    fresh = pd.DataFrame({"a": s, "b": s + 0.1 * rng.normal(size=n // 2),
                          "c": np.where(s > 0, "pos", "neg")})  # fmt: skip
    synthetic = pd.concat([train.iloc[: n // 2], fresh], ignore_index=True)
    report = evaluate(train, synthetic, holdout)
    # The attack from its definition: nearest synthetic row on the other columns
    # (standardised numerics, categories 1 apart), its value as the guess.
    numeric = ["a", "b"]
    centre, scale = train[numeric].mean(), train[numeric].std(ddof=0)

    def encode(frame):
        out = ((frame[numeric] - centre) / scale).to_numpy()
        return np.column_stack([out, (frame["c"] == "pos") / np.sqrt(2),
                                (frame["c"] == "neg") / np.sqrt(2)])  # fmt: skip

    x_synthetic = encode(synthetic)
    columns = {"a": [0], "b": [1], "c": [2, 3]}

    def success(targets):
        rates = {}
        x = encode(targets)
        for name, hidden in columns.items():
            keep = [j for j in range(4) if j not in hidden]
            guess = synthetic[name].to_numpy()[
                np.argmin(cdist(x[:, keep], x_synthetic[:, keep]), axis=1)
            ]
            truth = targets[name].to_numpy()
            kind = "categorical" if name == "c" else "numeric"
            rates[name] = np.mean(guesses_right(guess, truth, kind))
        return rates

    # evaluate attacks every training row and every holdout row here (n < ATTACK_ROWS), in
    # a seeded order: the shares do not depend on the order.
    expected_train, expected_control = success(train), success(holdout)
    for name in columns:
        assert report.value("attribute_inference_success", name) == pytest.approx(
            expected_train[name]
        )
        assert report.reference("attribute_inference_success", name) == pytest.approx(
            expected_control[name]
        )
        risk = (expected_train[name] - expected_control[name]) / (1 - expected_control[name])
        if (1 - expected_control[name]) * n >= 10:
            assert report.value("attribute_inference_risk", name) == pytest.approx(
                np.clip(risk, 0, 1)
            )
    assert report.value("attribute_inference_risk", "a") > 0.3  # half the rows are copies


def test_guesses_of_numbers_are_right_within_five_percent():
    guesses = np.array([1.04, 1.06, np.nan, 5.0, -2.0])
    secrets = np.array([1.0, 1.0, np.nan, np.nan, -2.09])
    np.testing.assert_array_equal(
        guesses_right(guesses, secrets, "numeric"), [True, False, True, False, True]
    )
    assert list(guesses_right(np.array([3.0]), np.array([1e18]), "numeric", scale=10.0)) == [False]


def test_inference_risk_and_its_standard_error_against_simulation():
    # 20,000 simulated attacks of 400 targets and 300 controls: the spread of the risk
    # estimates matches the propagated error within 10% (the simulated standard deviation
    # itself is known to 0.5%; the first-order formula is within a few percent here).
    rng = np.random.default_rng(11)
    p_target, p_control, n_t, n_c = 0.7, 0.55, 400, 300
    risk, error = inference_risk(p_target, p_control, n_t, n_c)
    assert risk == pytest.approx((0.7 - 0.55) / 0.45)
    s = rng.binomial(n_t, p_target, 20_000) / n_t
    c = rng.binomial(n_c, p_control, 20_000) / n_c
    simulated = (s - c) / (1 - c)
    assert error == pytest.approx(simulated.std(), rel=0.1)
    assert inference_risk(1.0, 0.5, 100, 100) == (1.0, 0.0)  # copies: certain
    assert all(np.isnan(inference_risk(1.0, 0.95, 100, 100)))  # 5 misses: not measurable
    assert inference_risk(0.2, 0.5, 100, 100)[0] == 0.0  # clipped at 0
