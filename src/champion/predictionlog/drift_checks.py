"""The record of scheduled drift checks, mixed into
:class:`champion.predictionlog.store.EventStore`.

A reference's checks are numbered from 1; the number sets the share of the lifetime
level a check spends (:func:`champion.drift.evidence.spending`), so two checks never
take the same number (a unique key: the second one to commit retries with the next).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from champion.drift import DriftResult
from champion.errors import ConflictError
from champion.predictionlog.schema import drift_checks


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite reads naive


@dataclass(frozen=True)
class DriftCheckRecord:
    """One recorded check."""

    check_number: int
    champion: str
    checked_at: datetime
    rows: int
    drifted: bool
    alpha_check: float
    reason: str
    features: dict[str, dict[str, Any]]


class DriftChecks:
    """Numbering and recording the drift checks of one model's references."""

    _tx: Callable[[str], AbstractContextManager[Any]]
    model_name: str

    def next_drift_check(self, reference: str) -> int:
        """The number the next check of ``reference`` takes."""
        c = drift_checks.c
        query = select(func.max(c.check_number)).where(
            c.model_name == self.model_name, c.reference == reference
        )
        with self._tx("read drift checks") as conn:
            return int(conn.execute(query).scalar() or 0) + 1

    def record_drift_check(self, reference: str, champion: str, result: DriftResult) -> None:
        """Record a scheduled check; ConflictError when its number is already taken."""
        if result.check is None:
            raise ValueError("only a numbered (scheduled) check is recorded")
        features = {
            f.feature: {
                "test": f.test,
                "p_value": f.p_value,
                "psi": f.psi,
                "psi_null": f.psi_null,
                "drifted": f.drifted,
            }
            for f in result.features
        }
        row = {
            "model_name": self.model_name,
            "reference": reference,
            "check_number": result.check,
            "champion": champion,
            "checked_at": datetime.now(UTC),
            "rows": result.n_current,
            "drifted": int(result.drifted),
            "alpha_check": result.alpha_check,
            "reason": result.reason[:4000],
            "features": json.dumps(features, allow_nan=True),
        }
        with self._tx("record drift check") as conn:
            try:
                conn.execute(insert(drift_checks).values(**row))
            except IntegrityError as exc:  # rolled back by the transaction
                taken = f"drift check {result.check} of reference {reference} is recorded already"
                raise ConflictError(taken) from exc

    def drift_history(
        self, reference: str | None = None, limit: int = 100
    ) -> list[DriftCheckRecord]:
        """The latest recorded checks (of ``reference``, or of every reference), newest first."""
        c = drift_checks.c
        query = select(drift_checks).where(c.model_name == self.model_name)
        if reference is not None:
            query = query.where(c.reference == reference)
        query = query.order_by(c.checked_at.desc(), c.id.desc()).limit(limit)
        with self._tx("read drift checks") as conn:
            rows = conn.execute(query).mappings().all()
        return [
            DriftCheckRecord(
                check_number=int(r["check_number"]),
                champion=r["champion"],
                checked_at=aware(r["checked_at"]),
                rows=int(r["rows"]),
                drifted=bool(r["drifted"]),
                alpha_check=float(r["alpha_check"]),
                reason=r["reason"],
                features=json.loads(r["features"]),
            )
            for r in rows
        ]
