"""Model files as the commands see them: a fitted Synthesizer or GaussianMixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lookalike.cli._shared import BadInput, check_input_file


def load_model(path: Path) -> Any:
    """A fitted Synthesizer or GaussianMixture read from ``path``; anything else is an error."""
    from lookalike.persistence import load

    check_input_file(path, "model file")
    loaded = load(path)
    if is_mixture(loaded):
        return loaded
    if not (callable(getattr(loaded, "summary", None)) and hasattr(loaded, "columns_")):
        raise BadInput(
            f"{path} holds a {type(loaded).__name__}, not a fitted Synthesizer (or "
            "GaussianMixture); make one with 'lookalike fit'"
        )
    return loaded


def is_mixture(model: Any) -> bool:
    """Whether ``model`` is a fitted :class:`~lookalike.mixture.GaussianMixture`."""
    from lookalike.mixture import GaussianMixture

    return isinstance(model, GaussianMixture) and hasattr(model, "means_")


def feature_names(mixture: Any) -> list[str]:
    """The mixture's feature names; ``x0, x1, ...`` when it was fitted on an array."""
    names = getattr(mixture, "feature_names_in_", None)
    if names is None:
        return [f"x{j}" for j in range(mixture.means_.shape[1])]
    return [str(name) for name in names]


def file_size(path: Path) -> str:
    """``path``'s size for people: ``"812 bytes"``, ``"3.4 KiB"``, ``"12.0 MiB"``."""
    size = float(path.stat().st_size)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
