"""Exceptions and warnings raised by lookalike.

lookalike raises the exception types scikit-learn raises, so code that catches
scikit-learn's errors keeps working after the import changes.
"""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "BandwidthEdgeWarning",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "ISJFallbackWarning",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
]


class InvalidParameterError(ValueError, TypeError):
    """A hyper-parameter has the wrong type or value (as scikit-learn's)."""


class DegenerateComponentWarning(UserWarning):
    """A mixture component collapsed and was kept finite.

    Raised when a component's weight fell to zero (its previous mean and
    covariance are kept) or its covariance became singular (the smallest
    diagonal jitter that makes it positive definite is added).
    """


class BandwidthEdgeWarning(UserWarning):
    """The cross-validated bandwidth lies at the edge of the searched grid.

    The optimum may lie outside it: extend ``bandwidth_grid``.
    """


class ISJFallbackWarning(UserWarning):
    """ISJ found no root of its fixed-point equation and fell back.

    Raised by the ``"isj"`` bandwidth rule when, for some feature, the equation
    ``t = xi gamma^[l](t)`` of Botev et al. (2010) has no solution in the
    searched range (typically fewer than about 8 distinct values, or a constant
    feature); those features get the ``"silverman-robust"`` bandwidth instead.
    """


class ModelFileError(ValueError):
    """A model file cannot be loaded: it is corrupted, foreign, too large or unsafe.

    Raised by :func:`lookalike.persistence.load` with a one-line message naming
    the problem; nothing from the file has been executed.
    """
