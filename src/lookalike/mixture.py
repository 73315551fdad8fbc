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
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from lookalike._conditional import GaussianConditioningMixin
from lookalike._math import gaussian as gm
from lookalike._math.blocks import block_rows, map_blocks, reduce_blocks, row_slices
from lookalike._math.collapse import EMPTY_FRACTION, factor_covariances, noise_floors
from lookalike._math.em import (
    COUNT_FLOOR,
    Moments,
    e_step_rows,
    fixed_responsibility_moments,
    log_joint_block,
    m_step,
)
from lookalike._math.far import log_posteriors
from lookalike._math.missing import e_step_block_missing, log_joint_block_missing
from lookalike._mixture_arrays import (
    Parameters,
    centred,
    check_initial_parameters,
    choose_seed_rows,
    draw_samples,
    observed_data,
    precision_cholesky_of_precisions,
)
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
    check_n_samples,
    check_sample_weight,
    check_scale,
    is_partitioned,
    validate_data,
    validate_params,
)
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
    "on_collapse": Options(("raise", "repair")),
}

_CHOLESKY_ERROR = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data; or pass on_collapse='repair' to keep collapsed components finite."
)


@dataclass(frozen=True)
class _EStep:
    """The E-step of one EM iteration, as a picklable function of a block of rows.

    ``e_step(rows, row_weights)`` centres the rows (shape (b, d), raw
    coordinates) by ``shift`` and returns their :class:`Moments`. In-memory
    EM calls it on row blocks; chunked and Dask EM ship it to every partition.
    float32 rows run in single precision when ``single`` is set (see
    :func:`~lookalike._math.em.e_step_rows`).
    """

    expanded: gm.ExpandedGaussians
    single: gm.ExpandedGaussians | None
    log_weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    shift: np.ndarray
    covariance_type: str
    missing: bool

    def __call__(self, rows: np.ndarray, row_weights: np.ndarray | None) -> Moments:
        if self.missing:
            return e_step_block_missing(
                gm.centred_block(rows, self.shift),
                row_weights,
                self.expanded,
                self.log_weights,
                self.means,
                self.covariances,
                self.covariance_type,
            )
        return e_step_rows(
            rows,
            row_weights,
            self.shift,
            self.expanded,
            self.single,
            self.log_weights,
            self.covariance_type,
        )


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
    state in :meth:`sample`, float32 data fitted in single precision with
    float64 statistics, missing values, repair of collapsed components
    (``on_collapse``), and ``n_jobs``.

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
    on_collapse : {"raise", "repair"}, default="raise"
        What to do when a component collapses, i.e. its covariance is singular
        (a component on repeated rows, or on fewer rows than features).
        ``"raise"``: scikit-learn's behaviour, a ``ValueError`` when
        ``reg_covar=0`` (with ``reg_covar > 0`` a covariance is positive
        definite by construction; see Notes). ``"repair"``: keep the fit
        finite by adding the smallest diagonal jitter that makes the
        covariance positive definite, with a
        :class:`~lookalike.exceptions.DegenerateComponentWarning`. Not in
        scikit-learn.

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
    lower_bound_ : numpy float32 or float64
        Mean (weighted) log-likelihood of the training data at the best
        initialisation's last E-step, with the dtype of the fitted attributes
        (as scikit-learn).
    lower_bounds_ : list of numpy float32 or float64
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
    so memory does not grow with ``n_samples``. The fitted attributes have
    the dtype of X (float32 or float64), as in scikit-learn. float32 X is
    fitted in single precision (matrix products and ``exp``, about twice as
    fast) while the statistics and the log-likelihood are summed in float64;
    an iteration whose components lie too far from the data mean for float32
    (see :func:`lookalike._math.gaussian.single_precision`) runs in float64.

    A component with no responsibility mass keeps its previous mean and
    covariance (:class:`~lookalike.exceptions.DegenerateComponentWarning`). A
    covariance collapses when it is not positive definite or a variance
    (Cholesky pivot) is below 1e-13 of that feature's mean square about the
    data mean, i.e. at the level of the rounding noise of one-pass statistics
    (see :mod:`lookalike._math.collapse`). With ``reg_covar=0`` and
    ``on_collapse="raise"`` that is scikit-learn's ``ValueError``. Otherwise
    the smallest diagonal jitter that lifts the variances above that level is
    added, with a warning: with ``reg_covar > 0`` this only happens when
    ``reg_covar`` itself is below the rounding noise (values thousands of
    times ``sqrt(reg_covar)`` away from the mean), where scikit-learn's exact
    arithmetic would still fit.

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
        on_collapse: str = "raise",
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
        self.on_collapse = on_collapse

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
        weights = check_sample_weight(sample_weight, data.shape[0])
        check_scale(data)
        fitted, weights, filled, shift = observed_data(data, weights)
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
        initial = check_initial_parameters(self, data.n_features)
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
                params = centred(self._get_parameters64(), data.shift)
                lower_bound = float(getattr(self, "lower_bound_", -np.inf))
            lower_bounds: list[float] = []
            converged = False
            n_iter = 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                moments = data.em_pass(params)
                if not moments.is_finite():
                    raise ValueError("EM statistics overflowed float64: rescale X.")
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
        self.lower_bound_ = data.dtype.type(best_lower_bound)
        self.lower_bounds_ = [data.dtype.type(value) for value in best_lower_bounds]

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
        expanded = gm.expand_gaussians(means, precisions_cholesky, self.covariance_type)
        return _EStep(
            expanded=expanded,
            single=None if self.missing == "em" else gm.single_precision(expanded, means),
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
            empty_threshold=EMPTY_FRACTION * moments.total_weight,
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
        floors = noise_floors(result.weights, means, covariances, self.covariance_type)
        # scikit-learn fails only on a singular covariance, which reg_covar > 0 excludes.
        repair = self.on_collapse == "repair" or self.reg_covar > 0
        factors = factor_covariances(covariances, self.covariance_type, floors, repair)
        if not factors.repairable or (factors.collapsed and not repair):
            raise ValueError(_CHOLESKY_ERROR)
        degenerate["jittered"].update(factors.collapsed)
        return weights, means, factors.covariances, factors.precisions_cholesky

    # ----------------------------------------------------------------------------------
    # Initialisation

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
            precisions_cholesky = precision_cholesky_of_precisions(
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

    def _log_posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log p(k | x)`` (n, k) and ``log p(x)`` (n,) of validated X, float64.

        Rows so far from the model that their squares overflow are recomputed
        by scaling (:mod:`lookalike._math.far`): posteriors stay finite and
        ``log p(x)`` is ``-inf`` when it is below float64's range.
        """
        weights, means, covariances, precisions_cholesky = self._get_parameters64()
        shift = weights @ means
        expanded = gm.expand_gaussians(means - shift, precisions_cholesky, self.covariance_type)
        log_weights = np.log(weights)
        log_resp = np.empty((X.shape[0], self.n_components))
        log_density = np.empty(X.shape[0])
        blocks = row_slices(X.shape[0], self._rows_per_block(X.shape[1]))
        missing_em = self.missing == "em"

        def block_posteriors(rows: slice) -> None:
            with np.errstate(over="ignore", invalid="ignore"):  # rows far away: see above
                xt = gm.centred_block(X[rows], shift)
                if missing_em:  # NaN entries are integrated out: the observed marginal.
                    log_joint = log_joint_block_missing(
                        xt, expanded, log_weights, means - shift, covariances, self.covariance_type
                    )
                else:
                    log_joint = log_joint_block(xt, expanded, log_weights, self.covariance_type)
            resp, density = log_posteriors(
                log_joint, X[rows], shift, expanded, log_weights, self.covariance_type
            )
            log_resp[rows], log_density[rows] = resp.T, density

        for _ in map_blocks(block_posteriors, blocks, self.n_jobs):
            pass
        if np.isnan(log_density).any():
            raise ValueError(
                "Some rows of X have missing entries and observed values so large (in units "
                "of the components' standard deviations) that their squares overflow float64; "
                "rescale X and the model's data."
            )
        return log_resp, log_density

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
        return self._log_posteriors(X)[0].argmax(axis=1)

    def _output_dtype(self, X: np.ndarray) -> np.dtype[Any]:
        """scikit-learn's dtype for scores and posteriors: X's and the parameters'."""
        return np.result_type(X.dtype, self.means_.dtype)

    def score_samples(self, X: npt.ArrayLike) -> np.ndarray:
        """Log-density ``log p(x)`` of every row: shape (n_samples,).

        float32 when both X and the fitted model are float32, else float64
        (as scikit-learn); computed in float64. ``-inf`` for rows whose
        log-density is below the dtype's range. A dask array or DataFrame
        gives a lazy dask array, computed partition by partition;
        :class:`~lookalike.chunks.Chunks` give an ndarray, computed chunk by
        chunk.
        """
        if is_partitioned(X):
            return _map_rows(self, "score_samples", X)
        X = self._validate_for_inference(X)
        with np.errstate(over="ignore"):  # below float32's range: -inf
            return self._log_posteriors(X)[1].astype(self._output_dtype(X), copy=False)

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
        return float(np.sum(scores, dtype=np.float64)), scores.shape[0]

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Most probable component of every row: shape (n_samples,)."""
        if is_partitioned(X):
            return _map_rows(self, "predict", X, dtype=np.intp)
        return self._predict_validated(self._validate_for_inference(X))

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Posterior probability of each component: shape (n_samples, n_components).

        Same dtype rule as :meth:`score_samples`; always finite, rows summing to 1.
        """
        if is_partitioned(X):
            return _map_rows(self, "predict_proba", X, n_columns=self.n_components)
        X = self._validate_for_inference(X)
        log_resp = self._log_posteriors(X)[0]
        return np.exp(log_resp, out=log_resp).astype(self._output_dtype(X), copy=False)

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
        n_samples = check_n_samples(n_samples, self.means_.shape[1], bytes_per_row=8)
        source = self.random_state if random_state is None else random_state
        return draw_samples(self._get_parameters64(), self.covariance_type, n_samples, source)

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
# Helpers


def _map_rows(estimator: Any, method: str, X: Any, **kwargs: Any) -> Any:
    from lookalike.distributed import map_rows

    check_is_fitted(estimator)
    return map_rows(estimator, method, X, **kwargs)
