"""The tabular Synthesizer on a Dask cluster against in memory (issue 16).

Run from the repository root (after ``make test`` or ``pip install -e ".[dask]"``)::

    python benchmarks/bench_tabular_dask.py --rows 20000000   # the issue's table (~30 min)
    python benchmarks/bench_tabular_dask.py                   # 2M rows (minutes)
    python benchmarks/bench_tabular_dask.py --rows 200000 --models gaussian,trees
    python benchmarks/bench_tabular_dask.py --smoke           # seconds; what CI runs

The in-memory ``"trees"`` fit of 2M rows takes most of an hour on the 2-core project
machine, so trees are compared at 200k rows (where the seeded sample is every row).

Data: a mixed table of ``--rows`` rows (default 2M): 10 numeric columns (4 continuous
with 2-3 decimals, 2 of them with 10% NaN; 3 counts; 1 count on a grid of 5; 1
heavy-tailed amount; 1 share in [0, 1]), 5 categorical columns (3 to 200 levels), 1
datetime column (second grain), all dependent through shared latent factors. It is
written once to ``--data-dir`` as Parquet files of ``--file-rows`` rows (default 500k;
one Dask partition each), in row groups of ``--row-group-rows`` rows, each row group
generated on its own (its own random stream): the full table is never in memory.

Three configurations, each in its own process so that its peak memory is its own:

a. in memory, on a slice: the first ``--slice-rows`` rows (default 2M: whole files)
   read into one DataFrame, ``Synthesizer(model).fit(df)``, then ``sample(n)`` written
   to one Parquet file;
b. Dask ``LocalCluster`` with 1 worker process (1 thread) on **all** ``--rows`` rows:
   ``fit(path)`` (codecs from partition summaries and a 200k-row seeded sample;
   ``"gaussian"`` by partitioned EM on every row, its scores kept on the workers or
   encoded again at every pass as ``--persist`` says; ``"trees"`` on the sample), then
   ``sample_partitions(n).to_parquet(dir)``;
c. the same with 2 worker processes.

``n`` (``--sample``) is the slice's size by default, the same in every configuration.
Reported: wall seconds of fit and of sample+write, microseconds per row fitted and per
row sampled, the ratio of (fit + sample) per row to in memory, peak resident memory
(``ru_maxrss``) of the client process and of each worker, and the cross-validated ROC
AUC of a gradient-boosted detector (scikit-learn's HistGradientBoostingClassifier, 3
folds) telling 100k synthetic rows from 100k real rows drawn from the whole table
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


def write_dataset(data_dir: Path, rows: int, file_rows: int, group_rows: int) -> Path:
    """The table as Parquet files of ``file_rows`` rows, written row group by row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = data_dir / f"lookalike_mixed_{rows}_{file_rows}_{group_rows}"
    done = path / "_done"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    schema = None
    for index, start in enumerate(range(0, rows, file_rows)):
        size = min(file_rows, rows - start)
        with pq.ParquetWriter(path / f"part-{index:04d}.parquet", _schema(schema)) as writer:
            for group, offset in enumerate(range(0, size, group_rows)):
                frame = mixed_part(index * 1_000_003 + group, min(group_rows, size - offset))
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                schema = table.schema
                writer.write_table(table)
    done.touch()
    return path


def _schema(schema: Any) -> Any:
    """The table's Arrow schema (from a tiny generated part the first time)."""
    import pyarrow as pa

    if schema is not None:
        return schema
    return pa.Table.from_pandas(mixed_part(0, 10), preserve_index=False).schema


def dataset_files(data: Path) -> list[Path]:
    return sorted(data.glob("part-*.parquet"))


def slice_files(data: Path, slice_rows: int) -> list[Path]:
    """The first files that hold ``slice_rows`` rows (whole files; at least one)."""
    import pyarrow.parquet as pq

    files, total = [], 0
    for file in dataset_files(data):
        if files and total >= slice_rows:
            break
        files.append(file)
        total += pq.ParquetFile(file).metadata.num_rows
    return files


def real_rows(data: Path, n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` rows drawn without replacement from the whole table, one file at a time."""
    import pyarrow.parquet as pq

    files = dataset_files(data)
    counts = np.array([pq.ParquetFile(f).metadata.num_rows for f in files])
    rng = np.random.default_rng(seed)
    n = min(n, int(counts.sum()))
    chosen = np.sort(rng.choice(int(counts.sum()), size=n, replace=False))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    parts = []
    for file, start, count in zip(files, starts, counts, strict=True):
        rows = chosen[(chosen >= start) & (chosen < start + count)] - start
        if rows.size:
            parts.append(pd.read_parquet(file).iloc[rows])
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)


def first_rows(path: Path, n: int) -> pd.DataFrame:
    """The first ``n`` rows of a Parquet file or of a folder's files, reading no more."""
    files = [path] if path.is_file() else sorted(path.glob("*.parquet"), key=_part_number)
    parts, total = [], 0
    for file in files:
        parts.append(pd.read_parquet(file))
        total += len(parts[-1])
        if total >= n:
            break
    return pd.concat(parts, ignore_index=True).iloc[:n]


def _part_number(path: Path) -> int:
    digits = "".join(c for c in path.stem if c.isdigit())
    return int(digits or 0)


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


def run_config(config: str, data: Path, model: str, options: argparse.Namespace) -> dict:
    """Fit and sample in one configuration; times, rows, peak memory (one child process)."""
    from lookalike.tabular import Synthesizer

    warnings.simplefilter("ignore")
    n_sample, out = options.sample, options.out
    result: dict[str, Any] = {"config": config, "model": model}
    if config == "memory":
        df = pd.read_parquet(slice_files(data, options.slice_rows))
        result["rows"] = len(df)
        start = time.perf_counter()
        synth = Synthesizer(model, random_state=0).fit(df)
        result["fit_s"] = time.perf_counter() - start
        del df
        start = time.perf_counter()
        synth.sample(n_sample).to_parquet(out / "fake.parquet")
        result["sample_s"] = time.perf_counter() - start
        result["client_peak_mb"] = peak_mb()
        result["worker_peak_mb"] = []
        return result
    from lookalike.distributed import connect

    n_workers = int(config[-1])
    smoke = options.smoke
    cluster = in_process_cluster(n_workers) if smoke else connect("local", n_workers=n_workers)
    persist = {"auto": "auto", "true": True, "false": False}[options.persist]
    with cluster as client:
        # Workers started and lookalike imported before timing.
        client.run(lambda: __import__("lookalike.tabular.partitioned"))
        start = time.perf_counter()
        synth = Synthesizer(model, random_state=0).fit(str(data), persist=persist)
        result["fit_s"] = time.perf_counter() - start
        result["rows"] = synth.n_rows_
        start = time.perf_counter()
        npartitions = max(2, n_sample // 250_000)
        synth.sample_partitions(n_sample, npartitions=npartitions).to_parquet(out / "fake")
        result["sample_s"] = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        result["worker_peak_mb"] = sorted(peaks.values())
        result["client_peak_mb"] = peak_mb()
        summary = dict(synth.summary().get("partitions", {}))
        summary.pop("lengths", None)
        summary.pop("seed_entropy", None)
        result["summary"] = summary
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


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny sizes")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the table")
    parser.add_argument(
        "--slice-rows", type=int, default=2_000_000, help="rows the in-memory fit reads"
    )
    parser.add_argument("--file-rows", type=int, default=500_000, help="rows per Parquet file")
    parser.add_argument("--row-group-rows", type=int, default=100_000)
    parser.add_argument(
        "--sample", type=int, help="rows sampled and written (default: the slice's rows)"
    )
    parser.add_argument("--models", default="gaussian")
    parser.add_argument(
        "--persist",
        choices=("auto", "true", "false"),
        default="auto",
        help="Dask fits: keep the scores on the workers during EM (Synthesizer.fit's persist)",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.slice_rows, args.models = 4_000, 2_000, "gaussian"
        args.file_rows, args.row_group_rows = 2_000, 1_000
    args.slice_rows = min(args.slice_rows, args.rows)
    if args.sample is None:
        args.sample = args.slice_rows
    return args


def _child(args: argparse.Namespace, config: str, model: str, data: Path, out: str) -> dict:
    """``run_config`` in a fresh process (its own peak memory); its result."""
    command = [
        sys.executable, __file__, "--run", config, "--model", model, "--data-dir", str(data),
        "--sample", str(args.sample), "--slice-rows", str(args.slice_rows),
        "--persist", args.persist, "--out", out, *(["--smoke"] if args.smoke else []),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{config} / {model} failed:\n{done.stderr[-3000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    args = _arguments()
    if args.run:
        print(json.dumps(run_config(args.run, args.data_dir, args.model, args)))
        return
    start = time.perf_counter()
    data = write_dataset(args.data_dir, args.rows, args.file_rows, args.row_group_rows)
    written = time.perf_counter() - start
    auc_rows = min(100_000, args.sample, args.rows)
    real = real_rows(data, auc_rows)
    configs = ["memory", "dask2"] if args.smoke else list(CONFIGS)
    rows: list[list[Any]] = []
    notes = []
    for model in args.models.split(","):
        memory_per_row = None
        for config in configs:
            with tempfile.TemporaryDirectory() as out:
                result = _child(args, config, model, data, out)
                fake_path = Path(out) / ("fake.parquet" if config == "memory" else "fake")
                fake = first_rows(fake_path, auc_rows).astype(real.dtypes.to_dict())
                auc = detector_auc(real, fake)
            fit_row = 1e6 * result["fit_s"] / result["rows"]
            sample_row = 1e6 * result["sample_s"] / args.sample
            if config == "memory":
                memory_per_row = fit_row + sample_row
            workers = result["worker_peak_mb"]
            rows.append(
                [
                    model,
                    CONFIGS[config],
                    f"{result['rows']:,}",
                    f"{result['fit_s']:.1f}",
                    f"{result['sample_s']:.1f}",
                    f"{fit_row:.1f}",
                    f"{sample_row:.1f}",
                    f"{(fit_row + sample_row) / memory_per_row:.2f}x" if memory_per_row else "",
                    f"{result['client_peak_mb']:.0f}",
                    ", ".join(f"{w:.0f}" for w in workers) or "-",
                    f"{auc:.3f}",
                ]
            )
            if "summary" in result:
                notes.append(f"{model}, {config}: {json.dumps(result['summary'])}")
    n_files = len(dataset_files(data))
    print(f"# Synthesizer on Dask vs in memory ({args.rows:,} rows, {n_files} Parquet files)\n")
    print(machine_line())
    print(
        f"\nTable: {args.rows:,} rows in {n_files} files of {args.file_rows:,} rows, row groups "
        f"of {args.row_group_rows:,} rows (generated and written in {written:.0f} s; 0 when "
        f"it was already there). In memory: the first {args.slice_rows:,} rows. Sample: "
        f"{args.sample:,} rows drawn and written to Parquet in every configuration; detector "
        f"AUC on {auc_rows:,} synthetic vs {auc_rows:,} real rows of the whole table. Dask "
        f"fits: persist={args.persist}.\n"
    )
    header = [
        "model", "configuration", "rows fitted", "fit s", "sample+write s", "fit us/row",
        "sample us/row", "(fit+sample) per row / in memory", "client peak MB",
        "worker peak MB", "detector AUC",
    ]  # fmt: skip
    print(markdown_table(header, rows))
    print()
    for line in notes:
        print(f"- {line}")


if __name__ == "__main__":
    main()
