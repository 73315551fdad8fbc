"""Synthesizer: make new rows that look like a real table.

Two separate concerns (see ../DESIGN.md, "Tables"):

1. **Column codecs** (:mod:`lookalike.tabular.columns`) keep each column's exact
   empirical marginal: numbers with their repeated values (atoms) at their rates and
   on their resolution, categories at their shares, dates on their calendar grain,
   missing values at their rate. They map the table to a matrix of normal scores.
2. **A joint model** (:mod:`lookalike.tabular.models`) carries the dependence between
   the columns' scores; ``model="auto"`` picks the family whose rows a held-out
   gradient-boosted detector tells least from real ones.

Sampling draws model-space rows that meet the ``where`` conditions and
:class:`~lookalike.tabular.constraints.Bounds` exactly, decodes them, applies the
other constraints and fills id columns.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd

from lookalike._restore import has_fitted_state, is_int, require
from lookalike._validation import (
    Constraint as ParameterConstraint,
)
from lookalike._validation import (
    Interval,
    Options,
    RandomState,
    RandomStateLike,
    validate_params,
)
from lookalike.exceptions import NotFittedError
from lookalike.tabular.augment import augment_counts
from lookalike.tabular.columns import KINDS, ColumnCodec, IdCodec
from lookalike.tabular.conditions import filled, merge_conditions
from lookalike.tabular.constraints import Constraint, LowAcceptanceWarning, rescaled_in_range
from lookalike.tabular.copies import reproduces, unique_fingerprints
from lookalike.tabular.encoder import TableEncoder
from lookalike.tabular.models.base import generator
from lookalike.tabular.models.registry import (
    AUTO_FAMILIES,
    JOINT_MODELS,
    NO_LEADS,
    Leads,
    check_model,
    describe_model,
    make_model,
)
from lookalike.tabular.models.selection import checked_columns, lead_columns, select_family
from lookalike.tabular.partitioned import SAMPLE_ROWS
from lookalike.tabular.schema import check_table, fit_codecs

#: Rows drawn, decoded and checked at a time.
SAMPLE_BLOCK = 100_000
#: A sample is refused when its model-space working arrays would exceed this.
MAX_SAMPLE_BYTES = 16 * 2**30
#: Order/FixedSum rejection: warn below this acceptance rate ...
LOW_ACCEPTANCE = 0.10
#: ... and give up after this many drawn rows per requested row (plus a fixed allowance).
MAX_DRAWS_PER_ROW = 1000
MAX_DRAWS_EXTRA = 100_000

_PARAMETERS: dict[str, ParameterConstraint] = {
    "bounds": Options(("observed", "clip", None)),
    "ids": Options(("drop", "regenerate")),
    "copies": Options(("redraw", "keep")),
    "random_state": RandomState(),
    "n_jobs": Interval(None, None, integer=True, allow_none=True),
    "verbose": Interval(0, None, integer=True),
}

#: Attributes of the Synthesizer before its column codecs (main at ebc1365): such files
#: cannot be read.
_RETIRED_ATTRIBUTES = frozenset({"transform", "criterion_", "score_"})

logger = logging.getLogger("lookalike.tabular")


class Synthesizer:
    """Generate synthetic rows that look like a real table.

    Parameters
    ----------
    model : str or estimator, default="auto"
        The joint model of the columns' normal scores:

        - ``"auto"``: the family among ``"trees"``, ``"cells"`` and ``"gaussian"``
          whose rows a held-out gradient-boosted detector tells least from real rows
          (:mod:`lookalike.tabular.models.selection`); :meth:`summary` gives the
          scores;
        - ``"trees"``: each column drawn from a tree's leaf given the columns before
          it (synthpop's CART); strong on mixed tables;
        - ``"cells"``: a mixture of small cells of similar rows, columns independent
          within a cell; strong on many similar numeric columns (images);
        - ``"gaussian"`` (a Gaussian copula), ``"gmm"`` (a Gaussian mixture by BIC),
          ``"kde"`` (a Gaussian kernel density by cross-validation);
        - an unfitted estimator: a joint model of :mod:`lookalike.tabular.models`
          or any lookalike density estimator (e.g. ``GaussianMixture(8)``), cloned.
    kinds : dict, default=None
        Column -> ``"continuous"``, ``"integer"``, ``"boolean"``, ``"categorical"``,
        ``"datetime"`` or ``"id"``, overriding inference (rules in
        :mod:`lookalike.tabular.columns`).
    constraints : list of Bounds, Order, FixedSum, default=None
        Rules every generated row satisfies (:mod:`lookalike.tabular.constraints`).
    bounds : {"observed", "clip", None}, default="observed"
        ``"observed"`` and ``"clip"`` (the same since codecs keep every column's
        marginal): numeric and datetime values stay within each column's observed
        range, by construction (no rows are rejected or moved); ``None``: continuous
        parts get short linear tails beyond the observed ends.
    ids : {"drop", "regenerate"}, default="drop"
        Id columns are never modelled; ``"drop"`` leaves them out of the output (and
        :meth:`summary` lists them), ``"regenerate"`` fills them with new unique ids
        that differ from every observed id.
    target : str, default=None
        The column that models trained on the synthetic rows will predict (a label or
        an outcome). With ``model="auto"``, the winner must keep it as predictable
        from the other columns as the best family does (train on synthetic, test on
        real); without it, "auto" checks up to three columns it picks, class labels
        first. The families follow it (else the first column "auto" would check):
        ``"trees"`` visits it before the others; when it is a class label, ``"cells"``
        never mixes its levels in a cell and ``"gaussian"`` fits one Gaussian copula
        per level. When it is a number, those two split by the class label whose
        levels explain the most of the other columns, if one explains at least 5% of
        their variance (:func:`~lookalike.tabular.models.selection.lead_columns`).
        :meth:`augment` uses its own ``target`` when it fits.
    copies : {"redraw", "keep"}, default="redraw"
        ``"redraw"``: a generated row equal in every modelled column to a training
        row that occurs once in the table (an exact copy of one record) is drawn
        again, as synthpop removes replicated uniques
        (:mod:`lookalike.tabular.copies`; the fitted synthesizer keeps a 64-bit
        fingerprint of each unique training row, or for a partitioned table of each
        unique row of its seeded sample); ``"keep"``: no check.
    random_state : None, int, RandomState or Generator, default=None
        Seeds the encoding, the model and (when ``sample`` gets none) the sampling:
        with an int, the same table gives the same rows.
    n_jobs : int, default=None
        Threads for model searches (``None``: all cores).
    verbose : int, default=0
        Above 0, progress lines on stderr (they also go to the ``logging`` logger
        ``"lookalike.tabular"`` at INFO level whatever ``verbose`` is).

    Attributes
    ----------
    columns_ : list of str
        Column names of the fitted table, in order.
    schema_ : list of ColumnCodec
        One fitted codec per column: kind, dtype, missing rate, range, levels.
    encoder_ : TableEncoder
        The map between the table and the model space.
    model_ : joint model
        The fitted joint model.
    selection_ : Selection or None
        With ``model="auto"``: every family's held-out detector AUC, utility loss and the winner.
    n_rows_ : int

    Notes
    -----
    Each column's marginal is reproduced by its codec whatever the joint model: a
    standard normal score decodes to the column's observed distribution (repeated
    values at their rates, categories at their shares, missing values at their
    rate), so the joint model only carries the dependence. ``where`` values and
    ranges, and :class:`Bounds`, are conditions on the model space that every
    family meets exactly: ``trees`` and ``cells`` by weighting their leaves and cells,
    the Gaussian families by truncated Gaussian draws. Only :class:`Order`,
    :class:`FixedSum` and estimators without Gaussian-mixture form reject rows.

    With ``random_state=None`` in :meth:`sample`, an int ``random_state`` of the
    synthesizer gives the same rows at every call (as scikit-learn's ``sample``);
    pass a fresh seed or a ``Generator`` for new rows.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from lookalike.tabular import Synthesizer
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"size": rng.normal(10, 2, 200).round(2),
    ...                    "colour": rng.choice(["red", "blue"], 200),
    ...                    "count": rng.integers(0, 5, 200)})
    >>> synth = Synthesizer(model="trees", random_state=0).fit(df)
    >>> fake = synth.sample(5)
    >>> fake.columns.tolist(), str(fake["count"].dtype)
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
        ids: str = "drop",
        target: str | None = None,
        copies: str = "redraw",
        random_state: RandomStateLike = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.kinds = kinds
        self.constraints = constraints
        self.bounds = bounds
        self.ids = ids
        self.target = target
        self.copies = copies
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters (for ``sklearn.base.clone``)."""
        names = ("model", "kinds", "constraints", "bounds", "ids", "target", "copies")
        return {
            name: getattr(self, name) for name in (*names, "random_state", "n_jobs", "verbose")
        }

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

    def fit(
        self, df: Any, *, sample_rows: int = SAMPLE_ROWS, persist: bool | str = "auto"
    ) -> Self:
        """Fit the column codecs and the joint model to a table.

        Parameters
        ----------
        df : pandas.DataFrame, dask DataFrame, str or PathLike, or Chunks
            The real table; column names must be unique strings. A dask DataFrame, a
            Parquet/CSV dataset path or :class:`~lookalike.chunks.Chunks` of
            DataFrames is fitted partition by partition, on the workers of the
            active ``distributed.Client`` if there is one, and never collected
            (:mod:`lookalike.tabular.partitioned`): codecs from exact partition
            summaries and a seeded sample of ``sample_rows`` rows; ``"gaussian"``,
            ``"gmm"`` and ``GaussianMixture`` models by EM on every row; other
            families on the sample (:meth:`summary` says which).
        sample_rows : int, default=200_000
            Partitioned tables only: rows of the seeded sample.
        persist : bool or "auto", default="auto"
            Partitioned tables only: keep every row's normal scores in the workers'
            memory during EM (``"auto"``: when a client is active and they fit in a
            quarter of its workers' memory and 1 GiB per worker), rather than encode the
            partitions again at every EM pass.

        Returns
        -------
        self : Synthesizer
        """
        from lookalike.tabular.partitioned import is_table_source

        if is_table_source(df):
            return self._fit_partitioned(df, sample_rows, persist)
        return self._fit_frame(df, self.target)

    def _fit_frame(self, df: Any, target: str | None) -> Self:
        """Fit to an in-memory table; "auto" keeps ``target`` predictable."""
        check_table(df)
        validate_params(self, _PARAMETERS)
        check_model(self.model)
        rng = generator(self.random_state)
        self._say(f"fitting column codecs ({df.shape[1]} columns, {df.shape[0]} rows)")
        codecs = fit_codecs(df, self.kinds, tails=self.bounds is None)
        encoder = self._encoder(codecs)
        Z = encoder.encode(df, rng)
        real = self._decode_frame(encoder, Z)  # the modelled columns, as samples come out
        model, leads = self._choose_family(Z, encoder, real, rng, target)
        seed = int(rng.integers(0, 2**31 - 1))
        shown = model if isinstance(model, str) else type(model).__name__
        self._say(f"fitting the joint model ({shown})")
        self.model_ = make_model(model, Z.shape[0], seed, self.n_jobs, leads).fit(Z, encoder.dims)
        self.columns_ = [str(c) for c in df.columns]
        self.encoder_ = encoder
        self.n_rows_ = int(df.shape[0])
        self.unique_rows_ = self._unique_rows(real)
        self.__dict__.pop("partitions_", None)
        return self

    def _unique_rows(self, real: pd.DataFrame) -> np.ndarray:
        """Fingerprints of the training rows (as decoded) that occur once, for ``copies``."""
        if self.copies == "keep":
            return np.zeros(0, dtype=np.uint64)
        return unique_fingerprints(real)

    def _encoder(self, codecs: list[ColumnCodec]) -> TableEncoder:
        self._check_constraints(codecs)
        encoder = TableEncoder(codecs)
        if not encoder.dims:
            raise ValueError(
                "Every column is an id column; there is nothing to model. Declare some of "
                "them with another kind (kinds={'x': 'categorical'} in Python, "
                "--kind x=categorical on the command line)."
            )
        return encoder

    def _choose_family(
        self,
        Z: np.ndarray,
        encoder: TableEncoder,
        real: pd.DataFrame,
        rng: np.random.Generator,
        target: str | None,
    ) -> tuple[Any, Leads]:
        """The model to fit and the columns the families follow.

        The model is ``self.model``, or with ``"auto"`` the family the detector prefers
        on ``Z``; ``real`` holds the modelled columns of the table. The leads
        (:func:`~lookalike.tabular.models.selection.lead_columns`): ``target``, else the
        first utility column, visited first by trees; and the class label whose levels
        cells and the Gaussian family split by. None for an estimator the user
        configured.
        """
        self.selection_ = None
        target = encoder.modelled_column(target, "target")
        if not isinstance(self.model, str):
            return self.model, NO_LEADS
        checked = checked_columns(real, target)
        leads = lead_columns(Z, encoder.dims, checked, target)
        if self.model != "auto":
            return self.model, leads
        self._say("model='auto': comparing " + ", ".join(AUTO_FAMILIES))
        decode_rows = lambda rows: self._decode_frame(encoder, rows)  # noqa: E731
        self.selection_ = select_family(
            Z, encoder.dims, real, decode_rows, AUTO_FAMILIES, rng, self.n_jobs, checked, leads
        )
        if self.selection_.note:
            self._say(f"model='auto': {self.selection_.note}")
        return self.selection_.winner, leads

    def _fit_partitioned(self, table: Any, sample_rows: Any, persist: Any) -> Self:
        from lookalike.tabular import partitioned
        from lookalike.tabular.partitioned_model import (
            fit_partitioned_model,
            uses_partitioned_em,
        )

        validate_params(self, _PARAMETERS)
        check_model(self.model)
        if isinstance(sample_rows, bool) or not isinstance(sample_rows, numbers.Integral):
            raise TypeError(f"sample_rows must be an int; got {sample_rows!r}.")
        if sample_rows < 2:
            raise ValueError(f"sample_rows must be at least 2; got {sample_rows!r}.")
        if persist not in (True, False, "auto"):
            raise ValueError(f"persist must be True, False or 'auto'; got {persist!r}.")
        rng = generator(self.random_state)
        source = partitioned.TableSource(table)
        self._say(f"fitting column codecs over partitions ({len(source.columns)} columns)")
        entropy = [int(v) for v in rng.integers(0, 2**32, size=4)]
        fitted = partitioned.fit_codecs_partitioned(
            source,
            self.kinds,
            tails=self.bounds is None,
            sample_rows=int(sample_rows),
            entropy=entropy,
        )
        encoder = self._encoder(fitted.codecs)
        Z = encoder.encode(fitted.sample, rng)
        real = self._decode_frame(encoder, Z)
        model, leads = self._choose_family(Z, encoder, real, rng, self.target)
        seed = int(rng.integers(0, 2**31 - 1))
        on_all = uses_partitioned_em(model, encoder.dims, leads.levels)
        shown = model if isinstance(model, str) else type(model).__name__
        where = "EM on all rows" if on_all else f"the sample of {Z.shape[0]} rows"
        self._say(f"fitting the joint model ({shown}) by {where}")
        scores = None
        if on_all:
            scores = partitioned.encode_partitions(source, encoder, fitted.lengths, fitted.entropy)
        self.model_ = fit_partitioned_model(
            model, Z, encoder.dims, scores, seed, self.n_jobs, persist, leads
        )
        self.columns_ = list(source.columns)
        self.encoder_ = encoder
        self.n_rows_ = fitted.n_rows
        self.unique_rows_ = self._unique_rows(real)
        self.partitions_ = {
            **fitted.describe(),
            "model_rows": fitted.n_rows if on_all else Z.shape[0],
            "model_fit": (
                "partitioned EM on every row"
                if on_all
                else f"in memory on the seeded sample of {Z.shape[0]} rows"
            ),
            "lengths": list(fitted.lengths),
            "seed_entropy": list(fitted.entropy),
        }
        return self

    @property
    def schema_(self) -> list[ColumnCodec]:
        """One fitted codec per column (the encoder's codecs)."""
        return self.encoder_.codecs

    # ----------------------------------------------------------------------------------
    # Model files

    def _restore_check(self) -> None:
        """Check state restored by :func:`lookalike.load`; ValueError names a problem.

        Hyper-parameters pass fit's validation (``kinds`` names known kinds).
        Fitted parts are checked by their own classes first; here they must fit
        together: the columns are the encoder's, the joint model was fitted on
        the encoder's model dimensions, constraints name columns of the kinds
        they accept, and ``model="auto"`` has its selection. A file written by
        the Synthesizer before its column codecs is refused, with what to do.
        """
        retired = sorted(set(vars(self)) & _RETIRED_ATTRIBUTES)
        require(
            not retired,
            f"written by an older lookalike (a Synthesizer with {', '.join(retired)}): refit "
            "the model with this version and save it again",
        )
        validate_params(self, _PARAMETERS)
        check_model(self.model)
        kinds = self.kinds
        require(
            kinds is None or (isinstance(kinds, dict) and all(isinstance(k, str) for k in kinds)),
            "kinds must be None or a dict column -> kind",
        )
        for name, kind in (kinds or {}).items():
            require(kind in KINDS, f"kinds[{name!r}]: unknown kind {kind!r}")
        require(
            self.constraints is None or isinstance(self.constraints, list),
            "constraints must be None or a list",
        )
        if not has_fitted_state(self):
            return
        encoder = self.encoder_
        require(
            isinstance(encoder, TableEncoder) and encoder.n_dims > 0,
            "encoder_ must be a TableEncoder with modelled columns",
        )
        require(
            self.columns_ == [codec.name for codec in encoder.codecs],
            "columns_ are not the encoder's columns",
        )
        require(is_int(self.n_rows_) and self.n_rows_ >= 1, "n_rows_ must be a positive int")
        unique = getattr(self, "unique_rows_", None)
        require(
            unique is None
            or (
                type(unique) is np.ndarray
                and unique.dtype == np.uint64
                and unique.ndim == 1
                and bool(np.all(unique[1:] > unique[:-1]))
            ),
            "unique_rows_ must be sorted, distinct uint64 fingerprints",
        )
        require(isinstance(self.model_, JOINT_MODELS), "model_ must be a fitted joint model")
        self.model_.check_dims(encoder.dims)
        selection = self.selection_
        if selection is not None:
            from lookalike.tabular.models.selection import Selection

        require(
            (selection is None and self.model != "auto") or isinstance(selection, Selection),
            "selection_ must be the Selection of model='auto' (None otherwise)",
        )
        self._check_constraints(encoder.codecs)

    def _check_constraints(self, codecs: list[ColumnCodec]) -> None:
        kinds = {c.name: c.kind for c in codecs}
        for constraint in self.constraints or []:
            if not isinstance(constraint, Constraint):
                raise TypeError(
                    "constraints must be Bounds, Order or FixedSum objects from "
                    f"lookalike.tabular (or Constraint subclasses); got {constraint!r}."
                )
            for name in constraint.column_names():
                if name not in kinds:
                    raise ValueError(
                        f"unknown column {name!r} in constraints; columns are: {', '.join(kinds)}"
                    )
                if kinds[name] not in constraint.kinds:
                    raise ValueError(
                        f"{type(constraint).__name__} needs {' or '.join(constraint.kinds)} "
                        f"columns; column {name!r} is {kinds[name]}."
                    )

    def _say(self, message: str) -> None:
        logger.info(message)
        if self.verbose:
            import sys

            print(f"[lookalike] {message}", file=sys.stderr)

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
            Column -> a value (a category, bool, number or date) or a ``(low, high)``
            range (``None`` for an open end). Every row meets them exactly; no rows
            are rejected for them.
        random_state : None, int, RandomState or Generator, default=None
            ``None``: the synthesizer's ``random_state``.

        Returns
        -------
        pandas.DataFrame
            ``n`` rows with the fitted table's columns (id columns left out with
            ``ids="drop"``), order and dtypes.
        """
        self._check_fitted()
        n = self._check_n(n)
        rng = generator(self.random_state if random_state is None else random_state)
        return self._sample(n, where, rng, self.ids)

    def sample_partitions(
        self,
        n: int,
        npartitions: int | None = None,
        where: Mapping[str, Any] | None = None,
        random_state: RandomStateLike | np.random.SeedSequence = None,
    ) -> Any:
        """``n`` new rows as a lazy dask DataFrame, drawn partition by partition.

        Partition ``i`` is drawn by :meth:`sample` with its own random stream,
        ``SeedSequence(seed).spawn(npartitions)[i]``, on whichever worker runs it: the
        rows depend on ``random_state`` and ``npartitions``, never on the number of
        workers (:mod:`lookalike.tabular.partitioned_sample`). Write them straight
        from the workers with ``.to_parquet(directory)``.

        Parameters
        ----------
        n : int
            Number of rows.
        npartitions : int, default=None
            ``None``: one partition per million rows.
        where : dict, default=None
            As in :meth:`sample`.
        random_state : None, int, RandomState, Generator or SeedSequence, default=None
            ``None``: the synthesizer's ``random_state``.

        Returns
        -------
        dask.dataframe.DataFrame
            ``n`` rows with the columns and dtypes of :meth:`sample`, index ``0 .. n-1``.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from lookalike.tabular import Synthesizer
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=300).round(2),
        ...                    "g": rng.choice(["a", "b"], 300)})
        >>> synth = Synthesizer(model="gaussian", random_state=0).fit(df)
        >>> fake = synth.sample_partitions(10_000, npartitions=4, where={"g": "a"})
        >>> fake.npartitions, len(fake.compute()), set(fake["g"].compute())
        (4, 10000, {'a'})
        """
        self._check_fitted()
        from lookalike.tabular.partitioned_sample import sample_partitions

        return sample_partitions(self, n, npartitions, where, random_state)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "This Synthesizer instance is not fitted yet. Call 'fit' with a DataFrame "
                "before using this method."
            )

    def _check_n(self, n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n must be a non-negative int; got {n!r}.")
        needed = 8.0 * float(n) * max(1, self.encoder_.n_dims + len(self.columns_)) * 3
        if needed > MAX_SAMPLE_BYTES:
            raise ValueError(
                f"sample({n}) would need about {needed / 2**30:.0f} GiB of memory; draw it in "
                "parts (several sample() calls with different random_state), or on a Dask "
                "cluster."
            )
        return int(n)

    def _sample(
        self, n: int, where: Mapping[str, Any] | None, rng: np.random.Generator, ids: str
    ) -> pd.DataFrame:
        merged = merge_conditions(where, self.columns_, self.encoder_, self.constraints)
        conditions = self.encoder_.conditions(merged)
        exact = {k: v for k, v in merged.items() if not isinstance(v, tuple)}
        rejecting = [
            c for c in self.constraints or [] if type(c).satisfied is not Constraint.satisfied
        ]
        parts: list[pd.DataFrame] = []
        collected = drawn = copies = 0
        # Rows whose every column the caller fixed are the caller's own values.
        chosen = {c.name for c in self.encoder_.modelled} <= set(exact)
        guarded = np.zeros(0, dtype=np.uint64) if chosen else self._unique_rows_checked()
        limit = MAX_DRAWS_PER_ROW * n + MAX_DRAWS_EXTRA
        while collected < n or not parts:
            batch = min(SAMPLE_BLOCK, max(n - collected, 0))
            if drawn and collected < drawn:
                rate = max(collected / drawn, 1.0 / drawn)
                batch = min(SAMPLE_BLOCK, int(1.2 * (n - collected) / rate) + 16)
            rows = self.model_.sample(batch, conditions, random_state=rng) if batch else None
            frame = self._decode_frame(self.encoder_, rows, batch)
            for name, value in exact.items():  # exact values as given, in the column's dtype
                frame[name] = filled(frame[name], value)
            for constraint in self.constraints or []:
                frame = constraint.apply(frame)
            keep = np.ones(len(frame), dtype=bool)
            for constraint in rejecting:
                keep &= constraint.satisfied(frame)
            if self.bounds is not None:
                keep &= rescaled_in_range(frame, self.constraints or [], self.encoder_.codec)
            copy = reproduces(frame, guarded) & keep
            copies += int(copy.sum())
            keep &= ~copy
            parts.append(frame[keep])
            collected += int(keep.sum())
            drawn += batch
            if collected < n and drawn >= limit and copies >= drawn - collected:
                raise ValueError(
                    f"Only {collected} of {drawn} generated rows differ from every training "
                    "row that occurs once in the table; the others copied one. Relax the "
                    "conditions, or allow copies with Synthesizer(copies='keep')."
                )
            if collected < n and drawn >= limit:
                raise ValueError(
                    f"Only {collected} of {drawn} generated rows ({collected / drawn:.3%}) "
                    "satisfied the Order/FixedSum constraints; relax them."
                )
            if batch == 0:
                break
        if drawn and collected / drawn < LOW_ACCEPTANCE:
            met = (
                "differed from the unique training rows"
                if 2 * copies > drawn - collected
                else "satisfied the Order/FixedSum constraints"
            )
            warnings.warn(
                f"Only {collected / drawn:.1%} of the generated rows {met}, so sampling drew "
                "many rows.",
                LowAcceptanceWarning,
                stacklevel=3,
            )
        frame = pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)
        return self._with_ids(frame, n, rng, ids)

    def _unique_rows_checked(self) -> np.ndarray:
        """The fingerprints ``copies="redraw"`` checks (none in files without them)."""
        if self.copies == "keep":
            return np.zeros(0, dtype=np.uint64)
        return getattr(self, "unique_rows_", np.zeros(0, dtype=np.uint64))

    @staticmethod
    def _decode_frame(
        encoder: TableEncoder, rows: np.ndarray | None, n: int | None = None
    ) -> pd.DataFrame:
        if rows is None:
            rows = np.zeros((n or 0, encoder.n_dims))
        decoded = encoder.decode(rows)
        return pd.DataFrame({c.name: decoded[c.name] for c in encoder.modelled})

    def _with_ids(
        self, frame: pd.DataFrame, n: int, rng: np.random.Generator, ids: str
    ) -> pd.DataFrame:
        columns: dict[str, pd.Series] = {}
        for codec in self.encoder_.codecs:
            if isinstance(codec, IdCodec):
                if ids == "regenerate":
                    columns[codec.name] = codec.generate(n, rng)
                continue
            columns[codec.name] = frame[codec.name].reset_index(drop=True)
        return pd.DataFrame(columns, index=pd.RangeIndex(n))

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
            ``"balance"``: every class is topped up to the majority class's count; a
            dict ``{class: count}`` adds that many rows of each class.
        random_state : None, int, RandomState or Generator, default=None

        Returns
        -------
        pandas.DataFrame
            ``df``'s rows, then the new rows (generated with ``where={target: class}``;
            id columns get new ids), with a fresh ``RangeIndex``.
        """
        check_table(df)
        if target not in df.columns:
            raise ValueError(
                f"unknown target column {target!r}; columns are: {', '.join(map(str, df.columns))}"
            )
        if not hasattr(self, "model_"):
            self._fit_frame(df, self.target if self.target is not None else target)
        if list(df.columns) != self.columns_:
            raise ValueError(
                "df must have the columns of the table the synthesizer was fitted on."
            )
        wanted = augment_counts(df[target], strategy)
        rng = generator(self.random_state if random_state is None else random_state)
        frames = [df]
        for label, count in wanted.items():
            if count > 0:
                label = label.item() if isinstance(label, np.generic) else label
                frames.append(
                    self._sample(self._check_n(count), {target: label}, rng, "regenerate")
                )
        return pd.concat(frames, ignore_index=True)[list(df.columns)]

    def summary(self) -> dict[str, Any]:
        """A JSON-able description of the fitted synthesizer.

        Returns
        -------
        dict
            ``{"columns": [codec descriptions], "dropped_ids": [...], "n_rows",
            "model", "selection", "n_model_dims", "copies"}``; ``copies`` gives the
            ``copies`` policy and how many unique training rows it guards;
            ``selection`` (model="auto") has every family's held-out detector AUC and
            utility loss, and why the winner won.
        """
        self._check_fitted()
        dropped = [c.name for c in self.encoder_.ids] if self.ids == "drop" else []
        return {
            "columns": [codec.describe() for codec in self.schema_],
            "dropped_ids": dropped,
            "n_rows": self.n_rows_,
            "model": describe_model(self.model_),
            "selection": None if self.selection_ is None else self.selection_.describe(),
            "n_model_dims": self.encoder_.n_dims,
            "copies": {
                "policy": self.copies,
                "unique_training_rows": int(self._unique_rows_checked().size),
            },
            **({"partitions": self.partitions_} if getattr(self, "partitions_", None) else {}),
        }


# --------------------------------------------------------------------------------------
# Helpers


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


__all__ = ["Synthesizer", "describe_model"]
