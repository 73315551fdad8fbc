"""Figures of an evaluation report: real against synthetic data, drawn with matplotlib (Agg).

Each ``*_figure`` function returns a new matplotlib ``Figure`` (or ``None`` when the data do
not call for it); :func:`report_figures` draws all that apply to an
:class:`~lookalike.evaluation.EvaluationReport` and returns them as PNG bytes, ready to be
embedded in the HTML report. matplotlib is imported only when a figure is drawn, and the
non-interactive Agg backend is used so that no display is needed.

- :func:`tell_figure`: a column that gives the synthetic rows away (its real and synthetic
  marginals) or a pair of columns (real and synthetic scatter side by side).
- :func:`marginals_figure`: one panel per column (at most ``max_columns``), histograms on
  shared bins for numeric columns, bars of category shares for categorical ones.
- :func:`correlation_figure`: Pearson correlation matrices of the numeric columns, side by side.
- :func:`pca_figure`: real and synthetic rows projected on the first two principal axes of
  the real rows (categoricals one-hot encoded, missing values filled).
- :func:`digits_figure`: real and synthetic rows shown as 8x8 images, when they look like
  digits (64 numeric columns within 0..16).
- :func:`dcr_figure`: distances to the closest training row, of synthetic rows and of holdout
  rows.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lookalike.evaluation.columns import (
    METRIC_KINDS,
    encode_rows,
    levels,
    numeric_values,
    registry_kinds,
)
from lookalike.evaluation.distances import nearest_distances
from lookalike.evaluation.fidelity import correlation_matrix
from lookalike.plotting.backend import pyplot

#: Most columns drawn in the marginal-distribution figure (those a detector finds most
#: different first, when the report has column AUCs).
MAX_MARGINAL_COLUMNS = 16

#: Most rows drawn in the scatter and digit figures (a seeded subsample beyond that).
MAX_POINTS = 2000

#: Most rows of each table in the correlation figure.
MAX_CORRELATION_ROWS = 20_000

REAL_COLOUR = "#1f77b4"
SYNTHETIC_COLOUR = "#ff7f0e"
HOLDOUT_COLOUR = "#2ca02c"


@dataclass(frozen=True)
class RenderedFigure:
    """One figure of the report: a title, a caption and the PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    return pyplot("Agg", needed_by="the evaluation report's figures need")


# --------------------------------------------------------------------------------------
# Columns and data


def column_kinds(frame: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> dict[str, str]:
    """Column -> ``"numeric"`` or ``"categorical"``: ``kinds`` where given, else from the
    tabular column registry (id columns left out).

    Examples
    --------
    >>> import pandas as pd
    >>> column_kinds(pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "x"], "c": [True, False]}))
    {'a': 'numeric', 'b': 'categorical', 'c': 'categorical'}
    """
    if kinds:
        return {str(name): str(kinds[name]) for name in frame.columns if name in kinds}
    registry = registry_kinds(frame)
    return {name: METRIC_KINDS[kind] for name, kind in registry.items() if kind in METRIC_KINDS}


def _numeric(series: pd.Series) -> np.ndarray:
    try:
        return numeric_values(series)
    except (TypeError, ValueError):
        return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)


def _labels(series: pd.Series) -> np.ndarray:
    """Category labels as text, with missing values as the label ``"<missing>"``."""
    return levels(series)


def report_distances(report: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Distances to the closest training row: of synthetic rows, and of holdout rows (or None).

    Taken from the report's ``distances`` attribute when it has one (a mapping with keys
    ``"synthetic"`` and ``"holdout"``), else computed from ``report.real``, ``.synthetic`` and
    ``.holdout`` with :func:`~lookalike.evaluation.columns.encode_rows` and
    :func:`~lookalike.evaluation.distances.nearest_distances`.
    """
    given = getattr(report, "distances", None)
    if isinstance(given, Mapping) and given.get("synthetic") is not None:
        holdout = given.get("holdout")
        return (
            np.asarray(given["synthetic"], dtype=np.float64),
            None if holdout is None else np.asarray(holdout, dtype=np.float64),
        )
    real, synthetic, holdout = report.real, report.synthetic, report.holdout
    kinds = column_kinds(real, getattr(report, "kinds", None))
    frames = [_plain(real, kinds), _plain(synthetic, kinds)]
    if holdout is not None:
        frames.append(_plain(holdout, kinds))
    encoded = encode_rows(frames[0], frames, kinds).arrays
    to_synthetic = nearest_distances(encoded[0], encoded[1])
    to_holdout = nearest_distances(encoded[0], encoded[2]) if holdout is not None else None
    return to_synthetic, to_holdout


def _plain(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Numerics as floats and categoricals as text levels (what the encodings take)."""
    return pd.DataFrame(
        {
            name: _numeric(frame[name]) if kind == "numeric" else _labels(frame[name])
            for name, kind in kinds.items()
            if name in frame.columns
        }
    )


def looks_like_digits(frame: pd.DataFrame) -> bool:
    """True when ``frame`` has 64 numeric columns whose values all lie within 0..16."""
    if frame.shape[1] != 64:
        return False
    if not all(pd.api.types.is_numeric_dtype(frame[name]) for name in frame.columns):
        return False
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(finite.min() >= 0.0) and bool(finite.max() <= 16.0)


def _subsample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
    return frame.iloc[rows]


# --------------------------------------------------------------------------------------
# Figures


def marginals_figure(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str] | None = None,
    max_columns: int = MAX_MARGINAL_COLUMNS,
) -> Any:
    """Real and synthetic marginal distributions, one panel per column (the first few).

    Numeric columns: density histograms on common bins (edges from both samples' finite
    values). Categorical columns: side-by-side bars of each category's share (the 12 most
    frequent real categories). Returns None when there is no shared column.
    """
    kinds = column_kinds(real, kinds)
    names = [name for name in kinds if name in synthetic.columns][:max_columns]
    if not names:
        return None
    plt = _pyplot()
    n_cols = min(4, len(names))
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.5 * n_rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        if kinds[name] == "numeric":
            _numeric_panel(ax, _numeric(real[name]), _numeric(synthetic[name]))
        else:
            _categorical_panel(ax, _labels(real[name]), _labels(synthetic[name]))
        ax.set_title(_short(name), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.locator_params(axis="y", nbins=3)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7)
    # Fixed spacing: tight_layout costs seconds with two dozen panels.
    height = 2.5 * n_rows  # inches; margins below are fixed in inches too
    fig.subplots_adjust(
        left=0.05,
        right=0.98,
        top=1 - 0.3 / height,
        bottom=0.75 / height,
        wspace=0.3,
        hspace=1.0 / 1.45,
    )
    return fig


def _numeric_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray) -> None:
    real, synthetic = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    both = np.concatenate([real, synthetic])
    if both.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    low, high = float(both.min()), float(both.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, 31)
    for values, colour, label in (
        (real, REAL_COLOUR, "real"),
        (synthetic, SYNTHETIC_COLOUR, "synthetic"),
    ):
        if values.size:
            heights, _ = np.histogram(values, bins=edges, density=True)
            ax.stairs(heights, edges, fill=True, alpha=0.45, color=colour, label=label)


def _categorical_panel(ax: Any, real: np.ndarray, synthetic: np.ndarray) -> None:
    counts = pd.Series(real).value_counts()
    categories = [str(c) for c in counts.index[:12]]
    share_real = [float(np.mean(real == c)) if real.size else 0.0 for c in categories]
    share_synthetic = [
        float(np.mean(synthetic == c)) if synthetic.size else 0.0 for c in categories
    ]
    positions = np.arange(len(categories))
    ax.bar(positions - 0.2, share_real, width=0.4, color=REAL_COLOUR, label="real")
    ax.bar(positions + 0.2, share_synthetic, width=0.4, color=SYNTHETIC_COLOUR, label="synthetic")
    ax.set_xticks(positions, [_short(c, 10) for c in categories], rotation=45, ha="right")
    ax.set_ylabel("share", fontsize=7)


def correlation_figure(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str] | None = None
) -> Any:
    """Pearson correlation matrices of the numeric columns: real, synthetic, difference.

    Correlations use pairwise-complete rows; a constant column gives NaN (drawn blank).
    Returns None when fewer than two numeric columns are shared.
    """
    kinds = column_kinds(real, kinds)
    names = [n for n, k in kinds.items() if k == "numeric" and n in synthetic.columns]
    if len(names) < 2:
        return None
    plt = _pyplot()
    matrices = [
        correlation_matrix(
            pd.DataFrame({n: _numeric(frame[n]) for n in names}), names
        )
        for frame in (_subsample(real, MAX_CORRELATION_ROWS, 0),
                      _subsample(synthetic, MAX_CORRELATION_ROWS, 1))
    ]  # fmt: skip
    panels = [
        ("real", matrices[0], "coolwarm", -1.0, 1.0),
        ("synthetic", matrices[1], "coolwarm", -1.0, 1.0),
        ("|real - synthetic|", np.abs(matrices[0] - matrices[1]), "Greys", 0.0, 1.0),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    for ax, (title, matrix, cmap, vmin, vmax) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        if len(names) <= 20:
            labels = [_short(n, 10) for n in names]
            ax.set_xticks(range(len(names)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(names)), labels, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def pca_figure(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str] | None = None,
    random_state: int = 0,
) -> Any:
    """Real and synthetic rows on the first two principal axes of the encoded real rows.

    Rows are encoded by :func:`encode_rows` (standardised numerics, one-hot categoricals);
    at most :data:`MAX_POINTS` rows of each are drawn. Returns None with fewer than two
    encoded columns or fewer than three real rows.
    """
    kinds = column_kinds(real, kinds)
    real_part = _subsample(real, MAX_POINTS, random_state)
    synthetic_part = _subsample(synthetic, MAX_POINTS, random_state + 1)
    plain_real = _plain(real, kinds)
    encoded_real, encoded_synthetic = encode_rows(
        plain_real, [_plain(real_part, kinds), _plain(synthetic_part, kinds)], kinds
    ).arrays
    if encoded_real.shape[1] < 2 or encoded_real.shape[0] < 3:
        return None
    centre = encoded_real.mean(axis=0)
    _, singular, axes_t = np.linalg.svd(encoded_real - centre, full_matrices=False)
    basis = axes_t[:2].T
    share = singular[:2] ** 2 / max(float(np.sum(singular**2)), np.finfo(float).tiny)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for rows, colour, label in (
        (encoded_real, REAL_COLOUR, "real"),
        (encoded_synthetic, SYNTHETIC_COLOUR, "synthetic"),
    ):
        projected = (rows - centre) @ basis
        ax.scatter(projected[:, 0], projected[:, 1], s=6, alpha=0.45, color=colour, label=label)
    ax.set_xlabel(f"PC 1 ({share[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.0%} of variance)")
    ax.legend()
    fig.tight_layout()
    return fig


def digits_figure(real: pd.DataFrame, synthetic: pd.DataFrame, n_images: int = 50) -> Any:
    """The first ``n_images`` real and synthetic rows as 8x8 images, side by side.

    Returns None unless both frames :func:`looks_like_digits`.
    """
    if not (looks_like_digits(real) and looks_like_digits(synthetic)):
        return None
    plt = _pyplot()
    from lookalike.plotting import plot_digits

    images = [
        np.nan_to_num(frame.to_numpy(dtype=np.float64, na_value=np.nan)[:n_images])
        for frame in (real, synthetic)
    ]
    fig, ax = plt.subplots(figsize=(11, 0.55 * -(-n_images // 10) + 1.0))
    plot_digits(images[0], generated=images[1], ax=ax)
    fig.tight_layout()
    return fig


def dcr_figure(synthetic: np.ndarray, holdout: np.ndarray | None) -> Any:
    """Histograms of the distance to the closest training row (DCR).

    Synthetic rows much closer to the training rows than holdout rows are (a spike near 0)
    suggest copied training rows.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    values = [synthetic] + ([holdout] if holdout is not None else [])
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    high = float(finite.max()) if finite.size else 1.0
    edges = np.linspace(0.0, high if high > 0 else 1.0, 41)
    style = {"bins": edges, "density": True, "histtype": "stepfilled", "alpha": 0.45}
    ax.hist(synthetic, color=SYNTHETIC_COLOUR, label="synthetic -> train", **style)
    if holdout is not None:
        ax.hist(holdout, color=HOLDOUT_COLOUR, label="holdout -> train", **style)
    ax.set_xlabel("distance to the closest training row (standardised units)")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    return fig


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    plt = _pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def tell_figure(real: pd.DataFrame, synthetic: pd.DataFrame, tell: Any,
                kinds: Mapping[str, str], random_state: int = 0) -> Any:  # fmt: skip
    """The figure of one tell: a column's marginals, or a pair's real and synthetic scatter.

    A pair is drawn as two panels (real, synthetic) on the same axes: numeric columns on
    their values, categorical ones on the positions of their :data:`PAIR_LEVELS` most
    frequent real levels (jittered; rarer levels left out), at most :data:`MAX_POINTS`
    rows each.
    """
    plt = _pyplot()
    columns = tuple(tell.columns)[:2]  # a dependence tell: its column and best partner
    if len(columns) == 1:
        (name,) = columns
        fig, ax = plt.subplots(figsize=(6.5, 3.0))
        if kinds[name] == "numeric":
            _numeric_panel(ax, _numeric(real[name]), _numeric(synthetic[name]))
        else:
            _categorical_panel(ax, _labels(real[name]), _labels(synthetic[name]))
        ax.set_title(_short(name, 60), fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig
    first, second = columns
    real_part = _subsample(real, MAX_POINTS, random_state)
    synthetic_part = _subsample(synthetic, MAX_POINTS, random_state + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharex=True, sharey=True)
    coordinates = [
        _pair_coordinates(real, (real_part, synthetic_part), name, kinds[name], random_state)
        for name in (first, second)
    ]
    for k, (ax, colour, label) in enumerate(
        zip(axes, (REAL_COLOUR, SYNTHETIC_COLOUR), ("real", "synthetic"), strict=True)
    ):
        x, y = coordinates[0][0][k], coordinates[1][0][k]
        ax.scatter(x, y, s=5, alpha=0.35, color=colour, label=label)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(_short(first, 40), fontsize=9)
        for axis, (_, ticks) in zip((ax.xaxis, ax.yaxis), coordinates, strict=True):
            if ticks is not None:
                axis.set_ticks(range(len(ticks)), [_short(t, 10) for t in ticks], fontsize=7)
    axes[0].set_ylabel(_short(second, 40), fontsize=9)
    fig.tight_layout()
    return fig


PAIR_LEVELS = 8
"""Levels of a categorical column drawn in a pair's scatter."""


def _pair_coordinates(
    real: pd.DataFrame, parts: tuple[pd.DataFrame, pd.DataFrame], name: str, kind: str, seed: int
) -> tuple[list[np.ndarray], list[str] | None]:
    """Plot coordinates of a column in each part, and tick labels for categoricals."""
    if kind == "numeric":
        return [_numeric(part[name]) for part in parts], None
    top = list(pd.Series(_labels(real[name])).value_counts().index[:PAIR_LEVELS])
    index = pd.Index(top)
    rng = np.random.default_rng(seed)
    out = []
    for part in parts:
        position = index.get_indexer(_labels(part[name])).astype(float)
        position[position < 0] = np.nan
        out.append(position + rng.uniform(-0.3, 0.3, size=position.size))
    return out, [str(t) for t in top]


MAX_TELL_FIGURES = 6
"""Tells drawn in the report (the worst first)."""


def report_figures(report: Any, random_state: int = 0) -> list[RenderedFigure]:
    """Draw every figure that applies to ``report`` and return them as PNG bytes.

    Parameters
    ----------
    report : EvaluationReport
        Uses its ``real``, ``synthetic``, ``holdout`` and ``kinds`` (and ``tells`` and
        ``distances`` when present).
    random_state : int, default=0
        Seed of the row subsample in scatter plots.

    Returns
    -------
    list of RenderedFigure
        In order: one per tell (keys ``"tell-1"``, ``"tell-2"``, ... at most
        :data:`MAX_TELL_FIGURES`), then marginals, correlations, PCA projection, digits,
        DCR histograms; a figure that does not apply (e.g. correlations with one numeric
        column) is left out.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    >>> fake = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    >>> report = SimpleNamespace(real=real, synthetic=fake, holdout=None, kinds=None)
    >>> [figure.key for figure in report_figures(report)]
    ['marginals', 'correlation', 'pca', 'dcr']
    """
    real, synthetic = report.real, report.synthetic
    kinds = column_kinds(real, getattr(report, "kinds", None))
    drawn: list[tuple[str, str, str, Any]] = []
    for i, tell in enumerate(list(getattr(report, "tells", None) or [])[:MAX_TELL_FIGURES]):
        if not all(name in kinds for name in tell.columns):
            continue
        what = "values" if len(tell.columns) == 1 else "rows"
        title = " and ".join(str(c) for c in tell.columns[:2])
        if len(tell.columns) > 2:
            title += f" (and {len(tell.columns) - 2} more columns)"
        drawn.append(
            (
                f"tell-{i + 1}",
                title,
                f"{tell.sentence[:1].upper()}{tell.sentence[1:]}. Real (blue) and synthetic "
                f"(orange) {what}; detector AUC on these columns {tell.auc:.3f}.",
                tell_figure(real, synthetic, tell, kinds, random_state),
            )
        )
    shown = min(len(kinds), MAX_MARGINAL_COLUMNS)
    ranked = _columns_by_auc(report, kinds)
    if ranked is not None:
        kinds = {name: kinds[name] for name in ranked}
        which = "most different first"
        more = f" (the {shown} of {len(kinds)} columns a detector finds most different)"
    else:
        which = ""
        more = f" (the first {shown} of {len(kinds)} columns)"
    more = more if len(kinds) > shown else (f" ({which})" if which else "")
    drawn += [
        (
            "marginals",
            "Marginal distributions",
            f"Real (blue) and synthetic (orange) values of each column{more}.",
            marginals_figure(real, synthetic, kinds),
        ),
        (
            "correlation",
            "Correlations",
            "Pearson correlations between numeric columns; right: their absolute difference.",
            correlation_figure(real, synthetic, kinds),
        ),
        (
            "pca",
            "PCA projection",
            "Rows projected on the first two principal axes of the real rows "
            "(standardised numerics, one-hot categoricals, missing values at the mean).",
            pca_figure(real, synthetic, kinds, random_state),
        ),
        (
            "digits",
            "Digits",
            "The first real (left) and synthetic (right) rows drawn as 8x8 images.",
            digits_figure(real, synthetic),
        ),
    ]
    to_synthetic, to_holdout = report_distances(report)
    without = "" if to_holdout is not None else " (no holdout was given)"
    drawn.append(
        (
            "dcr",
            "Distance to the closest training row",
            "Synthetic rows far closer to training rows than holdout rows are suggest "
            f"memorised training rows{without}.",
            dcr_figure(to_synthetic, to_holdout),
        )
    )
    return [
        RenderedFigure(key, title, caption, figure_png(fig))
        for key, title, caption, fig in drawn
        if fig is not None
    ]


def _columns_by_auc(report: Any, kinds: Mapping[str, str]) -> list[str] | None:
    """The columns by decreasing single-column detector AUC (None without those AUCs)."""
    metrics = getattr(report, "metrics", None)
    if metrics is None or "metric" not in metrics:
        return None
    rows = metrics[metrics["metric"] == "column_auc"]
    auc = {str(c): float(v) for c, v in zip(rows["column"], rows["value"], strict=True)}
    if not auc:
        return None
    return sorted(kinds, key=lambda c: -auc.get(c, 0.0) if np.isfinite(auc.get(c, 0.0)) else 0)


def _short(text: Any, width: int = 24) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"
