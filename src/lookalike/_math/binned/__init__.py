"""Binned kernel sums for d <= 3: linear binning, FFT convolution, interpolation, repair.

One module per step: :mod:`~lookalike._math.binned.grid` (grids and their
bounds), :mod:`~lookalike._math.binned.fft` (convolution of the binned counts),
:mod:`~lookalike._math.binned.sums` (sums at nodes and queries, tail repair),
:mod:`~lookalike._math.binned.errors` (the error model) and
:mod:`~lookalike._math.binned.interpolation`; this package re-exports their
public names.

Pure functions on arrays, in *scaled* coordinates (the bandwidth divided out, so
the kernel has unit bandwidth). For data ``x_j`` with weights ``w_j`` they
approximate, like :mod:`~lookalike._math.kernel_sums` computes exactly,

.. math::

    \\log f(q) = \\log \\sum_j w_j \\, k(\\lVert q - x_j \\rVert^2) ,

``-inf`` where the sum is zero; the caller adds the kernel's normalising
constant and divides by the total weight.

The maths
---------
Linear binning (:mod:`~lookalike._math.binning`) moves the data onto the nodes
``g_i`` of a regular grid of spacing ``delta`` (bandwidths), giving counts
``c_i``. At the nodes, the binned sum

.. math::

    \\tilde f(g_i) = \\sum_l c_l \\, k(\\lVert g_i - g_l \\rVert^2)

is a discrete convolution of the counts with the kernel sampled at node offsets:
one zero-padded real FFT per array (sizes from ``scipy.fft.next_fast_len``),
padded to ``m + L`` nodes per dimension for a kernel that reaches ``L`` nodes, so
nothing wraps around. Compact kernels are sampled over their whole support. The
Gaussian and exponential kernels are sampled out to where everything they leave
out is below ``TRUNCATION_SHARE`` (1e-10) of every FFT value that is kept (the
Gaussian spectrum is a product of 1-D spectra). Data outside the requested bounds
are binned on the same lattice extended to hold them. At a query ``q``, ``log
\\tilde f`` is interpolated multilinearly from the ``2^d`` nodes of its cell
(the sum itself where a node is ``-inf``); queries outside the grid are reported,
never extrapolated.

Tail repair
-----------
FFT rounding is absolute: about ``2e-15`` of the largest value (measured for the
Gaussian, exponential and epanechnikov kernels on 1-D, 2-D and 3-D grids of up
to 13M nodes), so the log of small values is noise: without the repair, errors
pass 10 nats 5 to 30 bandwidths outside the data, and KDEpy's FFTKDE is off by
1.8 nats at the ends of its default grid on 1M points. Nodes where the FFT sum is below
``REPAIR_FRACTION`` (1e-8) of the largest value are recomputed directly: a
log-sum-exp over the nonzero bins by the exact engine
(:func:`~lookalike._math.kernel_sums.log_kernel_sums`, which skips bins too far
to contribute). What the FFT keeps has a relative rounding error below 1e-6
(measured: 2e-7). For compact kernels, nodes with no nonzero bin inside the
support (counted by a second FFT, of the bins' occupancy with the support's
indicator) are exactly ``-inf``. :func:`grid_log_sums` repairs every node that
needs it, :func:`log_sums_at` only the corners of the queries' cells.

Error model
-----------
After the repair, only binning and interpolation remain.

*Gaussian kernel, at nodes.* One point at offset ``z`` (per dimension) binned
with cell fraction ``t`` has its term multiplied by ``R = (1 - t) e^{-z t delta
- t^2 delta^2 / 2} + t e^{z (1 - t) delta - (1 - t)^2 delta^2 / 2}``, and ``|log
R| <= max(1, z^2 - 1) delta^2 / 8`` (second order; checked numerically up to ``z
delta = 1``, where the ratio peaks at 1.000). The product kernel makes the
dimensions add up, and the sum is a weighted mean of the terms' ratios, so at a
node ``|log f~ - log f| <= s delta^2 / 8`` with the node's *factor*

.. math::

    s = E_\\pi \\sum_k \\max(1, z_k^2 - 1) \\le d + \\rho^2 ,
    \\qquad \\rho^2 = E_\\pi \\lVert z \\rVert^2 ,

``E_pi`` the mean over the data, each point weighted by its share ``pi_j`` of the
node's sum, and the *reach* ``rho^2`` the mean squared distance (bandwidths)
from the node to the data. With 25% for the higher orders, the bound at node
``g`` is

.. math::

    B(g) = 1.25 \\, s(g) \\, \\delta^2 / 8 + 10^{-14} \\, \\max \\tilde f / \\tilde f(g) ,

the last term the FFT's rounding (:data:`FFT_ROUNDING`; zero at repaired nodes).

*The local factor and reach.* Both are computed where needed, for the binned
data (within ``O(delta^2)`` of the data's). Where the FFT is trusted, ``s`` is
the ratio of a second convolution of the same counts, with ``sum_k max(1, u_k^2
- 1) k(|u|^2)``, to the first, and likewise ``rho^2`` with ``|u|^2 k(|u|^2)``
(:func:`grid_squared_reach`). Either kernel is a sum over ``k`` of a 1-D factor
along ``k`` times the Gaussian along the others, so its transform is ``sum_k A_k
prod_{j != k} G_j`` from 1-D transforms, and it shares the counts' transform:
one more inverse FFT. At repaired nodes, where such a ratio would be rounding
noise, ``s <= d + rho^2`` is used, with ``rho^2`` from the direct sums: ``rho^2
= G / f - 2``, ``G`` the sum of ``(|u|^2 + 2) k`` (a decreasing profile, as the
exact engine's pruning needs), or, where the node's bound from it is within the
caller's tolerance, from the free upper bound ``rho^2 <= 2 (log W - log f)``
(``W`` the total weight; it is ``KL(pi || c / W) >= 0``). Repaired nodes are
below ``1e-8`` of the peak, far from the data, where ``rho^2`` is large anyway
and that bound exceeds it by about ``2 log(W / w)`` for the weight ``w`` nearby
(about a factor 2 next to a lone outlier).

*At interpolated queries.* ``log f~`` is interpolated from the corners ``c`` of
the query's cell with weights ``w_c``. The error splits into ``sum_c w_c (log
f~(g_c) - log f(g_c))``, at most ``sum_c w_c B(g_c)``, and the interpolation
error of ``log f`` itself, at most ``sum_k t_k (1 - t_k) delta_k^2 / 2`` times the
largest ``|d^2 log f / dq_k^2| = |Var_pi(z_k) - 1|`` in the cell (``t_k`` the
query's fraction of the cell). That curvature is measured by the second
differences of the log sums along ``k`` at the cell's corners (each is
``delta_k^2`` times the curvature at a point within a node of the corner; the
binning error is a smooth function of ``g`` whose own second difference is of
order ``delta^4``), taking the largest; where a neighbour beyond the cell is off
the grid or in the repaired tails, ``sum_k |Var_pi(z_k) - 1| <= s`` (the largest
at the corners) bounds it. So, with 25% for the higher orders,

.. math::

    B(q) = \\sum_c w_c B(g_c)
           + 1.25 \\sum_k \\frac{t_k (1 - t_k)}{2} \\max_c |\\Delta_k^2 \\log \\tilde f(g_c)| ,

or with the fallback ``1.25 max_c s(g_c) max_k t_k (1 - t_k) delta_k^2 / 2`` as
the second term. With ``s <= d + rho^2`` for both terms and ``t = 1/2``, ``B``
is the global model of :func:`error_bound`, ``1.25 (d + rho^2) delta^2 / 4``
(twice the node bound), which with :data:`DEFAULT_REACH` (5.3, queries up to the
default bounds, 4.29 bandwidths beyond data without wide gaps) is 25 to 50 times too
pessimistic in the bulk.

*The bulk, and choosing a spacing.* In the bulk of well-sampled data ``pi`` is
close to the kernel itself: ``s`` is about ``1.26 d`` (its value for a normal
``pi``), ``rho^2`` about ``d`` and the curvature about 0 (20k standard normal
points in 2-D at Scott's bandwidth, queries from the same law: ``rho^2`` median
1.97, 99th percentile 2.5; ``sum_k |Var_pi(z_k) - 1|`` median 0.08, 99th
percentile 0.42). ``rho^2`` grows to ``D^2`` at a distance ``D`` outside the
data, up to ``d + D^2 / 4`` in a gap of width ``D``, and varies with the
neighbours in sparse data. :func:`bulk_spacing` designs for ``s = d + 1`` and a
curvature of 1 (:data:`BULK_EXCESS`) at the worst place in a cell; the points
beyond the bulk have their own, larger, bounds (``with_bound=True`` in
:func:`log_sums_at` and :func:`grid_log_sums`), and the estimator evaluates
those above its tolerance exactly (0.16% of the queries in that example at
``tol = 1e-3``, all beyond 3.3 standard deviations).

*Exponential kernel.* ``log k = -|u|`` has no curvature along ``u`` (far terms
err by ``delta^2 / 8`` per dimension, whatever the distance) but a kink at each
data point, where binning and interpolation cost up to ``sqrt(d) delta / 2``
each: ``|Delta log f| <= sqrt(d) delta / 2 + d delta^2 / 8`` (nodes), twice that
(queries), first order in ``delta``, the same everywhere.

*Compact kernels* (tophat, epanechnikov, linear, cosine). Near the edge of the
estimate's support the relative error is unbounded (binning moves mass by up to
``delta sqrt(d)``, inside or outside a ball), so no log tolerance is offered.
The sums themselves obey ``|f^(q) - f(q)| <= 1.5 L delta sqrt(d) W(q)`` for a
profile with slope at most ``L`` in the distance (epanechnikov 2, linear 1,
cosine pi/2) and ``W(q)`` the weight within ``1 + 2 delta sqrt(d)`` of ``q``;
for the tophat, ``W`` of the shell at distances ``1 +- 2 delta sqrt(d)``.

Measured errors against these bounds (Gaussian, exponential, epanechnikov and
tophat kernels; dense, sparse, tail and gap queries; 1 and 2 dimensions) are in
``benchmarks/results/binned-error-model.md``.

Limits
------
``d <= 3``; grids of at most ``max_cells`` nodes (default ``2**22``), else
:class:`GridTooLargeError`, which the estimator catches to evaluate exactly;
tolerances from ``MIN_TOLERANCE`` (1e-6, above the FFT's rounding) to
``MAX_TOLERANCE`` (0.1); log tolerances for the Gaussian and exponential kernels
only. The FFT arrays hold up to ``2^d`` times the grid's nodes.

References
----------
.. [1] Silverman, B. W. (1982). Algorithm AS 176: Kernel density estimation
   using the fast Fourier transform. *Applied Statistics* 31, 93-99.
.. [2] Wand, M. P. (1994). Fast computation of multivariate kernel estimators.
   *Journal of Computational and Graphical Statistics* 3, 433-445.
.. [3] Wand, M. P. and Jones, M. C. (1995). *Kernel Smoothing*, Appendix D.
   Chapman and Hall.
"""

from lookalike._math.binned.errors import (
    BULK_EXCESS,
    DEFAULT_REACH,
    FFT_ROUNDING,
    MAX_TOLERANCE,
    MIN_TOLERANCE,
    SAFETY,
    TOLERANCE_KERNELS,
    bulk_spacing,
    error_bound,
    spacing_for_tolerance,
)
from lookalike._math.binned.fft import (
    REPAIR_FRACTION,
    TRUNCATION_SHARE,
    UNDERFLOW_LOG,
)
from lookalike._math.binned.grid import (
    DEFAULT_MAX_CELLS,
    MAX_COUNT,
    PRACTICAL_LEVEL,
    Grid,
    GridTooLargeError,
    default_extension,
    make_grid,
)
from lookalike._math.binned.interpolation import (
    EDGE_SLACK,
    interpolate_log_sums,
)
from lookalike._math.binned.sums import (
    grid_log_sums,
    grid_squared_reach,
    log_sums_at,
)

__all__ = [
    "BULK_EXCESS",
    "DEFAULT_MAX_CELLS",
    "DEFAULT_REACH",
    "EDGE_SLACK",
    "FFT_ROUNDING",
    "MAX_COUNT",
    "MAX_TOLERANCE",
    "MIN_TOLERANCE",
    "PRACTICAL_LEVEL",
    "REPAIR_FRACTION",
    "SAFETY",
    "TOLERANCE_KERNELS",
    "TRUNCATION_SHARE",
    "UNDERFLOW_LOG",
    "Grid",
    "GridTooLargeError",
    "bulk_spacing",
    "default_extension",
    "error_bound",
    "grid_log_sums",
    "grid_squared_reach",
    "interpolate_log_sums",
    "log_sums_at",
    "make_grid",
    "spacing_for_tolerance",
]
