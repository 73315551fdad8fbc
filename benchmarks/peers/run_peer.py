"""Fit one peer synthesizer on a training table and sample from it (runs in the peers venv).

This script is run by ``bench_quality.py`` with the Python of a separate virtual
environment that holds the peers (their pins conflict with lookalike's)::

    /work/peers-venv/bin/python run_peer.py --peer ctgan --train train.parquet \\
        --kinds kinds.json --n 1000 --out synthetic.parquet --timing timing.json \\
        [--options '{"epochs": 30}'] [--target target] [--seed 0]

Input: ``train.parquet`` (categories as plain strings, no pandas metadata) and
``kinds.json`` (column -> ``"continuous"``, ``"integer"`` or ``"categorical"``).
Output: ``synthetic.parquet`` with the same columns (categories as strings, numbers as
float64) and ``timing.json`` with ``fit_s``, ``sample_s`` (wall seconds), ``cpu_s``
(CPU seconds of fit and sample), the options used and the peer's version. Each peer
gets its own data preparation here:

- ``gaussian_copula``, ``ctgan``, ``tvae`` (SDV 2): metadata with each column's kind
  (categorical, or numerical with 0 decimal places for integers); SDV's own
  transformers handle missing values.
- ``forestflow`` (ForestDiffusion, ``diffusion_type="flow"``): a float matrix;
  categories as integer codes with missing values as a level of their own (its README's
  advice), 2-level columns in ``bin_indexes``, more in ``cat_indexes``, integer columns in
  ``int_indexes``; numeric missing values are left as NaN (ForestFlow models them).
  Its sampler takes ``n_t - 1`` Euler steps, none at ``n_t=1`` (a division by zero in
  ForestDiffusion): there it takes the one step, from t=0 with the one noise level's model.
- ``arf`` (arfpy): categories as pandas categoricals with missing values as a level of
  their own; a numeric column with missing values gets a categorical missing indicator
  and its missing entries filled with the median, and is set back to missing where the
  sampled indicator says so (arfpy's leaf densities cannot take NaN).
- ``smote`` (imbalanced-learn, for augmentation): ``SMOTE`` on the numeric features and
  ``--target``; writes the resampled table (``--n`` unused).

Seeds: ``--seed`` seeds NumPy's and Python's global generators and torch, and is
passed to each peer that takes one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MISSING = "__missing__"


def read_table(path: str) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def write_table(frame: pd.DataFrame, path: str) -> None:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(None)
    tmp = path + ".tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the peers draw from NumPy's global generator)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


# --------------------------------------------------------------------------------------
# SDV: GaussianCopula, CTGAN, TVAE


def sdv_metadata(train: pd.DataFrame, kinds: dict[str, str]) -> Any:
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
    for column, kind in kinds.items():
        if kind == "categorical":
            metadata.update_column(column, sdtype="categorical", table_name="table")
        elif kind == "integer":
            metadata.update_column(
                column, sdtype="numerical", decimal_places=0, table_name="table"
            )
        else:
            metadata.update_column(column, sdtype="numerical", table_name="table")
    return metadata


def run_sdv(
    name: str, train: pd.DataFrame, kinds: dict[str, str], n: int, options: dict[str, Any]
) -> tuple[float, float, pd.DataFrame]:
    from sdv.single_table import (
        CTGANSynthesizer,
        GaussianCopulaSynthesizer,
        TVAESynthesizer,
    )

    classes = {
        "gaussian_copula": GaussianCopulaSynthesizer,
        "ctgan": CTGANSynthesizer,
        "tvae": TVAESynthesizer,
    }
    start = time.perf_counter()
    metadata = sdv_metadata(train, kinds)
    synthesizer = classes[name](metadata, **options)
    synthesizer.fit({"table": train})
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(num_rows=n)
    if isinstance(synthetic, dict):
        synthetic = synthetic["table"]
    return fitted - start, time.perf_counter() - fitted, synthetic


# --------------------------------------------------------------------------------------
# ForestFlow


def run_forestflow(
    train: pd.DataFrame,
    kinds: dict[str, str],
    n: int,
    options: dict[str, Any],
    seed: int,
) -> tuple[float, float, pd.DataFrame]:
    from ForestDiffusion import ForestDiffusionModel

    start = time.perf_counter()
    columns = list(train.columns)
    matrix = np.empty((len(train), len(columns)))
    levels: dict[str, list[str]] = {}
    bin_indexes, cat_indexes, int_indexes = [], [], []
    for j, column in enumerate(columns):
        if kinds[column] == "categorical":
            values = train[column].astype(object).where(train[column].notna(), MISSING)
            codes, uniques = pd.factorize(values, sort=True)
            levels[column] = [str(u) for u in uniques]
            matrix[:, j] = codes
            (bin_indexes if len(uniques) == 2 else cat_indexes).append(j)
        else:
            matrix[:, j] = train[column].to_numpy(dtype=float)
            if kinds[column] == "integer":
                int_indexes.append(j)
    settings = {"diffusion_type": "flow", "n_jobs": 1, "seed": seed, **options}
    model = ForestDiffusionModel(
        matrix,
        bin_indexes=bin_indexes,
        cat_indexes=cat_indexes,
        int_indexes=int_indexes,
        **settings,
    )
    fitted = time.perf_counter()
    # ForestDiffusion's Euler solver steps by 1 / (n_t - 1): at n_t=1, one step (n_t=2 there).
    one_level = settings["diffusion_type"] == "flow" and settings.get("n_t", 50) == 1
    generated = model.generate(batch_size=n, n_t=2 if one_level else None)
    sampled = time.perf_counter()
    out = {}
    for j, column in enumerate(columns):
        if column in levels:
            codes = np.clip(np.round(generated[:, j]), 0, len(levels[column]) - 1).astype(int)
            values = np.array(levels[column], dtype=object)[codes]
            values[values == MISSING] = None
            out[column] = values
        else:
            out[column] = generated[:, j]
    return fitted - start, sampled - fitted, pd.DataFrame(out)


# --------------------------------------------------------------------------------------
# ARF


def run_arf(
    train: pd.DataFrame,
    kinds: dict[str, str],
    n: int,
    options: dict[str, Any],
    seed: int,
) -> tuple[float, float, pd.DataFrame]:
    from arfpy import arf

    start = time.perf_counter()
    frame = pd.DataFrame(index=train.index)
    indicators = {}
    for column in train.columns:
        if kinds[column] == "categorical":
            values = train[column].astype(object).where(train[column].notna(), MISSING)
            frame[column] = values.astype(str).astype("category")
        else:
            values = train[column].astype(float)
            if values.isna().any():
                flag = f"{column}{MISSING}"
                indicators[column] = flag
                frame[flag] = values.isna().map({True: "yes", False: "no"}).astype("category")
                values = values.fillna(values.median())
            frame[column] = values
    settings = {"verbose": False, "random_state": seed, **options}
    model = arf.arf(x=frame, **settings)
    model.forde()
    fitted = time.perf_counter()
    synthetic = model.forge(n=n)
    sampled = time.perf_counter()
    synthetic = synthetic.reset_index(drop=True)
    for column, flag in indicators.items():
        missing = synthetic[flag].astype(str).to_numpy() == "yes"
        synthetic[column] = synthetic[column].astype(float).where(~missing)
    for column in train.columns:
        if kinds[column] == "categorical":
            values = synthetic[column].astype(object)
            synthetic[column] = values.where(values.astype(str) != MISSING)
    return fitted - start, sampled - fitted, synthetic[list(train.columns)]


# --------------------------------------------------------------------------------------
# SMOTE (augmentation)


def run_smote(
    train: pd.DataFrame, target: str, options: dict[str, Any], seed: int
) -> tuple[float, float, pd.DataFrame]:
    from imblearn.over_sampling import SMOTE

    features = [c for c in train.columns if c != target]
    start = time.perf_counter()
    X, y = SMOTE(random_state=seed, **options).fit_resample(
        train[features].to_numpy(dtype=float), train[target].astype(str).to_numpy()
    )
    out = pd.DataFrame(X, columns=features)
    out[target] = y
    return time.perf_counter() - start, 0.0, out


# --------------------------------------------------------------------------------------


def versions(peer: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = {
        "gaussian_copula": "sdv",
        "ctgan": "sdv",
        "tvae": "sdv",
        "forestflow": "ForestDiffusion",
        "arf": "arfpy",
        "smote": "imbalanced-learn",
    }[peer]
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--peer",
        required=True,
        choices=("gaussian_copula", "ctgan", "tvae", "forestflow", "arf", "smote"),
    )
    parser.add_argument("--train", required=True)
    parser.add_argument("--kinds", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timing", required=True)
    parser.add_argument("--options", default="{}", help="JSON of the peer's parameters")
    parser.add_argument("--target", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = read_table(args.train)
    with open(args.kinds) as handle:
        kinds: dict[str, str] = json.load(handle)
    options: dict[str, Any] = json.loads(args.options)
    seed_everything(args.seed)
    cpu = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.peer in ("gaussian_copula", "ctgan", "tvae"):
            fit_s, sample_s, synthetic = run_sdv(args.peer, train, kinds, args.n, options)
        elif args.peer == "forestflow":
            fit_s, sample_s, synthetic = run_forestflow(train, kinds, args.n, options, args.seed)
        elif args.peer == "arf":
            fit_s, sample_s, synthetic = run_arf(train, kinds, args.n, options, args.seed)
        else:
            if args.target is None:
                parser.error("--peer smote needs --target")
            fit_s, sample_s, synthetic = run_smote(train, args.target, options, args.seed)
    cpu = time.process_time() - cpu
    synthetic = synthetic[list(train.columns)].copy()
    for column in synthetic.columns:
        if kinds.get(column) == "categorical" or (args.peer == "smote" and column == args.target):
            values = synthetic[column].astype(object)
            synthetic[column] = values.where(values.notna(), None).map(
                lambda v: None if v is None else str(v)
            )
        else:
            synthetic[column] = pd.to_numeric(synthetic[column], errors="coerce").astype(float)
    write_table(synthetic, args.out)
    record = {
        "peer": args.peer,
        "fit_s": fit_s,
        "sample_s": sample_s,
        "cpu_s": cpu,
        "options": options,
        "version": versions(args.peer),
        "rows": len(synthetic),
    }
    tmp = args.timing + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(record, handle)
    os.replace(tmp, args.timing)
    print(json.dumps(record), file=sys.stderr)


if __name__ == "__main__":
    main()
