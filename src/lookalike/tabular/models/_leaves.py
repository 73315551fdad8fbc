"""The leaves of one fitted tree of :class:`~lookalike.tabular.models.trees.SequentialTrees`.

A tree over the earlier dimensions groups the training rows into leaves; :class:`Leaves`
stores the members' values sorted by leaf (``O(n)`` memory), finds the leaf of many
rows at once and draws members from them, uniformly or in proportion to the weight
each gives a condition (:func:`member_weights`), with optional smoothing between
neighbouring values (:meth:`Leaves.segments`).

The tree itself is kept as plain arrays, one entry per node (scikit-learn's
``tree_`` layout: children, split feature and threshold, where a missing value
goes), taken from the fitted scikit-learn tree by :func:`node_arrays`; rows are
routed by a vectorised walk (:meth:`Leaves.leaves`) that follows scikit-learn's
own rule, so a model file holds only numbers and sampling needs no scikit-learn
object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from lookalike._restore import check_float_array, is_int, require
from lookalike.tabular.columns import Condition, ModelDim
from lookalike.tabular.models._smoothing import covered, density, segments, smoothed
from lookalike.tabular.models.base import level_bounds

#: A leaf's kernel bandwidth is at least this (normal-score units).
MIN_BANDWIDTH = 1e-3


@dataclass
class Leaves:
    """A dimension's conditional model: a tree over earlier dimensions and its leaves.

    ``values[offsets[k]:offsets[k + 1]]`` are the members of leaf ``k``: normal scores
    (continuous dimensions) or level codes (discrete dimensions). The tree's features
    are the first ``position`` columns of the predictor matrix, which holds the model
    dimensions in visit order.

    The tree has one entry per node in ``left``, ``right`` (child nodes, -1 at a
    leaf; a child's number is larger than its parent's), ``feature``,
    ``threshold`` (a row goes left when its feature is ``<= threshold``) and
    ``missing_left`` (where a missing feature goes); node 0 is the root, and a
    single leaf (no tree: the first visited dimension, or a constant one) is one
    node. ``leaf_of_node`` numbers the leaves.
    """

    dim: int
    position: int
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    leaf_of_node: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    bandwidth: np.ndarray
    indicator: int | None

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def leaves(self, P: np.ndarray) -> np.ndarray:
        """The leaf of each row of ``P``, the predictors in visit order (a prefix is used).

        All rows walk down the tree together, one level per pass: a row goes left
        when its feature is missing and the node sends missing values left, or
        when the feature is ``<= threshold`` (a float32 feature compared with the
        float64 threshold, as scikit-learn's ``apply`` does). Rows that reach a
        leaf leave the walk, so a pass costs the rows still inside.
        """
        n = P.shape[0]
        node = np.zeros(n, dtype=np.int64)
        active = np.arange(n) if self.left[0] >= 0 else np.zeros(0, dtype=np.int64)
        here = node[active]
        while active.size:
            x = P[active, self.feature[here]]
            go_left = x <= self.threshold[here]
            missing = np.isnan(x)
            if missing.any():
                go_left[missing] = self.missing_left[here[missing]]
            after = np.where(go_left, self.left[here], self.right[here])
            inside = self.left[after] >= 0
            done = ~inside
            node[active[done]] = after[done]
            active, here = active[inside], after[inside]
        return self.leaf_of_node[node]

    def uniform_members(self, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly drawn member of each row's leaf (indices into ``values``)."""
        start, count = self.offsets[leaf], self.counts[leaf]
        return start + np.minimum((rng.random(leaf.size) * count).astype(np.int64), count - 1)

    def weighted_members(
        self, leaf: np.ndarray, weights: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """A member of each row's leaf drawn with probability proportional to ``weights``.

        Every row's leaf must hold a member of positive weight.
        """
        cumulative = np.concatenate(([0.0], np.cumsum(weights)))
        start, stop = self.offsets[leaf], self.offsets[leaf + 1]
        low, high = cumulative[start], cumulative[stop]
        targets = low + rng.random(leaf.size) * (high - low)
        picks = np.searchsorted(cumulative, targets, side="right") - 1
        picks = np.clip(picks, start, stop - 1)
        # Rounding can land on a zero-weight neighbour: move to the leaf's heaviest member.
        bad = weights[picks] <= 0
        if bad.any():
            heaviest = np.array(
                [
                    start[i] + int(np.argmax(weights[start[i] : stop[i]]))
                    for i in np.flatnonzero(bad)
                ]
            )
            picks[bad] = heaviest
        return picks

    def segments(self, smoothing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each member's smoothing segments over all members (of every leaf), in
        probability units (:func:`~lookalike.tabular.models._smoothing.segments`)."""
        return segments(self.values, smoothing)

    def smoothed(
        self,
        members: np.ndarray,
        smoothing: float,
        low: float,
        high: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Scores of ``members`` moved along one of their segments, within ``[low, high]``
        (:func:`~lookalike.tabular.models._smoothing.smoothed`)."""
        return smoothed(self.segments(smoothing), self.values, members, low, high, rng)

    def leaf_means(self, member_weights: np.ndarray) -> np.ndarray:
        """Mean of ``member_weights`` over each leaf's members."""
        return np.add.reduceat(member_weights, self.offsets[:-1]) / self.counts

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        The node arrays describe a tree whose walk ends (children after their
        parents, inside the node arrays), whose splits use one of the ``position``
        earlier dimensions at a threshold that is not NaN, and whose every leaf
        is numbered in ``0 .. n_leaves - 1``; the leaves' offsets partition the
        finite ``values``, one or more members each; bandwidths are positive.
        """
        require(is_int(self.dim) and self.dim >= 0, "dim must be an int >= 0")
        require(is_int(self.position) and self.position >= 0, "position must be an int >= 0")
        require(
            self.indicator is None or (is_int(self.indicator) and self.indicator >= 0),
            "indicator must be None or an int >= 0",
        )
        nodes = _int_array(self.left, "left").size
        require(nodes >= 1, "a tree needs at least one node")
        for name in ("right", "feature", "leaf_of_node"):
            require(
                _int_array(getattr(self, name), name).shape == (nodes,),
                f"{name} must have one entry per node ({nodes})",
            )
        threshold = check_float_array(self.threshold, "threshold", (nodes,), finite=False)
        missing = self.missing_left
        require(
            isinstance(missing, np.ndarray)
            and missing.dtype == bool
            and missing.shape == (nodes,),
            f"missing_left must be a bool array with one entry per node ({nodes})",
        )
        inner = self.left >= 0
        number = np.arange(nodes)
        require(
            bool(np.all(self.right[inner] >= 0))
            and bool(np.all(self.right[~inner] == -1))
            and bool(np.all(self.left[~inner] == -1)),
            "left and right must both be children or both -1 (a leaf)",
        )
        require(
            bool(np.all(self.left[inner] > number[inner]))
            and bool(np.all(self.right[inner] > number[inner]))
            and bool(np.all(self.left[inner] < nodes))
            and bool(np.all(self.right[inner] < nodes)),
            "children must be nodes numbered after their parent",
        )
        require(
            bool(np.all((self.feature[inner] >= 0) & (self.feature[inner] < self.position))),
            f"split features must be earlier dimensions (0 .. {self.position - 1})",
        )
        require(not bool(np.isnan(threshold[inner]).any()), "a split threshold is NaN")
        offsets = _int_array(self.offsets, "offsets")
        n_leaves = offsets.size - 1
        require(
            n_leaves >= 1 and offsets[0] == 0 and bool(np.all(np.diff(offsets) > 0)),
            "offsets must start at 0 and increase (every leaf has a member)",
        )
        values = check_float_array(self.values, "values", (int(offsets[-1]),))
        require(values.dtype == np.float64, "values must be float64")
        leaf = self.leaf_of_node[~inner]
        require(
            bool(np.all((leaf >= 0) & (leaf < n_leaves))),
            f"leaf_of_node must number every leaf in 0 .. {n_leaves - 1}",
        )
        bandwidth = check_float_array(self.bandwidth, "bandwidth")
        require(
            bandwidth.shape in ((0,), (n_leaves,)) and bool(np.all(bandwidth > 0)),
            f"bandwidth must be empty or one positive value per leaf ({n_leaves})",
        )


def node_arrays(tree: Any | None) -> dict[str, np.ndarray]:
    """The node arrays of :class:`Leaves` for a fitted scikit-learn tree (None: one leaf)."""
    if tree is None:
        return {
            "left": np.full(1, -1, dtype=np.int64),
            "right": np.full(1, -1, dtype=np.int64),
            "feature": np.full(1, -1, dtype=np.int64),
            "threshold": np.zeros(1),
            "missing_left": np.zeros(1, dtype=bool),
        }
    nodes = tree.tree_
    return {
        "left": nodes.children_left.astype(np.int64),
        "right": nodes.children_right.astype(np.int64),
        "feature": nodes.feature.astype(np.int64),
        "threshold": nodes.threshold.astype(np.float64),
        "missing_left": nodes.missing_go_to_left.astype(bool),
    }


def _int_array(value: Any, name: str) -> np.ndarray:
    require(
        isinstance(value, np.ndarray) and value.dtype == np.int64 and value.ndim == 1,
        f"{name} must be a 1-D int64 array",
    )
    return value


def silverman(values: np.ndarray, leaf: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Silverman's bandwidth ``1.06 sd n^(-1/5)`` of each leaf's members."""
    mean = np.bincount(leaf, values, minlength=counts.size) / counts
    spread = np.bincount(leaf, (values - mean[leaf]) ** 2, minlength=counts.size) / counts
    return np.maximum(1.06 * np.sqrt(spread) * counts ** (-0.2), MIN_BANDWIDTH)


def member_weights(
    step: Leaves, dim: ModelDim, condition: Condition, smoothing: float
) -> np.ndarray:
    """The probability (or density, for a point) each member gives ``condition``."""
    values = step.values
    if dim.discrete:
        bounds = level_bounds(dim)
        if condition[0] == "point":
            share = np.zeros(dim.levels)
            share[int(dim.codes(np.array([condition[1]]))[0])] = 1.0
        else:
            lo, hi = special.ndtr(condition[1]), special.ndtr(condition[2])
            overlap = np.clip(np.minimum(bounds[1:], hi) - np.maximum(bounds[:-1], lo), 0, None)
            share = overlap / np.maximum(np.diff(bounds), 1e-300)
        return share[values.astype(np.int64)]
    if condition[0] == "point" and smoothing > 0:
        # The density in probability units; its factor phi(z) to normal-score units
        # is the same for every member and cancels in the resampling.
        u, lower, upper = step.segments(smoothing)
        point = float(special.ndtr(condition[1]))
        return 0.5 * (density(lower, u, point) + density(u, upper, point))
    if condition[0] == "point":
        h = np.repeat(step.bandwidth, step.counts)
        return np.exp(-0.5 * ((condition[1] - values) / h) ** 2) / (h * np.sqrt(2 * np.pi))
    low, high = float(condition[1]), float(condition[2])
    if smoothing > 0:
        u, lower, upper = step.segments(smoothing)
        u_low, u_high = float(special.ndtr(low)), float(special.ndtr(high))
        return 0.5 * (covered(lower, u, u_low, u_high) + covered(u, upper, u_low, u_high))
    return ((values >= low) & (values <= high)).astype(np.float64)
