"""drift_retrain_dag: drift check on the served features -> retrain or skip ->
register the challenger -> start the experiment.

Thin: every task calls one ``champion.lifecycle`` function and passes small JSON.
Settings come from the environment (``CHAMPION_*``), as for the CLI.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

DEFAULT_ARGS = {
    "retries": int(os.environ.get("CHAMPION_DAG_RETRIES", "2")),
    "retry_delay": timedelta(seconds=float(os.environ.get("CHAMPION_DAG_RETRY_DELAY", "60"))),
}


@dag(
    dag_id="drift_retrain_dag",
    schedule=os.environ.get("CHAMPION_DRIFT_SCHEDULE", "@hourly"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["champion"],
    doc_md=__doc__,
)
def drift_retrain_dag() -> None:
    @task
    def check_drift() -> dict[str, Any]:
        from champion.config import load_settings
        from champion.lifecycle import check_served_drift

        return check_served_drift(load_settings()).to_dict()

    @task.branch
    def retrain_or_skip(drift: dict[str, Any]) -> str:
        if drift["challenger"] is not None:  # an experiment is running: let it finish
            return "skip"
        return "retrain" if drift["drifted"] else "skip"

    @task
    def retrain(drift: dict[str, Any]) -> dict[str, Any]:
        from champion.config import load_settings
        from champion.lifecycle import retrain_challenger, train_config

        settings = load_settings()
        outcome = retrain_challenger(
            settings, train_config(settings), reason=f"drift: {drift['reason']}"
        )
        return outcome.to_dict()

    @task
    def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
        from champion.config import load_settings
        from champion.lifecycle import start_experiment as start

        if not retrained["retrained"]:  # too few labels yet: nothing to test
            return {"started": False, "note": retrained["note"]}
        return {"started": True, **start(load_settings()).to_dict()}

    drift = check_drift()
    branch = retrain_or_skip(drift)
    trained = retrain(drift)
    branch >> [trained, EmptyOperator(task_id="skip")]
    start_experiment(trained)


drift_retrain_dag()
