"""Model-search criteria: BIC, AIC and cross-validated curves of a ModelSearch.

matplotlib is imported only when a function runs; see :mod:`lookalike.plotting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lookalike._search_results import RESULT_COLUMNS
from lookalike.exceptions import NotFittedError
from lookalike.plotting.backend import pyplot as _pyplot

__all__ = ["plot_criterion"]

# Columns of ModelSearch.results_ that are not swept parameters.
_RESULT_COLUMNS = frozenset({"model", "params", *RESULT_COLUMNS})

_CRITERION_LABELS = {
    "bic": "BIC (lower is better)",
    "aic": "AIC (lower is better)",
    "cv_log_likelihood": "held-out log-likelihood per sample (higher is better)",
    "log_likelihood": "log-likelihood per sample",
}


def _results_table(search: Any) -> Any:
    table = getattr(search, "results_", search)
    if not hasattr(table, "columns") or not hasattr(table, "iloc"):
        if hasattr(search, "fit") and not hasattr(search, "results_"):
            raise NotFittedError("the model search has no results_: call fit before plotting")
        raise ValueError(
            "plot_criterion needs a fitted ModelSearch or its results_ DataFrame; got "
            f"{type(search).__name__}"
        )
    return table


def _swept_columns(table: Any) -> list[str]:
    """Parameter columns (not the fixed result columns) whose values differ between rows."""
    swept = []
    for name in table.columns:
        if name in _RESULT_COLUMNS:
            continue
        try:
            varies = table[name].nunique(dropna=True) > 1
        except TypeError:  # unhashable values (lists, dicts) are not plottable parameters
            continue
        if varies:
            swept.append(name)
    return swept


def _is_numeric(column: Any) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return bool(is_numeric_dtype(column) and not is_bool_dtype(column))


def _group_label(columns: list[str], key: Any) -> str:
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(
        f"{c}={'n/a' if v is None or (isinstance(v, float) and np.isnan(v)) else v}"
        for c, v in zip(columns, values, strict=True)
    )


def plot_criterion(
    search: Any,
    x: str | None = None,
    criteria: str | Sequence[str] | None = None,
    hue: str | None = None,
    ax: Any = None,
    logx: bool | None = None,
) -> Any:
    """Plot model-selection criteria against a swept hyper-parameter.

    Parameters
    ----------
    search : fitted ModelSearch or pandas DataFrame
        A search with a ``results_`` table, or the table itself: one row per candidate with
        the swept parameters as columns and the criteria ``"bic"``, ``"aic"``,
        ``"cv_log_likelihood"`` (with ``"cv_std"``) and ``"rank"`` (1 = best).
    x : str, default=None
        Column on the horizontal axis. By default the one numeric parameter column whose
        values vary (e.g. ``"n_components"`` or ``"bandwidth"``); an error lists the
        candidates when there are several. Rows where ``x`` is missing are left out.
    criteria : str or sequence of str, default=None
        Columns on the vertical axis. By default ``"bic"`` and ``"aic"`` (those not all
        NaN), else ``"cv_log_likelihood"``, whose +/- ``cv_std`` band is shaded.
    hue : str, default=None
        Column whose values split the rows into one line per group (e.g.
        ``"covariance_type"`` or ``"model"``). When None and ``x`` repeats, the rows are
        grouped by the other varying columns (parameters and ``"model"``).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    logx : bool, default=None
        Logarithmic ``x`` axis; None chooses it when ``x`` is positive and spans more than
        two decades (typical of bandwidth grids).

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    Each line joins one group's rows sorted by ``x``. The candidate ranked 1 gets a star
    on every criterion's curve (Line2D ``gid`` ``"best"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from lookalike.plotting import plot_criterion
    >>> table = pd.DataFrame({"n_components": [1, 2, 3], "bic": [30.0, 10.0, 12.0],
    ...                       "aic": [28.0, 7.0, 6.5], "rank": [3, 1, 2]})
    >>> ax = plot_criterion(table)
    >>> [line.get_label() for line in ax.get_lines() if line.get_gid() != "best"]
    ['bic', 'aic']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    plt = _pyplot()
    table = _results_table(search)
    if len(table) == 0:
        raise ValueError("the results table is empty: nothing to plot")
    swept = _swept_columns(table)

    if x is None:
        numeric = [name for name in swept if _is_numeric(table[name])]
        if len(numeric) != 1:
            found = f"several: {numeric}" if numeric else "none"
            raise ValueError(
                f"cannot choose x: the numeric swept parameters are {found}. Pass x=..., "
                f"one of the columns {list(table.columns)}"
            )
        x = numeric[0]
    elif x not in table.columns:
        raise ValueError(f"x={x!r} is not a column of the results; columns: {list(table.columns)}")
    if not _is_numeric(table[x]):
        raise ValueError(f"x={x!r} must be a numeric column; got dtype {table[x].dtype}")

    def usable(name: str) -> bool:
        return name in table.columns and bool(table[name].notna().any())

    if criteria is None:
        chosen = [name for name in ("bic", "aic") if usable(name)]
        if not chosen:
            chosen = ["cv_log_likelihood"]
            if not usable("cv_log_likelihood"):
                raise ValueError(
                    "the results have no bic, aic or cv_log_likelihood values: pass criteria=..."
                )
    else:
        chosen = [criteria] if isinstance(criteria, str) else list(criteria)
        unknown = [name for name in chosen if name not in table.columns]
        if unknown or not chosen:
            raise ValueError(
                f"unknown criteria {unknown or chosen}; columns: {list(table.columns)}"
            )

    rows = table[table[x].notna()]
    if len(rows) == 0:
        raise ValueError(f"column {x!r} has no values: nothing to plot against it")
    if hue is not None:
        if hue not in table.columns:
            raise ValueError(f"hue={hue!r} is not a column; columns: {list(table.columns)}")
        groups_by = [hue]
    elif rows[x].duplicated().any():
        others = [name for name in swept if name != x]
        if "model" in rows.columns and rows["model"].nunique() > 1:
            others.append("model")
        groups_by = [name for name in others if rows[name].nunique(dropna=False) > 1]
    else:
        groups_by = []
    if groups_by:
        grouped = [
            (_group_label(groups_by, key), part)
            for key, part in rows.groupby(groups_by, sort=False, dropna=False)
        ]
    else:
        grouped = [("", rows)]

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    marker_cycle = "osD^v<>ph"
    best = rows[rows["rank"] == 1] if "rank" in rows.columns else rows.iloc[:0]
    for c, criterion in enumerate(chosen):
        for g, (label, part) in enumerate(grouped):
            part = part.sort_values(x, kind="stable")
            xs = part[x].to_numpy(dtype=np.float64)
            ys = part[criterion].to_numpy(dtype=np.float64)
            name = criterion if not label else f"{criterion}, {label}"
            (line,) = ax.plot(
                xs,
                ys,
                marker=marker_cycle[c % len(marker_cycle)],
                linestyle=("-", "--", ":", "-.")[c % 4] if len(grouped) > 1 else "-",
                color=f"C{g if len(grouped) > 1 else c}",
                markersize=4,
                label=name,
            )
            if criterion == "cv_log_likelihood" and "cv_std" in part.columns:
                spread = part["cv_std"].to_numpy(dtype=np.float64)
                if np.any(np.isfinite(spread)):
                    ax.fill_between(
                        xs, ys - spread, ys + spread, color=line.get_color(), alpha=0.2
                    )
        if len(best):
            ax.plot(
                best[x].to_numpy(dtype=np.float64)[:1],
                best[criterion].to_numpy(dtype=np.float64)[:1],
                marker="*",
                markersize=14,
                linestyle="none",
                color="black",
                zorder=3,
                gid="best",
                label="best (rank 1)" if c == 0 else None,
            )
    xs_all = rows[x].to_numpy(dtype=np.float64)
    if logx is None:
        logx = bool(np.all(xs_all > 0) and xs_all.max() > 100 * xs_all.min())
    if logx:
        ax.set_xscale("log")
    elif np.all(xs_all == np.round(xs_all)):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # e.g. n_components
    ax.set_xlabel(x)
    ax.set_ylabel(_CRITERION_LABELS.get(chosen[0], chosen[0]) if len(chosen) == 1 else "criterion")
    ax.legend(loc="best", fontsize="small")
    return ax
