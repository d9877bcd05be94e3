"""What the Airflow tasks run: one call each, small JSON in and out (``dags/`` is the
thin shell around these; settings come from the workers' ``CHAMPION_*`` environment)."""

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


def check_drift() -> dict[str, Any]:
    from champion.lifecycle import check_served_drift
    from champion.settings import load_settings

    return check_served_drift(load_settings()).to_dict()


def retrain(drift: dict[str, Any]) -> dict[str, Any]:
    from champion.lifecycle import retrain_challenger, train_config
    from champion.settings import load_settings

    settings = load_settings()
    return retrain_challenger(
        settings, train_config(settings), reason=f"drift: {drift['reason']}"
    ).to_dict()


def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
    from champion.lifecycle import start_experiment as start
    from champion.settings import load_settings

    if not retrained["retrained"]:  # too few labels yet: nothing to test
        return {"started": False, "note": retrained["note"]}
    return {"started": True, **start(load_settings()).to_dict()}
