"""ab_evaluate_and_promote: evaluate the running experiment (anytime-valid, logged to
MLflow) -> promote | reject | continue.

Thin: every task calls one ``champion.lifecycle`` function and passes small JSON.
Evaluate as often as you like: the sequence stays valid under repeated looks.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task

from champion.orchestration import tasks as steps


@dag(
    dag_id="ab_evaluate_and_promote",
    **steps.dag_options("CHAMPION_EVALUATE_SCHEDULE", "*/30 * * * *"),
    doc_md=__doc__,
)
def ab_evaluate_and_promote() -> None:
    @task
    def evaluate() -> dict[str, Any]:
        from champion.lifecycle import evaluate_and_promote
        from champion.settings import load_settings

        outcome = evaluate_and_promote(load_settings(), apply=False)
        decision = outcome.decision
        return {
            "action": decision.action if decision else None,
            "reasons": list(decision.reasons) if decision else [outcome.note],
            "experiment_id": outcome.experiment_id,
            "challenger": outcome.challenger,
            "run_id": outcome.run_id,
        }

    @task.branch
    def act(evaluation: dict[str, Any]) -> str:
        return {"promote": "promote", "reject": "reject"}.get(evaluation["action"], "continue")

    @task
    def promote(evaluation: dict[str, Any]) -> str:
        return _apply("promote", evaluation)

    @task
    def reject(evaluation: dict[str, Any]) -> str:
        return _apply("reject", evaluation)

    evaluation = evaluate()
    act(evaluation) >> [promote(evaluation), reject(evaluation), EmptyOperator(task_id="continue")]


def _apply(action: str, evaluation: dict[str, Any]) -> str:
    from champion.lifecycle import apply_decision
    from champion.settings import load_settings

    return apply_decision(
        load_settings(),
        action=action,
        challenger=evaluation["challenger"],
        reason=f"A/B {evaluation['experiment_id']}: " + "; ".join(evaluation["reasons"]),
        run_id=evaluation["run_id"],
    )


ab_evaluate_and_promote()
