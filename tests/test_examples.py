"""Each example in examples/ runs end to end on small settings and writes its figures."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from matplotlib.image import imread
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity as SkKernelDensity

from lookalike.datasets import load_digits

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_figures_drawn(paths: list[Path]) -> None:
    assert paths
    for path in paths:
        image = imread(path)
        # A blank canvas has one colour; a drawn figure has many.
        assert image.std() > 0.01, path


def test_kde_digits_sampling(tmp_path):
    results = load_example("kde_digits_sampling").run(tmp_path, quick=True)
    assert_figures_drawn(results["figures"])
    assert results["new_digits"].shape == (44, 64)
    # The bandwidth is the one scikit-learn's GridSearchCV picks on the same data.
    X = load_digits()[0][:400]
    projected = PCA(n_components=15).fit_transform(X)
    # One leaf holding every row makes scikit-learn's tree sum exactly (its default
    # leaf size gives log-likelihoods off by many nats on this data).
    exact = SkKernelDensity(leaf_size=len(projected))
    grid = GridSearchCV(exact, {"bandwidth": np.logspace(-1, 1, 20)}, cv=5)
    assert results["bandwidth"] == pytest.approx(grid.fit(projected).best_params_["bandwidth"])


@pytest.mark.slow
def test_gmm_in_depth(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = load_example("gmm_in_depth").run(tmp_path, quick=True)
    assert_figures_drawn(results["figures"])
    assert len(results["figures"]) == 6
    table = results["moons_search"].results_
    assert results["moons_search"].best_index_ == int(np.argmin(table["bic"]))
    assert results["new_digits"].shape == (100, 64)
    # PCA(0.99) of the first 500 digits, counted independently.
    X = load_digits()[0][:500]
    ratios = PCA().fit(X).explained_variance_ratio_
    assert results["digits_dimensions"] == int(np.searchsorted(np.cumsum(ratios), 0.99) + 1)


@pytest.mark.slow
def test_generative_models(tmp_path):
    results = load_example("generative_models").run(tmp_path, quick=True)
    assert_figures_drawn(results["figures"])
    heights = np.random.default_rng(0).normal(170.0, 8.0, size=500)
    assert results["normal"] == pytest.approx(stats.norm.fit(heights), rel=1e-10)
    accuracy = results["accuracy"]
    assert accuracy["kde_bayes"] > accuracy["gaussian_nb"] + 0.05
    assert results["new_sixes"].shape == (10, 64)
