"""Faults, hostile input and secrets — through real servers on 127.0.0.1.

The long parts of the reliability suite (60 s of load, SIGKILL mid-load, swaps under
load) are ``benchmarks/reliability.py``; what is quick enough for every CI run is here:
the prediction log's database stopped and started again, the tracking server stopped
and started again, oversized and non-finite input, schemathesis over the API's own
OpenAPI schema, and a scan of the repository for committed secrets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from champion.lifecycle import model_status, start_experiment, train_and_register
from champion.predictionlog import EventStore, sqlite_url
from champion.settings import load_settings

from api_helpers import AUTH, TOKEN, feature_rows, set_config
from servers import (
    ADMIN_PASSWORD,
    api_server,
    free_port,
    mlflow_server,
    pg_cluster,
    postgres_available,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows(titanic):
    return feature_rows(titanic.frame, titanic.schema.features)


@pytest.fixture(scope="module")
def sqlite_api(model_home, tmp_path_factory):
    work = tmp_path_factory.mktemp("reliability-api")
    url = sqlite_url(work / "events.db")
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": url,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }
    with api_server(env, work) as api:
        store = EventStore(url)
        yield api, store
        store.dispose()


# -- bad input ------------------------------------------------------------------------------
def test_oversized_bodies_are_refused_before_they_are_read(sqlite_api, rows) -> None:
    api, store = sqlite_api
    before = store.count_predictions()
    huge = {"features": {**rows[0], "Sex": "x" * 3_000_000}}
    with httpx.Client(timeout=30) as client:
        declared = client.post(f"{api.url}/predict", json=huge)
        assert declared.status_code == 413
        assert "CHAMPION_MAX_BODY_BYTES" in declared.json()["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            body = json.dumps(huge).encode()
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        streamed = client.post(
            f"{api.url}/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        too_many = {"items": [{"features": rows[i % len(rows)]} for i in range(1001)]}
        batch = client.post(f"{api.url}/predict/batch", json=too_many)
        assert batch.status_code == 413 and "exceeds the limit 1000" in batch.text
        assert client.get(f"{api.url}/health").json()["status"] == "ok"  # still serving
    assert store.count_predictions() == before  # nothing logged


def test_non_finite_numbers_are_refused(sqlite_api, rows) -> None:
    api, store = sqlite_api
    before = store.count_predictions()
    good = json.dumps({"features": {**rows[0], "Fare": 7.25}})
    with httpx.Client(timeout=10) as client:
        for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
            raw = good.replace("7.25", literal)
            response = client.post(
                f"{api.url}/predict", content=raw, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (literal, response.text)
            assert response.json()["detail"][0]["loc"] == ["body", "features", "Fare"]
        answered = client.post(f"{api.url}/predict", json=json.loads(good)).json()
        label = json.dumps({"request_id": answered["request_id"], "label": 1.5})
        for literal in ("NaN", "Infinity"):
            response = client.post(
                f"{api.url}/feedback",
                content=label.replace("1.5", literal),
                headers={**AUTH, "content-type": "application/json"},
            )
            assert response.status_code == 422, (literal, response.text)
    assert store.count_predictions() == before + 1


FEEDBACK_TOKEN = "reliability-feedback-token-0123456789"


@pytest.mark.parametrize("token", [TOKEN, FEEDBACK_TOKEN], ids=["admin", "feedback"])
def test_schemathesis_finds_no_server_error(model_home, tmp_path, token) -> None:
    """Generated requests for every operation of /openapi.json, with the admin token and
    with the label pipeline's (a read token set too)."""
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": sqlite_url(tmp_path / "events.db"),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
        "CHAMPION_READ_TOKEN": "reliability-read-token-0123456789",
    }
    with api_server(env, tmp_path) as api:
        done = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", f"{api.url}/openapi.json",
                "--checks", "not_a_server_error", "--seed", "1",
                # the admin run covers every operation deeply; the feedback run checks what
                # a label pipeline's token reaches (CI time)
                "--max-examples", "100" if token == TOKEN else "25",
                "--header", f"Authorization: Bearer {token}",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        log = api.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts is not None, done.stdout[-2000:]
    generated, passed = int(counts[1]), int(counts[2])
    print(f"schemathesis: {generated} requests over every operation, {passed} without a 5xx")
    assert generated == passed and generated >= (500 if token == TOKEN else 100)


# -- the database goes away -------------------------------------------------------------------
@pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql")
def test_database_outage_is_503_and_recovers_without_restart(model_home, rows, tmp_path) -> None:
    with pg_cluster() as pg:
        env = {
            "CHAMPION_HOME": str(model_home),
            "CHAMPION_DATABASE_URL": pg.url(),
            "CHAMPION_ADMIN_TOKEN": TOKEN,
            "CHAMPION_POLL_INTERVAL": "0.5",
        }
        with api_server(env, tmp_path) as api, httpx.Client(timeout=30) as client:
            set_config(api.url, mode="off", experiment_id="outage")
            ok_ids = []
            for i in range(20):
                r = client.post(f"{api.url}/predict", json={"features": rows[i]})
                assert r.status_code == 200
                ok_ids.append(r.json()["request_id"])

            pg.stop()
            start = time.monotonic()
            down = client.post(f"{api.url}/predict", json={"features": rows[0]})
            assert time.monotonic() - start < 10  # an answer, not a hang
            assert down.status_code == 503, down.text
            assert "prediction log unavailable" in down.json()["detail"]
            ready = client.get(f"{api.url}/ready")
            assert ready.status_code == 503 and ready.json()["database"] is False
            time.sleep(1.2)  # a poll notices
            health = client.get(f"{api.url}/health").json()
            assert health["status"] == "degraded" and health["database"] is False
            label = {"request_id": ok_ids[0], "label": 1}
            feedback = client.post(f"{api.url}/feedback", headers=AUTH, json=label)
            assert feedback.status_code == 503

            pg.start()
            deadline = time.monotonic() + 20
            while client.get(f"{api.url}/ready").status_code != 200:
                assert time.monotonic() < deadline, "not ready again after the database returned"
                time.sleep(0.25)
            for i in range(20, 40):
                r = client.post(f"{api.url}/predict", json={"features": rows[i]})
                assert r.status_code == 200, r.text
                ok_ids.append(r.json()["request_id"])
            assert client.get(f"{api.url}/health").json()["database"] is True
        store = EventStore(pg.url())
        with store.engine.connect() as conn:
            query = "SELECT request_id FROM predictions WHERE experiment_id = 'outage'"
            logged = {row[0] for row in conn.execute(text(query))}
        store.dispose()
    assert logged == set(ok_ids)  # every 200 is logged, the 503 is not


# -- the tracking server goes away --------------------------------------------------------------
def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))}
    return subprocess.run(
        [sys.executable, "-m", "champion", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tracking_server_outage(titanic, rows, tmp_path, monkeypatch) -> None:
    """Serving goes on; evaluation fails cleanly and moves nothing; training waits for MLflow."""
    port = free_port()
    work = tmp_path / "mlflow"
    env = {
        "CHAMPION_HOME": str(tmp_path / "home"),
        "CHAMPION_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
        "CHAMPION_MLFLOW_USERNAME": "admin",
        "CHAMPION_MLFLOW_PASSWORD": ADMIN_PASSWORD,
        "CHAMPION_DATABASE_URL": sqlite_url(tmp_path / "events.db"),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        "CHAMPION_REGISTRY_CACHE_TTL": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    before = {"champion": "1", "challenger": "2"}
    with ExitStack() as stack:
        with mlflow_server(work, port=port):
            for alias, seed in (("champion", 1), ("challenger", 9)):
                train_and_register(
                    settings, titanic, settings.training.config(budget=2, seed=seed),
                    register_as=alias, reason=f"outage test {alias}",  # type: ignore[arg-type]
                )  # fmt: skip
            start_experiment(settings, mode="hash", split_b=0.5)
            api = stack.enter_context(api_server(env, tmp_path))
        # the tracking server is down from here on; the API loaded its models before
        client = stack.enter_context(httpx.Client(timeout=30))
        labels = titanic.frame["Survived"].tolist()
        for i in range(300):
            r = client.post(f"{api.url}/predict", json={"user_id": i, "features": rows[i]})
            assert r.status_code == 200
            feedback = {"request_id": r.json()["request_id"], "label": int(labels[i])}
            assert (
                client.post(f"{api.url}/feedback", headers=AUTH, json=feedback).status_code == 200
            )
        time.sleep(1.5)
        health = client.get(f"{api.url}/health").json()
        assert health["status"] == "degraded", health
        assert any("registry" in p for p in health["problems"]), health
        assert (health["champion"], health["challenger"]) == ("1", "2")

        # evaluation: one clear line, a non-zero exit, nothing moved
        start = time.monotonic()
        done = _cli(["lifecycle", "evaluate-promote"], env, tmp_path)
        assert time.monotonic() - start < 60
        assert done.returncode in (1, 2), done.stdout + done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "unreachable" in lines[0], done.stderr
        assert ADMIN_PASSWORD not in done.stdout + done.stderr + api.log_path.read_text()

        # training started while MLflow is down waits for it, then logs and registers
        waiting = subprocess.Popen(
            [sys.executable, "-m", "champion", "train", "--dataset", "titanic", "--budget", "2",
             "--register", "challenger", "--reason", "retrained during an outage"],
            env={**os.environ, **env, "CHAMPION_MLFLOW_WAIT": "120"},
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(4)
        assert waiting.poll() is None, "training must wait for the tracking server"
        with mlflow_server(work, port=port):
            out, err = waiting.communicate(timeout=300)
            assert waiting.returncode == 0, out + err
            assert "retrying to connect" in err
            # the failed evaluation moved nothing; the retraining registered v3
            assert model_status(settings) == {"champion": before["champion"], "challenger": "3"}
            # the API saw the registry back while the training ran (ok, still serving
            # v2), and loads v3 at a poll after its registration
            deadline = time.monotonic() + 20
            while (health := client.get(f"{api.url}/health").json())["status"] != "ok" or (
                health["challenger"] != "3"
            ):
                assert time.monotonic() < deadline, f"the API must recover by itself: {health}"
                time.sleep(0.25)


# -- secrets ----------------------------------------------------------------------------------
SECRET_PATTERNS = {
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{36}"),
    "Slack token": re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),
    "URL with a password": re.compile(r"://[^/\s:@]+:([^@\s/${}]{6,})@"),
}


def test_no_secret_is_committed() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert ".env" not in [Path(f).name for f in files]
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".gz", ".png", ".parquet"}:
            continue
        text = path.read_text(errors="replace")
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                found.append(f"{name}: {kind}: {match.group(0)[:40]}")
    assert found == []


# -- the long suite, briefly ----------------------------------------------------------------
def test_the_reliability_benchmark_runs_and_passes(tmp_path) -> None:
    """``benchmarks/reliability.py`` with 3 s per load scenario (60 s for the README)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "reliability.py"), "--seconds", "3"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("CHAMPION_", "MLFLOW_"))},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert done.stdout.count("pass") == 4 and "FAIL" not in done.stdout, done.stdout
