"""Gaussian mixtures: points coloured by component and their sigma ellipses.

matplotlib is imported only when a function runs; see :mod:`lookalike.plotting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike._features import feature_indices
from lookalike._math.covariance import STRUCTURES
from lookalike.exceptions import NotFittedError
from lookalike.plotting.backend import pyplot as _pyplot

__all__ = ["plot_mixture"]


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
    if covariance_type not in STRUCTURES:
        raise ValueError(
            f"covariance_type must be one of {sorted(STRUCTURES)}; got {covariance_type!r}"
        )
    kind = STRUCTURES[covariance_type]
    expected = kind.shape(k, d)
    if k == 1 and covariances.ndim == len(expected) - 1:
        covariances = covariances[np.newaxis]
    if not kind.per_component and covariances.shape == (1, d, d):
        covariances = covariances[0]
    if covariances.shape != expected:
        raise ValueError(
            f"covariances_ has shape {covariances.shape}; a {covariance_type!r} mixture of "
            f"{k} components in {d} features needs {expected}"
        )
    return weights, means, kind.dense_per_component(covariances, k, d)


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
