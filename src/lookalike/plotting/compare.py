"""Real versus synthetic: scatter plots of two features on identical axes.

matplotlib is imported only when a function runs; see :mod:`lookalike.plotting`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from lookalike.plotting.backend import pyplot as _pyplot

__all__ = ["plot_real_vs_synthetic"]


def _feature_column(data: Any, feature: Any, other: Any, name: str) -> tuple[np.ndarray, str]:
    """One feature of an array or DataFrame as floats, with its display name."""
    columns = getattr(data, "columns", None)
    if isinstance(feature, str):
        if columns is not None:
            if feature not in list(columns):
                raise ValueError(f"{name} has no column {feature!r}; columns: {list(columns)}")
            values, label = data[feature], feature
        else:
            other_columns = getattr(other, "columns", None)
            if other_columns is None or feature not in list(other_columns):
                raise ValueError(
                    f"feature {feature!r} is a name but {name} is an array without column "
                    "names: pass positions, or DataFrames"
                )
            values, label = np.asarray(data)[:, list(other_columns).index(feature)], feature
    elif isinstance(feature, numbers.Integral) and not isinstance(feature, bool):
        position = int(feature)
        n_columns = len(columns) if columns is not None else np.shape(data)[1]
        if not -n_columns <= position < n_columns:
            raise ValueError(
                f"feature {position} is out of range for {name}'s {n_columns} columns"
            )
        if columns is not None:
            values, label = data.iloc[:, position], str(columns[position])
        else:
            values = np.asarray(data)[:, position]
            other_columns = getattr(other, "columns", None)
            label = (
                str(other_columns[position])
                if other_columns is not None and len(other_columns) == n_columns
                else f"feature {position % n_columns}"
            )
    else:
        raise ValueError(f"features must be column names or positions; got {feature!r}")
    try:
        return np.asarray(values, dtype=np.float64), label
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"feature {label!r} of {name} is not numeric: encode it or choose another feature"
        ) from error


def plot_real_vs_synthetic(
    real: Any,
    synthetic: Any,
    features: Sequence[int | str] = (0, 1),
    axes: Any = None,
    s: float = 6.0,
    alpha: float = 0.6,
    titles: tuple[str, str] = ("real", "synthetic"),
) -> np.ndarray:
    """Scatter two features of real and synthetic data side by side on identical axes.

    Parameters
    ----------
    real, synthetic : array-like of shape (n, d) or pandas DataFrame
        The data. A DataFrame's features may be named; a name also selects the same
        position in an array when the other input is a DataFrame.
    features : (int or str, int or str), default=(0, 1)
        The features on the horizontal and vertical axes, by position or column name.
    axes : sequence of two matplotlib Axes, default=None
        Where to draw; a new figure with two panels sharing both axes is made when None.
    s, alpha : float, default=6, 0.6
        Marker size and opacity.
    titles : (str, str), default=("real", "synthetic")

    Returns
    -------
    axes : ndarray of shape (2,) of matplotlib Axes
        The real panel, then the synthetic one; both show the same x and y limits, which
        span both data sets (plus a 5% margin).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from lookalike.plotting import plot_real_vs_synthetic
    >>> rng = np.random.default_rng(0)
    >>> left, right = plot_real_vs_synthetic(rng.normal(size=(50, 3)), rng.normal(size=(40, 3)))
    >>> left.get_xlim() == right.get_xlim() and left.get_ylim() == right.get_ylim()
    True
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    plt = _pyplot()
    if isinstance(features, str) or len(features) != 2:
        raise ValueError(f"features must name exactly two features; got {features!r}")
    for data, name in ((real, "real"), (synthetic, "synthetic")):
        if not hasattr(data, "columns") and np.ndim(data) != 2:
            raise ValueError(
                f"{name} must be a 2-D array (n_samples, n_features) or a DataFrame; got "
                f"shape {np.shape(data)}"
            )
    panels = []
    for data, other, name in ((real, synthetic, "real"), (synthetic, real, "synthetic")):
        (xs, x_label), (ys, y_label) = (
            _feature_column(data, feature, other, name) for feature in features
        )
        panels.append((xs, ys))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.shape != (2,):
        raise ValueError(f"axes must hold exactly two matplotlib Axes; got {axes.shape[0]}")
    for ax, (xs, ys), title, colour in zip(axes, panels, titles, ("C0", "C1"), strict=True):
        ax.scatter(xs, ys, s=s, alpha=alpha, color=colour, edgecolors="none")
        ax.set_title(f"{title} (n={xs.shape[0]})")
        ax.set_xlabel(x_label)
    axes[0].set_ylabel(y_label)
    limits = []
    for coordinate in (0, 1):
        values = np.concatenate([panel[coordinate] for panel in panels])
        values = values[np.isfinite(values)]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        margin = 0.05 * (high - low) if high > low else 0.5
        limits.append((low - margin, high + margin))
    for ax in axes:
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
    return axes
