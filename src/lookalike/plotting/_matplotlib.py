"""matplotlib, imported when a figure is drawn, with the install command when it is missing."""

from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or ImportError naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lookalike.plotting needs matplotlib: pip install 'lookalike[plot]'"
        ) from error
    return plt
