"""Decisions on rows a user already has: one row per served request, as a DataFrame.

``decide_frame(rows, policy, *, task, mode, split_b)`` is the public entry point; the
prediction log's evaluation goes through it too. The columns:

=================  =========================================================================
``variant``        ``"A"`` (the champion answered) or ``"B"`` (the challenger)
``user_id``        the user (hash mode randomises users; missing: the row is its own unit)
``prediction_a``   the champion's prediction (missing where it failed)
``prediction_b``   the challenger's prediction (missing where it failed)
``label``          the true value; missing: not labelled yet
``created_at``     when the request was served (datetime, or seconds since the epoch)
``labelled_at``    when its label arrived (missing: not yet)
``latency_a_ms``   the champion's scoring time (optional)
``latency_b_ms``   the challenger's scoring time (optional)
``failed_a``       the champion failed on this row (optional, default False)
``failed_b``       the challenger failed on this row (optional, default False)
``probability_a``  P(positive class), binary classifiers (optional)
``probability_b``  the same for the challenger (optional)
``phase``          the experiment's phase: a new one at every split change (optional, 0)
``split_b``        the challenger's share in the row's phase (optional: the argument)
=================  =========================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from champion.abtest.decision import Decision, Policy, decide, timeline
from champion.abtest.evidence import Evidence
from champion.abtest.looks import Look
from champion.errors import InvalidInputError
from champion.types import ABMode, Task, Variant, parse

REQUIRED = (
    "variant",
    "user_id",
    "prediction_a",
    "prediction_b",
    "label",
    "created_at",
    "labelled_at",
)
OPTIONAL: dict[str, Any] = {
    "latency_a_ms": np.nan,
    "latency_b_ms": np.nan,
    "failed_a": False,
    "failed_b": False,
    "probability_a": np.nan,
    "probability_b": np.nan,
    "phase": 0,
}


def _seconds(column: pd.Series) -> np.ndarray:
    """Datetimes (or numbers of seconds) as float seconds since the epoch; nan: missing."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = pd.to_datetime(column, utc=True, errors="coerce")
    out = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return out.to_numpy(dtype=np.float64, na_value=np.nan)


def _flags(column: pd.Series) -> np.ndarray:
    return column.fillna(False).astype(bool).to_numpy()


def _codes(
    rows: pd.DataFrame, task: Task
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """Label and predictions as numbers: values for regression, class codes (in sorted
    order of the classes seen) for classification; and the guarded positive classes."""
    columns = [rows["label"], rows["prediction_a"], rows["prediction_b"]]
    if task == Task.REGRESSION:
        # a label that is not a number is not evidence (the API refuses one; a log
        # written before it did may hold one): that row counts as unlabelled
        label = pd.to_numeric(columns[0], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        try:
            values = [
                pd.to_numeric(c, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
                for c in columns[1:]
            ]
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"regression needs numeric predictions: {exc}") from exc
        return label, values[0], values[1], ()
    present = pd.concat(columns).dropna()
    numeric = pd.api.types.is_numeric_dtype(present) or all_numeric(present)
    keys = [c.map(lambda v: v if numeric or pd.isna(v) else str(v)) for c in columns]
    lookup, positive = class_codes(pd.concat(keys).dropna().tolist())
    coded = [k.map(lambda v: lookup.get(v, np.nan)).to_numpy(dtype=np.float64) for k in keys]
    return coded[0], coded[1], coded[2], positive


def all_numeric(values: Any) -> bool:
    """Whether class values compare as numbers (1 and 1.0 the same class) or as text."""
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def class_codes(keys: list[Any]) -> tuple[dict[Any, float], tuple[float, ...]]:
    """Each class's code (its rank in sorted order) and the guarded positive classes: the
    larger of two, every class of more."""
    classes = sorted(set(keys))
    lookup = {c: float(i) for i, c in enumerate(classes)}
    positive = (float(len(classes) - 1),) if len(classes) <= 2 else tuple(lookup.values())
    return lookup, positive


def evidence(rows: pd.DataFrame, *, task: Task, mode: ABMode, split_b: float) -> Evidence:
    """The rows of ``rows`` (see the module docstring) as :class:`Evidence`."""
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise InvalidInputError(f"the rows have no column(s) {', '.join(missing)}")
    rows = rows.reset_index(drop=True).copy()
    for name, default in {**OPTIONAL, "split_b": split_b}.items():
        if name not in rows.columns:
            rows[name] = default
    rows["split_b"] = pd.to_numeric(rows["split_b"], errors="coerce").fillna(split_b)
    variant = rows["variant"].astype(str)
    bad = sorted(set(variant) - {Variant.A, Variant.B})
    if bad:
        raise InvalidInputError(f"variant must be A or B, got {', '.join(bad[:3])}")
    label, pred_a, pred_b, positive = _codes(rows, task)
    failed_a, failed_b = _flags(rows["failed_a"]), _flags(rows["failed_b"])
    pred_a = np.where(failed_a, np.nan, pred_a)
    pred_b = np.where(failed_b, np.nan, pred_b)
    phase = pd.factorize(rows["phase"])[0]
    users = rows["user_id"].astype("string")
    if mode == ABMode.HASH:  # users are randomised; a row without one is its own unit
        own = pd.Series([f"\x00row{i}" for i in range(len(rows))], dtype="string")
        users = users.fillna(own)
    else:
        users = pd.Series([f"row{i}" for i in range(len(rows))], dtype="string")
    unit = pd.factorize(users + "\x00" + pd.Series(phase).astype("string"))[0]
    return Evidence(
        task=task,
        served_b=(variant == Variant.B).to_numpy(),
        unit=unit,
        phase=phase,
        split_b=rows["split_b"].to_numpy(dtype=np.float64),
        created=_seconds(rows["created_at"]),
        labelled_at=_seconds(rows["labelled_at"]),
        label=label,
        pred_a=pred_a,
        pred_b=pred_b,
        failed_a=failed_a,
        failed_b=failed_b,
        latency_a=pd.to_numeric(rows["latency_a_ms"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        latency_b=pd.to_numeric(rows["latency_b_ms"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        prob_a=pd.to_numeric(rows["probability_a"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        prob_b=pd.to_numeric(rows["probability_b"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        positive=positive,
    )


def decide_frame(
    rows: pd.DataFrame,
    policy: Policy | None = None,
    *,
    task: Task,
    mode: ABMode,
    split_b: float,
    now: Any = None,
) -> Decision:
    """Decide on B vs A from one row per served request (columns: module docstring).

    ``mode`` is how the rows were routed (hash, random or shadow); ``split_b`` the
    challenger's share where the rows carry no ``split_b`` of their own; ``now`` the
    time of the look (default: the rows' latest event).
    """
    task, mode = parse(Task, task, "task"), parse(ABMode, mode, "mode")
    ev = evidence(rows, task=task, mode=mode, split_b=split_b)
    when = None if now is None else float(_seconds(pd.Series([now]))[0])
    return decide(ev, policy, mode=mode, now=when)


def timeline_frame(
    rows: pd.DataFrame,
    policy: Policy,
    *,
    task: Task,
    mode: ABMode,
    split_b: float,
    points: int = 60,
) -> list[Look]:
    """The primary sequence over time, from the same rows."""
    task, mode = parse(Task, task, "task"), parse(ABMode, mode, "mode")
    return timeline(
        evidence(rows, task=task, mode=mode, split_b=split_b), policy, mode=mode, points=points
    )
