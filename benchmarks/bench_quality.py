"""Synthetic-data quality: lookalike's Synthesizer vs SDV's Gaussian copula and SMOTE.

Run from the benchmarks folder::

    python bench_quality.py            # the full benchmark (a few minutes)
    python bench_quality.py --smoke    # seconds; no optional peers needed

Optional peers (not dependencies of lookalike): ``sdv`` (GaussianCopulaSynthesizer) and
``imbalanced-learn`` (SMOTE). A peer that is not importable, and every peer in the smoke
run, gets a row saying "not installed" / "skipped".

Two parts, each printing markdown tables.

1. ``quality``: scikit-learn's wine (178 x 13), breast_cancer (569 x 30) and digits
   (1,797 x 64) with the class as a categorical column ``"target"``, and palmerpenguins
   (344 x 8, mixed types with missing values, target ``"species"``). Each is split 70/30
   into train and holdout (stratified, random_state=0). Generators fitted on train:
   ``la.Synthesizer(model="auto")``, ``la.Synthesizer(model="gmm")``,
   ``la.Synthesizer(model="kde")`` (Gaussian KDE, bandwidth by cross-validation) and SDV's
   ``GaussianCopulaSynthesizer`` with metadata detected from the DataFrame. Each samples
   ``len(train)`` rows, scored by ``la.evaluate(train, synthetic, holdout=holdout,
   target=...)``: classifier two-sample test AUC (0.5 best), mean KS over numeric columns,
   mean total variation over categorical columns, train-on-synthetic / train-on-real
   accuracy on the holdout, distance-to-closest-record ratio (>= 1: synthetic rows are no
   closer to train than fresh real rows are) and the memorised share. Fit and sample
   seconds are single runs. Seeds: generators random_state=0, sample random_state=1.
   Target (the issue): lookalike "auto" beats the copula on C2ST AUC (lower) and TSTR
   accuracy (higher) on every dataset, with DCR ratio >= 1; a verdict line per dataset.
2. ``augment``: breast_cancer, the same split, with only 10% of the malignant class kept
   in train (a different random 10% per seed). HistGradientBoostingClassifier
   (random_state=0) on: the imbalanced train as it is, SMOTE (imblearn, random_state=seed),
   and ``Synthesizer(model).augment(train, "target", strategy="balance")`` for "auto" and
   "gmm". Malignant-class F1 on the untouched holdout; medians over 3 seeds (smoke: 1).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

import lookalike as la
from _common import machine_line, markdown_table

PARTS = ("quality", "augment")
METHODS = (
    "lookalike auto",
    "lookalike gmm",
    "lookalike kde (bandwidth by CV)",
    "SDV GaussianCopula",
)


# --------------------------------------------------------------------------------------
# Data


def sklearn_frame(loader: Callable[..., Any]) -> tuple[pd.DataFrame, str]:
    frame = loader(as_frame=True).frame
    frame["target"] = frame["target"].astype(str).astype("category")
    return frame, "target"


def penguins_frame() -> tuple[pd.DataFrame, str] | None:
    try:
        import palmerpenguins
    except ImportError:
        return None
    frame = palmerpenguins.load_penguins()
    for column in ("species", "island", "sex"):
        frame[column] = frame[column].astype("category")
    return frame, "species"


def datasets(smoke: bool) -> dict[str, tuple[pd.DataFrame, str]]:
    found = {"wine": sklearn_frame(load_wine)}
    if smoke:
        return found
    found["breast_cancer"] = sklearn_frame(load_breast_cancer)
    found["digits"] = sklearn_frame(load_digits)
    penguins = penguins_frame()
    if penguins is not None:
        found["penguins"] = penguins
    else:
        print("  palmerpenguins not installed: penguins skipped", file=sys.stderr)
    return found


def split(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, holdout = train_test_split(frame, test_size=0.3, stratify=frame[target], random_state=0)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Generators: each returns (fit seconds, sample seconds, synthetic frame)


def run_lookalike(model: str, train: pd.DataFrame) -> tuple[float, float, pd.DataFrame]:
    start = time.perf_counter()
    synthesizer = la.Synthesizer(model=model, random_state=0).fit(train)
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(len(train), random_state=1)
    return fitted - start, time.perf_counter() - fitted, synthetic


def sdv_available() -> bool:
    try:
        import sdv  # noqa: F401
    except ImportError:
        return False
    return True


def run_copula(train: pd.DataFrame) -> tuple[float, float, pd.DataFrame]:
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    # SDV reads categoricals best as plain strings; the output is cast back to train's dtypes.
    plain = train.copy()
    categorical = [c for c in plain.columns if isinstance(plain[c].dtype, pd.CategoricalDtype)]
    for column in categorical:
        plain[column] = plain[column].astype(object)
    start = time.perf_counter()
    metadata = Metadata.detect_from_dataframes({"table": plain}, infer_keys=None)
    for column in categorical:
        metadata.update_column(column, sdtype="categorical", table_name="table")
    synthesizer = GaussianCopulaSynthesizer(metadata)
    synthesizer.fit({"table": plain})
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(num_rows=len(train))
    if isinstance(synthetic, dict):  # SDV 2 returns {table name: DataFrame}
        synthetic = synthetic["table"]
    sampled = time.perf_counter()
    for column in train.columns:
        if column in categorical:
            synthetic[column] = pd.Categorical(
                synthetic[column], categories=train[column].cat.categories
            )
        else:
            synthetic[column] = synthetic[column].astype(train[column].dtype)
    return fitted - start, sampled - fitted, synthetic[list(train.columns)]


def scores(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, target: str
) -> dict[str, float]:
    report = la.evaluate(train, synthetic, holdout=holdout, target=target, random_state=0)
    metrics = report.metrics

    def first(metric: str) -> float:
        values = metrics.loc[metrics["metric"] == metric, "value"]
        return float(values.iloc[0]) if len(values) else float("nan")

    def mean_of(metric: str) -> float:
        values = metrics.loc[metrics["metric"] == metric, "value"]
        return float(values.mean()) if len(values) else float("nan")

    return {
        "c2st": first("c2st_auc"),
        "ks": mean_of("ks"),
        "tv": mean_of("tv"),
        "tstr": first("tstr_accuracy"),
        "trtr": first("trtr_accuracy"),
        "dcr": first("dcr_ratio"),
        "memorised": first("memorised_share"),
    }


def bench_quality(smoke: bool) -> str:
    header = (
        "dataset",
        "method",
        "C2ST AUC (0.5 best)",
        "mean KS",
        "mean TV",
        "TSTR / TRTR accuracy",
        "DCR ratio",
        "memorised share",
        "fit s",
        "sample s",
    )
    rows: list[tuple[Any, ...]] = []
    verdicts = []
    have_sdv = sdv_available() and not smoke
    for name, (frame, target) in datasets(smoke).items():
        train, holdout = split(frame, target)
        results: dict[str, dict[str, float]] = {}
        for method in METHODS:
            if method == "SDV GaussianCopula" and not have_sdv:
                rows.append((name, method, "not installed" if not smoke else "skipped (smoke)"))
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if method == "SDV GaussianCopula":
                        fit_s, sample_s, synthetic = run_copula(train)
                    else:
                        model = method.split()[1]
                        fit_s, sample_s, synthetic = run_lookalike(model, train)
                    got = scores(train, holdout, synthetic, target)
            except Exception as error:  # a failure is a result: report it and go on
                message = str(error).split(";")[0][:110]
                rows.append((name, method, f"failed: {type(error).__name__}: {message}"))
                print(f"  FAILED {name} / {method}: {error}", file=sys.stderr)
                continue
            results[method] = got
            rows.append(
                (
                    name,
                    method,
                    got["c2st"],
                    got["ks"],
                    got["tv"],
                    f"{got['tstr']:.3f} / {got['trtr']:.3f}",
                    got["dcr"],
                    got["memorised"],
                    fit_s,
                    sample_s,
                )
            )
            print(f"  done {name} / {method}", file=sys.stderr)
        verdicts.append(verdict(name, results))
    rows = [row + ("",) * (len(header) - len(row)) for row in rows]
    sizes = ", ".join(
        f"{name} {len(frame)} x {frame.shape[1]}" for name, (frame, _) in datasets(smoke).items()
    )
    note = (
        f"\n\nRows x columns (target included): {sizes}; train 70% / holdout 30%. Mean KS over "
        "numeric columns, mean TV over categorical columns (the target included). Single runs."
    )
    return markdown_table(header, rows) + note + "\n\n" + "\n".join(verdicts)


def verdict(name: str, results: dict[str, dict[str, float]]) -> str:
    auto = results.get("lookalike auto")
    copula = results.get("SDV GaussianCopula")
    if auto is None or copula is None:
        return f"- **{name}**: no verdict (the Gaussian copula did not run)."
    checks = {
        f"C2ST AUC {auto['c2st']:.3f} < copula {copula['c2st']:.3f}": auto["c2st"]
        < copula["c2st"],
        f"TSTR {auto['tstr']:.3f} > copula {copula['tstr']:.3f}": auto["tstr"] > copula["tstr"],
        f"DCR ratio {auto['dcr']:.3f} >= 1": auto["dcr"] >= 1,
    }
    failed = [text for text, ok in checks.items() if not ok]
    status = "met" if not failed else "NOT met"
    detail = "; ".join(f"{text} ({'yes' if ok else 'no'})" for text, ok in checks.items())
    caveat = ""
    if min(auto["c2st"], copula["c2st"]) >= 0.95:
        caveat = " Both C2ST AUCs are near 1: real and synthetic rows are told apart easily."
    return f"- **{name}**: target {status}: {detail}.{caveat}"


# --------------------------------------------------------------------------------------
# 2. Augmentation of an imbalanced table


def imbalanced_train(train: pd.DataFrame, minority: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(train["target"].to_numpy() == minority)
    keep = rng.choice(positions, size=max(6, round(0.1 * len(positions))), replace=False)
    mask = train["target"].to_numpy() != minority
    mask[keep] = True
    return train[mask].reset_index(drop=True)


def minority_f1(train: pd.DataFrame, holdout: pd.DataFrame, minority: str) -> float:
    features = [c for c in train.columns if c != "target"]
    classifier = HistGradientBoostingClassifier(random_state=0)
    classifier.fit(train[features].to_numpy(), train["target"].astype(str).to_numpy())
    predicted = classifier.predict(holdout[features].to_numpy())
    return float(f1_score(holdout["target"].astype(str).to_numpy(), predicted, pos_label=minority))


def smote(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    from imblearn.over_sampling import SMOTE

    features = [c for c in train.columns if c != "target"]
    X, y = SMOTE(random_state=seed).fit_resample(
        train[features].to_numpy(), train["target"].astype(str).to_numpy()
    )
    out = pd.DataFrame(X, columns=features)
    out["target"] = y
    return out


def bench_augment(smoke: bool) -> str:
    frame, _ = sklearn_frame(load_breast_cancer)
    if smoke:  # seconds: the first 8 of the 30 features
        frame = frame[[*frame.columns[:8], "target"]]
    minority = "0"  # malignant
    train, holdout = split(frame, "target")
    seeds = [0] if smoke else [0, 1, 2]
    try:
        import imblearn  # noqa: F401

        have_smote = not smoke
    except ImportError:
        have_smote = False
    methods: dict[str, Callable[[pd.DataFrame, int], pd.DataFrame] | None] = {
        "no augmentation": lambda df, seed: df,
        "SMOTE (imblearn)": smote if have_smote else None,
        'Synthesizer("auto").augment(strategy="balance")': lambda df, seed: la.Synthesizer(
            model="auto", random_state=seed
        ).augment(df, "target", strategy="balance", random_state=seed),
        'Synthesizer("gmm").augment(strategy="balance")': lambda df, seed: la.Synthesizer(
            model="gmm", random_state=seed
        ).augment(df, "target", strategy="balance", random_state=seed),
    }
    rows: list[tuple[Any, ...]] = []
    counts = []
    for method, augment in methods.items():
        if augment is None:
            rows.append((method, "skipped (smoke)" if smoke else "not installed", "", "", ""))
            continue
        f1s, times, sizes = [], [], []
        for seed in seeds:
            small = imbalanced_train(train, minority, seed)
            if method == "no augmentation":
                counts.append(int((small["target"] == minority).sum()))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                augmented = augment(small, seed)
                times.append(time.perf_counter() - start)
                f1s.append(minority_f1(augmented, holdout, minority))
            sizes.append(len(augmented))
        rows.append(
            (
                method,
                statistics.median(f1s),
                " / ".join(f"{v:.3f}" for v in f1s),
                int(statistics.median(sizes)),
                statistics.median(times) if method != "no augmentation" else "",
            )
        )
        print(f"  done {method}", file=sys.stderr)
    header = (
        "training data",
        "malignant F1 on holdout (median)",
        "per seed",
        "train rows",
        "augment s",
    )
    note = (
        f"\n\nbreast_cancer, train 70% / holdout 30% (stratified, random_state=0; holdout "
        f"{len(holdout)} rows, {int((holdout['target'] == minority).sum())} malignant); train "
        f"keeps {counts[0]} of {int((train['target'] == minority).sum())} malignant rows (a "
        f"random 10% per seed) and all {int((train['target'] != minority).sum())} benign. "
        f"HistGradientBoostingClassifier(random_state=0). Median over {len(seeds)} "
        f"seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})."
    )
    return markdown_table(header, rows) + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="wine only, no peers, one seed")
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose among {', '.join(PARTS)}")
    print(
        f"# Synthetic-data quality: lookalike {la.__version__} vs SDV and SMOTE\n\n"
        f"Measured {datetime.date.today().isoformat()}"
        f"{' (smoke run: wine only, no peers)' if args.smoke else ''}.\n"
    )
    print(machine_line() + "\n")
    if "quality" in parts:
        print("## quality: fidelity, utility and privacy side by side\n")
        print(bench_quality(args.smoke) + "\n")
    if "augment" in parts:
        print("## augment: imbalanced breast_cancer (10% of the malignant class kept)\n")
        print(bench_augment(args.smoke) + "\n")


if __name__ == "__main__":
    main()
