"""Shared helpers for the side-by-side benchmarks: timing, tables, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def median_time(func: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def gemm_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Measured float64 matrix-multiply speed of this machine (all cores), GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    a @ b
    seconds, _ = median_time(lambda: a @ b, repeats)
    return 2 * n**3 / seconds / 1e9


def machine_line() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )


def report_header(title: str, smoke_note: str | None = None) -> str:
    """A benchmark report's first lines: its title, the date (and what a smoke run
    left out), the machine."""
    import datetime

    note = f" ({smoke_note})" if smoke_note else ""
    return (
        f"# {title}\n\nMeasured {datetime.date.today().isoformat()}{note}.\n\n{machine_line()}\n"
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
                return f"{value:.3g}"
            return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
