"""Empirical marginals with atoms, and truncated Gaussian-mixture draws.

Oracles: the empirical CDF counted by brute force, scipy's truncnorm and normal CDFs,
and conditional Gaussian formulas written out by hand. Statistical checks use KS or
chi-square tests at alpha = 1e-3 (the false-failure rate of each).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lookalike._math.marginals import (
    atoms_only,
    cdf_interval,
    fit_marginal,
    from_uniform,
    normal_scores,
    to_uniform,
    uniforms,
)
from lookalike._math.truncated import (
    conditional_mixture_draws,
    log_interval_mass,
    truncated_standard_normal,
)

ALPHA = 1e-3


def _mixed_column(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    """Zeros (an atom), values rounded to 0.5 (atoms) and a continuous part."""
    values = rng.lognormal(0, 1, n)
    values[: n // 3] = 0.0
    values[n // 3 : n // 2] = np.round(values[n // 3 : n // 2] * 2) / 2
    return rng.permutation(values)


def test_every_observed_value_round_trips_exactly():
    rng = np.random.default_rng(0)
    values = _mixed_column(rng)
    marginal = fit_marginal(values)
    u = to_uniform(marginal, values, rng)
    back = from_uniform(marginal, uniforms(normal_scores(u)))
    np.testing.assert_allclose(back, values, rtol=1e-9, atol=1e-12)


def test_cdf_intervals_are_the_empirical_cdf():
    rng = np.random.default_rng(1)
    values = _mixed_column(rng, 500)
    marginal = fit_marginal(values)
    below, at = cdf_interval(marginal, values)
    atoms, counts = np.unique(values, return_counts=True)
    for value, count in zip(atoms, counts, strict=True):
        if count > 1:  # an atom: the interval is its observed share, ending at the ECDF
            rows = values == value
            np.testing.assert_allclose(at[rows] - below[rows], count / values.size)
            # ... up to one observation's share: the continuous part spreads each
            # single value's mass over the gap up to the next one.
            np.testing.assert_allclose(at[rows], np.mean(values <= value), atol=1 / values.size)


def test_uniform_scores_decode_to_the_observed_marginal():
    rng = np.random.default_rng(2)
    values = _mixed_column(rng)
    marginal = fit_marginal(values)
    drawn = from_uniform(marginal, rng.random(20_000))
    # Atoms come back at their rates: chi-square over (zero, half-grid atoms, the rest).
    groups_real = [np.mean(values == 0), np.mean((values > 0) & (values * 2 % 1 == 0))]
    groups_fake = [np.mean(drawn == 0), np.mean((drawn > 0) & (drawn * 2 % 1 == 0))]
    table = np.array(
        [
            [groups_real[0], groups_real[1], 1 - sum(groups_real)],
            [groups_fake[0], groups_fake[1], 1 - sum(groups_fake)],
        ]
    ) * np.array([[values.size], [drawn.size]])
    assert stats.chi2_contingency(table)[1] > ALPHA
    assert stats.ks_2samp(values, drawn).pvalue > ALPHA
    assert drawn.min() >= values.min() and drawn.max() <= values.max()


def test_compressed_marginal_keeps_its_size_and_its_quantiles():
    rng = np.random.default_rng(3)
    values = rng.normal(size=200_000)
    marginal = fit_marginal(values, max_knots=512)
    assert marginal.positions.size <= 512
    probabilities = np.linspace(0.001, 0.999, 99)
    np.testing.assert_allclose(
        from_uniform(marginal, probabilities), np.quantile(values, probabilities), atol=0.02
    )


def test_tails_extend_beyond_the_observed_range_only_when_asked():
    values = np.random.default_rng(4).normal(size=1000)
    plain, tailed = fit_marginal(values), fit_marginal(values, tails=True)
    assert from_uniform(plain, np.array([0.0]))[0] == values.min()
    assert from_uniform(tailed, np.array([0.0]))[0] < values.min()
    assert from_uniform(tailed, np.array([1.0]))[0] > values.max()


def test_categorical_levels_decode_at_their_shares():
    shares = np.array([0.86, 0.10, 0.03, 0.01])
    marginal = atoms_only(shares)
    rng = np.random.default_rng(5)
    codes = from_uniform(marginal, uniforms(rng.standard_normal(50_000))).astype(int)
    counts = np.bincount(codes, minlength=4)
    assert stats.chisquare(counts, shares * counts.sum()).pvalue > ALPHA


# --------------------------------------------------------------------------------------
# Truncated normals and conditional mixtures


@pytest.mark.parametrize("low,high", [(-1.0, 2.0), (3.0, 4.0), (-40.0, -38.0), (8.0, np.inf)])
def test_truncated_standard_normal_matches_scipy(low, high):
    rng = np.random.default_rng(6)
    drawn = truncated_standard_normal(np.full(4000, low), np.full(4000, high), rng)
    assert np.all((drawn >= low) & (drawn <= high))
    if low > -30:  # scipy's own CDF is inaccurate that far out
        assert stats.kstest(drawn, stats.truncnorm(low, high).cdf).pvalue > ALPHA
    if -30 < low < 5:
        expected = np.log(stats.norm.cdf(high) - stats.norm.cdf(low))
        np.testing.assert_allclose(log_interval_mass(low, high), expected, rtol=1e-9)
    # Far in the tail the log-mass stays finite (Mills ratio: log(phi(a) / a)).
    assert np.isfinite(log_interval_mass(-40.0, -38.0))


def _mixture() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    weights = np.array([0.3, 0.7])
    means = np.array([[0.0, 0.0, 0.0], [2.0, -1.0, 1.0]])
    a = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])
    b = np.array([[0.5, -0.2, 0.0], [-0.2, 1.5, 0.4], [0.0, 0.4, 0.8]])
    return weights, means, np.stack([a, b])


def _brute_force(weights, means, covs, n, rng):
    """Draws of the mixture, grouped by component; ``n`` is a total or the counts."""
    counts = rng.multinomial(n, weights) if np.ndim(n) == 0 else n
    return np.concatenate(
        [rng.multivariate_normal(means[c], covs[c], size=m) for c, m in enumerate(counts)]
    )


def test_point_conditioning_matches_the_gaussian_formulas():
    weights, means, covs = _mixture()
    rng = np.random.default_rng(7)
    x0 = 1.0
    drawn, _ = conditional_mixture_draws(weights, means, covs, {0: x0}, {}, 20_000, rng)
    assert np.all(drawn[:, 0] == x0)
    # Oracle: reweight by N(x0; mu_k0, S_k00) and regress the other coordinates.
    log_r = np.log(weights) + stats.norm.logpdf(x0, means[:, 0], np.sqrt(covs[:, 0, 0]))
    r = np.exp(log_r - log_r.max())
    r /= r.sum()
    cond_means = means[:, 1:] + (x0 - means[:, :1]) * covs[:, 1:, 0] / covs[:, :1, 0]
    expected = r @ cond_means
    np.testing.assert_allclose(drawn[:, 1:].mean(axis=0), expected, atol=0.05)


def test_interval_conditioning_equals_rejection_from_the_mixture():
    weights, means, covs = _mixture()
    rng = np.random.default_rng(8)
    intervals = {0: (1.0, 1.8), 2: (0.2, np.inf)}
    drawn, _ = conditional_mixture_draws(weights, means, covs, {}, intervals, 4000, rng)
    assert np.all((drawn[:, 0] >= 1.0) & (drawn[:, 0] <= 1.8) & (drawn[:, 2] >= 0.2))
    reference = _brute_force(weights, means, covs, 60_000, rng)
    keep = (reference[:, 0] >= 1.0) & (reference[:, 0] <= 1.8) & (reference[:, 2] >= 0.2)
    reference = reference[keep]
    for j in range(3):
        assert stats.ks_2samp(drawn[:, j], reference[:, j]).pvalue > ALPHA, j


def test_one_interval_is_exact_with_a_shared_covariance():
    # A Gaussian KDE: many components sharing one covariance.
    rng = np.random.default_rng(9)
    centres = rng.normal(size=(300, 2))
    cov = np.array([[[0.09, 0.03], [0.03, 0.09]]])
    weights = np.full(300, 1 / 300)
    drawn, _ = conditional_mixture_draws(weights, centres, cov, {}, {1: (0.5, 1.5)}, 3000, rng)
    reference = centres[rng.integers(0, 300, 80_000)] + rng.multivariate_normal(
        [0, 0], cov[0], 80_000
    )
    reference = reference[(reference[:, 1] >= 0.5) & (reference[:, 1] <= 1.5)]
    assert stats.ks_2samp(drawn[:, 0], reference[:, 0]).pvalue > ALPHA


def test_far_tail_intervals_still_give_draws_inside_them():
    # 60 standard deviations out: the mass is about exp(-1805), the draws stay exact.
    weights, means, covs = _mixture()
    drawn, _ = conditional_mixture_draws(
        weights, means, covs, {}, {0: (60.0, 61.0)}, 100, np.random.default_rng(0)
    )
    assert np.all((drawn[:, 0] >= 60.0) & (drawn[:, 0] <= 61.0))
    assert np.all(np.isfinite(drawn))


def test_per_component_intervals_equal_rejection_by_component():
    # Component c keeps a draw when x_0 lies in its own interval: the oracle draws
    # (component, x) from the mixture and keeps exactly those.
    weights, means, covs = _mixture()
    rng = np.random.default_rng(10)
    lows, highs = np.array([-0.5, 1.0]), np.array([0.5, np.inf])
    drawn, components = conditional_mixture_draws(
        weights, means, covs, {}, {0: (lows, highs)}, 4000, rng
    )
    assert np.all((drawn[:, 0] >= lows[components]) & (drawn[:, 0] <= highs[components]))
    counts = rng.multinomial(60_000, weights)
    labels = np.repeat(np.arange(2), counts)
    reference = _brute_force(weights, means, covs, counts, rng)
    keep = (reference[:, 0] >= lows[labels]) & (reference[:, 0] <= highs[labels])
    expected = np.bincount(labels[keep], minlength=2)
    observed = np.bincount(components, minlength=2)
    assert stats.chi2_contingency(np.vstack([expected, observed]))[1] > ALPHA
    for j in range(3):
        assert stats.ks_2samp(drawn[:, j], reference[keep, j]).pvalue > ALPHA, j


def test_per_component_points_weight_each_component_by_its_own_density():
    weights, means, covs = _mixture()
    points = np.array([0.5, 2.5])  # component c is conditioned on x_0 = points[c]
    drawn, components = conditional_mixture_draws(
        weights,
        means,
        covs,
        {0: points},
        {},
        20_000,
        np.random.default_rng(11),
    )
    assert np.array_equal(drawn[:, 0], points[components])
    log_r = np.log(weights) + stats.norm.logpdf(points, means[:, 0], np.sqrt(covs[:, 0, 0]))
    expected = np.exp(log_r - log_r.max())
    expected /= expected.sum()
    observed = np.bincount(components, minlength=2) / components.size
    # The multinomial sd of a share over 20,000 draws is below 0.004.
    np.testing.assert_allclose(observed, expected, atol=0.02)
    for c in range(2):
        mean = means[c, 1] + (points[c] - means[c, 0]) * covs[c, 1, 0] / covs[c, 0, 0]
        assert abs(drawn[components == c, 1].mean() - mean) < 0.1, c
