"""The tabular Synthesizer on a Dask cluster against in memory, on the same rows (issue 16).

Run from the repository root (after ``make test`` or ``pip install -e ".[dask]"``)::

    python benchmarks/bench_tabular_dask.py            # full: 2M rows, "gaussian" (minutes)
    python benchmarks/bench_tabular_dask.py --rows 200000 --models gaussian,trees
    python benchmarks/bench_tabular_dask.py --smoke    # seconds; what CI runs

The in-memory ``"trees"`` fit of 2M rows takes most of an hour on the 2-core project
machine, so trees are compared at 200k rows (where the seeded sample is every row).

Data: a mixed table of ``--rows`` rows (default 2M; the issue's 20M rows do not fit the
time of this 2-core machine) written once as a Parquet dataset of 16 files in
``--data-dir``: 10 numeric columns (4 continuous with 2-3 decimals, 2 of them with 10%
NaN; 3 counts; 1 count on a grid of 5; 1 heavy-tailed amount; 1 share in [0, 1]),
5 categorical columns (3 to 200 levels), 1 datetime column (second grain), all
dependent through shared latent factors.

Three configurations, each in its own process so that its peak memory is its own:

a. in memory: the dataset read into one DataFrame, ``Synthesizer(model).fit(df)``, then
   ``sample(n)`` written to one Parquet file;
b. Dask ``LocalCluster`` with 1 worker process (1 thread): ``fit(path)`` (codecs from
   partition summaries and a 200k-row seeded sample; ``"gaussian"`` by partitioned EM on
   every row, its scores persisted on the workers; ``"trees"`` on the sample), then
   ``sample_partitions(n).to_parquet(dir)``;
c. the same with 2 worker processes.

Reported: wall seconds of fit and of sample+write, microseconds per row, the ratio to in
memory, peak resident memory (``ru_maxrss``) of the client process and of each worker, and
the cross-validated ROC AUC of a gradient-boosted detector (scikit-learn's
HistGradientBoostingClassifier, 3 folds) telling 100k synthetic rows from 100k real rows
(0.5: indistinguishable). Targets (issue 16): peak memory per worker under 2 GB; 2
workers within 1.3x of the in-memory time per row.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import machine_line, markdown_table

HERE = Path(__file__).resolve().parent
PARTS = 16
CONFIGS = {
    "memory": "a. in memory (one DataFrame)",
    "dask1": "b. Dask LocalCluster, 1 worker x 1 thread",
    "dask2": "c. Dask LocalCluster, 2 workers x 1 thread",
}


# ---------------------------------------------------------------------------------------
# The data


def mixed_part(part: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """One file of the mixed table (its own random stream; shared recipe)."""
    rng = np.random.default_rng([seed, part])
    f = rng.standard_normal((rows, 4))
    noise = rng.standard_normal((rows, 10))
    cols: dict[str, Any] = {}
    cols["height"] = (170 + 8 * f[:, 0] + 3 * noise[:, 0]).round(1)
    cols["weight"] = (70 + 9 * f[:, 0] + 6 * f[:, 1] + 4 * noise[:, 1]).round(2)
    cols["score"] = (50 + 10 * np.tanh(f[:, 2]) + 5 * noise[:, 2]).round(3)
    cols["temp"] = (20 + 4 * f[:, 3] + noise[:, 3]).round(2)
    cols["visits"] = rng.poisson(np.exp(1 + 0.5 * f[:, 1]))
    cols["items"] = rng.poisson(3 + 2 * (f[:, 2] > 0))
    cols["age"] = np.clip(40 + 12 * f[:, 0] + 5 * noise[:, 4], 18, 90).round().astype(int)
    cols["price"] = 5 * np.round(np.exp(3 + 0.4 * f[:, 3] + 0.2 * noise[:, 5]) / 5)
    cols["amount"] = np.exp(2 + f[:, 1] + noise[:, 6]).round(2)
    cols["share"] = (1 / (1 + np.exp(-(f[:, 2] + noise[:, 7])))).round(4)
    region = np.digitize(f[:, 0] + 0.5 * noise[:, 8], [-1.0, 0.0, 1.0])
    cols["region"] = np.array(["north", "south", "east", "west"])[region]
    cols["tier"] = np.array(["bronze", "silver", "gold"])[np.digitize(f[:, 1], [0.0, 1.2])]
    cols["device"] = np.array([f"d{i}" for i in range(10)])[
        np.clip((f[:, 2] * 2 + 5).astype(int), 0, 9)
    ]
    cols["city"] = np.array([f"c{i:02d}" for i in range(50)])[
        np.clip((f[:, 3] * 10 + 25 + 3 * noise[:, 9]).astype(int), 0, 49)
    ]
    cols["product"] = np.array([f"p{i:03d}" for i in range(200)])[
        np.minimum(rng.zipf(1.5, rows) - 1 + 20 * (f[:, 0] > 1), 199)
    ]
    seconds = (86_400 * 365 * (0.5 + 0.2 * f[:, 2] + 0.05 * noise[:, 3])).astype(np.int64)
    cols["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.clip(seconds, 0, 86_400 * 365 - 1), "s"
    )
    frame = pd.DataFrame(cols)
    frame.loc[rng.random(rows) < 0.1, "score"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    return frame


def write_dataset(data_dir: Path, rows: int, parts: int) -> Path:
    path = data_dir / f"lookalike_mixed_{rows}_{parts}"
    done = path / "_done"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    per = rows // parts
    for part in range(parts):
        size = per + (rows - per * parts if part == parts - 1 else 0)
        mixed_part(part, size).to_parquet(path / f"part-{part:02d}.parquet", index=False)
    done.touch()
    return path


# ---------------------------------------------------------------------------------------
# One configuration (a child process)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_process_cluster(n_workers: int) -> Any:
    """Smoke runs: a LocalCluster of worker threads in this process (quick to start)."""
    import contextlib

    from distributed import Client, LocalCluster

    @contextlib.contextmanager
    def cluster() -> Any:
        with (
            LocalCluster(n_workers=n_workers, processes=False, dashboard_address=None) as local,
            Client(local) as client,
        ):
            yield client

    return cluster()


def run_config(
    config: str, data: Path, model: str, n_sample: int, out: Path, smoke: bool = False
) -> dict:
    from lookalike.tabular import Synthesizer

    warnings.simplefilter("ignore")
    result: dict[str, Any] = {"config": config, "model": model}
    if config == "memory":
        df = pd.read_parquet(data)
        start = time.perf_counter()
        synth = Synthesizer(model, random_state=0).fit(df)
        result["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        synth.sample(n_sample).to_parquet(out / "fake.parquet")
        result["sample_s"] = time.perf_counter() - start
        result["client_peak_mb"] = peak_mb()
        result["worker_peak_mb"] = []
        return result
    from lookalike.distributed import connect

    n_workers = int(config[-1])
    cluster = in_process_cluster(n_workers) if smoke else connect("local", n_workers=n_workers)
    with cluster as client:
        # Workers started and lookalike imported before timing.
        client.run(lambda: __import__("lookalike.tabular.partitioned"))
        start = time.perf_counter()
        synth = Synthesizer(model, random_state=0).fit(str(data))
        result["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        npartitions = max(2, n_sample // 250_000)
        synth.sample_partitions(n_sample, npartitions=npartitions).to_parquet(out / "fake")
        result["sample_s"] = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        result["worker_peak_mb"] = sorted(peaks.values())
        result["client_peak_mb"] = peak_mb()
        result["summary"] = synth.summary().get("partitions", {})
    return result


# ---------------------------------------------------------------------------------------
# The detector


def detector_auc(real: pd.DataFrame, fake: pd.DataFrame, seed: int = 0) -> float:
    """3-fold cross-validated ROC AUC of a gradient-boosted real-vs-synthetic detector."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    both = pd.concat([real, fake], ignore_index=True)
    features = {}
    for name in both.columns:
        column = both[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            features[name] = column.astype("int64").astype(float)
        elif pd.api.types.is_numeric_dtype(column):
            features[name] = column.astype(float)
        else:
            features[name] = column.astype("category").cat.codes.astype(float)
    X = pd.DataFrame(features).to_numpy()
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    detector = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    # One OpenMP thread: on a shared, loaded machine more threads spin and run 30x slower.
    with threadpool_limits(1):
        return float(np.mean(cross_val_score(detector, X, y, cv=folds, scoring="roc_auc")))


# ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny sizes")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--sample", type=int, default=500_000, help="rows sampled and written")
    parser.add_argument("--models", default="gaussian")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        result = run_config(args.run, args.data_dir, args.model, args.sample, args.out, args.smoke)
        print(json.dumps(result))
        return
    parts = PARTS
    if args.smoke:
        args.rows, args.sample, args.models, parts = 4_000, 2_000, "gaussian", 2
    data = write_dataset(args.data_dir, args.rows, parts)
    real = pd.read_parquet(data)
    auc_rows = min(100_000, args.sample, len(real))
    real_rows = real.sample(auc_rows, random_state=1).reset_index(drop=True)
    configs = ["memory", "dask2"] if args.smoke else list(CONFIGS)
    rows: list[list[Any]] = []
    summaries = []
    for model in args.models.split(","):
        memory_s = None
        for config in configs:
            with tempfile.TemporaryDirectory() as out:
                command = [
                    sys.executable,
                    __file__,
                    "--run",
                    config,
                    "--model",
                    model,
                    "--data-dir",
                    str(data),
                    "--sample",
                    str(args.sample),
                    "--out",
                    out,
                    *(["--smoke"] if args.smoke else []),
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                fake_path = Path(out) / ("fake.parquet" if config == "memory" else "fake")
                fake = pd.read_parquet(fake_path).iloc[:auc_rows].reset_index(drop=True)
                fake = fake.astype(real_rows.dtypes.to_dict())
                auc = detector_auc(real_rows, fake)
            total = result["fit_s"] + result["sample_s"]
            if config == "memory":
                memory_s = total
            workers = result["worker_peak_mb"]
            rows.append(
                [
                    model,
                    CONFIGS[config],
                    f"{result['fit_s']:.1f}",
                    f"{result['sample_s']:.1f}",
                    f"{1e6 * result['fit_s'] / args.rows:.1f}",
                    f"{total / memory_s:.2f}x" if memory_s else "",
                    f"{result['client_peak_mb']:.0f}",
                    ", ".join(f"{w:.0f}" for w in workers) or "-",
                    f"{auc:.3f}",
                ]
            )
            if "summary" in result:
                summaries.append(f"{model}, {config}: {json.dumps(result['summary'])[:300]}")
    print(f"# Synthesizer on Dask vs in memory ({args.rows:,} rows, {parts} Parquet files)\n")
    print(machine_line())
    print(
        f"\nSample: {args.sample:,} rows drawn and written to Parquet; detector AUC on "
        f"{auc_rows:,} synthetic vs {auc_rows:,} real rows.\n"
    )
    header = [
        "model",
        "configuration",
        "fit s",
        "sample+write s",
        "fit us/row",
        "(fit+sample) / in memory",
        "client peak MB",
        "worker peak MB",
        "detector AUC",
    ]
    print(markdown_table(header, rows))
    print()
    for line in summaries:
        print(f"- {line}")


if __name__ == "__main__":
    main()
