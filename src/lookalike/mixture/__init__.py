"""Gaussian mixtures fitted by expectation-maximisation.

:class:`GaussianMixture` is a drop-in for ``sklearn.mixture.GaussianMixture``.
The package's modules, one job each:

- ``_estimator``: the estimator (validation, inference, sampling, criteria);
- ``_em``: the EM loop with restarts, the E-step object and the M-step;
- ``_sources``: rows in memory as a source of the loop, the E-step pass;
- ``_partitioned``: Chunks and dask collections as a source of the loop;
- ``_initial``: the user's initial parameters checked, seed rows;
- ``_sampling``: drawing rows from a fitted mixture.
"""

from lookalike.mixture._estimator import GaussianMixture

__all__ = ["GaussianMixture"]
