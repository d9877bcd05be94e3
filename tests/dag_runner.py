"""Runs the DAGs with ``dag.test()`` in the Airflow venv (called by test_dags.py).

The environment (AIRFLOW_HOME, the DAGs folder, CHAMPION_HOME, quick settings) is set by
the caller before Airflow is imported. Prints one JSON object: the DagBag's import
errors and, per scenario step, the run state and every task's state.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    out: dict = {
        "import_errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
        "steps": [],
    }

    def run(name: str, dag_id: str) -> None:
        dag_run = bag.get_dag(dag_id).test()
        tasks = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        out["steps"].append(
            {"step": name, "dag": dag_id, "state": str(dag_run.state), "tasks": tasks}
        )

    if out["import_errors"]:
        print(json.dumps(out))
        return

    from champion.datasets import load_dataset
    from champion.lifecycle import model_status
    from champion.predictionlog import EventStore
    from champion.settings import load_settings
    from champion.simulation.drift import make_traffic
    from champion.tracking.registry import open_registry

    from log_helpers import log_traffic, seed_rows

    settings = load_settings()
    run("no champion yet: the drift check must fail", "drift_retrain_dag")
    run("first run: bootstrap", "main_pipeline")
    out["after_bootstrap"] = model_status(settings)

    titanic = load_dataset("titanic")
    store = EventStore(settings.events_url)
    store.migrate()
    drifted = make_traffic(titanic.frame, 400, seed=3, drift_cols=("Age", "Fare"), shift_sd=1.5)
    log_traffic(store, drifted, titanic.schema, labelled=True)
    run("drift: retrain and start the experiment", "drift_retrain_dag")
    out["after_retrain"] = model_status(settings)
    config = store.ab_config()
    out["experiment"] = config.to_dict() if config else None

    seed_rows(store, config.experiment_id, n=6000, acc_a=0.70, acc_b=0.80, seed=5)
    run("a better challenger: promote", "ab_evaluate_and_promote")
    out["after_evaluation"] = model_status(settings)
    run("scheduled run with a champion and no challenger", "main_pipeline")
    registry = open_registry(settings)
    if registry.alias("challenger", refresh=True) is not None:  # the scheduled run's own
        registry.reject_challenger(actor="dag-test", reason="clearing the way")
    # a concept shift: traffic like the champion's training rows, its answers now wrong
    alike = make_traffic(titanic.frame, 600, seed=4, drift_cols=("Age", "Fare"), shift_sd=1.5)
    log_traffic(store, alike, titanic.schema, labelled=True, accuracy=0.4, version="2")
    run("performance drop: retrain without drift", "drift_retrain_dag")
    out["after_performance"] = model_status(settings)
    out["performance_reason"] = registry.history()[-1].reason
    store.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
