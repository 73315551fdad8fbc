"""SequentialTrees: placeholder of the lead's branch (replaced by feat/trees)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.tree import DecisionTreeRegressor

from lookalike.tabular.columns import ModelDim
from lookalike.tabular.models.base import Conditions, generator, resample, satisfied


class SequentialTrees(BaseEstimator):  # type: ignore[misc]
    """Placeholder: each dimension from a regression tree's leaf given the earlier ones."""

    def __init__(self, min_samples_leaf: int = 10, random_state: Any = None) -> None:
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, Z: np.ndarray, dims: Sequence[ModelDim]) -> Self:
        Z = np.asarray(Z, dtype=np.float64)
        self.first_ = Z[:, 0].copy()
        self.trees_ = []
        for j in range(1, Z.shape[1]):
            present = ~np.isnan(Z[:, j])
            tree = DecisionTreeRegressor(min_samples_leaf=self.min_samples_leaf, random_state=0)
            tree.fit(Z[present, :j], Z[present, j])
            leaves = tree.apply(Z[present, :j])
            order = np.argsort(leaves, kind="stable")
            self.trees_.append((tree, leaves[order], Z[present, j][order]))
        return self

    def sample(
        self, n: int, conditions: Conditions | None = None, random_state: Any = None
    ) -> np.ndarray:
        rng = generator(self.random_state if random_state is None else random_state)
        m = 4 * n if conditions else n
        out = np.empty((m, len(self.trees_) + 1))
        out[:, 0] = rng.choice(self.first_, m)
        for j, (tree, leaves, values) in enumerate(self.trees_, start=1):
            new = tree.apply(out[:, :j])
            start = np.searchsorted(leaves, new, "left")
            stop = np.searchsorted(leaves, new, "right")
            out[:, j] = values[start + (rng.random(m) * (stop - start)).astype(np.int64)]
        if conditions:
            keep = np.flatnonzero(satisfied(out, conditions))
            out = out[keep[resample(np.ones(keep.size), n, rng)]]
        return out
