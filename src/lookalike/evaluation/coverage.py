"""Precision, recall and authenticity of synthetic rows, from nearest-neighbour balls.

- **Precision** (Kynkäänniemi et al., 2019): the share of synthetic rows that fall inside
  the real data's support, estimated as the union of balls around each real row whose
  radius is the distance to its k-th nearest real neighbour. Low precision: the generator
  makes rows unlike any real row.
- **Recall**: the share of real rows inside the synthetic support (balls around synthetic
  rows, radius to the k-th nearest synthetic neighbour). Low recall: parts of the real
  distribution are never generated (mode collapse, missing rare levels).
- **Authenticity** (Alaa et al., 2022): the share of synthetic rows that are farther from
  their nearest training row than that training row is from its own nearest training
  neighbour; a copied (or nearly copied) row is not authentic.

All three depend on sample sizes and on the table, so each is reported beside the same
quantity computed for real holdout rows of the same number (the reference a perfect
generator would reach). Rows are encoded by :func:`lookalike.evaluation.columns.encode_rows`.

References
----------
Kynkäänniemi, Karras, Laine, Lehtinen and Aila, "Improved precision and recall metric for
assessing generative models", NeurIPS 2019.
Alaa, van Breugel, Saveliev and van der Schaar, "How faithful is your synthetic data?
Sample-level metrics for evaluating and auditing generative models", ICML 2022.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lookalike.evaluation.distances import nearest, within_radius

K_NEIGHBOURS = 5
"""Neighbours defining the radius of each row's ball (Kynkäänniemi et al. use k = 3..5)."""

MEANINGS = {
    "precision": "share of synthetic rows that lie within the real data's support "
    "(near some real row); low means implausible rows",
    "recall": "share of real rows that lie within the synthetic data's support; low means "
    "parts of the real data are never generated",
    "authenticity": "share of synthetic rows farther from their nearest training row than "
    "that row's own nearest neighbour; copies are not authentic",
}
"""What each quantity means, in one sentence each (shown in the report)."""


def knn_radii(rows: npt.ArrayLike, k: int = K_NEIGHBOURS) -> npt.NDArray[np.float64]:
    """Distance of every row to its k-th nearest other row of the same set."""
    rows = np.asarray(rows, dtype=np.float64)
    k = min(k, rows.shape[0] - 1)
    if k < 1:
        return np.zeros(rows.shape[0])
    return nearest(rows, rows, k, skip_self=True)[0][:, -1]


class Coverage:
    """Precision, recall and authenticity of row sets against one set of training rows.

    The training rows' k-NN radii (and nearest-neighbour distances) are computed once, so
    that synthetic rows and their holdout reference are scored against the same balls.

    Parameters
    ----------
    train : array-like of shape (n_train, d)
        Encoded training rows.
    k : int, default=5

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(400, 2))
    >>> scores = Coverage(train).score(rng.normal(size=(400, 2)) + 10.0)
    >>> scores["precision"], scores["recall"]
    (0.0, 0.0)
    """

    def __init__(self, train: npt.ArrayLike, k: int = K_NEIGHBOURS) -> None:
        self.train = np.asarray(train, dtype=np.float64)
        self.k = k
        take = min(k, self.train.shape[0] - 1)
        if take >= 1:
            distances = nearest(self.train, self.train, take, skip_self=True)[0]
            self.radii, self.own = distances[:, -1], distances[:, 0]
        else:
            self.radii = self.own = np.zeros(self.train.shape[0])

    def score(self, rows: npt.ArrayLike) -> dict[str, float]:
        """``{"precision", "recall", "authenticity"}`` of ``rows`` (NaN with < 2 rows)."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape[0] < 2 or self.train.shape[0] < 2:
            return dict.fromkeys(("precision", "recall", "authenticity"), float("nan"))
        precision = float(np.mean(within_radius(self.train, self.radii, rows)))
        recall = float(np.mean(within_radius(rows, knn_radii(rows, self.k), self.train)))
        distance, index = nearest(self.train, rows, 1)
        authentic = float(np.mean(distance[:, 0] > self.own[index[:, 0]]))
        return {"precision": precision, "recall": recall, "authenticity": authentic}


def precision_recall(
    real: npt.ArrayLike, synthetic: npt.ArrayLike, k: int = K_NEIGHBOURS
) -> tuple[float, float]:
    """k-NN precision and recall of ``synthetic`` rows against ``real`` rows.

    Parameters
    ----------
    real, synthetic : array-like of shape (n_rows, d)
        Encoded rows.
    k : int, default=5

    Returns
    -------
    precision, recall : float
        NaN when either set has fewer than two rows.
    """
    scores = Coverage(real, k).score(synthetic)
    return scores["precision"], scores["recall"]


def authenticity(train: npt.ArrayLike, synthetic: npt.ArrayLike) -> float:
    """Share of synthetic rows that are authentic (Alaa et al., 2022).

    A synthetic row is authentic when its distance to the nearest training row is larger
    than that training row's distance to its own nearest other training row.
    """
    return Coverage(train, 1).score(synthetic)["authenticity"]
