"""Column and pair statistics comparing two tables: KS, total variation, correlations, Cramér's V.

Per column, the Kolmogorov-Smirnov statistic (numeric) or the total variation distance
(categorical, missing values a level); per pair of columns, the absolute change of the
Pearson correlation (numeric pairs, pairwise-complete rows) or of Cramér's V (categorical
pairs). Every function works on conformed tables (numerics float64, categoricals text levels,
see :mod:`lookalike.evaluation.columns`) in time linear in the rows, whatever the number of
levels: contingency tables are counted sparsely, never built as dense level-by-level arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from lookalike.evaluation.columns import MISSING, NUMERIC

MAX_PAIR_ROWS = 2_000
"""At most this many pair rows (largest differences first) per pair metric in the table."""

DENSE_PAIR_CELLS = 2**22
"""Contingency tables with at most this many cells are counted with ``bincount``."""


def ks_statistic(real: npt.ArrayLike, synthetic: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of the non-missing values (NaN if none).

    Notes
    -----
    :math:`D = \\sup_x |F_{real}(x) - F_{syn}(x)|`, the largest gap between the empirical
    distribution functions, computed by :func:`scipy.stats.ks_2samp`; 0 for identical
    samples, 1 for samples with disjoint ranges.
    """
    a = np.asarray(real, dtype=float)
    b = np.asarray(synthetic, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    # Only the statistic is used; "asymp" skips the exact p-value, which warns on ties.
    return float(stats.ks_2samp(a, b, method="asymp").statistic)


def _as_levels(values: npt.ArrayLike) -> pd.Series:
    """Text levels (missing values as :data:`MISSING`) in an object Series.

    Conformed columns are text already and pass through without a per-item conversion.
    """
    array = np.asarray(values, dtype=object)
    missing = pd.isna(array)
    if missing.any() or pd.api.types.infer_dtype(array, skipna=False) != "string":
        array = np.array([MISSING if m else str(v) for v, m in zip(array, missing, strict=True)],
                         dtype=object)  # fmt: skip
    return pd.Series(array, dtype=object)


def total_variation(real: npt.ArrayLike, synthetic: npt.ArrayLike) -> float:
    """Total variation distance between the level frequencies, missing values a level.

    Notes
    -----
    :math:`TV = \\frac12 \\sum_\\ell |p_\\ell - q_\\ell|` over the union of levels, with
    :math:`p, q` the relative frequencies in the real and synthetic columns; in
    :math:`[0, 1]`.
    """
    p = _as_levels(real).value_counts(normalize=True)
    q = _as_levels(synthetic).value_counts(normalize=True)
    index = p.index.union(q.index)
    difference = p.reindex(index, fill_value=0.0) - q.reindex(index, fill_value=0.0)
    return float(0.5 * np.abs(difference.to_numpy()).sum())


def _codes(values: npt.ArrayLike) -> tuple[np.ndarray, int]:
    """Integer codes of a column's levels (missing values a level) and their number."""
    codes, uniques = pd.factorize(_as_levels(values))
    return codes.astype(np.int64), len(uniques)


def _pair_counts(
    a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero cell counts of the contingency table of two coded columns, with the row
    and column index of each cell."""
    (codes_a, n_a), (codes_b, n_b) = a, b
    cell = codes_a * n_b + codes_b
    if n_a * n_b <= DENSE_PAIR_CELLS:
        counts = np.bincount(cell, minlength=n_a * n_b)
        present = np.flatnonzero(counts)
        return counts[present].astype(float), present // n_b, present % n_b
    present, counts = np.unique(cell, return_counts=True)
    return counts.astype(float), present // n_b, present % n_b


def cramers_v(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cramér's V between two categorical columns (missing values a level; NaN if constant).

    Notes
    -----
    :math:`V = \\sqrt{\\chi^2 / (n \\, (\\min(r, c) - 1))}` with :math:`\\chi^2` the
    Pearson statistic of the :math:`r \\times c` contingency table of observed levels,
    without continuity correction; computed from the non-zero cells as
    :math:`\\chi^2 = n (\\sum_{ij} n_{ij}^2 / (n_{i\\cdot} n_{\\cdot j}) - 1)`.
    (Tschuprow's T divides by :math:`\\sqrt{(r - 1)(c - 1)}` instead; the two agree only
    for square tables.)
    """
    return _cramers_v_of_codes(_codes(a), _codes(b))


def _cramers_v_of_codes(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> float:
    counts, rows, cols = _pair_counts(a, b)
    n = counts.sum()
    row_totals = np.bincount(rows, weights=counts)
    col_totals = np.bincount(cols, weights=counts)
    r, c = np.count_nonzero(row_totals), np.count_nonzero(col_totals)
    if n == 0 or min(r, c) < 2:
        return float("nan")
    chi2 = n * (np.sum(counts**2 / (row_totals[rows] * col_totals[cols])) - 1.0)
    return float(np.sqrt(max(chi2, 0.0) / (n * (min(r, c) - 1))))


def correlation_ratio(categories: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """Correlation ratio :math:`\\eta`: how much of a numeric column's variance the levels
    of a categorical column explain (square root of between-level / total variance).

    Rows with a missing number are left out; NaN when fewer than two rows or no variance.
    """
    x = np.asarray(values, dtype=float)
    keep = ~np.isnan(x)
    x = x[keep]
    if x.size < 2:
        return float("nan")
    codes, _ = pd.factorize(_as_levels(categories)[keep])
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=x) / np.maximum(counts, 1)
    total = float(np.sum((x - x.mean()) ** 2))
    if total <= 0:
        return float("nan")
    between = float(np.sum(counts * (means - x.mean()) ** 2))
    return float(np.sqrt(min(between / total, 1.0)))


def rank_correlation(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman's rank correlation of the rows where both values are present (NaN if
    fewer than three or constant)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 3:
        return float("nan")
    rx, ry = stats.rankdata(x[keep]), stats.rankdata(y[keep])
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def correlation_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Pearson correlations of numeric columns on pairwise-complete rows (NaN if constant)."""
    values = frame[columns].to_numpy(dtype=np.float64)
    if not np.isnan(values).any():
        with np.errstate(divide="ignore", invalid="ignore"):
            centred = values - values.mean(axis=0)
            norms = np.sqrt(np.einsum("ij,ij->j", centred, centred))
            matrix = (centred.T @ centred) / np.outer(norms, norms)
        matrix[~np.isfinite(matrix)] = np.nan
        return np.clip(matrix, -1.0, 1.0)
    return frame[columns].corr().to_numpy()


def column_statistics(
    real: pd.DataFrame, other: pd.DataFrame, kinds: Mapping[str, str]
) -> dict[str, tuple[str, float]]:
    """Per column: ``("ks", D)`` for numeric columns, ``("tv", TV)`` for categorical ones."""
    out = {}
    for column, kind in kinds.items():
        if kind == NUMERIC:
            out[column] = ("ks", ks_statistic(real[column], other[column]))
        else:
            out[column] = ("tv", total_variation(real[column], other[column]))
    return out


def pair_statistics(
    real: pd.DataFrame, other: pd.DataFrame, kinds: Mapping[str, str]
) -> dict[str, dict[str, float]]:
    """Per pair ``"a|b"``: ``correlation_diff`` (numeric pairs) and ``cramers_v_diff``
    (categorical pairs); pairs where a statistic is undefined (a constant column) are
    left out."""
    numeric = [c for c, k in kinds.items() if k == NUMERIC]
    categorical = [c for c, k in kinds.items() if k != NUMERIC]
    out: dict[str, dict[str, float]] = {"correlation_diff": {}, "cramers_v_diff": {}}
    if len(numeric) >= 2:
        difference = np.abs(correlation_matrix(real, numeric) - correlation_matrix(other, numeric))
        rows, cols = np.triu_indices(len(numeric), k=1)
        for i, j in zip(rows, cols, strict=True):
            if np.isfinite(difference[i, j]):
                out["correlation_diff"][f"{numeric[i]}|{numeric[j]}"] = float(difference[i, j])
    codes_real = {c: _codes(real[c]) for c in categorical}
    codes_other = {c: _codes(other[c]) for c in categorical}
    for a, b in combinations(categorical, 2):
        value = abs(
            _cramers_v_of_codes(codes_real[a], codes_real[b])
            - _cramers_v_of_codes(codes_other[a], codes_other[b])
        )
        if np.isfinite(value):
            out["cramers_v_diff"][f"{a}|{b}"] = float(value)
    return out
