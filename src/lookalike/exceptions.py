"""Exceptions and warnings raised by lookalike.

lookalike raises the exception types scikit-learn raises, so code that catches
scikit-learn's errors keeps working after the import changes.
"""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "InvalidParameterError",
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
