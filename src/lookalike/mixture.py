"""GaussianMixture: a drop-in for ``sklearn.mixture.GaussianMixture``.

The class validates, initialises and runs the EM loop; the arithmetic lives in
:mod:`lookalike._math` (E-step and M-step in :mod:`lookalike._math.em`,
log-densities in :mod:`lookalike._math.gaussian`, row blocks and threads in
:mod:`lookalike._math.blocks`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils.validation import check_is_fitted

from lookalike._conditional import GaussianConditioningMixin
from lookalike._math import gaussian as gm
from lookalike._math.blocks import block_rows, map_blocks, reduce_blocks, row_slices
from lookalike._math.em import (
    COUNT_FLOOR,
    Moments,
    e_step_block,
    fixed_responsibility_moments,
    log_joint_block,
    m_step,
)
from lookalike._math.missing import e_step_block_missing, log_joint_block_missing
from lookalike._restore import check_mixture_state
from lookalike._validation import (
    ArrayLikeOrNone,
    Boolean,
    Constraint,
    Interval,
    Options,
    RandomState,
    RandomStateLike,
    as_random_state,
    check_array_shape,
    check_sample_weight,
    is_partitioned,
    validate_data,
    validate_params,
)
from lookalike._validation import as_finite_float_array as _as_float_array
from lookalike.exceptions import ConvergenceWarning, DegenerateComponentWarning

_PARAMETERS: dict[str, Constraint] = {
    "n_components": Interval(1, None, integer=True),
    "covariance_type": Options(gm.COVARIANCE_TYPES),
    "tol": Interval(0.0, None),
    "reg_covar": Interval(0.0, None),
    "max_iter": Interval(0, None, integer=True),
    "n_init": Interval(1, None, integer=True),
    "init_params": Options(("kmeans", "k-means++", "random", "random_from_data")),
    "weights_init": ArrayLikeOrNone(),
    "means_init": ArrayLikeOrNone(),
    "precisions_init": ArrayLikeOrNone(),
    "random_state": RandomState(),
    "warm_start": Boolean(),
    "verbose": Interval(0, None, integer=True),
    "verbose_interval": Interval(1, None, integer=True),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
    "missing": Options(("raise", "em")),
}

_CHOLESKY_ERROR = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data."
)

# A component whose responsibility mass is below this fraction of the total
# weight carries no information: it keeps its previous mean and covariance.
_EMPTY_FRACTION = 1e-12

# A variance below this fraction of the mean square (about the data mean) from
# which it was computed is rounding noise of the one-pass statistics, whose
# error is a few eps (2.2e-16) times that mean square: the component has
# collapsed. 1e-13 leaves a margin of about 100 for the error to grow with the
# number of features.
_COLLAPSE_FRACTION = 1e-13

# Working parameters: (weights, means centred by the data shift, covariances,
# precision Cholesky factors), float64.
Parameters = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _EStep:
    """The E-step of one EM iteration, as a picklable function of a block of rows.

    ``e_step(rows, row_weights)`` centres the rows (shape (b, d), raw
    coordinates) by ``shift`` and returns their :class:`Moments`. In-memory
    EM calls it on row blocks; chunked and Dask EM ship it to every partition.
    """

    expanded: gm.ExpandedGaussians
    log_weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    shift: np.ndarray
    covariance_type: str
    missing: bool

    def __call__(self, rows: np.ndarray, row_weights: np.ndarray | None) -> Moments:
        xt = gm.centred_block(rows, self.shift)
        if self.missing:
            return e_step_block_missing(
                xt,
                row_weights,
                self.expanded,
                self.log_weights,
                self.means,
                self.covariances,
                self.covariance_type,
            )
        return e_step_block(xt, row_weights, self.expanded, self.log_weights, self.covariance_type)


@dataclass(frozen=True)
class _EMData:
    """What the EM loop needs from the data, wherever the rows live.

    Attributes
    ----------
    n_features : int
    dtype : numpy dtype
        float32 or float64: the dtype of the fitted attributes.
    shift : ndarray of shape (n_features,)
        The centre subtracted from every row (the weighted column means).
    em_pass : callable
        ``em_pass(params)``: the E-step over every row, summed into moments.
    initial_moments : callable
        ``initial_moments(random_state)``: moments of the initial
        responsibilities chosen by ``init_params``.
    """

    n_features: int
    dtype: np.dtype[Any]
    shift: np.ndarray
    em_pass: Callable[[Parameters], Moments]
    initial_moments: Callable[[np.random.RandomState], Moments]


class GaussianMixture(GaussianConditioningMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    Same parameters, attributes, methods and warnings as
    :class:`sklearn.mixture.GaussianMixture`; from the same initial parameters
    it reaches the same estimates (to rounding), several times faster and in
    bounded memory. Beyond scikit-learn: sample weights, a per-call random
    state in :meth:`sample`, float32 fitting with float64 statistics,
    collapsed components that never produce NaN, and ``n_jobs``.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Covariance structure: a full matrix per component, one full matrix shared
        by all, a diagonal per component, or a single variance per component.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-sample
        log-likelihood (the lower bound) between iterations.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of every covariance.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the one with the highest lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How the initial responsibilities are chosen, exactly as scikit-learn does
        (k-means labels, k-means++ seeds, random responsibilities, random rows).
    weights_init : array-like of shape (n_components,), default=None
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances), shaped by ``covariance_type``:
        (n_components,), (n_features, n_features), (n_components, n_features) or
        (n_components, n_features, n_features).
    random_state : None, int, RandomState or Generator, default=None
        Seeds the initialisation and, unless :meth:`sample` gets its own, sampling.
    warm_start : bool, default=False
        Start the next ``fit`` from the current solution (``n_init`` is then 1).
    verbose : int, default=0
        1 prints each initialisation and iteration number, 2 adds timings and
        the change of the lower bound.
    verbose_interval : int, default=10
        Iterations between two printed messages.
    n_jobs : int, default=None
        Threads used over row blocks (``None``: every core). Not in scikit-learn.
    missing : {"raise", "em"}, default="raise"
        What NaN entries in X mean. ``"raise"``: an error, as in scikit-learn.
        ``"em"``: missing at random; EM integrates them out exactly and
        maximises the likelihood of the observed entries (see Notes). The
        fitted model's :meth:`score_samples`, :meth:`score`, :meth:`predict`
        and :meth:`predict_proba` then accept NaN too. Infinite values are an
        error either way. Not in scikit-learn.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shaped by ``covariance_type`` as ``precisions_init``.
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``precision = U U^T``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean (weighted) log-likelihood of the training data at the best
        initialisation's last E-step.
    lower_bounds_ : list of float
        Lower bound at every iteration of the best initialisation.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.

    Notes
    -----
    The density is

    .. math:: p(x) = \\sum_k w_k \\, N(x \\mid \\mu_k, \\Sigma_k).

    Each EM iteration is one pass over the rows in blocks: the E-step of a
    block returns additive sufficient statistics (counts, first and second
    moments per component) and the M-step maps their sum to new parameters,
    so memory does not grow with ``n_samples``. Collapsed components are kept
    finite: a component with no responsibility mass keeps its previous mean
    and covariance, and a covariance that is not positive definite, or whose
    smallest variance (Cholesky pivot) is below 1e-13 of the component's mean
    square about the data mean, i.e. at the level of rounding noise, gets the
    smallest diagonal jitter that lifts it above that level; both emit a
    :class:`~lookalike.exceptions.DegenerateComponentWarning`.

    With ``missing="em"`` a row with observed features ``o`` contributes
    ``log p(x_o) = log sum_k w_k N(x_o | mu_k,o, Sigma_k,oo)`` to the
    likelihood, and the E-step replaces its sufficient statistics by their
    expectations given ``x_o`` under each component (conditional means
    ``mu_k,m + Sigma_k,mo Sigma_k,oo^{-1} (x_o - mu_k,o)`` plus the Schur
    complement on the missing block; see :mod:`lookalike._math.missing`), so
    ``lower_bound_`` is the mean observed-data log-likelihood and never
    decreases. Rows with every entry missing carry no information and are
    ignored in fitting (at inference their log-density is 0, the density of
    the empty vector, and their posterior is ``weights_``). The data shift is
    the weighted mean of each column's observed entries, and the
    initialisation (``init_params``) runs on a copy of X whose missing entries
    are replaced by those means.

    Examples
    --------
    >>> import numpy as np
    >>> import lookalike as la
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = la.GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0]).round(3)
    array([ 1., 10.])
    >>> gm.predict([[0, 0], [12, 3]]).tolist() in ([0, 1], [1, 0])
    True
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: npt.ArrayLike | None = None,
        means_init: npt.ArrayLike | None = None,
        precisions_init: npt.ArrayLike | None = None,
        random_state: RandomStateLike = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_jobs: int | None = None,
        missing: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_jobs = n_jobs
        self.missing = missing

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "em"
        return tags

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Estimate the parameters with EM, keeping the best of ``n_init`` runs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; an integer weight equals repeating the row.

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(
        self, X: npt.ArrayLike, y: Any = None, sample_weight: npt.ArrayLike | None = None
    ) -> np.ndarray:
        """Fit, then return the most probable component of every row.

        The labels come from a final E-step with the fitted parameters, so they
        always equal ``fit(X).predict(X)``.
        """
        data = self._fit(X, sample_weight)
        if is_partitioned(data):
            return self.predict(data)
        return self._predict_validated(data)

    def _fit(self, X: npt.ArrayLike, sample_weight: npt.ArrayLike | None) -> Any:
        """Validate, run EM, store the best parameters; return the validated X.

        A dask collection or a :class:`~lookalike.distributed.Chunks` source is
        handed to :mod:`lookalike.distributed`, which visits its partitions
        with the same E-step; everything else is fitted in memory.
        """
        validate_params(self, _PARAMETERS)
        if is_partitioned(X):
            from lookalike.distributed import partitioned_em_data

            self._run_em(partitioned_em_data(self, X, sample_weight))
            return X
        data: np.ndarray = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan" if self.missing == "em" else True,
        )
        # With missing="em": ``fitted`` drops rows with no observed entry, ``filled``
        # (for the initialisation) has missing entries replaced by column means.
        fitted, weights, filled, shift = _observed_data(
            data, check_sample_weight(sample_weight, data.shape[0])
        )
        n_samples, n_features = fitted.shape
        self._check_n_samples(n_samples)
        if self.reg_covar <= 0:
            self._check_constant_features(np.ptp(filled, axis=0))
        blocks = row_slices(n_samples, self._rows_per_block(n_features))

        def em_pass(params: Parameters) -> Moments:
            e_step = self._e_step(params, shift)
            return reduce_blocks(
                lambda rows: e_step(fitted[rows], None if weights is None else weights[rows]),
                blocks,
                self.n_jobs,
            )

        def initial_moments(random_state: np.random.RandomState) -> Moments:
            responsibilities = self._initial_responsibilities(filled, weights, random_state)
            moments = fixed_responsibility_moments(
                filled, weights, shift, self.covariance_type, blocks, responsibilities
            )
            if moments is None:  # pragma: no cover - at least two rows are required
                raise ValueError("no rows")
            return moments

        self._run_em(_EMData(n_features, data.dtype, shift, em_pass, initial_moments))
        return data

    def _run_em(self, data: _EMData) -> None:
        """The EM loop with restarts, wherever the rows live (see :class:`_EMData`)."""
        initial = self._check_initial_parameters(data.n_features)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = as_random_state(self.random_state)
        degenerate: dict[str, set[int]] = {"empty": set(), "jittered": set()}

        best: Parameters | None = None
        best_lower_bound = -np.inf
        best_lower_bounds: list[float] = []
        best_n_iter = 0
        self.converged_ = False
        for init in range(n_init):
            self._verbose_init_start(init)
            if do_init:
                params = self._initial_parameters(
                    data.initial_moments, data.shift, random_state, initial, degenerate
                )
                lower_bound = -np.inf
            else:
                params = _centred(self._get_parameters64(), data.shift)
                lower_bound = float(getattr(self, "lower_bound_", -np.inf))
            lower_bounds: list[float] = []
            converged = False
            n_iter = 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                moments = data.em_pass(params)
                lower_bound = moments.log_likelihood / moments.total_weight
                params = self._m_step(moments, params, degenerate)
                lower_bounds.append(lower_bound)
                change = lower_bound - previous
                self._verbose_iteration(n_iter, change)
                if abs(change) < self.tol:
                    converged = True
                    break
            if self.max_iter > 0:
                self._verbose_init_end(lower_bound, converged)
            if best is None or lower_bound > best_lower_bound:
                best, best_lower_bound = params, lower_bound
                best_lower_bounds, best_n_iter = lower_bounds, n_iter
                self.converged_ = converged

        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        self._warn_degenerate(degenerate)
        if best is None:  # pragma: no cover - n_init >= 1 always sets it
            raise RuntimeError("no initialisation ran")
        self._set_parameters(best, data.shift, data.dtype)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = float(best_lower_bound)
        self.lower_bounds_ = best_lower_bounds

    def _check_n_samples(self, n_samples: int) -> None:
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}"
            )

    def _rows_per_block(self, n_features: int) -> int:
        n_quadratic = {
            "full": n_features * (n_features + 1) // 2,
            "tied": n_features,
            "diag": n_features,
            "spherical": 1,
        }[self.covariance_type]
        return block_rows(8 * (2 * n_features + n_quadratic + 3 * self.n_components))

    def _e_step(self, params: Parameters, shift: np.ndarray) -> _EStep:
        """The E-step under ``params`` as a picklable function of a block of rows."""
        mixture_weights, means, covariances, precisions_cholesky = params
        return _EStep(
            expanded=gm.expand_gaussians(means, precisions_cholesky, self.covariance_type),
            log_weights=np.log(mixture_weights),
            means=means,
            covariances=covariances,
            shift=shift,
            covariance_type=self.covariance_type,
            missing=self.missing == "em",
        )

    def _m_step(
        self,
        moments: Moments,
        previous: Parameters | None,
        degenerate: dict[str, set[int]],
        normalise_weights: bool = True,
        tied_origin: np.ndarray | None = None,
    ) -> Parameters:
        """Parameters (weights, centred means, covariances, precision factors)."""
        result = m_step(
            moments,
            self.covariance_type,
            self.reg_covar,
            empty_threshold=_EMPTY_FRACTION * moments.total_weight,
            tied_origin=tied_origin,
        )
        weights, means, covariances = result.weights, result.means, result.covariances
        if not normalise_weights:
            weights = (moments.counts + COUNT_FLOOR) / moments.total_weight
        if previous is not None and result.empty_components.size:
            keep = result.empty_components
            degenerate["empty"].update(keep.tolist())
            means[keep] = previous[1][keep]
            if self.covariance_type != "tied":
                covariances[keep] = previous[2][keep]
        floor = _COLLAPSE_FRACTION * _mean_squares(
            result.weights, means, covariances, self.covariance_type
        )
        covariances, precisions_cholesky, jittered = _precision_cholesky_with_jitter(
            covariances, self.covariance_type, floor
        )
        degenerate["jittered"].update(jittered)
        return weights, means, covariances, precisions_cholesky

    # ----------------------------------------------------------------------------------
    # Initialisation

    def _check_initial_parameters(self, n_features: int) -> dict[str, np.ndarray | None]:
        """Validated copies of weights_init, means_init and precisions_init."""
        k = self.n_components
        initial: dict[str, np.ndarray | None] = {
            "weights": None,
            "means": None,
            "precisions": None,
        }
        if self.weights_init is not None:
            w = _as_float_array(self.weights_init, "weights_init")
            check_array_shape(w, (k,), "weights")
            if np.any(w < 0) or np.any(w > 1):
                raise ValueError(
                    "The parameter 'weights' should be in the range [0, 1], but got max "
                    f"value {w.max():.5f}, min value {w.min():.5f}"
                )
            if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    "The parameter 'weights' should be normalized, but got "
                    f"sum(weights) = {w.sum():.5f}"
                )
            initial["weights"] = w
        if self.means_init is not None:
            m = _as_float_array(self.means_init, "means_init")
            check_array_shape(m, (k, n_features), "means")
            initial["means"] = m
        if self.precisions_init is not None:
            p = _as_float_array(self.precisions_init, "precisions_init")
            shape = {
                "full": (k, n_features, n_features),
                "tied": (n_features, n_features),
                "diag": (k, n_features),
                "spherical": (k,),
            }[self.covariance_type]
            check_array_shape(p, shape, f"{self.covariance_type} precision")
            _check_precisions_definite(p, self.covariance_type)
            initial["precisions"] = p
        return initial

    def _initial_parameters(
        self,
        initial_moments: Callable[[np.random.RandomState], Moments],
        shift: np.ndarray,
        random_state: np.random.RandomState,
        initial: dict[str, np.ndarray | None],
        degenerate: dict[str, set[int]],
    ) -> Parameters:
        """Initial centred parameters, as scikit-learn computes them.

        ``initial_moments`` gives the moments of the responsibilities chosen
        by ``init_params``; they are not computed when all three initial
        parameter arrays are given. User-given arrays override the estimates.
        """
        if all(value is not None for value in initial.values()):
            estimated = None
        else:
            moments = initial_moments(random_state)
            # scikit-learn's tied estimate from seed rows (one-hot responsibilities
            # on k rows only) depends on the origin of the raw data: reproduce it.
            seeded = self.init_params in ("k-means++", "random_from_data")
            tied_origin = -shift if seeded and self.covariance_type == "tied" else None
            # Seeded components hold one row each, so their covariance is reg_covar
            # alone: repair it if needed, but that is by design, not worth a warning.
            init_degenerate = {"empty": set(), "jittered": set()} if seeded else degenerate
            estimated = self._m_step(
                moments, None, init_degenerate, normalise_weights=False, tied_origin=tied_origin
            )

        def given_or_estimated(name: str, index: int) -> np.ndarray:
            value = initial[name]
            if value is not None:
                return value
            if estimated is None:  # pragma: no cover - guarded above
                raise RuntimeError(f"no estimate for {name}")
            return estimated[index]

        mixture_weights = given_or_estimated("weights", 0)
        means = (
            initial["means"] - shift
            if initial["means"] is not None
            else given_or_estimated("means", 1)
        )
        if initial["precisions"] is not None:
            precisions_cholesky = _precision_cholesky_of_precisions(
                initial["precisions"], self.covariance_type
            )
            covariances = gm.covariances_from_precisions_cholesky(
                precisions_cholesky, self.covariance_type
            )
        else:
            covariances = given_or_estimated("precisions", 2)
            precisions_cholesky = given_or_estimated("precisions", 3)
        return mixture_weights, means, covariances, precisions_cholesky

    def _initial_responsibilities(
        self, X: np.ndarray, weights: np.ndarray | None, random_state: np.random.RandomState
    ) -> Callable[[slice, np.ndarray], np.ndarray]:
        """A function giving the initial responsibilities (k, b) of a block of rows.

        The random draws follow scikit-learn's order exactly, so an integer
        ``random_state`` gives the same start as ``sklearn.mixture.GaussianMixture``.
        """
        n_samples, k = X.shape[0], self.n_components
        if self.init_params in ("kmeans", "k-means++", "random_from_data"):
            if self.init_params == "kmeans":
                from lookalike._kmeans_cache import cached_kmeans_labels

                kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
                labels = cached_kmeans_labels(kmeans, X, weights)
            else:
                seeds = choose_seed_rows(X, k, self.init_params, weights, random_state)
                labels = np.full(n_samples, -1, dtype=np.intp)
                labels[seeds] = np.arange(k)

            def one_hot(rows: slice, xt: np.ndarray) -> np.ndarray:
                block_labels = labels[rows]
                return (np.arange(k)[:, np.newaxis] == block_labels).astype(np.float64)

            return one_hot

        # "random": uniform responsibilities, drawn block after block in row order,
        # which reproduces a single draw of shape (n_samples, n_components).
        def uniform(rows: slice, xt: np.ndarray) -> np.ndarray:
            resp = random_state.uniform(size=(rows.stop - rows.start, k))
            resp = resp.astype(X.dtype).astype(np.float64)
            resp /= resp.sum(axis=1, keepdims=True)
            return np.ascontiguousarray(resp.T)

        return uniform

    # ----------------------------------------------------------------------------------
    # Parameters: centred float64 working copies vs fitted attributes

    def _set_parameters(
        self,
        params: Parameters,
        shift: np.ndarray,
        dtype: np.dtype[Any],
    ) -> None:
        weights, means, covariances, precisions_cholesky = params
        self.weights_ = weights.astype(dtype)
        self.means_ = (means + shift).astype(dtype)
        self.covariances_ = covariances.astype(dtype)
        self.precisions_cholesky_ = precisions_cholesky.astype(dtype)
        self.precisions_ = gm.precisions_from_cholesky(
            precisions_cholesky, self.covariance_type
        ).astype(dtype)

    def _get_parameters64(self) -> Parameters:
        return (
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    # ----------------------------------------------------------------------------------
    # Inference

    def _log_joint(self, X: np.ndarray) -> np.ndarray:
        """``log w_k + log N_k(x)`` for every row of validated X: shape (n, k)."""
        weights, means, covariances, precisions_cholesky = self._get_parameters64()
        shift = weights @ means
        expanded = gm.expand_gaussians(means - shift, precisions_cholesky, self.covariance_type)
        log_weights = np.log(weights)
        out = np.empty((X.shape[0], self.n_components), dtype=np.float64)
        blocks = row_slices(X.shape[0], self._rows_per_block(X.shape[1]))
        missing_em = self.missing == "em"

        def block_log_joint(rows: slice) -> None:
            xt = gm.centred_block(X[rows], shift)
            if missing_em:
                # NaN entries are integrated out: the marginal of the observed ones.
                out[rows] = log_joint_block_missing(
                    xt, expanded, log_weights, means - shift, covariances, self.covariance_type
                ).T
                return
            out[rows] = log_joint_block(xt, expanded, log_weights, self.covariance_type).T

        for _ in map_blocks(block_log_joint, blocks, self.n_jobs):
            pass
        return out

    def _validate_for_inference(self, X: npt.ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            reset=False,
            ensure_all_finite="allow-nan" if self.missing == "em" else True,
        )

    def _predict_validated(self, X: np.ndarray) -> np.ndarray:
        return self._log_joint(X).argmax(axis=1)

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density ``log p(x)`` of every row: shape (n_samples,), float64.

        A dask array or DataFrame gives a lazy dask array, computed partition
        by partition; :class:`~lookalike.chunks.Chunks` give an ndarray,
        computed chunk by chunk.
        """
        if is_partitioned(X):
            return _map_rows(self, "score_samples", X)
        X = self._validate_for_inference(X)
        return logsumexp(self._log_joint(X), axis=1)

    def score(self, X: npt.ArrayLike, y: Any = None) -> float:
        """Mean log-density of the rows (scikit-learn's convention for mixtures)."""
        total, count = self._total_log_likelihood(X)
        return total / count

    def _total_log_likelihood(self, X: npt.ArrayLike) -> tuple[float, int]:
        """``sum_i log p(x_i)`` and the number of rows (one pass for dask input)."""
        scores = self.score_samples(X)
        if is_partitioned(scores):
            from lookalike.distributed import total_and_count

            return total_and_count(scores)
        return float(np.sum(scores)), scores.shape[0]

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Most probable component of every row: shape (n_samples,)."""
        if is_partitioned(X):
            return _map_rows(self, "predict", X, dtype=np.intp)
        return self._predict_validated(self._validate_for_inference(X))

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Posterior probability of each component: shape (n_samples, n_components)."""
        if is_partitioned(X):
            return _map_rows(self, "predict_proba", X, n_columns=self.n_components)
        X = self._validate_for_inference(X)
        log_joint = self._log_joint(X)
        log_joint -= logsumexp(log_joint, axis=1, keepdims=True)
        return np.exp(log_joint, out=log_joint)

    def sample(
        self, n_samples: int = 1, random_state: RandomStateLike = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw rows from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, RandomState or Generator, default=None
            Randomness of this call. ``None`` uses the estimator's
            ``random_state`` as scikit-learn does (so with an int every call
            returns the same rows); pass a ``Generator`` or a fresh seed to get
            new draws. With ``None``, an int or a ``RandomState`` the draws equal
            scikit-learn's; a ``Generator`` uses Cholesky factors (faster).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float64
        y : ndarray of shape (n_samples,), int64
            Component of each row; rows are grouped by component.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, int | np.integer) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at "
                "least one sample."
            )
        source = self.random_state if random_state is None else random_state
        weights, means, covariances, precisions_cholesky = self._get_parameters64()
        weights = weights / weights.sum()
        n_features = means.shape[1]
        if isinstance(source, np.random.Generator):
            counts = source.multinomial(n_samples, weights)
            scale = _sampling_factors(
                precisions_cholesky, self.covariance_type, self.n_components, n_features
            )
            parts = [
                means[j] + source.standard_normal((int(c), n_features)) @ scale[j]
                for j, c in enumerate(counts)
            ]
        else:
            rng = as_random_state(source)
            counts = rng.multinomial(n_samples, weights)
            parts = []
            for j, c in enumerate(counts):
                if self.covariance_type in ("full", "tied"):
                    cov = covariances[j] if self.covariance_type == "full" else covariances
                    parts.append(rng.multivariate_normal(means[j], cov, int(c)))
                else:
                    noise = rng.standard_normal(size=(int(c), n_features))
                    parts.append(means[j] + noise * np.sqrt(covariances[j]))
        labels = np.repeat(np.arange(self.n_components, dtype=np.int64), counts)
        return np.vstack(parts).astype(np.float64), labels

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem."""
        check_mixture_state(self, _PARAMETERS, self.n_components)

    # ----------------------------------------------------------------------------------
    # Information criteria

    def _n_parameters(self) -> int:
        """Free parameters: covariances, means and ``n_components - 1`` weights."""
        n_features = self.means_.shape[1]
        covariance_parameters = gm.n_covariance_parameters(
            self.covariance_type, self.n_components, n_features
        )
        return int(covariance_parameters + n_features * self.n_components + self.n_components - 1)

    def bic(self, X: npt.ArrayLike) -> float:
        """Bayesian information criterion ``-2 log L + p log n`` (lower is better)."""
        log_likelihood, n_samples = self._total_log_likelihood(X)
        return float(-2 * log_likelihood + self._n_parameters() * math.log(n_samples))

    def aic(self, X: npt.ArrayLike) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better)."""
        log_likelihood, _ = self._total_log_likelihood(X)
        return float(-2 * log_likelihood + 2 * self._n_parameters())

    # ----------------------------------------------------------------------------------
    # Checks and messages

    def _check_constant_features(self, column_ranges: np.ndarray) -> None:
        """With ``reg_covar=0``, refuse features whose range (max - min) is zero."""
        constant = np.flatnonzero(column_ranges == 0)
        if constant.size:
            raise ValueError(
                f"Feature(s) {constant.tolist()} are constant, so their covariance is "
                "singular when reg_covar=0. Set reg_covar > 0 (the default is 1e-6) or "
                "drop those features."
            )

    def _warn_degenerate(self, degenerate: dict[str, set[int]]) -> None:
        if degenerate["empty"]:
            warnings.warn(
                f"Component(s) {sorted(degenerate['empty'])} received no responsibility "
                "mass; they kept their previous mean and covariance. Consider fewer "
                "components.",
                DegenerateComponentWarning,
                stacklevel=4,
            )
        if degenerate["jittered"]:
            warnings.warn(
                f"Component(s) {sorted(degenerate['jittered'])} had a covariance that was "
                "not positive definite, or singular up to rounding (collapsed samples); "
                "the smallest diagonal jitter that repairs it was added. Consider "
                "increasing reg_covar, fewer components, or scaling the data.",
                DegenerateComponentWarning,
                stacklevel=4,
            )

    def _verbose_init_start(self, init: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {init}")
            self._timer_init = self._timer_iter = perf_counter()

    def _verbose_iteration(self, n_iter: int, change: float) -> None:
        if self.verbose == 0 or n_iter % self.verbose_interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = perf_counter()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self._timer_iter:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self._timer_iter = now

    def _verbose_init_end(self, lower_bound: float, converged: bool) -> None:
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            elapsed = perf_counter() - self._timer_init
            print(
                f"Initialization {message}. time lapse {elapsed:.5f}s\t lower bound "
                f"{lower_bound:.5f}."
            )


# --------------------------------------------------------------------------------------
# Helpers on arrays


def choose_seed_rows(
    X: np.ndarray,
    n_components: int,
    init_params: str,
    weights: np.ndarray | None,
    random_state: np.random.RandomState,
) -> np.ndarray:
    """Indices of the rows that seed the components ("k-means++" or "random_from_data").

    The draws follow scikit-learn's order, so an integer ``random_state`` picks
    the same rows.
    """
    if init_params == "k-means++":
        _, seeds = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=weights
        )
        return np.asarray(seeds)
    # Equal weights draw exactly as no weights (NumPy's choice takes another path
    # when p is given), so constant weights change nothing.
    probabilities = None
    if weights is not None and np.any(weights != weights[0]):
        probabilities = weights / weights.sum()
    return np.asarray(
        random_state.choice(X.shape[0], size=n_components, replace=False, p=probabilities)
    )


def _map_rows(estimator: Any, method: str, X: Any, **kwargs: Any) -> Any:
    from lookalike.distributed import map_rows

    check_is_fitted(estimator)
    return map_rows(estimator, method, X, **kwargs)


def _weighted_column_means(X: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return X.mean(axis=0, dtype=np.float64)
    return (weights @ X.astype(np.float64, copy=False)) / weights.sum()


def _observed_data(
    X: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows to fit, their weights, a NaN-free copy for initialisation, the shift.

    Without NaN: ``(X, weights, X, weighted column means)``. With NaN (only
    ``missing="em"`` lets them through): rows with no observed entry are
    dropped, the shift is the weighted mean of each column's observed entries
    and the copy has every missing entry replaced by its column's shift.
    """
    observed = ~np.isnan(X)
    if observed.all():
        return X, weights, X, _weighted_column_means(X, weights)
    informative = observed.any(axis=1)
    if not informative.any():
        raise ValueError("Every entry of X is missing (NaN): there is nothing to fit.")
    if not informative.all():
        X, observed = X[informative], observed[informative]
        weights = None if weights is None else weights[informative]
    row_weights = np.ones(X.shape[0]) if weights is None else weights
    column_weight = row_weights @ observed
    unobserved = np.flatnonzero(column_weight <= 0)
    if unobserved.size:
        raise ValueError(
            f"Feature(s) {unobserved.tolist()} have no observed value (with positive "
            "sample weight), so their distribution cannot be estimated. Drop those "
            "features or provide observations."
        )
    shift = (row_weights @ np.where(observed, X.astype(np.float64), 0.0)) / column_weight
    filled = np.where(observed, X, shift.astype(X.dtype))
    return X, weights, filled, shift


def _centred(params: Parameters, shift: np.ndarray) -> Parameters:
    weights, means, covariances, precisions_cholesky = params
    return weights, means - shift, covariances, precisions_cholesky


def _mean_squares(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, covariance_type: str
) -> np.ndarray:
    """Scale of each component's statistics: shape (k,), or () for tied.

    ``max(s_k, sum_j w_j s_j)`` with ``s_k`` the mean over features of
    ``E_k[x^2]`` about the data mean (variance plus squared centred mean); the
    second term keeps the scale positive for a point mass at the data mean.
    """
    square_means = (means**2).mean(axis=1)
    if covariance_type == "full":
        variances = np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1)
    elif covariance_type == "tied":
        variances = np.full(len(means), np.diagonal(covariances).mean())
    elif covariance_type == "diag":
        variances = covariances.mean(axis=1)
    else:
        variances = np.asarray(covariances, dtype=np.float64)
    scales = np.abs(variances) + square_means
    overall = float(weights @ scales)
    if covariance_type == "tied":
        return np.asarray(overall)
    return np.maximum(scales, overall)


def _precision_cholesky_with_jitter(
    covariances: np.ndarray, covariance_type: str, floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Precision factors, with collapsed components repaired by diagonal jitter.

    A component has collapsed when a variance (for full and tied: a Cholesky
    pivot, the variance of a feature given the previous ones) is below its
    ``floor`` (shape (k,), or () for tied), or when its Cholesky factorisation
    fails: its covariance is then rounding noise in some direction. Diagonal
    and spherical variances are raised to the floor; full and tied matrices get
    the smallest jitter ``floor * 10**e`` (``e = 0, 1, ..., 12``) that gives
    every pivot at least the floor.

    Returns the covariances actually used, their precision factors and the
    indices of the repaired components.
    """
    if not np.all(np.isfinite(covariances)) or not np.all(floor > 0):
        raise ValueError(_CHOLESKY_ERROR)
    if covariance_type in ("diag", "spherical"):
        component_floor = floor if covariance_type == "spherical" else floor[:, np.newaxis]
        collapsed = covariances < component_floor
        bad = np.flatnonzero(collapsed.reshape(len(covariances), -1).any(axis=1))
        if bad.size:
            covariances = np.where(collapsed, component_floor, covariances)
        return covariances, 1.0 / np.sqrt(covariances), bad.tolist()
    matrices = covariances[np.newaxis] if covariance_type == "tied" else covariances
    floors = np.broadcast_to(floor, (len(matrices),))
    repaired = matrices.copy()
    factors = np.empty_like(matrices)
    jittered: list[int] = []
    for j, (matrix, component_floor) in enumerate(zip(matrices, floors, strict=True)):
        factor = _factor_with_pivots_above(matrix, component_floor)
        if factor is not None:
            factors[j] = factor
            continue
        jittered.append(j)
        identity = np.eye(matrix.shape[0])
        for exponent in range(13):
            candidate = matrix + component_floor * 10.0**exponent * identity
            # Rounding may leave a pivot of the jittered matrix a little under the jitter.
            factor = _factor_with_pivots_above(candidate, 0.5 * component_floor)
            if factor is not None:
                factors[j], repaired[j] = factor, candidate
                break
        else:
            raise ValueError(_CHOLESKY_ERROR)
    if covariance_type == "tied":
        return repaired[0], factors[0], jittered
    return repaired, factors, jittered


def _factor_with_pivots_above(matrix: np.ndarray, floor: float) -> np.ndarray | None:
    """Precision factor ``U`` of ``matrix``, or None if a pivot is below ``floor``.

    The pivots of the Cholesky factorisation are ``1 / diag(U)**2``.
    """
    try:
        factor = gm.precision_cholesky_of_matrix(matrix)
    except np.linalg.LinAlgError:
        return None
    largest = float(np.diagonal(factor).max())
    if not np.isfinite(largest) or largest**2 * floor > 1.0:
        return None
    return factor


def _precision_cholesky_of_precisions(precisions: np.ndarray, covariance_type: str) -> np.ndarray:
    if covariance_type == "full":
        return np.stack([gm.precision_cholesky_of_precision(p) for p in precisions])
    if covariance_type == "tied":
        return gm.precision_cholesky_of_precision(precisions)
    return np.sqrt(precisions)


def _check_precisions_definite(precisions: np.ndarray, covariance_type: str) -> None:
    name = f"'{covariance_type} precision'"
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError(f"{name} should be positive")
        return
    matrices = precisions[np.newaxis] if covariance_type == "tied" else precisions
    for matrix in matrices:
        symmetric = np.allclose(matrix, matrix.T)
        if not symmetric or np.linalg.eigvalsh(matrix).min() <= 0:
            raise ValueError(f"{name} should be symmetric, positive-definite")


def _sampling_factors(
    precisions_cholesky: np.ndarray,
    covariance_type: str,
    n_components: int,
    n_features: int,
) -> np.ndarray:
    """``A_k`` with ``z @ A_k ~ N(0, Sigma_k)`` for standard normal rows ``z``.

    With ``P = U U^T`` we have ``Sigma = U^{-T} U^{-1}``, so ``A = U^{-1}``
    (i.e. ``z @ inv(U)`` has covariance ``inv(U)^T inv(U)``).
    """
    if covariance_type == "full":
        eye = np.eye(n_features)
        return np.stack([np.linalg.solve(u, eye) for u in precisions_cholesky])
    if covariance_type == "tied":
        a = np.linalg.solve(precisions_cholesky, np.eye(n_features))
        return np.broadcast_to(a, (n_components, *a.shape))
    if covariance_type == "diag":
        return np.stack([np.diag(1.0 / u) for u in precisions_cholesky])
    return np.stack([np.eye(n_features) / u for u in precisions_cholesky])
