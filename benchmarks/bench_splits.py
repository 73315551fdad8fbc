"""Quality over several splits: how much of one split's ranking is the split's noise.

Run from the benchmarks folder::

    python bench_splits.py                 # 5 splits of the small tables (about 40 min)
    python bench_splits.py --smoke         # seconds: wine, 2 splits, lookalike gaussian

The small tables of ``bench_quality.py`` (wine, breast_cancer, penguins, survey, Cars93)
have holdouts of 28 to 171 rows, so the detector AUC of one 70/30 split moves by 0.05
to 0.1 with the split alone, as much as the differences between good generators. Here
each table is split with ``random_state`` 0 to S-1 (stratified as in
``bench_quality.py``; split 0 is that benchmark's split), every generator fits each
split's train (``random_state=0``) and is scored by the same code
(``bench_quality.cached_score``), and the table shows the mean and standard deviation
over splits of:

- the detector AUC between the holdout and as many synthetic rows (0.5 best);
- TSTR / TRTR on the holdout (1 best);
- the distance membership attack's AUC (``_quality_metrics.membership_auc``): training
  rows vs holdout rows by their distance to the closest synthetic row (0.5 best: the
  synthetic rows are no nearer the rows they were fitted on than to new rows);
- the *real floor*: the same detector between the holdout and as many real training
  rows, what a generator that drew fresh real rows would score (the detector's own
  small-sample bias included).

The verdict per table compares the default Synthesizer with the peer of lowest mean
holdout AUC, paired over splits: the mean difference and its standard error.

Generators: lookalike ``auto`` (the default), ``trees``, ``cells``, ``gaussian``; SDV
GaussianCopula, CTGAN, TVAE; ARF (in the peers' environment, ``--peers-python``). Left
out: ForestFlow, whose one fit takes 1 to 17 minutes per small table on these cores
(it is in ``bench_quality.py``'s split 0). Rows and scores are cached as in
``bench_quality.py`` (``--cache``), so a re-run refits only what changed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import lookalike as la
from _common import markdown_table, report_header
from _quality_data import LOADERS
from _quality_metrics import detector_auc
from bench_quality import (
    LABELS,
    LOOKALIKE,
    Workspace,
    cached_score,
    default_cache,
    default_peers_python,
    fmt,
    log,
    lookalike_record,
    lookalike_source_hash,
    peer_record,
    reject_unknown,
)

TABLES = ("wine", "breast_cancer", "penguins", "survey", "Cars93")
GENERATORS = ("auto", "trees", "cells", "gaussian", "gaussian_copula", "ctgan", "tvae", "arf")
DEFAULT = "auto"


def real_floor(space: Workspace, folds: int) -> float:
    """Detector AUC between the holdout and as many real training rows."""
    pick = np.random.default_rng(0).choice(len(space.train), len(space.holdout), replace=False)
    return detector_auc(space.holdout, space.train.iloc[pick].reset_index(drop=True), folds)


def one_split(
    name: str, seed: int, generators: list[str], args: argparse.Namespace, source: str
) -> tuple[float, dict[str, dict[str, Any]]]:
    """The real floor and each generator's scores (or status) on split ``seed``."""
    space = Workspace(LOADERS[name](), args.cache, seed)
    folds = 2 if args.smoke else 5
    shared: dict[str, Any] = {}
    results = {}
    for key in generators:
        if key in LOOKALIKE:
            result = lookalike_record(key, space, True, source)
        else:
            python = None if args.smoke else args.peers_python
            result = peer_record(key, space, python, args.peer_timeout, True)
        if result["status"] == "ok":
            result["scores"] = cached_score(space, result, shared, folds)
            log(
                f"split {seed}: {key} on {name}: holdout AUC {result['scores']['holdout_auc']:.3f}"
            )
        result.pop("rows", None)
        results[key] = result
    return real_floor(space, folds), results


def mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt(values[0])
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table_report(name: str, splits: list[tuple[float, dict[str, dict[str, Any]]]]) -> str:
    """The table's rows (mean ± sd over splits) and its verdict."""
    generators = list(splits[0][1])
    holdout: dict[str, list[float]] = {g: [] for g in generators}
    utility: dict[str, list[float]] = {g: [] for g in generators}
    membership: dict[str, list[float]] = {g: [] for g in generators}
    statuses: dict[str, set[str]] = {g: set() for g in generators}
    for _, results in splits:
        for g, result in results.items():
            if "scores" not in result:
                statuses[g].add(result["status"].split(":")[0])
                continue
            got = result["scores"]
            holdout[g].append(got["holdout_auc"])
            membership[g].append(got["membership"])
            if "tstr" in got:
                utility[g].append(got["tstr"] / got["trtr"] if got["trtr"] else float("nan"))
    rows = [("real rows (floor)", mean_sd([floor for floor, _ in splits]), "-", "-", len(splits))]
    for g in generators:
        if not holdout[g]:
            rows.append((LABELS[g], ", ".join(sorted(statuses[g])), "", "", 0))
            continue
        rows.append(
            (
                LABELS[g],
                mean_sd(holdout[g]),
                mean_sd(utility[g]),
                mean_sd(membership[g]),
                len(holdout[g]),
            )
        )
    header = (
        "generator",
        "holdout detector AUC",
        "TSTR / TRTR",
        "membership attack AUC",
        "splits scored",
    )
    text = f"### {name}\n\n" + markdown_table(header, rows) + "\n\n"
    peers = [g for g in generators if g not in LOOKALIKE and len(holdout[g]) == len(splits)]
    if DEFAULT in generators and len(holdout[DEFAULT]) == len(splits) and peers:
        best = min(peers, key=lambda g: statistics.mean(holdout[g]))
        differences = np.subtract(holdout[DEFAULT], holdout[best])
        se = (
            float(np.std(differences, ddof=1) / np.sqrt(len(differences)))
            if len(differences) > 1
            else float("nan")
        )
        text += (
            f"Verdict: the default Synthesizer minus the best peer ({LABELS[best]}), holdout "
            f"detector AUC paired over {len(differences)} splits: "
            f"{float(np.mean(differences)):+.3f} (standard error {fmt(se)}; "
            f"lower than the best peer on {int(np.sum(differences < 0))} of "
            f"{len(differences)} splits).\n"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="wine, 2 splits, lookalike gaussian")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--datasets", default=",".join(TABLES), help=f"among {', '.join(LOADERS)}")
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--peers-python", default=default_peers_python())
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds per peer fit")
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args()
    names = ["wine"] if args.smoke else [n for n in args.datasets.split(",") if n]
    generators = ["gaussian"] if args.smoke else [g for g in args.generators.split(",") if g]
    splits = 2 if args.smoke else args.splits
    reject_unknown(parser, "datasets", names, LOADERS)
    reject_unknown(parser, "generators", generators, LABELS)
    if "forestflow" in generators:
        parser.error("ForestFlow is left out of this benchmark (see its docstring)")
    if args.smoke:  # nothing cached: every smoke run fits
        args.cache = Path(tempfile.mkdtemp(prefix="lookalike-bench-splits-"))
    print(
        report_header(
            f"Quality over {splits} splits: lookalike {la.__version__} vs SDV and ARF",
            "smoke run: wine, lookalike gaussian" if args.smoke else None,
        )
    )
    source = lookalike_source_hash()
    with threadpool_limits(1):  # one thread, as the peers get (OMP_NUM_THREADS=1)
        for name in names:
            if LOADERS[name]() is None:
                print(f"### {name}\n\nskipped: its package is not installed.\n")
                continue
            runs = [one_split(name, seed, generators, args, source) for seed in range(splits)]
            print(table_report(name, runs))
    if args.smoke:
        shutil.rmtree(args.cache, ignore_errors=True)


if __name__ == "__main__":
    main()
