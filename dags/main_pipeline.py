"""main_pipeline: the original single DAG, on champion's steps.

No champion yet -> bootstrap (train on the reference data, make it champion). A
challenger under test -> evaluate it -> promote | reject | continue. Otherwise -> drift
check -> retrain on drift -> start the experiment.

Reference data for the bootstrap: the ``dataset`` param (a bundled dataset), or
``CHAMPION_TRAIN_PATH`` with the ``target`` param.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, dag, task

from champion.orchestration import tasks as steps


@dag(
    dag_id="main_pipeline",
    params={
        "dataset": Param("titanic", type="string", description="Bundled reference data."),
        "target": Param(None, type=["null", "string"], description="Target of TRAIN_PATH."),
    },
    **steps.dag_options("CHAMPION_MAIN_SCHEDULE", "@daily"),
    doc_md=__doc__,
)
def main_pipeline() -> None:
    @task
    def status() -> dict[str, Any]:
        from champion.lifecycle import model_status
        from champion.settings import load_settings

        return model_status(load_settings())

    @task.branch
    def route(models: dict[str, Any]) -> str:
        if models["champion"] is None:
            return "bootstrap"
        return "evaluate" if models["challenger"] is not None else "check_drift"

    @task
    def bootstrap(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from champion.datasets import load_data, load_dataset
        from champion.lifecycle import bootstrap as run_bootstrap
        from champion.lifecycle import train_config
        from champion.settings import load_settings

        settings = load_settings()
        params = params or {}
        if settings.train_path is not None:
            source = load_data(settings.train_path, target=params.get("target"))
        else:
            source = load_dataset(params.get("dataset") or "titanic")
        outcome = run_bootstrap(settings, source, train_config(settings))
        return {"champion": outcome.champion.version, "created": outcome.created}

    @task
    def check_drift() -> dict[str, Any]:
        return steps.check_drift()

    @task.branch
    def retrain_or_skip(drift: dict[str, Any]) -> str:
        return "retrain" if drift["drifted"] else "no_drift"

    @task
    def retrain(drift: dict[str, Any]) -> dict[str, Any]:
        return steps.retrain(drift)

    @task
    def start_experiment(retrained: dict[str, Any]) -> dict[str, Any]:
        return steps.start_experiment(retrained)

    @task
    def evaluate() -> dict[str, Any]:
        from champion.lifecycle import evaluate_and_promote
        from champion.settings import load_settings

        outcome = evaluate_and_promote(load_settings(), apply=True)
        return {
            "action": outcome.decision.action if outcome.decision else None,
            "applied": outcome.applied,
            "note": outcome.note,
        }

    models = status()
    routed = route(models)
    boot, drift, judged = bootstrap(), check_drift(), evaluate()
    routed >> [boot, drift, judged]
    trained = retrain(drift)
    retrain_or_skip(drift) >> [trained, EmptyOperator(task_id="no_drift")]
    start_experiment(trained)


main_pipeline()
