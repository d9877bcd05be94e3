"""Settings read only their own names, seen from a real shell: the CLI and the API run as
child processes with ``HOME``, ``DATABASE_URL``, ``SEED``, ``ACTOR`` and ``ADMIN_TOKEN``
set for some other program, and none of them changes what champion does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import mlflow

from champion.serving.process import local_api

FOREIGN = {
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/other_app",
    "SEED": "7",
    "ACTOR": "mallory",
    "ADMIN_TOKEN": "someone-elses-token",
}
ROW = {"Pclass": 3, "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25, "Sex": "male"}
ROW |= {"Deck": None, "Embarked": "S"}
TRAIN = ["train", "--dataset", "titanic", "--budget", "2", "--register", "champion"]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def test_foreign_variables_change_nothing(tmp_path: Path) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    (home / ".profile").write_text("# the user's own file\n")
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
        | FOREIGN
        | {"HOME": str(home)}
    )
    before = _files(home)

    train = subprocess.run(
        [sys.executable, "-m", "champion", *TRAIN],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr
    data = project / "champion-data"
    assert (data / "mlflow.db").is_file() and (data / "artifacts").is_dir()

    uri = f"sqlite:///{data / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("champion-model", "champion")
    assert client.get_run(version.run_id).data.params["seed"] == "42"  # not SEED
    assert version.tags["champion.register.by"] != "mallory"  # not ACTOR

    with local_api(env, tmp_path / "api.log", cwd=project) as api:
        answer = httpx.post(f"{api.url}/predict", json={"features": ROW}, timeout=10)
        assert answer.status_code == 200, answer.text
        refused = httpx.put(
            f"{api.url}/ab/config",
            json={"mode": "shadow"},
            headers={"Authorization": f"Bearer {FOREIGN['ADMIN_TOKEN']}"},
            timeout=10,
        )
        assert refused.status_code == 403  # ADMIN_TOKEN is not CHAMPION_ADMIN_TOKEN
        assert "CHAMPION_ADMIN_TOKEN is not set" in refused.json()["detail"]

    with sqlite3.connect(data / "events.db") as log:  # not DATABASE_URL
        (request_id,) = log.execute("SELECT request_id FROM predictions").fetchone()
    assert request_id == answer.json()["request_id"]
    assert _files(home) == before  # nothing of champion's landed in HOME
