"""Pure numerical kernels: functions on arrays, no validation, no I/O.

- :mod:`~lookalike._math.gaussian`: Gaussian log-densities per covariance type,
  precision Cholesky factors and the quadratic features they share.
- :mod:`~lookalike._math.em`: the E-step over a block of rows as additive
  sufficient statistics, and the M-step from their sum.
- :mod:`~lookalike._math.blocks`: row blocks sized from a memory budget, and the
  :class:`~lookalike._math.blocks.BlockMap` that functions walking blocks take
  (no function here starts a thread: the pool is :mod:`lookalike._parallel`).
"""
