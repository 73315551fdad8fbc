"""The EM loop of a Gaussian mixture, with restarts, over any source of rows.

An iteration is "E-step on every block of rows, add the moments, M-step"
(:mod:`lookalike._math.em`). The loop here does not know where the rows live:
it calls the two passes of an :class:`EMData` (built in
:mod:`lookalike.mixture.sources` for in-memory data and in
:mod:`lookalike.mixture.partitioned` for Chunks and dask collections). It
takes its settings as explicit arguments (:class:`EMSettings`) and returns an
:class:`EMResult`; the estimator stores the result as fitted attributes.

- :class:`EStep` is the E-step under fixed parameters, a picklable function
  of a block of rows (shipped to dask workers);
- :func:`m_step` maps summed moments to parameters and repairs or refuses
  collapsed components;
- :func:`initial_parameters` reproduces scikit-learn's initialisation from
  the moments of the initial responsibilities;
- :func:`run_em` runs ``n_init`` initialisations and keeps the best.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

from lookalike._math import gaussian as gm
from lookalike._math.blocks import block_rows
from lookalike._math.collapse import EMPTY_FRACTION, factor_covariances, noise_floors
from lookalike._math.covariance import structure
from lookalike._math.em import COUNT_FLOOR, Moments, e_step_rows
from lookalike._math.em import m_step as moments_to_parameters
from lookalike._math.missing import e_step_block_missing
from lookalike._parallel import single_threaded_blas
from lookalike.exceptions import ConvergenceWarning, DegenerateComponentWarning

__all__ = [
    "EMData",
    "EMResult",
    "EMSettings",
    "EStep",
    "Parameters",
    "centred",
    "e_step",
    "rows_per_block",
    "run_em",
]

# Working parameters: (weights, means centred by the data shift, covariances,
# precision Cholesky factors), float64.
Parameters = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

# Components that received no mass, and those whose covariance needed jitter.
Degenerate = dict[str, set[int]]

CHOLESKY_ERROR = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data; or pass on_collapse='repair' to keep collapsed components finite."
)


@dataclass(frozen=True)
class EMSettings:
    """The hyper-parameters the EM loop reads, validated."""

    n_components: int
    covariance_type: str
    tol: float
    reg_covar: float
    max_iter: int
    n_init: int
    init_params: str
    missing: bool  # missing="em": NaN entries are integrated out
    repair: bool  # on_collapse="repair"
    n_jobs: int | None
    verbose: int
    verbose_interval: int

    @classmethod
    def of(cls, estimator: Any) -> EMSettings:
        """The settings of a GaussianMixture whose parameters were validated."""
        return cls(
            n_components=estimator.n_components,
            covariance_type=estimator.covariance_type,
            tol=estimator.tol,
            reg_covar=estimator.reg_covar,
            max_iter=estimator.max_iter,
            n_init=estimator.n_init,
            init_params=estimator.init_params,
            missing=estimator.missing == "em",
            repair=estimator.on_collapse == "repair",
            n_jobs=estimator.n_jobs,
            verbose=estimator.verbose,
            verbose_interval=estimator.verbose_interval,
        )


@dataclass(frozen=True)
class EMData:
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


@dataclass(frozen=True)
class EMResult:
    """The best initialisation: centred parameters, convergence and lower bounds."""

    params: Parameters
    converged: bool
    n_iter: int
    lower_bound: float
    lower_bounds: list[float]


def centred(params: Parameters, shift: np.ndarray) -> Parameters:
    """The parameters with their means centred by ``shift``."""
    weights, means, covariances, precisions_cholesky = params
    return weights, means - shift, covariances, precisions_cholesky


# --------------------------------------------------------------------------------------
# E-step


@dataclass(frozen=True)
class EStep:
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
                single_threaded_blas,
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


def e_step(params: Parameters, shift: np.ndarray, covariance_type: str, missing: bool) -> EStep:
    """The E-step under ``params`` (centred by ``shift``) as a function of a block of rows."""
    mixture_weights, means, covariances, precisions_cholesky = params
    expanded = gm.expand_gaussians(means, precisions_cholesky, covariance_type)
    return EStep(
        expanded=expanded,
        single=None if missing else gm.single_precision(expanded, means),
        log_weights=np.log(mixture_weights),
        means=means,
        covariances=covariances,
        shift=shift,
        covariance_type=covariance_type,
        missing=missing,
    )


def rows_per_block(n_features: int, n_components: int, covariance_type: str) -> int:
    """Rows per block of the E-step and of inference, from the memory budget."""
    n_quadratic = structure(covariance_type).n_quadratic_features(n_features)
    return block_rows(8 * (2 * n_features + n_quadratic + 3 * n_components))


# --------------------------------------------------------------------------------------
# M-step


def m_step(
    moments: Moments,
    previous: Parameters | None,
    degenerate: Degenerate,
    settings: EMSettings,
    normalise_weights: bool = True,
    tied_origin: np.ndarray | None = None,
) -> Parameters:
    """Parameters (weights, centred means, covariances, precision factors) from moments.

    A component with no mass keeps its ``previous`` mean and covariance; a
    collapsed covariance is repaired (``settings.repair`` or ``reg_covar > 0``)
    or refused with a ValueError. Both are recorded in ``degenerate``.
    """
    covariance_type = settings.covariance_type
    result = moments_to_parameters(
        moments,
        covariance_type,
        settings.reg_covar,
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
        if structure(covariance_type).per_component:
            covariances[keep] = previous[2][keep]
    floors = noise_floors(result.weights, means, covariances, covariance_type)
    # scikit-learn fails only on a singular covariance, which reg_covar > 0 excludes.
    repair = settings.repair or settings.reg_covar > 0
    factors = factor_covariances(covariances, covariance_type, floors, repair)
    if not factors.repairable or (factors.collapsed and not repair):
        raise ValueError(CHOLESKY_ERROR)
    degenerate["jittered"].update(factors.collapsed)
    return weights, means, factors.covariances, factors.precisions_cholesky


# --------------------------------------------------------------------------------------
# Initialisation


def initial_parameters(
    initial_moments: Callable[[np.random.RandomState], Moments],
    shift: np.ndarray,
    random_state: np.random.RandomState,
    initial: dict[str, np.ndarray | None],
    degenerate: Degenerate,
    settings: EMSettings,
) -> Parameters:
    """Initial centred parameters, as scikit-learn computes them.

    ``initial_moments`` gives the moments of the responsibilities chosen
    by ``init_params``; they are not computed when all three initial
    parameter arrays are given. User-given arrays override the estimates.
    """
    covariance_type = settings.covariance_type
    if all(value is not None for value in initial.values()):
        estimated = None
    else:
        moments = initial_moments(random_state)
        # scikit-learn's tied estimate from seed rows (one-hot responsibilities
        # on k rows only) depends on the origin of the raw data: reproduce it.
        seeded = settings.init_params in ("k-means++", "random_from_data")
        pooled = not structure(covariance_type).per_component
        tied_origin = -shift if seeded and pooled else None
        # Seeded components hold one row each, so their covariance is reg_covar
        # alone: repair it if needed, but that is by design, not worth a warning.
        init_degenerate = {"empty": set(), "jittered": set()} if seeded else degenerate
        estimated = m_step(
            moments,
            None,
            init_degenerate,
            settings,
            normalise_weights=False,
            tied_origin=tied_origin,
        )

    def given_or_estimated(name: str, index: int) -> np.ndarray:
        value = initial[name]
        if value is not None:
            return value
        if estimated is None:  # pragma: no cover - guarded above
            raise RuntimeError(f"no estimate for {name}")
        return estimated[index]

    mixture_weights = given_or_estimated("weights", 0)
    given_means = initial["means"]
    means = given_means - shift if given_means is not None else given_or_estimated("means", 1)
    if initial["precisions"] is not None:
        kind = structure(covariance_type)
        precisions_cholesky = kind.precision_cholesky_of_precisions(initial["precisions"])
        covariances = kind.covariances_from_precisions_cholesky(precisions_cholesky)
    else:
        covariances = given_or_estimated("precisions", 2)
        precisions_cholesky = given_or_estimated("precisions", 3)
    return mixture_weights, means, covariances, precisions_cholesky


# --------------------------------------------------------------------------------------
# The loop


def run_em(
    data: EMData,
    settings: EMSettings,
    initial: dict[str, np.ndarray | None],
    random_state: np.random.RandomState,
    warm: tuple[Parameters, float] | None = None,
) -> EMResult:
    """The EM loop with restarts, wherever the rows live (see :class:`EMData`).

    Parameters
    ----------
    data : EMData
    settings : EMSettings
    initial : dict
        The user's ``weights``, ``means`` and ``precisions`` (validated float64
        arrays, raw coordinates) or None each.
    random_state : RandomState
        Draws the initialisations.
    warm : (parameters, lower bound), default=None
        Start once from these (raw, not centred) parameters instead of
        initialising (``warm_start``).

    Returns
    -------
    EMResult
        The initialisation with the highest final lower bound; warns
        :class:`ConvergenceWarning` when it did not converge and
        :class:`DegenerateComponentWarning` for empty or repaired components.
    """
    n_init = settings.n_init if warm is None else 1
    degenerate: Degenerate = {"empty": set(), "jittered": set()}
    progress = _Progress(settings.verbose, settings.verbose_interval)

    best: EMResult | None = None
    for init in range(n_init):
        progress.init_start(init)
        if warm is None:
            params = initial_parameters(
                data.initial_moments, data.shift, random_state, initial, degenerate, settings
            )
            lower_bound = -np.inf
        else:
            params = centred(warm[0], data.shift)
            lower_bound = warm[1]
        lower_bounds: list[float] = []
        converged = False
        n_iter = 0
        for n_iter in range(1, settings.max_iter + 1):
            previous = lower_bound
            moments = data.em_pass(params)
            if not moments.is_finite():
                raise ValueError("EM statistics overflowed float64: rescale X.")
            lower_bound = moments.log_likelihood / moments.total_weight
            params = m_step(moments, params, degenerate, settings)
            lower_bounds.append(lower_bound)
            change = lower_bound - previous
            progress.iteration(n_iter, change)
            if abs(change) < settings.tol:
                converged = True
                break
        if settings.max_iter > 0:
            progress.init_end(lower_bound, converged)
        if best is None or lower_bound > best.lower_bound:
            best = EMResult(params, converged, n_iter, lower_bound, lower_bounds)

    if best is None:  # pragma: no cover - n_init >= 1 always sets it
        raise RuntimeError("no initialisation ran")
    if not best.converged and settings.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=4,
        )
    _warn_degenerate(degenerate)
    return best


def _warn_degenerate(degenerate: Degenerate) -> None:
    if degenerate["empty"]:
        warnings.warn(
            f"Component(s) {sorted(degenerate['empty'])} received no responsibility "
            "mass; they kept their previous mean and covariance. Consider fewer "
            "components.",
            DegenerateComponentWarning,
            stacklevel=5,
        )
    if degenerate["jittered"]:
        warnings.warn(
            f"Component(s) {sorted(degenerate['jittered'])} had a covariance that was "
            "not positive definite, or singular up to rounding (collapsed samples); "
            "the smallest diagonal jitter that repairs it was added. Consider "
            "increasing reg_covar, fewer components, or scaling the data.",
            DegenerateComponentWarning,
            stacklevel=5,
        )


class _Progress:
    """scikit-learn's ``verbose`` messages: initialisations, iterations, timings."""

    def __init__(self, verbose: int, interval: int) -> None:
        self.verbose = verbose
        self.interval = interval
        self.timer_init = self.timer_iter = perf_counter()

    def init_start(self, init: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {init}")
            self.timer_init = self.timer_iter = perf_counter()

    def iteration(self, n_iter: int, change: float) -> None:
        if self.verbose == 0 or n_iter % self.interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = perf_counter()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self.timer_iter:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self.timer_iter = now

    def init_end(self, lower_bound: float, converged: bool) -> None:
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            elapsed = perf_counter() - self.timer_init
            print(
                f"Initialization {message}. time lapse {elapsed:.5f}s\t lower bound "
                f"{lower_bound:.5f}."
            )
