"""The leaves of one fitted tree of :class:`~lookalike.tabular.models.trees.SequentialTrees`.

A tree over the earlier dimensions groups the training rows into leaves; :class:`Leaves`
stores the members' values sorted by leaf (``O(n)`` memory), finds the leaf of many
rows at once and draws members from them, uniformly or in proportion to the weight
each gives a condition (:func:`member_weights`), with optional smoothing between
neighbouring values (:meth:`Leaves.segments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from lookalike._math.marginals import normal_scores
from lookalike.tabular.columns import Condition, ModelDim
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
    """

    dim: int
    position: int
    tree: DecisionTreeClassifier | DecisionTreeRegressor | None
    leaf_of_node: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    bandwidth: np.ndarray
    indicator: int | None

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def leaves(self, P: np.ndarray) -> np.ndarray:
        """The leaf of each row of ``P``, the predictors in visit order (a prefix is used)."""
        if self.tree is None or P.shape[0] == 0:
            return np.zeros(P.shape[0], dtype=np.int64)
        return self.leaf_of_node[self.tree.apply(P[:, : self.position], check_input=False)]

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
        """Each member's smoothing segments, in probability (``Phi(z)``) units.

        A member's lower segment runs from it ``smoothing`` of the way to the next
        lower score among all members (of every leaf), its upper segment likewise
        upwards; each is taken with probability 1/2 (at the lowest and highest
        member the outer segment is the member itself). In probability units the
        members are the column's randomised probability integral transforms, so
        interpolating there is the column codec's own interpolation between
        neighbouring values, and an atom's members (uniform within its interval)
        keep the atom's rate on average. Returns the members and the far ends of
        their lower and upper segments.
        """
        u = special.ndtr(self.values)
        order = np.argsort(u, kind="stable")
        ranked = u[order]
        below = np.concatenate((ranked[:1], ranked[:-1]))
        above = np.concatenate((ranked[1:], ranked[-1:]))
        lower, upper = np.empty_like(u), np.empty_like(u)
        lower[order], upper[order] = below, above
        return u, u + smoothing * (lower - u), u + smoothing * (upper - u)

    def smoothed(
        self,
        members: np.ndarray,
        smoothing: float,
        low: float,
        high: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Scores of ``members`` moved along one of their segments, within ``[low, high]``.

        The segment is chosen with probability 1/2 each, or, within an interval,
        in proportion to 1/2 times the share of it inside; the score is then uniform
        (in probability) on the part of the segment inside the interval.
        """
        u, lower, upper = self.segments(smoothing)
        u_low, u_high = float(special.ndtr(low)), float(special.ndtr(high))
        if np.isinf(low) and np.isinf(high):
            downward = rng.random(members.size) < 0.5
        else:
            low_part = covered(lower, u, u_low, u_high)[members]
            total = low_part + covered(u, upper, u_low, u_high)[members]
            downward = rng.random(members.size) * total < low_part
        start = np.where(downward, lower[members], u[members])
        stop = np.where(downward, u[members], upper[members])
        start, stop = np.maximum(start, u_low), np.minimum(stop, u_high)
        drawn = start + rng.random(members.size) * np.maximum(stop - start, 0.0)
        return np.where(stop > start, normal_scores(drawn), self.values[members])

    def leaf_means(self, member_weights: np.ndarray) -> np.ndarray:
        """Mean of ``member_weights`` over each leaf's members."""
        return np.add.reduceat(member_weights, self.offsets[:-1]) / self.counts


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


def density(start: np.ndarray, stop: np.ndarray, point: float) -> np.ndarray:
    """Uniform density of each segment ``[start, stop]`` (either order) at ``point``."""
    low, high = np.minimum(start, stop), np.maximum(start, stop)
    length = high - low
    with np.errstate(divide="ignore"):
        return np.where((length > 0) & (low <= point) & (point <= high), 1.0 / length, 0.0)


def covered(start: np.ndarray, stop: np.ndarray, low: float, high: float) -> np.ndarray:
    """Share of each segment ``[start, stop]`` inside ``[low, high]`` (a point: 0 or 1)."""
    length = stop - start
    inside = np.clip(np.minimum(stop, high) - np.maximum(start, low), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(length > 0, inside / length, 0.0)
    return np.where(length > 0, share, (start >= low) & (start <= high))
