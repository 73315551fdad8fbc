"""GaussianMixture: a drop-in for ``sklearn.mixture.GaussianMixture``.

The class validates its parameters, hands the rows to the EM loop
(:mod:`lookalike.mixture.em`) through a row source (in memory:
:mod:`lookalike.mixture.sources`; Chunks and dask:
:mod:`lookalike.mixture.partitioned`) and stores the result; the arithmetic
lives in :mod:`lookalike._math` (E-step and M-step in :mod:`lookalike._math.em`,
log-densities in :mod:`lookalike._math.gaussian`).
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from lookalike._conditional import GaussianConditioningMixin
from lookalike._math import gaussian as gm
from lookalike._math.blocks import row_slices
from lookalike._math.em import log_joint_block
from lookalike._math.far import log_posteriors
from lookalike._math.missing import log_joint_block_missing
from lookalike._parallel import map_blocks, single_threaded_blas
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
from lookalike.mixture.em import EMData, EMResult, EMSettings, Parameters, rows_per_block, run_em
from lookalike.mixture.initial import check_initial_parameters
from lookalike.mixture.sampling import draw_samples
from lookalike.mixture.sources import in_memory
from lookalike.partitions import map_rows, total_and_count

__all__ = ["GaussianMixture"]

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

        A dask collection or a :class:`~lookalike.chunks.Chunks` source is
        visited partition by partition (:mod:`lookalike.mixture.partitioned`)
        with the same E-step; everything else is fitted in memory
        (:mod:`lookalike.mixture.sources`). The EM loop is
        :func:`lookalike.mixture.em.run_em`.
        """
        validate_params(self, _PARAMETERS)
        settings = EMSettings.of(self)
        if is_partitioned(X):
            from lookalike.mixture.partitioned import partitioned

            source = partitioned(X, sample_weight, settings)
            self.n_features_in_ = source.n_features
            names = source.feature_names
            if names is not None and all(isinstance(name, str) for name in names):
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self._run_em(source.em_data, settings)
            return X
        data: np.ndarray = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan" if self.missing == "em" else True,
        )
        weights = check_sample_weight(sample_weight, data.shape[0])
        check_scale(data)
        self._run_em(in_memory(data, weights, settings), settings)
        return data

    def _run_em(self, data: EMData, settings: EMSettings) -> None:
        """Run the EM loop on ``data`` and store its best result as fitted attributes."""
        initial = check_initial_parameters(
            self.weights_init,
            self.means_init,
            self.precisions_init,
            self.n_components,
            self.covariance_type,
            data.n_features,
        )
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = (self._get_parameters64(), float(getattr(self, "lower_bound_", -np.inf)))
        self.converged_ = False
        result: EMResult = run_em(
            data, settings, initial, as_random_state(self.random_state), warm
        )
        self._set_parameters(result.params, data.shift, data.dtype)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bound_ = data.dtype.type(result.lower_bound)
        self.lower_bounds_ = [data.dtype.type(value) for value in result.lower_bounds]

    def _rows_per_block(self, n_features: int) -> int:
        return rows_per_block(n_features, self.n_components, self.covariance_type)

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
                        xt,
                        expanded,
                        log_weights,
                        means - shift,
                        covariances,
                        self.covariance_type,
                        single_threaded_blas,
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


# --------------------------------------------------------------------------------------
# Helpers


def _map_rows(estimator: Any, method: str, X: Any, **kwargs: Any) -> Any:
    check_is_fitted(estimator)
    return map_rows(estimator, method, X, **kwargs)
