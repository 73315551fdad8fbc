"""Encoding of a table as a matrix of floats for a density model, and decoding back.

One row of the table becomes one row of the encoded matrix:

- continuous column: one feature, through its per-column transform (``"none"``,
  ``"yeo-johnson"`` or ``"quantile"``, each after a standardisation);
- integer and datetime columns: one feature, the position on the observed grid
  ``(value - low) / step`` plus uniform dequantisation noise on ``[-1/2, 1/2)``,
  so that a continuous density can be fitted; decoding rounds to the grid;
- categorical and boolean columns: one-hot features plus Gaussian
  dequantisation noise of standard deviation :data:`ONE_HOT_NOISE`; decoding
  takes the argmax, conditioning sets the exact one-hot vector;
- each column with missing values: a 0/1 missing-indicator feature (with the
  same noise), so missingness is modelled jointly with the values; decoding
  thresholds it at 1/2. The missing values themselves are filled with observed
  values of the column drawn at random (hot deck) before fitting.

All features are then standardised by one :class:`~sklearn.preprocessing.StandardScaler`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.preprocessing import PowerTransformer, QuantileTransformer, StandardScaler

from lookalike.exceptions import NotFittedError
from lookalike.tabular.schema import ColumnSchema

TRANSFORMS = ("auto", "none", "yeo-johnson", "quantile")

# Standard deviation of the noise added to one-hot and missing-indicator features.
ONE_HOT_NOISE = 0.15
# transform="auto": Yeo-Johnson when |skewness| exceeds this ...
SKEW_THRESHOLD = 1.0
# ... and the quantile transform when the excess kurtosis (after Yeo-Johnson) still does.
KURTOSIS_THRESHOLD = 3.0
# Columns with at most this many distinct values keep transform "none".
MIN_DISTINCT_FOR_TRANSFORM = 10


class TableEncoder:
    """The map between a table (with its :class:`ColumnSchema` list) and encoded floats.

    Attributes (after :meth:`fit_transform`)
    ----------------------------------------
    columns : list of ColumnSchema
        The modelled columns (ids excluded), in table order.
    feature_names : list of str
        ``"col"`` for numeric features, ``"col=value"`` for one-hot features,
        ``"col:missing"`` for missing indicators.
    spans : dict
        Column name -> ``[start, stop]`` of its value features.
    missing_feature : dict
        Column name -> index of its missing indicator.
    pre : dict
        Column name -> list of fitted scikit-learn transformers applied in order.
    scaler : StandardScaler
        Final standardisation of all features.
    """

    def __init__(self, columns: list[ColumnSchema], transform: str = "auto") -> None:
        self.columns = [c for c in columns if c.kind != "id"]
        self.transform = transform
        self.feature_names: list[str] = []
        self.spans: dict[str, list[int]] = {}
        self.missing_feature: dict[str, int] = {}
        self.pre: dict[str, list[Any]] = {}
        self.scaler: StandardScaler | None = None
        self.frequencies: dict[str, list[float]] = {}
        self.offsets: dict[str, list[float]] = {}
        self.thresholds: dict[str, float] = {}

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # ----------------------------------------------------------------------------------
    # Encoding

    def fit_transform(self, df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Choose transforms, encode ``df`` (with dequantisation noise) and standardise."""
        blocks: list[np.ndarray] = []
        indicators: list[tuple[str, np.ndarray]] = []
        start = 0
        for column in self.columns:
            series = df[column.name]
            missing = series.isna().to_numpy()
            block = self._fit_column(column, series, missing, rng)
            blocks.append(block)
            self.spans[column.name] = [start, start + block.shape[1]]
            if column.kind in ("categorical", "boolean"):
                self.feature_names += [f"{column.name}={c}" for c in column.categories]
            else:
                self.feature_names.append(column.name)
            start += block.shape[1]
            if column.has_missing:
                indicators.append((column.name, missing))
        for name, missing in indicators:
            noisy = missing.astype(np.float64) + ONE_HOT_NOISE * rng.standard_normal(len(missing))
            blocks.append(noisy[:, np.newaxis])
            self.missing_feature[name] = start
            self.feature_names.append(f"{name}:missing")
            start += 1
        encoded = np.hstack(blocks)
        self.scaler = StandardScaler().fit(encoded)
        return self.scaler.transform(encoded)

    def _fit_column(
        self,
        column: ColumnSchema,
        series: pd.Series,
        missing: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        n = len(series)
        if column.kind in ("categorical", "boolean"):
            codes = self._codes(column, series)
            observed = codes[~missing]
            codes[missing] = rng.choice(observed, size=int(missing.sum()))
            counts = np.bincount(observed, minlength=len(column.categories))
            self.frequencies[column.name] = (counts / counts.sum()).tolist()
            block = np.zeros((n, len(column.categories)))
            block[np.arange(n), codes] = 1.0
            column.transform = "one-hot"
            return block + ONE_HOT_NOISE * rng.standard_normal(block.shape)
        values = self.numeric_values(column, series)
        if column.kind in ("integer", "datetime"):
            values = values + rng.uniform(-0.5, 0.5, size=n)
        observed = values[~missing]
        values[missing] = rng.choice(observed, size=int(missing.sum()))
        name = self._choose_transform(column, series, observed)
        column.transform = name
        chain: list[Any] = [StandardScaler()]
        if name == "yeo-johnson":
            chain.append(PowerTransformer(method="yeo-johnson", standardize=False))
        elif name == "quantile":
            quantiles = int(min(1000, observed.size))
            chain.append(
                QuantileTransformer(
                    n_quantiles=quantiles,
                    output_distribution="normal",
                    subsample=None,
                    random_state=int(rng.integers(0, 2**31 - 1)),
                )
            )
        x = values[:, np.newaxis]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            for step in chain:
                step.fit(x[~missing])
                x = step.transform(x)
        self.pre[column.name] = chain
        return np.asarray(x, dtype=np.float64)

    def _choose_transform(
        self, column: ColumnSchema, series: pd.Series, observed: np.ndarray
    ) -> str:
        if column.kind == "integer" and series.nunique() <= MIN_DISTINCT_FOR_TRANSFORM:
            return "none"
        if self.transform != "auto":
            return self.transform
        if np.unique(observed).size <= MIN_DISTINCT_FOR_TRANSFORM or np.ptp(observed) == 0:
            return "none"
        skewness = float(stats.skew(observed))
        kurtosis = float(stats.kurtosis(observed))
        if abs(skewness) <= SKEW_THRESHOLD and kurtosis <= KURTOSIS_THRESHOLD:
            return "none"
        scaled = (observed - observed.mean()) / observed.std()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            transformed = PowerTransformer(standardize=False).fit_transform(scaled[:, None])
        if float(stats.kurtosis(transformed[:, 0])) > KURTOSIS_THRESHOLD:
            return "quantile"
        return "yeo-johnson"

    @staticmethod
    def _codes(column: ColumnSchema, series: pd.Series) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(column.categories)}
        codes = np.zeros(len(series), dtype=np.int64)
        for i, value in enumerate(series.tolist()):
            if pd.isna(value) if not isinstance(value, list | tuple) else False:
                continue
            if isinstance(value, np.generic):
                value = value.item()
            codes[i] = lookup[value]
        return codes

    @staticmethod
    def numeric_values(column: ColumnSchema, series: pd.Series) -> np.ndarray:
        """Float values of a numeric column (grid positions for integers and datetimes)."""
        if column.kind == "datetime":
            if not pd.api.types.is_datetime64_any_dtype(series.dtype):
                series = pd.to_datetime(series)
            if column.timezone is not None:
                series = series.dt.tz_localize(None)
            ns = series.astype("datetime64[ns]").to_numpy().astype(np.int64) - column.origin
            offsets = ns.astype(np.float64)
            offsets[series.isna().to_numpy()] = np.nan
            return offsets / column.step
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if column.kind == "integer":
            return (values - float(column.low or 0.0)) / column.step
        return values.copy()

    def _fitted_scaler(self) -> StandardScaler:
        if self.scaler is None:
            raise NotFittedError("This TableEncoder is not fitted yet: call fit first.")
        return self.scaler

    def encode_value(self, column: ColumnSchema, value: Any) -> dict[int, float]:
        """Standardised feature values that fix ``column`` at ``value`` (and not missing)."""
        scaler = self._fitted_scaler()
        mean, scale = scaler.mean_, scaler.scale_
        known: dict[int, float] = {}
        start, stop = self.spans[column.name]
        if column.kind in ("categorical", "boolean"):
            code = column.categories.index(value)
            for j in range(start, stop):
                raw = 1.0 if j - start == code else 0.0
                known[j] = (raw - mean[j]) / scale[j]
        else:
            position = self.numeric_values(column, pd.Series([value]))
            x = position[:, np.newaxis]
            with np.errstate(all="ignore"):
                for step in self.pre[column.name]:
                    x = step.transform(x)
            known[start] = (float(x[0, 0]) - mean[start]) / scale[start]
        if column.name in self.missing_feature:
            j = self.missing_feature[column.name]
            known[j] = (0.0 - mean[j]) / scale[j]
        return known

    # ----------------------------------------------------------------------------------
    # Calibration

    def calibrate(self, encoded: np.ndarray, iterations: int = 40) -> None:
        """Match the decoded frequencies of a model sample to the observed ones.

        A smooth density spreads a rare 0/1 feature (a 1% category, a 1% missing
        rate) around its mean, so a fixed threshold or plain argmax generates it
        at the wrong rate (a single Gaussian fitted to a 1% indicator with noise
        0.15 puts about 0.2% of its mass above 1/2). From ``encoded``, rows drawn
        from the fitted model, each missing indicator gets the threshold that
        its observed rate of the sample exceeds, and each categorical column
        offsets added to its one-hot features before the argmax, tuned by
        multiplicative updates ``b_k += 0.5 log(p_k / q_k)`` (observed ``p``,
        decoded ``q``). Both are monotone, so the dependence on other columns
        learned by the model is kept.
        """
        raw = self._fitted_scaler().inverse_transform(encoded)
        for column in self.columns:
            if column.name in self.missing_feature:
                values = raw[:, self.missing_feature[column.name]]
                self.thresholds[column.name] = float(np.quantile(values, 1 - column.missing_rate))
            if column.kind not in ("categorical", "boolean") or len(column.categories) < 2:
                continue
            start, stop = self.spans[column.name]
            block = raw[:, start:stop]
            target = np.asarray(self.frequencies[column.name])
            offsets = np.zeros(stop - start)
            floor = 0.5 / block.shape[0]
            for _ in range(iterations):
                codes = np.argmax(block + offsets, axis=1)
                decoded = np.bincount(codes, minlength=stop - start) / block.shape[0]
                offsets += 0.5 * np.log(np.maximum(target, floor) / np.maximum(decoded, floor))
                offsets = np.clip(offsets - offsets.mean(), -5.0, 5.0)
            self.offsets[column.name] = offsets.tolist()

    # ----------------------------------------------------------------------------------
    # Decoding

    def decode(self, encoded: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Column values from standardised features.

        Returns ``values`` (name -> float array for numeric columns: values for
        continuous and integer, nanoseconds for datetimes; category codes for
        categorical and boolean) and ``missing`` (name -> bool array).
        """
        raw = self._fitted_scaler().inverse_transform(encoded)
        values: dict[str, np.ndarray] = {}
        missing: dict[str, np.ndarray] = {}
        n = raw.shape[0]
        for column in self.columns:
            start, stop = self.spans[column.name]
            if column.kind in ("categorical", "boolean"):
                block = raw[:, start:stop] + np.asarray(self.offsets.get(column.name, 0.0))
                values[column.name] = np.argmax(block, axis=1).astype(np.float64)
            else:
                values[column.name] = self._decode_numeric(column, raw[:, start : start + 1])
            if column.name in self.missing_feature:
                threshold = self.thresholds.get(column.name, 0.5)
                missing[column.name] = raw[:, self.missing_feature[column.name]] > threshold
            else:
                missing[column.name] = np.zeros(n, dtype=bool)
        return values, missing

    def _decode_numeric(self, column: ColumnSchema, x: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            for step in reversed(self.pre[column.name]):
                if isinstance(step, PowerTransformer):
                    x = _clip_to_yeo_johnson_range(x, float(step.lambdas_[0]))
                x = step.inverse_transform(x)
        out = np.asarray(x[:, 0], dtype=np.float64)
        out[~np.isfinite(out)] = np.inf
        if column.kind == "datetime":
            return float(column.origin) + np.round(out) * column.step
        if column.kind == "integer":
            return float(column.low or 0.0) + np.round(out) * column.step
        if column.decimals is not None:
            return np.round(out, column.decimals)
        return out


def _clip_to_yeo_johnson_range(y: np.ndarray, lam: float) -> np.ndarray:
    """Keep ``y`` where the inverse Yeo-Johnson transform with ``lam`` is defined."""
    y = y.copy()
    if lam < 0:  # positive branch: 1 + lam * y > 0
        y = np.minimum(y, (1.0 - 1e-9) / -lam)
    if lam > 2:  # negative branch: 1 - (2 - lam) * y > 0
        y = np.maximum(y, (1.0 - 1e-9) / (2.0 - lam))
    return y
