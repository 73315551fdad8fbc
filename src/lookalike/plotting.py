"""Figures for densities and samples. matplotlib is imported only when a function runs.

Every function takes an optional matplotlib ``ax`` (or ``axes`` for two-panel figures) and
returns what it drew on, so figures compose: draw several plots into one ``plt.subplots`` grid,
then save or show the figure yourself.

- :func:`plot_digits`: flattened images (e.g. 8x8 digits) as a grid, real beside generated.
- :func:`plot_mixture`: points coloured by component and the 1-, 2-, 3-sigma ellipses of a
  Gaussian mixture in two chosen features.
- :func:`plot_criterion`: BIC / AIC / cross-validated log-likelihood curves of a model search.
- :func:`plot_density_1d`: histogram of 1-D data, the fitted density and synthetic samples.
- :func:`plot_real_vs_synthetic`: real and synthetic scatter plots on identical axes.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike._features import feature_indices
from lookalike._search_results import RESULT_COLUMNS
from lookalike.exceptions import NotFittedError


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lookalike.plotting needs matplotlib: pip install 'lookalike[plot]'"
        ) from error
    return plt


# --------------------------------------------------------------------------------------
# Digits


def digit_mosaic(
    images: npt.ArrayLike, n_cols: int = 10, image_shape: tuple[int, int] = (8, 8), gap: int = 1
) -> np.ndarray:
    """Tile flattened images into one 2-D array, row by row, with ``gap`` pixels between.

    Empty cells and gaps are NaN so that they render as background.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width) or (n_images, height, width)
    n_cols : int, default=10
        Images per row of the mosaic.
    image_shape : (int, int), default=(8, 8)
        ``(height, width)`` of one image.
    gap : int, default=1
        NaN pixels between neighbouring images.

    Returns
    -------
    mosaic : ndarray of shape (n_rows * (height + gap) - gap, n_cols * (width + gap) - gap)
        With ``n_rows = ceil(n_images / n_cols)`` (at least 1).

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.plotting import digit_mosaic
    >>> digit_mosaic(np.arange(8).reshape(2, 4), n_cols=2, image_shape=(2, 2)).shape
    (2, 5)
    """
    data = np.asarray(images, dtype=np.float64)
    height, width = image_shape
    if data.ndim == 3 and data.shape[1:] == (height, width):
        data = data.reshape(data.shape[0], height * width)
    if data.ndim != 2 or data.shape[1] != height * width:
        raise ValueError(
            f"images must have shape (n_images, {height * width}) for image_shape "
            f"{image_shape}; got {data.shape}"
        )
    if n_cols < 1:
        raise ValueError(f"n_cols must be at least 1; got {n_cols}")
    n_rows = max(-(-data.shape[0] // n_cols), 1)
    mosaic = np.full(
        (n_rows * (height + gap) - gap, n_cols * (width + gap) - gap), np.nan, dtype=np.float64
    )
    for index, image in enumerate(data):
        row, col = divmod(index, n_cols)
        top, left = row * (height + gap), col * (width + gap)
        mosaic[top : top + height, left : left + width] = image.reshape(height, width)
    return mosaic


def plot_digits(
    images: npt.ArrayLike,
    generated: npt.ArrayLike | None = None,
    n_cols: int = 10,
    image_shape: tuple[int, int] = (8, 8),
    ax: Any = None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 16.0,
) -> Any:
    """Show flattened images (e.g. 8x8 digits) as a grid, optionally beside generated ones.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width)
        The real images, drawn in reading order.
    generated : array-like of shape (n_generated, height * width), default=None
        Images drawn from a model. When given, their grid is drawn to the right of the real
        grid in the same axes, separated by a blank gap one image wide; the two halves are
        labelled "real" and "generated" above the image.
    n_cols : int, default=10
        Images per row of each grid.
    image_shape : (int, int), default=(8, 8)
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    title : str, default=None
    vmin, vmax : float, default=0, 16
        Intensity range mapped to the colour scale (scikit-learn's digits span 0-16).

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    The pixels shown are those of :func:`digit_mosaic` (real grid, then a NaN gap of
    ``image_shape[1]`` columns, then the generated grid, padded with NaN rows to the same
    height). NaN renders as background.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from lookalike.plotting import plot_digits
    >>> rng = np.random.default_rng(0)
    >>> ax = plot_digits(rng.uniform(0, 16, (20, 64)), generated=rng.uniform(0, 16, (20, 64)))
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['real', 'generated']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    if isinstance(generated, numbers.Number):
        raise TypeError(
            f"generated must be an array of images; got the number {generated!r}. n_cols is "
            "now the third parameter: pass it by keyword, plot_digits(images, n_cols=...)"
        )
    plt = _pyplot()
    mosaic = digit_mosaic(images, n_cols=n_cols, image_shape=image_shape)
    centres: list[float] = []
    if generated is not None:
        other = digit_mosaic(generated, n_cols=n_cols, image_shape=image_shape)
        height = max(mosaic.shape[0], other.shape[0])
        gap_width = image_shape[1]
        combined = np.full(
            (height, mosaic.shape[1] + gap_width + other.shape[1]), np.nan, dtype=np.float64
        )
        combined[: mosaic.shape[0], : mosaic.shape[1]] = mosaic
        combined[: other.shape[0], mosaic.shape[1] + gap_width :] = other
        centres = [
            (mosaic.shape[1] - 1) / 2,
            mosaic.shape[1] + gap_width + (other.shape[1] - 1) / 2,
        ]
        mosaic = combined
    if ax is None:
        width = 0.6 * n_cols * (2.2 if generated is not None else 1.0)
        _, ax = plt.subplots(figsize=(width, max(mosaic.shape[0] / mosaic.shape[1] * width, 1)))
    ax.imshow(mosaic, cmap="binary", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_yticks([])
    if centres:
        ax.set_xticks(centres, ["real", "generated"])
        ax.xaxis.tick_top()
        ax.tick_params(axis="x", length=0)
    else:
        ax.set_xticks([])
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------------------
# Gaussian mixtures


def _component_colours(n_components: int) -> np.ndarray:
    """Distinct RGBA colours, one row per component."""
    from matplotlib import colormaps

    if n_components <= 20:
        # Listed colour maps return their i-th colour for the integer i.
        palette = colormaps["tab10" if n_components <= 10 else "tab20"]
        return np.asarray(palette(np.arange(n_components)))
    return np.asarray(colormaps["viridis"](np.linspace(0.0, 1.0, n_components)))


def _feature_indices(model: Any, features: Sequence[Any], n_features: int) -> list[int]:
    """Positions of the two plotted features (ints, or names from ``feature_names_in_``)."""
    if isinstance(features, str) or len(features) != 2:
        raise ValueError(f"features must name exactly two features; got {features!r}")
    names = getattr(model, "feature_names_in_", None)
    indices = feature_indices(features, n_features, names)
    return [int(index) for index in indices]


def _mixture_parameters(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights (k,), means (k, d), covariances (k, d, d))`` of a fitted Gaussian mixture."""
    needed = ("weights_", "means_", "covariances_")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        if hasattr(model, "fit"):
            raise NotFittedError(
                f"{type(model).__name__} has no {', '.join(missing)}: call fit before plot_mixture"
            )
        raise ValueError(
            "plot_mixture needs a Gaussian mixture with weights_, means_, covariances_ and "
            f"covariance_type; {type(model).__name__} lacks {', '.join(missing)}"
        )
    weights = np.atleast_1d(np.asarray(model.weights_, dtype=np.float64))
    means = np.atleast_2d(np.asarray(model.means_, dtype=np.float64))
    covariances = np.asarray(model.covariances_, dtype=np.float64)
    k, d = means.shape
    covariance_type = getattr(model, "covariance_type", None)
    if covariance_type is None and covariances.shape in ((k, d, d), (d, d)):
        covariance_type = "full"
    if weights.shape != (k,):
        raise ValueError(f"weights_ has shape {weights.shape}; expected ({k},) from means_")
    # Promote one-component parameters without the component axis, then expand to (k, d, d).
    expected = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}
    if covariance_type not in expected:
        raise ValueError(
            f"covariance_type must be one of {sorted(expected)}; got {covariance_type!r}"
        )
    if k == 1 and covariances.ndim == len(expected[covariance_type]) - 1:
        covariances = covariances[np.newaxis]
    if covariance_type == "tied" and covariances.shape == (1, d, d):
        covariances = covariances[0]
    if covariances.shape != expected[covariance_type]:
        raise ValueError(
            f"covariances_ has shape {covariances.shape}; a {covariance_type!r} mixture of "
            f"{k} components in {d} features needs {expected[covariance_type]}"
        )
    dense = {
        "full": lambda c: c,
        "tied": lambda c: np.broadcast_to(c, (k, d, d)),
        "diag": lambda c: c[:, :, np.newaxis] * np.eye(d),
        "spherical": lambda c: c[:, np.newaxis, np.newaxis] * np.eye(d),
    }[covariance_type](covariances)
    return weights, means, dense


def _ellipse_axes(covariance: np.ndarray) -> tuple[float, float, float]:
    """Square roots of the eigenvalues (major, minor) of a 2x2 covariance and the major
    axis's angle in degrees, counter-clockwise from the first feature's axis."""
    values, vectors = np.linalg.eigh(covariance)
    values = np.clip(values, 0.0, None)
    major = vectors[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return float(np.sqrt(values[1])), float(np.sqrt(values[0])), angle


def plot_mixture(
    model: Any,
    X: npt.ArrayLike | None = None,
    ax: Any = None,
    features: Sequence[int | str] = (0, 1),
    n_std: Sequence[float] = (1, 2, 3),
    max_alpha: float = 0.3,
    s: float = 8.0,
    legend: bool = True,
) -> Any:
    """Draw a Gaussian mixture's components as ellipses, over data coloured by component.

    Parameters
    ----------
    model : fitted GaussianMixture or similar
        Anything with ``weights_`` (k,), ``means_`` (k, d), ``covariances_`` and
        ``covariance_type``: ``"full"`` (k, d, d), ``"tied"`` (d, d), ``"diag"`` (k, d) or
        ``"spherical"`` (k,), as :class:`lookalike.GaussianMixture` and
        :class:`sklearn.mixture.GaussianMixture` have. One-component models may omit the
        component axis.
    X : array-like of shape (n_samples, d), default=None
        Points to scatter, coloured by ``model.predict(X)`` (one colour per component,
        shared with its ellipses). Without ``predict``, a one-component model colours all
        points alike.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    features : (int or str, int or str), default=(0, 1)
        The two features shown, by position or by name (``model.feature_names_in_``).
    n_std : sequence of float, default=(1, 2, 3)
        Radii of the ellipses drawn per component, in standard deviations.
    max_alpha : float, default=0.3
        Opacity of the heaviest component's ellipses; every component's is
        ``max_alpha * weight / max(weights)``.
    s : float, default=8
        Marker size of the points.
    legend : bool, default=True
        Add a legend naming each component and its weight.

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    The ellipses are contours of the component's marginal density in the two features:
    with the 2x2 block :math:`\\Sigma_{ff}` of the covariance and its eigen-decomposition
    :math:`\\Sigma_{ff} = V \\operatorname{diag}(\\lambda_1 \\ge \\lambda_2) V^\\top`, the
    ``n``-sigma ellipse has width :math:`2 n \\sqrt{\\lambda_1}` along the first
    eigenvector (rotated by its angle to the first feature's axis), and height
    :math:`2 n \\sqrt{\\lambda_2}`. Marginalising a Gaussian keeps that block, so these are
    exact for every covariance type.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from lookalike.mixture import GaussianMixture
    >>> from lookalike.plotting import plot_mixture
    >>> X = np.random.default_rng(0).normal(size=(200, 2)) + np.repeat([[0, 0], [6, 6]], 100, 0)
    >>> ax = plot_mixture(GaussianMixture(2, random_state=0).fit(X), X)
    >>> len(ax.patches)
    6
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    from matplotlib.patches import Ellipse

    plt = _pyplot()
    weights, means, covariances = _mixture_parameters(model)
    k, d = means.shape
    if d < 2:
        raise ValueError(f"plot_mixture needs at least two features; the model has {d}")
    first, second = _feature_indices(model, features, d)
    radii = np.atleast_1d(np.asarray(n_std, dtype=np.float64))
    if radii.ndim != 1 or not np.all(np.isfinite(radii) & (radii > 0)):
        raise ValueError(f"n_std must be positive numbers; got {n_std!r}")
    if not 0.0 < max_alpha <= 1.0:
        raise ValueError(f"max_alpha must lie in (0, 1]; got {max_alpha!r}")
    colours = _component_colours(k)
    names = getattr(model, "feature_names_in_", None)
    labels_text = [str(names[i]) if names is not None else f"feature {i}" for i in (first, second)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))

    if X is not None:
        points = np.asarray(X, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != d:
            raise ValueError(
                f"X must have shape (n_samples, {d}) like the model's data; got {points.shape}"
            )
        if hasattr(model, "predict"):
            components = np.asarray(model.predict(X), dtype=np.intp)
        elif k == 1:
            components = np.zeros(points.shape[0], dtype=np.intp)
        else:
            raise ValueError(
                f"{type(model).__name__} has no predict: cannot colour X by component"
            )
        ax.scatter(points[:, first], points[:, second], c=colours[components], s=s, zorder=2)

    block = np.ix_([first, second], [first, second])
    alphas = max_alpha * weights / np.max(weights)
    for j in range(k):
        major, minor, angle = _ellipse_axes(covariances[j][block])
        centre = (means[j, first], means[j, second])
        for position, n in enumerate(radii):
            ax.add_patch(
                Ellipse(
                    centre,
                    width=2.0 * n * major,
                    height=2.0 * n * minor,
                    angle=angle,
                    facecolor=colours[j],
                    edgecolor=colours[j],
                    alpha=float(alphas[j]),
                    zorder=1,
                    label=f"component {j} (weight {weights[j]:.2f})" if position == 0 else None,
                )
            )
    ax.autoscale_view()
    ax.set_xlabel(labels_text[0])
    ax.set_ylabel(labels_text[1])
    if legend:
        ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------------------
# Model-search criteria

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


# --------------------------------------------------------------------------------------
# One-dimensional densities


def _as_column(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, 1) with n >= 1; got {array.shape}")
    return array


def plot_density_1d(
    model: Any,
    X: npt.ArrayLike,
    samples: npt.ArrayLike | int | None = None,
    ax: Any = None,
    bins: int | str | npt.ArrayLike = "auto",
    grid: int | npt.ArrayLike | None = None,
    random_state: Any = None,
) -> Any:
    """Histogram of one-dimensional data with the fitted density and synthetic samples.

    Parameters
    ----------
    model : fitted density estimator
        Anything with ``score_samples`` (log-density of rows of shape (m, 1)) and, when
        ``samples`` is an int, ``sample``.
    X : array-like of shape (n_samples,) or (n_samples, 1)
        The real data, shown as a filled density histogram.
    samples : array-like of shape (m,) or (m, 1), or int, default=None
        Synthetic data shown as a step histogram on the same bins; an int draws that many
        rows with ``model.sample(samples, random_state=random_state)`` (the first element
        when it returns a tuple, as :meth:`GaussianMixture.sample` does).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    bins : int, str or array-like, default="auto"
        Bins for both histograms, as :func:`numpy.histogram_bin_edges` takes them; computed
        from the real and synthetic values together.
    grid : int or array-like, default=None
        Where the density curve is evaluated: the points themselves, or that many evenly
        spaced points (512 when None) over the data's range widened by 10% on each side.
    random_state : None, int, RandomState or Generator, default=None
        Passed to ``model.sample`` when ``samples`` is an int.

    Returns
    -------
    ax : matplotlib Axes

    Notes
    -----
    The curve is :math:`\\hat p(x) = \\exp(\\text{score\\_samples}(x))` and both histograms
    are normalised to unit area, so all three are on the density scale.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from lookalike.kde import KernelDensity
    >>> from lookalike.plotting import plot_density_1d
    >>> X = np.random.default_rng(0).normal(size=(300, 1))
    >>> ax = plot_density_1d(KernelDensity(bandwidth=0.3).fit(X), X, samples=300, random_state=0)
    >>> [line.get_label() for line in ax.get_lines()]
    ['model density']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    plt = _pyplot()
    if not hasattr(model, "score_samples"):
        raise ValueError(
            f"plot_density_1d needs a density model with score_samples; got {type(model).__name__}"
        )
    data = _as_column(X, "X")
    synthetic: np.ndarray | None = None
    if isinstance(samples, numbers.Integral) and not isinstance(samples, bool):
        if samples < 1:
            raise ValueError(f"samples must be a positive number of rows; got {samples}")
        if not hasattr(model, "sample"):
            raise ValueError(
                f"{type(model).__name__} has no sample method: pass the synthetic rows instead "
                "of a number"
            )
        drawn = model.sample(int(samples), random_state=random_state)
        if isinstance(drawn, tuple):
            drawn = drawn[0]
        synthetic = _as_column(drawn, "model.sample(...)")
    elif samples is not None:
        synthetic = _as_column(samples, "samples")

    if grid is None or isinstance(grid, numbers.Integral):
        n_grid = 512 if grid is None else int(grid)
        if n_grid < 2:
            raise ValueError(f"grid must have at least 2 points; got {grid}")
        low, high = float(np.min(data)), float(np.max(data))
        margin = 0.1 * (high - low) if high > low else 1.0
        points = np.linspace(low - margin, high + margin, n_grid)
    else:
        points = _as_column(grid, "grid")
    density = np.exp(np.asarray(model.score_samples(points[:, np.newaxis]), dtype=np.float64))

    values = data if synthetic is None else np.concatenate([data, synthetic])
    edges = np.histogram_bin_edges(values[np.isfinite(values)], bins=bins)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.hist(data, bins=edges, density=True, color="C0", alpha=0.4, label="real")
    ax.plot(points, density, color="C3", linewidth=2, label="model density")
    if synthetic is not None:
        ax.hist(
            synthetic,
            bins=edges,
            density=True,
            histtype="step",
            color="C2",
            linewidth=1.5,
            label="synthetic",
        )
    ax.set_ylabel("density")
    ax.legend(loc="best", fontsize="small")
    return ax


# --------------------------------------------------------------------------------------
# Real versus synthetic


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
