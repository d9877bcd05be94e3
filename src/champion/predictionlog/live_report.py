"""The live A/B report (``GET /ab/report``) from running counts: a call reads only what
arrived since the previous one.

The report's figures per variant — rows served, labels, right answers, absolute errors,
latency, the versions seen — are sums, so the sums up to a time ``T`` are kept
(``ab_report_state``) and brought to a later time by the rows served and the labels
received in between. As for the evaluation's looks (:mod:`look_state`), the last ``lag``
seconds are still in flux (commits and labels in flight): they are added at each call and
kept only by a later one. A label is counted when it arrives (the log stamps it), for the
variant of its prediction. Rows removed or written behind the kept counts (an archive, a
backfill) are found by counting the experiment's rows up to ``T``; the counts then start
again from the whole experiment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from champion.predictionlog.aggregates import when
from champion.predictionlog.schema import ab_report_state, feedback, predictions

#: seconds before a call that are still in flux (commits and labels in flight)
REPORT_LAG_S = 60.0
_FIELDS = ("served", "latency", "labelled", "right", "abs_error", "abs_errors")


@dataclass
class Counts:
    """One variant's running counts."""

    served: float = 0.0
    latency: float = 0.0  # sum of latency_ms over the rows served
    labelled: float = 0.0
    right: float = 0.0  # labels equal to the prediction
    abs_error: float = 0.0  # sum of |prediction - label| where both are numbers
    abs_errors: float = 0.0  # how many rows that sum is over
    versions: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in _FIELDS}, "versions": sorted(self.versions)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        return cls(**{k: float(data[k]) for k in _FIELDS}, versions=set(data["versions"]))


@dataclass
class Kept:
    """The counts of the rows and labels up to ``upto`` (None: nothing kept yet)."""

    upto: float | None
    served: float
    variants: dict[str, Counts]

    def copy(self) -> Kept:
        return Kept(
            self.upto,
            self.served,
            {
                v: Counts(**{**c.__dict__, "versions": set(c.versions)})
                for v, c in self.variants.items()
            },
        )

    def of(self, variant: str) -> Counts:
        return self.variants.setdefault(variant, Counts())


def _scope(model_name: str, experiment_id: str) -> Any:
    p = predictions.c
    return and_(p.experiment_id == experiment_id, p.model_name == model_name)


def _between(column: Any, lo: float | None, hi: float) -> Any:
    top = column <= when(hi)
    return top if lo is None else and_(column > when(lo), top)


def _add_served(conn: Any, kept: Kept, scope: Any, lo: float | None, hi: float) -> None:
    p = predictions.c
    query = (
        select(p.variant, p.model_version, func.count(), func.sum(p.latency_ms))
        .where(scope, _between(p.created_at, lo, hi))
        .group_by(p.variant, p.model_version)
    )
    for variant, version, n, latency in conn.execute(query):
        counts = kept.of(variant)
        counts.served += float(n)
        counts.latency += float(latency or 0.0)
        counts.versions.add(version)
        kept.served += float(n)


def _add_labels(conn: Any, kept: Kept, scope: Any, lo: float | None, hi: float) -> None:
    p, f = predictions.c, feedback.c
    on = p.request_id == f.request_id
    arrived = _between(f.received_at, lo, hi)
    if conn.dialect.name == "postgresql":
        # a label's partition is its prediction's; bounding created_at by the earliest
        # prediction labelled in the window prunes the partitions no label points into
        on = and_(on, f.predicted_at == p.created_at)
        floor = conn.execute(select(func.min(f.predicted_at)).where(arrived)).scalar()
        if floor is None:
            return
        scope = and_(scope, p.created_at >= floor)
    error = func.abs(p.prediction_num - f.label_num)
    query = (
        select(
            p.variant,
            func.count(),
            func.sum((p.prediction == f.label).cast(Integer)),
            func.sum(error),
            func.count(error),
        )
        .select_from(predictions.join(feedback, on))
        .where(scope, arrived)
        .group_by(p.variant)
    )
    for variant, n, right, abs_error, abs_errors in conn.execute(query):
        counts = kept.of(variant)
        counts.labelled += float(n)
        counts.right += float(right or 0)
        counts.abs_error += float(abs_error or 0.0)
        counts.abs_errors += float(abs_errors)


def _served_up_to(conn: Any, scope: Any, upto: float) -> float:
    query = select(func.count()).where(scope, predictions.c.created_at <= when(upto))
    return float(conn.execute(query).scalar_one())


def _load(conn: Any, model_name: str, experiment_id: str) -> Kept | None:
    s = ab_report_state.c
    row = (
        conn.execute(
            select(s.upto, s.served, s.counts).where(
                s.model_name == model_name, s.experiment_id == experiment_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    variants = {v: Counts.from_json(c) for v, c in json.loads(row["counts"]).items()}
    return Kept(float(row["upto"]), float(row["served"]), variants)


def tally(
    conn: Any, model_name: str, experiment_id: str, *, now: float, lag: float = REPORT_LAG_S
) -> tuple[Kept, Kept | None, float | None]:
    """The counts up to ``now``, and the counts up to ``now - lag`` to keep when they
    moved past the stored ones (None: nothing new to keep), and the ``upto`` of the stored
    counts read (None: none). Reads only."""
    scope = _scope(model_name, experiment_id)
    stored = _load(conn, model_name, experiment_id)
    kept = stored.copy() if stored is not None else Kept(None, 0.0, {})
    if kept.upto is not None and _served_up_to(conn, scope, kept.upto) != kept.served:
        kept = Kept(None, 0.0, {})  # rows removed or written behind the counts: start again
    settled = now - lag
    moved = kept.upto is None or settled > kept.upto
    if moved:
        _add_served(conn, kept, scope, kept.upto, settled)
        _add_labels(conn, kept, scope, kept.upto, settled)
        kept.upto = settled
    current = kept.copy()
    if now > settled:
        _add_served(conn, current, scope, settled, now)
        _add_labels(conn, current, scope, settled, now)
    return current, (kept if moved else None), (stored.upto if stored else None)


def keep(
    conn: Any, model_name: str, experiment_id: str, kept: Kept, previous: float | None
) -> bool:
    """Store ``kept`` unless another caller stored counts since ``previous`` was read
    (theirs are as right); returns whether it was stored."""
    s = ab_report_state.c
    values = {
        "upto": kept.upto,
        "served": kept.served,
        "counts": json.dumps({v: c.to_json() for v, c in kept.variants.items()}),
        "updated_at": datetime.now(UTC),
    }
    if previous is None:
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(ab_report_state).values(
            model_name=model_name, experiment_id=experiment_id, **values
        )
        statement = statement.on_conflict_do_nothing().returning(s.upto)
        return conn.execute(statement).first() is not None
    statement = (
        sql_update(ab_report_state)
        .where(s.model_name == model_name, s.experiment_id == experiment_id, s.upto == previous)
        .values(**values)
    )
    return conn.execute(statement).rowcount == 1
