"""Tests of lookalike.plotting: the content of every figure, against independent oracles.

Ellipses are checked against the closed-form eigen-decomposition of a 2x2 symmetric matrix,
densities against ``exp(score_samples)``, histograms against ``numpy.histogram``, mosaics
against ``digit_mosaic``; every figure must also render to a non-blank PNG.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Ellipse, Polygon, Rectangle
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from conftest import COVARIANCE_TYPES, dense_covariances_of, make_blobs
from lookalike.exceptions import NotFittedError
from lookalike.gaussian import Gaussian
from lookalike.kde import KernelDensity
from lookalike.mixture import GaussianMixture
from lookalike.model_selection import ModelSearch
from lookalike.plotting import (
    digit_mosaic,
    plot_criterion,
    plot_density_1d,
    plot_digits,
    plot_mixture,
    plot_real_vs_synthetic,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_renders(figure) -> None:
    """The figure saves to PNG and the image is not a single flat colour."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    buffer.seek(0)
    pixels = mpimg.imread(buffer)
    assert pixels.ndim == 3
    assert pixels[..., :3].var() > 0


def ellipse_oracle(cov: np.ndarray) -> tuple[float, float, float]:
    """Closed-form eigenvalues (major, minor) of a symmetric 2x2 matrix and the major
    axis's angle in degrees (not numpy.linalg.eigh, which the code uses)."""
    a, b, c = cov[0, 0], cov[0, 1], cov[1, 1]
    mean, radius = (a + c) / 2, np.hypot((a - c) / 2, b)
    angle = 0.5 * np.degrees(np.arctan2(2 * b, a - c))
    return mean + radius, mean - radius, angle


def angle_difference(got: float, expected: float) -> float:
    """Difference of two axis directions in degrees, modulo 180 (an axis has no sign)."""
    return (got - expected + 90.0) % 180.0 - 90.0


def three_features(seed: int = 0) -> np.ndarray:
    """The blobs plus a third feature correlated with the first (so blocks are non-trivial)."""
    X, _ = make_blobs(240, seed=seed)
    rng = np.random.default_rng(seed + 1)
    return np.column_stack([X, 0.7 * X[:, 0] + 0.5 * X[:, 1] + rng.standard_normal(len(X))])


# --------------------------------------------------------------------------------------
# plot_mixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_mixture_ellipses_match_eigen_decomposition(covariance_type):
    X = three_features()
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    features, n_std = (2, 0), (1, 2, 3)
    ax = plot_mixture(model, X, features=features, n_std=n_std)

    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3 * len(n_std)
    covariances = dense_covariances_of(model.covariances_, covariance_type, 3, 3)
    block = np.ix_(features, features)
    for j in range(3):
        major, minor, angle = ellipse_oracle(covariances[j][block])
        for position, n in enumerate(n_std):
            ellipse = ellipses[j * len(n_std) + position]
            np.testing.assert_allclose(ellipse.center, model.means_[j, list(features)], rtol=1e-12)
            np.testing.assert_allclose(ellipse.width, 2 * n * np.sqrt(major), rtol=1e-10)
            np.testing.assert_allclose(ellipse.height, 2 * n * np.sqrt(minor), rtol=1e-10)
            if major - minor > 1e-9 * major:  # a circle has no direction (spherical)
                assert abs(angle_difference(ellipse.angle, angle)) < 1e-8

    # Opacity proportional to the weight, so ordered as the weights.
    alphas = np.array([ellipses[j * len(n_std)].get_alpha() for j in range(3)])
    np.testing.assert_allclose(
        alphas / alphas.max(), model.weights_ / model.weights_.max(), rtol=1e-12
    )
    np.testing.assert_array_equal(np.argsort(alphas), np.argsort(model.weights_))

    # Points: the plotted features, coloured as predict groups them, in the ellipse colours.
    (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_array_equal(scatter.get_offsets(), X[:, list(features)])
    colours = scatter.get_facecolors()[:, :3]
    predicted = model.predict(X)
    _, colour_group = np.unique(colours, axis=0, return_inverse=True)
    assert len(np.unique(colour_group)) == len(np.unique(predicted))
    for group in np.unique(colour_group):
        assert len(np.unique(predicted[colour_group == group])) == 1
    for j in np.unique(predicted):  # each component's points share its ellipses' colour
        ellipse_colour = ellipses[j * len(n_std)].get_facecolor()[:3]
        group = colours[predicted == j]
        np.testing.assert_allclose(group, np.broadcast_to(ellipse_colour, group.shape))
    assert ax.get_xlabel() == "feature 2" and ax.get_ylabel() == "feature 0"
    assert_renders(ax.figure)


def test_mixture_accepts_sklearn_and_duck_typed_one_component_models():
    X, _ = make_blobs(150)
    theirs = SkGaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    ax = plot_mixture(theirs, X, n_std=(2,))
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3
    for j, ellipse in enumerate(ellipses):
        expected = 2 * 2 * np.sqrt(np.sort(theirs.covariances_[j])[::-1])
        np.testing.assert_allclose([ellipse.width, ellipse.height], expected, rtol=1e-10)

    # One Gaussian without the component axis and without predict: one colour for all.
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    gaussian = SimpleNamespace(
        weights_=np.array([1.0]), means_=np.array([1.0, -1.0]), covariances_=cov,
        covariance_type="full",
    )  # fmt: skip
    ax = plot_mixture(gaussian, X, n_std=(1, 3))
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    major, minor, angle = ellipse_oracle(cov)
    np.testing.assert_allclose(ellipses[1].width, 6 * np.sqrt(major), rtol=1e-10)
    np.testing.assert_allclose(ellipses[1].height, 6 * np.sqrt(minor), rtol=1e-10)
    assert abs(angle_difference(ellipses[1].angle, angle)) < 1e-8
    np.testing.assert_allclose(ellipses[0].center, [1.0, -1.0])
    assert len(np.unique(ax.collections[0].get_facecolors(), axis=0)) == 1
    assert_renders(ax.figure)


def test_mixture_and_criterion_with_the_real_gaussian_and_model_search():
    X, _ = make_blobs(150)
    gaussian = Gaussian().fit(X)
    ax = plot_mixture(gaussian, X, n_std=(2,))
    (ellipse,) = [p for p in ax.patches if isinstance(p, Ellipse)]
    major, minor, _ = ellipse_oracle(np.cov(X.T, bias=True))
    np.testing.assert_allclose([ellipse.width, ellipse.height], 4 * np.sqrt([major, minor]))
    np.testing.assert_allclose(ellipse.center, X.mean(axis=0))

    search = ModelSearch(
        GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}, criterion="bic"
    ).fit(X)
    ax = search.plot()
    lines = criterion_lines(ax)
    np.testing.assert_allclose(lines["bic"].get_ydata(), search.results_["bic"])
    np.testing.assert_allclose(lines["aic"].get_ydata(), search.results_["aic"])
    assert_renders(ax.figure)


def test_mixture_uses_feature_names_and_given_axes():
    X = pd.DataFrame(three_features(), columns=["a", "b", "c"])
    model = GaussianMixture(3, random_state=0).fit(X)
    _, ax = plt.subplots()
    returned = plot_mixture(model, X, ax=ax, features=("c", "a"), n_std=(1,))
    assert returned is ax
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), X[["c", "a"]].to_numpy())
    block = model.covariances_[0][np.ix_([2, 0], [2, 0])]
    np.testing.assert_allclose(ax.patches[0].width, 2 * np.sqrt(ellipse_oracle(block)[0]))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("c", "a")


def test_mixture_errors():
    X, _ = make_blobs(90)
    model = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(NotFittedError, match="call fit"):
        plot_mixture(GaussianMixture(2), X)
    with pytest.raises(ValueError, match="covariances_"):
        plot_mixture(SimpleNamespace(weights_=[1.0], means_=[[0.0, 0.0]]), X)
    with pytest.raises(ValueError, match="covariance_type"):
        plot_mixture(
            SimpleNamespace(
                weights_=[1.0], means_=[[0, 0]], covariances_=[1.0], covariance_type="odd"
            )
        )
    with pytest.raises(ValueError, match="out of range"):
        plot_mixture(model, X, features=(0, 2))
    with pytest.raises(ValueError, match="repeats a feature"):
        plot_mixture(model, X, features=(1, 1))
    with pytest.raises(ValueError, match="fitted without feature names"):
        plot_mixture(model, X, features=("a", 0))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        plot_mixture(model, X[:, :1])
    with pytest.raises(ValueError, match="at least two features"):
        plot_mixture(GaussianMixture(1).fit(X[:, :1]))
    with pytest.raises(ValueError, match="n_std"):
        plot_mixture(model, n_std=(1, -2))


# --------------------------------------------------------------------------------------
# plot_criterion


def search_table(seed: int = 0) -> pd.DataFrame:
    """A results table following the ModelSearch contract, rows in a shuffled order."""
    rng = np.random.default_rng(seed)
    rows = []
    for covariance_type in ("full", "diag"):
        for n in range(1, 6):
            rows.append(
                {
                    "model": "GaussianMixture",
                    "params": {"n_components": n, "covariance_type": covariance_type},
                    "n_components": n,
                    "covariance_type": covariance_type,
                    "n_parameters": float(5 * n),
                    "log_likelihood": rng.normal(),
                    "bic": rng.normal(100, 10),
                    "aic": rng.normal(90, 10),
                    "cv_log_likelihood": np.nan,
                    "cv_std": np.nan,
                    "fit_time": 0.01,
                    "converged": True,
                }
            )
    table = pd.DataFrame(rows).iloc[rng.permutation(10)].reset_index(drop=True)
    table["rank"] = table["bic"].rank(method="first").astype(int)
    return table


def criterion_lines(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines() if line.get_gid() != "best"}


@pytest.mark.parametrize("hue", ["covariance_type", None])
def test_criterion_lines_per_group_sorted_by_x(hue):
    table = search_table()
    ax = plot_criterion(SimpleNamespace(results_=table), hue=hue)
    lines = criterion_lines(ax)
    assert len(lines) == 4  # {bic, aic} x {full, diag}; None groups the repeated x the same
    for criterion in ("bic", "aic"):
        for covariance_type in ("full", "diag"):
            line = lines[f"{criterion}, covariance_type={covariance_type}"]
            part = table[table["covariance_type"] == covariance_type].sort_values("n_components")
            np.testing.assert_array_equal(line.get_xdata(), part["n_components"])
            np.testing.assert_array_equal(line.get_ydata(), part[criterion])
    best = table[table["rank"] == 1].iloc[0]
    markers = [line for line in ax.get_lines() if line.get_gid() == "best"]
    assert len(markers) == 2
    for marker, criterion in zip(markers, ("bic", "aic"), strict=True):
        np.testing.assert_array_equal(marker.get_xdata(), [best["n_components"]])
        np.testing.assert_array_equal(marker.get_ydata(), [best[criterion]])
    assert ax.get_xlabel() == "n_components"
    assert ax.get_legend() is not None
    assert_renders(ax.figure)


def test_criterion_single_sweep_defaults():
    table = search_table()
    table = table[table["covariance_type"] == "full"].drop(columns="covariance_type")
    ax = plot_criterion(table)
    lines = criterion_lines(ax)
    assert sorted(lines) == ["aic", "bic"]
    order = np.argsort(table["n_components"].to_numpy())
    for criterion in ("bic", "aic"):
        np.testing.assert_array_equal(lines[criterion].get_xdata(), np.arange(1, 6))
        np.testing.assert_array_equal(
            lines[criterion].get_ydata(), table[criterion].to_numpy()[order]
        )
    assert ax.get_xscale() == "linear"


def test_criterion_falls_back_to_cross_validation_with_band_and_log_axis():
    bandwidths = np.logspace(-2, 1, 7)
    means = -((np.log10(bandwidths) + 0.5) ** 2)
    stds = np.linspace(0.1, 0.3, 7)
    table = pd.DataFrame(
        {
            "model": "KernelDensity",
            "params": [{"bandwidth": b} for b in bandwidths],
            "bandwidth": bandwidths,
            "n_parameters": np.nan,
            "bic": np.nan,
            "aic": np.nan,
            "cv_log_likelihood": means,
            "cv_std": stds,
            "rank": (-means).argsort().argsort() + 1,
        }
    ).iloc[::-1]
    ax = plot_criterion(table)
    lines = criterion_lines(ax)
    assert list(lines) == ["cv_log_likelihood"]
    np.testing.assert_allclose(lines["cv_log_likelihood"].get_xdata(), bandwidths)
    np.testing.assert_allclose(lines["cv_log_likelihood"].get_ydata(), means)
    (best,) = [line for line in ax.get_lines() if line.get_gid() == "best"]
    np.testing.assert_allclose(best.get_ydata(), [means.max()])
    (band,) = ax.collections
    vertices = band.get_paths()[0].vertices
    np.testing.assert_allclose(vertices[:, 1].min(), (means - stds).min())
    np.testing.assert_allclose(vertices[:, 1].max(), (means + stds).max())
    assert ax.get_xscale() == "log"
    assert_renders(ax.figure)


def test_criterion_errors():
    table = search_table()
    table["reducer__n_components"] = np.arange(10)
    with pytest.raises(ValueError, match=r"n_components.*reducer__n_components"):
        plot_criterion(table)
    with pytest.raises(ValueError, match="unknown criteria"):
        plot_criterion(table, x="n_components", criteria="bic2")
    with pytest.raises(ValueError, match="hue"):
        plot_criterion(table, x="n_components", hue="colour")
    with pytest.raises(ValueError, match="numeric"):
        plot_criterion(table, x="covariance_type")
    with pytest.raises(ValueError, match="ModelSearch"):
        plot_criterion(np.zeros((3, 3)))
    with pytest.raises(NotFittedError):
        plot_criterion(SimpleNamespace(fit=None))


# --------------------------------------------------------------------------------------
# plot_density_1d


def bimodal(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-2, 0.7, n // 2), rng.normal(2, 1.0, n - n // 2)])


def filled_bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_density_curve_and_histogram():
    x = bimodal()
    model = GaussianMixture(2, random_state=0).fit(x[:, None])
    ax = plot_density_1d(model, x, bins=20)
    (curve,) = ax.get_lines()
    grid = curve.get_xdata()
    np.testing.assert_allclose(
        curve.get_ydata(), np.exp(model.score_samples(grid[:, None])), rtol=1e-12
    )
    assert grid.min() < x.min() and grid.max() > x.max()
    bars = filled_bars(ax)
    assert len(bars) == 20
    area = sum(bar.get_width() * bar.get_height() for bar in bars)
    np.testing.assert_allclose(area, 1.0, rtol=1e-12)
    heights, _ = np.histogram(x, bins=20, density=True)
    np.testing.assert_allclose([bar.get_height() for bar in bars], heights, rtol=1e-12)
    # (n, 1) input and an explicit grid give the same curve on that grid.
    points = np.linspace(-5, 5, 33)
    ax2 = plot_density_1d(model, x[:, None], grid=points)
    np.testing.assert_array_equal(ax2.get_lines()[0].get_xdata(), points)
    np.testing.assert_allclose(
        ax2.get_lines()[0].get_ydata(), np.exp(model.score_samples(points[:, None])), rtol=1e-12
    )
    assert_renders(ax.figure)


def step_histogram(ax) -> tuple[np.ndarray, np.ndarray]:
    """(edges, heights) of the step histogram drawn on ax."""
    (polygon,) = [p for p in ax.patches if isinstance(p, Polygon)]
    xy = polygon.get_xy()
    return xy[0::2, 0], xy[1:-1:2, 1]


def test_density_samples_drawn_reproducibly():
    x = bimodal(300)
    model = GaussianMixture(2, random_state=0).fit(x[:, None])
    ax = plot_density_1d(model, x, samples=500, random_state=7)
    edges, heights = step_histogram(ax)
    drawn = model.sample(500, random_state=7)[0][:, 0]
    _, expected_edges = np.histogram(np.concatenate([x, drawn]), bins="auto", density=False)
    np.testing.assert_allclose(edges, expected_edges, rtol=1e-12)
    np.testing.assert_allclose(heights, np.histogram(drawn, edges, density=True)[0], rtol=1e-12)
    np.testing.assert_allclose(np.sum(heights * np.diff(edges)), 1.0, rtol=1e-12)
    again = plot_density_1d(model, x, samples=500, random_state=7)
    np.testing.assert_array_equal(step_histogram(again)[1], heights)
    other = plot_density_1d(model, x, samples=500, random_state=8)
    assert not np.array_equal(step_histogram(other)[1], heights)  # continuous draws differ
    # A model whose sample returns an array (KernelDensity) and given sample arrays.
    kde = KernelDensity(bandwidth=0.4).fit(x[:, None])
    ax = plot_density_1d(kde, x, samples=200, random_state=3)
    drawn = kde.sample(200, random_state=3)[:, 0]
    edges, heights = step_histogram(ax)
    np.testing.assert_allclose(heights, np.histogram(drawn, edges, density=True)[0], rtol=1e-12)
    given = plot_density_1d(kde, x, samples=drawn[:, None])
    np.testing.assert_array_equal(step_histogram(given)[1], heights)
    assert_renders(ax.figure)


def test_density_errors():
    x = bimodal(100)
    model = GaussianMixture(1).fit(x[:, None])
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, 1\)"):
        plot_density_1d(model, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="score_samples"):
        plot_density_1d(object(), x)
    with pytest.raises(ValueError, match="no sample method"):
        plot_density_1d(SimpleNamespace(score_samples=model.score_samples), x, samples=10)
    with pytest.raises(ValueError, match="samples"):
        plot_density_1d(model, x, samples=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="positive"):
        plot_density_1d(model, x, samples=0)


# --------------------------------------------------------------------------------------
# plot_digits


def test_digits_real_and_generated_halves_equal_mosaics():
    rng = np.random.default_rng(0)
    real, generated = rng.uniform(0, 16, (23, 64)), rng.uniform(0, 16, (17, 64))
    ax = plot_digits(real, generated=generated, n_cols=5, title="digits")
    shown = np.ma.filled(ax.images[0].get_array().astype(np.float64), np.nan)
    left, right = digit_mosaic(real, n_cols=5), digit_mosaic(generated, n_cols=5)
    assert shown.shape == (max(len(left), len(right)), left.shape[1] + 8 + right.shape[1])
    np.testing.assert_array_equal(shown[: len(left), : left.shape[1]], left)
    np.testing.assert_array_equal(shown[: len(right), left.shape[1] + 8 :], right)
    assert np.isnan(shown[:, left.shape[1] : left.shape[1] + 8]).all()
    assert np.isnan(shown[len(right) :, left.shape[1] :]).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["real", "generated"]
    assert ax.get_title() == "digits"
    assert_renders(ax.figure)


def test_digits_alone_and_old_keyword_calls():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 16, (12, 64))
    _, ax = plt.subplots()
    assert plot_digits(images, n_cols=4, ax=ax, title="real") is ax
    shown = np.ma.filled(ax.images[0].get_array().astype(np.float64), np.nan)
    np.testing.assert_array_equal(shown, digit_mosaic(images, n_cols=4))
    assert list(ax.get_xticks()) == []
    # Images given as (n, 8, 8) show the same pixels.
    ax3 = plot_digits(images.reshape(12, 8, 8), n_cols=4)
    np.testing.assert_array_equal(ax3.images[0].get_array(), ax.images[0].get_array())
    assert_renders(ax.figure)
    with pytest.raises(TypeError, match="n_cols"):
        plot_digits(images, 4)
    with pytest.raises(ValueError, match="shape"):
        plot_digits(images[:, :10])


# --------------------------------------------------------------------------------------
# plot_real_vs_synthetic


def test_real_vs_synthetic_arrays():
    rng = np.random.default_rng(0)
    real, synthetic = rng.normal(size=(100, 3)), 2 + 3 * rng.normal(size=(80, 3))
    axes = plot_real_vs_synthetic(real, synthetic, features=(2, 0))
    assert isinstance(axes, np.ndarray) and axes.shape == (2,)
    assert axes[0].get_xlim() == axes[1].get_xlim()
    assert axes[0].get_ylim() == axes[1].get_ylim()
    for ax, data in zip(axes, (real, synthetic), strict=True):
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), data[:, [2, 0]])
    both = np.vstack([real, synthetic])
    (x0, x1), (y0, y1) = axes[0].get_xlim(), axes[0].get_ylim()
    assert x0 < both[:, 2].min() and x1 > both[:, 2].max()
    assert y0 < both[:, 0].min() and y1 > both[:, 0].max()
    assert_renders(axes[0].figure)


def test_real_vs_synthetic_frames_names_and_given_axes():
    rng = np.random.default_rng(1)
    real = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    synthetic = pd.DataFrame(rng.normal(size=(50, 3)) * 4, columns=["a", "b", "c"])
    figure, given = plt.subplots(1, 2)  # not sharing: limits must still agree
    axes = plot_real_vs_synthetic(real, synthetic, features=("c", "a"), axes=given)
    assert list(axes) == list(given)
    assert axes[0].get_xlim() == axes[1].get_xlim()
    assert axes[0].get_ylim() == axes[1].get_ylim()
    np.testing.assert_array_equal(axes[0].collections[0].get_offsets(), real[["c", "a"]])
    np.testing.assert_array_equal(axes[1].collections[0].get_offsets(), synthetic[["c", "a"]])
    assert (axes[0].get_xlabel(), axes[0].get_ylabel()) == ("c", "a")
    # A name selects the same position in an array when the other input is a DataFrame.
    mixed = plot_real_vs_synthetic(real, synthetic.to_numpy(), features=("b", 2))
    np.testing.assert_array_equal(
        mixed[1].collections[0].get_offsets(), synthetic.to_numpy()[:, [1, 2]]
    )
    assert_renders(figure)


def test_real_vs_synthetic_errors():
    rng = np.random.default_rng(2)
    real = pd.DataFrame({"a": rng.normal(size=10), "kind": list("xy" * 5)})
    array = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="no column 'z'"):
        plot_real_vs_synthetic(real, real, features=("a", "z"))
    with pytest.raises(ValueError, match="not numeric"):
        plot_real_vs_synthetic(real, real, features=("a", "kind"))
    with pytest.raises(ValueError, match="array without column names"):
        plot_real_vs_synthetic(array, array, features=("a", 0))
    with pytest.raises(ValueError, match="out of range"):
        plot_real_vs_synthetic(array, array, features=(0, 5))
    with pytest.raises(ValueError, match="2-D"):
        plot_real_vs_synthetic(array[:, 0], array)
    with pytest.raises(ValueError, match="two"):
        plot_real_vs_synthetic(array, array, axes=plt.subplots(1, 3)[1])
