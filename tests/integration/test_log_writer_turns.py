"""API processes sharing a SQLite log take turns at its write lock through a file lock
beside it, so a commit waits in the kernel's queue instead of SQLite's busy sleeps."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from champion.errors import BackendError
from champion.predictionlog import EventStore, sqlite_url
from champion.predictionlog.schema import predictions

from log_helpers import plain_row

TESTS = Path(__file__).resolve().parents[1]


def _count(store: EventStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(predictions)).scalar_one())


def test_a_commit_waits_for_the_turn_and_then_lands(tmp_path) -> None:
    store = EventStore(sqlite_url(tmp_path / "events.db"))
    store.migrate()
    lock = tmp_path / "events.db-writers.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another worker's commit in progress
    done = threading.Event()
    writer = threading.Thread(
        target=lambda: (store.insert_predictions([plain_row(store, "e", user_id="u")]), done.set())
    )
    writer.start()
    try:
        assert not done.wait(0.5), "the commit did not wait for its turn"
        assert _count(store) == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert done.wait(5), "the commit did not land once the turn was free"
    writer.join()
    assert _count(store) == 1
    store.dispose()


def test_two_processes_commit_side_by_side_and_lose_nothing(tmp_path) -> None:
    url = sqlite_url(tmp_path / "events.db")
    store = EventStore(url)
    store.migrate()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from champion.predictionlog import EventStore
        from log_helpers import plain_row
        store = EventStore({url!r})
        for i in range(150):
            store.insert_predictions(
                [plain_row(store, "e", user_id=f"{{sys.argv[1]}}-{{i}}-{{k}}") for k in range(4)]
            )
        store.dispose()
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, name], stderr=subprocess.PIPE, text=True)
        for name in ("w1", "w2")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert _count(store) == 2 * 150 * 4
    store.dispose()


def test_a_lock_file_that_cannot_be_opened_is_a_backend_error(tmp_path) -> None:
    store = EventStore(sqlite_url(tmp_path / "events.db"))
    store.migrate()
    (tmp_path / "events.db-writers.lock").mkdir()  # in the way: os.open fails
    with pytest.raises(BackendError, match="log predictions"):
        store.insert_predictions([plain_row(store, "e", user_id="u")])
    assert _count(store) == 0
    store.dispose()
