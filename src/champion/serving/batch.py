"""Scoring a table with a loaded model, in chunks (the compiled path where it has one)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from champion.errors import InvalidInputError
from champion.serving.loading import LoadedModel
from champion.serving.validation import NUMERIC_TYPES

CHUNK_ROWS = 5000


def prepare(frame: pd.DataFrame, model: LoadedModel) -> pd.DataFrame:
    """The model's columns of ``frame``, checked: each present, numeric ones numeric."""
    if frame.empty:
        raise InvalidInputError("the data has no rows")
    missing = [name for name in model.spec.names if name not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the data has no column(s) {', '.join(missing)} that model v{model.version} needs"
        )
    out = frame.loc[:, list(model.spec.names)].copy()
    for name in model.spec.names:
        if model.spec.types[name] in NUMERIC_TYPES and not ptypes.is_numeric_dtype(out[name]):
            values = pd.to_numeric(out[name], errors="coerce")
            bad = out[name].notna() & values.isna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InvalidInputError(
                    f"column {name!r} must be numeric; row {row} holds {out[name].iloc[row]!r}"
                )
            out[name] = values
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]


def score_frame(
    frame: pd.DataFrame,
    model: LoadedModel,
    *,
    inputs: pd.DataFrame | None = None,
    chunk: int = CHUNK_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """``frame`` with ``prediction`` (and ``probability`` for classifiers) added; the
    columns the model does not use are kept as they are. ``inputs``: ``frame`` already
    through :func:`prepare`."""
    inputs = prepare(frame, model) if inputs is None else inputs
    labels: list = []
    probability: list = []
    for start in range(0, len(inputs), chunk):
        scored = model.predictor.predict(_records(inputs.iloc[start : start + chunk]))
        labels.extend(scored.labels)
        probability.extend(scored.probability)
        if on_progress is not None:
            on_progress(min(chunk, len(inputs) - start))
    out = frame.copy()
    out["prediction"] = labels
    if model.classes is not None:
        out["probability"] = probability
    return out
