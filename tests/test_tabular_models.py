"""Joint models of the Synthesizer: CellMixture, EstimatorModel, the auto selection.

Oracles: the training rows themselves (cells resample them; conditional shares are
counted in the data), closed-form Gaussian conditionals, and a copy of the training
rows (which the closest-record check must flag). Chi-square and KS tests run at
alpha = 1e-3, the false-failure rate of each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lookalike._math.score_maps import identity_map
from lookalike.exceptions import InvalidParameterError
from lookalike.gaussian import Gaussian
from lookalike.mixture import GaussianMixture
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.models import CellMixture, EstimatorModel
from lookalike.tabular.models.base import satisfied
from lookalike.tabular.models.selection import dcr_ratio
from lookalike.tabular.schema import fit_codecs

ALPHA = 1e-3


@pytest.fixture(scope="module")
def encoded():
    rng = np.random.default_rng(0)
    n = 1500
    group = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    x = np.where(group == "a", 0.0, np.where(group == "b", 3.0, 6.0)) + rng.normal(size=n)
    y = np.round(x + rng.normal(scale=0.5, size=n), 1)
    y[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({"group": group, "x": x, "y": y})
    encoder = TableEncoder(fit_codecs(frame))
    return frame, encoder, encoder.encode(frame, rng)


def test_cells_hold_between_half_and_all_of_cell_size(encoded):
    _, encoder, Z = encoded
    model = CellMixture(cell_size=10, random_state=0).fit(Z, encoder.dims)
    sizes = np.diff(model.cell_starts_)
    assert sizes.sum() == Z.shape[0] and sizes.max() <= 10 and sizes.min() >= 5


def test_cells_split_by_first_never_mix_its_levels(encoded):
    frame, encoder, Z = encoded
    group = next(j for j, dim in enumerate(encoder.dims) if dim.column == "group")
    mixed = CellMixture(random_state=0).fit(Z, encoder.dims)
    split = CellMixture(first="group", random_state=0).fit(Z, encoder.dims)

    def cells_with_two_levels(model):
        codes = encoder.dims[group].codes(model.rows_[:, group])
        return sum(
            np.unique(codes[a:b]).size > 1
            for a, b in zip(model.cell_starts_[:-1], model.cell_starts_[1:], strict=True)
        )

    assert cells_with_two_levels(mixed) > 0  # the data overlap: unsplit cells mix levels
    assert cells_with_two_levels(split) == 0
    sizes = np.diff(split.cell_starts_)
    assert sizes.max() <= split.cell_size
    # Every level keeps its rows: the drawn level rates are the data's.
    drawn = pd.DataFrame(encoder.decode(split.sample(6000, random_state=1)))
    counts = drawn["group"].value_counts().reindex(["a", "b", "c"])
    real = frame["group"].value_counts().reindex(["a", "b", "c"])
    assert stats.chi2_contingency(np.vstack([real, counts]))[1] > ALPHA


def test_cells_first_on_a_number_or_unknown_column(encoded):
    _, encoder, Z = encoded
    plain = CellMixture(random_state=0).fit(Z, encoder.dims)
    numeric = CellMixture(first="x", random_state=0).fit(Z, encoder.dims)
    # A numeric column is not split by: the partition is the unsplit one.
    assert np.array_equal(plain.rows_, numeric.rows_, equal_nan=True)
    assert np.array_equal(plain.cell_starts_, numeric.cell_starts_)
    with pytest.raises(InvalidParameterError, match="'first' parameter of CellMixture"):
        CellMixture(first="nope").fit(Z, encoder.dims)


def test_cells_reproduce_every_marginal_and_keep_dependence(encoded):
    frame, encoder, Z = encoded
    model = CellMixture(random_state=0).fit(Z, encoder.dims)
    drawn = model.sample(6000, random_state=1)
    decoded = pd.DataFrame(encoder.decode(drawn))
    counts = decoded["group"].value_counts().reindex(["a", "b", "c"])
    real = frame["group"].value_counts().reindex(["a", "b", "c"])
    assert stats.chi2_contingency(np.vstack([real, counts]))[1] > ALPHA
    assert stats.ks_2samp(decoded["x"], frame["x"]).pvalue > ALPHA
    # The missing rate comes with its column (value and indicator from one member).
    missing_real, missing_fake = frame["y"].isna().mean(), decoded["y"].isna().mean()
    assert abs(missing_fake - missing_real) < 4 * np.sqrt(missing_real / 6000) + 0.01
    # Dependence: x given group.
    for level in ("a", "c"):
        fake = decoded.loc[decoded["group"] == level, "x"]
        assert abs(fake.mean() - frame.loc[frame["group"] == level, "x"].mean()) < 0.3


def test_cells_condition_exactly_without_rejection(encoded):
    frame, encoder, Z = encoded
    model = CellMixture(random_state=0).fit(Z, encoder.dims)
    conditions = encoder.conditions({"group": "c", "x": (5.0, None)})
    drawn = model.sample(3000, conditions, random_state=2)
    assert satisfied(drawn, conditions).all()
    decoded = pd.DataFrame(encoder.decode(drawn))
    assert (decoded["group"] == "c").all() and (decoded["x"] >= 5.0).all()
    # The conditional law of y is the data's (within cells): compare with the real rows.
    real = frame.loc[(frame["group"] == "c") & (frame["x"] >= 5.0), "y"].dropna()
    assert abs(decoded["y"].dropna().mean() - real.mean()) < 0.25
    point = encoder.conditions({"x": float(frame["x"].iloc[0])})
    assert np.all(model.sample(10, point, random_state=3)[:, 1] == point[1][1])


def test_cells_smoothing_moves_continuous_values_off_the_training_values(encoded):
    frame, encoder, Z = encoded
    observed = np.sort(frame["x"].to_numpy())

    def training_value(values: pd.Series) -> np.ndarray:
        """Whether each value is a training value (to decoding's rounding)."""
        at = np.clip(np.searchsorted(observed, values), 1, observed.size - 1)
        gap = np.minimum(abs(values - observed[at - 1]), abs(values - observed[at]))
        return np.asarray(gap <= 1e-9 * (1 + abs(values)))

    def draws(smoothing: float) -> pd.DataFrame:
        model = CellMixture(smoothing=smoothing, random_state=0).fit(Z, encoder.dims)
        return pd.DataFrame(encoder.decode(model.sample(6000, random_state=1)))

    copied = draws(0.0)
    assert training_value(copied["x"]).all()  # without smoothing: training values
    smoothed = draws(1.0)
    # Only the lowest and highest values can be kept (half of their draws): a
    # binomial bound of 6000 draws at 2/1500 with a wide margin.
    assert training_value(smoothed["x"]).mean() < 0.005
    assert stats.ks_2samp(smoothed["x"], frame["x"]).pvalue > ALPHA
    # y's readings keep their resolution, and its repeated values (the codec's atoms)
    # their rates; values seen once are interpolated between neighbours, as the codec
    # decodes.
    y = smoothed["y"].dropna()
    np.testing.assert_allclose(y, y.round(1), atol=1e-9)
    levels = np.sort(frame["y"].dropna().unique())
    real_counts = frame["y"].value_counts().reindex(levels, fill_value=0).to_numpy()
    fake_counts = y.value_counts().reindex(levels, fill_value=0).to_numpy()
    common = real_counts >= 20
    table = np.vstack(
        [
            np.r_[real_counts[common], real_counts[~common].sum()],
            np.r_[fake_counts[common], fake_counts[~common].sum()],
        ]
    )
    assert stats.chi2_contingency(table)[1] > ALPHA


@pytest.mark.parametrize("estimator", [Gaussian(reg_covar=1e-4), GaussianMixture(3)])
def test_calibrated_estimators_decode_exact_marginals(encoded, estimator):
    frame, encoder, Z = encoded
    model = EstimatorModel(estimator, random_state=0).fit(Z, encoder.dims)
    drawn = model.sample(20_000, random_state=4)
    for j in range(Z.shape[1]):  # every score is standard normal after calibration
        assert stats.kstest(drawn[:, j], "norm").pvalue > ALPHA, j
    decoded = pd.DataFrame(encoder.decode(drawn))
    counts = decoded["group"].value_counts().reindex(["a", "b", "c"])
    real = frame["group"].value_counts().reindex(["a", "b", "c"])
    assert stats.chi2_contingency(np.vstack([real, counts]))[1] > ALPHA


def test_gaussian_first_fits_one_normal_per_level():
    # x and y correlate positively in level a and negatively in level b: one normal
    # over all rows sees no correlation; one per level sees each level's.
    rng = np.random.default_rng(9)
    n = 3000
    label = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    x = rng.normal(size=n)
    y = np.where(label == "a", 1.0, -1.0) * x + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame({"x": x, "label": label, "y": y})
    encoder = TableEncoder(fit_codecs(frame))
    Z = encoder.encode(frame, rng)
    split = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label")
    split.fit(Z, encoder.dims)
    plain = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0).fit(Z, encoder.dims)
    assert split.estimator_.n_components == 2

    def level_correlations(model, conditions=None):
        drawn = pd.DataFrame(encoder.decode(model.sample(20_000, conditions, random_state=1)))
        return drawn, {
            level: np.corrcoef(rows["x"], rows["y"])[0, 1]
            for level, rows in drawn.groupby("label")
        }

    real = {level: np.corrcoef(r["x"], r["y"])[0, 1] for level, r in frame.groupby("label")}
    drawn, correlations = level_correlations(split)
    # Sampling error of a correlation near 0.9 over >= 8000 rows is below 0.005.
    assert all(abs(correlations[level] - real[level]) < 0.03 for level in real)
    assert all(abs(c) < 0.5 for c in level_correlations(plain)[1].values())
    counts = drawn["label"].value_counts().reindex(["a", "b"])
    assert stats.chi2_contingency(np.vstack([frame["label"].value_counts(), counts]))[1] > ALPHA
    given_b, correlations = level_correlations(split, encoder.conditions({"label": "b"}))
    assert (given_b["label"] == "b").all() and abs(correlations["b"] - real["b"]) < 0.03


def test_gaussian_first_keeps_each_levels_own_marginals():
    # Level a's x is uniform on [0, 1], level b's exponential from 1.5: each a cut-off,
    # skewed piece of the whole column, which one normal per level would spread past
    # the level's range. Per-level maps keep each level's own marginal.
    rng = np.random.default_rng(3)
    n = 4000
    label = rng.choice(["a", "b"], n)
    x = np.where(label == "a", rng.uniform(0, 1, n), 1.5 + rng.exponential(1.0, n))
    frame = pd.DataFrame({"label": label, "x": x, "y": x + rng.normal(scale=0.3, size=n)})
    encoder = TableEncoder(fit_codecs(frame))
    model = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label")
    model.fit(encoder.encode(frame, rng), encoder.dims)
    drawn = pd.DataFrame(encoder.decode(model.sample(20_000, random_state=1)))
    for level in ("a", "b"):
        fake, real = drawn.loc[drawn["label"] == level], frame.loc[frame["label"] == level]
        for column in ("x", "y"):
            assert stats.ks_2samp(fake[column], real[column]).pvalue > ALPHA, (level, column)
    # Only the smoothing (a kernel's width at the level's edge) and the tails beyond
    # the last of 64 knots (1/128 of the draws) cross into the other level's range:
    # 3% here, where one normal per level puts 9%.
    for level, outside in (("a", drawn["x"] > 1.0), ("b", drawn["x"] < 1.5)):
        assert outside[drawn["label"] == level].mean() < 0.045
    # A range is met exactly and drawn as the model's own draws inside it.
    conditions = encoder.conditions({"x": (0.5, 2.0)})
    given = pd.DataFrame(encoder.decode(model.sample(4000, conditions, random_state=2)))
    inside = drawn.loc[drawn["x"].between(0.5, 2.0)]
    assert given["x"].between(0.5, 2.0).all()
    assert stats.ks_2samp(given["y"], inside["y"]).pvalue > ALPHA
    shares = [given["label"].value_counts(), inside["label"].value_counts()]
    assert stats.chi2_contingency(np.vstack(shares))[1] > ALPHA


def test_gaussian_first_weights_a_point_by_each_levels_density_there():
    # x is uniform on (-1, 1) in level a and on (-0.25, 0.25) in level b, equally
    # often: given x = 0, level b is 4 times as likely as a (densities 2 and 0.5),
    # through the maps' slopes (the Jacobian) at that point.
    rng = np.random.default_rng(4)
    n = 6000
    label = np.repeat(["a", "b"], n // 2)
    x = np.where(label == "a", 1.0, 0.25) * rng.uniform(-1, 1, n)
    frame = pd.DataFrame({"label": label, "x": x, "y": x + rng.normal(scale=0.5, size=n)})
    encoder = TableEncoder(fit_codecs(frame))
    model = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label")
    model.fit(encoder.encode(frame, rng), encoder.dims)
    x_dim = encoder.spans["x"][0]
    assert not np.array_equal(model.level_maps_[1, x_dim], identity_map())  # not normal
    given = pd.DataFrame(
        encoder.decode(model.sample(5000, encoder.conditions({"x": 0.0}), random_state=5))
    )
    assert np.allclose(given["x"], 0.0, atol=1e-6)
    # Sampling sd of the share is 0.006; the smoothed maps' slopes add a few percent.
    assert abs((given["label"] == "b").mean() - 0.8) < 0.05


def test_gaussian_first_keeps_a_normal_where_a_level_looks_normal():
    # Level b's x is cut off at its mean: its rows reject a normal and get a map of
    # their own; a category always does, in every level.
    rng = np.random.default_rng(6)
    n = 4000
    label = np.repeat(["a", "b"], n // 2)
    z = rng.standard_normal(n)
    x = np.where(label == "a", z, np.abs(z))
    kind = np.where(rng.random(n) < np.where(label == "a", 0.2, 0.7), "p", "q")
    frame = pd.DataFrame({"label": label, "x": x, "kind": kind})
    encoder = TableEncoder(fit_codecs(frame))
    model = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label")
    model.fit(encoder.encode(frame, rng), encoder.dims)
    x_dim, kind_dim = encoder.spans["x"][0], encoder.spans["kind"][0]
    identity = identity_map()
    maps = model.level_maps_
    assert not np.array_equal(maps[1, x_dim], identity)
    assert not np.array_equal(maps[0, kind_dim], identity)
    assert not np.array_equal(maps[1, kind_dim], identity)
    # A small level of the same x keeps the normal: its 12 rows cannot reject it.
    small = frame.iloc[np.r_[0:12, n // 2 : n]].reset_index(drop=True)
    encoder = TableEncoder(fit_codecs(small))
    model = EstimatorModel(Gaussian(reg_covar=1e-4), random_state=0, first="label")
    model.fit(encoder.encode(small, rng), encoder.dims)
    assert np.array_equal(model.level_maps_[0, x_dim], identity)


def test_gaussian_first_needs_a_gaussian_and_ignores_numbers(encoded):
    _, encoder, Z = encoded
    with pytest.raises(InvalidParameterError, match=r"needs a lookalike\.Gaussian"):
        EstimatorModel(GaussianMixture(2), first="group").fit(Z, encoder.dims)
    with pytest.raises(InvalidParameterError, match="'first' parameter of EstimatorModel"):
        EstimatorModel(Gaussian(), first="nope").fit(Z, encoder.dims)
    numeric = EstimatorModel(Gaussian(), random_state=0, first="x").fit(Z, encoder.dims)
    plain = EstimatorModel(Gaussian(), random_state=0).fit(Z, encoder.dims)
    assert np.array_equal(numeric.estimator_.means_, plain.estimator_.means_)


def test_gaussian_conditionals_equal_the_closed_form():
    # One normal on two scores: given z0 = 1, z1 ~ N(rho, 1 - rho^2).
    rng = np.random.default_rng(5)
    rho = 0.8
    Z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], 20_000)
    from lookalike.tabular.columns import ModelDim

    dims = [ModelDim("a", "value", 0), ModelDim("b", "value", 0)]
    model = EstimatorModel(Gaussian(), random_state=0).fit(Z, dims)
    drawn = model.sample(20_000, {0: ("point", 1.0)}, random_state=6)
    assert np.allclose(drawn[:, 0], 1.0, atol=0.02)  # calibration moves it by sampling error
    assert abs(drawn[:, 1].mean() - rho) < 0.03
    assert abs(drawn[:, 1].std() - np.sqrt(1 - rho**2)) < 0.03


def test_dcr_ratio_flags_copies(encoded):
    _, encoder, Z = encoded
    rng = np.random.default_rng(7)
    rows = rng.permutation(Z.shape[0])
    training, held_out = Z[rows[:1000]], Z[rows[1000:]]
    assert dcr_ratio(training, held_out, training[:400], encoder.dims) == 0.0
    fresh = CellMixture(random_state=0).fit(training, encoder.dims).sample(400, random_state=8)
    assert dcr_ratio(training, held_out, fresh, encoder.dims) > 0.5


def test_utility_columns_take_the_last_column_then_labels():
    from lookalike.tabular.models.selection import UTILITY_COLUMNS, utility_columns

    frame = pd.DataFrame(
        {
            "wide": [str(i % 30) for i in range(60)],  # 30 levels: not a label
            "three": ["a", "b", "c"] * 20,
            "n1": np.arange(60.0),
            "two": ["x", "<missing>", "y"] * 20,  # missing is not a level
            "four": ["a", "b", "c", "d"] * 15,
            "constant": np.ones(60),
            "n2": np.arange(60.0) ** 2,
        }
    )
    kinds = {c: "numeric" if c[0] in "nc" else "categorical" for c in frame}
    assert UTILITY_COLUMNS == 3
    assert utility_columns(frame, kinds) == ["n2", "two", "three"]
    # A constant last column is skipped; without labels, numbers from the end.
    reordered = frame[["n2", "wide", "three", "n1", "two", "four", "constant"]]
    assert utility_columns(reordered, {c: kinds[c] for c in reordered}) == [
        "two",
        "three",
        "four",
    ]
    numeric = frame[["n1", "n2", "constant"]]
    assert utility_columns(numeric, {c: "numeric" for c in numeric}) == ["n2", "n1"]


def test_adjusted_eta2_matches_one_way_anova():
    """Reference: eta^2 = F (L - 1) / (F (L - 1) + n - L) from scipy's one-way ANOVA."""
    from lookalike.tabular.models.selection import adjusted_eta2

    rng = np.random.default_rng(3)
    z = rng.normal(size=90)
    z[:30] += 1.0
    z[7] = np.nan  # left out
    groups = [np.arange(0, 30), np.arange(30, 60), np.arange(60, 90)]
    kept = [z[g][~np.isnan(z[g])] for g in groups]
    f = stats.f_oneway(*kept).statistic
    n, levels = 89, 3
    eta2 = f * (levels - 1) / (f * (levels - 1) + n - levels)
    expected = 1 - (1 - eta2) * (n - 1) / (n - levels)
    codes = np.repeat([0, 1, 2], 30)
    assert adjusted_eta2(z, codes) == pytest.approx(expected, rel=1e-12)


def _leads_table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    kind = rng.choice(["p", "q", "r"], n)
    shift = np.select([kind == "p", kind == "q"], [0.0, 4.0], 8.0)
    return pd.DataFrame(
        {
            "noise": rng.choice(["u", "v"], n),  # unrelated to the rest
            "kind": kind,
            "x": shift + rng.normal(size=n),
            "y": shift + rng.normal(size=n),
            "size": shift + rng.normal(size=n),  # numeric last column
        }
    )


def test_lead_columns_split_by_the_label_that_explains_the_most():
    from lookalike.tabular.models.selection import informative_label, lead_columns

    frame = _leads_table()
    encoder = TableEncoder(fit_codecs(frame))
    Z = encoder.encode(frame, np.random.default_rng(1))
    assert informative_label(Z, encoder.dims) == "kind"
    # The first utility column is a number: trees visit it first, the levels come
    # from the label that explains the other columns.
    assert lead_columns(Z, encoder.dims, ["size"], None) == ("size", "kind")
    # A class label (or a target that is one) is both.
    assert lead_columns(Z, encoder.dims, ["noise"], None) == ("noise", "noise")
    assert lead_columns(Z, encoder.dims, ["size"], "kind") == ("kind", "kind")
    # A label unrelated to the rest is no split (its score is about 0).
    unrelated = frame.drop(columns="kind")
    plain = TableEncoder(fit_codecs(unrelated))
    Zu = plain.encode(unrelated, np.random.default_rng(1))
    assert informative_label(Zu, plain.dims) is None
    numbers = frame[["x", "y", "size"]]
    numeric = TableEncoder(fit_codecs(numbers))
    Zn = numeric.encode(numbers, np.random.default_rng(1))
    assert informative_label(Zn, numeric.dims) is None
    assert lead_columns(Zn, numeric.dims, ["size"], None) == ("size", None)


def test_gaussian_family_splits_by_the_informative_label_when_the_last_column_is_numeric():
    """Each level's rows keep their own mean: the oracle is the real per-level means."""
    from lookalike import Synthesizer

    frame = _leads_table(seed=2)
    synth = Synthesizer(model="gaussian", random_state=0).fit(frame)
    assert "per level of 'kind'" in synth.summary()["model"]
    rows = synth.sample(3000, random_state=1)
    real = frame.groupby("kind")["x"].mean()
    drawn = rows.groupby("kind")["x"].mean()
    # Level means are 0, 4, 8 with unit spread; one copula for the whole table would
    # tie 'kind' to x only through one correlation (its level means would blur).
    assert np.allclose(drawn[real.index], real, atol=0.15)
    assert rows.groupby("kind")["x"].std().max() < 1.3


def test_holdout_score_is_balanced_accuracy_or_r2():
    from lookalike.evaluation.utility import holdout_score

    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    kinds = {"x": "numeric", "y": "categorical", "z": "numeric"}
    frame = pd.DataFrame({"x": x, "y": np.where(x > 0, "p", "n"), "z": 2 * x})
    fit, test = frame.iloc[:300].reset_index(drop=True), frame.iloc[300:]
    test = test.reset_index(drop=True)
    assert holdout_score(fit, test, "y", kinds, 0, forest_trees=30) > 0.95
    assert holdout_score(fit, test, "z", kinds, 0, forest_trees=30) > 0.95
    # A label unrelated to the features: balanced accuracy near 1/2 even though one
    # class is 90% of rows (plain accuracy would be near 0.9).
    noise = frame.assign(y=np.where(rng.random(400) < 0.9, "p", "n"))
    fit, test = noise.iloc[:300].reset_index(drop=True), noise.iloc[300:].reset_index(drop=True)
    assert abs(holdout_score(fit, test, "y", kinds, 0, forest_trees=30) - 0.5) < 0.15
