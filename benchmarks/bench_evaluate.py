"""``la.evaluate`` at scale, and its agreement with sdmetrics and anonymeter.

Run from the benchmarks folder::

    python bench_evaluate.py                 # full: 10k, 100k, 1M rows, 3 tables vs peers
    python bench_evaluate.py --ten-million   # also 10M-row Parquet tables (minutes, ~3 GB disk)
    python bench_evaluate.py --smoke         # seconds; no peer needed

Two parts, each printing markdown tables.

1. ``scale``: a mixed table of 30 columns (14 correlated continuous, 4 counts, a
   zero-inflated amount, 6 categorical of 3 to 40 levels, a 1,000-level city, 2 booleans,
   a date, a column with 10% missing values). Real, holdout and synthetic tables of n rows
   each; the synthetic one comes from the same generator with two faults (the amount
   lost its zeros; ``c1`` lost its dependence on the others), which the report should name
   as its tells. Each size runs ``evaluate(real, synthetic, holdout, target="cat0")`` then
   ``to_html`` in a fresh process; the table gives wall and CPU seconds and the peak
   resident memory of evaluate above the data already in memory (Linux ``VmHWM`` reset
   through ``/proc/self/clear_refs``). The 10M case passes Parquet paths, so memory holds
   one row group and the samples (evaluate reads ``max_rows=100,000`` rows per table).
   Target (issue 14): 100k x 30 under 60 s on this 2-core machine; bounded memory at 10M.
2. ``agreement``: scikit-learn's wine (178 x 14) and breast_cancer (569 x 31) with the class
   as a categorical ``target``, and palmerpenguins (344 x 8, mixed, missing values), split
   70/30 into train and holdout (random_state=0). Three synthetic tables per dataset:
   ``la.Synthesizer(model="gaussian")`` fitted on train (``len(train)`` rows), the same
   rows with every column shuffled independently (independent marginals), and half of it
   replaced by copies of training rows. Peers in a separate environment (default
   ``/work/peers-venv/bin/python``; ``--peers-python``): sdmetrics 0.32 QualityReport
   (Column Shapes = mean KS / TV complement; Column Pair Trends, of which the numeric pairs
   use Pearson CorrelationSimilarity = 1 - |r_real - r_syn| / 2) and anonymeter 1.1
   InferenceEvaluator (every other column as auxiliary information, the holdout as control,
   ``n_attacks = len(holdout)``, numeric secrets with ``regression=True``; 5 runs per
   secret, since anonymeter draws its target rows anew each run). lookalike's
   column-shape score is 1 - mean(KS or TV) over the same columns, its numeric pair trend
   1 - mean |correlation_diff| / 2, and its inference risk the report's
   ``attribute_inference_risk`` per secret column. Beside them, the detector AUC: what the
   saturated scores do not show.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PEERS_PYTHON = os.environ.get("LOOKALIKE_PEERS_PYTHON", "/work/peers-venv/bin/python")
SIZES = (10_000, 100_000, 1_000_000)
SECRETS = {"wine": 3, "breast_cancer": 3, "penguins": 4}
"""Secret columns attacked per dataset: the target and the first numeric columns."""

ANONYMETER_REPEATS = 5
"""anonymeter runs per secret (its targets are drawn anew each run): mean and spread."""


# --------------------------------------------------------------------------------------
# Data


def mixed_table(n: int, seed: int, faulty: bool = False) -> pd.DataFrame:
    """The 30-column mixed table (``faulty``: the synthetic generator with two faults)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    loadings = np.random.default_rng(1234).normal(size=(4, 14))
    continuous = z @ loadings + rng.normal(size=(n, 14))
    if faulty:  # c1 loses its dependence on the latent factors
        continuous[:, 1] = rng.permutation(continuous[:, 1])
    data: dict[str, Any] = {f"c{j}": continuous[:, j] for j in range(14)}
    data["c2"] = np.exp(0.5 * data["c2"] / data["c2"].std())
    for j in range(4):
        data[f"n{j}"] = rng.poisson(np.exp(0.4 * z[:, j] + 1.0 + j * 0.5))
    zero = rng.random(n) < (0.02 if faulty else 0.35)
    data["amount"] = np.where(zero, 0.0, np.round(rng.gamma(2.0, 40.0, size=n), 2))
    for j, levels in enumerate((3, 5, 8, 12, 20, 40)):
        score = z[:, j % 4] + rng.normal(size=n)
        edges = np.quantile(score, np.linspace(0, 1, levels + 1)[1:-1]) if n > levels else []
        codes = np.searchsorted(edges, score)
        data[f"cat{j}"] = np.array([f"L{j}_{k}" for k in range(levels)], dtype=object)[codes]
    city = np.minimum(rng.zipf(1.3, size=n), 1000) - 1
    data["city"] = np.char.add("city", city.astype(str)).astype(object)
    data["b0"] = z[:, 0] + rng.normal(size=n) > 0
    data["b1"] = rng.random(n) < 0.2
    days = rng.integers(0, 1000, size=n) + (30 * z[:, 1]).astype(int)
    data["day"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.clip(days, 0, None), "D")
    missing = z[:, 2] + rng.normal(size=n)
    missing[rng.random(n) < 0.1] = np.nan
    data["score"] = missing
    return pd.DataFrame(data)


def write_parquet(path: Path, n: int, seed: int, faulty: bool, chunk: int = 500_000) -> None:
    """``n`` rows of the mixed table written chunk by chunk (never all in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for i, start in enumerate(range(0, n, chunk)):
        part = mixed_table(min(chunk, n - start), seed * 1000 + i, faulty)
        table = pa.Table.from_pandas(part, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


# --------------------------------------------------------------------------------------
# Part 1: scale (each size in its own process)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def one_size(n: int, parquet_dir: str | None) -> dict[str, Any]:
    """Time and peak memory of evaluate (and to_html) on n rows, in this process."""
    import lookalike as la

    if parquet_dir:
        folder = Path(parquet_dir)
        real: Any = folder / "real.parquet"
        synthetic: Any = folder / "synthetic.parquet"
        holdout: Any = folder / "holdout.parquet"
    else:
        real, holdout = mixed_table(n, 1), mixed_table(n, 2)
        synthetic = mixed_table(n, 3, faulty=True)
    baseline = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    wall, cpu = time.perf_counter(), time.process_time()
    report = la.evaluate(real, synthetic, holdout, target="cat0", random_state=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _rss_kib("VmHWM")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        report.to_html(Path(folder) / "report.html")
        html_seconds = time.perf_counter() - start
        size = (Path(folder) / "report.html").stat().st_size
    return {
        "n": n,
        "parquet": bool(parquet_dir),
        "wall": wall,
        "cpu": cpu,
        "html": html_seconds,
        "html_mib": size / 2**20,
        "data_mib": baseline / 1024,
        "peak_mib": (peak - baseline) / 1024 if reset else float("nan"),
        "auc": report.value("c2st_auc"),
        "auc_ref": report.reference("c2st_auc"),
        "tells": [
            " & ".join(t.columns[:2]) + (f" (+{len(t.columns) - 2})" if len(t.columns) > 2 else "")
            for t in report.tells[:3]
        ],
        "detector_rows": report.detector.n_rows_used // 2 if report.detector else 0,
    }


def run_size(n: int, parquet_dir: str | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one-size", str(n)]
    if parquet_dir:
        command += ["--parquet-dir", parquet_dir]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"size {n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def detector_timing(repeats: int = 3) -> str:
    """``detector_auc`` alone on 10k x 20 rows of each table, one OpenMP thread: the call
    the Synthesizer's model choice makes."""
    from threadpoolctl import threadpool_limits

    from _common import markdown_table
    from lookalike.evaluation import detector_auc

    real = mixed_table(10_000, 1).iloc[:, :20]
    rows = []
    for name, synthetic in (
        ("same generator", mixed_table(10_000, 2).iloc[:, :20]),
        ("faulty generator", mixed_table(10_000, 3, faulty=True).iloc[:, :20]),
    ):
        walls, cpus = [], []
        for _ in range(repeats):
            with threadpool_limits(1):
                wall, cpu = time.perf_counter(), time.process_time()
                result = detector_auc(real, synthetic, random_state=0)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        rows.append([name, float(np.median(walls)), float(np.median(cpus)), result.auc])
    header = ["synthetic (10k x 20)", "wall s (median of 3)", "CPU s", "AUC (5 folds)"]
    return markdown_table(header, rows)


def scale_part(sizes: list[int], ten_million: bool) -> str:
    from _common import markdown_table

    rows = []
    for n in sizes:
        result = run_size(n)
        rows.append(_scale_row(result, "in memory"))
        print(f"  scale {n:,}: {result['wall']:.1f} s", file=sys.stderr)
    if ten_million:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
            n = 10_000_000
            start = time.perf_counter()
            for name, seed, faulty in (("real", 1, False), ("holdout", 2, False),
                                       ("synthetic", 3, True)):  # fmt: skip
                write_parquet(Path(folder) / f"{name}.parquet", n, seed, faulty)
            print(f"  wrote 3 x 10M rows in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            rows.append(_scale_row(run_size(n, folder), "Parquet files"))
    header = [
        "rows per table", "source", "evaluate s", "CPU s", "to_html s", "report MiB",
        "data in memory MiB", "evaluate peak MiB above data", "detector AUC (holdout ref)",
        "detector rows", "first tells",
    ]  # fmt: skip
    return markdown_table(header, rows)


def _scale_row(result: dict[str, Any], source: str) -> list[Any]:
    return [
        f"{result['n']:,}",
        source,
        result["wall"],
        result["cpu"],
        result["html"],
        result["html_mib"],
        result["data_mib"],
        result["peak_mib"],
        f"{result['auc']:.3f} ({result['auc_ref']:.3f})",
        f"{result['detector_rows']:,}",
        "; ".join(result["tells"]),
    ]


# --------------------------------------------------------------------------------------
# Part 2: agreement with the peers


def datasets() -> dict[str, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer, load_wine

    out = {}
    for name, loader in (("wine", load_wine), ("breast_cancer", load_breast_cancer)):
        frame = loader(as_frame=True).frame
        frame["target"] = frame["target"].map(lambda v: f"class {v}").astype(object)
        out[name] = frame[["target", *[c for c in frame.columns if c != "target"]]]
    try:
        from palmerpenguins import load_penguins

        penguins = load_penguins()
        out["penguins"] = penguins.astype({c: object for c in ("species", "island", "sex")})
    except ImportError:  # pragma: no cover - palmerpenguins is a test extra
        pass
    return out


def variants(train: pd.DataFrame, seed: int = 0) -> dict[str, pd.DataFrame]:
    import lookalike as la

    model = la.Synthesizer(model="gaussian", random_state=seed).fit(train)
    synthetic = model.sample(len(train), random_state=seed + 1)[list(train.columns)]
    rng = np.random.default_rng(seed)
    shuffled = synthetic.apply(lambda s: s.to_numpy()[rng.permutation(len(s))])
    half = len(train) // 2
    copies = pd.concat(
        [train.sample(half, random_state=seed), synthetic.iloc[half:]], ignore_index=True
    )
    return {"synthesizer": synthetic, "independent": shuffled, "half copies": copies}


def lookalike_scores(
    train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, secrets: list[str]
) -> dict[str, Any]:
    import lookalike as la
    from lookalike.evaluation.privacy import inference_risk

    report = la.evaluate(train, synthetic, holdout, random_state=0)
    m = report.metrics
    shapes = m[m["metric"].isin(["ks", "tv"])].set_index("column")["value"]
    pairs = m[m["metric"] == "correlation_diff"].set_index("column")["value"]
    attacked = int(report.sampling.set_index("step").loc["attribute inference", "real_rows"])
    risks = {}
    for secret in secrets:
        success = report.value("attribute_inference_success", secret)
        control = report.reference("attribute_inference_success", secret)
        risks[secret] = inference_risk(success, control, attacked, attacked)
    return {
        "shapes": {c: 1.0 - v for c, v in shapes.items()},
        "pairs": {c: 1.0 - v / 2.0 for c, v in pairs.items()},
        "risk": risks,
        "auc": report.value("c2st_auc"),
        "tell": report.tells[0].sentence if report.tells else "",
    }


def peer_scores(folder: Path, peers_python: str) -> dict[str, Any] | None:
    if not Path(peers_python).exists():
        return None
    done = subprocess.run(
        [peers_python, "-W", "ignore", __file__, "--peers", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_peers(folder: str) -> None:
    """In the peers' environment: sdmetrics and anonymeter on the tables in ``folder``."""
    from anonymeter.evaluators import InferenceEvaluator
    from sdmetrics.reports.single_table import QualityReport

    task = json.loads((Path(folder) / "task.json").read_text())
    train = pd.read_parquet(Path(folder) / "train.parquet")
    holdout = pd.read_parquet(Path(folder) / "holdout.parquet")
    synthetic = pd.read_parquet(Path(folder) / "synthetic.parquet")
    metadata = {
        "columns": {
            c: {"sdtype": "numerical" if k == "numeric" else "categorical"}
            for c, k in task["kinds"].items()
        }
    }
    quality = QualityReport()
    quality.generate(train, synthetic, metadata, verbose=False)
    shapes = quality.get_details("Column Shapes").set_index("Column")["Score"]
    pairs = quality.get_details("Column Pair Trends")
    # sdmetrics scores a numeric pair only when its real |correlation| reaches its threshold.
    numeric_pairs = pairs[(pairs["Metric"] == "CorrelationSimilarity") & pairs["Score"].notna()]
    properties = quality.get_properties().set_index("Property")["Score"]
    risks = {}
    for secret in task["secrets"]:
        values = []
        for repeat in range(ANONYMETER_REPEATS):  # anonymeter draws its targets unseeded
            np.random.seed(repeat)  # noqa: NPY002 - seeds the peer's global draws
            evaluator = InferenceEvaluator(
                ori=train,
                syn=synthetic,
                control=holdout,
                aux_cols=[c for c in train.columns if c != secret],
                secret=secret,
                regression=task["kinds"][secret] == "numeric",
                n_attacks=len(holdout),
            )
            evaluator.evaluate(n_jobs=1)
            values.append(float(evaluator.risk().value))
        risks[secret] = [float(np.mean(values)), float(np.std(values))]
    print(
        json.dumps(
            {
                "shapes": {str(c): float(v) for c, v in shapes.items()},
                "pairs": {
                    f"{a}|{b}": float(s)
                    for a, b, s in zip(
                        numeric_pairs["Column 1"],
                        numeric_pairs["Column 2"],
                        numeric_pairs["Score"],
                        strict=True,
                    )
                },
                "column_shapes": float(properties["Column Shapes"]),
                "pair_trends": float(properties["Column Pair Trends"]),
                "risk": risks,
            }
        )
    )


def _pm(value: float, error: float) -> str:
    if not np.isfinite(value):
        return "not measurable"
    return f"{value:.3f} ({error:.3f})"


def _pair_key(pair: str, ours: dict[str, float]) -> str | None:
    """Our key of a pair ``"a|b"`` (either order), or None."""
    first, second = pair.split("|", 1)
    for key in (pair, f"{second}|{first}"):
        if key in ours:
            return key
    return None


def agreement_part(peers_python: str) -> tuple[str, str]:
    from sklearn.model_selection import train_test_split

    from _common import markdown_table

    summary_rows, risk_rows = [], []
    for name, frame in datasets().items():
        train, holdout = train_test_split(frame, test_size=0.3, random_state=0)
        train, holdout = train.reset_index(drop=True), holdout.reset_index(drop=True)
        kinds = {
            c: "numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical"
            for c in frame.columns
        }
        numeric = [c for c in frame.columns if kinds[c] == "numeric"]
        secrets = [c for c in frame.columns if kinds[c] == "categorical"][:1] + numeric[
            : SECRETS[name] - 1
        ]
        for variant, synthetic in variants(train).items():
            ours = lookalike_scores(train, synthetic, holdout, secrets)
            with tempfile.TemporaryDirectory() as folder:
                for part, table in (("train", train), ("holdout", holdout),
                                    ("synthetic", synthetic)):  # fmt: skip
                    table.to_parquet(Path(folder) / f"{part}.parquet")
                task = {"kinds": kinds, "secrets": secrets}
                (Path(folder) / "task.json").write_text(json.dumps(task))
                peer = peer_scores(Path(folder), peers_python)
            shape_ours = float(np.mean(list(ours["shapes"].values())))
            if peer is None:
                summary_rows.append([name, variant, shape_ours, "peer missing", "", "", "",
                                     "", "", ours["auc"]])  # fmt: skip
                continue
            shape_diff = max(abs(ours["shapes"][c] - v) for c, v in peer["shapes"].items())
            shared = [p for p in peer["pairs"] if _pair_key(p, ours["pairs"]) is not None]
            pair_ours = [ours["pairs"][_pair_key(p, ours["pairs"])] for p in shared]
            pair_peer = [peer["pairs"][p] for p in shared]
            pair_diff = max((abs(a - b) for a, b in zip(pair_ours, pair_peer, strict=True)),
                            default=float("nan"))  # fmt: skip
            summary_rows.append([
                name, variant, shape_ours, peer["column_shapes"],
                f"{np.mean(pair_ours):.3f} ({len(shared)} pairs)" if shared else "no pair",
                f"{np.mean(pair_peer):.3f}" if shared else "no pair",
                peer["pair_trends"], shape_diff, pair_diff, ours["auc"],
            ])  # fmt: skip
            for secret in secrets:
                (risk, error), (mean, spread) = ours["risk"][secret], peer["risk"][secret]
                risk_rows.append([name, variant, secret, _pm(risk, error), _pm(mean, spread),
                                  risk - mean])  # fmt: skip
            print(f"  agreement {name} / {variant} done", file=sys.stderr)
    summary = markdown_table(
        ["dataset", "synthetic", "column shapes: lookalike", "sdmetrics",
         "numeric pair trends: lookalike", "sdmetrics (same pairs)",
         "sdmetrics Column Pair Trends (all its pairs)", "max per-column diff",
         "max per-pair diff", "lookalike detector AUC"],
        summary_rows,
    )  # fmt: skip
    risks = markdown_table(
        ["dataset", "synthetic", "secret", "lookalike risk (standard error)",
         f"anonymeter risk (sd over {ANONYMETER_REPEATS} runs)", "difference"],
        risk_rows,
    )  # fmt: skip
    return summary, risks


# --------------------------------------------------------------------------------------


def smoke() -> None:
    """Seconds: the scale part on 1,000 rows in this process, no peer."""
    result = one_size(1_000, None)
    assert np.isfinite(result["wall"]) and result["auc"] > 0.5, result
    print(f"smoke: evaluate 1,000 x 30 in {result['wall']:.1f} s, AUC {result['auc']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--ten-million", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--parts", nargs="*", default=["scale", "agreement"])
    parser.add_argument("--peers-python", default=PEERS_PYTHON)
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parquet-dir", help=argparse.SUPPRESS)
    parser.add_argument("--peers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peers:
        run_peers(args.peers)
        return
    if args.one_size:
        print(json.dumps(one_size(args.one_size, args.parquet_dir)))
        return
    if args.smoke:
        smoke()
        return
    from _common import machine_line

    print(f"# evaluate benchmark ({datetime.date.today()}, {machine_line()})\n")
    if "scale" in args.parts:
        print("## Scale: evaluate on a 30-column mixed table\n")
        print(scale_part(args.sizes, args.ten_million) + "\n")
        print("## The detector alone (one thread)\n")
        print(detector_timing() + "\n")
    if "agreement" in args.parts:
        summary, risks = agreement_part(args.peers_python)
        print("## Agreement with sdmetrics (column shapes, pair trends)\n")
        print(summary + "\n")
        print("## Attribute-inference risk: lookalike vs anonymeter\n")
        print(risks + "\n")


if __name__ == "__main__":
    main()
