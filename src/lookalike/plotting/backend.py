"""matplotlib, imported when a figure is drawn, with the install command when it is missing.

The one way lookalike reaches matplotlib: the plotting functions, the evaluation report's
figures and the demo call :func:`pyplot` when they draw, so importing lookalike never
imports matplotlib.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot(backend: str | None = None, needed_by: str = "lookalike.plotting needs") -> Any:
    """``matplotlib.pyplot``, or ImportError naming the ``plot`` extra.

    Parameters
    ----------
    backend : str, default=None
        A backend to select first (``"Agg"`` draws without a display); ``None``
        leaves matplotlib's choice.
    needed_by : str, default="lookalike.plotting needs"
        The start of the error message when matplotlib is missing: what needs it.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Raises
    ------
    ImportError
        ``"<needed_by> matplotlib: pip install 'lookalike[plot]'"`` when matplotlib
        is not installed.
    """
    try:
        import matplotlib

        if backend is not None:
            matplotlib.use(backend)
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(f"{needed_by} matplotlib: pip install 'lookalike[plot]'") from error
    return plt
