"""KernelDensity: lookalike vs scikit-learn, scipy and KDEpy, side by side in one run.

Run from the repository root (after ``make test``, which installs the peers)::

    python benchmarks/bench_kde.py            # the full benchmark (about 10 minutes)
    python benchmarks/bench_kde.py --smoke    # seconds; what CI runs

Six parts, each printing a markdown table (targets from issue 3):

1. ``score_samples`` with n_train = n_query = 20k, d = 1, 2, 8, 32, Gaussian
   kernel, Scott's scalar bandwidth: lookalike exact (and "auto" at rtol=1e-4
   and 1e-3 for d <= 2, which bins when that meets the tolerance and pays),
   scikit-learn with rtol=0 and rtol=1e-4, scipy's gaussian_kde
   (with its own bandwidth matrix, which lookalike is given too). Accuracy is
   the largest absolute log-density error against a brute-force reference
   (exact differences, log-sum-exp) on 300 held-out queries plus 20 points 4
   to 8 standard deviations out. Targets: >= 30x faster than scikit-learn
   rtol=0 at d = 8, 32 and exact to 1e-10; >= 50x at d = 1, 2; faster than
   scipy at every d.
2. Queries 1e9 to 1e13 from N(0, I_3) data (issue 17): values that are not
   finite and the largest relative error against brute force, lookalike and
   scikit-learn.
3. 1-D, 1M points, a 4096-point grid: lookalike binned vs KDEpy's FFTKDE vs
   scikit-learn (timed on 64 of the grid points and scaled, since a full run
   takes minutes), with the log-density error against lookalike's exact path
   over the whole grid and over the tails. Targets: within 2x of KDEpy, >=
   1000x faster than scikit-learn, accurate tails.
4. Bandwidth by 5-fold cross-validation over logspace(-1, 1, 20): digits ->
   PCA(15), and n = 5000, d = 8: lookalike's vectorised search vs
   GridSearchCV(KernelDensity()). Target >= 20x, same bandwidth.
5. Bandwidth selection in 1-D and 2-D: lookalike's "isj" vs KDEpy's ISJ
   (per feature), same value within 1% once KDEpy's scaling bug is fixed.
6. ISJ on wide tables, 50 rows x 100 and 1000 features (issue 12: 50 x 1000 with the
   Epanechnikov kernel did not finish in minutes): the cost is linear in the
   features; KDEpy's ISJ looped over the features is the peer.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial

import numpy as np
from scipy import stats
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity as SklearnKDE

import lookalike as la
from _common import machine_line, markdown_table, median_time


def brute_log_density(
    queries: np.ndarray, data: np.ndarray, bandwidth: float | np.ndarray
) -> np.ndarray:
    """Gaussian KDE by exact differences and log-sum-exp, in row blocks."""
    d = data.shape[1]
    if np.ndim(bandwidth) == 0:
        matrix = np.eye(d) * float(bandwidth) ** 2
    else:
        matrix = np.atleast_2d(np.asarray(bandwidth, dtype=np.float64))
    lower = np.linalg.cholesky(matrix)
    inverse = np.linalg.inv(lower)
    white_data = data @ inverse.T
    out = np.empty(len(queries))
    for start in range(0, len(queries), 64):
        q = queries[start : start + 64] @ inverse.T
        squared = ((q[:, None, :] - white_data[None, :, :]) ** 2).sum(axis=2)
        out[start : start + 64] = logsumexp(-0.5 * squared, axis=1)
    log_det = float(np.log(np.diagonal(lower)).sum())
    return out - math.log(len(data)) - 0.5 * d * math.log(2 * math.pi) - log_det


def accuracy_queries(rng: np.random.Generator, d: int) -> np.ndarray:
    held_out = rng.standard_normal((300, d))
    directions = rng.standard_normal((20, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    tails = directions * rng.uniform(4.0, 8.0, (20, 1))
    return np.vstack([held_out, tails])


def bench_score_samples(n: int, dims: list[int], repeats: int) -> str:
    rows = []
    rng = np.random.default_rng(0)
    for d in dims:
        X = rng.standard_normal((n, d))
        queries = rng.standard_normal((n, d))
        probe = accuracy_queries(rng, d)
        h = n ** (-1.0 / (d + 4))
        reference = brute_log_density(probe, X, h)

        def run(model, data=X, points=queries):
            return model.fit(data).score_samples(points)

        def probe_error(model, data=X, expected=reference, probe=probe) -> str:
            return f"{np.abs(model.fit(data).score_samples(probe) - expected).max():.2g}"

        candidates = [
            ("lookalike exact", la.KernelDensity(bandwidth=h, algorithm="exact"), repeats),
            ("scikit-learn rtol=0", SklearnKDE(bandwidth=h), 1),
            ("scikit-learn rtol=1e-4", SklearnKDE(bandwidth=h, rtol=1e-4), 1),
        ]
        if d <= 2:
            for rtol in (1e-3, 1e-4):
                model = la.KernelDensity(bandwidth=h, rtol=rtol)
                candidates.insert(1, (f"lookalike auto, rtol={rtol:g}", model, repeats))
        results = {}
        for name, model, count in candidates:
            seconds, values = median_time(partial(run, model), count)
            results[name] = (seconds, values, probe_error(model))
        # The exact path, checked against brute force on the probe, is the reference
        # for all the queries.
        exact_seconds, exact_values, _ = results["lookalike exact"]
        fastest = min(v[0] for k, v in results.items() if k.startswith("lookalike"))
        for name, (seconds, values, error) in results.items():
            everywhere = f"{np.abs(values - exact_values).max():.2g}"
            peer = name.startswith("scikit")
            rows.append(
                (
                    d,
                    name,
                    seconds,
                    f"{seconds / exact_seconds:.1f}x" if peer else "",
                    f"{seconds / fastest:.1f}x" if peer else "",
                    everywhere,
                    error,
                )
            )
        # scipy with its own Scott bandwidth matrix; lookalike given the same matrix.
        scipy_kde = stats.gaussian_kde(X.T)
        matrix = scipy_kde.covariance
        scipy_seconds, _ = median_time(lambda kde=scipy_kde, q=queries: kde.logpdf(q.T), 1)
        matrix_reference = brute_log_density(probe, X, matrix)
        scipy_error = np.abs(scipy_kde.logpdf(probe.T) - matrix_reference).max()
        same = la.KernelDensity(bandwidth=matrix, algorithm="exact")
        ours_seconds, _ = median_time(partial(run, same), repeats)
        ours_error = np.abs(same.fit(X).score_samples(probe) - matrix_reference).max()
        ratio = f"{scipy_seconds / ours_seconds:.1f}x"
        rows.append((d, "scipy gaussian_kde", scipy_seconds, ratio, "", "", f"{scipy_error:.2g}"))
        rows.append(
            (d, "lookalike exact, scipy's matrix", ours_seconds, "", "", "", f"{ours_error:.2g}")
        )
        print(f"  done d={d}", file=sys.stderr)
    header = (
        "d",
        "library",
        "seconds",
        "peer / lookalike exact",
        "peer / fastest lookalike",
        "max error, all queries",
        "max error, probe",
    )
    note = (
        f"\n\nn_train = n_query = {n:,}, Gaussian kernel, bandwidth n^(-1/(d+4)); lookalike "
        f"timings are medians of {repeats} runs (fit + score_samples), peers one run. Errors "
        "are absolute log-density errors: on all the queries against lookalike's exact path, "
        "and on a probe of 300 held-out and 20 tail queries (4 to 8 standard deviations out) "
        "against exact differences + log-sum-exp (the probe is scored in its own call, which "
        "at d = 2 is too small for 'auto' to bin). scipy is compared with lookalike given "
        "scipy's bandwidth matrix."
    )
    return markdown_table(header, rows) + note


def bench_far(n: int, n_queries: int) -> str:
    """Issue 17's sweep: queries 1e9 to 1e13 from N(0, I_3) data, against brute force."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, 3))
    directions = rng.standard_normal((n_queries, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    queries = directions * 10.0 ** rng.uniform(9.0, 13.0, (n_queries, 1))
    rows = []
    for bandwidth in (0.5, n ** (-1.0 / 7.0)):
        reference = brute_log_density(queries, X, bandwidth)
        for name, model in (
            ("lookalike exact", la.KernelDensity(bandwidth=bandwidth)),
            ("scikit-learn rtol=0", SklearnKDE(bandwidth=bandwidth)),
        ):
            seconds, values = median_time(lambda m=model: m.fit(X).score_samples(queries), 1)
            bad = int(np.count_nonzero(~np.isfinite(values)))
            finite = np.isfinite(values)
            relative = np.abs(values[finite] - reference[finite]) / np.abs(reference[finite])
            worst = f"{relative.max():.2g}" if relative.size else ""
            rows.append((f"{bandwidth:.4g}", name, seconds, bad, worst))
    header = ("bandwidth", "library", "seconds", "values not finite", "max relative error")
    note = (
        f"\n\n{n} points from N(0, I_3), {n_queries:,} queries in random directions at "
        "10^U(9, 13); bandwidth 0.5 and Scott's n^(-1/7). Relative errors against exact "
        "differences + log-sum-exp, over the finite values."
    )
    return markdown_table(header, rows) + note


def bench_grid(n: int, grid_points: int, repeats: int) -> str:
    from KDEpy import FFTKDE

    rng = np.random.default_rng(1)
    X = np.concatenate([rng.standard_normal(n // 2), rng.normal(4.0, 0.5, n - n // 2)])
    h = float(np.std(X) * (4.0 / (3.0 * n)) ** 0.2)

    def ours():
        return (
            la.KernelDensity(bandwidth=h, algorithm="binned")
            .fit(X[:, None])
            .score_grid(grid_points)
        )

    def kdepy():
        return FFTKDE(bw=h).fit(X).evaluate(grid_points)

    t_ours, (axes, log_ours) = median_time(ours, repeats)
    t_kdepy, (grid_kdepy, density_kdepy) = median_time(kdepy, repeats)
    grid = axes[0]
    exact = la.KernelDensity(bandwidth=h, algorithm="exact").fit(X[:, None])
    expected = exact.score_samples(grid[:, None])
    expected_kdepy = exact.score_samples(grid_kdepy[:, None])
    with np.errstate(divide="ignore"):
        log_kdepy = np.log(density_kdepy)
    tails_ours = (grid < X.min()) | (grid > X.max())
    tails_kdepy = (grid_kdepy < X.min()) | (grid_kdepy > X.max())
    subset = np.linspace(0, grid_points - 1, 64).astype(int)
    sklearn = SklearnKDE(bandwidth=h).fit(X[:, None])
    t_sklearn, log_sklearn = median_time(lambda: sklearn.score_samples(grid[subset, None]), 1)
    t_sklearn *= grid_points / len(subset)

    def worst(values: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> str:
        difference = np.abs(values - truth)
        if mask is not None:
            difference = difference[mask]
        return f"{difference.max():.2g}"

    rows = [
        (
            "lookalike binned",
            t_ours,
            "1.0x",
            worst(log_ours, expected),
            worst(log_ours, expected, tails_ours),
        ),
        (
            "KDEpy FFTKDE",
            t_kdepy,
            f"{t_kdepy / t_ours:.2f}x",
            worst(log_kdepy, expected_kdepy),
            worst(log_kdepy, expected_kdepy, tails_kdepy),
        ),
        (
            "scikit-learn (scaled from 64 points)",
            t_sklearn,
            f"{t_sklearn / t_ours:.0f}x",
            worst(log_sklearn, expected[subset]),
            "",
        ),
    ]
    header = ("library", "seconds", "peer / lookalike", "max |error| on grid", "in the tails")
    note = (
        f"\n\n{n:,} points (two normals), {grid_points}-point grid over each library's default "
        f"range, Gaussian kernel, h = {h:.4g}; fit + grid evaluation, median of {repeats}. "
        "Errors in log-density against lookalike's exact path; tails = grid points outside "
        "the data range."
    )
    return markdown_table(header, rows) + note


def bench_cv(repeats: int, smoke: bool) -> str:
    grid = np.logspace(-1, 1, 20)
    digits = PCA(15, random_state=0).fit_transform(load_digits().data)
    if smoke:  # seconds: every 4th bandwidth, 500 digits
        grid, digits = grid[::4], digits[:500]
    rng = np.random.default_rng(2)
    n_synthetic = 500 if smoke else 5000
    centres = rng.normal(0, 3, (5, 8))
    synthetic = centres[rng.integers(0, 5, n_synthetic)] + rng.standard_normal((n_synthetic, 8))
    cases = [("digits -> PCA(15)", digits), (f"n = {n_synthetic}, d = 8", synthetic)]
    rows = []
    for name, X in cases:
        search = GridSearchCV(SklearnKDE(), {"bandwidth": grid}, cv=5)
        t_sk, fitted = median_time(lambda s=search, data=X: s.fit(data), 1)
        t_la, curve = median_time(lambda data=X: la.cross_validate_bandwidth(data, grid), repeats)
        rows.append(
            (
                name,
                X.shape[0],
                X.shape[1],
                t_sk,
                t_la,
                f"{t_sk / t_la:.1f}x",
                f"{fitted.best_params_['bandwidth']:.4g}",
                f"{curve.best_bandwidth:.4g}",
            )
        )
        print(f"  done {name}", file=sys.stderr)
    header = (
        "data",
        "n",
        "d",
        "GridSearchCV s",
        "lookalike s",
        "ratio",
        "GridSearchCV bandwidth",
        "lookalike bandwidth",
    )
    note = (
        "\n\nBandwidth among logspace(-1, 1, 20) by 5-fold CV (KFold, as GridSearchCV), "
        f"lookalike median of {repeats}, GridSearchCV one run."
    )
    return markdown_table(header, rows) + note


def kdepy_isj_corrected(x: np.ndarray, value: float) -> float:
    """KDEpy's ISJ with its scaling bug fixed (KDEpy issues #199 and #201).

    KDEpy solves for t* on a grid of length L = R + 2 max(R / 2, 6) (R the data
    range) but returns sqrt(t*) R instead of sqrt(t*) L.
    """
    spread = float(np.ptp(x))
    return value * (spread + 2 * max(spread / 2, 6.0)) / spread


def bench_selectors(repeats: int, smoke: bool = False) -> str:
    from KDEpy.bw_selection import improved_sheather_jones

    rng = np.random.default_rng(3)
    datasets = {
        "normal, n=1000": rng.standard_normal(1000),
        "normal, n=10k": rng.standard_normal(10_000),
        "bimodal, n=5000": np.concatenate([rng.normal(0, 1, 2500), rng.normal(5, 0.5, 2500)]),
        "lognormal, n=5000": rng.lognormal(0.0, 0.6, 5000),
        "normal x 100, n=5000": 100.0 * rng.standard_normal(5000),
    }
    if smoke:  # seconds: two of the data sets
        datasets = {name: datasets[name] for name in ("normal, n=1000", "bimodal, n=5000")}
    two_d = np.column_stack([rng.standard_normal(4000), rng.gamma(3.0, 1.0, 4000)])
    columns = [(name, x[:, None], 0) for name, x in datasets.items()]
    columns += [(f"2-D, feature {j}", two_d, j) for j in range(2)]
    rows = []
    for name, X, j in columns:
        t_la, ours = median_time(
            lambda data=X: la.KernelDensity(bandwidth="isj").fit(data).bandwidth_, repeats
        )
        x = X[:, j]
        t_kp, theirs = median_time(lambda data=x: improved_sheather_jones(data[:, None]), repeats)
        fixed = kdepy_isj_corrected(x, theirs)
        ours = float(np.ravel(ours)[j])
        rows.append(
            (
                name,
                X.shape[1],
                f"{theirs:.5g}",
                f"{fixed:.5g}",
                f"{ours:.5g}",
                f"{ours / fixed - 1:+.2%}",
                t_kp,
                t_la,
            )
        )
    header = (
        "data",
        "d",
        "KDEpy ISJ",
        "KDEpy ISJ, scaling fixed",
        "lookalike isj",
        "lookalike / fixed - 1",
        "KDEpy s",
        "lookalike s",
    )
    return markdown_table(header, rows) + (
        "\n\nKDEpy 1.1.12 multiplies the root t* of the ISJ equation by the data range "
        "instead of the length of the grid it solved on (KDEpy issues #199, #201), which makes "
        "its bandwidths 2-4x too small; the fixed column applies that one correction. "
        "lookalike's 'isj' is per feature in d > 1 (a diagonal bandwidth); KDEpy's ISJ is 1-D, "
        f"so it is applied to each feature. Medians of {repeats}."
    )


def bench_wide_isj(repeats: int, smoke: bool) -> str:
    """ISJ on wide tables (issue 12): 50 rows x d features, per feature, both kernels."""
    from KDEpy.bw_selection import improved_sheather_jones

    rng = np.random.default_rng(4)
    widths = [20] if smoke else [100, 1000]
    rows = []
    for d in widths:
        X = rng.standard_normal((50, d)) * rng.uniform(0.5, 5.0, d)
        t_kp, theirs = median_time(
            lambda data=X: np.array(
                [improved_sheather_jones(data[:, [j]]) for j in range(data.shape[1])]
            ),
            repeats,
        )
        fixed = np.array([kdepy_isj_corrected(X[:, j], theirs[j]) for j in range(d)])
        for kernel in ("gaussian", "epanechnikov"):
            t_la, ours = median_time(
                lambda k=kernel, data=X: (
                    la.KernelDensity(bandwidth="isj", kernel=k).fit(data).bandwidth_
                ),
                repeats,
            )
            agreement = ""
            if kernel == "gaussian":
                agreement = f"{float(np.median(np.abs(ours / fixed - 1))):.2%}"
            rows.append((f"50 x {d}", kernel, t_kp, t_la, t_kp / t_la, t_la / d * 1e3, agreement))
    header = (
        "data",
        "kernel",
        "KDEpy ISJ per feature s",
        "lookalike fit s",
        "ratio",
        "lookalike ms per feature",
        "median abs(lookalike / KDEpy fixed - 1)",
    )
    return markdown_table(header, rows) + (
        "\n\nThe whole KernelDensity(bandwidth='isj') fit against KDEpy's 1-D ISJ looped over "
        "the features (scaling bug fixed as above); the epanechnikov bandwidth is the Gaussian "
        f"one converted by the kernels' variances. Medians of {repeats}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="score,far,grid,cv,selectors,wide")
    parser.add_argument("--dims", default="1,2,8,32", help="dimensions of the score part")
    args = parser.parse_args()
    parts = args.parts.split(",")
    repeats = 1 if args.smoke else args.repeats
    print(f"# KernelDensity: lookalike {la.__version__} vs scikit-learn, scipy, KDEpy\n")
    print(machine_line() + "\n")
    if "score" in parts:
        print("## score_samples\n")
        n = 500 if args.smoke else 20_000
        dims = [int(d) for d in args.dims.split(",")]
        print(bench_score_samples(n, dims, repeats) + "\n")
    if "far" in parts:
        print("## Queries far from the data\n")
        print(bench_far(500, 200 if args.smoke else 2000) + "\n")
    if "grid" in parts:
        print("## 1-D grid evaluation\n")
        n = 20_000 if args.smoke else 1_000_000
        print(bench_grid(n, 4096, repeats=1 if args.smoke else 7) + "\n")
    if "cv" in parts:
        print("## Cross-validated bandwidth\n")
        print(bench_cv(repeats, args.smoke) + "\n")
    if "selectors" in parts:
        print("## Bandwidth selectors\n")
        print(bench_selectors(repeats, args.smoke) + "\n")
    if "wide" in parts:
        print("## ISJ on wide tables\n")
        print(bench_wide_isj(repeats, args.smoke) + "\n")


if __name__ == "__main__":
    main()
