"""The one thread pool (lookalike._parallel): ordered maps over row blocks."""

from __future__ import annotations

import threading
import time

import numpy as np

from lookalike import _parallel
from lookalike._math import blocks


def test_effective_n_jobs():
    import os

    cores = os.cpu_count() or 1
    assert _parallel.effective_n_jobs(None) == cores
    assert _parallel.effective_n_jobs(1) == 1
    assert _parallel.effective_n_jobs(3) == 3
    assert _parallel.effective_n_jobs(-1) == cores
    assert _parallel.effective_n_jobs(-cores - 5) == 1


def test_map_blocks_keeps_order_under_threads():
    slices = blocks.row_slices(20, 2)
    seen_threads: set[int] = set()

    def work(rows: slice) -> int:
        time.sleep(0.002 * (10 - rows.start // 2))  # later blocks finish first
        seen_threads.add(threading.get_ident())
        return rows.start

    assert list(_parallel.map_blocks(work, slices, n_jobs=2)) == [s.start for s in slices]
    assert len(seen_threads) == 2
    assert list(_parallel.map_blocks(work, slices, n_jobs=1)) == [s.start for s in slices]
    # Reduction in block order: string concatenation is not commutative.
    reduced = _parallel.reduce_blocks(lambda rows: str(rows.start), slices, n_jobs=2)
    assert reduced == "".join(str(s.start) for s in slices)


def test_block_map_matches_serial_map():
    """The pure functions take a block map: threads change nothing in the numbers."""
    from lookalike._math.cross_validation import held_out_log_densities
    from lookalike._math.kernels import KERNELS

    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
    grid = np.array([0.2, 0.5])
    serial = held_out_log_densities(train, None, test, KERNELS["gaussian"], grid)
    threaded = held_out_log_densities(
        train, None, test, KERNELS["gaussian"], grid, _parallel.block_map(2)
    )
    assert blocks.SERIAL.n_threads == 1
    assert _parallel.block_map(2).n_threads == 2
    np.testing.assert_allclose(threaded, serial, rtol=1e-12)
