"""``model="auto"``: the family whose synthetic rows a detector tells least from real ones.

Each candidate family is fitted by cross-fitting: the (encoded) rows are split into
folds; for each fold, the family is fitted on the other folds and draws as many rows
as the fold holds. A gradient-boosted detector
(:func:`lookalike.evaluation.detector.detector_auc`) separates each fold's real rows
from the draws of the model that never saw them, so a family that copies its training
rows gains nothing (pooling the folds would let the detector meet a row's copy among
the synthetic rows of another fold's model and score copying below 0.5). The family
with the lowest ROC AUC, averaged over folds, wins (0.5: the detector cannot tell them
apart). Ties within :data:`TIE` keep the earlier family of
:data:`~lookalike.tabular.models.registry.AUTO_FAMILIES`.

Large tables are compared on a seeded sample of :data:`SELECTION_ROWS` rows with one
split (:data:`SINGLE_SPLIT_ROWS` and more rows) instead of :data:`FOLDS` folds, and a
family is skipped once :data:`TIME_BUDGET` seconds have gone (the first family always
runs), so "auto" costs a bounded multiple of one fit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lookalike.tabular.models.registry import make_model

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

logger = logging.getLogger("lookalike.tabular")


@dataclass
class Selection:
    """The outcome of ``model="auto"``: every family's detector AUC and the winner."""

    winner: str
    scores: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    n_rows: int = 0
    folds: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "detector_auc": {k: round(v, 4) for k, v in self.scores.items()},
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "skipped": list(self.skipped),
            "rows_compared": self.n_rows,
            "folds": self.folds,
            "reason": (
                f"{self.winner!r} had the lowest held-out detector ROC AUC "
                f"({self.scores[self.winner]:.3f}; 0.5 = indistinguishable)"
            ),
        }


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
        aucs, weights = [], []
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
            weights.append(test.size)
        score = float(np.average(aucs, weights=weights))
        selection.scores[family] = score
        selection.seconds[family] = time.perf_counter() - begin
        logger.info("model='auto': %s scored detector AUC %.3f", family, score)
    best = min(selection.scores.values())
    tie = max(TIE, 0.5 / np.sqrt(rows.size))
    selection.winner = next(
        f for f in families if f in selection.scores and selection.scores[f] <= best + tie
    )
    return selection
