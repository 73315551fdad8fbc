"""How lookalike reports the stages of long work: the standard ``logging`` module.

The contract, for every module of the library:

- Records go to the logger named ``"lookalike"`` or a child of it named after
  the module (``get_logger(__name__)`` gives ``lookalike.tabular.synthesizer``
  for that module). The library never configures handlers or levels beyond the
  :class:`logging.NullHandler` installed here; the application does (the
  ``lookalike`` command line shows them as progress, see ``lookalike.cli``).
- One INFO record per stage of work that can take seconds, phrased as what is
  being done, lower case, no trailing full stop: ``"fitting column codecs"``,
  ``"fitting the joint model (3 of 4 families)"``. :func:`stage` logs it and,
  at DEBUG, the seconds it took.
- DEBUG for detail (an EM iteration, a candidate's score). Warnings about the
  user's data stay :mod:`warnings` (the caller decides how to show them).

Examples
--------
>>> from lookalike._logging import get_logger, stage
>>> log = get_logger("lookalike.example")
>>> with stage(log, "fitting %d candidates", 3):
...     pass
>>> log.name
'lookalike.example'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LOGGER_NAME", "get_logger", "stage"]

#: The root of lookalike's loggers.
LOGGER_NAME = "lookalike"

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """The logger for module ``name`` (pass ``__name__``), under ``"lookalike"``.

    A name outside the package (for example ``"__main__"``) is put under
    ``lookalike.`` so that its records reach the same handlers.
    """
    if name != LOGGER_NAME and not name.startswith(LOGGER_NAME + "."):
        name = f"{LOGGER_NAME}.{name}"
    return logging.getLogger(name)


@contextmanager
def stage(logger: logging.Logger, message: str, *args: object) -> Iterator[None]:
    """Log ``message % args`` at INFO as the block starts, and its duration at DEBUG.

    Parameters
    ----------
    logger : logging.Logger
        The module's logger (:func:`get_logger`).
    message : str
        What the block does, ``%``-style with ``args`` (formatted only when
        shown), e.g. ``"reading %s"``.
    *args
        Arguments of ``message``.
    """
    logger.info(message, *args)
    start = time.perf_counter()
    yield
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s: done in %.2f s", message % args if args else message, time.perf_counter() - start
        )
