"""Row blocks sized from a memory budget, and how a pure function maps over them.

Every pass over data in lookalike walks the rows in blocks whose temporaries fit
a fixed budget, so memory never grows with the number of rows. Functions in
``_math`` that walk blocks take a :class:`BlockMap` (default :data:`SERIAL`):
they never start threads themselves. The thread pool that runs blocks side by
side is :func:`lookalike._parallel.block_map`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

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


class BlockMap(Protocol):
    """How a pure function maps over its row blocks.

    ``block_map(func, blocks)`` returns ``func(block)`` for every block, in block
    order, so whatever is reduced from them does not depend on scheduling.
    ``n_threads`` says how many blocks may run at once: functions size their
    blocks by it (at least one block per thread) and pass it to a library's own
    ``workers`` (``scipy.fft``). :data:`SERIAL` maps in the calling thread;
    :func:`lookalike._parallel.block_map` gives the thread pool, which lives
    outside ``_math``.
    """

    @property
    def n_threads(self) -> int: ...

    def __call__(self, func: Callable[[slice], T], blocks: Sequence[slice]) -> Iterator[T]: ...


@dataclass(frozen=True)
class SerialMap:
    """The :class:`BlockMap` that runs every block in the calling thread."""

    n_threads: int = 1

    def __call__(self, func: Callable[[slice], T], blocks: Sequence[slice]) -> Iterator[T]:
        return map(func, blocks)


#: Every block in the calling thread, one after the other.
SERIAL = SerialMap()
