"""drift_retrain_dag: drift check on the served features -> retrain or skip ->
register the challenger -> start the experiment.

Thin: every task calls one ``champion.lifecycle`` function and passes small JSON.
Settings come from the environment (``CHAMPION_*``), as for the CLI.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

from champion.orchestration import tasks as steps


@dag(
    dag_id="drift_retrain_dag",
    **steps.dag_options("CHAMPION_DRIFT_SCHEDULE", "@hourly"),
    doc_md=__doc__,
)
def drift_retrain_dag() -> None:
    @task
    def check_drift() -> dict[str, Any]:
        return steps.check_drift()

    @task.branch
    def retrain_or_skip(drift: dict[str, Any]) -> str:
        if drift["challenger"] is not None:  # an experiment is running: let it finish
            return "skip"
        return "retrain" if drift["drifted"] else "skip"

    @task
    def retrain(drift: dict[str, Any]) -> dict[str, Any]:
        return steps.retrain(drift)

    @task
    def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
        return steps.start_experiment(retrained)

    drift = check_drift()
    branch = retrain_or_skip(drift)
    trained = retrain(drift)
    branch >> [trained, EmptyOperator(task_id="skip")]
    start_experiment(trained)


drift_retrain_dag()
