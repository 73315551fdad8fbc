"""Posterior normalisation in log space: the one home of "subtract the max, exponentiate, sum".

Pure functions on arrays. Given joint log-likelihoods ``a`` (components or
classes along ``axis``), the posterior is ``exp(a - m) / sum exp(a - m)``
with ``m`` the largest term, so no term overflows and the largest is exactly
one; the log of the evidence is ``m + log sum exp(a - m)``. Both functions
work in place on ``a`` (which keeps its dtype).

Used by the E-step (:mod:`lookalike._math.em`, :mod:`lookalike._math.missing`),
the conditional mixtures (:mod:`lookalike._math.conditioning`) and
:class:`~lookalike.classifier.GenerativeClassifier`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_normalise", "normalise"]


def normalise(log_joint: np.ndarray, axis: int = 0) -> np.ndarray:
    """Turn ``log_joint`` into posteriors along ``axis`` in place; return the log evidence.

    The log evidence ``m + log sum exp(a - m)`` is float64, with ``axis``
    removed.
    """
    largest = log_joint.max(axis=axis, keepdims=True)
    log_joint -= largest
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=axis, keepdims=True)
    log_joint /= total
    return np.squeeze(np.log(total, dtype=np.float64) + largest, axis=axis)


def log_normalise(log_joint: np.ndarray, axis: int = 0) -> np.ndarray:
    """Turn ``log_joint`` into log posteriors along ``axis`` in place, and return it."""
    log_joint -= log_joint.max(axis=axis, keepdims=True)
    log_joint -= np.log(np.exp(log_joint).sum(axis=axis, keepdims=True))
    return log_joint
