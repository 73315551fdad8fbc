"""Empirical marginal distributions with atoms: CDF intervals and quantile functions.

A column's observed values define a one-dimensional distribution with two parts:

- **atoms**: point masses at values seen at least twice (zeros, rounded or quantised
  readings, values censored at an end), each at its observed share;
- a **continuous part**: the values seen once. Its CDF is the piecewise-linear
  interpolation through their order statistics (the *knots*) at Hazen plotting
  positions (the ``i``-th of ``k`` values at ``(i - 1/2) / k`` of the part's mass), so
  its quantile function reproduces every knot exactly and maps the outermost half
  shares onto the smallest and largest values (or onto short linear tails).

With ``F`` the whole CDF, a value ``x`` maps to the probability interval
``[F(x-), F(x)]``: a point for a continuous value, an interval of width equal to its
share for an atom. :func:`to_uniform` draws ``u`` uniformly in that interval (the
randomised probability integral transform), so that ``u`` is exactly uniform on the
observed values; :func:`from_uniform` inverts it, returning the atom whose interval
holds ``u`` or interpolating between neighbouring knots. Every observed value
round-trips exactly, atoms come back at their observed rates when ``u`` is uniform,
and decoded values never leave the observed range (unless ``tails`` is set).

A categorical column is the special case of atoms only, at positions ``0 .. L-1``.

Large columns are compressed: at most ``max_atoms`` atoms (the most frequent; the
others join the continuous part) and ``max_knots`` knots (order statistics at equally
spaced ranks), so a fitted marginal has a bounded size whatever the number of rows.

References
----------
Brockwell, A. E. (2007). Universal residuals: a multivariate transformation.
*Statistics & Probability Letters* 77(14), 1473-1478 (the randomised probability
integral transform for discrete and mixed margins).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

#: Defaults for the compressed size of a marginal.
MAX_KNOTS = 4096
MAX_ATOMS = 4096

#: Uniforms are kept this far from 0 and 1 before the normal quantile (|z| <= 8.2).
_UNIFORM_FLOOR = 1e-16
#: Randomised uniforms keep this relative distance from the ends of an atom's interval.
_INTERVAL_MARGIN = 1e-6
#: A knot next to an atom is encoded this far (in probability) into its continuous side.
_KNOT_NUDGE = 1e-12


class Marginal(NamedTuple):
    """A fitted marginal: sorted support points and the CDF just below and at each.

    Attributes
    ----------
    positions : ndarray of shape (m,)
        Sorted distinct support points: atoms and knots of the continuous part.
    lower : ndarray of shape (m,)
        ``F(x-)`` at each position.
    upper : ndarray of shape (m,)
        ``F(x)`` at each position; ``upper - lower`` is the atom mass (0 for knots).
    low_tail, high_tail : float
        Width, in the column's units, of the linear tails beyond the first and last
        position (0 without tails: the quantile function stays in the observed range).
    """

    positions: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    low_tail: float = 0.0
    high_tail: float = 0.0


def fit_marginal(
    values: np.ndarray,
    *,
    max_atoms: int = MAX_ATOMS,
    max_knots: int = MAX_KNOTS,
    min_atom_count: int = 2,
    tails: bool = False,
) -> Marginal:
    """The empirical marginal of finite ``values`` (atoms and continuous part).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Finite observed values (at least one).
    max_atoms, max_knots : int
        Size limits (see the module docstring).
    min_atom_count : int, default=2
        A value repeated at least this often is an atom.
    tails : bool, default=False
        Give the continuous part mass beyond its first and last knots (plotting
        positions ``(i + 1/2) / k`` instead of ``i / (k - 1)``), continued linearly
        with the slope of the outermost tenth of the knots, so decoded values may fall
        slightly outside the observed range.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    distinct, counts = np.unique(values, return_counts=True)
    is_atom = counts >= min_atom_count
    if np.count_nonzero(is_atom) > max_atoms:
        threshold = np.sort(counts)[-max_atoms]
        is_atom &= counts >= threshold
        if np.count_nonzero(is_atom) > max_atoms:  # ties at the threshold: keep the first
            keep = np.flatnonzero(is_atom)[:max_atoms]
            is_atom[:] = False
            is_atom[keep] = True
    continuous = ~is_atom
    # A continuous part needs two distinct values; a lone one becomes an atom.
    if np.count_nonzero(continuous) == 1:
        is_atom |= continuous
        continuous[:] = False
    atom_values = distinct[is_atom]
    atom_mass = counts[is_atom] / n
    knot_values = distinct[continuous]
    knot_counts = counts[continuous]
    continuous_mass = float(knot_counts.sum()) / n
    knots, knot_cdf, low_tail, high_tail = _continuous_knots(
        knot_values, knot_counts, continuous_mass, max_knots, tails
    )
    positions = np.union1d(atom_values, knots)
    atoms_at = np.zeros(positions.size)
    atoms_at[np.searchsorted(positions, atom_values)] = atom_mass
    if knots.size:
        continuous_cdf = np.interp(
            positions, knots, knot_cdf, left=knot_cdf[0], right=knot_cdf[-1]
        )
        continuous_cdf[positions < knots[0]] = 0.0
        continuous_cdf[positions > knots[-1]] = continuous_mass
    else:
        continuous_cdf = np.zeros(positions.size)
    below = np.concatenate(([0.0], np.cumsum(atoms_at)[:-1]))
    lower = continuous_cdf + below
    upper = lower + atoms_at
    # Rounding: the last upper is exactly 1 (up to the tail mass).
    total = upper[-1] + (continuous_mass - continuous_cdf[-1] if knots.size else 0.0)
    lower, upper = lower / total, upper / total
    return Marginal(positions, lower, upper, low_tail, high_tail)


def _continuous_knots(
    values: np.ndarray, counts: np.ndarray, mass: float, max_knots: int, tails: bool
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Knots of the continuous part and their CDF values (within ``[0, mass]``)."""
    k = int(counts.sum())
    if values.size == 0:
        return values, values.copy(), 0.0, 0.0
    # Ranks 0 .. k-1 of the continuous observations; each distinct value sits at the
    # rank of its first occurrence (counts are 1 unless atoms were capped).
    ranks = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.float64)
    if values.size > max_knots:
        # Half the knots evenly spaced in rank (the bulk), half evenly spaced in normal
        # score (the tails), plus both ends.
        last = values.size - 1
        even = np.linspace(0, last, max_knots // 2)
        z = np.linspace(
            special.ndtri(0.5 / values.size),
            special.ndtri(1 - 0.5 / values.size),
            max_knots - max_knots // 2,
        )
        by_score = special.ndtr(z) * values.size - 0.5
        chosen = np.unique(np.clip(np.round(np.concatenate((even, by_score, [0, last]))), 0, last))
        chosen = chosen.astype(np.int64)
        values, ranks, counts = values[chosen], ranks[chosen], counts[chosen]
    # Hazen plotting positions: value i sits at the middle of its share, so the
    # smallest and largest values get normal scores of about -/+ Phi^{-1}(1 / 2n), not
    # the infinite scores of an empirical CDF at 0 and 1.
    cdf = mass * (ranks + 0.5 * counts) / k
    if not tails:
        return values, cdf, 0.0, 0.0
    tenth = max(1, values.size // 10)
    low_slope = (values[tenth] - values[0]) / max(cdf[tenth] - cdf[0], 1e-300)
    high_slope = (values[-1] - values[-1 - tenth]) / max(cdf[-1] - cdf[-1 - tenth], 1e-300)
    low_tail = float(low_slope * cdf[0])
    high_tail = float(high_slope * (mass - cdf[-1]))
    return values, cdf, low_tail, high_tail


def check_marginal(marginal: Marginal, name: str = "marginal") -> None:
    """Raise ValueError unless ``marginal`` has the form :func:`fit_marginal` gives.

    ``positions``, ``lower`` and ``upper`` are 1-D float64 arrays of one length
    (at least 1), finite; positions strictly increase; probabilities lie in
    ``[0, 1]`` and never decrease (``lower[k] <= upper[k] <= lower[k + 1]``, up
    to rounding); the tails are finite and non-negative. Model files call it on
    restored codecs, so that a tampered marginal is refused with its reason.
    """
    positions, lower, upper = marginal.positions, marginal.lower, marginal.upper
    arrays = (("positions", positions), ("lower", lower), ("upper", upper))
    for part, array in arrays:
        if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and array.ndim == 1):
            raise ValueError(f"{name} {part} must be a 1-D float64 array")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} {part} has NaN or infinite values")
    if positions.size == 0 or lower.shape != positions.shape or upper.shape != positions.shape:
        raise ValueError(f"{name} positions, lower and upper must have one equal, non-zero length")
    if np.any(np.diff(positions) <= 0):
        raise ValueError(f"{name} positions (knots and atoms) must strictly increase")
    tolerance = 1e-9
    steps = np.empty(2 * positions.size)
    steps[0::2], steps[1::2] = lower, upper
    if steps[0] < 0 or steps[-1] > 1 + tolerance or np.any(np.diff(steps) < -tolerance):
        raise ValueError(f"{name} probabilities (lower, upper) must increase within [0, 1]")
    for part, tail in (("low_tail", marginal.low_tail), ("high_tail", marginal.high_tail)):
        if not (np.isfinite(tail) and tail >= 0):
            raise ValueError(f"{name} {part} must be a finite number >= 0")


def atoms_only(probabilities: np.ndarray) -> Marginal:
    """A marginal of point masses at ``0 .. L-1`` (a categorical column's levels)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    upper = np.cumsum(probabilities) / probabilities.sum()
    lower = np.concatenate(([0.0], upper[:-1]))
    return Marginal(np.arange(probabilities.size, dtype=np.float64), lower, upper)


# ---------------------------------------------------------------------------------------
# Probability intervals and the randomised probability integral transform


def cdf_interval(marginal: Marginal, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F(x-), F(x))`` for each value of ``x`` (any real value, not only observed ones)."""
    positions, lower, upper = marginal.positions, marginal.lower, marginal.upper
    x = np.asarray(x, dtype=np.float64)
    i = np.searchsorted(positions, x, side="right") - 1
    inside = (i >= 0) & (i < positions.size)
    at = np.clip(i, 0, positions.size - 1)
    exact = inside & (positions[at] == x)
    # Between positions at and at+1 (or beyond the ends): the continuous CDF is linear.
    nxt = np.minimum(at + 1, positions.size - 1)
    width = positions[nxt] - positions[at]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(width > 0, (x - positions[at]) / width, 0.0)
    between = upper[at] + np.clip(fraction, 0.0, 1.0) * (lower[nxt] - upper[at])
    point = np.where(exact, upper[at], between)
    point = np.where(i < 0, _low_tail_cdf(marginal, x), point)
    point = np.where(i >= positions.size - 1, _high_tail_cdf(marginal, x, point), point)
    point = np.where(exact, upper[at], point)
    below = np.where(exact, lower[at], point)
    return below, point


def _low_tail_cdf(marginal: Marginal, x: np.ndarray) -> np.ndarray:
    first, mass = marginal.positions[0], marginal.lower[0]
    if marginal.low_tail <= 0 or mass <= 0:
        return np.zeros_like(x)
    return np.clip(mass * (1.0 - (first - x) / marginal.low_tail), 0.0, mass)


def _high_tail_cdf(marginal: Marginal, x: np.ndarray, inside: np.ndarray) -> np.ndarray:
    last, top = marginal.positions[-1], marginal.upper[-1]
    mass = 1.0 - top
    beyond = x > last
    if marginal.high_tail <= 0 or mass <= 0:
        return np.where(beyond, 1.0, inside)
    tail = top + np.clip((x - last) / marginal.high_tail, 0.0, 1.0) * mass
    return np.where(beyond, tail, inside)


def to_uniform(marginal: Marginal, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The randomised probability integral transform: ``u ~ U[F(x-), F(x)]``.

    Draws stay a relative :data:`_INTERVAL_MARGIN` inside each atom's interval, so that
    the round trip through normal scores (whose rounding moves ``u`` by about 1e-16)
    never crosses into a neighbouring atom.
    """
    below, at = cdf_interval(marginal, x)
    u = uniform_within(below, at, rng, _INTERVAL_MARGIN)
    return _off_zero_mass_edges(marginal, u, at > below)


def uniform_within(
    low: np.ndarray, high: np.ndarray, rng: np.random.Generator, margin: float = 0.0
) -> np.ndarray:
    """One uniform draw in each probability interval ``[low, high]``, ``margin`` inside.

    ``u = low + (high - low) (margin + (1 - 2 margin) U)`` with ``U`` from
    ``rng.random(low.shape)``: the one draw behind the randomised probability
    integral transform (:func:`to_uniform`) and the normal scores of a discrete
    level (the codecs' and the joint models' ``level_scores``). With ``margin=0``
    it is exactly ``low + (high - low) U``.

    Parameters
    ----------
    low, high : ndarray of the same shape
        Ends of the intervals, ``0 <= low <= high <= 1``.
    rng : numpy.random.Generator
    margin : float, default=0.0
        Keep the draws this fraction of each interval's width off its ends.

    Returns
    -------
    u : ndarray of the shape of ``low``
    """
    fraction = margin + (1.0 - 2.0 * margin) * rng.random(np.shape(low))
    return low + (high - low) * fraction


def _off_zero_mass_edges(marginal: Marginal, u: np.ndarray, atom: np.ndarray) -> np.ndarray:
    """Move the ``u`` of a knot that touches an atom's interval into the continuous mass
    on its other side, by far less than one knot spacing, so that the rounding of the
    normal-score round trip cannot decode it as the atom."""
    positions, lower, upper = marginal.positions, marginal.lower, marginal.upper
    i = np.clip(np.searchsorted(upper, u, side="left"), 0, positions.size - 1)
    knot = ~atom & (upper[i] == u) & (lower[i] == u)
    if not knot.any():
        return u
    right = np.where(i + 1 < positions.size, lower[np.minimum(i + 1, positions.size - 1)], 1.0)
    left = np.where(i > 0, upper[np.maximum(i - 1, 0)], 0.0)
    mass_right, mass_left = right - u, u - left
    step_right = np.minimum(_KNOT_NUDGE, 0.5 * mass_right)
    step_left = np.minimum(_KNOT_NUDGE, 0.5 * mass_left)
    u = np.where(knot & (mass_right <= 0) & (mass_left > 0), u - step_left, u)
    return np.where(knot & (mass_left <= 0) & (mass_right > 0), u + step_right, u)


def from_uniform(marginal: Marginal, u: np.ndarray) -> np.ndarray:
    """The quantile function: the value whose probability interval holds ``u``."""
    positions, lower, upper = marginal.positions, marginal.lower, marginal.upper
    u = np.asarray(u, dtype=np.float64)
    m = positions.size
    breaks = np.empty(2 * m)
    breaks[0::2], breaks[1::2] = lower, upper
    j = np.searchsorted(breaks, u, side="right") - 1
    i = np.clip(j // 2, 0, m - 1)
    nxt = np.minimum(i + 1, m - 1)
    gap = lower[nxt] - upper[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(gap > 0, (u - upper[i]) / gap, 0.0)
    interpolated = positions[i] + np.clip(fraction, 0.0, 1.0) * (positions[nxt] - positions[i])
    x = np.where(j % 2 == 0, positions[i], interpolated)
    if marginal.low_tail > 0 and lower[0] > 0:
        x = np.where(u < lower[0], positions[0] - (1 - u / lower[0]) * marginal.low_tail, x)
    else:
        x = np.where(j < 0, positions[0], x)
    top = upper[-1]
    if marginal.high_tail > 0 and top < 1:
        x = np.where(u > top, positions[-1] + (u - top) / (1 - top) * marginal.high_tail, x)
    else:
        x = np.where(u >= top, positions[-1], x)
    return x


def normal_scores(u: np.ndarray) -> np.ndarray:
    """``Phi^{-1}(u)``, with ``u`` kept in ``[1e-16, 1 - 1e-16]`` (finite scores)."""
    return special.ndtri(np.clip(u, _UNIFORM_FLOOR, 1.0 - _UNIFORM_FLOOR))


def uniforms(z: np.ndarray) -> np.ndarray:
    """``Phi(z)``, the inverse of :func:`normal_scores`."""
    return special.ndtr(z)
