"""Row blocks sized from a memory budget, and an ordered parallel map over them.

Every pass over data in lookalike walks the rows in blocks whose temporaries fit
a fixed budget, so memory never grows with the number of rows. Blocks run on a
thread pool: NumPy and BLAS release the GIL, so element-wise work (``exp``,
squares) uses every core, which BLAS threading alone does not give. While the
pool runs, BLAS is limited to one thread per worker to avoid oversubscription.

Results come back in block order and are reduced in that order, so the numbers
do not depend on thread scheduling.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")

# Bytes of temporaries one block may hold. A few MiB keeps a block's working set
# close to the caches: on 1M x 16 x 16 full mixtures 4-8 MiB was fastest (1 MiB
# was 1.9x slower, 16 MiB 1.2x slower).
BLOCK_BYTES = 8 * 2**20
MIN_BLOCK_ROWS = 64
MAX_BLOCK_ROWS = 65_536


def block_rows(bytes_per_row: int, budget: int | None = None) -> int:
    """Rows per block so that ``rows * bytes_per_row`` stays near ``budget``.

    ``budget=None`` reads :data:`BLOCK_BYTES` at call time, so changing the
    module constant (in a test, or to tune a machine) takes effect.
    """
    if budget is None:
        budget = BLOCK_BYTES
    rows = budget // max(int(bytes_per_row), 1)
    return int(min(max(rows, MIN_BLOCK_ROWS), MAX_BLOCK_ROWS))


def row_slices(n_rows: int, rows_per_block: int) -> list[slice]:
    """Consecutive slices covering ``range(n_rows)``."""
    return [
        slice(start, min(start + rows_per_block, n_rows))
        for start in range(0, n_rows, rows_per_block)
    ]


def effective_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` means every core, negative counts from the end."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if n_jobs < 0:
        return max(cores + 1 + n_jobs, 1)
    return max(int(n_jobs), 1)


@functools.cache
def _threadpool_controller() -> ThreadpoolController:
    """One controller per process: building one scans the loaded libraries (~5 ms)."""
    return ThreadpoolController()


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Context in which BLAS runs on one thread.

    For work split over our own threads, and for many tiny factorisations and
    solves, where BLAS threads only cost synchronisation (on two busy cores a
    (3, 3) triangular solve of 100 columns took 15 ms with two BLAS threads and
    0.2 ms with one).
    """
    return _threadpool_controller().limit(limits=1, user_api="blas")


def single_threaded_libraries() -> contextlib.AbstractContextManager[Any]:
    """Context in which BLAS and OpenMP both run on one thread."""
    return _threadpool_controller().limit(limits=1)


def map_blocks(
    func: Callable[[slice], T], blocks: Sequence[slice], n_jobs: int | None = None
) -> Iterator[T]:
    """``func(block)`` for every block, in block order, on up to ``n_jobs`` threads.

    A single block, or a single thread, runs inline with BLAS left as it is.
    """
    n_threads = min(effective_n_jobs(n_jobs), len(blocks))
    if n_threads <= 1:
        for block in blocks:
            yield func(block)
        return
    with (
        single_threaded_blas(),
        ThreadPoolExecutor(max_workers=n_threads) as pool,
    ):
        yield from pool.map(func, blocks)


def reduce_blocks(
    func: Callable[[slice], T], blocks: Sequence[slice], n_jobs: int | None = None
) -> T:
    """Sum of ``func(block)`` over blocks (in block order)."""
    results = map_blocks(func, blocks, n_jobs)
    total = next(results)
    for result in results:
        total = total + result  # type: ignore[operator]
    return total
