"""``model="auto"``: the family whose synthetic rows a detector tells least from real ones.

Each candidate family is fitted by cross-fitting: the (encoded) rows are split into
folds; for each fold, the family is fitted on the other folds and draws as many rows
as the fold holds. A gradient-boosted detector
(:func:`lookalike.evaluation.detector.detector_auc`) separates each fold's real rows
from the draws of the model that never saw them, so a family that copies its training
rows gains nothing (pooling the folds would let the detector meet a row's copy among
the synthetic rows of another fold's model and score copying below 0.5). The family
with the lowest ROC AUC, averaged over folds, wins (0.5: the detector cannot tell them
apart), among the families that do not copy: the median distance of their draws to the
closest training row must be at least :data:`MIN_DCR_RATIO` times that of the held-out
real rows (:func:`dcr_ratio`). Ties within :data:`TIE` keep the earlier family of
:data:`~lookalike.tabular.models.registry.AUTO_FAMILIES`.

Large tables are compared on a seeded sample of :data:`SELECTION_ROWS` rows with one
split (:data:`SINGLE_SPLIT_ROWS` and more rows) instead of :data:`FOLDS` folds, and a
family is skipped once :data:`TIME_BUDGET` seconds have gone (the first family always
runs); a family running past the budget is scored on the folds it finished (at least
one, said in ``folds_used``), so "auto" costs a bounded multiple of one fit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from lookalike._restore import is_int, require
from lookalike.tabular.models.base import row_features
from lookalike.tabular.models.registry import make_model

#: Fewer rows than this leave too few per fold to tell families apart: "auto" then
#: takes :data:`SMALL_TABLE_FAMILY` without comparing.
MIN_SELECTION_ROWS = 40
#: The family of tables under MIN_SELECTION_ROWS rows: a copula with exact marginals
#: needs no leaf or cell of several rows and never copies a row.
SMALL_TABLE_FAMILY = "gaussian"
#: Rows compared at most (a seeded sample of larger tables).
SELECTION_ROWS = 20_000
#: Folds of the cross-fitting below SINGLE_SPLIT_ROWS rows; one 75/25 split above.
FOLDS = 4
SINGLE_SPLIT_ROWS = 5_000
#: Scores within this of the best count as ties (or within 0.5 / sqrt(rows compared),
#: about the detector's standard error, when that is larger).
TIE = 0.01
#: Seconds after which the remaining families are skipped.
TIME_BUDGET = 120.0
#: A family must keep its draws this far from its training rows, relative to fresh real
#: rows (median distance to the closest training row), to be chosen.
MIN_DCR_RATIO = 0.9

logger = logging.getLogger("lookalike.tabular")


@dataclass
class Selection:
    """The outcome of ``model="auto"``: every family's detector AUC and the winner."""

    winner: str
    scores: dict[str, float] = field(default_factory=dict)
    dcr_ratios: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    n_rows: int = 0
    folds: int = 0
    folds_used: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def describe(self) -> dict[str, Any]:
        if not self.scores:
            return {"winner": self.winner, "rows_compared": 0, "reason": self.note}
        return {
            "winner": self.winner,
            "detector_auc": {k: round(v, 4) for k, v in self.scores.items()},
            "dcr_ratio": {k: round(v, 3) for k, v in self.dcr_ratios.items()},
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "skipped": list(self.skipped),
            "rows_compared": self.n_rows,
            "folds": self.folds,
            "folds_used": dict(self.folds_used),
            "reason": (
                f"{self.winner!r} had the lowest held-out detector ROC AUC "
                f"({self.scores[self.winner]:.3f}; 0.5 = indistinguishable) among the "
                f"families whose distance-to-closest-record ratio is at least {MIN_DCR_RATIO}"
            ),
        }

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        require(isinstance(self.winner, str), "winner must be a str")
        for name in ("scores", "dcr_ratios", "seconds"):
            table = getattr(self, name)
            require(
                isinstance(table, dict)
                and all(isinstance(k, str) and isinstance(v, float) for k, v in table.items()),
                f"{name} must be a dict family -> float",
            )
        compared = bool(self.scores)  # tables under MIN_SELECTION_ROWS are not compared
        require(
            not compared or (self.winner in self.scores and self.winner in self.dcr_ratios),
            f"the winner {self.winner!r} has no score",
        )
        require(compared or bool(self.note), "a winner chosen without scores needs its note")
        require(
            isinstance(self.note, str)
            and isinstance(self.folds_used, dict)
            and all(isinstance(k, str) and is_int(v) for k, v in self.folds_used.items()),
            "note must be a str and folds_used a dict family -> int",
        )
        require(
            isinstance(self.skipped, list) and all(isinstance(f, str) for f in self.skipped),
            "skipped must be a list of family names",
        )
        require(
            is_int(self.n_rows) and self.n_rows >= 0 and is_int(self.folds) and self.folds >= 0,
            "n_rows and folds must be ints >= 0",
        )


def select_family(
    Z: np.ndarray,
    dims: Sequence[Any],
    frame: pd.DataFrame,
    decode: Callable[[np.ndarray], pd.DataFrame],
    families: Sequence[str],
    rng: np.random.Generator,
    n_jobs: int | None = None,
) -> Selection:
    """Compare ``families`` by held-out detector AUC (see the module docstring).

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_dims)
        The encoded table.
    dims : list of ModelDim
    frame : DataFrame
        The real rows of ``Z``, as the detector sees them.
    decode : callable
        Model-space rows -> DataFrame with ``frame``'s columns.
    families : sequence of str
    rng : Generator
    """
    from lookalike.evaluation.detector import detector_auc

    n = Z.shape[0]
    if n < MIN_SELECTION_ROWS:
        return Selection(
            winner=SMALL_TABLE_FAMILY,
            note=(
                f"{n} rows are too few to compare families by a held-out detector (at least "
                f"{MIN_SELECTION_ROWS}); {SMALL_TABLE_FAMILY!r} is the small-table default"
            ),
        )
    rows = np.arange(n)
    if n > SELECTION_ROWS:
        rows = np.sort(rng.choice(n, SELECTION_ROWS, replace=False))
    folds = FOLDS if rows.size < SINGLE_SPLIT_ROWS else 1
    assignment = rng.permutation(rows.size) % (folds if folds > 1 else 4)
    tested = range(folds) if folds > 1 else range(1)
    real = frame.iloc[rows].reset_index(drop=True)
    selection = Selection(winner=families[0], n_rows=int(rows.size), folds=folds)
    started = time.perf_counter()
    seed = int(rng.integers(0, 2**31 - 1))
    for family in families:
        if selection.scores and time.perf_counter() - started > TIME_BUDGET:
            selection.skipped.append(family)
            continue
        begin = time.perf_counter()
        aucs, ratios, weights = [], [], []
        for fold in tested:
            fit_rows = rows[assignment != fold]
            test = np.flatnonzero(assignment == fold)
            model = make_model(family, fit_rows.size, seed, n_jobs).fit(Z[fit_rows], dims)
            drawn = model.sample(test.size, random_state=np.random.default_rng(seed + fold))
            # Only rows this model never saw are compared with its draws.
            result = detector_auc(
                real.iloc[test].reset_index(drop=True), decode(drawn), random_state=seed
            )
            aucs.append(result.auc)
            ratios.append(dcr_ratio(Z[fit_rows], Z[rows[test]], drawn, dims))
            weights.append(test.size)
            if time.perf_counter() - started > TIME_BUDGET:
                break  # scored on the folds done so far
        selection.folds_used[family] = len(aucs)
        score = float(np.average(aucs, weights=weights))
        selection.scores[family] = score
        selection.dcr_ratios[family] = float(np.average(ratios, weights=weights))
        selection.seconds[family] = time.perf_counter() - begin
        logger.info(
            "model='auto': %s scored detector AUC %.3f, DCR ratio %.2f",
            family,
            score,
            selection.dcr_ratios[family],
        )
    private = [f for f in selection.scores if selection.dcr_ratios[f] >= MIN_DCR_RATIO]
    if not private:  # none is private enough: the one that copies least
        private = [max(selection.dcr_ratios, key=lambda f: selection.dcr_ratios[f])]
    best = min(selection.scores[f] for f in private)
    tie = max(TIE, 0.5 / np.sqrt(rows.size))
    selection.winner = next(
        f for f in families if f in private and selection.scores[f] <= best + tie
    )
    return selection


def dcr_ratio(
    training: np.ndarray, held_out: np.ndarray, drawn: np.ndarray, dims: Sequence[Any]
) -> float:
    """Median distance of draws to their closest training row over that of held-out rows.

    Distances are Euclidean on :func:`~lookalike.tabular.models.base.row_features`.
    """
    index = NearestNeighbors(n_neighbors=1).fit(row_features(training, dims))
    to_drawn = index.kneighbors(row_features(drawn, dims))[0][:, 0]
    to_held_out = index.kneighbors(row_features(held_out, dims))[0][:, 0]
    reference = float(np.median(to_held_out))
    return float(np.median(to_drawn)) / reference if reference > 0 else 1.0
