"""From logged rows to the arms of an evaluation, and the sequence over time (pure).

The input is the prediction log of one experiment as columns (what
:meth:`champion.predictionlog.EventStore.experiment_rows` returns): only rows of the two
versions under test count — a row answered by an older champion before a hot swap, or
by a challenger that has since been replaced, belongs to another comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from champion.abtest.decision import Arm, row_scores
from champion.abtest.sequential import paired, unpaired
from champion.errors import InvalidInputError
from champion.types import Task, Variant


@dataclass(frozen=True)
class Evidence:
    """The arms of champion (A) and challenger (B), ready for :func:`decide`."""

    a: Arm
    b: Arm
    paired_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # shadow: (y, pred A, pred B)
    arrival_a: np.ndarray  # label arrival times (epoch s) of A's labelled rows (or the pairs)
    arrival_b: np.ndarray
    ignored: int  # rows of the experiment answered by other versions


@dataclass(frozen=True)
class Look:
    """The sequence at one point in time."""

    labelled: int
    estimate: float
    lower: float
    upper: float


def _epoch(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        out[i] = v.timestamp() if isinstance(v, datetime) else float("nan")
    return out


def _values(rows: Mapping[str, Sequence[Any]], mask: np.ndarray, *names: str) -> list[np.ndarray]:
    """Columns ``names`` (JSON text, each with a ``_num`` twin) at ``mask``: as numbers
    when every value is a number, else all as their JSON text (so they compare alike)."""
    idx = np.flatnonzero(mask)
    numeric = [[rows[f"{n}_num"][i] for i in idx] for n in names]
    if all(v is not None for col in numeric for v in col):
        return [np.asarray(col, dtype=np.float64) for col in numeric]
    return [np.asarray([rows[n][i] for i in idx], dtype=object).astype(str) for n in names]


def build_evidence(
    rows: Mapping[str, Sequence[Any]],
    failures: Mapping[tuple[str, str], int],
    *,
    champion: str,
    challenger: str,
    task: Task,
    shadow: bool,
) -> Evidence:
    """Arms of champion version ``champion`` and challenger version ``challenger``.

    ``shadow``: B is read from the shadow scores the champion's rows carry (paired).
    Regression needs numeric labels and predictions; classification compares them as
    numbers when all are numbers, else as their JSON text.
    """
    variant = np.asarray(rows["variant"], dtype=object)
    version = np.asarray(rows["model_version"], dtype=object).astype(str)
    has_label = np.asarray([v is not None for v in rows["label"]], dtype=bool)
    latency = np.asarray(rows["latency_ms"], dtype=np.float64)
    arrival = _epoch(rows["received_at"])
    in_a = (variant == Variant.A) & (version == champion)
    shadow_version = np.asarray(rows["shadow_version"], dtype=object).astype(str)
    in_b = (
        in_a & (shadow_version == challenger)
        if shadow
        else (variant == Variant.B) & (version == challenger)
    )
    ignored = int(variant.size - (in_a | ((variant == Variant.B) & (version == challenger))).sum())

    def arm(mask: np.ndarray, pred: str, proba: str, failed: int) -> Arm:
        labelled = mask & has_label
        y, p = _values(rows, labelled, "label", pred)
        if task == Task.REGRESSION and y.dtype != np.float64:
            raise InvalidInputError("regression needs numeric labels and predictions")
        scores = [rows[proba][i] for i in np.flatnonzero(labelled)]
        y_score = (
            np.asarray(scores, dtype=np.float64)
            if task == Task.CLASSIFICATION
            and np.unique(y).size <= 2
            and all(s is not None for s in scores)
            else None
        )
        answered = int(mask.sum())
        return Arm(y, p, latency[mask], answered + failed, failed, y_score)

    a = arm(in_a, "prediction", "probability", failures.get((Variant.A, champion), 0))
    if shadow:
        b = arm(in_b, "shadow_prediction", "shadow_probability", 0)
        both = in_b & has_label
        y, pa, pb = _values(rows, both, "label", "prediction", "shadow_prediction")
        return Evidence(a, b, (y, pa, pb), arrival[both], arrival[both], ignored)
    b = arm(in_b, "prediction", "probability", failures.get((Variant.B, challenger), 0))
    return Evidence(a, b, None, arrival[in_a & has_label], arrival[in_b & has_label], ignored)


def interval_path(
    evidence: Evidence, *, task: Task, alpha: float, n_star: float, points: int = 60
) -> list[Look]:
    """The confidence sequence as labels arrived: at up to ``points`` moments, the
    interval computed from the labels known then (what a look at that moment saw)."""
    if evidence.paired_rows is not None:
        y, pa, pb = evidence.paired_rows
        d = row_scores(Arm(y, pb, np.empty(0), 0, 0), task) - row_scores(
            Arm(y, pa, np.empty(0), 0, 0), task
        )
        order = np.argsort(evidence.arrival_a, kind="stable")
        d = d[order]
        marks = _marks(d.size, points)
        looks = []
        for n in marks:
            iv = paired(d[:n], alpha=alpha, n_star=n_star)
            looks.append(Look(int(n), iv.estimate, iv.lower, iv.upper))
        return looks
    sa, sb = row_scores(evidence.a, task), row_scores(evidence.b, task)
    times = np.concatenate([evidence.arrival_a, evidence.arrival_b])
    is_b = np.concatenate([np.zeros(sa.size, bool), np.ones(sb.size, bool)])
    order = np.argsort(times, kind="stable")
    is_b = is_b[order]
    rank_a = np.cumsum(~is_b)  # A rows known after the k-th label
    rank_b = np.cumsum(is_b)
    sa = sa[np.argsort(evidence.arrival_a, kind="stable")]
    sb = sb[np.argsort(evidence.arrival_b, kind="stable")]
    looks = []
    for n in _marks(times.size, points):
        na, nb = int(rank_a[n - 1]), int(rank_b[n - 1])
        if na < 2 or nb < 2:
            continue
        iv = unpaired(sa[:na], sb[:nb], alpha=alpha, n_star=n_star)
        looks.append(Look(int(n), iv.estimate, iv.lower, iv.upper))
    return looks


def _marks(n: int, points: int) -> list[int]:
    if n < 2:
        return []
    return sorted({int(k) for k in np.linspace(2, n, num=min(points, n - 1))})
