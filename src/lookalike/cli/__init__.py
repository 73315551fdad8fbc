"""The ``lookalike`` command line: ``fit``, ``sample``, ``evaluate``, ``info`` and ``demo``.

``lookalike fit`` reads a table (CSV, Parquet or Excel), fits a
:class:`~lookalike.tabular.Synthesizer` and saves it as a safe model file;
with ``--dask local|ADDRESS`` it reads a Parquet file, a folder of Parquet files
or a glob of Parquet/CSV files through Dask and fits the same Synthesizer on a
local or remote cluster, partition by partition. ``lookalike sample`` loads a
model file and writes new rows, optionally conditioned with ``--where``
(Synthesizer only); with ``--dask`` it draws them on the cluster's workers into
a partitioned Parquet dataset. ``lookalike evaluate``
compares synthetic rows with real ones and writes a self-contained HTML
report; ``lookalike info`` shows what a model file holds; ``lookalike demo``
runs the main job on the bundled digits.

Problems with the user's input (a missing or unreadable file, an unknown column,
a value outside a column's categories, a file that is not a model, an
unreachable Dask scheduler) print one line ``error: ...`` on stderr and exit
with status 2, without a traceback; any other exception is a bug and keeps its
traceback. Warnings print as one ``warning: ...`` line each, and the stages of
long work as progress on stderr (:mod:`lookalike.cli._shared`). Outputs are
written atomically.

One module per command (``fit``, ``dask_fit``, ``sample``, ``dask_sample``,
``evaluate``, ``info``, ``demo``), ``where`` for ``--where``, ``_dask`` for what the
``--dask`` commands share, ``app`` for the typer app.
"""

from lookalike.cli.app import app, main
from lookalike.cli.where import parse_where

__all__ = ["app", "main", "parse_where"]
