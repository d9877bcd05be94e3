"""Fast prediction: the fitted preprocessing compiled to numpy, checked before use.

A one-row call of a scikit-learn pipeline spends nearly all its time in pandas and the
ColumnTransformer, not in the estimator (docs/benchmarks.md). So the fitted
preprocessing of a champion pipeline (median imputation and scaling of numerics, one-hot
encoding of categoricals) is turned into array operations reading the learned state, and
the estimator is called on the result.

Nothing is assumed about the encoder's internals: each categorical feature's lookup
table is read off the fitted encoder by transforming every known category (and an
unseen value). And the compiled path is used only after it reproduced the pipeline on a
verification set — every category, unseen and missing values, numerics across their
range and missing — to 1e-12 in the matrix and exactly in the predictions; otherwise
the model is served through the pipeline itself (:class:`PipelinePredictor`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from champion.serving.forest import hist_gradient_boosting_call, lightgbm_call
from champion.training.estimator import LabelledClassifier
from champion.types import MISSING

UNSEEN = "\x00champion-unseen\x00"


class Call(StrEnum):
    """How the compiled path calls the estimator on its matrix, fastest first."""

    WALK = "trees walked by compiled code"  # champion.serving.forest
    BOOSTER = "booster called directly"  # skipping the scikit-learn wrapper's checks
    ESTIMATOR = "estimator's own predict"


@dataclass(frozen=True)
class Scored:
    """Predictions for a batch of rows, and how long the model call that made them took."""

    labels: list[Any]
    probability: list[float | None]
    seconds: float = 0.0


class Predictor(Protocol):
    compiled: bool

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored: ...


def _unwrap(model: Any) -> tuple[Pipeline, float | None, np.ndarray | None]:
    """(fitted pipeline, decision threshold, label map) of a champion model."""
    labels = None
    if isinstance(model, LabelledClassifier):
        labels = np.asarray(model.classes_, dtype=object)
        model = model.pipeline_
    threshold = None
    if isinstance(model, FixedThresholdClassifier):
        threshold = float(model.threshold)
        model = model.estimator_
    if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnTransformer)):
        raise TypeError("not a champion pipeline (ColumnTransformer + estimator)")
    return model, threshold, labels


def _is_classifier(estimator: Any) -> bool:
    return hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")


class PipelinePredictor:
    """The reference path: the model object on a DataFrame."""

    compiled = False

    def __init__(
        self, model: Any, features: Sequence[str], numeric: Sequence[str] | None = None
    ) -> None:
        self.model = model
        self.features = list(features)
        # the signature's number columns as floats (any model can take them); the rest
        # as objects, a missing value NaN
        self.numeric = [n for n in (numeric or ()) if n in self.features]
        self.classifier = hasattr(model, "predict_proba")

    def frame(self, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(list(rows), columns=self.features)
        frame = frame.astype(object).where(frame.notna(), np.nan)  # None -> NaN
        for name in self.numeric:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        return frame

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored:
        frame = self.frame(rows)
        labels = self.model.predict(frame)
        if not self.classifier:
            return Scored([float(v) for v in labels], [None] * len(rows))
        proba = np.asarray(self.model.predict_proba(frame))
        p = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        return Scored([_plain(v) for v in labels], [float(v) for v in p])


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class CompiledPredictor:
    """The compiled path: numpy preprocessing + the fitted estimator."""

    compiled = True

    def __init__(self, model: Any, features: Sequence[str], *, call: Call = Call.WALK) -> None:
        pipeline, self.threshold, self.labels = _unwrap(model)
        ct: ColumnTransformer = pipeline.steps[0][1]
        self.estimator = pipeline.steps[-1][1]
        self.classifier = _is_classifier(self.estimator)
        self.call, self._direct = _direct_call(self.estimator, call)
        self.features = list(features)
        self.width = int(sum(s.stop - s.start for s in ct.output_indices_.values()))
        self.numeric: list[str] = []
        self.categorical: list[str] = []
        self._blocks: list[tuple[str, slice, Any]] = []
        for name, transformer, columns in ct.transformers_:
            if name == "remainder" or transformer == "drop":
                continue
            block = ct.output_indices_[name]
            if name == "numeric":
                impute, scale = transformer.named_steps["impute"], transformer.named_steps["scale"]
                mean = scale.mean_ if scale.with_mean else np.zeros(len(columns))
                std = scale.scale_ if scale.with_std else np.ones(len(columns))
                self.numeric = list(columns)
                self._blocks.append(("numeric", block, (impute.statistics_, mean, std)))
            elif name == "categorical":
                self.categorical = list(columns)
                lookups = self._lookups(transformer.named_steps["onehot"], block)
                self._blocks.append(("categorical", block, lookups))
            else:
                raise TypeError(f"unknown preprocessing block {name!r}")
        # each row's numeric values in one call (one name: the value alone; reshaped)
        self._numeric_of = operator.itemgetter(*self.numeric) if self.numeric else None

    @staticmethod
    def _lookups(encoder: Any, block: slice) -> list[tuple[dict[str, int], int]]:
        """Per feature: value -> output column (within the whole matrix), and the column
        an unseen value goes to (-1: none)."""
        base = [cats[0] for cats in encoder.categories_]
        lookups = []
        for j, cats in enumerate(encoder.categories_):
            probe = np.array([base] * (len(cats) + 1), dtype=object)
            probe[:, j] = [*cats, UNSEEN]
            out = np.asarray(encoder.transform(probe))
            varying = np.flatnonzero(out.min(axis=0) != out.max(axis=0))
            cols = {}
            for row, value in enumerate(cats):
                hot = varying[out[row, varying] > 0]
                cols[str(value)] = int(block.start + hot[0]) if hot.size else -1
            hot = varying[out[-1, varying] > 0]
            lookups.append((cols, int(block.start + hot[0]) if hot.size else -1))
        return lookups

    def transform(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        n = len(rows)
        out = np.zeros((n, self.width), dtype=np.float64)
        for kind, block, state in self._blocks:
            if kind == "numeric":
                medians, mean, std = state
                # float64 turns None (missing) into NaN
                x = np.array([self._numeric_of(r) for r in rows], dtype=np.float64)
                x = x.reshape(n, len(self.numeric))
                np.copyto(x, medians, where=np.isnan(x))
                # in place, in the scaler's own order: (x - mean) / std, the same doubles
                np.subtract(x, mean, out=x)
                np.divide(x, std, out=out[:, block])
            else:
                out.flat[self._hot(rows, state)] = 1.0
        return out

    def _hot(self, rows: Sequence[dict[str, Any]], lookups: list[Any]) -> list[int]:
        """The flat indices of the one-hot cells of ``rows`` in the output matrix."""
        hot: list[int] = []
        for name, (cols, unseen) in zip(self.categorical, lookups, strict=True):
            start = 0
            for r in rows:
                value = r[name]
                col = cols.get(MISSING if value is None else str(value), unseen)
                if col >= 0:
                    hot.append(start + col)
                start += self.width
        return hot

    def predict(self, rows: Sequence[dict[str, Any]]) -> Scored:
        x = self.transform(rows)
        if not self.classifier:
            raw = self._direct(x) if self._direct else self.estimator.predict(x)
            return Scored(np.asarray(raw, dtype=np.float64).tolist(), [None] * len(rows))
        classes = self.estimator.classes_
        if self._direct is not None:  # P(class 1) of a binary classifier
            p = np.asarray(self._direct(x), dtype=np.float64)
            if p.ndim == 1:
                # what argmax over [1 - p, p] picks (a tie goes to the first class),
                # without building that matrix for a few rows
                picked = p >= self.threshold if self.threshold is not None else p > 1.0 - p
                return self._scored(classes[picked.astype(np.intp)], p)
            proba = p
        else:
            proba = np.asarray(self.estimator.predict_proba(x))
        if self.threshold is not None:
            codes = classes[(proba[:, 1] >= self.threshold).astype(np.int64)]
        else:
            codes = classes[proba.argmax(axis=1)]
        return self._scored(codes, proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1))

    def _scored(self, codes: np.ndarray, p: np.ndarray) -> Scored:
        """Labels (the model's own, as plain Python values) and probabilities."""
        labels = codes if self.labels is None else self.labels[np.asarray(codes, dtype=np.int64)]
        return Scored(_plain_list(labels), np.asarray(p, dtype=np.float64).tolist())


def _plain_list(values: np.ndarray) -> list[Any]:
    """``values`` as Python values (numpy scalars inside an object array too)."""
    out = values.tolist()
    return [_plain(v) for v in out] if values.dtype == object else out


def _direct_call(estimator: Any, wanted: Call) -> tuple[Call, Callable[[Any], Any] | None]:
    """The fastest call at or after ``wanted`` that this estimator has: its trees walked
    by compiled code (HistGradientBoosting, LightGBM; :mod:`champion.serving.forest`),
    its booster's own predict (LightGBM, XGBoost: skipping the input checks of their
    scikit-learn wrappers on every call), else its own predict (None).

    The boosters predict on one thread: served batches are a few rows, where a second
    OpenMP thread doubles the CPU time of a call and saves no wall time."""
    module = type(estimator).__module__
    lightgbm = module.startswith("lightgbm") and hasattr(estimator, "booster_")
    if wanted == Call.WALK:
        walked = None
        if type(estimator).__name__.startswith("HistGradientBoosting"):
            walked = hist_gradient_boosting_call(estimator)
        elif lightgbm:
            walked = lightgbm_call(estimator.booster_)
        if walked is not None:
            return Call.WALK, walked
    if wanted in (Call.WALK, Call.BOOSTER):
        if lightgbm:
            lgb_booster = estimator.booster_
            return Call.BOOSTER, lambda x: lgb_booster.predict(x, num_threads=1)
        if module.startswith("xgboost") and hasattr(estimator, "get_booster"):
            booster = estimator.get_booster().copy()
            booster.set_param({"nthread": 1})
            return Call.BOOSTER, lambda x: np.asarray(booster.inplace_predict(x))
    return Call.ESTIMATOR, None


def verification_rows(
    compiled: CompiledPredictor, n_numeric: int = 64, seed: int = 0
) -> list[dict[str, Any]]:
    """Rows covering every category, unseen and missing values, and numerics across
    several standard deviations around the training mean (plus missing)."""
    rng = np.random.default_rng(seed)
    numeric_state = next((s for k, _, s in compiled._blocks if k == "numeric"), None)
    cat_values: list[list[Any]] = []
    for kind, _, state in compiled._blocks:
        if kind == "categorical":
            for cols, _ in state:
                known = [None if v == MISSING else v for v in cols]
                cat_values.append([*known, "never-seen-value", None])
    size = max([n_numeric, *(len(v) for v in cat_values)])
    rows = []
    for i in range(size):
        row: dict[str, Any] = {}
        if numeric_state is not None:
            _, mean, std = numeric_state
            for j, name in enumerate(compiled.numeric):
                row[name] = None if i % 9 == 8 else float(mean[j] + std[j] * rng.normal(0, 2))
        for j, name in enumerate(compiled.categorical):
            values = cat_values[j]
            row[name] = values[i % len(values)]
        rows.append(row)
    return rows


def build_predictor(
    model: Any, features: Sequence[str], numeric: Sequence[str] | None = None
) -> tuple[Predictor, str]:
    """The compiled predictor if it reproduces the pipeline exactly, else the pipeline.

    Returns the predictor and a one-line account of the choice.
    """
    reference = PipelinePredictor(model, features, numeric)
    try:
        compiled = CompiledPredictor(model, features)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        return reference, f"pipeline path (cannot compile: {exc})"
    rows = verification_rows(compiled)
    want_x = np.asarray(_unwrap(model)[0].steps[0][1].transform(reference.frame(rows)))
    got_x = compiled.transform(rows)
    if want_x.shape != got_x.shape or not np.allclose(got_x, want_x, rtol=1e-12, atol=1e-12):
        return reference, "pipeline path (compiled preprocessing differs from the pipeline)"
    want = reference.predict(rows)
    candidates = [compiled]  # then each slower call, in case a faster one disagrees
    for call in list(Call)[list(Call).index(compiled.call) + 1 :]:
        slower = CompiledPredictor(model, features, call=call)
        if slower.call not in (c.call for c in candidates):
            candidates.append(slower)
    for candidate in candidates:
        got = candidate.predict(rows)
        if want.labels == got.labels and np.allclose(
            np.asarray(want.probability, dtype=float),
            np.asarray(got.probability, dtype=float),
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,
        ):
            how = "" if candidate.call == Call.ESTIMATOR else f"{candidate.call}, "
            return candidate, f"compiled numpy path ({how}verified on {len(rows)} rows)"
    return reference, "pipeline path (compiled predictions differ from the pipeline)"
