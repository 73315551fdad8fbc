"""Digit images: a mosaic of flattened images, real beside generated.

matplotlib is imported only when a function runs; see :mod:`lookalike.plotting`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from lookalike.plotting.backend import pyplot as _pyplot

__all__ = ["digit_mosaic", "plot_digits"]


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
