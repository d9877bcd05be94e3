"""The Airflow DAGs, really run: DagBag import errors and ``dag.test()`` of each DAG
against an embedded MLflow store and a SQLite prediction log.

Airflow pins fastapi below what the API uses, so it lives in its own venv
(``.venv-airflow``, built on first use by tests/airflow_venv.py in ~3 minutes;
``CHAMPION_AIRFLOW_PYTHON`` points at another one). The DAGs run in a subprocess of that
venv (tests/dag_runner.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from airflow_venv import ensure_airflow_python

ROOT = Path(__file__).resolve().parents[2]


def airflow_python() -> Path:
    given = os.environ.get("CHAMPION_AIRFLOW_PYTHON")
    return Path(given) if given else ensure_airflow_python()


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("airflow")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "AIRFLOW", "MLFLOW_"))
    }
    env.update(
        AIRFLOW_HOME=str(work / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
        CHAMPION_HOME=str(work / "champion"),
        CHAMPION_TRAIN_BUDGET="2",
        CHAMPION_DAG_RETRIES="0",
        CHAMPION_ACTOR="airflow-test",
    )
    done = subprocess.run(
        [str(airflow_python()), str(ROOT / "tests" / "dag_runner.py")],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step(runs: dict, name: str) -> dict:
    return next(s for s in runs["steps"] if s["step"].startswith(name))


def test_dagbag_has_no_import_errors(dag_runs) -> None:
    assert dag_runs["import_errors"] == {}
    assert dag_runs["dag_ids"] == [
        "ab_evaluate_and_promote", "drift_retrain_dag", "log_retention", "main_pipeline",
    ]  # fmt: skip


def test_a_failed_task_fails_the_run(dag_runs) -> None:
    step = _step(dag_runs, "no champion yet")
    assert step["state"] == "failed"  # the harness sees failures: a green run means success
    assert step["tasks"]["check_drift"] == "failed"


def test_main_pipeline_bootstraps_the_first_champion(dag_runs) -> None:
    step = _step(dag_runs, "first run")
    assert step["state"] == "success", step
    assert step["tasks"]["bootstrap"] == "success"
    assert step["tasks"]["check_drift"] == "skipped" and step["tasks"]["evaluate"] == "skipped"
    assert dag_runs["after_bootstrap"] == {"champion": "1", "challenger": None}


def test_drift_retrain_registers_a_challenger_and_starts_the_experiment(dag_runs) -> None:
    step = _step(dag_runs, "drift:")
    assert step["state"] == "success", step
    assert step["tasks"]["retrain"] == "success" and step["tasks"]["skip"] == "skipped"
    assert step["tasks"]["start_experiment"] == "success"
    assert dag_runs["after_retrain"] == {"champion": "1", "challenger": "2"}
    assert dag_runs["experiment"]["experiment_id"].startswith("v1-v2-")


def test_evaluation_promotes_a_better_challenger(dag_runs) -> None:
    step = _step(dag_runs, "a better challenger")
    assert step["state"] == "success", step
    assert step["tasks"]["promote"] == "success"
    assert step["tasks"]["reject"] == "skipped" and step["tasks"]["continue"] == "skipped"
    assert dag_runs["after_evaluation"] == {"champion": "2", "challenger": None}


def test_scheduled_main_pipeline_checks_drift_when_no_experiment_runs(dag_runs) -> None:
    step = _step(dag_runs, "scheduled run")
    assert step["state"] == "success", step
    assert step["tasks"]["check_drift"] == "success" and step["tasks"]["bootstrap"] == "skipped"


def test_a_performance_drop_retrains_through_the_dag(dag_runs) -> None:
    step = _step(dag_runs, "performance drop")
    assert step["state"] == "success", step
    assert step["tasks"]["retrain"] == "success" and step["tasks"]["skip"] == "skipped"
    after = dag_runs["after_performance"]
    assert after["champion"] == "2" and after["challenger"] not in (None, "1", "2")
    assert "performance dropped" in dag_runs["performance_reason"]
