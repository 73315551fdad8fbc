"""Generative models, step by step, on lookalike.

1. A one-dimensional normal: fitted parameters (the same as scipy's ``norm.fit``),
   the density against the histogram, and new draws.
2. Two features of the iris flowers: a three-component mixture with its ellipses.
3. BIC sweeps over the number of components for every covariance type.
4. A mixture after PCA: ``ReducedDensity`` keeps the density honest in the original
   space, so its held-out likelihood can be compared with the unreduced model's.
5. A kernel density estimate against the histogram, with bandwidths from a rule,
   from Botev's ISJ and from cross-validation, and new draws from the KDE.
6. A not-so-naive Bayes classifier: one KDE per digit class, against GaussianNB.

Run ``python examples/generative_models.py --out figures`` (``--quick`` for small settings).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB

import lookalike as la
from lookalike.datasets import load_digits
from lookalike.plotting import plot_criterion, plot_density_1d, plot_mixture


def run(out_dir: str | Path = "figures", quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run every step, write the figures and return the key numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    results: dict[str, Any] = {"figures": figures}
    rng = np.random.default_rng(seed)

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        figures.append(path)
        print(f"wrote {path}")

    # 1. A one-dimensional normal.
    heights = rng.normal(170.0, 8.0, size=500)
    normal = la.Gaussian().fit(heights[:, np.newaxis])
    mean, std = float(normal.mean_[0]), float(np.sqrt(normal.covariance_[0, 0]))
    print(f"normal: mean {mean:.2f}, std {std:.2f} (scipy: {stats.norm.fit(heights)})")
    results["normal"] = (mean, std)
    ax = plot_density_1d(normal, heights, samples=500, random_state=seed)
    ax.set_title("a normal fitted to 500 heights")
    save(ax.figure, "normal_1d.png")

    # 2. Two iris features, three components.
    iris = load_iris().data
    petals = iris[:, 2:]
    mixture = la.GaussianMixture(3, covariance_type="full", random_state=seed).fit(petals)
    ax = plot_mixture(mixture, petals)
    ax.set(xlabel="petal length (cm)", ylabel="petal width (cm)", title="iris: 3 components")
    save(ax.figure, "iris_mixture.png")

    # 3. BIC for every covariance type.
    search = la.ModelSearch(
        la.GaussianMixture(random_state=seed),
        {
            "n_components": range(1, 6 if quick else 10),
            "covariance_type": ["full", "tied", "diag", "spherical"],
        },
        criterion="bic",
    ).fit(petals)
    results["bic_search"] = search
    best = search.best_params_
    print(f"lowest BIC: {best['n_components']} components, {best['covariance_type']}")
    ax = plot_criterion(search, x="n_components", criteria=["bic"], hue="covariance_type")
    ax.set_title("iris petals: BIC")
    save(ax.figure, "iris_bic.png")

    # 4. The same mixture family on all four iris features, with and without PCA.
    train, test = train_test_split(iris, test_size=0.3, random_state=seed)
    full = la.GaussianMixture(3, random_state=seed).fit(train)
    reduced = la.ReducedDensity(la.GaussianMixture(3, random_state=seed), PCA(2, whiten=True)).fit(
        train
    )
    results["held_out"] = {"full": full.score(test), "pca-2": reduced.score(test)}
    print(
        "held-out log-likelihood per flower: "
        f"4-D mixture {full.score(test):.3f}, PCA-2 mixture {reduced.score(test):.3f}"
    )

    # 5. KDE vs histogram, three bandwidth choices, and draws from the KDE.
    bimodal = np.concatenate([rng.normal(0, 1, 300), rng.normal(5, 0.5, 150)])[:, np.newaxis]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), sharey=True)
    kdes = {}
    for ax, bandwidth in zip(axes, ("scott", "isj", "cv"), strict=True):
        kde = la.KernelDensity(bandwidth=bandwidth).fit(bimodal)
        kdes[bandwidth] = kde
        plot_density_1d(kde, bimodal, ax=ax)
        ax.set_title(f"bandwidth={bandwidth!r}: {float(np.ravel(kde.bandwidth_)[0]):.3f}")
    save(fig, "kde_vs_histogram.png")
    ax = plot_density_1d(kdes["isj"], bimodal, samples=1000, random_state=seed)
    ax.set_title("1000 new points drawn from the KDE")
    save(ax.figure, "kde_samples.png")

    # 6. Not-so-naive Bayes on the digits.
    digits, labels = load_digits()
    if quick:
        digits, labels = digits[:600], labels[:600]
    X_train, X_test, y_train, y_test = train_test_split(
        digits, labels, test_size=0.3, random_state=1
    )
    bayes = la.GenerativeClassifier(la.KernelDensity(bandwidth=10.0)).fit(X_train, y_train)
    accuracy = bayes.score(X_test, y_test)
    naive = GaussianNB().fit(X_train, y_train).score(X_test, y_test)
    results["accuracy"] = {"kde_bayes": accuracy, "gaussian_nb": naive}
    print(f"digits accuracy: KDE Bayes {accuracy:.4f}, GaussianNB {naive:.4f}")
    if not quick:
        scores = cross_val_score(
            la.GenerativeClassifier(la.KernelDensity(bandwidth=10.0)), digits, labels, cv=5
        )
        print(f"5-fold accuracy of the KDE Bayes classifier: {scores.mean():.4f}")
    new_sixes, _ = bayes.sample(10, y=6, random_state=seed)
    results["new_sixes"] = new_sixes
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="figures", help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="small settings, seconds")
    arguments = parser.parse_args()
    run(arguments.out, quick=arguments.quick)
