"""ModelSearch's results table: a leaf that turns candidates and their scores into a DataFrame.

Kept apart from :mod:`lookalike.model_selection` (the sweep) so that the table's
layout (parameter columns typed by their values, the scores, the rank) lives in
one place; pandas is imported only when a table is built.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["results_table"]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def results_table(candidates: Sequence[Any], outcomes: Sequence[Any], criterion: str) -> Any:
    """The ``results_`` DataFrame: one row per candidate, its parameters and scores, a rank.

    ``candidates`` have ``name`` and ``params``; ``outcomes`` the scores of each
    (``n_parameters``, ``log_likelihood``, ``bic``, ``aic``, ``fold_scores``,
    ``fit_time``, ``converged``, ``error``).
    """
    import pandas as pd

    names: list[str] = []
    for candidate in candidates:
        names.extend(k for k in candidate.params if k not in names)
    columns: dict[str, Any] = {
        "model": pd.Series([c.name for c in candidates], dtype=object),
        "params": pd.Series([dict(c.params) for c in candidates], dtype=object),
    }
    for name in names:
        present = [c.params[name] for c in candidates if name in c.params]
        if all(_is_number(v) for v in present):
            if len(present) == len(candidates) and all(
                isinstance(v, numbers.Integral) for v in present
            ):
                columns[name] = pd.Series([int(c.params[name]) for c in candidates])
            else:
                values = [float(c.params.get(name, math.nan)) for c in candidates]
                columns[name] = pd.Series(values, dtype=np.float64)
        else:
            columns[name] = pd.Series([c.params.get(name) for c in candidates], dtype=object)
    fold_means = []
    fold_stds = []
    for outcome in outcomes:
        scores = [s for _, s in sorted(outcome.fold_scores)]
        if criterion == "cv" and scores and outcome.error is None:
            fold_means.append(float(np.mean(scores)))
            fold_stds.append(float(np.std(scores)))
        else:
            fold_means.append(math.nan)
            fold_stds.append(math.nan)
    for name, values in (
        ("n_parameters", [o.n_parameters for o in outcomes]),
        ("log_likelihood", [o.log_likelihood for o in outcomes]),
        ("bic", [o.bic for o in outcomes]),
        ("aic", [o.aic for o in outcomes]),
        ("cv_log_likelihood", fold_means),
        ("cv_std", fold_stds),
        ("fit_time", [o.fit_time for o in outcomes]),
    ):
        columns[name] = pd.Series(values, dtype=np.float64)
    columns["converged"] = pd.Series([bool(o.converged) for o in outcomes], dtype=bool)
    table = pd.DataFrame(columns)
    key = "cv_log_likelihood" if criterion == "cv" else criterion
    rank = table[key].rank(method="min", ascending=criterion != "cv", na_option="bottom")
    table["rank"] = rank.astype(np.int64)
    return table
