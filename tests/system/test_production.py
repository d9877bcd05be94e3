"""The production topology, natively on 127.0.0.1 (no Docker engine needed).

The pieces of ``deploy/docker-compose.yml`` as real processes: one PostgreSQL cluster with
the ``mlflow`` and ``champion`` databases, an S3 server (moto's server mode standing in for
MinIO), the MLflow tracking server with basic auth on PostgreSQL storing artifacts in S3
(two workers, as in the stack), and the champion API with two uvicorn workers on the
PostgreSQL prediction log. The lifecycle runs through them as the DAG tasks and an
operator would run it — ``champion`` commands with only URLs and credentials in their
environment — and traffic goes through the API over HTTP.

The data has a concept drift with a known answer. Before: x1, x2 ~ N(0, 1), three
segments alike, y = [x1 + 0.5·x2 > 0]. After: x1 moves by 0.8 SD, half the rows are from
the ``west`` segment, and there the label is flipped. The champion is right on ~50 % of
the new rows with precision and recall both off (so no guardrail shields it); a model
retrained on them learns the flip and is right on ~95 %, so the experiment must promote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from servers import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ApiServer,
    MlflowServer,
    S3Server,
    api_server,
    mlflow_server,
    pg_cluster,
    postgres_available,
    s3_server,
)

pytestmark = [
    pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql"),
]

ADMIN_TOKEN = "production-test-admin-token"  # test-only, for a throwaway API
FEEDBACK_TOKEN = "production-test-feedback-token"  # test-only
# the stack's MLflow service accounts (deploy/mlflow/users.py), test-only passwords
PIPELINE = ("pipeline", "production-test-pipeline-password")
PREDICTOR = ("predictor", "production-test-predictor-password")
USERS_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "mlflow" / "users.py"


def concept(n: int, *, after: bool, seed: int) -> pd.DataFrame:
    """Rows before or after the shift (see the module docstring); 3 % of labels flipped."""
    rng = np.random.default_rng(seed)
    shift = 0.8 if after else 0.0
    x1 = rng.normal(shift, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    shares = [0.25, 0.25, 0.5] if after else [1 / 3, 1 / 3, 1 / 3]
    segment = rng.choice(["north", "south", "west"], n, p=shares)
    y = (x1 + 0.5 * x2 > shift).astype(int)
    if after:
        y = np.where(segment == "west", 1 - y, y)
    noise = rng.random(n) < 0.03
    y[noise] = 1 - y[noise]
    return pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "segment": segment, "y": y})


@dataclass(frozen=True)
class Stack:
    work: Path
    env: dict[str, str]
    mlflow: MlflowServer
    s3: S3Server
    api: ApiServer
    database_url: str
    before: Path
    after: Path

    def champion(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "champion", *args],
            env={**_clean_environ(), **self.env, "COLUMNS": "200"},
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check:
            assert done.returncode == 0, f"champion {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def json(self, *args: str) -> dict:
        return json.loads(self.champion(*args, "--json").stdout)

    def traffic(self, data: Path, n: int, seed: int) -> str:
        return self.champion(
            "simulate", "traffic", "--api", self.api.url, "--data", str(data), "--target", "y",
            "--n", str(n), "--concurrency", "16", "--users", "5000", "--seed", str(seed),
        ).stdout  # fmt: skip


def _clean_environ() -> dict[str, str]:
    """The test's environment without settings that could leak into the processes."""
    prefixes = ("CHAMPION_", "MLFLOW_", "AWS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def client_env(
    work: Path, mlflow: MlflowServer, account: tuple[str, str], database_url: str
) -> dict[str, str]:
    """What a champion process gets in the compose stack: URLs and credentials only.

    No S3 keys: the tracking server proxies artifacts (``--serve-artifacts``), so the
    clients never talk to the bucket themselves. ``account`` is the MLflow service
    account: the pipeline's for the lifecycle, the read-only one for the API.
    """
    return {
        "CHAMPION_HOME": str(work / "home"),
        "CHAMPION_MLFLOW_TRACKING_URI": mlflow.url,
        "CHAMPION_MLFLOW_USERNAME": account[0],
        "CHAMPION_MLFLOW_PASSWORD": account[1],
        "CHAMPION_DATABASE_URL": database_url,
        "CHAMPION_ADMIN_TOKEN": ADMIN_TOKEN,
        "CHAMPION_FEEDBACK_TOKEN": FEEDBACK_TOKEN,  # the API's, and the label pipeline's
        "CHAMPION_MODEL_NAME": "concept",
        "CHAMPION_TRAIN_BUDGET": "4",
        "CHAMPION_POLL_INTERVAL": "1",
        "CHAMPION_DRIFT_WINDOW": "600",
        "CHAMPION_RETRAIN_MIN_ROWS": "300",
        "CHAMPION_RETRAIN_ROWS": "700",  # the rows served since the shift
        "CHAMPION_AB_MIN_LABELLED": "100",
        "CHAMPION_SEED": "7",
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("production")
    before, after = work / "before.csv", work / "after.csv"
    concept(1500, after=False, seed=1).to_csv(before, index=False)
    concept(3000, after=True, seed=2).to_csv(after, index=False)
    with (
        pg_cluster(("mlflow", "champion")) as pg,
        s3_server(work) as s3,
        mlflow_server(
            work / "mlflow",
            backend_uri=pg.url("mlflow"),
            artifacts_destination=f"s3://{s3.bucket}/artifacts",
            env=s3.env(),
            workers=2,
        ) as mlflow,
    ):
        assert "created" in create_users(mlflow).stdout
        env = client_env(work, mlflow, PIPELINE, pg.url("champion"))
        bootstrap = subprocess.run(
            [sys.executable, "-m", "champion", "lifecycle", "bootstrap",
             "--data", str(before), "--target", "y"],
            env={**_clean_environ(), **env}, cwd=work, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
        api_env = client_env(work, mlflow, PREDICTOR, pg.url("champion"))
        with api_server(api_env, work, workers=2) as api:
            yield Stack(work, env, mlflow, s3, api, pg.url("champion"), before, after)


def create_users(
    mlflow: MlflowServer, admin_password: str = ADMIN_PASSWORD, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run the stack's one-shot account service against the tracking server."""
    env = {
        **_clean_environ(),
        "MLFLOW_ADMIN_USER": ADMIN_USER,
        "MLFLOW_ADMIN_PASSWORD": admin_password,
        "MLFLOW_PIPELINE_USER": PIPELINE[0],
        "MLFLOW_PIPELINE_PASSWORD": PIPELINE[1],
        "MLFLOW_API_USER": PREDICTOR[0],
        "MLFLOW_API_PASSWORD": PREDICTOR[1],
        "MLFLOW_USERS_WAIT": "5",
        **extra,
    }
    return subprocess.run(
        [sys.executable, str(USERS_SCRIPT), mlflow.url, "PIPELINE", "API"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _workers_versions(url: str, attempts: int = 60) -> dict[int, str]:
    """Champion version per worker pid, over fresh connections (the kernel spreads them)."""
    seen: dict[int, str] = {}
    for _ in range(attempts):
        body = requests.get(f"{url}/health", timeout=5, headers={"Connection": "close"}).json()
        seen[body["worker"]] = body["champion"]
    return seen


def test_the_tracking_server_requires_auth_and_stores_artifacts_in_s3(stack: Stack) -> None:
    search = f"{stack.mlflow.url}/api/2.0/mlflow/registered-models/search"
    assert requests.get(search, timeout=10).status_code == 401
    wrong = requests.get(search, auth=(ADMIN_USER, "wrong-password"), timeout=10)
    assert wrong.status_code == 401
    ok = requests.get(search, auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=10)
    assert ok.status_code == 200
    assert [m["name"] for m in ok.json()["registered_models"]] == ["concept"]
    keys = stack.s3.keys("artifacts/")
    assert any(k.endswith("MLmodel") for k in keys), keys[:20]
    assert any(k.endswith("model.pkl") or k.endswith(".skops") for k in keys), keys[:20]


def test_the_api_account_reads_the_registry_and_cannot_change_it(stack: Stack) -> None:
    base = f"{stack.mlflow.url}/api/2.0/mlflow"
    model = requests.get(
        f"{base}/registered-models/get", params={"name": "concept"}, auth=PREDICTOR, timeout=10
    )
    assert model.status_code == 200 and model.json()["registered_model"]["name"] == "concept"
    alias = {"name": "concept", "alias": "champion", "version": "1"}
    moved = requests.post(f"{base}/registered-models/alias", json=alias, auth=PREDICTOR, timeout=10)
    assert moved.status_code == 403, moved.text
    dropped = requests.delete(
        f"{base}/registered-models/alias",
        json={"name": "concept", "alias": "champion"}, auth=PREDICTOR, timeout=10,
    )  # fmt: skip
    assert dropped.status_code == 403, dropped.text
    tag = {"name": "concept", "version": "1", "key": "champion.digest", "value": "0" * 64}
    forged = requests.post(f"{base}/model-versions/set-tag", json=tag, auth=PREDICTOR, timeout=10)
    assert forged.status_code == 403, forged.text
    # the pipeline created the model, so it manages it (it moves the aliases in the DAG)
    moved = requests.post(f"{base}/registered-models/alias", json=alias, auth=PIPELINE, timeout=10)
    assert moved.ok, moved.text
    for account in (PIPELINE, PREDICTOR):
        user = requests.get(f"{base}/users/current", auth=account, timeout=10).json()["user"]
        assert user["is_admin"] is False, user
    assert ADMIN_PASSWORD not in json.dumps(stack.env)


def test_the_account_service_is_idempotent_and_refuses_bad_setups(stack: Stack) -> None:
    again = create_users(stack.mlflow)
    assert again.returncode == 0 and again.stdout.count("password reset") == 2, again.stderr
    wrong_admin = create_users(stack.mlflow, admin_password="not-the-password")
    assert wrong_admin.returncode == 2 and wrong_admin.stderr.count("\n") == 1
    assert "HTTP 401" in wrong_admin.stderr and "not-the-password" not in wrong_admin.stderr
    as_admin = create_users(stack.mlflow, MLFLOW_API_USER=ADMIN_USER)
    assert as_admin.returncode == 2 and "must not be the admin" in as_admin.stderr
    unset = create_users(stack.mlflow, MLFLOW_API_PASSWORD="")
    assert unset.returncode == 2 and "MLFLOW_API_PASSWORD" in unset.stderr
    # the accounts still log in with their passwords after all of that
    for account in (PIPELINE, PREDICTOR):
        assert requests.get(f"{stack.mlflow.url}/api/2.0/mlflow/users/current",
                            auth=account, timeout=10).ok  # fmt: skip


def test_the_lifecycle_through_the_production_pieces(stack: Stack) -> None:
    assert stack.json("registry", "list")  # the CLI reads the registry through the server
    first = _workers_versions(stack.api.url)
    assert len(first) == 2, "both workers must answer"
    assert set(first.values()) == {"1"}

    # stable traffic: no drift, nothing retrained
    stack.traffic(stack.before, 600, seed=11)
    calm = stack.json("lifecycle", "drift-check")
    # one observation per user (5,000 simulated users: a few of the 600 rows share one)
    assert calm["champion"] == "1" and 500 < calm["rows"] < 600
    assert calm["drifted"] is False, calm

    # the world moves: drift is found, a challenger is trained on the served rows
    stack.traffic(stack.after, 700, seed=12)
    moved = stack.champion("lifecycle", "drift-check", "--fail-on-drift", check=False)
    assert moved.returncode == 3, moved.stdout
    retrain = stack.json("lifecycle", "drift-retrain")
    assert retrain["drifted"] is True and "x1" in retrain["drifted_features"], retrain
    assert retrain["retrained"] is True and retrain["challenger"] == "2", retrain
    assert retrain["experiment_id"].startswith("v1-v2-")
    assert retrain["training_rows"] == 700

    # both workers pick the challenger up and split the traffic by user
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        models = requests.get(f"{stack.api.url}/models", timeout=5).json()
        if models["challenger"] and models["challenger"]["version"] == "2":
            break
        time.sleep(0.5)
    time.sleep(2.5)  # one more poll interval for the other worker
    out = stack.traffic(stack.after, 500, seed=13)
    shares = {v: re.search(rf"'{v}': (\d+)", out.split("variants", 1)[-1]) for v in "AB"}
    assert all(shares.values()), out
    assert min(int(m[1]) for m in shares.values() if m) > 150, out  # ~50/50 by user

    # evaluate on the schedule until the experiment concludes
    outcome: dict = {}
    for round_ in range(8):
        outcome = stack.json("lifecycle", "evaluate-promote")
        if outcome["applied"]:
            break
        stack.traffic(stack.after, 500, seed=20 + round_)
    assert outcome["applied"] == "promoted v2", outcome
    decision = outcome["decision"]
    assert decision["action"] == "promote"
    interval = decision["interval"]
    assert interval["lower"] > 0 and interval["estimate"] > 0.25, interval  # ~95 % vs ~50 %
    print(f"promoted after {round_ + 1} evaluations: {decision['interval']}")
    assert stack.json("registry", "list")

    # both workers serve the promoted version after their next poll
    deadline = time.monotonic() + 30
    seen: dict[int, str] = {}
    while time.monotonic() < deadline:
        seen = _workers_versions(stack.api.url)
        if len(seen) == 2 and set(seen.values()) == {"2"}:
            break
        time.sleep(0.5)
    assert len(seen) == 2 and set(seen.values()) == {"2"}, seen
    answers = [
        requests.post(
            f"{stack.api.url}/predict",
            json={"user_id": f"u{i}", "features": {"x1": 1.5, "x2": 0.1, "segment": "west"}},
            headers={"Connection": "close"},
            timeout=10,
        ).json()
        for i in range(40)
    ]
    assert {a["model_version"] for a in answers} == {"2"}
    assert {a["variant"] for a in answers} == {"A"}  # the experiment is over

    # every answered request of the run is in the PostgreSQL log
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        logged = conn.execute(text("SELECT count(*) FROM predictions")).scalar_one()
    engine.dispose()
    sent = 600 + 700 + 500 + 500 * round_ + 40
    assert logged == sent

    # no secret in the API's log
    log = stack.api.log_path.read_text()
    assert ADMIN_PASSWORD not in log and ADMIN_TOKEN not in log and FEEDBACK_TOKEN not in log
