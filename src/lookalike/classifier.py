"""GenerativeClassifier: Bayes' rule over one fitted density per class.

Each class gets its own clone of a density estimator (a Gaussian mixture, a
kernel density, any estimator with ``fit`` and ``score_samples``); a row is
assigned to the class of highest prior times density. All arithmetic stays in
log space, so posteriors remain exact where the densities themselves underflow
(hundreds of dimensions), and the fitted model doubles as a class-conditional
generator (:meth:`GenerativeClassifier.sample`).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from lookalike._parallel import fit_many
from lookalike._restore import check_float_array, check_n_features, has_fitted_state, require
from lookalike._validation import (
    MAX_SEED,
    ArrayLikeOrNone,
    Constraint,
    RandomStateLike,
    as_float_array,
    as_random_state,
    check_n_samples,
    check_sample_weight,
    check_scale,
    validate_data,
    validate_params,
)


@dataclass(frozen=True)
class _DensityOrNone:
    """``None`` or an unfitted estimator with ``fit`` and ``score_samples``."""

    def accepts(self, value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, type):
            return False
        return callable(getattr(value, "fit", None)) and callable(
            getattr(value, "score_samples", None)
        )

    def describe(self) -> str:
        return (
            "None or a density estimator instance with fit and score_samples methods "
            "(e.g. lookalike.KernelDensity(bandwidth=1.0))"
        )


_PARAMETERS: dict[str, Constraint | _DensityOrNone] = {
    "estimator": _DensityOrNone(),
    "priors": ArrayLikeOrNone(),
}


def _default_density() -> Any:
    from lookalike.mixture import GaussianMixture

    return GaussianMixture(n_components=1)


class GenerativeClassifier(ClassifierMixin, BaseEstimator):
    """Bayes classifier built from one density estimate per class.

    Every class ``c`` gets a clone of ``estimator`` fitted on its rows; a new
    row goes to the class with the highest ``log P(c) + log p(x | c)``. With a
    single full-covariance Gaussian per class this is quadratic discriminant
    analysis (with maximum-likelihood covariances); with a kernel density it
    is the "not-so-naive Bayes" classifier. Beyond prediction the model draws
    new rows of a chosen class (:meth:`sample`).

    Parameters
    ----------
    estimator : density estimator, default=None
        Unfitted estimator with ``fit(X, sample_weight=...)``, ``score_samples``
        and (for :meth:`sample`) ``sample``, cloned once per class: any
        lookalike density (:class:`~lookalike.kde.KernelDensity`,
        :class:`~lookalike.mixture.GaussianMixture`, ...) or a scikit-learn
        one. ``None`` means ``GaussianMixture(n_components=1)``.
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes (in the sorted order of
        ``classes_``), non-negative and summing to 1. ``None`` uses the class
        frequencies of the training rows (weighted by ``sample_weight``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.
    class_count_ : ndarray of shape (n_classes,), float64
        Number of training rows (sum of their weights) per class.
    class_prior_ : ndarray of shape (n_classes,), float64
        The priors used.
    estimators_ : list of estimators, length n_classes
        The fitted density of each class, in the order of ``classes_``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string column names.

    Notes
    -----
    The joint log-likelihood of row ``x`` and class ``c`` is

    .. math:: j_c(x) = \\log \\pi_c + \\log \\hat p_c(x),

    and the posterior follows from Bayes' rule, normalised in log space:

    .. math:: \\log P(c \\mid x) = j_c(x) - \\log \\sum_{c'} \\exp j_{c'}(x).

    With ``m(x) = \\max_c j_c(x)`` and ``s_c = j_c - m`` (exact in floating
    point for the classes that matter), the posterior is computed as
    ``exp(s_c) / \\sum exp(s_{c'})``: rows sum to one to rounding, and
    posteriors are exact even when every ``\\hat p_c(x)`` underflows to zero in
    double precision (a 784-pixel image has ``log p`` near -1000, and
    ``exp(-746)`` is 0), which turns the textbook ``p_c \\pi_c / \\sum p \\pi``
    into ``0 / 0``. A row whose joint log-likelihood is ``-inf`` for every class
    (outside the support of every compact kernel) carries no evidence; it gets
    the priors as its posterior and the most probable class a priori.

    The class densities are fitted side by side on a thread pool (one thread
    per core, BLAS and OpenMP limited to one thread each, an estimator's own
    ``n_jobs`` set to 1 while it is fitted); NumPy releases the GIL in the
    heavy loops, so the cores stay busy.

    References
    ----------
    .. [1] Hastie, Tibshirani and Friedman, *The Elements of Statistical
       Learning*, 2nd ed., Springer, 2009, sections 4.3 and 6.6.2.

    Examples
    --------
    >>> import numpy as np
    >>> from lookalike.classifier import GenerativeClassifier
    >>> from lookalike.kde import KernelDensity
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(6, 1, (50, 2))])
    >>> y = np.repeat(["low", "high"], 50)
    >>> clf = GenerativeClassifier(KernelDensity(bandwidth=0.5)).fit(X, y)
    >>> clf.predict([[0.0, 0.0], [6.0, 6.0]]).tolist()
    ['low', 'high']
    >>> clf.predict_proba([[3.0, 3.0]]).sum().round(12)
    np.float64(1.0)
    >>> X_new, y_new = clf.sample(3, y="high", random_state=0)
    >>> X_new.shape, y_new.tolist()
    ((3, 2), ['high', 'high', 'high'])
    """

    def __init__(self, estimator: Any = None, priors: npt.ArrayLike | None = None) -> None:
        self.estimator = estimator
        self.priors = priors

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None
    ) -> Self:
        """Fit one density per class and set the class priors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, forwarded to each class's density (which
            must then accept ``sample_weight`` in ``fit``) and used for the
            class frequencies; an integer weight equals repeating the row.

        Returns
        -------
        self : GenerativeClassifier
        """
        validate_params(self, _PARAMETERS)  # type: ignore[arg-type]
        data, labels = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_scale(data)
        check_classification_targets(labels)
        weights = check_sample_weight(sample_weight, data.shape[0])
        template = _default_density() if self.estimator is None else self.estimator
        if weights is not None and not has_fit_parameter(template, "sample_weight"):
            raise TypeError(
                f"{type(template).__name__}.fit does not accept sample_weight, so the "
                "classifier cannot forward the weights. Use a density that does (e.g. "
                "lookalike.KernelDensity or lookalike.GaussianMixture) or drop sample_weight."
            )

        classes, codes = np.unique(labels, return_inverse=True)
        n_classes = classes.shape[0]
        counts = np.bincount(codes, weights=weights, minlength=n_classes).astype(np.float64)
        empty = classes[counts <= 0]
        if empty.size:
            raise ValueError(
                f"The class(es) {empty.tolist()} have zero total sample weight, so their "
                "class density cannot be estimated. Give their rows positive weight or "
                "drop those rows."
            )
        priors = self._check_priors(n_classes) if self.priors is not None else None

        self.estimators_ = fit_many(
            [template] * n_classes,
            data,
            rows=[codes == k for k in range(n_classes)],
            sample_weight=weights,
            names=[
                f"Fitting the density of class {label!r} ({int(count)} rows)"
                for label, count in zip(classes.tolist(), np.bincount(codes), strict=True)
            ],
        )
        self.classes_ = classes
        self.class_count_ = counts
        self.class_prior_ = counts / counts.sum() if priors is None else priors
        return self

    def _check_priors(self, n_classes: int) -> np.ndarray:
        priors = as_float_array(self.priors, "priors")
        if priors.ndim != 1 or priors.shape[0] != n_classes:
            raise ValueError("Number of priors must match number of classes.")
        if not np.all(np.isfinite(priors)):
            raise ValueError("Priors must be finite numbers.")
        if not np.isclose(priors.sum(), 1.0):
            raise ValueError("The sum of the priors should be 1.")
        if np.any(priors < 0):
            raise ValueError("Priors must be non-negative.")
        return priors

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        One fitted density per class (each checked by its own class first), on
        ``n_features_in_`` features; distinct classes; positive, finite class
        counts; priors non-negative and summing to one.
        """
        if not has_fitted_state(self):
            return
        validate_params(self, _PARAMETERS)  # type: ignore[arg-type]
        d = check_n_features(self)
        classes = self.classes_
        require(
            isinstance(classes, np.ndarray) and classes.ndim == 1 and classes.size >= 1,
            "classes_ must be a non-empty 1-D array",
        )
        m = classes.shape[0]
        require(np.unique(classes).shape[0] == m, "classes_ must be distinct")
        estimators = self.estimators_
        require(
            isinstance(estimators, list) and len(estimators) == m,
            f"estimators_ must be a list of {m} densities, one per class",
        )
        for density in estimators:
            require(
                hasattr(density, "score_samples") and getattr(density, "n_features_in_", d) == d,
                "every class density must take n_features_in_ features",
            )
        counts = check_float_array(self.class_count_, "class_count_", (m,))
        require(bool(np.all(counts > 0)), "class_count_ must be positive")
        priors = check_float_array(self.class_prior_, "class_prior_", (m,))
        require(
            bool(np.all(priors >= 0)) and abs(float(priors.sum()) - 1.0) <= 1e-8,
            "class_prior_ must be non-negative and sum to 1",
        )

    # ----------------------------------------------------------------------------------
    # Prediction

    def _validate_for_inference(self, X: npt.ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        data: np.ndarray = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_scale(data, terms=data.shape[1])
        return data

    def _joint(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], len(self.estimators_)), dtype=np.float64)
        for k, density in enumerate(self.estimators_):
            out[:, k] = density.score_samples(X)
        out += _log_nonnegative(self.class_prior_)
        return out

    def _shifted(self, joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``joint - max`` per row (in place) and ``sum(exp(joint - max))``, shape (n, 1).

        The difference ``s = joint - max`` is correctly rounded, so its error is
        relative to ``s`` (zero for the top class) rather than to ``|joint|``, and
        ``exp(s) / sum exp(s)`` gives rows that sum to one to rounding; the
        shortcut ``exp(joint - logsumexp(joint))`` is off by ``eps |joint|``
        (1e-13 at ``log p = -1000``). Rows with no evidence (every joint ``-inf``)
        are given the log priors first.
        """
        no_evidence = np.isneginf(joint.max(axis=1))
        if no_evidence.any():
            joint[no_evidence] = _log_nonnegative(self.class_prior_)
        joint -= joint.max(axis=1, keepdims=True)
        return joint, np.exp(joint).sum(axis=1, keepdims=True)

    def predict_joint_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Joint log-likelihood ``log P(c) + log p(x | c)`` of every row and class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        joint : ndarray of shape (n_samples, n_classes), float64
            Columns in the order of ``classes_``.
        """
        return self._joint(self._validate_for_inference(X))

    def predict_log_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Log posterior ``log P(c | x)``: shape (n_samples, n_classes), float64."""
        shifted, total = self._shifted(self.predict_joint_log_proba(X))
        shifted -= np.log(total)
        return shifted

    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """Posterior ``P(c | x)``: shape (n_samples, n_classes); rows sum to 1."""
        shifted, total = self._shifted(self.predict_joint_log_proba(X))
        posterior = np.exp(shifted, out=shifted)
        posterior /= total
        return posterior

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class of highest joint log-likelihood: shape (n_samples,)."""
        joint = self.predict_joint_log_proba(X)
        best = joint.argmax(axis=1)
        no_evidence = np.isneginf(joint.max(axis=1))
        if no_evidence.any():
            best[no_evidence] = int(np.argmax(self.class_prior_))
        return self.classes_[best]

    # ----------------------------------------------------------------------------------
    # Sampling

    def sample(
        self,
        n_samples: int = 1,
        y: Any = None,
        random_state: RandomStateLike = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw new rows, of chosen classes or with classes drawn from the priors.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        y : label, array-like of labels or None, default=None
            ``None``: each row's class is drawn from ``class_prior_``. A single
            label: every row from that class ("generate a new 6"). An array of
            ``n_samples`` labels: row ``i`` from class ``y[i]``.
        random_state : None, int, RandomState or Generator, default=None
            ``None`` draws fresh randomness; the same int (or an equally seeded
            RandomState or Generator) gives the same rows.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float64
        y : ndarray of shape (n_samples,)
            The class of each row, with the dtype of ``classes_``.
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples, self.n_features_in_)
        rng: Any = (
            random_state
            if isinstance(random_state, np.random.Generator)
            else as_random_state(random_state)
        )
        if y is None:
            prior = self.class_prior_ / self.class_prior_.sum()
            codes = rng.choice(prior.shape[0], size=n_samples, p=prior)
        elif np.ndim(y) == 0:
            codes = np.full(n_samples, self._class_codes([y])[0], dtype=np.intp)
        else:
            wanted = np.asarray(y, dtype=object).ravel()
            if np.ndim(y) != 1 or wanted.shape[0] != n_samples:
                raise ValueError(
                    f"y must be a single label or one label per row: got shape "
                    f"{np.shape(y)} for n_samples={n_samples}. Pass n_samples=len(y)."
                )
            codes = self._class_codes(wanted)

        out = np.empty((n_samples, self.n_features_in_), dtype=np.float64)
        for k, density in enumerate(self.estimators_):
            rows = np.flatnonzero(codes == k)
            if rows.size == 0:
                continue
            if not callable(getattr(density, "sample", None)):
                raise TypeError(
                    f"{type(density).__name__} has no sample method, so the classifier "
                    "cannot draw rows; use a density that samples (e.g. lookalike.KernelDensity)."
                )
            drawn = _sample_from(density, int(rows.size), rng)
            out[rows] = drawn
        return out, self.classes_[codes]

    def _class_codes(self, labels: Any) -> np.ndarray:
        """Positions in ``classes_`` of the given labels; ValueError for unknown ones."""
        lookup = {c: k for k, c in enumerate(self.classes_.tolist())}
        codes = np.empty(len(labels), dtype=np.intp)
        for i, label in enumerate(labels):
            key = label.item() if isinstance(label, np.generic) else label
            try:
                codes[i] = lookup[key]
            except (KeyError, TypeError):
                raise ValueError(
                    f"Unknown class label {label!r}; the classes are {self.classes_.tolist()}."
                ) from None
        return codes


def _sample_from(density: Any, n_samples: int, rng: Any) -> np.ndarray:
    """``n_samples`` rows of a fitted density, drawn with ``rng``.

    Densities whose ``sample`` takes no ``random_state`` (scikit-learn's
    GaussianMixture reads its own) sample from a shallow copy whose
    ``random_state`` is a seed drawn from ``rng``, so the fitted estimator is
    left untouched and the draws stay reproducible.
    """
    if "random_state" in inspect.signature(density.sample).parameters:
        drawn = density.sample(n_samples, random_state=rng)
    elif "random_state" in density.get_params(deep=False):
        seed = int(
            rng.integers(MAX_SEED)
            if isinstance(rng, np.random.Generator)
            else rng.randint(MAX_SEED)
        )
        proxy = copy.copy(density)
        proxy.random_state = seed
        drawn = proxy.sample(n_samples)
    else:
        drawn = density.sample(n_samples)
    if isinstance(drawn, tuple):
        # Mixtures return (X, component labels) with rows grouped by component:
        # shuffle them so that any subset of a class's rows is a fair sample.
        drawn = np.asarray(drawn[0])
        return drawn[rng.permutation(drawn.shape[0])]
    return np.asarray(drawn)


def _log_nonnegative(values: np.ndarray) -> np.ndarray:
    """``log`` of non-negative values with ``log 0 = -inf`` and no warning."""
    out = np.full(values.shape, -np.inf)
    np.log(values, out=out, where=values > 0)
    return out
