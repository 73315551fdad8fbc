"""Conditionals and marginals of a Gaussian kernel density estimate, as new estimates.

A Gaussian kernel factors into a Gaussian over any subset of the features
times a Gaussian over the rest, so the marginals and conditionals of a
Gaussian :class:`~lookalike.kde.KernelDensity` are again Gaussian kernel
density estimates; the formulas are in :mod:`lookalike._math.kde_conditioning`.
The mixin reads the fitted estimate's ``_data``, ``_weights``, ``bandwidth_``
and settings, and builds the new estimate with the estimator's own class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted

from lookalike._features import feature_indices, split_known
from lookalike._math.kde_conditioning import condition_gaussian_kde, restrict_bandwidth

__all__ = ["GaussianKDEConditioningMixin"]


class GaussianKDEConditioningMixin:
    """``condition`` and ``marginal`` of a fitted Gaussian kernel density estimate."""

    kernel: str
    metric: str
    algorithm: str
    atol: float
    rtol: float
    breadth_first: bool
    leaf_size: int
    n_jobs: int | None
    n_features_in_: int
    bandwidth_: float | np.ndarray
    _data: np.ndarray
    _weights: np.ndarray | None

    if TYPE_CHECKING:  # defined by the estimator

        @property
        def _euclidean(self) -> bool: ...

    def condition(self, x: npt.ArrayLike | Mapping[Any, float]) -> Any:
        """The density of the unknown features given the known ones, as a new estimate.

        Exact for ``kernel="gaussian"`` (with the Euclidean metric): the
        conditional of a Gaussian kernel density estimate is again one, over
        the unknown features, with reweighted (and, for a bandwidth matrix,
        shifted) training points and a shared bandwidth.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features), or dict
            One row with NaN at the unknown features, or a dict
            ``{feature index or feature name: value}`` of the known features
            (the others are unknown). At least one feature must be known and at
            least one unknown.

        Returns
        -------
        KernelDensity
            A fitted Gaussian estimate over the unknown features (in increasing
            index order), with the same ``algorithm``, ``atol``, ``rtol`` and
            ``n_jobs`` (``algorithm="binned"`` becomes ``"auto"`` beyond three
            features); ``feature_names_in_`` is the subset of this model's names.
            Its ``bandwidth`` is the conditional bandwidth, given as a number:
            a float, an array of shape (n_unknown,) or a matrix of shape
            (n_unknown, n_unknown), as this model's ``bandwidth_``.

        Raises
        ------
        ValueError
            For another kernel or metric, when nothing is known or nothing
            unknown, for unknown feature names or indices, or non-finite values.

        Notes
        -----
        With kernel covariance ``H`` (``h^2 I``, ``diag(h^2)`` or the bandwidth
        matrix), known features ``o`` and unknown ones ``m``, each training point
        ``x_i`` gets the weight

        .. math::

            \\pi_i \\propto w_i\\, N(x_o \\mid x_{i,o}, H_{oo}),

        computed in log space and normalised (points whose weight falls below the
        smallest normal float relative to the largest are dropped), the centre
        ``x_{i,m} + H_{mo} H_{oo}^{-1} (x_o - x_{i,o})`` and the bandwidth
        ``S = H_{mm} - H_{mo} H_{oo}^{-1} H_{om}`` (the Schur complement). For a
        scalar or per-feature bandwidth ``H`` is diagonal: no shift, and ``S`` is
        the bandwidth of the unknown features. Then

        .. math::

            \\log f(x_m \\mid x_o) = \\log f(x) - \\log f_o(x_o),

        with ``f_o`` the marginal (:meth:`marginal`). The formulas are in
        :mod:`lookalike._math.kde_conditioning`. Other kernels are radial
        functions of the whole distance, which do not factor into known and
        unknown parts, so their conditionals are not kernel density estimates.

        Examples
        --------
        >>> import numpy as np
        >>> import lookalike as la
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> kde = la.KernelDensity(bandwidth=0.4).fit(X)
        >>> cond = kde.condition([0.5, np.nan, np.nan])
        >>> cond.n_features_in_, cond.sample(5, random_state=0).shape
        (2, (5, 2))
        >>> cond.score_samples([[0.0, 0.0]]).shape
        (1,)
        >>> kde.condition({0: 0.5, 2: -1.0}).n_features_in_
        1
        """
        check_is_fitted(self)
        self._check_gaussian("condition")
        known, values, unknown = split_known(
            x, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        result = condition_gaussian_kde(
            self._data, self._weights, self.bandwidth_, known, unknown, values
        )
        return self._gaussian_submodel(result.centres, result.weights, result.bandwidth, unknown)

    def marginal(self, features: int | str | npt.ArrayLike) -> Any:
        """The density of a subset of the features, as a new estimate.

        Exact for ``kernel="gaussian"`` (with the Euclidean metric): the training
        points' columns, the same weights, and the bandwidth restricted to them.

        Parameters
        ----------
        features : int, str or sequence of int or str
            Feature indices or names (names when fitted on named columns), in
            the order of the returned model's features; no repeats.

        Returns
        -------
        KernelDensity
            A fitted Gaussian estimate over ``features`` with the same
            ``algorithm``, ``atol``, ``rtol`` and ``n_jobs``;
            ``feature_names_in_`` is the subset of this model's names.

        Raises
        ------
        ValueError
            For another kernel or metric, and for empty, repeated or unknown
            features.

        Notes
        -----
        The estimate is the mixture ``sum_i w_i N(x | x_i, H) / sum_i w_i``; the
        marginal of each Gaussian over features ``s`` is ``N(x_s | x_{i,s},
        H_ss)``. Other kernels are radial in all features at once: their
        marginals have a different profile, so they are not kernel density
        estimates with the same kernel.

        Examples
        --------
        >>> import numpy as np
        >>> import lookalike as la
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> kde = la.KernelDensity(bandwidth=[0.3, 0.4, 0.5]).fit(X)
        >>> kde.marginal([2, 0]).bandwidth_
        array([0.5, 0.3])
        """
        check_is_fitted(self)
        self._check_gaussian("marginal")
        indices = feature_indices(
            features, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        return self._gaussian_submodel(
            self._data[:, indices],
            self._weights,
            restrict_bandwidth(self.bandwidth_, indices),
            indices,
        )

    def _check_gaussian(self, method: str) -> None:
        if self.kernel != "gaussian":
            raise ValueError(
                f"{method} is exact only for kernel='gaussian'; this model has "
                f"kernel={self.kernel!r}. A Gaussian kernel factors into a Gaussian over any "
                "subset of the features times a Gaussian over the rest, so its marginals and "
                "conditionals are again Gaussian kernel density estimates; the other kernels "
                "are radial in all features at once and do not factor. Refit with "
                "kernel='gaussian'."
            )
        if not self._euclidean:
            raise ValueError(
                f"{method} needs metric='euclidean'; this model has metric={self.metric!r}, "
                "whose kernel does not factor over features. Refit with metric='euclidean'."
            )

    def _gaussian_submodel(
        self,
        points: np.ndarray,
        weights: np.ndarray | None,
        bandwidth: float | np.ndarray,
        features: np.ndarray,
    ) -> Any:
        """A Gaussian estimate over ``features`` fitted on ``points``, with these settings."""
        algorithm = self.algorithm
        if algorithm == "binned" and len(features) > 3:
            algorithm = "auto"
        estimator: Any = type(self)
        model = estimator(
            bandwidth=bandwidth,
            algorithm=algorithm,
            kernel="gaussian",
            metric="euclidean",
            atol=self.atol,
            rtol=self.rtol,
            breadth_first=self.breadth_first,
            leaf_size=self.leaf_size,
            n_jobs=self.n_jobs,
        )
        model.fit(points, sample_weight=weights)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            model.feature_names_in_ = names[features].copy()
        return model
