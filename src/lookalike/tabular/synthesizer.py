"""Synthesizer: fit a density model to a table and generate new rows like it."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import clone

from lookalike._validation import (
    Constraint,
    Interval,
    Options,
    RandomState,
    RandomStateLike,
    validate_params,
)
from lookalike.exceptions import NotFittedError
from lookalike.tabular.constraints import Bounds, FixedSum, LowAcceptanceWarning, Order
from lookalike.tabular.schema import ColumnSchema, TableTypeError, check_table, infer_schema
from lookalike.tabular.transforms import TRANSFORMS, TableEncoder

MODELS = ("auto", "gmm", "kde", "gaussian")

# model="gmm": mixture sizes compared by BIC (capped at n_rows / 10).
GMM_N_COMPONENTS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
# Rows drawn from the fitted model to calibrate the decoding of 0/1 features.
CALIBRATION_ROWS = 10_000
# Rejection sampling: warn below this acceptance rate ...
LOW_ACCEPTANCE = 0.10
# ... give up after this many drawn rows per requested row (plus a fixed allowance) ...
MAX_DRAWS_PER_ROW = 1000
MAX_DRAWS_EXTRA = 100_000
# ... and draw at most this many rows at once.
MAX_BATCH = 100_000

_PARAMETERS: dict[str, Constraint] = {
    "bounds": Options(("observed", "clip", None)),
    "transform": Options(TRANSFORMS),
    "ids": Options(("drop", "regenerate")),
    "random_state": RandomState(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
    "verbose": Interval(0, None, integer=True),
}

_NUMERIC_KINDS = ("continuous", "integer", "datetime")
_DISCRETE_KINDS = ("categorical", "boolean")


def _generator(random_state: RandomStateLike) -> np.random.Generator:
    """A ``Generator`` for one call: a Generator as it is, the others seed a new one."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**32 - 1, dtype=np.uint64)))
    return np.random.default_rng(random_state)


class Synthesizer:
    """Generate synthetic rows that look like a real table.

    The table is encoded as floats (see :mod:`lookalike.tabular.transforms`),
    a density model is fitted to the encoded rows, and samples of the model are
    decoded back into a DataFrame with the same columns, order and dtypes.

    Parameters
    ----------
    model : {"auto", "gmm", "kde", "gaussian"} or estimator, default="auto"
        ``"auto"``: :class:`~lookalike.ModelSearch` ``(model="auto")``, families
        compared by held-out likelihood (with ``ReducedDensity`` for wide
        tables); ``"gmm"``: ``GaussianMixture`` (full covariances) with
        ``n_components`` chosen by BIC; ``"kde"``: Gaussian
        ``KernelDensity(bandwidth="cv")``; ``"gaussian"``:
        ``Gaussian(reg_covar=1e-4)``; an unfitted lookalike density estimator
        is cloned and fitted as it is.
    kinds : dict, default=None
        Column -> ``"continuous"``, ``"integer"``, ``"boolean"``,
        ``"categorical"``, ``"datetime"`` or ``"id"``, overriding inference
        (rules in :mod:`lookalike.tabular.schema`).
    constraints : list of Bounds, Order, FixedSum, default=None
        Rules every generated row satisfies (:mod:`lookalike.tabular.constraints`).
    bounds : {"observed", "clip", None}, default="observed"
        ``"observed"``: numeric and datetime values stay within each column's
        observed range, by rejection (no mass is moved); ``"clip"``: by clipping
        each column to its range (always fast; mass outside the range lands on
        its ends, which suits columns whose ends are common values, such as image
        pixels at 0; use it when rejection across many columns accepts too few
        rows); ``None``: no such limit.
    transform : {"auto", "none", "yeo-johnson", "quantile"}, default="auto"
        Per-column transform of continuous columns before the density;
        ``"auto"``: Yeo-Johnson for skewed columns, the normal-output quantile
        transform where heavy tails remain (see Notes).
    ids : {"drop", "regenerate"}, default="drop"
        Id columns are never modelled; ``"drop"`` leaves them out of the
        output, ``"regenerate"`` fills them with new unique ids that differ from
        every observed id.
    random_state : None, int, RandomState or Generator, default=None
        Seeds the encoding noise, the model and (when ``sample`` gets none) the
        sampling: with an int, the same table gives the same rows.
    n_jobs : int, default=None
        Threads for the model search (``None``: all cores).
    verbose : int, default=0
        Passed to the model search.

    Attributes
    ----------
    columns_ : list of str
        Column names of the fitted table, in order.
    schema_ : list of ColumnSchema
        One per column: kind, dtype, missing rate, range, categories, transform.
    encoder_ : TableEncoder
        The map between the table and the encoded matrix.
    model_ : estimator
        The fitted density of the encoded rows (for ``"auto"``/``"gmm"`` the
        best candidate of the search).
    criterion_ : str or None
        The search's criterion (``"cv"``, ``"bic"``) or None.
    score_ : float or None
        The best candidate's criterion value.
    n_rows_ : int

    Notes
    -----
    Categorical columns are one-hot encoded with Gaussian noise (sd 0.15) and
    decoded by argmax, so a ``where={"species": "Adelie"}`` fixes those
    features at the exact one-hot vector: with a Gaussian, a Gaussian mixture
    or a Gaussian-kernel density the remaining columns are then drawn from the
    exact conditional density (:meth:`GaussianMixture.condition`). Models
    without ``condition`` fall back on rejection for categorical values.
    Ranges ``where={"x": (low, high)}``, :class:`Bounds`, :class:`Order` and the
    observed bounds are met by rejection; fewer than 10% accepted rows raise a
    :class:`LowAcceptanceWarning` with the rate.

    Missing values are modelled, not imputed away: each column with missing
    values gets a missing-indicator feature in the same density, so the rate
    and its dependence on the other columns are learned.

    ``transform="auto"`` leaves a continuous column as it is unless
    ``|skewness| > 1`` or excess kurtosis ``> 3``; it then uses Yeo-Johnson,
    or the quantile transform when the excess kurtosis after Yeo-Johnson is
    still above 3. :meth:`summary` lists the transform of every column.

    With ``random_state=None`` in :meth:`sample`, an int ``random_state`` of
    the synthesizer gives the same rows at every call (as scikit-learn's
    ``sample``); pass a fresh seed or a ``Generator`` for new rows.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from lookalike.tabular import Synthesizer
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"size": rng.normal(10, 2, 200),
    ...                    "colour": rng.choice(["red", "blue"], 200),
    ...                    "count": rng.integers(0, 5, 200)})
    >>> synth = Synthesizer(model="gmm", random_state=0).fit(df)
    >>> fake = synth.sample(5)
    >>> fake.columns.tolist(), fake.dtypes.astype(str).tolist()[2]
    (['size', 'colour', 'count'], 'int64')
    >>> sorted(set(synth.sample(50, where={"colour": "red"})["colour"]))
    ['red']
    """

    def __init__(
        self,
        model: Any = "auto",
        *,
        kinds: Mapping[str, str] | None = None,
        constraints: list[Any] | None = None,
        bounds: str | None = "observed",
        transform: str = "auto",
        ids: str = "drop",
        random_state: RandomStateLike = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.kinds = kinds
        self.constraints = constraints
        self.bounds = bounds
        self.transform = transform
        self.ids = ids
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters (for ``sklearn.base.clone``)."""
        names: tuple[str, ...] = ("model", "kinds", "constraints", "bounds", "transform", "ids")
        names += ("random_state", "n_jobs", "verbose")
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Self:
        """Set hyper-parameters by name."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for Synthesizer.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = Synthesizer().get_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"Synthesizer({', '.join(changed)})"

    # ----------------------------------------------------------------------------------
    # Fitting

    def fit(self, df: pd.DataFrame) -> Self:
        """Infer the schema, encode the table and fit the density model.

        Parameters
        ----------
        df : pandas.DataFrame
            The real table; column names must be unique strings.

        Returns
        -------
        self : Synthesizer
        """
        check_table(df)
        validate_params(self, _PARAMETERS)
        self._check_model()
        if self.kinds is not None and not isinstance(self.kinds, Mapping):
            raise TypeError(f"kinds must be a dict column -> kind; got {self.kinds!r}.")
        schema = infer_schema(df, dict(self.kinds or {}))
        self._check_constraints(schema)
        if all(c.kind == "id" for c in schema):
            raise ValueError(
                "Every column is an id column; there is nothing to model. Declare some of "
                "them with kinds=, e.g. kinds={'x': 'categorical'}."
            )
        rng = _generator(self.random_state)
        encoder = TableEncoder(schema, self.transform)
        encoded = encoder.fit_transform(df, rng)
        seed = int(rng.integers(0, 2**31 - 1))
        self.model_, self.criterion_, self.score_ = self._fit_model(encoded, seed)
        encoder.calibrate(_draw(self.model_, CALIBRATION_ROWS, rng))
        self.columns_ = [str(c) for c in df.columns]
        self.schema_ = schema
        self.encoder_ = encoder
        self.n_rows_ = int(df.shape[0])
        return self

    def _check_model(self) -> None:
        if isinstance(self.model, str):
            if self.model not in MODELS:
                raise ValueError(
                    f"model must be one of {', '.join(repr(m) for m in MODELS)} or an unfitted "
                    f"lookalike density estimator; got {self.model!r}."
                )
            return
        if not (hasattr(self.model, "fit") and hasattr(self.model, "sample")):
            raise TypeError(
                "model must be 'auto', 'gmm', 'kde', 'gaussian' or a density estimator with "
                f"fit and sample (e.g. lookalike.GaussianMixture(3)); got {self.model!r}."
            )

    def _check_constraints(self, schema: list[ColumnSchema]) -> None:
        kinds = {c.name: c.kind for c in schema}
        for constraint in self.constraints or []:
            if not isinstance(constraint, Bounds | Order | FixedSum):
                raise TypeError(
                    "constraints must be Bounds, Order or FixedSum objects from "
                    f"lookalike.tabular; got {constraint!r}."
                )
            for name in constraint.columns:
                if name not in kinds:
                    raise ValueError(
                        f"unknown column {name!r} in constraints; columns are: {', '.join(kinds)}"
                    )
                allowed = ("continuous",) if isinstance(constraint, FixedSum) else _NUMERIC_KINDS
                if kinds[name] not in allowed:
                    raise ValueError(
                        f"{type(constraint).__name__} needs {' or '.join(allowed)} columns; "
                        f"column {name!r} is {kinds[name]}."
                    )

    def _fit_model(self, encoded: np.ndarray, seed: int) -> tuple[Any, str | None, float | None]:
        from lookalike.gaussian import Gaussian
        from lookalike.kde import KernelDensity
        from lookalike.mixture import GaussianMixture
        from lookalike.model_selection import ModelSearch

        n = encoded.shape[0]
        if self.model == "gaussian":
            return Gaussian(reg_covar=1e-4).fit(encoded), None, None
        if self.model == "kde":
            cv = min(5, n)
            return (
                KernelDensity(bandwidth="cv", cv=cv, n_jobs=self.n_jobs).fit(encoded),
                None,
                None,
            )
        if self.model == "gmm":
            sizes = [k for k in GMM_N_COMPONENTS if k <= max(1, n // 10)]
            search = ModelSearch(
                GaussianMixture(reg_covar=1e-4),
                {"n_components": sizes},
                criterion="bic",
                random_state=seed,
                n_jobs=self.n_jobs,
                verbose=self.verbose,
            )
        elif self.model == "auto":
            search = ModelSearch(
                "auto", cv=min(5, n), random_state=seed, n_jobs=self.n_jobs, verbose=self.verbose
            )
        else:
            estimator = clone(self.model)
            if "random_state" in estimator.get_params():
                estimator.set_params(random_state=seed)
            fitted = estimator.fit(encoded)
            if hasattr(fitted, "best_estimator_"):
                return fitted.best_estimator_, fitted.criterion_, float(fitted.best_score_)
            return fitted, None, None
        search.fit(encoded)
        return search.best_estimator_, search.criterion_, float(search.best_score_)

    # ----------------------------------------------------------------------------------
    # Sampling

    def sample(
        self,
        n: int,
        where: Mapping[str, Any] | None = None,
        random_state: RandomStateLike = None,
    ) -> pd.DataFrame:
        """Generate ``n`` new rows, optionally conditioned on some columns.

        Parameters
        ----------
        n : int
            Number of rows (0 gives an empty table with the right dtypes).
        where : dict, default=None
            Column -> a value (a category, bool, number or date: exact
            conditional generation) or a ``(low, high)`` tuple (a range, by
            rejection; ``None`` for an open end).
        random_state : None, int, RandomState or Generator, default=None
            ``None``: the synthesizer's ``random_state``.

        Returns
        -------
        pandas.DataFrame
            ``n`` rows with the fitted table's columns (id columns left out
            with ``ids="drop"``), order and dtypes.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n must be a non-negative int; got {n!r}.")
        source = self.random_state if random_state is None else random_state
        rng = _generator(source)
        return self._sample(int(n), where, rng, self.ids)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "This Synthesizer instance is not fitted yet. Call 'fit' with a DataFrame "
                "before using this method."
            )

    def _schema(self, name: str) -> ColumnSchema:
        return next(c for c in self.schema_ if c.name == name)

    def _parse_where(
        self, where: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
        exact: dict[str, Any] = {}
        ranges: dict[str, tuple[float, float]] = {}
        if where is None:
            return exact, ranges
        if not isinstance(where, Mapping):
            raise TypeError(f"where must be a dict column -> value; got {where!r}.")
        for name, value in where.items():
            if name not in self.columns_:
                raise ValueError(
                    f"unknown column {name!r} in where; columns are: {', '.join(self.columns_)}"
                )
            column = self._schema(name)
            if column.kind == "id":
                raise ValueError(f"column {name!r} is an id column; it cannot be conditioned on.")
            if column.kind in _DISCRETE_KINDS:
                value = value.item() if isinstance(value, np.generic) else value
                if isinstance(value, tuple | list) or value not in column.categories:
                    shown = ", ".join(str(c) for c in column.categories)
                    raise ValueError(
                        f"value {value!r} is not a category of column {name!r}; "
                        f"categories: {shown}"
                    )
                exact[name] = value
            elif isinstance(value, tuple | list):
                if len(value) != 2:
                    raise ValueError(
                        f"where[{name!r}] must be a value or a (low, high) pair; got {value!r}."
                    )
                low = -math.inf if value[0] is None else self._to_number(name, value[0])
                high = math.inf if value[1] is None else self._to_number(name, value[1])
                if low > high:
                    raise ValueError(f"where[{name!r}] = {value!r} has low > high.")
                ranges[name] = (low, high)
            else:
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    raise ValueError(f"where[{name!r}] must be a value; got {value!r}.")
                self._to_number(name, value)
                exact[name] = value
        return exact, ranges

    def _to_number(self, name: str, value: Any) -> float:
        """A bound or value in the decoded representation of the column."""
        column = self._schema(name)
        if column.kind == "datetime":
            stamp = pd.Timestamp(value)
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert(column.timezone or "UTC").tz_localize(None)
            return float(stamp.as_unit("ns").value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"column {name!r} is {column.kind}; {value!r} is not a number."
            ) from None

    def _sample(
        self, n: int, where: Mapping[str, Any] | None, rng: np.random.Generator, ids: str
    ) -> pd.DataFrame:
        exact, ranges = self._parse_where(where)
        encoder = self.encoder_
        known: dict[int, float] = {}
        for name, value in exact.items():
            known.update(encoder.encode_value(self._schema(name), value))
        model, rejected_exact = self._conditional(known, exact)
        unknown = [j for j in range(encoder.n_features) if j not in known]

        parts: list[dict[str, np.ndarray]] = []
        collected = drawn = 0
        limit = MAX_DRAWS_PER_ROW * n + MAX_DRAWS_EXTRA
        batch = max(64, int(1.1 * n) + 16)
        while collected < n:
            encoded = np.empty((batch, encoder.n_features))
            if not known or model is self.model_:
                encoded[:] = _draw(self.model_, batch, rng)
            else:
                if unknown:
                    encoded[:, unknown] = _draw(model, batch, rng)
                for j, v in known.items():
                    encoded[:, j] = v
            values, missing = encoder.decode(encoded)
            # A fixed condition is written back as given: decoding applies the calibration
            # offsets and thresholds, which can move a fixed one-hot vector or missing
            # indicator to another category (a rare class's offset is large).
            for name, value in exact.items():
                if name in rejected_exact:
                    continue
                column = self._schema(name)
                if column.kind in _NUMERIC_KINDS:
                    values[name][:] = self._to_number(name, value)
                else:
                    values[name][:] = column.categories.index(value)
                missing[name][:] = False
            keep = self._accept(values, missing, ranges, {k: exact[k] for k in rejected_exact})
            drawn += batch
            collected += int(keep.sum())
            part = {k: v[keep] for k, v in values.items()}
            part.update({f"{k}:missing": v[keep] for k, v in missing.items()})
            parts.append(part)
            if collected < n:
                if drawn >= limit:
                    raise ValueError(
                        f"Only {collected} of {drawn} generated rows ({collected / drawn:.3%}) "
                        "satisfied the bounds, constraints and where ranges; widen them, "
                        "use bounds='clip' or None, or condition on exact values instead of "
                        "ranges."
                    )
                rate = max(collected / drawn, 1.0 / drawn)
                batch = min(MAX_BATCH, int(1.2 * (n - collected) / rate) + 16)
        rate = collected / drawn
        if rate < LOW_ACCEPTANCE:
            warnings.warn(
                f"Only {rate:.1%} of the generated rows satisfied the bounds, constraints and "
                "where ranges, so sampling drew many rows. Widen the ranges or Bounds, use "
                "bounds=None, or condition on exact values (where={'col': value}), which "
                "needs no rejection.",
                LowAcceptanceWarning,
                stacklevel=3,
            )
        merged = {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}
        return self._frame(merged, n, rng, ids)

    def _conditional(self, known: dict[int, float], exact: dict[str, Any]) -> tuple[Any, set[str]]:
        """The model to draw from and the exact conditions left to rejection."""
        if not known:
            return self.model_, set()
        if len(known) == self.encoder_.n_features:
            return None, set()
        if _can_condition(self.model_):
            return self.model_.condition(known), set()
        numeric = [k for k in exact if self._schema(k).kind in _NUMERIC_KINDS]
        if numeric:
            raise ValueError(
                f"{type(self.model_).__name__} has no exact conditionals, so where= cannot fix "
                f"the numeric column {numeric[0]!r}; give a (low, high) range instead, or use "
                "model='gmm', 'kde' or 'gaussian'."
            )
        return self.model_, set(exact)

    def _accept(
        self,
        values: dict[str, np.ndarray],
        missing: dict[str, np.ndarray],
        ranges: dict[str, tuple[float, float]],
        rejected_exact: dict[str, Any],
    ) -> np.ndarray:
        n = next(iter(values.values())).shape[0]
        keep = np.ones(n, dtype=bool)
        constraints = self.constraints or []
        numbers_: dict[str, np.ndarray] = {}
        for column in self.encoder_.columns:
            if column.kind not in _NUMERIC_KINDS:
                continue
            x = values[column.name]
            gone = missing[column.name]
            # The value under a missing mask counts too, so that rejection does not
            # favour rows with missing values.
            if self.bounds == "clip":
                x = values[column.name] = np.clip(x, column.low, column.high)
            keep &= np.isfinite(x)
            if self.bounds == "observed":
                keep &= (x >= column.low) & (x <= column.high)
            numbers_[column.name] = np.where(gone, np.nan, x)
        for constraint in constraints:
            if isinstance(constraint, FixedSum):
                constraint.apply(numbers_)
                for name in constraint.columns:
                    values[name] = np.where(missing[name], values[name], numbers_[name])
        for constraint in constraints:
            keep &= constraint.satisfied(numbers_, self._to_number)
        for name, (low, high) in ranges.items():
            x = numbers_[name]
            with np.errstate(invalid="ignore"):
                keep &= (x >= low) & (x <= high)
        for name, value in rejected_exact.items():
            code = self._schema(name).categories.index(value)
            keep &= (values[name] == code) & ~missing[name]
        if self.bounds in ("observed", "clip"):
            # FixedSum may have moved values out of the observed range.
            for constraint in constraints:
                if isinstance(constraint, FixedSum):
                    for name in constraint.columns:
                        c = self._schema(name)
                        with np.errstate(invalid="ignore"):
                            out = (numbers_[name] < c.low) | (numbers_[name] > c.high)
                        keep &= ~out
        return keep

    # ----------------------------------------------------------------------------------
    # Output

    def _frame(
        self, merged: dict[str, np.ndarray], n: int, rng: np.random.Generator, ids: str
    ) -> pd.DataFrame:
        data: dict[str, pd.Series] = {}
        for column in self.schema_:
            if column.kind == "id":
                if ids == "regenerate":
                    data[column.name] = _new_ids(column, n, rng)
                continue
            values = merged[column.name]
            gone = merged[f"{column.name}:missing"]
            data[column.name] = _column_series(column, values, gone)
        return pd.DataFrame(data, index=pd.RangeIndex(n))

    # ----------------------------------------------------------------------------------
    # Augmentation and summary

    def augment(
        self,
        df: pd.DataFrame,
        target: str,
        strategy: str | Mapping[Any, int] = "balance",
        random_state: RandomStateLike = None,
    ) -> pd.DataFrame:
        """``df`` plus synthetic rows of chosen classes of ``target``.

        Parameters
        ----------
        df : pandas.DataFrame
            The real table (the synthesizer is fitted on it if not fitted yet).
        target : str
            A categorical, boolean or integer column.
        strategy : "balance" or dict, default="balance"
            ``"balance"``: every class is topped up to the majority class's
            count; a dict ``{class: count}`` adds that many rows of each class.
        random_state : None, int, RandomState or Generator, default=None

        Returns
        -------
        pandas.DataFrame
            ``df``'s rows, then the new rows (generated with
            ``where={target: class}``; id columns get new ids), with a fresh
            ``RangeIndex``.
        """
        check_table(df)
        if target not in df.columns:
            raise ValueError(
                f"unknown target column {target!r}; columns are: {', '.join(map(str, df.columns))}"
            )
        if not hasattr(self, "model_"):
            self.fit(df)
        if list(df.columns) != self.columns_:
            raise ValueError(
                "df must have the columns of the table the synthesizer was fitted on."
            )
        counts = df[target].value_counts(dropna=True)
        if isinstance(strategy, str):
            if strategy != "balance":
                raise ValueError(f"strategy must be 'balance' or a dict; got {strategy!r}.")
            wanted = {k: int(counts.max() - c) for k, c in counts.items()}
        elif isinstance(strategy, Mapping):
            wanted = {}
            for k, c in strategy.items():
                if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
                    raise ValueError(f"strategy[{k!r}] must be a non-negative int; got {c!r}.")
                wanted[k] = int(c)
        else:
            raise TypeError(f"strategy must be 'balance' or a dict; got {strategy!r}.")
        rng = _generator(self.random_state if random_state is None else random_state)
        frames = [df]
        for label, count in wanted.items():
            if count > 0:
                label = label.item() if isinstance(label, np.generic) else label
                frames.append(self._sample(count, {target: label}, rng, "regenerate"))
        return pd.concat(frames, ignore_index=True)[list(df.columns)]

    def summary(self) -> dict[str, Any]:
        """A JSON-able description of the fitted synthesizer.

        Returns
        -------
        dict
            ``{"columns": [{"name", "kind", "dtype", "missing_rate", "transform"}, ...],
            "n_rows", "model", "criterion", "score", "n_features_encoded"}``.
        """
        self._check_fitted()
        return {
            "columns": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "dtype": c.dtype,
                    "missing_rate": float(c.missing_rate),
                    "transform": c.transform if c.kind != "id" else "none",
                }
                for c in self.schema_
            ],
            "n_rows": self.n_rows_,
            "model": describe_model(self.model_),
            "criterion": self.criterion_,
            "score": None if self.score_ is None else float(self.score_),
            "n_features_encoded": self.encoder_.n_features,
        }


# --------------------------------------------------------------------------------------
# Helpers


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _can_condition(model: Any) -> bool:
    if not hasattr(model, "condition"):
        return False
    return getattr(model, "kernel", "gaussian") == "gaussian" and getattr(
        model, "metric", "euclidean"
    ) in ("euclidean", None)


def _draw(model: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    drawn = model.sample(n, random_state=rng)
    if isinstance(drawn, tuple):
        drawn = drawn[0]
    drawn = np.asarray(drawn, dtype=np.float64)
    return drawn[rng.permutation(n)]


def _column_series(column: ColumnSchema, values: np.ndarray, gone: np.ndarray) -> pd.Series:
    if column.kind in _DISCRETE_KINDS:
        codes = values.astype(np.int64)
        if column.dtype == "category":
            position = {c: i for i, c in enumerate(column.dtype_categories)}
            mapped = np.array([position[c] for c in column.categories], dtype=np.int64)
            full = np.where(gone, -1, mapped[codes] if len(codes) else codes)
            categorical = pd.Categorical.from_codes(
                full, categories=column.dtype_categories, ordered=column.ordered
            )
            return pd.Series(categorical)
        objects = np.empty(len(codes), dtype=object)
        for i, code in enumerate(codes):
            objects[i] = np.nan if gone[i] else column.categories[code]
        if column.kind == "boolean" and not gone.any() and column.dtype == "object":
            return pd.Series(objects, dtype=object)
        return pd.Series(objects, dtype=object).astype(column.dtype)
    if column.kind == "datetime":
        steps = np.round((values - float(column.origin)) / column.step)
        steps[gone] = 0
        ns = column.origin + steps.astype(np.int64) * np.int64(column.step)
        stamps = pd.Series(ns.astype("datetime64[ns]"))
        stamps[gone] = pd.NaT
        if column.timezone is not None:
            stamps = stamps.dt.tz_localize(
                column.timezone, ambiguous="NaT", nonexistent="shift_forward"
            )
        return stamps.astype(column.dtype)
    numbers_ = np.where(gone, np.nan, values)
    return pd.Series(numbers_).astype(column.dtype)


def _new_ids(column: ColumnSchema, n: int, rng: np.random.Generator) -> pd.Series:
    if column.id_numeric:
        return pd.Series(column.id_max + 1 + np.arange(n)).astype(column.dtype)
    if not column.id_values:
        numbers_ = column.id_max + 1 + np.arange(n)
        texts = [f"{column.id_prefix}{k:0{column.id_width}d}" for k in numbers_]
        return pd.Series(texts, dtype=object).astype(column.dtype)
    width = max(column.id_width, 8)
    taken = set(column.id_values)
    out: list[str] = []
    alphabet = np.array(list("0123456789abcdef"))
    while len(out) < n:
        for row in rng.choice(alphabet, size=(n - len(out), width)):
            text = "".join(row)
            if text not in taken:
                taken.add(text)
                out.append(text)
    return pd.Series(out, dtype=object).astype(column.dtype)


def describe_model(model: Any) -> str:
    """A short description of a fitted density, e.g. ``GaussianMixture(n_components=5, ...)``."""
    name = type(model).__name__
    if name == "GaussianMixture":
        return (
            f"GaussianMixture(n_components={model.n_components}, "
            f"covariance_type={model.covariance_type!r})"
        )
    if name == "Gaussian":
        return f"Gaussian(covariance_type={model.covariance_type!r})"
    if name == "KernelDensity":
        bandwidth = np.asarray(model.bandwidth_)
        shown = f"{float(bandwidth):.4g}" if bandwidth.ndim == 0 else f"array{bandwidth.shape}"
        return f"KernelDensity(kernel={model.kernel!r}, bandwidth={shown})"
    if name == "ReducedDensity":
        return (
            f"ReducedDensity({describe_model(model.estimator_)}, "
            f"n_components={model.n_components_})"
        )
    return f"{name}()"


__all__ = ["Synthesizer", "TableTypeError", "describe_model"]
