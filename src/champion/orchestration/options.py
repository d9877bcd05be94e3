"""What every champion DAG shares (light: a DAG file imports it when Airflow parses it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any


def dag_options(schedule_env: str, schedule: str) -> dict[str, Any]:
    """What every champion DAG shares: the schedule (overridable by ``schedule_env``), no
    catch-up, one run at a time, task retries (``CHAMPION_DAG_RETRIES``,
    ``CHAMPION_DAG_RETRY_DELAY`` s)."""
    return {
        "schedule": os.environ.get(schedule_env, schedule),
        "start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {
            "retries": int(os.environ.get("CHAMPION_DAG_RETRIES", "2")),
            "retry_delay": timedelta(
                seconds=float(os.environ.get("CHAMPION_DAG_RETRY_DELAY", "60"))
            ),
        },
        "tags": ["champion"],
    }
