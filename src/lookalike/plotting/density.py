"""One-dimensional densities: histogram, fitted density and samples.

matplotlib is imported only when a function runs; see :mod:`lookalike.plotting`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.plotting.backend import pyplot as _pyplot

__all__ = ["plot_density_1d"]


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
