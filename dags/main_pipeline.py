"""main_pipeline: the original single DAG, on champion's steps.

No champion yet -> bootstrap (train on the reference data, make it champion). A
challenger under test -> evaluate it -> promote | reject | continue. Otherwise -> drift
check -> retrain on drift -> start the experiment.

Reference data for the bootstrap: the ``dataset`` param (a bundled dataset), or
``CHAMPION_TRAIN_PATH`` with the ``target`` param. A thin shell over
``champion.orchestration.tasks``; the task bodies import champion when they run.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, dag, task

from champion.orchestration.options import dag_options


@dag(
    dag_id="main_pipeline",
    params={
        "dataset": Param("titanic", type="string", description="Bundled reference data."),
        "target": Param(None, type=["null", "string"], description="Target of TRAIN_PATH."),
    },
    **dag_options("CHAMPION_MAIN_SCHEDULE", "@daily"),
    doc_md=__doc__,
)
def main_pipeline() -> None:
    @task
    def status() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.status()

    @task.branch
    def route(models: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return tasks.next_step(models)

    @task
    def bootstrap(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.bootstrap_champion(params)

    @task
    def check_drift() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.check_drift()

    @task.branch
    def retrain_or_skip(drift: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return "retrain" if tasks.retrain_or_skip(drift) == "retrain" else "no_drift"

    @task
    def retrain(drift: dict[str, Any]) -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.retrain(drift)

    @task
    def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.start(retrained)

    @task
    def evaluate() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.evaluate(apply=True)

    models = status()
    routed = route(models)
    boot, drift, judged = bootstrap(), check_drift(), evaluate()
    routed >> [boot, drift, judged]
    trained = retrain(drift)
    retrain_or_skip(drift) >> [trained, EmptyOperator(task_id="no_drift")]
    start_experiment(trained)


main_pipeline()
