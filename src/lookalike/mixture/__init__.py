"""Gaussian mixtures fitted by expectation-maximisation.

:class:`GaussianMixture` is a drop-in for ``sklearn.mixture.GaussianMixture``.
The package's modules, one job each:

- ``estimator``: the estimator (validation, inference, sampling, criteria);
- ``em``: the EM loop with restarts, the E-step object and the M-step;
- ``sources``: rows in memory as a source of the loop, the E-step pass;
- ``partitioned``: Chunks and dask collections as a source of the loop;
- ``initial``: the user's initial parameters checked, seed rows;
- ``sampling``: drawing rows from a fitted mixture.
"""

from lookalike.mixture.estimator import GaussianMixture

__all__ = ["GaussianMixture"]
