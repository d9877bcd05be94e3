"""The API's log writer child under a real ``champion serve``: killed under load, the
requests of the commit it was making get 503, the API starts another and serves on, and
the log holds exactly the answered requests; stopped by a terminal's Ctrl-C, API and
child both exit cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from champion.predictionlog import EventStore, sqlite_url

from api_helpers import feature_rows, set_config
from servers import api_server, exited


@pytest.fixture(scope="module")
def rows(titanic):
    return feature_rows(titanic.frame, titanic.schema.features)


def _env(model_home, db) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": sqlite_url(db),
        "CHAMPION_ADMIN_TOKEN": "test-admin-token-0123456789",
    }


def _writer(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=10).json()["log_writer"]


def _load(url: str, rows: list[dict], stop: threading.Event, out: list) -> None:
    with httpx.Client(timeout=30) as client:
        i = 0
        while not stop.is_set():
            r = client.post(f"{url}/predict", json={"user_id": f"u{i}", "features": rows[i % 50]})
            rid = r.json()["request_id"] if r.status_code == 200 else None
            out.append((r.status_code, rid, r.text[:200]))
            i += 1


def _kill_under_load(url: str, rows: list[dict], pid: int) -> tuple[list, int]:
    """Eight clients posting; after a second ``pid`` is SIGKILLed, and they go on for
    five more (a new child takes about two seconds to import the log's code). The
    answers (status, request id, body) and how many came before the kill."""
    answers: list[tuple[int, str | None, str]] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_load, args=(url, rows, stop, answers)) for _ in range(8)]
    for c in clients:
        c.start()
    time.sleep(1.0)
    before = len(answers)
    os.kill(pid, signal.SIGKILL)
    time.sleep(5.0)
    stop.set()
    for c in clients:
        c.join()
    return answers, before


def _logged(db) -> set[str]:
    store = EventStore(sqlite_url(db))
    with store.engine.connect() as conn:
        ids = set(conn.execute(text("SELECT request_id FROM predictions")).scalars())
    store.dispose()
    return ids


def test_a_killed_writer_child_costs_only_its_commit(model_home, rows, tmp_path) -> None:
    db = tmp_path / "events.db"
    with api_server(_env(model_home, db), tmp_path) as api:
        set_config(api.url, mode="hash", split_b=0.5, experiment_id="kill")
        first = _writer(api.url)
        assert first["runs_in"] == "process" and first["pid"] != api.proc.pid
        answers, before = _kill_under_load(api.url, rows, first["pid"])
        second = _writer(api.url)
        log = api.log_path.read_text()
    statuses = {status for status, _, _ in answers}
    assert statuses <= {200, 503}, [a for a in answers if a[0] not in (200, 503)][:3]
    assert second["pid"] not in (None, first["pid"])
    after = [a for a in answers[before:] if a[0] == 200]
    assert len(after) > 100, "the API did not serve on with a new child"
    failed = [a for a in answers if a[0] == 503]
    assert len(failed) <= 8 * 2, failed  # at most the two commits in flight
    assert _logged(db) == {rid for status, rid, _ in answers if status == 200}
    assert "Traceback" not in log, log[-3000:]


def test_a_ctrl_c_stops_the_api_and_its_child_cleanly(model_home, rows, tmp_path) -> None:
    with api_server(_env(model_home, tmp_path / "events.db"), tmp_path) as api:
        child = _writer(api.url)["pid"]
        r = httpx.post(f"{api.url}/predict", json={"features": rows[0]}, timeout=10)
        assert r.status_code == 200
        for pid in (child, api.proc.pid):  # what a terminal does: the whole group
            os.kill(pid, signal.SIGINT)
        assert api.proc.wait(timeout=20) == 0
        assert exited(child, within=10)
        log = api.log_path.read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]


def _writers(url: str, tries: int = 40) -> dict[int, int]:
    """worker pid -> its log writer's pid, asking until both workers have answered."""
    seen: dict[int, int] = {}
    for _ in range(tries):  # a new connection each time: either worker may take it
        health = httpx.get(f"{url}/health", headers={"Connection": "close"}, timeout=10).json()
        seen[health["worker"]] = health["log_writer"]["pid"]
        if len(seen) == 2:
            break
    return seen


def test_two_workers_share_one_writer_and_each_falls_back_when_it_dies(
    model_home, rows, tmp_path
) -> None:
    db = tmp_path / "events.db"
    with api_server(_env(model_home, db), tmp_path, workers=2) as api:
        set_config(api.url, mode="hash", split_b=0.5, experiment_id="shared")
        shared = _writers(api.url)
        assert len(shared) == 2 and len(set(shared.values())) == 1, shared
        answers, _ = _kill_under_load(api.url, rows, next(iter(shared.values())))
        after = _writers(api.url)
        log = api.log_path.read_text()
    assert {status for status, _, _ in answers} <= {200, 503}
    assert len(after) == 2 and len(set(after.values())) == 2, after  # one each now
    assert not set(after.values()) & set(shared.values())
    assert _logged(db) == {rid for status, rid, _ in answers if status == 200}
    assert sum(status == 200 for status, _, _ in answers) > 200
    assert "Traceback" not in log, log[-3000:]
