"""Upgrades of an existing prediction log to this version's schema, in one transaction.

* 1 → 2: the failures table (created by ``create_all``).
* 2 → 3: both models' answers per row and the phase: the new columns are added, and
  the rows logged before are filled in from what they hold — the answering model's
  columns, and the challenger's shadow columns of shadow mode.
* 3 → 4: the A/B configuration and the failures say which model they belong to (one log
  may serve several models): each existing row takes the model of its experiment's
  predictions, or the upgrading model's when the experiment has none.
* 4 → 5: each label records the credential that posted it; labels from before are
  ``unverified`` (they were accepted without one).
* 5 → 6: the A/B evaluation's running sums (new tables) and an index of labels by the
  time they arrived (a look reads the labels that arrived since the previous one).
* 6 → 7: each label carries its prediction's time (filled in from it); on PostgreSQL both
  tables become partitioned by day, the existing rows one legacy partition
  (champion.predictionlog.partitions).
* 7 → 8: the live report's running counts and the drift checks' record (new tables,
  made by ``create_all``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, inspect, text

from champion.predictionlog import partitions
from champion.predictionlog.schema import ab_config, failures, feedback, predictions

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


def _add_missing_columns(conn: Any, table: Table) -> set[str]:
    """Add the columns ``table`` lacks in the database; returns the ones it had."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
    for index in table.indexes:
        index.create(conn, checkfirst=True)
    return present


def upgrade(conn: Any, found: int, model_name: str) -> None:
    """Bring a log of schema version ``found`` to the current one (tables already exist);
    rows that cannot tell their model belong to ``model_name``."""
    if found < 3:
        _to_3(conn)
    if found < 4:
        _to_4(conn, model_name)
    if found < 5:
        _add_missing_columns(conn, feedback)
        conn.execute(text("UPDATE feedback SET source = 'unverified' WHERE source IS NULL"))
    if found < 6:  # the running-sum tables are new (create_all); labels by arrival time
        _add_missing_columns(conn, feedback)
    if found < 7:
        _to_7(conn)


def _to_7(conn: Any) -> None:
    _add_missing_columns(conn, feedback)
    conn.execute(
        text(
            "UPDATE feedback SET predicted_at = (SELECT p.created_at FROM predictions p "
            "WHERE p.request_id = feedback.request_id) WHERE predicted_at IS NULL"
        )
    )
    if conn.dialect.name == "postgresql" and not partitions.is_partitioned(conn):
        partitions.convert(conn, datetime.now(UTC).date())


def _to_4(conn: Any, model_name: str) -> None:
    for table in (ab_config, failures):
        _add_missing_columns(conn, table)
        conn.execute(
            text(
                f"UPDATE {table.name} SET model_name = COALESCE((SELECT p.model_name FROM "
                f"predictions p WHERE p.experiment_id = {table.name}.experiment_id LIMIT 1), "
                ":name) WHERE model_name IS NULL"
            ),
            {"name": model_name},
        )
    _add_missing_columns(conn, predictions)


def _to_3(conn: Any) -> None:
    present = _add_missing_columns(conn, predictions)
    conn.execute(text(f"UPDATE predictions SET {_assignments('a', _ANSWER)} WHERE variant = 'A'"))
    conn.execute(text(f"UPDATE predictions SET {_assignments('b', _ANSWER)} WHERE variant = 'B'"))
    if "shadow_version" in present:
        conn.execute(
            text(
                f"UPDATE predictions SET {_assignments('b', _SHADOW)} "
                "WHERE variant = 'A' AND shadow_version IS NOT NULL"
            )
        )
