"""Models as the commands see them: ``--model`` and its mixture options; model files.

:func:`joint_model` turns ``fit``'s ``--model`` and mixture options into the
Synthesizer's ``model=`` (the same with and without ``--dask``); :func:`load_model`
reads a model file: a fitted Synthesizer or GaussianMixture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lookalike.cli._shared import MODEL_CHOICES, BadInput, check_choice, check_input_file, echo

COVARIANCE_CHOICES = ("full", "tied", "diag", "spherical")
#: The mixture options' defaults (GaussianMixture's; repeated in ``fit --help``).
MIXTURE_COVARIANCE = "full"
MIXTURE_MAX_ITER = 100
MIXTURE_TOL = 1e-3
#: The ridge on the normal scores' covariances (as the "gmm" family's).
MIXTURE_REG_COVAR = 1e-4


def joint_model(
    model: str | None,
    components: int | None,
    covariance: str | None,
    max_iter: int | None,
    tol: float | None,
    seed: int | None,
) -> Any:
    """The Synthesizer's ``model=`` from ``--model`` and the mixture options.

    Without mixture options: ``--model`` (default ``"auto"``). With ``-k`` (and
    optionally ``--covariance``, ``--max-iter``, ``--tol``): a
    :class:`~lookalike.mixture.GaussianMixture` of that many components on the
    columns' normal scores, the ``"gmm"`` family with its size fixed instead of
    chosen by BIC; ``--model`` may then be left out or be ``gmm``.

    Examples
    --------
    >>> joint_model(None, None, None, None, None, None)
    'auto'
    >>> mixture = joint_model("gmm", 12, "diag", None, None, 0)
    >>> mixture.n_components, mixture.covariance_type, mixture.reg_covar
    (12, 'diag', 0.0001)
    """
    options = {"--covariance": covariance, "--max-iter": max_iter, "--tol": tol}
    given = [option for option, value in options.items() if value is not None]
    if model is not None:
        check_choice("--model", model, MODEL_CHOICES)
    if components is None:
        if given:
            raise BadInput(
                f"{', '.join(given)} tune(s) a mixture of fixed size: add -k COMPONENTS "
                "(e.g. -k 8), or leave them out and --model gmm chooses its size by BIC"
            )
        return "auto" if model is None else model
    if model not in (None, "gmm"):
        raise BadInput(
            f"-k sets the number of components of --model gmm, not of --model {model}; "
            "use --model gmm or leave -k out"
        )
    if components < 1:
        raise BadInput(f"-k must be at least 1, got {components}")
    covariance = MIXTURE_COVARIANCE if covariance is None else covariance
    check_choice("--covariance", covariance, COVARIANCE_CHOICES)
    if max_iter is not None and max_iter < 1:
        raise BadInput(f"--max-iter must be at least 1, got {max_iter}")
    if tol is not None and not tol >= 0:
        raise BadInput(f"--tol must be a non-negative number, got {tol}")
    from lookalike.mixture import GaussianMixture

    return GaussianMixture(
        components,
        covariance_type=covariance,
        max_iter=MIXTURE_MAX_ITER if max_iter is None else max_iter,
        tol=MIXTURE_TOL if tol is None else tol,
        reg_covar=MIXTURE_REG_COVAR,
        random_state=seed,
    )


def report_fit(synthesizer: Any, saved: Path, where: str) -> None:
    """The result lines of a fit: rows, columns, model (and ``where`` it ran); id columns."""
    summary = synthesizer.summary()
    n_columns = len(synthesizer.columns_)
    echo(
        f"fitted {synthesizer.n_rows_} rows, {n_columns} columns with "
        f"{summary.get('model', synthesizer.model)}{where}; saved to {saved}"
    )
    id_columns = _id_columns(summary)
    if id_columns and synthesizer.ids == "drop":
        echo(
            f"id column(s) {', '.join(id_columns)} are not modelled and samples leave "
            "them out (--ids regenerate fills them with new unique ids)"
        )


def check_kind_columns(kinds: dict[str, str], names: list[str], target: str | None = None) -> None:
    """Refuse ``--kind`` entries and a ``--target`` for columns the table does not have."""
    if target is not None and target not in names:
        raise BadInput(
            f"--target names unknown column {target!r}; columns are: {', '.join(names)}"
        )
    unknown = [name for name in kinds if name not in names]
    if unknown:
        raise BadInput(
            f"--kind names unknown column(s) {', '.join(map(repr, unknown))}; columns are: "
            f"{', '.join(names)}"
        )


def _id_columns(summary: dict[str, Any]) -> list[str]:
    return [str(c["name"]) for c in summary.get("columns", []) if c.get("kind") == "id"]


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


def mixture_rows(mixture: Any, n: int, seed: Any) -> Any:
    """``n`` rows drawn from a fitted mixture, shuffled, as a DataFrame of its features.

    ``seed`` is anything ``numpy.random.default_rng`` takes (None, an int, a SeedSequence).
    """
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(seed)
    values, _ = mixture.sample(n, random_state=generator)
    values = values[generator.permutation(n)]  # sample() groups the rows by component
    return pd.DataFrame(values, columns=feature_names(mixture))


def file_size(path: Path) -> str:
    """``path``'s size for people: ``"812 bytes"``, ``"3.4 KiB"``, ``"12.0 MiB"``."""
    size = float(path.stat().st_size)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
