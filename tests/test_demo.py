"""The main job (``lookalike demo``) on small settings: what it prints and writes."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn.decomposition import PCA

from lookalike.datasets import load_digits
from lookalike.demo import run_demo
from lookalike.exceptions import ConvergenceWarning
from lookalike.mixture import GaussianMixture


@pytest.mark.slow
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
    assert imread(result.grid_path).shape[0] == 3 * imread(result.grid_path).shape[1]  # 3 panels
    # The table part: the Synthesizer's model is named and its report written.
    assert result.table_model is not None and result.table_report_path.stat().st_size > 10_000
    said = next(i for i, line in enumerate(lines) if "Synthesizer(target='digit') chose" in line)
    assert lines[said + 1].startswith("Detector: gradient-boosted trees tell")
    assert any(
        line.startswith("Utility: a model trained on synthetic rows predicts 'digit'")
        for line in lines[said:]
    )
    with result.csv_path.open() as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == [f"pixel_{i}" for i in range(64)]
    pixels = np.array(rows[1:], dtype=float)
    assert pixels.shape == (20, 64)
    assert pixels.min() >= 0.0 and pixels.max() <= 16.0

    # The grid is not in runs of one component. A random order of these labels is grouped
    # with probability g! * prod(n_i!) / n! (g groups of sizes n_i), checked to be tiny.
    labels = result.new_labels
    counts = np.unique(labels, return_counts=True)[1]
    log_grouped = sum(math.lgamma(c + 1) for c in counts) + math.lgamma(len(counts) + 1)
    assert log_grouped - math.lgamma(len(labels) + 1) < math.log(1e-6)
    assert np.count_nonzero(np.diff(labels)) > len(counts) - 1


def test_new_digits_are_shuffled_not_grouped_by_component():
    """``sample`` groups draws by component; the demo's grid must not show runs of one digit."""
    from lookalike.demo import draw_shuffled

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    X = centres[rng.integers(0, 3, 600)] + rng.normal(size=(600, 2))
    model = GaussianMixture(3, random_state=0).fit(X)

    values, labels = draw_shuffled(model, 300, np.random.default_rng(1))
    grouped_values, grouped_labels = model.sample(300, random_state=np.random.default_rng(1))
    # The same draws: a permutation of what sample() returns, rows and labels together.
    order = np.lexsort((values[:, 1], values[:, 0]))
    grouped_order = np.lexsort((grouped_values[:, 1], grouped_values[:, 0]))
    np.testing.assert_array_equal(values[order], grouped_values[grouped_order])
    np.testing.assert_array_equal(labels[order], grouped_labels[grouped_order])
    # Components ~20 standard deviations apart: each row is predicted as its own label.
    np.testing.assert_array_equal(model.predict(values), labels)
    # Grouped rows change label k - 1 = 2 times; a random order of 300 rows about 200 times.
    # (Fewer than 100 changes has probability far below 1e-20.)
    assert np.count_nonzero(np.diff(grouped_labels)) == 2
    assert np.count_nonzero(np.diff(labels)) > 100
