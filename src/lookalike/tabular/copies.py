"""Synthetic rows that reproduce a unique training row, recognised by their fingerprints.

A training row that occurs once in the table stands for one record; a synthetic row
equal to it in every modelled column discloses that record whole. The Synthesizer
draws such rows again (``copies="redraw"``), as synthpop's ``sdc(...,
rm.replicated.uniques = TRUE)`` removes them (Nowok, Raab and Dibben 2016). Rows that
occur several times in the training table are left alone: they single out no one
record, and a faithful generator reproduces them at about their rate (as a real
holdout does).

A row's fingerprint is a 64-bit hash of its values
(:func:`pandas.util.hash_pandas_object`) in the form the synthesizer outputs them
(decoded from the model space, so training and synthetic rows compare alike: the
codecs decode every observed value exactly). Different rows share a fingerprint with
probability ``2**-64`` per pair: a million synthetic rows against a million unique
training rows meet a false match with probability about ``5e-8``, and a false match
only redraws one row.

The fitted synthesizer keeps the sorted fingerprints of the unique rows (8 bytes per
row). Whoever holds the model file and a whole candidate row can therefore tell
whether it was a unique training row; the ``trees`` and ``cells`` families hold the
training values themselves, so this adds nothing to what their files reveal, but it
does for the Gaussian families (``copies="keep"`` stores no fingerprints).

References
----------
Nowok, B., Raab, G. M. and Dibben, C. (2016). synthpop: bespoke creation of
synthetic data in R. *Journal of Statistical Software* 74(11), 1-26.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["fingerprints", "reproduces", "unique_fingerprints"]


def fingerprints(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of ``frame`` (every column; equal rows, equal hashes).

    Returns
    -------
    ndarray of uint64, shape (n_rows,)
    """
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    hashes = pd.util.hash_pandas_object(frame, index=False)
    return np.asarray(hashes, dtype=np.uint64)


def unique_fingerprints(frame: pd.DataFrame) -> np.ndarray:
    """Sorted fingerprints of the rows that occur exactly once in ``frame``."""
    values, counts = np.unique(fingerprints(frame), return_counts=True)
    return values[counts == 1]


def reproduces(frame: pd.DataFrame, unique: np.ndarray) -> np.ndarray:
    """Which rows of ``frame`` have a fingerprint in ``unique`` (sorted), as booleans."""
    if unique.size == 0 or len(frame) == 0:
        return np.zeros(len(frame), dtype=bool)
    hashes = fingerprints(frame)
    positions = np.minimum(np.searchsorted(unique, hashes), unique.size - 1)
    return unique[positions] == hashes
