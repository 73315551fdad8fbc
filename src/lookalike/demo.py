"""The main job on the bundled default data: new handwritten digits.

Digits (1,797 images of 8x8 pixels) are reduced by PCA keeping 99% of the
variance with whitening (41 dimensions), as in the "Gaussian mixtures in depth"
chapter of the Python Data Science Handbook. Full-covariance mixtures with 10 to
200 components are fitted side by side by :class:`~lookalike.ModelSearch` and
their BIC and AIC printed. BIC's heavy penalty for the 902 parameters of each
41-dimensional component picks very few components, which draw blurry digits;
like the chapter, the demo takes the lowest AIC. 100 new digits are drawn,
mapped back to pixels, rounded to the originals' integer intensities 0-16
and written as a PNG grid (real digits above, new ones
below) and a CSV, in random order (a mixture's ``sample`` groups its draws by
component). Last, the chosen configuration is refitted on 80% of the
digits and its new digits are evaluated against those training digits and the
20% held out (fidelity, privacy), written as the self-contained ``report.html``.

Then the same 80% of the digits, with their labels, go through the tabular
:class:`~lookalike.tabular.Synthesizer` (``target="digit"``: 64 integer pixel columns
and a label, its family chosen by ``model="auto"``), which draws as many new labelled
digits as are held out; they are evaluated the same way, with the label's utility, in
``table_report.html``, and shown as a third panel of the grid. The two reports side by
side show what a detector sees in each: the PCA + mixture digits are smooth images that
real 8x8 scans are not; the Synthesizer keeps every pixel's own distribution.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from lookalike._io import atomic_open, atomic_path
from lookalike._logging import get_logger, stage
from lookalike.datasets import load_digits
from lookalike.exceptions import ConvergenceWarning
from lookalike.mixture import GaussianMixture
from lookalike.model_selection import ModelSearch

COMPONENT_COUNTS = tuple(range(10, 201, 10))

log = get_logger(__name__)


@dataclass
class DemoResult:
    """What the demo produced."""

    n_dimensions: int
    criteria: list[tuple[int, float, float]]  # (n_components, BIC, AIC)
    chosen_by: str
    chosen_n_components: int
    grid_path: Path
    csv_path: Path
    report_path: Path | None = None
    new_labels: np.ndarray | None = None  # the component of each new digit, in grid order
    table_report_path: Path | None = None
    table_model: str | None = None  # the Synthesizer's joint model, as its summary says


def run_demo(
    out_dir: str | Path = "lookalike-demo",
    seed: int = 0,
    n_new: int = 100,
    component_counts: tuple[int, ...] = COMPONENT_COUNTS,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Fit, choose by AIC, sample ``n_new`` digits and write the PNG grid and CSV."""
    out = Path(out_dir)
    X, y = load_digits()
    with stage(log, "reducing %d digits with PCA(0.99, whiten=True)", X.shape[0]):
        pca = PCA(n_components=0.99, whiten=True, random_state=seed)
        reduced = pca.fit_transform(X)
    echo(
        f"digits: {X.shape[0]} images of {X.shape[1]} pixels -> PCA(0.99, whiten=True): "
        f"{reduced.shape[1]} dimensions"
    )

    search = ModelSearch(
        GaussianMixture(covariance_type="full", random_state=seed),
        {"n_components": list(component_counts)},
        criterion="aic",
    )
    counts = f"{min(component_counts)} to {max(component_counts)}"
    with (
        stage(log, "fitting %d mixtures with %s components", len(component_counts), counts),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(reduced)
    table = search.results_
    criteria = [
        (int(n), float(bic), float(aic))
        for n, bic, aic in zip(table["n_components"], table["bic"], table["aic"], strict=True)
    ]
    lowest_bic = int(np.argmin(table["bic"]))
    lowest_aic = search.best_index_
    best = search.best_estimator_

    echo(f"{'n_components':>12}  {'BIC':>12}  {'AIC':>12}")
    for index, (n, bic, aic) in enumerate(criteria):
        marks = [name for name, i in (("BIC", lowest_bic), ("AIC", lowest_aic)) if i == index]
        note = f"  <- lowest {' and '.join(marks)}" if marks else ""
        echo(f"{n:>12}  {bic:>12.1f}  {aic:>12.1f}{note}")

    new_reduced, new_labels = draw_shuffled(best, n_new, np.random.default_rng(seed))
    new_digits = np.clip(np.rint(pca.inverse_transform(new_reduced)), 0.0, 16.0)

    csv_path = out / "new_digits.csv"
    _write_csv(new_digits, csv_path)
    echo(
        f"wrote {n_new} new digits from the {best.n_components}-component mixture (lowest AIC): "
        f"{csv_path}"
    )
    report_path = out / "report.html"
    with stage(log, "refitting on 80% of the digits and evaluating its new digits"):
        summary = _write_report(X, best, seed, report_path)
    for sentence in summary:
        echo(sentence)
    echo(f"wrote the evaluation report: {report_path}")

    table_report_path = out / "table_report.html"
    with stage(log, "the labelled digits as a table: Synthesizer(target='digit')"):
        table_digits, table_summary, table_model = _synthesize_table(X, y, seed, table_report_path)
    echo(f"the labelled digits as a table, Synthesizer(target='digit') chose {table_model}:")
    for sentence in table_summary:
        echo(sentence)
    echo(f"wrote its evaluation report: {table_report_path}")
    grid_path = out / "new_digits.png"
    with stage(log, "drawing the digit grid: %s", grid_path):
        _write_grid(X[:n_new], new_digits, table_digits[:n_new], grid_path)
    echo(f"wrote the grid of real and new digits: {grid_path}")
    return DemoResult(
        reduced.shape[1],
        criteria,
        "AIC",
        best.n_components,
        grid_path,
        csv_path,
        report_path,
        new_labels,
        table_report_path,
        table_model,
    )


def draw_shuffled(
    model: GaussianMixture, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of a fitted mixture and their components, in random order.

    ``GaussianMixture.sample`` returns its draws grouped by component (as
    scikit-learn's does); shown as a grid they would come out in runs of one
    digit. The rows and their labels are permuted together.
    """
    values, labels = model.sample(n, random_state=rng)
    order = rng.permutation(n)
    return values[order], labels[order]


def _write_report(
    X: np.ndarray, chosen: GaussianMixture, seed: int, path: Path, holdout_share: float = 0.2
) -> list[str]:
    """Refit ``chosen`` on part of ``X``; evaluate its new digits against train and holdout.

    The new digits number as many as the holdout rows (at least 100), so that the distances
    to the closest training row of new and of held-out digits are compared like for like.
    """
    import pandas as pd
    from sklearn.base import clone

    from lookalike.evaluation import evaluate

    training_rows, holdout_rows = _split(X.shape[0], seed, holdout_share)
    train, holdout = X[training_rows], X[holdout_rows]
    n_holdout = holdout_rows.size
    pca = PCA(n_components=0.99, whiten=True, random_state=seed)
    model = clone(chosen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(pca.fit_transform(train))
    new_reduced, _ = draw_shuffled(model, max(n_holdout, 100), np.random.default_rng(seed))
    new_digits = np.clip(np.rint(pca.inverse_transform(new_reduced)), 0.0, 16.0)
    columns = [f"pixel_{i}" for i in range(X.shape[1])]
    report = evaluate(
        pd.DataFrame(train, columns=columns),
        pd.DataFrame(new_digits, columns=columns),
        pd.DataFrame(holdout, columns=columns),
        random_state=seed,
    )
    report.to_html(path)
    return list(report.summary)


def _split(n_rows: int, seed: int, holdout_share: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices (a seeded permutation; both reports share it)."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = round(holdout_share * n_rows)
    return order[n_holdout:], order[:n_holdout]


def _synthesize_table(
    X: np.ndarray, y: np.ndarray, seed: int, path: Path
) -> tuple[np.ndarray, list[str], str]:
    """Synthesizer(target="digit") on the training digits; its new digits and report.

    Returns the new digits' pixels (as many rows as are held out), the report's summary
    sentences and the Synthesizer's joint model.
    """
    import pandas as pd

    from lookalike.evaluation import evaluate
    from lookalike.tabular import Synthesizer

    columns = [f"pixel_{i}" for i in range(X.shape[1])]

    def table(rows: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(np.rint(X[rows]).astype(np.int64), columns=columns)
        frame["digit"] = y[rows].astype(str)
        return frame

    training_rows, holdout_rows = _split(X.shape[0], seed)
    train, holdout = table(training_rows), table(holdout_rows)
    synthesizer = Synthesizer(target="digit", random_state=seed).fit(train)
    new = synthesizer.sample(len(holdout), random_state=seed)
    report = evaluate(train, new, holdout, target="digit", random_state=seed)
    report.to_html(path)
    pixels = new[columns].to_numpy(dtype=np.float64)
    return pixels, list(report.summary), str(synthesizer.summary()["model"])


def _write_grid(real: np.ndarray, new: np.ndarray, table: np.ndarray, path: Path) -> None:
    from lookalike.plotting import plot_digits
    from lookalike.plotting.backend import pyplot

    plt = pyplot("Agg", needed_by="lookalike demo needs")

    fig, axes = plt.subplots(3, 1, figsize=(6, 18))
    plot_digits(real, ax=axes[0], title="Real digits")
    plot_digits(new, ax=axes[1], title="New digits (PCA + GaussianMixture)")
    plot_digits(table, ax=axes[2], title="New digits (Synthesizer, target='digit')")
    fig.tight_layout()
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=100)
    plt.close(fig)


def _write_csv(digits: np.ndarray, path: Path) -> None:
    with atomic_open(path) as stream:
        writer = csv.writer(stream)
        writer.writerow([f"pixel_{i}" for i in range(digits.shape[1])])
        writer.writerows(np.round(digits, 4).tolist())
