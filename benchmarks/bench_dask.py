"""GaussianMixture scaled out: in memory, on a Dask cluster, and out of core (issue 7).

Run from the repository root (after ``make test`` or ``pip install -e ".[dask]"``)::

    python benchmarks/bench_dask.py            # the full benchmark (about 10 minutes)
    python benchmarks/bench_dask.py --smoke    # seconds; what CI runs

Data: 10M x 16 float64 blobs (1.28 GB, k = 16 centres, the recipe of ``bench_gmm.blobs``)
written once as a Parquet dataset of 10 files of 1M rows in ``--data-dir`` (kept between runs,
regenerated only when missing). One full-covariance model with k = 16 is fitted from the same
initial parameters (weights, means, precisions from a 2-iteration fit on a 20k-row sample,
computed once and handed to every configuration as a ``.npz``) with ``tol=0``, so each fit runs
exactly ``max_iter`` EM iterations. Four configurations, each in its own process so that its
peak memory is its own:

a. in memory: the Parquet dataset read into one NumPy array, then ``fit(X)``;
b. Dask, ``LocalCluster`` with 1 worker process (1 thread): ``read_dataset(path)
   .to_dask_array(lengths=True).persist()``, then ``fit(X)`` on the cluster;
c. the same with 2 worker processes (1 thread each);
d. out of core: ``fit(Chunks.from_parquet(path))`` (1M-row chunks), no Dask; every EM
   iteration re-reads the files.

Seconds per EM iteration are ``(t2 - t1) / (m2 - m1)`` from fits with ``max_iter`` m1 and m2
(medians over repeats), so reading the data, the persist, validation and any pass over the data
before the first iteration are excluded; those are reported apart (one-off seconds: reading or
persisting the data; fit overhead: the part of a fit's time not explained by its iterations).
Peak memory is the peak resident set size (``ru_maxrss``) of the process that calls ``fit``,
and for Dask of each worker process. The final lower bounds are compared with the in-memory one.

Targets: out-of-core peak memory < 2 GB with 1.28 GB of data; the 2-worker cluster within 1.3x
of the in-memory seconds per iteration.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from _common import machine_line, markdown_table

HERE = Path(__file__).resolve().parent
GB = 1e9

CONFIGS = {
    "memory": "a. in memory (NumPy array)",
    "dask1": "b. Dask LocalCluster, 1 worker x 1 thread, persisted",
    "dask2": "c. Dask LocalCluster, 2 workers x 1 thread, persisted",
    "dask2-trim": "c'. as c, workers with Dask's default MALLOC_TRIM_THRESHOLD_=65536",
    "chunks": "d. out of core (Chunks.from_parquet)",
}


# ---------------------------------------------------------------------------------------------
# The data set and the shared starting point
# ---------------------------------------------------------------------------------------------


def blob_part(part: int, rows: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """Rows of one file: ``bench_gmm.blobs`` recipe, shared centres, one stream per file."""
    shape_rng = np.random.default_rng(seed)
    centres = shape_rng.normal(0.0, 4.0, size=(k, d))
    scales = shape_rng.uniform(0.5, 2.0, size=(k, 1))
    rng = np.random.default_rng([seed, part])
    labels = rng.integers(0, k, size=rows)
    return centres[labels] + scales[labels] * rng.standard_normal((rows, d))


def write_dataset(data_dir: Path, n: int, d: int, k: int, parts: int) -> Path:
    """The Parquet dataset ``data_dir/blobs-...``, written once (each file via rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = f"blobs-{n}x{d}-k{k}-{parts}parts"
    path = data_dir / name
    stamp = data_dir / f"{name}.done"
    if stamp.exists() and len(list(path.glob("*.parquet"))) == parts:
        return path
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.parquet"):
        old.unlink()
    rows = n // parts
    columns = [f"x{j}" for j in range(d)]
    for part in range(parts):
        X = blob_part(part, rows, d, k)
        table = pa.table({column: X[:, j] for j, column in enumerate(columns)})
        final = path / f"part-{part:03d}.parquet"
        temporary = path / f".part-{part:03d}.parquet.tmp"
        pq.write_table(table, temporary, row_group_size=rows)
        temporary.rename(final)
        print(f"  wrote {final}", file=sys.stderr)
    stamp.write_text(json.dumps({"n": n, "d": d, "k": k, "parts": parts}))
    return path


def parquet_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet"))


def read_numpy(path: Path) -> np.ndarray:
    """The whole dataset as one C-ordered float64 array, filled file by file."""
    import pyarrow.parquet as pq

    files = parquet_files(path)
    n = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    d = pq.ParquetFile(files[0]).metadata.num_columns
    X = np.empty((n, d))
    start = 0
    for f in files:
        table = pq.read_table(f)
        for j, column in enumerate(table.columns):
            X[start : start + table.num_rows, j] = column.to_numpy()
        start += table.num_rows
    return X


def initial_parameters(path: Path, k: int, sample_rows: int, out: Path) -> Path:
    """Weights, means, precisions from a short fit on a sample of rows, saved as ``.npz``."""
    import pyarrow.parquet as pq

    import lookalike as la

    files = parquet_files(path)
    per_file = -(-sample_rows // len(files))
    batches = [next(pq.ParquetFile(f).iter_batches(batch_size=per_file)) for f in files]
    sample = np.vstack([np.column_stack([c.to_numpy() for c in b.columns]) for b in batches])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = la.GaussianMixture(k, max_iter=2, random_state=0).fit(sample)
    np.savez(
        out,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
    )
    return out


# ---------------------------------------------------------------------------------------------
# One configuration, in its own process
# ---------------------------------------------------------------------------------------------


def peak_rss_bytes() -> int:
    """Peak resident set size of the calling process (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed_fit(X: Any, init: dict, max_iter: int) -> tuple[float, float]:
    import lookalike as la

    model = la.GaussianMixture(
        n_components=len(init["weights_init"]),
        covariance_type="full",
        tol=0.0,
        max_iter=max_iter,
        **init,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    seconds = time.perf_counter() - start
    if model.n_iter_ != max_iter:
        raise RuntimeError(f"expected {max_iter} EM iterations with tol=0, got {model.n_iter_}")
    return seconds, float(model.lower_bound_)


def fit_times(X: Any, init: dict, m1: int, m2: int, repeats: int) -> dict:
    timed_fit(X, init, 1)  # warm-up: imports and first-call costs (on the workers too)
    t1, t2 = [], []
    bound = np.nan
    for _ in range(repeats):
        t1.append(timed_fit(X, init, m1)[0])
        seconds, bound = timed_fit(X, init, m2)
        t2.append(seconds)
    m_t1, m_t2 = statistics.median(t1), statistics.median(t2)
    per_iteration = (m_t2 - m_t1) / (m2 - m1)
    return {
        "per_iteration": per_iteration,
        "overhead": m_t1 - m1 * per_iteration,
        "lower_bound": bound,
        "t1": t1,
        "t2": t2,
    }


def run_config(config: str, path: Path, init_file: Path, args: argparse.Namespace) -> dict:
    with np.load(init_file) as stored:
        init = {name: stored[name] for name in stored.files}
    if config == "memory":
        start = time.perf_counter()
        X = read_numpy(path)
        one_off = time.perf_counter() - start
        facts = fit_times(X, init, args.m1, args.m2, args.repeats)
        return {**facts, "one_off": one_off, "client": peak_rss_bytes(), "workers": []}
    if config == "chunks":
        from lookalike.distributed import Chunks

        start = time.perf_counter()
        chunks = Chunks.from_parquet(str(path), chunk_rows=args.chunk_rows)
        one_off = time.perf_counter() - start
        facts = fit_times(chunks, init, args.m1, args.m2, args.repeats)
        return {**facts, "one_off": one_off, "client": peak_rss_bytes(), "workers": []}
    return run_dask(int(config[4]), config.endswith("-trim"), path, init, args)


def worker_malloc_trim() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def run_dask(workers: int, trim: bool, path: Path, init: dict, args: argparse.Namespace) -> dict:
    from distributed import Client, LocalCluster, wait

    from lookalike.distributed import connect, read_dataset

    start = time.perf_counter()
    if trim:
        # What a cluster started by Dask's own tools does: the nanny sets
        # MALLOC_TRIM_THRESHOLD_=65536 for its workers, which also turns off glibc's
        # adaptive mmap threshold, so every large temporary becomes a fresh mmap.
        # connect("local") starts its workers without it.
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        context: Any = Client(cluster)
    else:
        cluster, context = None, connect("local", n_workers=workers)
    with context as client:
        startup = time.perf_counter() - start
        start = time.perf_counter()
        X = read_dataset(str(path)).to_dask_array(lengths=True).persist()
        wait(X)
        one_off = time.perf_counter() - start
        facts = fit_times(X, init, args.m1, args.m2, args.repeats)
        workers_peak = sorted(client.run(peak_rss_bytes).values())
        trim_seen = sorted(set(client.run(worker_malloc_trim).values()), key=str)
    if cluster is not None:
        cluster.close()
    return {
        **facts,
        "one_off": one_off,
        "startup": startup,
        "malloc_trim": trim_seen,
        "client": peak_rss_bytes(),
        "workers": workers_peak,
    }


def child(config: str, path: Path, init_file: Path, args: argparse.Namespace) -> dict:
    """Run ``config`` in a fresh interpreter and return what it measured."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        config,
        "--child-data",
        str(path),
        "--child-init",
        str(init_file),
        f"--m1={args.m1}",
        f"--m2={args.m2}",
        f"--repeats={args.repeats}",
        f"--chunk-rows={args.chunk_rows}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, cwd=HERE)
    if out.returncode != 0:
        raise RuntimeError(f"configuration {config} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


def table(results: dict[str, dict], data_bytes: int) -> str:
    base = results["memory"]
    rows = []
    for config, facts in results.items():
        one_off = f"{facts['one_off']:.1f}"
        if "startup" in facts:
            one_off += f" (+{facts['startup']:.1f} cluster start)"
        workers = " / ".join(f"{b / GB:.2f}" for b in facts["workers"]) or "-"
        rel = abs(facts["lower_bound"] - base["lower_bound"]) / abs(base["lower_bound"])
        rows.append(
            (
                CONFIGS[config],
                facts["per_iteration"],
                f"{facts['per_iteration'] / base['per_iteration']:.2f}x",
                one_off,
                f"{facts['overhead']:.2f}",
                f"{facts['client'] / GB:.2f}",
                workers,
                f"{facts['lower_bound']:.10g}",
                "-" if config == "memory" else f"{rel:.1e}",
            )
        )
    header = (
        "configuration",
        "s / EM iteration",
        "x in-memory",
        "one-off s (read / persist)",
        "fit overhead s",
        "peak RSS fitting process, GB",
        "peak RSS per worker, GB",
        "lower bound",
        "rel. diff to in-memory",
    )
    return markdown_table(header, rows) + f"\n\nData: {data_bytes / GB:.3g} GB of float64."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, seconds, writes nothing")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--m1", type=int, default=1, help="max_iter of the short fit")
    parser.add_argument("--m2", type=int, default=4, help="max_iter of the long fit")
    parser.add_argument(
        "--chunk-rows", type=int, default=1_000_000, help="out of core (the library default)"
    )
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/lookalike-bench-dask"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dask.md")
    parser.add_argument("--child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--child-data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-init", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_config(args.child, args.child_data, args.child_init, args)))
        return

    import lookalike as la

    configs = args.configs.split(",")
    if "memory" not in configs:
        configs.insert(0, "memory")
    if args.smoke:
        n, d, k, parts, sample_rows = 40_000, 4, 3, 4, 4_000
        args.repeats, args.m1, args.m2, args.chunk_rows = 1, 1, 2, 4_000
        configs = [c for c in configs if c in ("memory", "dask2", "chunks")]
    else:
        n, d, k, parts, sample_rows = 10_000_000, 16, 16, 10, 20_000
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) if args.smoke else args.data_dir
        path = write_dataset(data_dir, n, d, k, parts)
        init_file = initial_parameters(path, k, sample_rows, Path(scratch) / "init.npz")
        load_before = os.getloadavg()[0]
        results = {}
        for config in configs:
            # Smoke: in this process (seconds saved per interpreter start; its peak memory
            # is then not the configuration's own, and the smoke run reports nothing).
            run = run_config if args.smoke else child
            results[config] = run(config, path, init_file, args)
            print(f"  done {config}: {json.dumps(results[config])}", file=sys.stderr)
    load_after = os.getloadavg()[0]
    trims = sorted({str(t) for r in results.values() for t in r.get("malloc_trim", [])})
    text = "\n".join(
        [
            f"# GaussianMixture scaled out: lookalike {la.__version__}\n",
            machine_line() + "\n",
            f"## {n:,} x {d} float64 from Parquet ({parts} files), k = {k}, full covariance\n",
            "Targets: out-of-core peak memory < 2 GB with 1.28 GB of data; 2-worker Dask "
            "cluster within 1.3x of the in-memory seconds per EM iteration.\n",
            table(results, n * d * 8),
            f"\nSeconds per EM iteration = (t({args.m2}) - t({args.m1})) / {args.m2 - args.m1} "
            f"from fits with max_iter {args.m1} and {args.m2} (tol=0, same initial "
            f"parameters), medians of {args.repeats} runs after one untimed warm-up fit. "
            "One-off: reading the data into NumPy (a), reading and persisting the Dask array "
            "on the workers (b, c), building the Chunks source (d); fit overhead: the short "
            "fit's time not explained by its iterations. Peak RSS (ru_maxrss) of the process "
            "that calls fit and of each Dask worker; out-of-core chunk_rows = "
            f"{args.chunk_rows:,}. Clusters from `lookalike.distributed.connect('local', "
            f"n_workers=...)`; MALLOC_TRIM_THRESHOLD_ seen in the workers: {', '.join(trims)}. "
            f"1-minute load average {load_before:.1f} before, {load_after:.1f} after (the "
            "machine is shared).\n",
        ]
    )
    print(text)
    if not args.smoke:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        temporary = args.out.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.rename(args.out)


if __name__ == "__main__":
    main()
