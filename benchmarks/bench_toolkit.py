"""The generative toolkit: lookalike's ModelSearch, GenerativeClassifier and impute vs peers.

Run from the benchmarks folder (after ``make test``, which installs the peers)::

    python bench_toolkit.py            # the full benchmark (a few minutes)
    python bench_toolkit.py --smoke    # seconds; what CI runs

Four parts, each printing a markdown table. Ratios are peer time / lookalike
time; lookalike times and peer times are medians of the same number of runs
(3; smoke: 1).

1. ``kde-search``: scikit-learn's KDE digits example. Digits -> PCA(15) ->
   bandwidth among logspace(-1, 1, 20) by 5-fold cross-validation.
   Peer: ``GridSearchCV(sklearn KernelDensity(), {"bandwidth": grid}, cv=5)``;
   ours: ``ModelSearch(KernelDensity(), {"bandwidth": grid}, criterion="cv",
   cv=5)``. Agreement: the chosen bandwidths, and the held-out scores over the
   whole grid against scikit-learn made exact (``leaf_size=n``, one leaf, so
   every kernel is summed; run once, not timed, skipped in smoke).
2. ``gmm-sweep``: digits -> PCA(0.99, whiten=True) (41 dims) ->
   full-covariance mixtures with n_components 50, 60, ..., 200 scored by AIC;
   and digits -> PCA(30) -> covariance_type in {full, diag, tied, spherical}
   x n_components 1..20 scored by BIC. Peer: a loop of
   ``sklearn.mixture.GaussianMixture(..., random_state=0).fit(X).aic(X)``;
   ours: ``ModelSearch(GaussianMixture(random_state=0), grid, criterion=...)``.
   Agreement: the chosen candidate and its criterion value. The number of
   k-means runs shows the sweep sharing one k-means between candidates with the
   same seed and number of components.
3. ``classifier``: digits, train_test_split(test_size=0.3, random_state=1).
   Peer: the textbook KDE classifier (one scikit-learn KernelDensity(bandwidth=10)
   per class, posterior = exp(log-density) x prior, normalised); ours:
   ``GenerativeClassifier(KernelDensity(bandwidth=10))``. Fit + predict time
   and test accuracy. Then 784-dimensional synthetic data (3 classes): the share
   of test rows whose predict_proba holds a NaN for each (the textbook version
   underflows to 0 / 0).
4. ``impute``: two well-separated clusters in 8-D with different correlation
   structure, n = 20,000 (smoke: 1,000), 20% of the entries missing completely
   at random. Peers: ``IterativeImputer(random_state=0)`` and ``KNNImputer()``;
   ours: ``GaussianMixture(2, missing="em", random_state=0).fit(X).impute(X)``.
   Time and RMSE on the removed entries.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.mixture import GaussianMixture as SklearnGMM
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.neighbors import KernelDensity as SklearnKDE

import lookalike as la
from _common import markdown_table, median_time, report_header
from lookalike.datasets import load_digits

PARTS = ("kde-search", "gmm-sweep", "classifier", "impute")


# --------------------------------------------------------------------------------------
# 1. Bandwidth search on the digits


def per_sample_cv_scores(search: GridSearchCV, X: np.ndarray, cv: int) -> np.ndarray:
    """GridSearchCV's fold scores (sums of log-densities) as per-sample means over folds."""
    sizes = [len(test) for _, test in KFold(cv).split(X)]
    folds = [np.asarray(search.cv_results_[f"split{f}_test_score"]) / sizes[f] for f in range(cv)]
    return np.mean(folds, axis=0)


def bench_kde_search(repeats: int, smoke: bool) -> str:
    grid = np.logspace(-1, 1, 20)
    if smoke:
        grid = grid[::4]
    digits, _ = load_digits()
    X = PCA(15, random_state=0).fit_transform(digits)

    def peer() -> GridSearchCV:
        return GridSearchCV(SklearnKDE(), {"bandwidth": grid}, cv=5).fit(X)

    def ours() -> la.ModelSearch:
        search = la.ModelSearch(la.KernelDensity(), {"bandwidth": grid}, criterion="cv", cv=5)
        return search.fit(X)

    t_peer, fitted_peer = median_time(peer, repeats)
    t_ours, fitted_ours = median_time(ours, repeats)
    t_curve, _ = median_time(lambda: la.cross_validate_bandwidth(X, grid, cv=5), repeats)
    ours_scores = fitted_ours.results_["cv_log_likelihood"].to_numpy(dtype=np.float64)
    peer_scores = per_sample_cv_scores(fitted_peer, X, 5)
    exact_choice, exact_gap = "(skipped)", "(skipped)"
    if not smoke:
        exact = GridSearchCV(SklearnKDE(leaf_size=len(X)), {"bandwidth": grid}, cv=5).fit(X)
        exact_choice = f"{exact.best_params_['bandwidth']:.4g}"
        exact_gap = f"{np.abs(per_sample_cv_scores(exact, X, 5) - ours_scores).max():.2g}"
    rows = [
        (
            f"digits -> PCA(15), {X.shape[0]} x {X.shape[1]}",
            t_peer,
            t_ours,
            f"{t_peer / t_ours:.1f}x",
            t_curve,
            f"{fitted_peer.best_params_['bandwidth']:.4g}",
            exact_choice,
            f"{fitted_ours.best_params_['bandwidth']:.4g}",
            f"{np.abs(peer_scores - ours_scores).max():.2g}",
            exact_gap,
        )
    ]
    header = (
        "data",
        "GridSearchCV s",
        "ModelSearch s",
        "ratio",
        "cross_validate_bandwidth s",
        "GridSearchCV bandwidth",
        "exact scikit-learn bandwidth",
        "ModelSearch bandwidth",
        "max abs CV score diff vs GridSearchCV",
        "vs exact scikit-learn",
    )
    note = (
        f"\n\nBandwidth among logspace(-1, 1, 20){' (every 4th: smoke)' if smoke else ''}, "
        f"5-fold KFold CV; medians of {repeats} "
        "(search with refit). CV scores are mean per-sample held-out log-likelihoods "
        "(GridSearchCV's per-fold sums divided by the fold sizes), compared over the whole "
        "grid; 'exact' is scikit-learn with leaf_size = n (one leaf: every kernel summed), "
        "run once and not timed (scikit-learn's default tree with rtol=0 is not exact at "
        "small bandwidths). cross_validate_bandwidth is lookalike's bare bandwidth curve "
        "(no refit, no results table), for reference."
    )
    return markdown_table(header, rows) + note


# --------------------------------------------------------------------------------------
# 2. Mixture sweeps on the digits


class KMeansCounter:
    """Counts ``KMeans.fit`` calls (from any thread) while active."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    @contextmanager
    def active(self) -> Iterator[KMeansCounter]:
        original = KMeans.fit
        counter = self

        def counting_fit(kmeans: KMeans, *args: Any, **kwargs: Any) -> Any:
            with counter._lock:
                counter.count += 1
            return original(kmeans, *args, **kwargs)

        KMeans.fit = counting_fit  # type: ignore[method-assign]
        try:
            yield self
        finally:
            KMeans.fit = original  # type: ignore[method-assign]


def peer_sweep(X: np.ndarray, grid: list[dict[str, Any]], criterion: str) -> list[float]:
    values = []
    for point in grid:
        model = SklearnGMM(random_state=0, **point).fit(X)
        values.append(float(getattr(model, criterion)(X)))
    return values


def bench_gmm_sweep(repeats: int, smoke: bool) -> str:
    digits, _ = load_digits()
    counts_aic = [2, 3] if smoke else list(range(50, 210, 10))  # smoke: seconds
    counts_bic = list(range(1, 4)) if smoke else list(range(1, 21))
    step = counts_aic[1] - counts_aic[0]
    types = ["full", "diag", "tied", "spherical"]
    cases = [
        (
            f"PCA(0.99, whiten), full, n = {counts_aic[0]}..{counts_aic[-1]} by {step}, AIC",
            PCA(0.99, whiten=True, random_state=0),
            {"covariance_type": ["full"], "n_components": counts_aic},
            "aic",
        ),
        (
            f"PCA(30), 4 covariance types x n = {counts_bic[0]}..{counts_bic[-1]}, BIC",
            PCA(30, random_state=0),
            {"covariance_type": types, "n_components": counts_bic},
            "bic",
        ),
    ]
    rows = []
    for name, pca, param_grid, criterion in cases:
        X = pca.fit_transform(digits)
        points = [
            {"covariance_type": c, "n_components": n}
            for c in param_grid["covariance_type"]
            for n in param_grid["n_components"]
        ]

        def ours(data: np.ndarray = X, grid: dict = param_grid, crit: str = criterion) -> Any:
            model = la.GaussianMixture(random_state=0)
            return la.ModelSearch(model, grid, criterion=crit).fit(data)

        with KMeansCounter().active() as peer_counter:
            t_peer, peer_values = median_time(partial(peer_sweep, X, points, criterion), repeats)
        with KMeansCounter().active() as ours_counter:
            t_ours, search = median_time(ours, repeats)
        best_peer = int(np.argmin(peer_values))
        chosen = search.best_params_

        def label(point: dict[str, Any], grid: dict = param_grid) -> str:
            if len(grid["covariance_type"]) == 1:
                return str(point["n_components"])
            return f"{point['covariance_type']}, {point['n_components']}"

        ours_values = search.results_[criterion].to_numpy(dtype=np.float64)
        gap = np.abs(np.asarray(peer_values) - ours_values) / np.abs(peer_values)
        rows.append(
            (
                name,
                X.shape[1],
                len(points),
                t_peer,
                t_ours,
                f"{t_peer / t_ours:.1f}x",
                label(points[best_peer]),
                label(chosen),
                f"{peer_values[best_peer]:.1f}",
                f"{search.best_score_:.1f}",
                f"{np.median(gap):.2g} / {gap.max():.2g}",
                f"{peer_counter.count // repeats} / {ours_counter.count // repeats}",
            )
        )
        print(f"  done {name}", file=sys.stderr)
    header = (
        "sweep",
        "d",
        "candidates",
        "scikit-learn s",
        "ModelSearch s",
        "ratio",
        "scikit-learn choice",
        "ModelSearch choice",
        "scikit-learn criterion",
        "ModelSearch criterion",
        "criterion rel. diff (median / max)",
        "k-means runs (scikit-learn / lookalike)",
    )
    note = (
        f"\n\nWhole sweep, median of {repeats} runs; scikit-learn fits the candidates one "
        "after another, as users write it; ModelSearch runs them side by side (one thread "
        "per core, single-threaded BLAS) and refits nothing (the best candidate is kept). "
        "Both start every candidate from k-means with random_state=0, so the starts are the "
        "same. k-means runs are counted per sweep: inside a ModelSearch, candidates that "
        "differ only in covariance_type share one k-means run."
    )
    return markdown_table(header, rows) + note


# --------------------------------------------------------------------------------------
# 3. The KDE classifier


class TextbookKDEClassifier:
    """The classic KDE Bayes classifier: densities turned into probabilities directly."""

    def __init__(self, bandwidth: float) -> None:
        self.bandwidth = bandwidth

    def fit(self, X: np.ndarray, y: np.ndarray) -> TextbookKDEClassifier:
        self.classes_ = np.unique(y)
        self.models_ = [SklearnKDE(bandwidth=self.bandwidth).fit(X[y == c]) for c in self.classes_]
        self.priors_ = np.array([np.mean(y == c) for c in self.classes_])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        densities = np.column_stack([np.exp(m.score_samples(X)) for m in self.models_])
        joint = densities * self.priors_
        with np.errstate(invalid="ignore"):
            return joint / joint.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def high_dimensional_classes(
    n_per_class: int, d: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 784-d 'images': pixel intensities around class templates."""
    templates = rng.uniform(0.0, 1.0, (3, d))
    y = np.repeat(np.arange(3), n_per_class)
    X = templates[y] + 0.3 * rng.standard_normal((len(y), d))
    return X, y


def bench_classifier(repeats: int, smoke: bool) -> str:
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)

    def peer(a=X_train, b=y_train, test=X_test) -> np.ndarray:
        return TextbookKDEClassifier(bandwidth=10.0).fit(a, b).predict(test)

    def ours(a=X_train, b=y_train, test=X_test) -> np.ndarray:
        model = la.GenerativeClassifier(la.KernelDensity(bandwidth=10.0))
        return model.fit(a, b).predict(test)

    t_peer, pred_peer = median_time(peer, repeats)
    t_ours, pred_ours = median_time(ours, repeats)
    rows = [
        (
            f"digits, {X_train.shape[0]} train / {X_test.shape[0]} test, d = 64",
            t_peer,
            t_ours,
            f"{t_peer / t_ours:.1f}x",
            f"{np.mean(pred_peer == y_test):.4f}",
            f"{np.mean(pred_ours == y_test):.4f}",
            f"{np.mean(pred_peer == pred_ours):.4f}",
            "",
            "",
        )
    ]
    # 784 dimensions: every class density underflows in exp().
    rng = np.random.default_rng(4)
    n_per_class = 60 if smoke else 300
    H, labels = high_dimensional_classes(n_per_class, 784, rng)
    H_train, H_test, l_train, l_test = train_test_split(H, labels, test_size=0.3, random_state=1)
    bandwidth = 1.0

    def peer_784() -> np.ndarray:
        return TextbookKDEClassifier(bandwidth).fit(H_train, l_train).predict_proba(H_test)

    def ours_784() -> np.ndarray:
        model = la.GenerativeClassifier(la.KernelDensity(bandwidth=bandwidth))
        return model.fit(H_train, l_train).predict_proba(H_test)

    t_peer_h, proba_peer = median_time(peer_784, repeats)
    t_ours_h, proba_ours = median_time(ours_784, repeats)
    # Reference posterior: exact log-densities normalised with log-sum-exp.
    log_joint = np.column_stack(
        [
            SklearnKDE(bandwidth=bandwidth, leaf_size=len(H_train))
            .fit(H_train[l_train == c])
            .score_samples(H_test)
            + np.log(np.mean(l_train == c))
            for c in range(3)
        ]
    )
    reference = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    rows.append(
        (
            f"synthetic, 3 classes, {H_train.shape[0]} train / {H_test.shape[0]} test, d = 784",
            t_peer_h,
            t_ours_h,
            f"{t_peer_h / t_ours_h:.1f}x",
            f"{np.mean(np.argmax(proba_peer, axis=1) == l_test):.4f}",
            f"{np.mean(proba_ours.argmax(axis=1) == l_test):.4f}",
            "",
            f"{np.mean(np.isnan(proba_peer).any(axis=1)):.0%} / "
            f"{np.mean(np.isnan(proba_ours).any(axis=1)):.0%}",
            f"{np.abs(proba_ours - reference).max():.2g}",
        )
    )
    header = (
        "data",
        "textbook s",
        "GenerativeClassifier s",
        "ratio",
        "textbook accuracy",
        "GenerativeClassifier accuracy",
        "same predictions",
        "rows with NaN in predict_proba (textbook / ours)",
        "max abs posterior error, ours",
    )
    note = (
        f"\n\nFit + predict (digits) or fit + predict_proba (784-d), median of {repeats}; "
        "Gaussian kernel, bandwidth 10 on the digits and 1 on the 784-d data. The textbook "
        "classifier fits one scikit-learn KernelDensity per class and returns "
        "exp(log-density) x prior / sum: at d = 784 every density underflows to 0 and the "
        "posterior is 0 / 0 (its 'accuracy' there is argmax over NaN rows, i.e. class 0). "
        "The posterior error of GenerativeClassifier is measured against exact log-densities "
        "(scikit-learn with one leaf) normalised by log-sum-exp. At d = 784 and bandwidth 1 "
        "every kernel sum underflows relative to the largest weight, so lookalike takes its "
        "exact two-pass path for every row: slower than the textbook, but right."
    )
    return markdown_table(header, rows) + note


# --------------------------------------------------------------------------------------
# 4. Imputation


def two_clusters(
    n: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[float, np.ndarray, np.ndarray]]]:
    """Two well-separated 8-D Gaussian clusters with different correlation structure.

    Returns the rows and the true (weight, mean, covariance) of each cluster.
    """
    d = 8
    index = np.arange(d)
    # Cluster A: AR(1) correlation 0.9; cluster B: alternating-sign correlation 0.8.
    corr_a = 0.9 ** np.abs(index[:, None] - index[None, :])
    signs = np.where(index % 2 == 0, 1.0, -1.0)
    corr_b = 0.2 * np.eye(d) + 0.8 * np.outer(signs, signs)
    scales_a = np.linspace(1.0, 2.0, d)
    scales_b = np.linspace(2.0, 1.0, d)
    truth = [
        (0.5, np.zeros(d), corr_a * np.outer(scales_a, scales_a)),
        (0.5, np.full(d, 8.0), corr_b * np.outer(scales_b, scales_b)),
    ]
    labels = rng.random(n) < truth[0][0]
    A = rng.multivariate_normal(truth[0][1], truth[0][2], n)
    B = rng.multivariate_normal(truth[1][1], truth[1][2], n)
    return np.where(labels[:, None], A, B), truth


def oracle_impute(
    X_missing: np.ndarray, truth: list[tuple[float, np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Conditional mean E[x_m | x_o] under the true mixture (the best RMSE possible)."""
    filled = X_missing.copy()
    missing = np.isnan(X_missing)
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse.ravel() == p)
        if not pattern.any():
            continue
        o, m = ~pattern, pattern
        x_o = X_missing[np.ix_(rows, o)]
        log_post, means = [], []
        for weight, mean, cov in truth:
            diff = x_o - mean[o]
            if o.any():
                lower = np.linalg.cholesky(cov[np.ix_(o, o)])
                white = np.linalg.solve(lower, diff.T)
                log_det = 2 * np.log(np.diag(lower)).sum()
                regression = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)]).T
            else:
                white, log_det = np.zeros((0, len(rows))), 0.0
                regression = np.zeros((m.sum(), 0))
            log_post.append(np.log(weight) - 0.5 * (white**2).sum(axis=0) - 0.5 * log_det)
            means.append(mean[m] + diff @ regression.T)
        log_post_arr = np.column_stack(log_post)
        post = np.exp(log_post_arr - logsumexp(log_post_arr, axis=1, keepdims=True))
        filled[np.ix_(rows, m)] = sum(post[:, [k]] * means[k] for k in range(len(truth)))
    return filled


def bench_impute(n: int, repeats: int) -> str:
    rng = np.random.default_rng(5)
    X, truth = two_clusters(n, rng)
    mask = rng.random(X.shape) < 0.2
    X_missing = np.where(mask, np.nan, X)

    def ours() -> np.ndarray:
        model = la.GaussianMixture(2, missing="em", random_state=0)
        return model.fit(X_missing).impute(X_missing)

    candidates = [
        (
            "scikit-learn IterativeImputer(random_state=0)",
            True,
            lambda: IterativeImputer(random_state=0).fit_transform(X_missing),
        ),
        ("scikit-learn KNNImputer()", True, lambda: KNNImputer().fit_transform(X_missing)),
        ("lookalike GaussianMixture(2, missing='em')", False, ours),
    ]
    timed = [(name, peer, *median_time(run, repeats)) for name, peer, run in candidates]
    t_ours = timed[-1][2]
    rows = []
    for name, peer, seconds, filled in timed:
        rmse = float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2)))
        rows.append((name, seconds, f"{seconds / t_ours:.1f}x" if peer else "", f"{rmse:.3f}"))
        print(f"  done {name}", file=sys.stderr)
    best = oracle_impute(X_missing, truth)
    rmse = float(np.sqrt(np.mean((best[mask] - X[mask]) ** 2)))
    rows.append(("oracle: conditional mean under the true mixture", "", "", f"{rmse:.3f}"))
    header = (
        "imputer",
        "seconds (fit + transform)",
        "peer / lookalike",
        "RMSE on removed entries",
    )
    note = (
        f"\n\n{n:,} rows x 8, two equally likely clusters (means 0 and 8 in every coordinate, "
        "AR(1) correlation 0.9 vs alternating-sign correlation 0.8, scales 1 to 2), "
        f"{mask.mean():.1%} of the entries removed completely at random; median of {repeats}. "
        f"Standard deviation of the removed entries: {X[mask].std():.3f}. The oracle knows "
        "the true parameters: no imputer can do better on average."
    )
    return markdown_table(header, rows) + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose among {', '.join(PARTS)}")
    repeats = 1 if args.smoke else args.repeats
    print(
        report_header(
            f"The generative toolkit: lookalike {la.__version__} vs scikit-learn",
            "smoke run: tiny sizes" if args.smoke else None,
        )
    )
    if "kde-search" in parts:
        print("## kde-search: bandwidth by cross-validation (digits)\n")
        print(bench_kde_search(repeats, args.smoke) + "\n")
    if "gmm-sweep" in parts:
        print("## gmm-sweep: mixture model selection (digits)\n")
        print(bench_gmm_sweep(repeats, args.smoke) + "\n")
    if "classifier" in parts:
        print("## classifier: KDE Bayes classifier\n")
        print(bench_classifier(repeats, args.smoke) + "\n")
    if "impute" in parts:
        print("## impute: two correlated clusters, 20% missing at random\n")
        print(bench_impute(1_000 if args.smoke else 20_000, repeats) + "\n")


if __name__ == "__main__":
    main()
