"""The main job (``lookalike demo``) on small settings: what it prints and writes."""

from __future__ import annotations

import csv
import warnings

import numpy as np
from matplotlib.image import imread
from sklearn.decomposition import PCA

from lookalike.datasets import load_digits
from lookalike.demo import run_demo
from lookalike.exceptions import ConvergenceWarning
from lookalike.mixture import GaussianMixture


def test_demo_chooses_by_aic_and_writes_its_files(tmp_path):
    lines: list[str] = []
    result = run_demo(tmp_path, n_new=20, component_counts=(2, 5, 10), echo=lines.append)

    # The criteria are those of mixtures fitted one by one on the same reduced data.
    X, _ = load_digits()
    reduced = PCA(0.99, whiten=True, random_state=0).fit_transform(X)
    assert result.n_dimensions == reduced.shape[1] == 41
    expected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for n in (2, 5, 10):
            model = GaussianMixture(n, covariance_type="full", random_state=0).fit(reduced)
            expected.append((n, model.bic(reduced), model.aic(reduced)))
    np.testing.assert_allclose(np.array(result.criteria), np.array(expected), rtol=1e-10)
    assert result.chosen_n_components == expected[int(np.argmin([e[2] for e in expected]))][0]
    assert any("lowest" in line and "AIC" in line for line in lines)

    assert imread(result.grid_path).std() > 0.01
    with result.csv_path.open() as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == [f"pixel_{i}" for i in range(64)]
    pixels = np.array(rows[1:], dtype=float)
    assert pixels.shape == (20, 64)
    assert pixels.min() >= 0.0 and pixels.max() <= 16.0
