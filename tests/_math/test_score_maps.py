"""Score maps (lookalike._math.score_maps): a sample's own marginal of a score.

Oracles: the sample itself (mapped, it is standard normal; standard normal draws
mapped back are distributed as the sample) and finite differences for the slope.
KS tests run at alpha = 1e-3, the false-failure rate of each.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lookalike._math.score_maps import (
    KNOTS,
    check_score_maps,
    fit_score_map,
    from_map_scores,
    identity_map,
    to_map_scores,
)

ALPHA = 1e-3


@pytest.fixture(scope="module")
def skewed():
    # A skewed, cut-off piece of a normal: the scores of one level of a label.
    rng = np.random.default_rng(0)
    return 0.5 + rng.exponential(0.4, size=2000)


def _smoothed_bootstrap(sample: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the variance-matched kernel estimate, by its definition (the oracle)."""
    sd = sample.std()
    iqr = np.subtract(*np.quantile(sample, [0.75, 0.25])) / 1.349
    h = 0.9 * min(sd, iqr) * sample.size**-0.2
    drawn = rng.choice(sample, n) + h * rng.standard_normal(n)
    return sample.mean() + (drawn - sample.mean()) / np.sqrt(1 + (h / sd) ** 2)


def test_a_map_sends_its_smoothed_sample_to_normal_scores_and_back(skewed):
    rng = np.random.default_rng(1)
    knots = fit_score_map(skewed)
    smoothed = _smoothed_bootstrap(skewed, 20_000, rng)
    w, _ = to_map_scores(knots, smoothed)
    assert stats.kstest(w, "norm").pvalue > ALPHA
    back = from_map_scores(knots, rng.standard_normal(20_000))
    assert stats.ks_2samp(back, smoothed).pvalue > ALPHA
    # The smoothing keeps the sample's mean and variance (sds of about 0.003 here).
    assert abs(back.mean() - skewed.mean()) < 0.02 and abs(back.std() - skewed.std()) < 0.02
    # One normal on the raw scores would not fit: the sample is far from normal.
    assert stats.kstest((skewed - skewed.mean()) / skewed.std(), "norm").pvalue < ALPHA


def test_a_large_sample_is_smoothed_from_its_quantiles():
    rng = np.random.default_rng(2)
    large = rng.gamma(2.0, size=200_000)
    knots = fit_score_map(large)
    back = from_map_scores(knots, rng.standard_normal(50_000))
    assert stats.ks_2samp(back, _smoothed_bootstrap(large, 50_000, rng)).pvalue > ALPHA


def test_maps_invert_exactly_everywhere_with_infinite_ends(skewed):
    knots = fit_score_map(skewed)
    z = np.concatenate((np.linspace(-20, 20, 4001), knots))
    w, _ = to_map_scores(knots, z)
    assert np.all(np.diff(w[:4001]) > 0)
    np.testing.assert_allclose(from_map_scores(knots, w), z, rtol=0, atol=1e-9)
    ends, _ = to_map_scores(knots, np.array([-np.inf, np.inf]))
    assert ends[0] == -np.inf and ends[1] == np.inf
    assert np.array_equal(from_map_scores(knots, ends), [-np.inf, np.inf])


def test_the_slope_is_the_derivative(skewed):
    knots = fit_score_map(skewed)
    # Points off the knots, inside and on both tails.
    z = np.concatenate((0.5 * (knots[:-1] + knots[1:]), [knots[0] - 1.0, knots[-1] + 1.0]))
    _, slope = to_map_scores(knots, z)
    step = 1e-7
    numeric = (to_map_scores(knots, z + step)[0] - to_map_scores(knots, z - step)[0]) / (2 * step)
    np.testing.assert_allclose(slope, numeric, rtol=1e-5)
    assert np.all(slope > 0)


def test_small_or_constant_samples_get_the_identity():
    for sample in (np.array([0.3, 1.2]), np.full(50, 0.7), np.array([np.nan, 1.0, np.nan])):
        assert np.array_equal(fit_score_map(sample), identity_map())
    z = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(to_map_scores(identity_map(), z)[0], z, atol=1e-12)


def test_ties_and_tiny_samples_still_give_increasing_maps():
    for sample in (np.array([0.1, 0.1, 0.1, 0.5]), np.array([-1.0, 0.0, 2.0])):
        check_score_maps(fit_score_map(sample))


def test_check_score_maps_refuses_broken_knots():
    good = identity_map()
    check_score_maps(np.stack([good, good]))
    with pytest.raises(ValueError, match="strictly increasing"):
        check_score_maps(good[::-1].copy())
    with pytest.raises(ValueError, match="finite"):
        check_score_maps(np.where(np.arange(KNOTS) == 3, np.nan, good))
    with pytest.raises(ValueError, match="knots"):
        check_score_maps(good[:10].copy())
    with pytest.raises(ValueError, match="float64"):
        check_score_maps(good.astype(np.float32))


def test_a_sample_that_looks_normal_keeps_the_identity_when_asked(skewed):
    rng = np.random.default_rng(3)
    normal = 0.4 + 0.7 * rng.standard_normal(500)
    assert np.array_equal(fit_score_map(normal, normal_alpha=0.05), identity_map())
    assert not np.array_equal(fit_score_map(normal), identity_map())  # not asked
    assert not np.array_equal(fit_score_map(skewed, normal_alpha=0.05), identity_map())
    # A large sample is tested by its quantiles: a normal one still passes.
    large = rng.standard_normal(100_000)
    assert np.array_equal(fit_score_map(large, normal_alpha=0.05), identity_map())
