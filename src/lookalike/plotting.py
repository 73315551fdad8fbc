"""Figures for densities and samples. matplotlib is imported only when a function runs.

Every function takes an optional matplotlib ``ax`` and returns the axes it drew on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lookalike.plotting needs matplotlib: pip install 'lookalike[plot]'"
        ) from error
    return plt


def digit_mosaic(
    images: npt.ArrayLike, n_cols: int = 10, image_shape: tuple[int, int] = (8, 8), gap: int = 1
) -> np.ndarray:
    """Tile flattened images into one 2-D array, row by row, with ``gap`` pixels between.

    Empty cells and gaps are NaN so that they render as background.
    """
    data = np.asarray(images, dtype=np.float64)
    height, width = image_shape
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
    n_cols: int = 10,
    image_shape: tuple[int, int] = (8, 8),
    ax: Any = None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 16.0,
) -> Any:
    """Show flattened images (e.g. 8x8 digits) as a grid in one axes.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width)
    n_cols : int, default=10
        Images per row of the grid.
    image_shape : (int, int), default=(8, 8)
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    title : str, default=None
    vmin, vmax : float, default=0, 16
        Intensity range mapped to the colour scale (scikit-learn's digits span 0-16).

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    mosaic = digit_mosaic(images, n_cols=n_cols, image_shape=image_shape)
    if ax is None:
        _, ax = plt.subplots(
            figsize=(n_cols * 0.6, mosaic.shape[0] / mosaic.shape[1] * n_cols * 0.6)
        )
    ax.imshow(mosaic, cmap="binary", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
