"""Linear (cloud-in-cell) binning of weighted points onto a regular grid, d = 1, 2, 3.

Pure functions on arrays. A regular grid has nodes ``g_i = a + i * delta``
(``i = 0 .. m - 1`` per dimension). Linear binning gives each point ``x`` with
weight ``w`` to the ``2^d`` nodes of the cell that holds it, in proportion to
the multilinear interpolation weights: with ``t = (x - a) / delta``,
``i = floor(t)`` and ``f = t - i`` per dimension, the node ``i + c``
(``c in {0, 1}^d``) receives

.. math::

    w \\prod_{k=1}^{d} f_k^{c_k} (1 - f_k)^{1 - c_k} .

The weights of one point are non-negative and add up to one, so the total
weight is kept; their weighted mean of the nodes is ``x`` itself, so every
first moment is kept too (the mean of the binned data is the mean of the data).
A kernel sum over the binned counts,

.. math::

    \\tilde f(q) = \\sum_i c_i \\, k(q - g_i),
    \\qquad c_i = \\sum_j w_j \\, W_i(x_j),

with ``W_i(x)`` the weight above of node ``i`` for a point at ``x``,
replaces each kernel ``k(q - x_j)`` by its multilinear interpolant in ``x_j``
between the nodes around it: for a kernel with bounded second derivatives an
``O(delta^2)`` error per point, where simple binning to the nearest node moves
each point by up to ``delta / 2`` (Jones and Lotwick 1983; Hall and Wand 1996).
Evaluating ``\\tilde f`` on the grid itself is a discrete convolution, which
:mod:`~lookalike._math.binned` computes by FFT.

How it is fast
    No loop over points: the cell index and the fractions are computed for all
    points at once, and each of the ``2^d`` corners is one ``np.bincount`` of
    flat node indices with the corner weights. In one dimension two counts
    suffice, ``sum w`` and ``sum w f`` per cell (the left node receives their
    difference). Accumulation is in float64 whatever the input's type. Cost
    ``O(2^d n)`` time, ``O(n)`` temporaries plus the grid.

References
----------
.. [1] Jones, M. C. and Lotwick, H. W. (1983). On the errors involved in
   computing the empirical characteristic function. *Journal of Statistical
   Computation and Simulation* 17, 133-149.
.. [2] Fan, J. and Marron, J. S. (1994). Fast implementations of nonparametric
   curve estimators. *Journal of Computational and Graphical Statistics* 3,
   35-56.
.. [3] Wand, M. P. (1994). Fast computation of multivariate kernel estimators.
   *Journal of Computational and Graphical Statistics* 3, 433-445.
.. [4] Wand, M. P. and Jones, M. C. (1995). *Kernel Smoothing*, Appendix D
   (computation of kernel estimators: binning and the discrete convolution).
   Chapman and Hall.
.. [5] Hall, P. and Wand, M. P. (1996). On the accuracy of binned kernel
   density estimators. *Journal of Multivariate Analysis* 56, 165-184.
"""

from __future__ import annotations

import math

import numpy as np

# Points per chunk: the temporaries of a chunk (a few arrays of 64k float64) stay in the
# caches; on 1M points, 4096 nodes, chunks of 64k were 2.2x faster than one pass.
CHUNK_ROWS = 2**16


def linear_binning(
    points: np.ndarray,
    origin: np.ndarray,
    spacing: np.ndarray,
    shape: tuple[int, ...],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Multilinear (cloud-in-cell) counts of weighted points on a regular grid.

    Parameters
    ----------
    points : ndarray of shape (n, d)
        Points, ``d`` in {1, 2, 3}, inside the grid's box
        ``[origin, origin + (shape - 1) * spacing]``. Points outside are not
        checked for: they are moved onto the nearest face of the box (their
        weight is kept, their position is not).
    origin : ndarray of shape (d,)
        Coordinates of node ``(0, ..., 0)``.
    spacing : ndarray of shape (d,)
        Positive distance between neighbouring nodes, per dimension.
    shape : tuple of d ints
        Number of nodes per dimension, each at least 2.
    weights : ndarray of shape (n,), default=None
        Non-negative weights; ``None`` gives every point weight one.

    Returns
    -------
    counts : ndarray of shape ``shape``
        Binned weights, float64, non-negative. ``counts.sum()`` equals the total
        weight and ``sum_i counts[i] * g_i`` the weighted sum of the points, both
        to rounding.

    Notes
    -----
    Cost ``O(2^d n)`` time (one ``np.bincount`` per chunk of points, two in one
    dimension), plus ``O(prod(shape))`` per chunk of ``max(CHUNK_ROWS,
    prod(shape))`` points; memory ``O(2^d)`` chunk-sized temporaries plus the
    grid.
    """
    n, d = points.shape
    shape = tuple(int(m) for m in shape)
    size = math.prod(shape)
    strides = np.array([math.prod(shape[k + 1 :]) for k in range(d)], dtype=np.intp)
    corners = np.array(list(np.ndindex(*(2,) * d)), dtype=np.intp)  # (2^d, d)
    offsets = corners @ strides
    scale = 1.0 / np.asarray(spacing, dtype=np.float64)
    # Just below the last node, so that a cell's lower index is at most m - 2.
    top = np.array([np.nextafter(m - 1.0, 0.0) for m in shape])
    chunk = max(CHUNK_ROWS, size)
    t = np.empty((min(chunk, n), d))
    lower = np.empty(t.shape, dtype=np.intp)
    if d == 1:
        totals = np.zeros(size)
        right = np.zeros(size)
    else:
        counts = np.zeros(size)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        frac = t[: stop - start]
        low = lower[: stop - start]
        # t = (x - origin) / spacing; lower = floor(t); frac = t - lower.
        np.subtract(points[start:stop], origin, out=frac)
        frac *= scale
        np.clip(frac, 0.0, top, out=frac)
        floor = np.floor(frac)
        frac -= floor
        low[...] = floor
        w = None if weights is None else np.asarray(weights[start:stop], dtype=np.float64)
        if d == 1:
            # Node i receives (1 - f) w from cell i and f w from cell i - 1: two sums
            # per cell, of w and of w f.
            cell = low[:, 0]
            fraction = frac[:, 0] if w is None else frac[:, 0] * w
            totals += np.bincount(cell, weights=w, minlength=size)
            right += np.bincount(cell, weights=fraction, minlength=size)
            continue
        base = low @ strides
        corner_weights = np.empty((len(offsets), stop - start))
        for j, corner in enumerate(corners):
            corner_weights[j] = 1.0 if w is None else w
            for k in range(d):
                corner_weights[j] *= frac[:, k] if corner[k] else 1.0 - frac[:, k]
        index = base + offsets[:, np.newaxis]
        counts += np.bincount(index.ravel(), weights=corner_weights.ravel(), minlength=size)
    if d == 1:
        counts = totals - right
        counts[1:] += right[:-1]
        # sum(w f) can round above sum(w) in a cell whose fractions are all near one.
        np.maximum(counts, 0.0, out=counts)
    return counts.reshape(shape)
