"""Linear binning and the binned (FFT) kernel sums, against brute-force oracles.

Oracles: a loop over points and cell corners for the binning; for the kernel
sums, a direct log-sum-exp over all points of the kernel's ``log_profile``
(scipy's ``logsumexp``), which also gives each query's reach
``rho^2 = E_pi |z|^2`` (the mean squared distance to the data weighted by the
kernel terms) that the error model needs.

Tolerances are the documented ones of :mod:`lookalike._math.binned`:

- Gaussian kernel: ``|error| <= 1.25 (d + rho^2) delta^2 / 8`` at grid nodes and
  twice that at interpolated queries, with each evaluation point's own ``rho``;
- exponential kernel: ``sqrt(d) delta / 2 + d delta^2 / 8`` at nodes, twice at
  queries;
- compact kernels, on the sums: ``1.5 L delta sqrt(d) W(q)`` with ``W`` the
  weight within ``1 + 2 delta sqrt(d)`` (slope ``L``: epanechnikov 2, linear 1,
  cosine pi/2), and for the tophat the weight of the shell ``1 +- 2 delta
  sqrt(d)``, plus 1e-9 relative for rounding;
- binning: total weight and first moments to 1e-12 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from lookalike._math import binned, binning
from lookalike._math.binned import (
    GridTooLargeError,
    bulk_spacing,
    error_bound,
    grid_log_sums,
    grid_squared_reach,
    interpolate_log_sums,
    log_sums_at,
    spacing_for_tolerance,
)
from lookalike._math.binning import linear_binning
from lookalike._math.kernels import KERNELS

SMOOTH = ("gaussian", "exponential")
COMPACT = ("epanechnikov", "linear", "cosine", "tophat")
SLOPE = {"epanechnikov": 2.0, "linear": 1.0, "cosine": math.pi / 2}


# --------------------------------------------------------------------------------------
# Oracles


def brute_binning(points, origin, spacing, shape, weights=None):
    """Loop over points and the 2^d corners of their cells."""
    counts = np.zeros(shape)
    weights = np.ones(len(points)) if weights is None else weights
    for x, w in zip(points, weights, strict=True):
        t = (x - origin) / spacing
        lower = np.minimum(np.floor(t).astype(int), np.array(shape) - 2)
        frac = t - lower
        for corner in np.ndindex(*(2,) * len(shape)):
            share = w
            for k, c in enumerate(corner):
                share *= frac[k] if c else 1.0 - frac[k]
            counts[tuple(lower + np.array(corner))] += share
    return counts


def brute_log_sums(queries, points, kernel, weights=None):
    """``log sum_j w_j k(|q - x_j|^2)`` and the reach ``sqrt(E_pi |z|^2)`` per query."""
    log_profile = KERNELS[kernel].log_profile
    log_w = 0.0 if weights is None else np.log(weights)
    out = np.empty(len(queries))
    reach = np.empty(len(queries))
    for start in range(0, len(queries), 256):
        rows = slice(start, start + 256)
        squared = ((queries[rows, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
        terms = log_profile(squared) + log_w
        with np.errstate(divide="ignore", invalid="ignore"):
            total = logsumexp(terms, axis=1)
            shares = np.exp(terms - total[:, None])
        shares[~np.isfinite(shares)] = 0.0
        out[rows] = total
        reach[rows] = np.sqrt((shares * squared).sum(axis=1))
    return out, reach


def brute_sums(queries, points, kernel, weights=None):
    """Plain sums ``sum_j w_j k`` and distances (compact kernels)."""
    distances = np.sqrt(((queries[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))
    w = np.ones(len(points)) if weights is None else weights
    return KERNELS[kernel].profile(distances**2) @ w, distances, w


def grid_nodes(axes):
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def make_data(rng, n, d, weighted, scale=3.0):
    points = rng.standard_normal((n, d)) * scale
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    return points, weights


# --------------------------------------------------------------------------------------
# Linear binning


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_binning_keeps_weight_and_mean(d, weighted):
    rng = np.random.default_rng(d)
    points, weights = make_data(rng, 5000, d, weighted)
    origin = points.min(axis=0) - 0.3
    spacing = np.array([0.37, 0.21, 0.5][:d])
    shape = tuple(np.ceil((points.max(axis=0) - origin) / spacing).astype(int) + 2)
    counts = linear_binning(points, origin, spacing, shape, weights)
    w = np.ones(len(points)) if weights is None else weights
    assert counts.shape == shape
    assert counts.min() >= 0.0
    np.testing.assert_allclose(counts.sum(), w.sum(), rtol=1e-12)
    nodes = grid_nodes([origin[k] + spacing[k] * np.arange(shape[k]) for k in range(d)])
    binned_mean = nodes.T @ counts.ravel() / counts.sum()
    np.testing.assert_allclose(binned_mean, w @ points / w.sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_binning_matches_loop(d):
    rng = np.random.default_rng(10 + d)
    points = rng.uniform(0.0, 2.0, (9, d))
    points[0] = 2.0  # on the last node: counted there, not beyond
    weights = rng.uniform(0.5, 2.0, 9)
    origin = np.zeros(d)
    spacing = np.full(d, 0.5)
    shape = (5,) * d
    for w in (None, weights):
        expected = brute_binning(points, origin, spacing, shape, w)
        got = linear_binning(points, origin, spacing, shape, w)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert linear_binning(points[:1], origin, spacing, shape)[(4,) * d] == pytest.approx(1.0)


@pytest.mark.parametrize("d", [1, 2])
def test_binning_integer_weights_equal_repeated_points(d):
    rng = np.random.default_rng(20 + d)
    points = rng.uniform(-1.0, 1.0, (200, d))
    repeats = rng.integers(0, 4, 200)
    origin, spacing, shape = np.full(d, -1.0), np.full(d, 0.1), (21,) * d
    weighted = linear_binning(points, origin, spacing, shape, repeats.astype(float))
    repeated = linear_binning(np.repeat(points, repeats, axis=0), origin, spacing, shape)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2])
def test_binning_in_chunks_equals_one_pass(d, monkeypatch):
    rng = np.random.default_rng(30 + d)
    points = rng.uniform(0.0, 1.0, (1000, d))
    weights = rng.uniform(0.0, 1.0, 1000)
    args = (np.zeros(d), np.full(d, 0.25), (5,) * d)
    whole = linear_binning(points, *args, weights)
    monkeypatch.setattr(binning, "CHUNK_ROWS", 7)
    np.testing.assert_allclose(linear_binning(points, *args, weights), whole, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Kernel sums on the grid and at queries, against the oracle


SMOOTH_CASES = [(k, d, w) for k in SMOOTH for d in (1, 2, 3) for w in (False, True)]


@pytest.mark.parametrize(("kernel", "d", "weighted"), SMOOTH_CASES)
def test_smooth_kernels_within_error_model(kernel, d, weighted):
    rng = np.random.default_rng(40 + d)
    n, spacing = {1: (300, 0.05), 2: (200, 0.1), 3: (60, 0.25)}[d]
    points, weights = make_data(rng, n, d, weighted, scale=2.0)
    axes, log_grid = grid_log_sums(points, kernel, weights, spacing=spacing)
    assert [len(a) for a in axes] == list(log_grid.shape)
    nodes = grid_nodes(axes)
    pick = rng.choice(len(nodes), 400, replace=False)
    expected, reach = brute_log_sums(nodes[pick], points, kernel, weights)
    error = np.abs(log_grid.ravel()[pick] - expected)
    bound = np.array([error_bound(kernel, d, spacing, r, at="nodes") for r in reach])
    assert np.all(error <= bound), (error / bound).max()

    queries = points[rng.integers(0, n, 500)] + rng.standard_normal((500, d))
    values, outside = log_sums_at(points, queries, kernel, spacing, weights)
    assert not outside.any()
    expected, reach = brute_log_sums(queries, points, kernel, weights)
    error = np.abs(values - expected)
    bound = np.array([error_bound(kernel, d, spacing, r) for r in reach])
    assert np.all(error <= bound), (error / bound).max()


COMPACT_CASES = [(k, d, w) for k in COMPACT for d in (1, 2) for w in (False, True)]
COMPACT_CASES += [("epanechnikov", 3, True), ("tophat", 3, False)]


@pytest.mark.parametrize(("kernel", "d", "weighted"), COMPACT_CASES)
def test_compact_kernels_within_bound_on_sums(kernel, d, weighted):
    rng = np.random.default_rng(50 + d)
    spacing = 0.05 if d < 3 else 0.1
    n = 150 if d < 3 else 40
    points, weights = make_data(rng, n, d, weighted, scale=1.5)
    queries = points[rng.integers(0, n, 400)] + rng.standard_normal((400, d)) * 0.7
    # Bounds well beyond the support, so that some nodes are far from every point.
    bounds = np.column_stack([points.min(axis=0) - 3.0, points.max(axis=0) + 3.0])
    values, outside = log_sums_at(points, queries, kernel, spacing, weights, bounds=bounds)
    axes, log_grid = grid_log_sums(points, kernel, weights, spacing=spacing, bounds=bounds)
    nodes = grid_nodes(axes)
    nodes = nodes[rng.choice(len(nodes), min(400, len(nodes)), replace=False)]
    at_nodes, _ = interpolate_log_sums(axes, log_grid, nodes)
    spread = spacing * math.sqrt(d)
    for where, got in ((nodes, at_nodes), (queries[~outside], values[~outside])):
        assert not np.isnan(got).any()
        expected, distances, w = brute_sums(where, points, kernel, weights)
        if kernel == "tophat":
            shell = (distances > 1 - 2 * spread) & (distances < 1 + 2 * spread)
            bound = shell @ w
        else:
            bound = 1.5 * SLOPE[kernel] * spread * ((distances < 1 + 2 * spread) @ w)
        assert np.all(np.abs(np.exp(got) - expected) <= bound + 1e-9 * expected)
        # Beyond the support (and the binning's reach) the sum is exactly zero.
        far = np.all(distances >= 1 + 2 * spread, axis=1)
        assert np.all(got[far] == -np.inf)
        assert far.any() or where is not nodes  # the nodes reach beyond the support


@pytest.mark.parametrize("kernel", SMOOTH + COMPACT)
def test_weights_equal_repeated_points(kernel):
    rng = np.random.default_rng(60)
    points = rng.standard_normal((100, 2)) * 2
    repeats = rng.integers(1, 4, 100)
    queries = rng.standard_normal((200, 2)) * 2
    bounds = np.array([[-9.0, 9.0], [-9.0, 9.0]])
    weighted, out_w = log_sums_at(points, queries, kernel, 0.1, repeats.astype(float))
    repeated, out_r = log_sums_at(np.repeat(points, repeats, axis=0), queries, kernel, 0.1)
    np.testing.assert_array_equal(out_w, out_r)
    np.testing.assert_allclose(weighted[~out_w], repeated[~out_r], rtol=1e-9, atol=1e-9)
    _, grid_w = grid_log_sums(points, kernel, repeats.astype(float), spacing=0.1, bounds=bounds)
    _, grid_r = grid_log_sums(
        np.repeat(points, repeats, axis=0), kernel, spacing=0.1, bounds=bounds
    )
    np.testing.assert_allclose(grid_w, grid_r, rtol=1e-9, atol=1e-9)


def test_number_of_nodes_and_spacing_give_the_same_grid():
    rng = np.random.default_rng(65)
    points = rng.standard_normal((300, 2))
    bounds = np.array([[-5.0, 5.0], [-4.0, 4.5]])
    axes, by_count = grid_log_sums(points, "gaussian", n_points=(101, 86), bounds=bounds)
    assert [len(a) for a in axes] == [101, 86]
    np.testing.assert_allclose([axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]], bounds.ravel())
    spacing_axes, by_spacing = grid_log_sums(points, "gaussian", spacing=0.1, bounds=bounds)
    np.testing.assert_allclose(spacing_axes[0], axes[0], atol=1e-12)
    np.testing.assert_allclose(spacing_axes[1], axes[1], atol=1e-12)
    np.testing.assert_allclose(by_spacing, by_count, rtol=1e-9, atol=1e-9)


def test_data_outside_the_bounds_still_count():
    rng = np.random.default_rng(70)
    points = rng.standard_normal((500, 1)) * 3
    axes, full = grid_log_sums(points, "gaussian", spacing=0.1)
    start = axes[0][40]
    bounds = np.array([[start, start + 2.0]])
    part_axes, part = grid_log_sums(points, "gaussian", spacing=0.1, bounds=bounds)
    np.testing.assert_allclose(part_axes[0], axes[0][40 : 40 + len(part_axes[0])], atol=1e-12)
    np.testing.assert_allclose(part, full[40 : 40 + len(part)], atol=1e-9)


# --------------------------------------------------------------------------------------
# Far tails: the repair


def test_far_tails_are_repaired():
    rng = np.random.default_rng(80)
    points = rng.standard_normal((2000, 1)) * 4
    low, high = points.min(), points.max()
    spacing = 0.02
    bounds = np.array([[low - 31.0, high + 31.0]])
    queries = np.concatenate(
        [np.linspace(high + 5, high + 30, 100), np.linspace(low - 30, low - 5, 100)]
    )
    values, outside = log_sums_at(points, queries[:, None], "gaussian", spacing, bounds=bounds)
    assert not outside.any()
    expected, reach = brute_log_sums(queries[:, None], points, "gaussian")
    bound = np.array([error_bound("gaussian", 1, spacing, r) for r in reach])
    assert np.all(np.abs(values - expected) <= bound)

    axes, repaired = grid_log_sums(points, "gaussian", spacing=spacing, bounds=bounds)
    _, plain = grid_log_sums(points, "gaussian", spacing=spacing, bounds=bounds, repair=False)
    nodes = axes[0]
    tails = (nodes > high + 5) | (nodes < low - 5)
    expected, reach = brute_log_sums(nodes[tails, None], points, "gaussian")
    bound = np.array([error_bound("gaussian", 1, spacing, r, at="nodes") for r in reach])
    assert np.all(np.abs(repaired[tails] - expected) <= bound)
    # The plain FFT is rounding noise out there: wrong by many nats, or not even positive.
    with np.errstate(invalid="ignore"):
        plain_error = np.abs(plain[tails] - expected)
    assert np.nanmax(np.where(np.isfinite(plain_error), plain_error, np.inf)) > 10.0
    # Where the FFT is trusted, the repair changes nothing.
    trusted = repaired > repaired.max() + math.log(binned.REPAIR_FRACTION) + 1.0
    np.testing.assert_allclose(repaired[trusted], plain[trusted], atol=1e-9)


# --------------------------------------------------------------------------------------
# Queries outside the grid, interpolation, limits


def test_queries_outside_the_grid_are_reported():
    rng = np.random.default_rng(90)
    points = rng.standard_normal((300, 2))
    bounds = np.array([[-2.0, 2.0], [-1.0, 3.0]])
    queries = np.array([[0.0, 0.0], [-2.0, 3.0], [2.5, 0.0], [0.0, -1.01], [-30.0, 50.0]])
    for kernel in ("gaussian", "epanechnikov"):
        values, outside = log_sums_at(points, queries, kernel, 0.1, bounds=bounds)
        np.testing.assert_array_equal(outside, [False, False, True, True, True])
        assert np.all(np.isnan(values[outside]))
        assert not np.isnan(values[~outside]).any()
        assert np.isfinite(values[0])
    axes, log_grid = grid_log_sums(points, "gaussian", spacing=0.1, bounds=bounds)
    values, outside = interpolate_log_sums(axes, log_grid, queries)
    np.testing.assert_array_equal(outside, [False, False, True, True, True])


def test_interpolation_is_exact_for_multilinear_functions():
    axes = [np.linspace(-1.0, 2.0, 7), np.linspace(0.0, 1.0, 5)]
    nodes = grid_nodes(axes)
    values = (1.0 + 2.0 * nodes[:, 0] - nodes[:, 1] + 0.5 * nodes[:, 0] * nodes[:, 1]).reshape(
        7, 5
    )
    rng = np.random.default_rng(100)
    queries = np.column_stack([rng.uniform(-1, 2, 50), rng.uniform(0, 1, 50)])
    got, outside = interpolate_log_sums(axes, values, queries)
    assert not outside.any()
    q = queries
    np.testing.assert_allclose(got, 1.0 + 2.0 * q[:, 0] - q[:, 1] + 0.5 * q[:, 0] * q[:, 1])


def test_interpolation_of_sums_next_to_an_empty_node():
    axes = [np.array([0.0, 1.0, 2.0])]
    log_grid = np.array([0.0, -np.inf, -np.inf])
    got, _ = interpolate_log_sums(axes, log_grid, np.array([[0.25], [1.0], [1.5]]))
    np.testing.assert_allclose(got[0], math.log(0.75))
    assert got[1] == -np.inf and got[2] == -np.inf


def test_too_many_cells_raise():
    points = np.random.default_rng(110).standard_normal((100, 2)) * 10
    with pytest.raises(GridTooLargeError, match="max_cells"):
        grid_log_sums(points, "gaussian", spacing=0.01, max_cells=2**16)
    with pytest.raises(GridTooLargeError):
        log_sums_at(points, points, "gaussian", 0.01, max_cells=2**16)


def test_spacing_for_tolerance_inverts_the_model_and_holds():
    for kernel in SMOOTH:
        for d in (1, 2, 3):
            for tol in (1e-2, 1e-3, 1e-4):
                spacing = spacing_for_tolerance(kernel, d, tol)
                assert spacing is not None
                np.testing.assert_allclose(error_bound(kernel, d, spacing), tol, rtol=1e-12)
    for kernel in COMPACT:
        assert spacing_for_tolerance(kernel, 1, 1e-2) is None
    assert spacing_for_tolerance("gaussian", 1, 1e-9) is None
    assert spacing_for_tolerance("gaussian", 1, 10.0) == spacing_for_tolerance("gaussian", 1, 0.1)
    # Measured: queries anywhere in the default grid of 1-D data are within tolerance.
    rng = np.random.default_rng(120)
    points = rng.standard_normal((400, 1)) * 5
    tol = 1e-3
    spacing = spacing_for_tolerance("gaussian", 1, tol)
    assert spacing is not None
    axes, _ = grid_log_sums(points, "gaussian", spacing=spacing)
    queries = rng.uniform(axes[0][0], axes[0][-1], (1000, 1))
    values, outside = log_sums_at(points, queries, "gaussian", spacing)
    assert not outside.any()
    expected, _ = brute_log_sums(queries, points, "gaussian")
    assert np.abs(values - expected).max() <= tol


# --------------------------------------------------------------------------------------
# Per-node error control: the local reach and the per-point bounds


def _binned_oracle(points, axes, weights=None):
    """The linear binning of ``points`` on the grid of ``axes`` (bounds holding the data)."""
    origin = np.array([a[0] for a in axes])
    spacing = np.array([a[1] - a[0] for a in axes])
    counts = linear_binning(points, origin, spacing, tuple(len(a) for a in axes), weights)
    keep = np.flatnonzero(counts)
    return grid_nodes(axes)[keep], counts.ravel()[keep]


@pytest.mark.parametrize(("d", "weighted"), [(1, False), (1, True), (2, False), (2, True)])
@pytest.mark.slow
def test_local_reach_equals_brute_force_in_the_bulk_and_the_repaired_tails(d, weighted):
    rng = np.random.default_rng(130 + d)
    spacing = {1: 0.05, 2: 0.1}[d]
    points, weights = make_data(rng, 1500, d, weighted, scale=2.0)
    # Bounds far beyond the data: the outer nodes are below REPAIR_FRACTION of the peak.
    bounds = np.column_stack([points.min(axis=0) - 20.0, points.max(axis=0) + 20.0])
    # Every third node per dimension (the binning grid, and the oracle's, stays whole).
    _, plain = grid_log_sums(
        points, "gaussian", weights, spacing=spacing, bounds=bounds, repair=False, stride=3
    )
    axes, reach = grid_squared_reach(points, weights, spacing=spacing, bounds=bounds, stride=3)
    with np.errstate(invalid="ignore"):
        repaired = ~(plain >= plain.max() + math.log(binned.REPAIR_FRACTION))
    nodes = grid_nodes(axes)
    bulk, tails = (
        rng.choice(where, min(600, where.size), replace=False)
        for where in (np.flatnonzero(~repaired.ravel()), np.flatnonzero(repaired.ravel()))
    )
    full = grid_log_sums(points, "gaussian", spacing=spacing, bounds=bounds, repair=False)[0]
    centres, counts = _binned_oracle(points, full, weights)
    for pick, where in ((bulk, "bulk"), (tails, "repaired tails")):
        got = reach.ravel()[pick]
        # Against the binned data: the FFT ratio and the direct sums are exact to 1e-6.
        _, expected = brute_log_sums(nodes[pick], centres, "gaussian", counts)
        np.testing.assert_allclose(got, expected**2, rtol=1e-6, err_msg=where)
        # Against the data: binning moves each point's squared distance by O(delta^2).
        _, expected = brute_log_sums(nodes[pick], points, "gaussian", weights)
        np.testing.assert_allclose(got, expected**2, rtol=0.05, atol=d * spacing**2, err_msg=where)
    assert reach.ravel()[tails].min() > 20.0  # the tails are far: rho^2 is large there


@pytest.mark.parametrize("d", [1, 2])
def test_node_bound_factor_equals_brute_force(d):
    """``B(g) = 1.25 s delta^2 / 8`` with ``s = E_pi sum_k max(1, z_k^2 - 1)``.

    Where the FFT is trusted ``s`` comes from a second FFT; at repaired nodes the
    bound uses ``d + rho^2 >= s`` with ``rho^2`` summed directly.
    """
    rng = np.random.default_rng(135 + d)
    spacing = {1: 0.05, 2: 0.1}[d]
    points, weights = make_data(rng, 1500, d, True, scale=2.0)
    bounds = np.column_stack([points.min(axis=0) - 15.0, points.max(axis=0) + 15.0])
    kwargs = {"spacing": spacing, "bounds": bounds, "stride": 3}
    axes, _, bound = grid_log_sums(points, "gaussian", weights, with_bound=True, **kwargs)
    _, plain = grid_log_sums(points, "gaussian", weights, repair=False, **kwargs)
    factor = (bound * 8 / (binned.SAFETY * spacing**2)).ravel()
    with np.errstate(invalid="ignore"):
        high = plain.ravel() >= plain.max() - 5.0  # FFT rounding below 1e-11 of the bound
        low = ~(plain.ravel() >= plain.max() + math.log(binned.REPAIR_FRACTION))
    full = grid_log_sums(points, "gaussian", spacing=spacing, bounds=bounds, repair=False)[0]
    centres, counts = _binned_oracle(points, full, weights)
    nodes = grid_nodes(axes)
    for mask in (high, low):
        pick = rng.choice(np.flatnonzero(mask), min(400, mask.sum()), replace=False)
        squared = (nodes[pick, None, :] - centres[None, :, :]) ** 2
        terms = -0.5 * squared.sum(axis=-1) + np.log(counts)
        shares = np.exp(terms - logsumexp(terms, axis=1, keepdims=True))
        expected_s = np.einsum("ij,ij->i", shares, np.maximum(squared - 1.0, 1.0).sum(axis=-1))
        expected_rho = np.einsum("ij,ij->i", shares, squared.sum(axis=-1))
        if mask is high:
            np.testing.assert_allclose(factor[pick], expected_s, rtol=1e-6)
        else:
            np.testing.assert_allclose(factor[pick], d + expected_rho, rtol=1e-6)
            assert np.all(factor[pick] >= expected_s)


def _cases(d, rng):
    """Data and queries where the reach differs: dense, sparse, two modes with a gap, tails."""
    dense = rng.standard_normal((3000, d)) * 2.0
    sparse = rng.uniform(-12.0, 12.0, (40, d))
    shift = np.zeros(d)
    shift[0] = 9.0
    gap = np.vstack([rng.standard_normal((600, d)) - shift, rng.standard_normal((600, d)) + shift])
    cases = {}
    for name, points in (("dense", dense), ("sparse", sparse), ("gap", gap)):
        inside = points[rng.integers(0, len(points), 300)] + rng.standard_normal((300, d))
        low, high = points.min(axis=0), points.max(axis=0)
        anywhere = rng.uniform(low - 4.0, high + 4.0, (300, d))
        cases[name] = (points, np.vstack([inside, anywhere]))
    # Tails: queries 4 to 20 bandwidths beyond the data, inside given bounds.
    directions = rng.standard_normal((300, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    tails = directions * (dense.max() + rng.uniform(4.0, 20.0, (300, 1)))
    cases["tails"] = (dense, tails)
    # Queries in the gap of the two modes.
    middle = rng.uniform(-6.0, 6.0, (300, d))
    middle[:, 1:] = rng.uniform(-1.0, 1.0, (300, d - 1))
    cases["in the gap"] = (gap, middle)
    return cases


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("spacing", [0.04, 0.12])
@pytest.mark.slow
def test_per_query_bounds_hold_against_the_exact_sums(d, spacing):
    rng = np.random.default_rng(140 + d)
    worst = {}
    for name, (points, queries) in _cases(d, rng).items():
        bounds = np.column_stack([queries.min(axis=0) - 1.0, queries.max(axis=0) + 1.0])
        expected, _ = brute_log_sums(queries, points, "gaussian")
        for tolerance in (None, 1e-3):
            values, outside, bound = log_sums_at(
                points,
                queries,
                "gaussian",
                spacing,
                bounds=bounds,
                with_bound=True,
                tolerance=tolerance,
            )
            assert not outside.any()
            error = np.abs(values - expected)
            assert np.all(error <= bound), (name, tolerance, (error / bound).max())
            worst[name] = max(worst.get(name, 0.0), float((error / bound).max()))
        # The free estimate of rho^2 in the tails is an upper bound: never a smaller bound.
        _, _, direct = log_sums_at(
            points, queries, "gaussian", spacing, bounds=bounds, with_bound=True
        )
        assert np.all(bound >= direct * (1 - 1e-12))
    # Worst error / bound per case (about 0.3 to 0.8): the bounds hold with room, not loosely.
    assert max(worst.values()) > 0.1, worst


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.slow
def test_node_bounds_hold_against_the_exact_sums(d):
    rng = np.random.default_rng(150 + d)
    for name, (points, queries) in _cases(d, rng).items():
        bounds = np.column_stack([queries.min(axis=0) - 1.0, queries.max(axis=0) + 1.0])
        axes, log_grid, bound = grid_log_sums(
            points, "gaussian", spacing=0.1, bounds=bounds, stride=3, with_bound=True
        )
        nodes = grid_nodes(axes)
        pick = rng.choice(len(nodes), min(600, len(nodes)), replace=False)
        expected, _ = brute_log_sums(nodes[pick], points, "gaussian")
        error = np.abs(log_grid.ravel()[pick] - expected)
        assert np.all(error <= bound.ravel()[pick]), (name, (error / bound.ravel()[pick]).max())


def test_bounds_of_the_other_kernels():
    rng = np.random.default_rng(160)
    points = rng.standard_normal((300, 2))
    queries = rng.standard_normal((100, 2)) * 3
    bounds = np.array([[-4.0, 4.0], [-4.0, 4.0]])
    for kernel in ("exponential", *COMPACT):
        values, outside, bound = log_sums_at(
            points, queries, kernel, 0.05, bounds=bounds, with_bound=True
        )
        assert outside.any() and np.all(bound[outside] == np.inf)
        expected = error_bound(kernel, 2, 0.05)
        np.testing.assert_array_equal(bound[~outside], expected)
        plain, _ = log_sums_at(points, queries, kernel, 0.05, bounds=bounds)
        np.testing.assert_array_equal(values, plain)
        _, _, at_nodes = grid_log_sums(
            points, kernel, spacing=0.05, bounds=bounds, with_bound=True
        )
        np.testing.assert_array_equal(at_nodes, error_bound(kernel, 2, 0.05, at="nodes"))


def test_stride_returns_every_stride_th_node():
    rng = np.random.default_rng(170)
    points = rng.standard_normal((500, 2))
    bounds = np.array([[-9.0, 9.0], [-7.0, 8.0]])
    axes, full, bound = grid_log_sums(
        points, "gaussian", spacing=0.1, bounds=bounds, with_bound=True
    )
    for stride in (2, 5):
        strided_axes, part, part_bound = grid_log_sums(
            points, "gaussian", spacing=0.1, bounds=bounds, stride=stride, with_bound=True
        )
        for axis, strided in zip(axes, strided_axes, strict=True):
            np.testing.assert_array_equal(axis[::stride], strided)
        np.testing.assert_allclose(part, full[::stride, ::stride], rtol=1e-12)
        np.testing.assert_allclose(part_bound, bound[::stride, ::stride], rtol=1e-9)


def test_bulk_spacing_meets_the_tolerance_in_the_bulk():
    excess = binned.BULK_EXCESS
    for d in (1, 2, 3):
        for tol in (1e-2, 1e-3):
            # Nodes: factor s = d + excess; queries: also the curvature, at t = 1/2.
            at_nodes = bulk_spacing("gaussian", d, tol, at="nodes")
            assert at_nodes is not None
            node = binned.SAFETY * (d + excess) * at_nodes**2 / 8
            np.testing.assert_allclose(node, tol, rtol=1e-12)
            at_queries = bulk_spacing("gaussian", d, tol)
            assert at_queries is not None
            query = binned.SAFETY * (d + 2 * excess) * at_queries**2 / 8
            np.testing.assert_allclose(query, tol, rtol=1e-12)
            exponential = bulk_spacing("exponential", d, tol)
            assert exponential == spacing_for_tolerance("exponential", d, tol)
    assert bulk_spacing("epanechnikov", 1, 1e-2) is None
    assert bulk_spacing("gaussian", 1, 1e-9) is None
    # Standard normal data, queries from the data's law: nearly all within the tolerance.
    rng = np.random.default_rng(180)
    h = 20000 ** (-1 / 6)
    points = rng.standard_normal((20000, 2)) / h
    queries = rng.standard_normal((2000, 2)) / h
    spacing = bulk_spacing("gaussian", 2, 1e-3)
    bounds = np.column_stack([queries.min(axis=0), queries.max(axis=0)])
    _, _, bound = log_sums_at(points, queries, "gaussian", spacing, bounds=bounds, with_bound=True)
    assert np.mean(bound > 1e-3) < 0.01
