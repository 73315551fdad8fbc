"""``model="auto"``: the family whose synthetic rows a detector tells least from real ones.

Each candidate family is fitted by cross-fitting: the (encoded) rows are split into
folds; for each fold, the family is fitted on the other folds and draws as many rows
as the fold holds. A gradient-boosted detector
(:func:`lookalike.evaluation.detector.detector_auc`) separates each fold's real rows
from the draws of the model that never saw them, so a family that copies its training
rows gains nothing (pooling the folds would let the detector meet a row's copy among
the synthetic rows of another fold's model and score copying below 0.5). Each
family is scored by how far its draws are from real rows in two ways, added up:

- the detector's ROC AUC, averaged over folds (0.5: the detector cannot tell them
  apart; a mean below 0.5 is the detector's noise and counts as 0.5);
- the *utility loss*: how much worse models trained on its draws predict the utility
  columns of the held-out fold from the other columns than models trained on the real
  rows of the other folds (train on synthetic vs train on real, test on real;
  balanced accuracy for labels, :math:`R^2` for numbers, averaged over columns;
  :data:`UTILITY_TREES`-tree random forests). The utility columns are the ``target``
  a user names, else up to :data:`UTILITY_COLUMNS` columns picked by
  :func:`utility_columns` (the last column and class labels). A detector sees rows one at a time
  and, on small tables, too few of them to notice that a label no longer follows the
  other columns; this term does.

The family with the lowest sum wins among the families that do not copy: the median
distance of their draws to the closest training row must be at least
:data:`MIN_DCR_RATIO` times that of the held-out real rows (:func:`dcr_ratio`). Sums
within :data:`TIE` (or the detector's standard error) keep the earlier family of
:data:`~lookalike.tabular.models.registry.AUTO_FAMILIES`.

Small tables repeat the cross-fitting with new folds (:func:`repeats`: three times
below 400 rows), since a detector on a fold of a few dozen rows is noisy: scores are
averaged over every fold of every repeat. Large tables are compared on a seeded sample
of :data:`SELECTION_ROWS` rows with one split (:data:`SINGLE_SPLIT_ROWS` and more rows)
instead of :data:`FOLDS` folds, and a
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
from lookalike.tabular.models.base import level_codes, row_features
from lookalike.tabular.models.registry import NO_LEADS, Leads, make_model

#: informative_label: a label whose levels explain less than this share of the other
#: dimensions' variance (mean adjusted correlation ratio) is not split by. On the
#: benchmark tables real labels explain 0.06 (penguins' sex) to 0.46 (Cars93's Type).
MIN_LEVEL_SHARE = 0.05
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
#: The cross-fitting is repeated (new folds) until about this many rows have been
#: compared, at most MAX_REPEATS times.
REPEAT_ROWS = 1_200
MAX_REPEATS = 3
#: Scores within this of the best count as ties (or within 0.5 / sqrt(rows compared,
#: counted once per repeat), about the detector's standard error, when that is larger).
TIE = 0.01
#: Seconds after which the remaining families are skipped.
TIME_BUDGET = 120.0
#: A family must keep its draws this far from its training rows, relative to fresh real
#: rows (median distance to the closest training row), to be chosen.
MIN_DCR_RATIO = 0.9
#: Columns whose prediction from the others is checked when no target is named.
UTILITY_COLUMNS = 3
#: A categorical column with more levels is not taken as a class label to predict.
MAX_LABEL_LEVELS = 20
#: Trees of the utility models' random forests (they only rank families).
UTILITY_TREES = 30

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
    repeats: int = 1
    note: str = ""
    utility_columns: list[str] = field(default_factory=list)
    utility_losses: dict[str, float] = field(default_factory=dict)

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
            "repeats": self.repeats,
            "folds_used": dict(self.folds_used),
            "utility_columns": list(self.utility_columns),
            "utility_loss": {k: round(v, 4) for k, v in self.utility_losses.items()},
            "reason": self._reason(),
        }

    def _reason(self) -> str:
        private = (
            "among the families whose distance-to-closest-record ratio is at least "
            f"{MIN_DCR_RATIO}"
        )
        auc = (
            f"held-out detector ROC AUC ({self.scores[self.winner]:.3f}; 0.5 = indistinguishable)"
        )
        if not self.utility_losses:
            return f"{self.winner!r} had the lowest {auc} {private}"
        columns = ", ".join(map(repr, self.utility_columns))
        return (
            f"{self.winner!r} had the lowest sum of its {auc} and its utility loss "
            f"({self.utility_losses[self.winner]:.3f}: how much worse models trained on "
            f"its rows predict {columns} from the other columns than models trained on "
            f"real rows) {private}"
        )

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
            isinstance(self.utility_columns, list)
            and all(isinstance(c, str) for c in self.utility_columns)
            and isinstance(self.utility_losses, dict)
            and all(
                isinstance(k, str) and isinstance(v, float) and k in self.scores
                for k, v in self.utility_losses.items()
            ),
            "utility_columns must be a list of column names and utility_losses a dict "
            "family -> float over scored families",
        )
        require(
            is_int(self.n_rows) and self.n_rows >= 0 and is_int(self.folds) and self.folds >= 0,
            "n_rows and folds must be ints >= 0",
        )
        require(is_int(self.repeats) and self.repeats >= 1, "repeats must be an int >= 1")


def select_family(
    Z: np.ndarray,
    dims: Sequence[Any],
    frame: pd.DataFrame,
    decode: Callable[[np.ndarray], pd.DataFrame],
    families: Sequence[str],
    rng: np.random.Generator,
    n_jobs: int | None = None,
    checked: Sequence[str] = (),
    leads: Leads = NO_LEADS,
) -> Selection:
    """Compare ``families`` by held-out detector AUC and utility (see the module docstring).

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
    n_jobs : int or None
    checked : sequence of str
        The utility columns, whose prediction from the others must survive
        (:func:`checked_columns` of the whole table).
    leads : Leads
        The columns the families follow (:func:`lead_columns`).
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
    assignments = [rng.permutation(rows.size) % (folds if folds > 1 else 4)]
    tested = range(folds) if folds > 1 else range(1)
    real = frame.iloc[rows].reset_index(drop=True)
    count = repeats(rows.size) if folds > 1 else 1
    selection = Selection(winner=families[0], n_rows=int(rows.size), folds=folds, repeats=count)
    started = time.perf_counter()
    seed = int(rng.integers(0, 2**31 - 1))
    assignments += [rng.permutation(rows.size) % folds for _ in range(count - 1)]
    splits = [(r, fold) for r in range(count) for fold in tested]
    utility = _UtilityCheck(real, checked, seed)
    selection.utility_columns = list(utility.columns)
    for family in families:
        if selection.scores and time.perf_counter() - started > TIME_BUDGET:
            selection.skipped.append(family)
            continue
        begin = time.perf_counter()
        aucs, ratios, weights, losses = [], [], [], []
        for r, fold in splits:
            assignment = assignments[r]
            fit_rows = rows[assignment != fold]
            test = np.flatnonzero(assignment == fold)
            model = make_model(family, fit_rows.size, seed, n_jobs, leads)
            model.fit(Z[fit_rows], dims)
            # As many draws as training rows (the utility models train on either);
            # the detector and the DCR compare as many as the fold holds.
            drawn = model.sample(
                max(fit_rows.size, test.size),
                random_state=np.random.default_rng(seed + fold + FOLDS * r),
            )
            decoded = decode(drawn)
            # Only rows this model never saw are compared with its draws.
            result = detector_auc(
                real.iloc[test].reset_index(drop=True),
                decoded.iloc[: test.size].reset_index(drop=True),
                random_state=seed,
            )
            aucs.append(result.auc)
            ratios.append(dcr_ratio(Z[fit_rows], Z[rows[test]], drawn[: test.size], dims))
            losses.append(utility.loss((r, fold), assignment != fold, test, decoded))
            weights.append(test.size)
            if time.perf_counter() - started > TIME_BUDGET:
                break  # scored on the folds done so far
        selection.folds_used[family] = len(aucs)
        score = float(np.average(aucs, weights=weights))
        selection.scores[family] = score
        selection.dcr_ratios[family] = float(np.average(ratios, weights=weights))
        if utility.columns:
            selection.utility_losses[family] = float(np.average(losses, weights=weights))
        selection.seconds[family] = time.perf_counter() - begin
        logger.info(
            "model='auto': %s scored detector AUC %.3f, DCR ratio %.2f, utility loss %.3f",
            family,
            score,
            selection.dcr_ratios[family],
            selection.utility_losses.get(family, 0.0),
        )
    selection.winner = _winner(selection, families)
    return selection


def repeats(n_rows: int) -> int:
    """Cross-fitting repeats for ``n_rows`` compared rows (see the module docstring)."""
    return int(min(MAX_REPEATS, max(1, REPEAT_ROWS // max(n_rows, 1))))


def _winner(selection: Selection, families: Sequence[str]) -> str:
    """The private family with the lowest detector AUC plus utility loss."""
    private = [f for f in selection.scores if selection.dcr_ratios[f] >= MIN_DCR_RATIO]
    if not private:  # none is private enough: the one that copies least
        private = [max(selection.dcr_ratios, key=lambda f: selection.dcr_ratios[f])]
    # An AUC below 0.5 is the detector's noise, not a better family: it counts as 0.5.
    total = {
        f: max(selection.scores[f], 0.5) + selection.utility_losses.get(f, 0.0) for f in private
    }
    best = min(total.values())
    compared = selection.n_rows * selection.repeats
    tie = max(TIE, 0.5 / np.sqrt(max(compared, 1)))
    return next(f for f in families if f in private and total[f] <= best + tie)


def utility_columns(frame: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
    """Up to :data:`UTILITY_COLUMNS` columns whose prediction "auto" checks.

    The last column when it can be predicted (tables usually end with their outcome):
    a class label (a categorical column of 2 to :data:`MAX_LABEL_LEVELS` levels, missing
    values not counted) or a numeric column that is not constant; then the other class
    labels, fewest levels first (ties in table order). A table without either gets its
    last non-constant numeric columns.

    Parameters
    ----------
    frame : DataFrame
        The real rows, conformed to ``kinds``
        (:func:`lookalike.evaluation.columns.conform`).
    kinds : dict
        Column -> ``"numeric"`` or ``"categorical"``.
    """
    from lookalike.evaluation.columns import CATEGORICAL, MISSING

    labels, numbers = [], []
    for column, kind in kinds.items():
        if kind == CATEGORICAL:
            levels = frame[column][frame[column] != MISSING].nunique()
            if 2 <= levels <= MAX_LABEL_LEVELS:
                labels.append((levels, column))
        elif frame[column].nunique(dropna=True) > 1:
            numbers.append(column)
    by_levels = [column for _, column in sorted(labels, key=lambda pair: pair[0])]
    last = list(kinds)[-1] if kinds else None
    chosen = [last] if last in by_levels or last in numbers else []
    chosen += [column for column in by_levels if column not in chosen]
    if not chosen:
        chosen = numbers[::-1]
    return chosen[:UTILITY_COLUMNS]


def checked_columns(real: pd.DataFrame, target: str | None) -> list[str]:
    """The utility columns of ``real``: ``[target]``, or :func:`utility_columns` without one.

    Empty when the table has fewer than two columns the metrics can use, or when
    ``target`` is not one of them.
    """
    kinds, registry = _metric_kinds(real)
    if len(kinds) < 2:
        return []
    if target is not None:
        return [target] if target in kinds else []
    from lookalike.evaluation.columns import conform

    return utility_columns(conform(real, kinds, "real", registry), kinds)


def lead_columns(
    Z: np.ndarray, dims: Sequence[Any], checked: Sequence[str], target: str | None
) -> Leads:
    """The columns the families follow (:class:`~lookalike.tabular.models.registry.Leads`).

    ``first``: ``target`` when given, else the first of the ``checked`` utility columns
    (the column a model trained on the synthetic rows most likely predicts), else None.
    ``levels``: ``first`` when it is a class label (a discrete column of 2 to
    :data:`MAX_LABEL_LEVELS` levels), else :func:`informative_label` (a number, such as
    abalone's rings, has no levels to split by; the label that explains the most of
    the other columns has).
    """
    first = target if target is not None else (checked[0] if checked else None)
    if _label_codes(Z, dims, first) is not None:
        return Leads(first, first)
    return Leads(first, informative_label(Z, dims))


def informative_label(Z: np.ndarray, dims: Sequence[Any]) -> str | None:
    """The discrete column whose levels explain the most of the other dimensions.

    A candidate is a class label: a column whose dimensions are all discrete, with 2 to
    :data:`MAX_LABEL_LEVELS` levels (all its dimensions together). Its score is the
    mean, over the other columns' dimensions, of the adjusted correlation ratio of the
    normal scores by its levels (``L`` levels, ``n`` scores, missing ones left out):

    .. math::

        \\eta^2 = \\frac{\\sum_l n_l (\\bar z_l - \\bar z)^2}{\\sum_i (z_i - \\bar z)^2},
        \\qquad \\eta^2_{adj} = 1 - (1 - \\eta^2) \\frac{n - 1}{n - L},

    the share of a dimension's variance its levels account for beyond what ``L``
    random groups would. The best such column plays the part of a mixture's class
    (the copula per level of the Gaussian family) when its score is at least
    :data:`MIN_LEVEL_SHARE`; below that (no candidate, or labels unrelated to the
    rest, whose scores are about 0) None: splitting by levels that explain nothing
    would only divide the rows. Ties go to the column met first.
    """
    best, best_score = None, -np.inf
    for column in dict.fromkeys(dim.column for dim in dims):
        codes = _label_codes(Z, dims, column)
        others = [j for j, dim in enumerate(dims) if dim.column != column]
        if codes is None or not others:
            continue
        score = float(np.mean([adjusted_eta2(Z[:, j], codes) for j in others]))
        if score > best_score:
            best, best_score = column, score
    return best if best_score >= MIN_LEVEL_SHARE else None


def _label_codes(Z: np.ndarray, dims: Sequence[Any], column: str | None) -> np.ndarray | None:
    """Each row's level (0 .. L-1) of ``column`` when it is a class label, else None."""
    codes = level_codes(Z, dims, column)
    if codes is None or not 2 <= int(codes.max()) + 1 <= MAX_LABEL_LEVELS:
        return None
    return codes


def adjusted_eta2(z: np.ndarray, codes: np.ndarray) -> float:
    """Adjusted correlation ratio of ``z`` by the levels ``codes`` (NaN scores left out)."""
    valid = ~np.isnan(z)
    n = int(valid.sum())
    if n == 0:
        return 0.0
    values, levels = z[valid], codes[valid]
    counts = np.bincount(levels)
    sums = np.bincount(levels, weights=values)
    present = counts > 0
    mean = float(values.mean())
    total = float(((values - mean) ** 2).sum())
    between = float((counts[present] * (sums[present] / counts[present] - mean) ** 2).sum())
    occupied = int(present.sum())
    if n <= occupied or not total > 0:
        return 0.0
    return 1.0 - (1.0 - between / total) * (n - 1) / (n - occupied)


def _metric_kinds(real: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Column -> metric kind (numeric or categorical), and column -> registry kind."""
    from lookalike.evaluation.columns import METRIC_KINDS, registry_kinds

    registry = {c: k for c, k in registry_kinds(real).items() if k in METRIC_KINDS}
    return {column: METRIC_KINDS[kind] for column, kind in registry.items()}, registry


class _UtilityCheck:
    """Train on synthetic, test on real, beside train on real, for the utility columns.

    The reference (real training rows of a fold predicting its held-out rows) is
    computed once per fold and column and shared by every family.
    """

    def __init__(self, real: pd.DataFrame, checked: Sequence[str], seed: int) -> None:
        from lookalike.evaluation.columns import conform

        self.kinds, registry = _metric_kinds(real)
        self.registry = registry
        self.real = conform(real, self.kinds, "real", registry)
        self.seed = seed
        self.columns: list[str] = []
        if len(self.kinds) >= 2:
            self.columns = [column for column in checked if column in self.kinds]
        self._reference: dict[tuple[int, int, str], float] = {}

    def loss(
        self, split: tuple[int, int], fit_mask: np.ndarray, test: np.ndarray, drawn: pd.DataFrame
    ) -> float:
        """Mean over the utility columns of (train-on-real - train-on-synthetic) score."""
        from lookalike.evaluation.columns import conform
        from lookalike.evaluation.utility import holdout_score

        if not self.columns:
            return 0.0
        held_out = self.real.iloc[test].reset_index(drop=True)
        synthetic = conform(drawn, self.kinds, "synthetic", self.registry)
        losses = []
        for column in self.columns:
            key = (*split, column)
            if key not in self._reference:
                fit_on = self.real[fit_mask].reset_index(drop=True)
                self._reference[key] = holdout_score(
                    fit_on, held_out, column, self.kinds, self.seed, UTILITY_TREES
                )
            reference = self._reference[key]
            score = holdout_score(
                synthetic, held_out, column, self.kinds, self.seed, UTILITY_TREES
            )
            if np.isfinite(reference):
                # R^2 can fall far below 0: a useless model scores 0, as predicting the mean.
                useful = max(score, 0.0) if np.isfinite(score) else 0.0
                losses.append(max(reference, 0.0) - useful)
        return float(np.mean(losses)) if losses else 0.0


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
