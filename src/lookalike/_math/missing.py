"""EM for Gaussian mixtures on rows with missing entries (NaN), as additive moments.

Pure functions on arrays, the missing-data counterpart of
:mod:`lookalike._math.em`: same centred, feature-major blocks ``xt`` of shape
(d, b), same :class:`~lookalike._math.em.Moments` layout, so the M-step, the
handling of degenerate components and the EM loop are shared unchanged.
Entries are assumed missing at random (the probability that an entry is
missing may depend on the observed entries, not on the missing ones); EM then
maximises the *observed-data* likelihood ``sum_i w_i log p(x_{i,o})`` and
integrates the missing entries out exactly.

For a row with observed features ``o`` and missing features ``m`` and a
component ``k`` with mean ``mu`` and covariance ``S``:

.. math::

    \\log p_k(x_o) &= \\log N(x_o \\mid \\mu_o, S_{oo}), \\\\
    \\hat x_m &= \\mu_m + S_{mo} S_{oo}^{-1} (x_o - \\mu_o), \\\\
    C &= S_{mm} - S_{mo} S_{oo}^{-1} S_{om},

and the E-step's expected statistics under ``k`` are ``E[x] = (x_o, x_hat_m)``
and ``E[x x^T] = E[x] E[x]^T + C`` (``C`` on the missing block only). With
``L`` the lower Cholesky factor of ``S_oo``, ``z = L^{-1} (x_o - mu_o)`` and
``W = L^{-1} S_om``: ``log p_k(x_o) = -|z|^2 / 2 - sum log L_ii - |o| log(2 pi) / 2``,
``x_hat_m = mu_m + W^T z`` and ``C = S_mm - W^T W``: solves with the factor, no
inverse (the factorisation is :func:`lookalike._math.schur.schur_factors`, the one
shared by every conditional).

Cost
----
Rows without missing entries take the complete-data path
(:func:`~lookalike._math.em.e_step_block`). Full and tied mixtures group the
other rows of a block by missing pattern; each pattern with ``n_p`` rows,
``|o|`` observed and ``|m|`` missing features costs one factorisation per
component (one in all for tied), ``O(|o|^3 + |o|^2 |m| + |o| |m|^2)``, plus
``O(n_p d^2)`` per component for the rows. With few distinct patterns (the
usual case: ``2^d`` at most) the row terms dominate and the pass costs a
small multiple of a complete-data pass (100,000 x 3, 5 components, 20%
missing: 0.07 s against 0.03 s for full); with many distinct patterns (random holes in
high dimension: up to one pattern per row) the factorisations dominate, about
``O(n k d^3)`` per pass, plus a fixed Python overhead of roughly 0.1-0.2 ms
per pattern and block. Measured on 2 shared cores, 100,000 x 8, 5 components,
20% of entries missing completely at random (about 250 patterns per block):
one full EM pass took 0.63 s against 0.05 s on the complete data, tied 0.42 s
against 0.02 s. Diagonal and spherical mixtures need no grouping: the
observed features factorise, ``x_hat_m = mu_m`` and ``C = diag(S_mm)``, so the
whole block is a few masked matrix products, ``O(b k d)`` (0.03 s against
0.015 s above). Temporaries of shape (k, d, rows) are built over chunks of a
pattern's rows sized from the block memory budget.

Rows with no observed entry carry no information about the parameters; they
are left out of the moments (and of ``total_weight``). Their marginal density
is that of the empty vector, ``log p = 0``, so their log joint is ``log w_k``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from lookalike._math.blocks import block_rows
from lookalike._math.covariance import structure
from lookalike._math.em import Moments, e_step_block, log_joint_block, normalise_log_columns
from lookalike._math.gaussian import LOG_2PI, ExpandedGaussians
from lookalike._math.schur import schur_factors

__all__ = [
    "e_step_block_missing",
    "empty_moments",
    "group_patterns",
    "log_joint_block_missing",
    "missing_patterns",
]


def empty_moments(n_components: int, n_features: int, covariance_type: str) -> Moments:
    """Zero moments in the layout of ``covariance_type``."""
    second_shape = structure(covariance_type).second_moment_shape(n_components, n_features)
    return Moments(
        np.zeros(n_components),
        np.zeros((n_components, n_features)),
        np.zeros(second_shape),
        0.0,
        0.0,
    )


def group_patterns(mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct rows of a boolean mask (n, d) and the indices of the rows of each.

    The one grouping of rows by missing pattern (EM here, imputation in
    :mod:`lookalike._conditional`). Returns ``(patterns, members)``: the
    distinct rows ``patterns`` (p, d) and, for each, the indices of the rows
    equal to it, in increasing order (one stable sort, then contiguous runs).
    Rows are packed into bits first; up to 64 features a pattern is one uint64,
    so finding the distinct ones is a 1-D ``np.unique``.

    Examples
    --------
    >>> import numpy as np
    >>> patterns, members = group_patterns(np.array([[1, 0], [0, 0], [1, 0]], dtype=bool))
    >>> patterns.astype(int).tolist(), [rows.tolist() for rows in members]
    ([[0, 0], [1, 0]], [[1], [0, 2]])
    """
    packed = np.packbits(mask, axis=1)
    if packed.shape[1] <= 8:
        padded = np.zeros((len(mask), 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        keys = padded.view(np.uint64).reshape(-1)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(first) + 1))
    members = [order[bounds[p] : bounds[p + 1]] for p in range(len(first))]
    return mask[first], members


def missing_patterns(
    observed: np.ndarray,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Group the columns of a (d, b) boolean mask by their pattern.

    Yields ``(observed_features, missing_features, columns)``: index arrays of
    a pattern's observed and missing features and of the columns (rows of the
    data) that share it, in increasing order, patterns in lexicographic order
    of their packed masks (the order of the E-step's sums).
    """
    patterns, members = group_patterns(observed.T)
    packed = np.packbits(patterns, axis=1)
    for p in np.lexsort(packed.T[::-1]):
        mask = patterns[p]
        yield np.flatnonzero(mask), np.flatnonzero(~mask), members[p]


# --------------------------------------------------------------------------------------
# Full and tied covariances: per missing pattern


class _Pattern(NamedTuple):
    """Factors of one missing pattern, one per covariance matrix (k, or 1 for tied).

    ``lower``, ``cross`` and ``complement`` are those of
    :func:`~lookalike._math.schur.schur_factors`; ``constant`` (j,) is
    ``-sum log L_ii - |o| log(2 pi) / 2``.
    """

    observed: np.ndarray
    missing: np.ndarray
    lower: np.ndarray
    cross: np.ndarray
    complement: np.ndarray
    constant: np.ndarray


def _pattern_factors(matrices: np.ndarray, observed: np.ndarray, missing: np.ndarray) -> _Pattern:
    """Factorise the observed block of every covariance in ``matrices`` (j, d, d)."""
    schur = schur_factors(matrices, observed, missing)
    half_log_det = np.log(np.diagonal(schur.lower, axis1=1, axis2=2)).sum(axis=1)
    constant = -half_log_det - 0.5 * len(observed) * LOG_2PI
    return _Pattern(observed, missing, schur.lower, schur.cross, schur.complement, constant)


def _pattern_rows(
    xo: np.ndarray, means: np.ndarray, pattern: _Pattern, conditionals: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Log-densities of rows sharing ``pattern`` and their conditional means.

    ``xo`` (|o|, n) holds the rows' observed entries. Returns
    ``log N(x_o | mu_k,o, S_k,oo)`` (k, n) and, if ``conditionals``,
    ``mu_k,m + W_k^T z_k`` (k, |m|, n) with ``z_k = L_k^{-1} (x_o - mu_k,o)``.
    """
    means_o = means[:, pattern.observed]
    n_rows = xo.shape[1]
    if len(pattern.lower) == 1:
        # Tied: one solve for the rows and all the means.
        solved = np.linalg.solve(pattern.lower[0], np.hstack([xo, means_o.T]))
        z = solved[np.newaxis, :, :n_rows] - solved[:, n_rows:].T[:, :, np.newaxis]
    else:
        z = np.linalg.solve(pattern.lower, xo[np.newaxis] - means_o[:, :, np.newaxis])
    log_densities = pattern.constant[:, np.newaxis] - 0.5 * np.einsum("kon,kon->kn", z, z)
    if not conditionals:
        return log_densities, None
    conditional_means = means[:, pattern.missing][:, :, np.newaxis] + (
        np.swapaxes(pattern.cross, 1, 2) @ z
    )
    return log_densities, conditional_means


def _row_chunks(columns: np.ndarray, n_components: int, n_features: int) -> list[np.ndarray]:
    """Split a pattern's columns so that (k, d, rows) temporaries stay in budget."""
    size = block_rows(8 * n_components * (n_features + 2))
    return [columns[start : start + size] for start in range(0, len(columns), size)]


def _log_joint_patterns(
    xt: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (k, b) with ``log w_k + log N_k(x_o)`` pattern by pattern."""
    n_features = xt.shape[0]
    matrices = structure(covariance_type).stack(covariances)
    for observed, missing, columns in missing_patterns(~np.isnan(xt)):
        if observed.size == 0:
            out[:, columns] = log_weights[:, np.newaxis]
            continue
        pattern = _pattern_factors(matrices, observed, missing)
        for chunk in _row_chunks(columns, len(means), n_features):
            log_densities, _ = _pattern_rows(
                xt[np.ix_(observed, chunk)], means, pattern, conditionals=False
            )
            out[:, chunk] = log_densities + log_weights[:, np.newaxis]


def _moments_patterns(
    xt: np.ndarray,
    sample_weight: np.ndarray | None,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
) -> Moments:
    """E-step moments of rows with missing entries, full or tied covariances."""
    n_features = xt.shape[0]
    n_components = len(means)
    kind = structure(covariance_type)
    matrices = kind.stack(covariances)
    counts = np.zeros(n_components)
    sums = np.zeros((n_components, n_features))
    second = np.zeros((len(matrices), n_features, n_features))
    log_likelihood = 0.0
    total_weight = 0.0
    for observed, missing, columns in missing_patterns(~np.isnan(xt)):
        if observed.size == 0:
            continue
        pattern = _pattern_factors(matrices, observed, missing)
        for chunk in _row_chunks(columns, n_components, n_features):
            xo = xt[np.ix_(observed, chunk)]
            resp, conditional_means = _pattern_rows(xo, means, pattern, conditionals=True)
            if conditional_means is None:  # pragma: no cover - asked for
                raise RuntimeError("conditional means not computed")
            resp += log_weights[:, np.newaxis]
            log_norm = normalise_log_columns(resp)
            if sample_weight is None:
                log_likelihood += float(log_norm.sum())
                total_weight += float(len(chunk))
            else:
                row_weights = sample_weight[chunk]
                resp *= row_weights
                log_likelihood += float(log_norm @ row_weights)
                total_weight += float(row_weights.sum())
            # E_k[x] for every component: (k, d, n).
            expected = np.empty((n_components, n_features, len(chunk)))
            expected[:, observed] = xo
            expected[:, missing] = conditional_means
            masses = resp.sum(axis=1)
            counts += masses
            sums += (expected @ resp[:, :, np.newaxis])[:, :, 0]
            scatter = (expected * resp[:, np.newaxis, :]) @ np.swapaxes(expected, 1, 2)
            scatter[:, missing[:, np.newaxis], missing] += (
                masses[:, np.newaxis, np.newaxis] * pattern.complement
            )
            # Tied pools the scatter of all components (a full mixture of one
            # component keeps its own, in the packed layout).
            second += scatter if kind.per_component else scatter.sum(axis=0, keepdims=True)
    if not kind.per_component:
        packed = second[0]
    else:
        rows, cols = np.triu_indices(n_features)
        packed = second[:, rows, cols]
    return Moments(counts, sums, packed, log_likelihood, total_weight)


# --------------------------------------------------------------------------------------
# Diagonal and spherical covariances: masked products, no grouping


def _masked_terms(
    xt: np.ndarray, means: np.ndarray, variances: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed mask (float), rows with NaN set to 0, and ``log N_k(x_o)``: (k, b)."""
    observed = ~np.isnan(xt)
    mask = observed.astype(np.float64)
    filled = np.where(observed, xt, 0.0)
    precisions = 1.0 / variances
    # sum over observed j of -((x_j - mu_kj)^2 / v_kj + log v_kj + log 2 pi) / 2
    log_densities = -0.5 * (precisions @ (filled * filled))
    log_densities += (precisions * means) @ filled
    log_densities -= 0.5 * ((precisions * means**2 + np.log(variances) + LOG_2PI) @ mask)
    return mask, filled, log_densities


def _log_joint_masked(
    xt: np.ndarray,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
) -> np.ndarray:
    shape = (len(means), xt.shape[0])
    variances = structure(covariance_type).feature_variances(covariances, shape)
    _, _, log_joint = _masked_terms(xt, means, variances)
    log_joint += log_weights[:, np.newaxis]
    return log_joint


def _moments_masked(
    xt: np.ndarray,
    sample_weight: np.ndarray | None,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
) -> Moments:
    """E-step moments of rows with missing entries, diag or spherical covariances.

    Under component ``k`` the missing entries are independent of the observed
    ones: ``E[x_j] = mu_kj`` and ``E[x_j^2] = mu_kj^2 + v_kj`` for missing ``j``.
    """
    shape = (len(means), xt.shape[0])
    variances = structure(covariance_type).feature_variances(covariances, shape)
    informative = ~np.all(np.isnan(xt), axis=0)
    if not informative.all():
        xt = xt[:, informative]
        if sample_weight is not None:
            sample_weight = sample_weight[informative]
    mask, filled, resp = _masked_terms(xt, means, variances)
    resp += log_weights[:, np.newaxis]
    log_norm = normalise_log_columns(resp)
    if sample_weight is None:
        log_likelihood = float(log_norm.sum())
        total_weight = float(xt.shape[1])
    else:
        resp *= sample_weight
        log_likelihood = float(log_norm @ sample_weight)
        total_weight = float(sample_weight.sum())
    counts = resp.sum(axis=1)
    missing_mass = resp @ (1.0 - mask).T  # (k, d): sum_i w_i r_ik [x_ij missing]
    sums = resp @ filled.T + means * missing_mass
    second = resp @ (filled * filled).T + (means**2 + variances) * missing_mass
    second = structure(covariance_type).sum_over_features(second)
    return Moments(counts, sums, second, log_likelihood, total_weight)


# --------------------------------------------------------------------------------------
# Entry points


def log_joint_block_missing(
    xt: np.ndarray,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    pattern_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> np.ndarray:
    """``log w_k + log N_k(x_o)`` for a centred feature-major block with NaN: (k, b).

    Complete columns use the expanded complete-data densities (``expanded``);
    the others the marginal of their observed entries. ``means`` (k, d) are
    centred like ``xt``; ``covariances`` are shaped by ``covariance_type``.
    ``pattern_context()`` is entered around the per-pattern factorisations and
    solves of full and tied mixtures: many tiny LAPACK calls, for which callers
    pass :func:`lookalike._parallel.single_threaded_blas` (BLAS threads there
    only cost synchronisation).

    Examples
    --------
    One standard bivariate normal with correlation 0.5: a row whose second
    entry is missing has the log-density of ``N(0, 1)`` at its first entry.

    >>> import numpy as np
    >>> from lookalike._math.gaussian import expand_gaussians, precision_cholesky_of_matrix
    >>> cov = np.array([[[1.0, 0.5], [0.5, 1.0]]])
    >>> means = np.zeros((1, 2))
    >>> expanded = expand_gaussians(means, precision_cholesky_of_matrix(cov[0])[None], "full")
    >>> xt = np.array([[1.0], [np.nan]])
    >>> log_p = log_joint_block_missing(xt, expanded, np.zeros(1), means, cov, "full")
    >>> bool(np.isclose(log_p[0, 0], -0.5 - 0.5 * np.log(2 * np.pi)))
    True
    """
    complete = ~np.isnan(xt).any(axis=0)
    if complete.all():
        return log_joint_block(xt, expanded, log_weights, covariance_type)
    out = np.empty((len(log_weights), xt.shape[1]))
    if complete.any():
        out[:, complete] = log_joint_block(
            np.ascontiguousarray(xt[:, complete]), expanded, log_weights, covariance_type
        )
    incomplete = np.flatnonzero(~complete)
    part = xt[:, incomplete]
    if structure(covariance_type).diagonal:
        out[:, incomplete] = _log_joint_masked(
            part, log_weights, means, covariances, covariance_type
        )
    else:
        part_out = np.empty((len(log_weights), len(incomplete)))
        with pattern_context():
            _log_joint_patterns(part, log_weights, means, covariances, covariance_type, part_out)
        out[:, incomplete] = part_out
    return out


def e_step_block_missing(
    xt: np.ndarray,
    sample_weight: np.ndarray | None,
    expanded: ExpandedGaussians,
    log_weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    pattern_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Moments:
    """E-step over a centred feature-major block whose missing entries are NaN.

    Returns the block's expected moments in the layout of
    :func:`~lookalike._math.em.e_step_block`, whose ``log_likelihood`` is the
    observed-data ``sum_i w_i log p(x_{i,o})``. Complete columns go through
    :func:`~lookalike._math.em.e_step_block` itself (so a block without NaN
    gives exactly its result); columns with no observed entry are ignored.
    ``means`` (k, d) are centred like ``xt`` and, with ``covariances``, are the
    parameters that ``expanded`` encodes; ``pattern_context`` is that of
    :func:`log_joint_block_missing`.
    """
    complete = ~np.isnan(xt).any(axis=0)
    if complete.all():
        return e_step_block(xt, sample_weight, expanded, log_weights, covariance_type)
    n_features = xt.shape[0]
    total = empty_moments(len(log_weights), n_features, covariance_type)
    if complete.any():
        total = e_step_block(
            np.ascontiguousarray(xt[:, complete]),
            None if sample_weight is None else sample_weight[complete],
            expanded,
            log_weights,
            covariance_type,
        )
    incomplete = np.flatnonzero(~complete)
    part = xt[:, incomplete]
    part_weight = None if sample_weight is None else sample_weight[incomplete]
    if structure(covariance_type).diagonal:
        moments = _moments_masked(
            part, part_weight, log_weights, means, covariances, covariance_type
        )
    else:
        with pattern_context():
            moments = _moments_patterns(
                part, part_weight, log_weights, means, covariances, covariance_type
            )
    return total + moments
