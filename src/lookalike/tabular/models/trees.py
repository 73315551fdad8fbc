"""Sequential trees: synthpop's CART synthesizer as a joint model of the model space.

The columns of a table are visited in an order. The first is drawn from its marginal;
every next one from the leaf of a decision tree fitted to predict it from the columns
before it: a synthetic row is dropped down the tree and takes the value of a random
training member of the leaf it lands in. Categories, atoms and missing values
therefore come out exactly (only observed values are ever copied, per dimension), and
the dependence the trees find is kept: a combination that never occurs in the data
has no leaf that produces it.

Leaves are stored once, as the training members sorted by leaf (``O(n)`` memory per
dimension). After fitting, each scikit-learn tree is kept only as plain node arrays
(children, split feature and threshold, where missing values go;
:func:`~lookalike.tabular.models._leaves.node_arrays`), so a model file holds numbers
only; sampling drops all rows down those arrays at once (a numpy walk that routes
rows as scikit-learn's ``apply`` does) and picks members by offset, so drawing is a
few vectorised passes per dimension.

References
----------
Reiter, J. P. (2005). Using CART to generate partially synthetic public use
microdata. *Journal of Official Statistics* 21(3), 441-462.

Nowok, B., Raab, G. M. and Dibben, C. (2016). synthpop: bespoke creation of
synthetic data in R. *Journal of Statistical Software* 74(11), 1-26.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from lookalike._math.marginals import normal_scores
from lookalike._restore import has_fitted_state, require
from lookalike._validation import Interval, RandomState, validate_params
from lookalike.exceptions import InvalidParameterError
from lookalike.tabular.columns import Condition, ModelDim
from lookalike.tabular.models._leaves import Leaves, member_weights, node_arrays, silverman
from lookalike.tabular.models.base import (
    Conditions,
    check_first,
    generator,
    level_bounds,
    level_scores,
    resample,
)

#: Discrete dimensions with at most this many levels are predicted by a classifier;
#: dimensions with more levels by a regressor on their normal scores.
CLASSIFIER_MAX_LEVELS = 50

#: Conditional sampling draws at most this many proposal cells (rows x dimensions).
MAX_PROPOSAL_CELLS = 2**23

#: Conditions that none of ``max(MIN_EMPTY_PROPOSALS, 16 n)`` proposals meets raise.
MIN_EMPTY_PROPOSALS = 2**14

#: Below this share of the requested rows, the effective sample size earns a warning.
MIN_ESS_SHARE = 0.25


class EffectiveSampleSizeWarning(UserWarning):
    """Conditional sampling reached its proposal cap with few effective proposals."""


# ---------------------------------------------------------------------------------------
# Visit orders: column names in model order -> column names in visit order


def _given(columns: Mapping[str, list[ModelDim]]) -> list[str]:
    return list(columns)


def _discrete_first(columns: Mapping[str, list[ModelDim]]) -> list[str]:
    """Columns of few-level discrete dimensions first (data order), then the others."""
    few = [name for name, dims in columns.items() if _few_levels(dims)]
    return few + [name for name in columns if name not in few]


def _fewest_levels_first(columns: Mapping[str, list[ModelDim]]) -> list[str]:
    """Discrete columns by increasing number of levels, then continuous ones (data order)."""
    discrete = [name for name, dims in columns.items() if all(d.discrete for d in dims)]
    discrete.sort(key=lambda name: max(d.levels for d in columns[name]))
    return discrete + [name for name in columns if name not in discrete]


def _few_levels(dims: list[ModelDim]) -> bool:
    return all(d.discrete and d.levels <= CLASSIFIER_MAX_LEVELS for d in dims)


#: The named visit orders; ``"auto"`` is :data:`AUTO_ORDER`.
ORDERS: dict[str, Callable[[Mapping[str, list[ModelDim]]], list[str]]] = {
    "given": _given,
    "discrete-first": _discrete_first,
    "fewest-levels-first": _fewest_levels_first,
}

#: The order ``"auto"`` stands for (chosen by held-out detector AUC; see the class notes).
AUTO_ORDER = "given"


# ---------------------------------------------------------------------------------------
# The estimator


class SequentialTrees(BaseEstimator):
    """Sequential decision trees with leaf sampling (synthpop's CART synthesizer).

    A joint model of the model space (:mod:`lookalike.tabular.models.base`). Columns are
    visited in ``order``; the first column is drawn from its marginal and every next
    dimension from the leaf of a scikit-learn decision tree fitted on the dimensions
    visited before it: a synthetic row falls into one leaf and copies the value of a
    uniformly chosen training member of that leaf.

    Parameters
    ----------
    min_samples_leaf : int, default=10
        Fewest training rows per leaf. Small leaves keep finer dependence and copy
        more of each training row; large leaves protect privacy and blur dependence
        (synthpop uses 5; 10 is the smallest that kept the distance-to-closest-record
        ratio at 0.9 or more on the benchmark tables).
    max_depth : int or None, default=None
        Deepest tree; ``None`` grows each tree until its leaves reach
        ``min_samples_leaf``.
    order : "auto", "given", "discrete-first", "fewest-levels-first" or list of str, \
default="auto"
        The order the columns are visited in. ``"given"``: the table's order;
        ``"discrete-first"``: columns of few-level discrete dimensions (categories,
        booleans) first, then the others, each in the table's order;
        ``"fewest-levels-first"``: discrete columns by increasing number of levels,
        then the others; ``"auto"``: the order chosen by measurement
        (:data:`AUTO_ORDER`); a list names every column once.
    first : str or None, default=None
        A column visited before all others (the rest keep ``order``): the column
        models trained on the synthetic rows will predict. Every other column's
        tree then sees it, so its link with each of them is kept, rather than
        resting on one tree that predicts it from all the others (on the benchmark
        tables this kept train-on-synthetic accuracy as high or higher on every
        table, up to +0.07 of accuracy or R2).
    smoothing : float in [0, 1], default=1.0
        Smoothing of continuous dimensions, so that their values are not copied: the
        copied normal score moves uniformly up to ``smoothing`` of the way towards
        the next lower or higher training score of the dimension (at random),
        uniformly in probability ``Phi(z)``: a continuous value comes out between
        the copied value and its neighbour in the column's sorted values (the
        column codec's own interpolation), so it is no longer a copy, while the
        dependence is that of the copied member. 0 copies values exactly. The
        column's marginal is unchanged on average; a member at the edge of an
        atom's interval (values repeated in the data) moves to the neighbouring
        value with probability about ``smoothing / (4 count)``, so an exact
        dependence on an atom (a code and its label) can break in about that share
        of rows.
    random_state : None, int, RandomState or Generator, default=None
        Seeds the trees' tie-breaking at fit (sampling takes its own ``random_state``).

    Attributes
    ----------
    dims_ : list of ModelDim
        The model dimensions fitted.
    n_features_in_ : int
        Number of model dimensions.
    order_ : list of str
        The columns in the order visited.
    visit_ : ndarray of int
        The model dimensions in the order visited (a numeric column's missing
        indicator before its value).
    steps_ : list
        One fitted conditional model per visited dimension.

    Notes
    -----
    **Targets.** A discrete dimension with at most :data:`CLASSIFIER_MAX_LEVELS`
    levels is predicted by a :class:`~sklearn.tree.DecisionTreeClassifier` on its level
    codes; a continuous dimension, or a discrete one with more levels, by a
    :class:`~sklearn.tree.DecisionTreeRegressor` on its normal scores. Either way the
    leaves only group training rows, and sampling copies a member's value: a level
    (drawn anew, uniformly within the level's interval) or a normal score. Predictors
    are the earlier dimensions: level codes for discrete dimensions, normal scores for
    continuous ones, NaN where a numeric value is missing (scikit-learn's trees route
    missing values). A numeric column with missing values is visited as its missing
    indicator, then its value, by a tree fitted on the rows where it is present; rows
    drawn as missing get NaN.

    **Conditions.** ``sample(n, conditions)`` returns rows meeting every condition
    exactly. The weight of a leaf for a condition is the probability its members give
    it: for a discrete dimension, the share of members whose level lies in the
    interval (a partly covered level counts by the part of its probability covered);
    for a continuous dimension, the share of members within the interval (with
    smoothing, the share of their smoothing segments inside it) or, for a point, the
    leaf's density there: the smoothing segments' density, or without smoothing
    (leaf sampling has no density then) a Gaussian kernel density with the leaf's
    Silverman bandwidth ``1.06 sd n_leaf^(-1/5)``. The conditioned dimension itself is
    then drawn from the leaf's members in proportion to their weight (and within the
    part of their segment inside the interval), or fixed to the point.
    Where a conditioned dimension is visited first, this is its conditional marginal
    and needs no resampling. Otherwise the rows visited so far are proposals from the
    model, and the product of their leaves' weights is the importance weight of the
    model's exact conditional distribution: proposals are resampled by those weights
    after the last conditioned dimension (sampling-importance-resampling), and the
    remaining dimensions are drawn for the resampled rows. Proposals grow until their
    weights' effective sample size reaches ``n`` or they fill
    :data:`MAX_PROPOSAL_CELLS` cells (then an :class:`EffectiveSampleSizeWarning` says
    so if the effective size is below :data:`MIN_ESS_SHARE` of ``n``). The only
    approximation is that of resampling a finite set of proposals. Conditions that no
    leaf can meet raise a ValueError at once; conditions that each have mass but that
    none of ``max(MIN_EMPTY_PROPOSALS, 16 n)`` proposals meets together (a probability
    below about ``1 / max(16384, 16 n)`` under the model, usually exactly 0: a pair the
    data never show) raise a ValueError too.

    The model is not a density (leaf sampling copies values), so it has no
    ``score_samples``.

    **Order.** ``"auto"`` stands for :data:`AUTO_ORDER`, the table's own order, which
    had the lowest held-out detector AUC on the benchmark tables among the named
    orders. A condition on the column visited first needs no resampling.

    References
    ----------
    Reiter, J. P. (2005). Using CART to generate partially synthetic public use
    microdata. *Journal of Official Statistics* 21(3), 441-462.

    Nowok, B., Raab, G. M. and Dibben, C. (2016). synthpop: bespoke creation of
    synthetic data in R. *Journal of Statistical Software* 74(11), 1-26.

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.tabular.columns import ModelDim
    >>> from lookalike.tabular.models.trees import SequentialTrees
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(500)
    >>> Z = np.column_stack([x, 0.9 * x + 0.4 * rng.standard_normal(500)])
    >>> dims = [ModelDim("x", "value", 0), ModelDim("y", "value", 0)]
    >>> model = SequentialTrees(random_state=0).fit(Z, dims)
    >>> model.sample(3, random_state=1).shape
    (3, 2)
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "min_samples_leaf": Interval(1, None, integer=True),
        "max_depth": Interval(1, None, integer=True, allow_none=True),
        "smoothing": Interval(0.0, 1.0),
        "random_state": RandomState(),
    }

    def __init__(
        self,
        min_samples_leaf: int = 10,
        max_depth: int | None = None,
        order: str | Sequence[str] = "auto",
        first: str | None = None,
        smoothing: float = 1.0,
        random_state: Any = None,
    ) -> None:
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.order = order
        self.first = first
        self.smoothing = smoothing
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------

    def fit(self, Z: Any, dims: Sequence[ModelDim]) -> Self:
        """Fit one tree per model dimension, in the visit order.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_dims)
            Normal scores (NaN only in a continuous dimension whose column has a
            missing indicator that says missing).
        dims : sequence of ModelDim
            One per column of ``Z``; the dimensions of a column are contiguous.

        Returns
        -------
        self : SequentialTrees
        """
        validate_params(self, self._parameter_constraints)
        Z, dims = _check_model_space(Z, dims)
        columns = _columns(dims)
        check_first(self.first, dims, type(self).__name__)
        self.order_ = self._lead(self._visit_order(columns))
        self.dims_ = list(dims)
        self.n_features_in_ = len(dims)
        self.visit_ = _visit(self.order_, dims)
        rng = generator(self.random_state)
        P = _predictor_matrix(Z, dims, self.visit_)
        self.steps_ = [self._fit_step(Z, P, j, k, rng) for k, j in enumerate(self.visit_)]
        return self

    def _lead(self, order: list[str]) -> list[str]:
        """``order`` with ``first`` moved to the front."""
        first = self.first
        if first is None:
            return order
        return [first, *(c for c in order if c != first)]

    def _visit_order(self, columns: Mapping[str, list[ModelDim]]) -> list[str]:
        order = self.order
        if isinstance(order, str):
            name = AUTO_ORDER if order == "auto" else order
            if name not in ORDERS:
                raise InvalidParameterError(
                    "The 'order' parameter of SequentialTrees must be 'auto', "
                    f"{', '.join(repr(k) for k in ORDERS)} or a list of column names. Got "
                    f"{order!r} instead."
                )
            return ORDERS[name](columns)
        if not isinstance(order, Sequence) or not all(isinstance(c, str) for c in order):
            raise InvalidParameterError(
                "The 'order' parameter of SequentialTrees must be 'auto', "
                f"{', '.join(repr(k) for k in ORDERS)} or a list of column names. Got "
                f"{order!r} instead."
            )
        listed = list(order)
        unknown = [c for c in listed if c not in columns]
        repeated = sorted({c for c in listed if listed.count(c) > 1})
        absent = [c for c in columns if c not in listed]
        if unknown or repeated or absent:
            problems = []
            if unknown:
                problems.append(f"unknown {unknown!r}")
            if repeated:
                problems.append(f"repeated {repeated!r}")
            if absent:
                problems.append(f"missing {absent!r}")
            raise InvalidParameterError(
                "The 'order' parameter of SequentialTrees must list every column once; "
                f"{'; '.join(problems)} (columns: {list(columns)!r})."
            )
        return listed

    def _fit_step(
        self,
        Z: np.ndarray,
        P: np.ndarray,
        j: int,
        position: int,
        rng: np.random.Generator,
    ) -> Leaves:
        dims = self.dims_
        dim = dims[j]
        indicator = _indicator_of(dims, j)
        rows = np.ones(Z.shape[0], dtype=bool)
        if indicator is not None:
            rows = dims[indicator].codes(Z[:, indicator]) == 0
        target = dim.codes(Z[rows, j]).astype(np.float64) if dim.discrete else Z[rows, j]
        seed = int(rng.integers(0, 2**31 - 1))
        tree: DecisionTreeClassifier | DecisionTreeRegressor | None = None
        leaf = np.zeros(target.size, dtype=np.int64)
        leaf_of_node = np.zeros(1, dtype=np.int64)
        if position > 0 and np.ptp(target) > 0:
            X = P[rows, :position]
            options = {
                "min_samples_leaf": int(self.min_samples_leaf),
                "max_depth": self.max_depth,
                "random_state": seed,
            }
            if dim.discrete and dim.levels <= CLASSIFIER_MAX_LEVELS:
                tree = DecisionTreeClassifier(**options).fit(X, target.astype(np.int64))
            elif dim.discrete:
                tree = DecisionTreeRegressor(**options).fit(
                    X, _level_midpoints(dim)[target.astype(np.int64)]
                )
            else:
                tree = DecisionTreeRegressor(**options).fit(X, target)
            nodes = tree.apply(X)
            leaf_of_node = np.full(tree.tree_.node_count, -1, dtype=np.int64)
            used = np.unique(nodes)
            leaf_of_node[used] = np.arange(used.size)
            leaf = leaf_of_node[nodes]
        grouped = np.lexsort((target, leaf))  # by leaf, then by value
        counts = np.bincount(leaf)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        values = target[grouped]
        bandwidth = np.zeros(0)
        if not dim.discrete:
            bandwidth = silverman(values, leaf[grouped], counts)
        return Leaves(
            dim=j,
            position=position,
            **node_arrays(tree),
            leaf_of_node=leaf_of_node,
            offsets=offsets,
            values=values,
            bandwidth=bandwidth,
            indicator=indicator,
        )

    # -- model files -------------------------------------------------------------------

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        Hyper-parameters pass fit's validation; the fitted dimensions (each
        checked by its class first) are grouped by column; ``order_`` names each
        column once and ``visit_`` is the visit it implies; there is one step
        per visited dimension, in that order, with the tree position and the
        missing indicator of that dimension, and discrete steps hold level codes
        of their dimension.
        """
        validate_params(self, self._parameter_constraints)
        if not has_fitted_state(self):
            return
        dims = self.dims_
        require(
            isinstance(dims, list)
            and len(dims) > 0
            and all(isinstance(d, ModelDim) for d in dims),
            "dims_ must be a non-empty list of ModelDim",
        )
        require(self.n_features_in_ == len(dims), "n_features_in_ must be len(dims_)")
        columns = _columns(dims)
        order = self.order_
        require(
            isinstance(order, list) and sorted(order) == sorted(columns),
            "order_ must name every column of dims_ once",
        )
        visit = _visit(order, dims)
        require(
            isinstance(self.visit_, np.ndarray) and np.array_equal(self.visit_, visit),
            "visit_ is not the visit order of order_",
        )
        steps = self.steps_
        require(
            isinstance(steps, list) and len(steps) == len(dims),
            f"steps_ must be a list of {len(dims)} Leaves, one per dimension",
        )
        for k, step in enumerate(steps):
            require(isinstance(step, Leaves), f"steps_[{k}] must be a Leaves")
            j = int(visit[k])
            dim = dims[j]
            require(
                step.dim == j and step.position == k and step.indicator == _indicator_of(dims, j),
                f"steps_[{k}] does not model dimension {j} at position {k}",
            )
            if dim.discrete:
                codes = step.values
                require(
                    bool(np.all((codes >= 0) & (codes < dim.levels) & (codes == np.round(codes)))),
                    f"steps_[{k}] holds codes outside the {dim.levels} levels of dimension {j}",
                )
            else:
                require(
                    step.bandwidth.size == step.counts.size,
                    f"steps_[{k}] needs one bandwidth per leaf",
                )

    def check_dims(self, dims: Sequence[ModelDim]) -> None:
        """Raise ValueError unless the model was fitted on the model space ``dims``."""
        check_is_fitted(self, "steps_")
        require(self.dims_ == list(dims), "the model's dimensions disagree with the encoder's")

    # -- sampling ----------------------------------------------------------------------

    def sample(
        self, n: int, conditions: Conditions | None = None, random_state: Any = None
    ) -> np.ndarray:
        """Draw ``n`` rows of model space, meeting ``conditions`` exactly.

        Parameters
        ----------
        n : int
            Number of rows.
        conditions : dict, optional
            Model dimension index -> ``("point", z)`` or ``("interval", low, high)``.
        random_state : None, int, RandomState or Generator, default=None
            Randomness of this call (``None``: fresh rows each call).

        Returns
        -------
        Z : ndarray of shape (n, n_dims)
            Normal scores in the layout fitted (NaN where a numeric value is missing).

        Raises
        ------
        ValueError
            If the conditions have no probability under the fitted model.
        """
        check_is_fitted(self, "steps_")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}.")
        n = int(n)
        found = self._check_conditions(conditions)
        rng = generator(random_state)
        m = self.n_features_in_
        visited = [k for k, step in enumerate(self.steps_) if step.dim in found]
        last = max(visited, default=-1)
        if last < 0:
            Z, P = _empty(n, m)
            self._draw(range(len(self.steps_)), Z, P, found, np.zeros(Z.shape[0]), rng)
            return np.ascontiguousarray(Z)
        cap = max(n, MAX_PROPOSAL_CELLS // m)
        empty_cap = min(cap, max(MIN_EMPTY_PROPOSALS, 16 * n))
        proposals = n
        while True:
            Z, P = _empty(proposals, m)
            log_weight = np.zeros(proposals)
            self._draw(range(last + 1), Z, P, found, log_weight, rng)
            weight = np.zeros(proposals)
            if np.isfinite(log_weight.max()):
                weight = np.exp(log_weight - log_weight.max())
            ess = float(weight.sum() ** 2 / max(float(np.sum(weight**2)), 1e-300))
            if ess >= n or proposals >= cap or (ess == 0 and proposals >= empty_cap):
                break
            grow = empty_cap if ess == 0 else np.ceil(1.25 * proposals * n / ess)
            proposals = int(min(cap, max(2 * proposals, grow)))
        if not weight.sum() > 0:
            raise ValueError(
                f"The conditions have no probability under the fitted model: none of "
                f"{proposals} proposals meets them all. Widen the ranges or choose values "
                "that occur together in the data."
            )
        if ess < MIN_ESS_SHARE * n:
            warnings.warn(
                f"Conditional sampling reached its cap of {proposals} proposals with an "
                f"effective sample size of {ess:.0f} for {n} rows; rows share their "
                "conditioned prefixes more often than independent draws would.",
                EffectiveSampleSizeWarning,
                stacklevel=2,
            )
        chosen = resample(weight, n, rng)
        Z, P = np.asfortranarray(Z[chosen]), P[chosen]
        self._draw(range(last + 1, len(self.steps_)), Z, P, found, np.zeros(Z.shape[0]), rng)
        return np.ascontiguousarray(Z)

    def _draw(
        self,
        visit: range,
        Z: np.ndarray,
        P: np.ndarray,
        conditions: dict[int, Condition],
        log_weight: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Fill ``Z`` and ``P`` for the steps in ``visit`` (adding to ``log_weight``)."""
        smoothing = float(self.smoothing)
        everyone = slice(None)
        for k in visit:
            step = self.steps_[k]
            j = step.dim
            dim = self.dims_[j]
            present: Any = everyone
            if step.indicator is not None:  # visited just before: its codes are in P
                present = P[:, k - 1] == 0
            leaf = step.leaves(P[present] if step.indicator is not None else P)
            condition = conditions.get(j)
            if condition is None:
                members = step.uniform_members(leaf, rng)
                scores = self._scores(step, dim, members, None, rng)
            else:
                member_weight = member_weights(step, dim, condition, smoothing)
                leaf_weight = step.leaf_means(member_weight)
                if not np.any(leaf_weight > 0):
                    raise ValueError(
                        f"The conditions have no probability under the fitted model: no "
                        f"training row of column {dim.column!r} meets {condition!r}. Widen "
                        "the range or choose a value that occurs in the data."
                    )
                row_weight = np.zeros(Z.shape[0])
                row_weight[present] = leaf_weight[leaf]
                with np.errstate(divide="ignore"):
                    log_weight += np.log(row_weight)
                members = np.zeros(leaf.size, dtype=np.int64)
                live = leaf_weight[leaf] > 0
                members[live] = step.weighted_members(leaf[live], member_weight, rng)
                members[~live] = step.uniform_members(leaf[~live], rng)
                scores = self._scores(step, dim, members, condition, rng)
            if step.indicator is not None:
                Z[:, j] = np.nan
                P[:, k] = np.nan
            Z[present, j] = scores
            P[present, k] = step.values[members] if dim.discrete else scores

    def _scores(
        self,
        step: Leaves,
        dim: ModelDim,
        members: np.ndarray,
        condition: Condition | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The normal scores of the chosen members, meeting ``condition``."""
        if condition is not None and condition[0] == "point":
            return np.full(members.size, float(condition[1]))
        low, high = (-np.inf, np.inf) if condition is None else condition[1:3]
        if dim.discrete:
            return level_scores(dim, step.values[members].astype(np.int64), rng, low, high)
        scores = step.values[members]
        if self.smoothing > 0:
            scores = step.smoothed(members, float(self.smoothing), low, high, rng)
        return np.clip(scores, low, high)

    def _check_conditions(self, conditions: Conditions | None) -> dict[int, Condition]:
        found: dict[int, Condition] = {}
        for key, condition in (conditions or {}).items():
            if isinstance(key, bool) or not isinstance(key, int | np.integer):
                raise ValueError(f"condition keys must be model dimension indices; got {key!r}.")
            j = int(key)
            if not 0 <= j < self.n_features_in_:
                raise ValueError(
                    f"condition on dimension {j}, but the model has {self.n_features_in_}."
                )
            found[j] = _check_condition(j, condition)
        return found


# ---------------------------------------------------------------------------------------
# Helpers


def _check_model_space(Z: Any, dims: Sequence[ModelDim]) -> tuple[np.ndarray, list[ModelDim]]:
    """``Z`` as float64 checked against ``dims`` (shapes, NaN only where allowed)."""
    dims = list(dims)
    if not dims or not all(isinstance(d, ModelDim) for d in dims):
        raise ValueError("dims must be a non-empty sequence of ModelDim, one per column of Z.")
    try:
        Z = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("Z must be a numeric array of normal scores.") from None
    if Z.ndim != 2 or Z.shape[1] != len(dims):
        raise ValueError(
            f"Z must have shape (n_samples, {len(dims)}) to match dims; got {Z.shape}."
        )
    if Z.shape[0] < 2:
        raise ValueError(f"SequentialTrees needs at least 2 rows; got {Z.shape[0]}.")
    if np.isinf(Z).any():
        raise ValueError("Z holds infinite values; normal scores are finite.")
    seen: set[str] = set()
    for j, dim in enumerate(dims):
        if dim.column in seen and dims[j - 1].column != dim.column:
            raise ValueError(f"the dimensions of column {dim.column!r} are not contiguous.")
        seen.add(dim.column)
        nan = np.isnan(Z[:, j])
        if not nan.any():
            continue
        indicator = _indicator_of(dims, j)
        if dim.discrete or indicator is None:
            raise ValueError(
                f"dimension {j} (column {dim.column!r}) holds NaN; only a continuous "
                "dimension followed by its column's missing indicator may."
            )
        if np.isnan(Z[:, indicator]).any():
            raise ValueError(f"the missing indicator of column {dim.column!r} holds NaN.")
        says_missing = dims[indicator].codes(Z[:, indicator]) == 1
        if np.any(nan != says_missing):
            raise ValueError(
                f"column {dim.column!r}: NaN in its value must be exactly where its "
                "missing indicator says missing."
            )
    return Z, dims


def _columns(dims: Sequence[ModelDim]) -> dict[str, list[ModelDim]]:
    columns: dict[str, list[ModelDim]] = {}
    for dim in dims:
        columns.setdefault(dim.column, []).append(dim)
    return columns


def _visit(order: Sequence[str], dims: Sequence[ModelDim]) -> np.ndarray:
    """The model dimensions in visit order: columns in ``order``, an indicator before its value."""
    visit: list[int] = []
    for name in order:
        column = [j for j, d in enumerate(dims) if d.column == name]
        visit.extend(j for j in column if dims[j].role == "missing")
        visit.extend(j for j in column if dims[j].role != "missing")
    return np.asarray(visit, dtype=np.int64)


def _indicator_of(dims: Sequence[ModelDim], j: int) -> int | None:
    """The missing-indicator dimension of continuous value dimension ``j``, if any."""
    dim = dims[j]
    if dim.discrete or j + 1 >= len(dims):
        return None
    following = dims[j + 1]
    if following.column == dim.column and following.role == "missing":
        return j + 1
    return None


def _predictor_matrix(Z: np.ndarray, dims: Sequence[ModelDim], visit: np.ndarray) -> np.ndarray:
    """Trees' features in visit order: level codes of discrete dimensions, else scores."""
    P = np.empty(Z.shape, dtype=np.float32)
    for k, j in enumerate(visit):
        P[:, k] = dims[j].codes(Z[:, j]) if dims[j].discrete else Z[:, j]
    return P


def _empty(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Model-space rows (column-major: filled column by column) and their predictors."""
    return np.empty((n, m), order="F"), np.empty((n, m), dtype=np.float32)


def _level_midpoints(dim: ModelDim) -> np.ndarray:
    bounds = level_bounds(dim)
    return normal_scores(0.5 * (bounds[:-1] + bounds[1:]))


def _check_condition(j: int, condition: Any) -> Condition:
    if not isinstance(condition, tuple | list) or not condition:
        raise ValueError(f"condition on dimension {j} must be a tuple; got {condition!r}.")
    kind = condition[0]
    if kind == "point" and len(condition) == 2:
        value = float(condition[1])
        if not np.isfinite(value):
            raise ValueError(f"point condition on dimension {j} must be finite; got {value!r}.")
        return ("point", value)
    if kind == "interval" and len(condition) == 3:
        low, high = float(condition[1]), float(condition[2])
        if np.isnan(low) or np.isnan(high) or low > high:
            raise ValueError(
                f"interval condition on dimension {j} needs low <= high; got {condition!r}."
            )
        return ("interval", low, high)
    raise ValueError(
        f"condition on dimension {j} must be ('point', z) or ('interval', low, high); "
        f"got {condition!r}."
    )
