"""Bundled datasets: small, offline, and shipped with lookalike's dependencies."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_digits


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn.

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        Pixel intensities 0-16, row by row.
    y : ndarray of shape (1797,), int64
        The digit shown.
    """
    digits = _sklearn_digits()
    return digits.data.astype(np.float64), digits.target.astype(np.int64)
