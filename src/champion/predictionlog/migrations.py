"""Upgrades of an existing prediction log to this version's schema, in one transaction.

* 1 → 2: the failures table (created by ``create_all``).
* 2 → 3: both models' answers per row and the phase: the new columns are added, and
  the rows logged before are filled in from what they hold — the answering model's
  columns, and the challenger's shadow columns of shadow mode.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

from champion.predictionlog.schema import predictions

#: The answered model's columns, as the per-model columns of version 3 name them.
_ANSWER = {
    "version": "model_version",
    "prediction": "prediction",
    "prediction_{arm}_num": "prediction_num",
    "probability": "probability",
}
_SHADOW = {
    "version": "shadow_version",
    "prediction": "shadow_prediction",
    "prediction_{arm}_num": "shadow_prediction_num",
    "probability": "shadow_probability",
}


def _assignments(arm: str, source: dict[str, str]) -> str:
    parts = []
    for target, column in source.items():
        name = target.format(arm=arm) if "{" in target else f"{target}_{arm}"
        parts.append(f"{name} = {column}")
    return ", ".join([*parts, f"failed_{arm} = 0"])


def upgrade(conn: Any, found: int) -> None:
    """Bring a log of schema version ``found`` to the current one (tables already exist)."""
    if found >= 3:
        return
    present = {c["name"] for c in inspect(conn).get_columns("predictions")}
    for column in predictions.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE predictions ADD COLUMN {column.name} {kind}"))
    conn.execute(text(f"UPDATE predictions SET {_assignments('a', _ANSWER)} WHERE variant = 'A'"))
    conn.execute(text(f"UPDATE predictions SET {_assignments('b', _ANSWER)} WHERE variant = 'B'"))
    if "shadow_version" in present:
        conn.execute(
            text(
                f"UPDATE predictions SET {_assignments('b', _SHADOW)} "
                "WHERE variant = 'A' AND shadow_version IS NOT NULL"
            )
        )
