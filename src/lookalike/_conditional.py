"""Exact conditionals, marginals and imputation for fitted Gaussian models.

:class:`GaussianConditioningMixin` adds :meth:`~GaussianConditioningMixin.condition`,
:meth:`~GaussianConditioningMixin.marginal`, :meth:`~GaussianConditioningMixin.mean`,
:meth:`~GaussianConditioningMixin.covariance` and
:meth:`~GaussianConditioningMixin.impute` to any estimator that holds a
Gaussian mixture in scikit-learn's attributes (``weights_``, ``means_``,
``covariances_``, ``precisions_cholesky_`` shaped by ``covariance_type``).
The formulas live in :mod:`lookalike._math.conditioning`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from lookalike._features import feature_indices, split_known
from lookalike._math import conditioning as cd
from lookalike._math import gaussian as gm
from lookalike._math.blocks import block_rows, row_slices
from lookalike._math.covariance import structure
from lookalike._math.missing import group_patterns
from lookalike._parallel import map_blocks, single_threaded_blas
from lookalike._validation import RandomStateLike, as_random_state, validate_data

FeatureKey = int | str

_IMPUTE_METHODS = ("mean", "sample")

_NOT_DEFINITE = (
    "The conditional covariance is not positive definite to working precision: the "
    "known features determine the unknown ones almost exactly. Refit with a larger "
    "reg_covar, or drop the redundant features."
)


def _random_source(random_state: RandomStateLike) -> np.random.Generator | np.random.RandomState:
    """A ``Generator`` as it is; anything else through :func:`as_random_state`."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return as_random_state(random_state)


class GaussianConditioningMixin:
    """Conditioning, marginalisation and imputation for fitted Gaussian (mixture) models.

    Every method works on the fitted parameters only; conditionals and
    marginals are new fitted estimators of the same class (built by
    :func:`sklearn.base.clone`), so ``score_samples``, ``sample``,
    ``predict``, ``bic``, and conditioning again, work on them.
    """

    covariance_type: str
    n_features_in_: int

    # ----------------------------------------------------------------------------------
    # Public methods

    def condition(self, x: npt.ArrayLike | Mapping[FeatureKey, float]) -> Self:
        """The model of the unknown features given the known ones.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features), or dict
            One row with NaN at the unknown features, or a dict
            ``{feature index or name: value}`` of the known features (all others
            are unknown). Names need a model fitted on a DataFrame. At least one
            feature must be known and one unknown.

        Returns
        -------
        model : estimator of the same class
            Fitted, over the unknown features in their original order, with
            ``n_features_in_`` (and ``feature_names_in_``) set accordingly.

        Notes
        -----
        With ``o`` the known and ``m`` the unknown features, component ``k``
        becomes ``N(mu_m + A_k (x_o - mu_o), S_mm - S_mo S_oo^{-1} S_om)`` with
        ``A_k = S_mo S_oo^{-1}`` (Cholesky solves, no inverse), and its weight
        ``w_k N(x_o | mu_k,o, S_k,oo)``, normalised in log space. The
        covariance type is kept. See :mod:`lookalike._math.conditioning`.

        Examples
        --------
        >>> import numpy as np
        >>> from lookalike.gaussian import Gaussian
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=2000)
        >>> model = Gaussian().fit(X)
        >>> given = model.condition({0: 1.0})
        >>> given.n_features_in_
        1
        >>> bool(abs(given.mean()[0] - 0.8) < 0.1)
        True
        """
        check_is_fitted(self)
        known, values, missing = split_known(
            x, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        weights, means, covariances = self._parameters64()
        try:
            with single_threaded_blas():
                new_weights, new_means, new_covariances = cd.condition_parameters(
                    weights, means, covariances, self.covariance_type, values, known, missing
                )
        except np.linalg.LinAlgError:
            raise ValueError(_NOT_DEFINITE) from None
        return self._with_parameters(new_weights, new_means, new_covariances, missing)

    def marginal(self, features: Sequence[FeatureKey] | FeatureKey) -> Self:
        """The model of a subset of the features, integrating out the others.

        Parameters
        ----------
        features : int, str or sequence of int or str
            Feature indices or names (names need a model fitted on a DataFrame),
            in the order the new model will use. No repeats.

        Returns
        -------
        model : estimator of the same class
            Fitted, with the same weights and the selected means and covariance
            blocks.

        Examples
        --------
        >>> import numpy as np
        >>> from lookalike.gaussian import Gaussian
        >>> X = np.random.default_rng(0).normal(size=(100, 3))
        >>> model = Gaussian().fit(X)
        >>> np.allclose(model.marginal([2, 0]).mean(), model.mean()[[2, 0]])
        True
        """
        check_is_fitted(self)
        indices = feature_indices(
            features, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        weights, means, covariances = self._parameters64()
        new_means, new_covariances = cd.marginal_parameters(
            means, covariances, self.covariance_type, indices
        )
        return self._with_parameters(weights, new_means, new_covariances, indices)

    def mean(self) -> np.ndarray:
        """Mean of the model: ``sum_k w_k mu_k``, shape (n_features,)."""
        check_is_fitted(self)
        weights, means, covariances = self._parameters64()
        return cd.mixture_moments(weights, means, covariances, self.covariance_type)[0]

    def covariance(self) -> np.ndarray:
        """Covariance matrix of the whole model, shape (n_features, n_features).

        For a mixture, ``sum_k w_k (S_k + (mu_k - mu)(mu_k - mu)^T)`` with
        ``mu`` the mixture mean (law of total variance).
        """
        check_is_fitted(self)
        weights, means, covariances = self._parameters64()
        return cd.mixture_moments(weights, means, covariances, self.covariance_type)[1]

    def impute(
        self,
        X: npt.ArrayLike,
        method: str = "mean",
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Fill the NaN entries of X from the model's conditional distributions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with NaN at the missing entries; infinities are an error.
        method : {"mean", "sample"}, default="mean"
            ``"mean"`` fills the conditional mean ``E[x_m | x_o]`` (Gaussian
            mixture regression); ``"sample"`` fills a draw from the
            conditional distribution.
        random_state : None, int, RandomState or Generator, default=None
            Randomness of ``"sample"``; ``None`` draws from NumPy's global
            random state (new values at every call). The same seed gives the
            same values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), float64
            A copy of X with every NaN filled; complete rows are unchanged.
            Rows with every feature missing get the model's mean (``"mean"``)
            or a draw from the model (``"sample"``).

        Notes
        -----
        Rows are grouped by their pattern of missing features. For each
        pattern the regression coefficients ``A_k`` and conditional
        covariances are computed once per component (see :meth:`condition`);
        then, over blocks of that pattern's rows, the responsibilities
        ``p(k | x_o) = softmax_k(log w_k + log N(x_o | mu_k,o, S_k,oo))`` give
        the mean ``sum_k p(k | x_o) mu_k,m|o`` or, for ``"sample"``, a
        component drawn from ``p(k | x_o)`` and then a draw from that
        component's conditional Gaussian. No per-row model is built. Patterns
        run on threads (``n_jobs`` where the estimator has it); for ``"sample"``
        each pattern draws from its own stream, spawned from ``random_state``
        before any thread starts, so the result does not depend on threading.

        Examples
        --------
        >>> import numpy as np
        >>> from lookalike.gaussian import Gaussian
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=2000)
        >>> model = Gaussian().fit(X)
        >>> filled = model.impute([[1.0, np.nan], [np.nan, np.nan], [0.5, 0.5]])
        >>> bool(abs(filled[0, 1] - 0.8) < 0.1), filled[2].tolist()
        (True, [0.5, 0.5])
        """
        check_is_fitted(self)
        if not isinstance(method, str) or method not in _IMPUTE_METHODS:
            raise ValueError(f"method must be one of {_IMPUTE_METHODS}; got {method!r}.")
        data: np.ndarray = validate_data(
            self,
            X,
            reset=False,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            copy=True,
            ensure_min_samples=0,
        )
        if data.shape[0] == 0:
            return data
        weights, means, covariances = self._parameters64()
        weights = weights / weights.sum()
        log_weights = np.log(np.maximum(weights, np.finfo(np.float64).tiny))
        patterns, members = group_patterns(np.isnan(data))
        todo = [index for index, pattern in enumerate(patterns) if pattern.any()]
        # One independent stream per pattern, drawn up front, so that the result does not
        # depend on the order in which threads finish.
        streams: list[np.random.Generator | None] = [None] * len(patterns)
        if method == "sample" and todo:
            source = _random_source(random_state)
            entropy = int.from_bytes(source.bytes(16), "little")
            children = np.random.SeedSequence(entropy).spawn(len(todo))
            for index, child in zip(todo, children, strict=True):
                streams[index] = np.random.default_rng(child)

        def fill(task: slice) -> None:
            index = todo[task.start]
            pattern = patterns[index]
            self._impute_pattern(
                data,
                members[index],
                np.flatnonzero(~pattern),
                np.flatnonzero(pattern),
                (log_weights, means, covariances),
                streams[index],
            )

        tasks = [slice(i, i + 1) for i in range(len(todo))]
        for _ in map_blocks(fill, tasks, getattr(self, "n_jobs", None)):
            pass
        return data

    def _impute_pattern(
        self,
        data: np.ndarray,
        rows: np.ndarray,
        known: np.ndarray,
        missing: np.ndarray,
        parameters: tuple[np.ndarray, np.ndarray, np.ndarray],
        rng: np.random.Generator | None,
    ) -> None:
        """Fill ``data[rows][:, missing]`` in place, for rows sharing one missing pattern."""
        log_weights, means, covariances = parameters
        try:
            with single_threaded_blas():
                regression = cd.gaussian_regression(
                    covariances, self.covariance_type, known, missing
                )
                factors = (
                    None
                    if rng is None
                    else cd.conditional_sampling_factors(
                        regression.covariances, self.covariance_type
                    )
                )
        except np.linalg.LinAlgError:
            raise ValueError(_NOT_DEFINITE) from None
        shift = np.exp(log_weights) @ means[:, known]
        expanded = cd.expand_known(means, regression, self.covariance_type, shift)
        n_components, n_features = means.shape
        per_block = block_rows(8 * (3 * n_components * (n_features + 2) + n_features))
        for block in row_slices(len(rows), per_block):
            block_index = rows[block]
            rows_known = data[np.ix_(block_index, known)]
            log_resp = cd.log_responsibilities(
                log_weights,
                cd.known_log_densities(rows_known, expanded, self.covariance_type, shift),
            )
            cond_means = cd.conditional_means(rows_known, means, regression)
            if rng is None or factors is None:
                filled = np.einsum("kb,kbm->bm", np.exp(log_resp), cond_means)
            else:
                filled = self._draw_conditional(rng, np.exp(log_resp), cond_means, factors)
            data[np.ix_(block_index, missing)] = filled

    # ----------------------------------------------------------------------------------
    # Helpers

    def _draw_conditional(
        self,
        rng: np.random.Generator,
        responsibilities: np.ndarray,
        cond_means: np.ndarray,
        factors: np.ndarray,
    ) -> np.ndarray:
        """One draw per row: a component from its responsibilities, then its Gaussian."""
        n_components, n_rows, n_missing = cond_means.shape
        cumulative = np.cumsum(responsibilities, axis=0)
        uniform = rng.uniform(size=n_rows)
        components = (cumulative < uniform * cumulative[-1]).sum(axis=0)
        components = np.minimum(components, n_components - 1)
        noise = rng.standard_normal(size=(n_rows, n_missing))
        out = cond_means[components, np.arange(n_rows)]
        for component in np.unique(components):
            chosen = components == component
            out[chosen] += cd.scale_noise(
                noise[chosen], factors, self.covariance_type, int(component)
            )
        return out

    def _parameters64(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fitted: Any = self
        return (
            np.asarray(fitted.weights_, dtype=np.float64),
            np.asarray(fitted.means_, dtype=np.float64),
            np.asarray(fitted.covariances_, dtype=np.float64),
        )

    def _with_parameters(
        self,
        weights: np.ndarray,
        means: np.ndarray,
        covariances: np.ndarray,
        features: np.ndarray,
    ) -> Self:
        """A fitted clone holding these parameters, over the parent's ``features``."""
        try:
            kind = structure(self.covariance_type)
            if not kind.diagonal:
                with single_threaded_blas():
                    factors = kind.precision_cholesky_of_covariances(covariances)
            else:
                if np.any(covariances <= 0):
                    raise np.linalg.LinAlgError
                factors = 1.0 / np.sqrt(covariances)
        except np.linalg.LinAlgError:
            raise ValueError(_NOT_DEFINITE) from None
        model: Any = clone(self)
        # Initial parameters are shaped for the parent's features: a refit of the
        # sub-model must not inherit them.
        stale = {"weights_init", "means_init", "precisions_init"} & set(model.get_params())
        model.set_params(**dict.fromkeys(stale))
        model.weights_ = weights
        model.means_ = means
        model.covariances_ = covariances
        model.precisions_cholesky_ = factors
        model.precisions_ = gm.precisions_from_cholesky(factors, self.covariance_type)
        model.n_features_in_ = len(features)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            model.feature_names_in_ = np.asarray(names)[features]
        fitted: Any = self
        if hasattr(fitted, "converged_"):
            model.converged_ = True
        if hasattr(fitted, "n_iter_"):
            model.n_iter_ = 0
        if hasattr(fitted, "lower_bound_"):
            model.lower_bound_ = float("nan")
        if hasattr(fitted, "lower_bounds_"):
            model.lower_bounds_ = []
        model._set_derived_attributes()
        return model

    def _set_derived_attributes(self) -> None:
        """Hook: subclasses set attributes that follow from the mixture-shaped ones."""
