"""ab_evaluate_and_promote: evaluate the running experiment (anytime-valid, logged to
MLflow) -> promote | reject | continue.

A thin shell: every task calls one function of ``champion.orchestration.tasks`` and
passes small JSON. Evaluate as often as you like: the sequence stays valid under
repeated looks. The task bodies import champion when they run, not when Airflow parses
this file.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

from champion.orchestration.options import dag_options


@dag(
    dag_id="ab_evaluate_and_promote",
    **dag_options("CHAMPION_EVALUATE_SCHEDULE", "*/30 * * * *"),
    doc_md=__doc__,
)
def ab_evaluate_and_promote() -> None:
    @task
    def evaluate() -> dict[str, Any]:
        from champion.orchestration import tasks

        return tasks.evaluate(apply=False)

    @task.branch
    def act(evaluation: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return tasks.act(evaluation)

    @task
    def promote(evaluation: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return tasks.apply("promote", evaluation)

    @task
    def reject(evaluation: dict[str, Any]) -> str:
        from champion.orchestration import tasks

        return tasks.apply("reject", evaluation)

    evaluation = evaluate()
    act(evaluation) >> [promote(evaluation), reject(evaluation), EmptyOperator(task_id="continue")]


ab_evaluate_and_promote()
