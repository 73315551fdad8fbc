"""Run every benchmark's ``--smoke`` mode in one Python process (what ``make test`` runs).

Each benchmark is imported once and its ``main()`` called with ``--smoke``, so the
interpreter, NumPy, scikit-learn and lookalike start once instead of once per
benchmark. Their tables go to stdout; one line per benchmark with its wall and CPU
seconds goes to stderr. A failing benchmark is reported and the others still run;
the exit status is 1 if any failed.

    python benchmarks/smoke.py                  # all of them
    python benchmarks/smoke.py gmm kde          # some of them
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "gmm",
    "kde",
    "toolkit",
    "quality",
    "splits",
    "dask",
    "evaluate",
    "tabular_dask",
)


def run(name: str) -> bool:
    """``bench_<name>.main()`` with ``--smoke``; True when it succeeded."""
    module = importlib.import_module(f"bench_{name}")
    arguments = sys.argv
    sys.argv = [str(HERE / f"bench_{name}.py"), "--smoke"]
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        module.main()
    except BaseException:  # SystemExit included: report it and run the others
        traceback.print_exc()
        ok = False
    else:
        ok = True
    finally:
        sys.argv = arguments
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    status = "ok" if ok else "FAILED"
    print(f"smoke bench_{name}: {status}, {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
    return ok


def main() -> int:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        choices = ", ".join(BENCHMARKS)
        print(f"unknown benchmarks {unknown}; choose among {choices}", file=sys.stderr)
        return 2
    os.chdir(HERE)  # the benchmarks read and write relative to their folder
    sys.path.insert(0, str(HERE))
    start = time.perf_counter()
    results = [run(name) for name in names]
    print(f"smoke total: {time.perf_counter() - start:.1f} s wall", file=sys.stderr)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
