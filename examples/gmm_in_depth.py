"""Gaussian mixtures in depth (the Python Data Science Handbook's chapter), on lookalike.

1. Four blobs: a four-component mixture with its 1-, 2- and 3-sigma ellipses.
2. The same blobs stretched by a linear map: full covariances follow the shape.
3. Two moons: two components fit badly; sixteen describe the density, and new
   points drawn from it look like moons. BIC and AIC against the number of
   components say how many the data support.
4. Digits: PCA keeping 99% of the variance with whitening leaves 41 dimensions;
   an AIC sweep over 50 to 200 components; 100 new digits from a 110-component
   mixture on the reduced data, mapped back to pixels.

Run ``python examples/gmm_in_depth.py --out figures`` (``--quick`` for small settings).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import make_blobs, make_moons
from sklearn.decomposition import PCA

import lookalike as la
from lookalike.datasets import load_digits
from lookalike.exceptions import ConvergenceWarning
from lookalike.plotting import plot_digits, plot_mixture, plot_real_vs_synthetic


def run(out_dir: str | Path = "figures", quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the chapter's workflows, write their figures and return the key numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    results: dict[str, Any] = {"figures": figures}

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        figures.append(path)
        print(f"wrote {path}")

    # 1 and 2: blobs, then stretched blobs.
    blobs, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    blobs = blobs[:, ::-1]
    stretched = blobs @ np.random.RandomState(13).randn(2, 2)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, data, title in ((axes[0], blobs, "blobs"), (axes[1], stretched, "stretched blobs")):
        model = la.GaussianMixture(4, covariance_type="full", random_state=42).fit(data)
        plot_mixture(model, data, ax=ax)
        ax.set_title(f"{title}: 4 components")
    save(fig, "gmm_blobs.png")

    # 3: moons with 2 and 16 components, new points, and the criteria.
    moons, _ = make_moons(200, noise=0.05, random_state=0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, k in zip(axes, (2, 16), strict=True):
        model = la.GaussianMixture(k, covariance_type="full", random_state=0).fit(moons)
        plot_mixture(model, moons, ax=ax, legend=k < 5)
        ax.set_title(f"moons: {k} components")
    save(fig, "gmm_moons.png")
    new_moons, _ = model.sample(400, random_state=np.random.default_rng(seed))
    axes = plot_real_vs_synthetic(moons, new_moons)
    save(axes[0].figure, "gmm_moons_new_points.png")

    search = la.ModelSearch(
        la.GaussianMixture(covariance_type="full", random_state=0),
        {"n_components": np.arange(1, 11 if quick else 21)},
        criterion="bic",
    ).fit(moons)
    results["moons_search"] = search
    ax = search.plot(criteria=["bic", "aic"])
    ax.set_title("moons: information criteria")
    save(ax.figure, "gmm_moons_criteria.png")

    # 4: digits, reduced, AIC sweep, new digits from a 110-component mixture.
    digits, _ = load_digits()
    if quick:
        digits = digits[:500]
    pca = PCA(0.99, whiten=True)
    reduced = pca.fit_transform(digits)
    results["digits_dimensions"] = reduced.shape[1]
    print(f"digits: PCA(0.99, whiten=True) keeps {reduced.shape[1]} dimensions")
    counts = np.arange(50, 210, 10) if not quick else np.array([10, 20, 40])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = la.ModelSearch(
            la.GaussianMixture(covariance_type="full", random_state=0),
            {"n_components": counts},
            criterion="aic",
        ).fit(reduced)
    results["digits_search"] = search
    print(f"lowest AIC: {search.best_params_['n_components']} components")
    ax = search.plot(criteria=["aic"])
    ax.set_title("digits (41 dimensions): AIC")
    save(ax.figure, "gmm_digits_aic.png")

    n_components = 110 if not quick else 20
    model = la.ReducedDensity(
        la.GaussianMixture(n_components, covariance_type="full", random_state=0),
        PCA(0.99, whiten=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(digits)
    new_digits = model.sample(100, random_state=seed, residual=False)
    results["new_digits"] = new_digits
    fig, axes = plt.subplots(1, 2, figsize=(12, 6))
    plot_digits(digits[:100], ax=axes[0], title="real digits")
    plot_digits(
        np.clip(new_digits, 0, 16),
        ax=axes[1],
        title=f"new digits: PCA-{reduced.shape[1]} + {n_components}-component mixture",
    )
    save(fig, "gmm_new_digits.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="figures", help="folder for the figures")
    parser.add_argument("--quick", action="store_true", help="small settings, seconds")
    arguments = parser.parse_args()
    run(arguments.out, quick=arguments.quick)
