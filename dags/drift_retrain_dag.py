"""drift_retrain_dag: drift check on the served features -> retrain or skip ->
register the challenger -> start the experiment.

A thin shell: every task calls one function of ``champion.orchestration.tasks`` and
passes small JSON. Settings come from the environment (``CHAMPION_*``), as for the CLI.
The task bodies import champion when they run, not when Airflow parses this file.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

from champion.orchestration.options import dag_options


@dag(
    dag_id="drift_retrain_dag",
    **dag_options("CHAMPION_DRIFT_SCHEDULE", "@hourly"),
    doc_md=__doc__,
)
def drift_retrain_dag() -> None:
    @task
    def check_drift() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.check_drift()

    @task.branch
    def retrain_or_skip(drift: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return tasks.retrain_or_skip(drift)

    @task
    def retrain(drift: dict[str, Any]) -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.retrain(drift)

    @task
    def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.start(retrained)

    drift = check_drift()
    branch = retrain_or_skip(drift)
    trained = retrain(drift)
    branch >> [trained, EmptyOperator(task_id="skip")]
    start_experiment(trained)


drift_retrain_dag()
