"""Sentences that say what differs between real and synthetic values of a column or a pair.

Each candidate difference (a missing rate, a level or value that holds a share of the rows,
real levels absent from the synthetic rows, values off the real grid, values outside the
real range, a shifted or stretched distribution; for pairs a correlation or association)
is measured as a share of rows or a statistic in [0, 1]; the largest one or two are put into
words. Every number is computed from the data given; none is ever printed as NaN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from lookalike.evaluation.columns import MISSING, NUMERIC
from lookalike.evaluation.fidelity import (
    correlation_ratio,
    cramers_v,
    ks_statistic,
    rank_correlation,
)
from lookalike.evaluation.tells import Tell

MAX_DISCRETE_VALUES = 50
"""A numeric column with at most this many distinct values is described by its values."""

ATOM_SHARE = 0.02
"""A value holding at least this share of either table's rows is described as an atom."""

SECOND_SENTENCE_SHARE = 0.1
"""A second difference is added when it affects at least this share of rows."""

GENERIC_WEIGHT = 0.75
"""The KS description ranks with this weight: a specific difference (an atom, a range, a
missing rate) that explains at least three quarters of the KS distance is named instead."""


def share(x: float) -> str:
    """A share as a percentage: ``0%``, ``<0.1%``, ``3.4%``, ``31%``."""
    if not np.isfinite(x):
        return "an unknown share"
    if x == 0:
        return "0%"
    if x < 0.001:
        return "<0.1%"
    if x < 0.1:
        return f"{x:.1%}"
    if x > 0.999 and x < 1:
        return ">99.9%"
    return f"{x:.0%}"


def value_text(value: float, registry_kind: str) -> str:
    """A number as text in the column's own terms (dates for datetime columns)."""
    if not np.isfinite(value):
        return "missing" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    if registry_kind == "datetime":
        stamp = pd.Timestamp(int(value))
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else str(stamp)
    if value == np.round(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _quote(level: object) -> str:
    return "missing" if level == MISSING else repr(str(level)[:40])


def _examples(names: list[object], limit: int = 3) -> str:
    shown = ", ".join(_quote(n) for n in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------


def _numeric_candidates(
    real: np.ndarray, synthetic: np.ndarray, registry_kind: str
) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    fmt = lambda v: value_text(v, registry_kind)  # noqa: E731
    missing_r, missing_s = float(np.isnan(real).mean()), float(np.isnan(synthetic).mean())
    if missing_r != missing_s:
        out.append(
            (
                abs(missing_r - missing_s),
                f"missing in {share(missing_r)} of real rows and {share(missing_s)} of "
                "synthetic rows",
            )
        )
    a, b = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    if a.size == 0 or b.size == 0:
        if a.size != b.size:
            which = "real" if a.size == 0 else "synthetic"
            out.append((1.0, f"no {which} row has a value"))
        return out
    present_s = b.size / synthetic.size
    present_r = a.size / real.size
    values_r, counts_r = np.unique(a, return_counts=True)
    values_s, counts_s = np.unique(b, return_counts=True)
    if values_r.size <= MAX_DISCRETE_VALUES:
        off = float(np.mean(~np.isin(b, values_r)))
        if off > 0:
            if off > 0.999:
                text = (
                    f"real has {values_r.size} distinct values, none of them in the synthetic rows"
                )
            else:
                text = (
                    f"real has {values_r.size} distinct values; {share(off)} of synthetic "
                    "values are none of them"
                )
            out.append((off * present_s, text))
    elif registry_kind == "integer":
        fractional = float(np.mean(b != np.round(b)))
        if fractional > 0:
            out.append(
                (
                    fractional * present_s,
                    f"real values are whole numbers; {share(fractional)} of synthetic values "
                    "are not",
                )
            )
    if values_s.size <= MAX_DISCRETE_VALUES < values_r.size:
        off = float(np.mean(~np.isin(a, values_s)))
        out.append(
            (
                off * present_r,
                f"synthetic has only {values_s.size} distinct values against "
                f"{values_r.size:,} real ones",
            )
        )
    frequent = np.union1d(
        values_r[counts_r >= ATOM_SHARE * a.size], values_s[counts_s >= ATOM_SHARE * b.size]
    )
    if frequent.size:
        share_r = _shares(frequent, values_r, counts_r) * present_r
        share_s = _shares(frequent, values_s, counts_s) * present_s
        gaps = np.abs(share_r - share_s)
        order = np.argsort(-gaps, kind="stable")[:2]
        named = [
            f"the value {fmt(frequent[i])} holds {share(share_r[i])} of real rows and "
            f"{share(share_s[i])} of synthetic rows"
            for i in order
            if gaps[i] > 0 and gaps[i] >= 0.5 * gaps[order[0]]
            and max(share_r[i], share_s[i]) >= ATOM_SHARE
        ]  # fmt: skip
        if named:
            out.append((float(gaps[order[0]]), "; ".join(named)))
    low, high = float(a.min()), float(a.max())
    outside = float(np.mean((b < low) | (b > high)))
    if outside > 0:
        out.append(
            (
                outside * present_s,
                f"{share(outside)} of synthetic values lie outside the real range "
                f"[{fmt(low)}, {fmt(high)}]",
            )
        )
    low_s, high_s = float(b.min()), float(b.max())
    short = float(np.mean((a < low_s) | (a > high_s)))
    if short > 0:
        out.append(
            (
                short * present_r,
                f"{share(short)} of real values lie outside the synthetic range "
                f"[{fmt(low_s)}, {fmt(high_s)}]",
            )
        )
    distance = ks_statistic(a, b)
    if np.isfinite(distance) and distance > 0:
        q_r = np.quantile(a, [0.25, 0.5, 0.75])
        q_s = np.quantile(b, [0.25, 0.5, 0.75])
        out.append(
            (
                GENERIC_WEIGHT * distance,
                f"the distributions differ by up to {share(distance)} of rows (KS): median "
                f"{fmt(q_r[1])} real vs {fmt(q_s[1])} synthetic, middle half "
                f"[{fmt(q_r[0])}, {fmt(q_r[2])}] vs [{fmt(q_s[0])}, {fmt(q_s[2])}]",
            )
        )
    return out


def _shares(wanted: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Share of the rows holding each of ``wanted`` (``values`` sorted, with ``counts``)."""
    position = np.clip(np.searchsorted(values, wanted), 0, values.size - 1)
    found = values[position] == wanted
    return np.where(found, counts[position], 0) / counts.sum()


def _categorical_candidates(real: np.ndarray, synthetic: np.ndarray) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    p = pd.Series(real).value_counts(normalize=True)
    q = pd.Series(synthetic).value_counts(normalize=True)
    absent = [level for level in p.index if level not in q.index]
    if absent:
        mass = float(p[absent].sum())
        if len(absent) == len(p):
            text = f"{len(p):,} real levels, none in the synthetic rows"
        else:
            text = (
                f"{len(absent):,} of the {len(p):,} real levels (holding {share(mass)} of real "
                f"rows) never appear in the synthetic rows, e.g. {_examples(absent)}"
            )
        out.append((mass, text))
    new = [level for level in q.index if level not in p.index]
    if new:
        mass = float(q[new].sum())
        out.append(
            (
                mass,
                f"{share(mass)} of synthetic rows hold {len(new):,} level(s) never seen in the "
                f"real rows, e.g. {_examples(new)}",
            )
        )
    index = p.index.intersection(q.index)
    if len(index):
        gap = (p[index] - q[index]).abs()
        level = gap.idxmax()
        if gap[level] > 0:
            if level == MISSING:
                text = (
                    f"missing in {share(p[level])} of real rows and {share(q[level])} of "
                    "synthetic rows"
                )
            else:
                text = (
                    f"level {_quote(level)} holds {share(p[level])} of real rows and "
                    f"{share(q[level])} of synthetic rows"
                )
            out.append((float(gap[level]), text))
    return out


def describe_column(
    real: npt.ArrayLike, synthetic: npt.ArrayLike, kind: str, registry_kind: str = ""
) -> str:
    """What differs most between a column's real and synthetic values, in words."""
    if kind == NUMERIC:
        candidates = _numeric_candidates(
            np.asarray(real, float), np.asarray(synthetic, float), registry_kind
        )
    else:
        candidates = _categorical_candidates(
            np.asarray(real, dtype=object), np.asarray(synthetic, dtype=object)
        )
    if not candidates:
        return "its values are distributed differently"
    candidates.sort(key=lambda item: -round(item[0], 9))
    text = candidates[0][1]
    if len(candidates) > 1 and candidates[1][0] >= SECOND_SENTENCE_SHARE:
        text += f"; {candidates[1][1]}"
    return text


# ---------------------------------------------------------------------------
# Pairs
# ---------------------------------------------------------------------------


def _statistic(a: npt.ArrayLike, b: npt.ArrayLike, kinds: tuple[str, str]) -> tuple[str, float]:
    if kinds == (NUMERIC, NUMERIC):
        return "rank correlation", rank_correlation(a, b)
    if NUMERIC not in kinds:
        return "association (Cramér's V)", cramers_v(a, b)
    if kinds[0] == NUMERIC:
        a, b = b, a
    return "correlation ratio", correlation_ratio(a, b)


def _number(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else "undefined (a constant column)"


def describe_pair(
    real: pd.DataFrame, synthetic: pd.DataFrame, columns: tuple[str, str], kinds: Mapping[str, str]
) -> str:
    """How the dependence of two columns differs between real and synthetic rows."""
    first, second = columns
    pair_kinds = (kinds[first], kinds[second])
    name, value_r = _statistic(real[first], real[second], pair_kinds)
    _, value_s = _statistic(synthetic[first], synthetic[second], pair_kinds)
    if np.isfinite(value_r) and np.isfinite(value_s) and abs(value_r - value_s) >= 0.05:
        return f"{name} {_number(value_r)} in real rows, {_number(value_s)} in synthetic rows"
    return (
        "their joint distribution differs although each column alone matches "
        f"({name} {_number(value_r)} in real rows, {_number(value_s)} in synthetic rows)"
    )


HUB_PAIRS = 3
"""A column in at least this many pair tells is one tell: its dependence on the others."""


def group_pairs(tells: list[Tell]) -> list[Tell]:
    """Pair tells that share a column (in at least :data:`HUB_PAIRS` of them) as one tell.

    The grouped tell's columns are the shared column first, then its partners by score;
    its AUC and score are those of its best pair. Tells keep their order by score.
    """
    remaining = list(tells)
    grouped: list[Tell] = []
    while True:
        counts: dict[str, int] = {}
        for tell in remaining:
            if tell.kind == "pair":
                for column in tell.columns:
                    counts[column] = counts.get(column, 0) + 1
        hubs = [c for c, k in counts.items() if k >= HUB_PAIRS]
        if not hubs:
            break
        hub = max(hubs, key=lambda c: (counts[c], -_first_index(remaining, c)))
        members = [t for t in remaining if t.kind == "pair" and hub in t.columns]
        partners = [next(c for c in t.columns if c != hub) for t in members]
        best = members[0]
        grouped.append(Tell((hub, *partners), best.auc, best.score))
        remaining = [t for t in remaining if t not in members]
    return sorted(remaining + grouped, key=lambda t: -t.score)


def _first_index(tells: list[Tell], column: str) -> int:
    return next(i for i, t in enumerate(tells) if column in t.columns)


def describe_tells(
    tells: list[Tell],
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    registry: Mapping[str, str],
) -> list[Tell]:
    """The tells with their sentences filled in (pair tells around one column grouped)."""
    out = []
    for tell in group_pairs(tells):
        if tell.kind == "column":
            (column,) = tell.columns
            detail = describe_column(
                real[column], synthetic[column], kinds[column], registry.get(column, "")
            )
            sentence = f"column {column!r} gives it away: {detail}"
        elif tell.kind == "pair":
            first, second = tell.columns
            detail = describe_pair(real, synthetic, (first, second), kinds)
            sentence = f"columns {first!r} and {second!r} give it away together: {detail}"
        else:
            hub, partners = tell.columns[0], tell.columns[1:]
            details = [
                f"with {partner!r} " + describe_pair(real, synthetic, (hub, partner), kinds)
                for partner in partners[:2]
            ]
            more = f" and {len(partners) - 2} more" if len(partners) > 2 else ""
            sentence = (
                f"column {hub!r} gives it away through its dependence on {len(partners)} other "
                f"columns: {'; '.join(details)}{more}"
            )
        out.append(Tell(tell.columns, tell.auc, tell.score, sentence))
    return out
