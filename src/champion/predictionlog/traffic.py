"""What the dashboard shows of the traffic, counted in SQL over a recent span: requests,
model errors and latency per minute, and latency quantiles from a histogram (the same
buckets as the API's Prometheus histogram), so no row comes to Python.

Minutes are ``floor(epoch seconds / 60)``: ``extract(epoch ...)`` on PostgreSQL,
``strftime('%s', ...)`` on SQLite (which stores UTC text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select

from champion.predictionlog.schema import failures, predictions

#: Upper edges (ms) of the latency histogram; the last bucket is open.
LATENCY_EDGES_MS = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
)


@dataclass(frozen=True)
class Minute:
    """One minute of traffic."""

    start: datetime
    requests: int
    failed: int  # requests a model failed to answer
    mean_latency_ms: float | None
    max_latency_ms: float | None


@dataclass(frozen=True)
class Traffic:
    """The traffic of the last ``span``."""

    span: timedelta
    minutes: tuple[Minute, ...]
    latency_quantiles_ms: dict[str, float | None]  # p50, p95, p99 (histogram-interpolated)

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.minutes)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.minutes)

    @property
    def rate_per_s(self) -> float:
        return self.requests / self.span.total_seconds()


def _minute(conn: Any, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        seconds = func.extract("epoch", column)
    else:
        seconds = cast(func.strftime("%s", column), Float)
    return func.floor(seconds / 60.0)


def quantile(counts: list[int], q: float) -> float | None:
    """The ``q`` quantile of a histogram over :data:`LATENCY_EDGES_MS`, linear within a
    bucket (the open last bucket answers its lower edge)."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen, lower = q * total, 0, 0.0
    for count, upper in zip(counts, (*LATENCY_EDGES_MS, None), strict=True):
        if count and seen + count >= rank:
            if upper is None:
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper if upper is not None else lower
    return lower


def read_traffic(conn: Any, model_name: str, *, span: timedelta, now: datetime) -> Traffic:
    """Requests, errors and latency of ``model_name`` over the ``span`` before ``now``."""
    since = now - span
    p = predictions.c
    scope = and_(p.model_name == model_name, p.created_at >= since)
    minute = _minute(conn, p.created_at).label("minute")
    failed = func.sum(case((p.failed_a == 1, 1), (p.failed_b == 1, 1), else_=0))
    rows = conn.execute(
        select(minute, func.count(), failed, func.avg(p.latency_ms), func.max(p.latency_ms))
        .where(scope)
        .group_by(minute)
    ).all()
    f = failures.c
    fminute = _minute(conn, f.created_at).label("minute")
    lost = {
        int(m): int(n or 0)
        for m, n in conn.execute(
            select(fminute, func.sum(f.requests))
            .where(f.model_name == model_name, f.created_at >= since)
            .group_by(fminute)
        ).all()
    }
    buckets = [
        func.sum(case((and_(p.latency_ms > lo, p.latency_ms <= hi), 1), else_=0))
        for lo, hi in zip((-1.0, *LATENCY_EDGES_MS[:-1]), LATENCY_EDGES_MS, strict=True)
    ]
    buckets.append(func.sum(case((p.latency_ms > LATENCY_EDGES_MS[-1], 1), else_=0)))
    counts = [int(c or 0) for c in conn.execute(select(*buckets).where(scope)).one()]
    minutes = {
        int(m): Minute(
            datetime.fromtimestamp(int(m) * 60, tz=UTC),
            int(n),
            int(bad or 0) + lost.pop(int(m), 0),
            float(mean) if mean is not None else None,
            float(top) if top is not None else None,
        )
        for m, n, bad, mean, top in rows
    }
    for m, n in lost.items():  # minutes with failures and no logged row
        minutes[m] = Minute(datetime.fromtimestamp(m * 60, tz=UTC), 0, n, None, None)
    return Traffic(
        span,
        tuple(minutes[k] for k in sorted(minutes)),
        {f"p{round(q * 100)}": quantile(counts, q) for q in (0.5, 0.95, 0.99)},
    )
