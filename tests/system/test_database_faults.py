"""PostgreSQL misbehaving under the API: a bad row fails alone, a hung database answers
503 within the deadline (and keeps no row whose request was refused), and the API serves
again, without a restart, once the database is back."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from champion.errors import RowRejectedError
from champion.predictionlog import EventStore, GroupCommitWriter

from api_helpers import TOKEN, feature_rows, set_config
from log_helpers import plain_row
from servers import api_server, pg_cluster, postgres_available

pytestmark = pytest.mark.skipif(not postgres_available(), reason="apt-get install postgresql")


@pytest.fixture(scope="module")
def rows(titanic):
    return feature_rows(titanic.frame, titanic.schema.features)


def _logged(url: str, experiment: str) -> set[str]:
    store = EventStore(url)
    with store.engine.connect() as conn:
        query = text("SELECT request_id FROM predictions WHERE experiment_id = :e")
        ids = {row[0] for row in conn.execute(query, {"e": experiment})}
    store.dispose()
    return ids


def test_a_poison_row_fails_alone_in_its_group_commit() -> None:
    """Five rows the database refuses (a user id longer than its column) among 200: the
    200 are committed in shared transactions, only the five fail."""
    with pg_cluster() as pg:
        store = EventStore(pg.url())
        store.migrate()
        good = [[plain_row(store, "poison", user_id=f"u{i}")] for i in range(200)]
        bad = [[plain_row(store, "poison", user_id="9" * 300)] for _ in range(5)]
        mixed = good[:100] + bad + good[100:]

        async def write_all() -> list[BaseException | None]:
            writer = GroupCommitWriter(store, max_batch=64)
            writer.start()
            try:
                return await asyncio.gather(
                    *(writer.write(r) for r in mixed), return_exceptions=True
                )
            finally:
                await writer.close()

        results = asyncio.run(write_all())
        store.dispose()
        failed = [r for r in results if r is not None]
        assert len(failed) == 5 and all(isinstance(r, RowRejectedError) for r in failed)
        assert "value too long" in str(failed[0])
        assert _logged(pg.url(), "poison") == {rows[0]["request_id"] for rows in good}


def test_a_hung_database_is_503_within_the_deadline_and_recovers(
    model_home, rows, tmp_path
) -> None:
    deadline = 2.0
    with pg_cluster() as pg:
        env = {
            "CHAMPION_HOME": str(model_home),
            "CHAMPION_DATABASE_URL": pg.url(),
            "CHAMPION_ADMIN_TOKEN": TOKEN,
            "CHAMPION_POLL_INTERVAL": "0.5",
            "CHAMPION_LOG_DEADLINE": str(deadline),
        }
        with api_server(env, tmp_path) as api, httpx.Client(timeout=30) as client:
            set_config(api.url, mode="off", experiment_id="hang")
            ok = [client.post(f"{api.url}/predict", json={"features": rows[i]}) for i in range(20)]
            assert all(r.status_code == 200 for r in ok)
            ok_ids = {r.json()["request_id"] for r in ok}

            pg.pause()
            try:
                answers: list[tuple[int, float]] = []

                def one(i: int) -> None:
                    start = time.monotonic()
                    r = httpx.post(f"{api.url}/predict", json={"features": rows[i]}, timeout=30)
                    answers.append((r.status_code, time.monotonic() - start))

                threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert {status for status, _ in answers} == {503}, answers
                assert max(seconds for _, seconds in answers) < deadline + 2, answers
                start = time.monotonic()
                ready = client.get(f"{api.url}/ready")
                assert ready.status_code == 503 and time.monotonic() - start < deadline + 2
                health = client.get(f"{api.url}/health").json()
                assert health["status"] == "degraded", health
                start = time.monotonic()
                report = client.get(f"{api.url}/ab/report")
                assert report.status_code == 503 and time.monotonic() - start < deadline + 2
            finally:
                pg.resume()

            end = time.monotonic() + 30
            while client.get(f"{api.url}/ready").status_code != 200:
                assert time.monotonic() < end, "not ready again after the database resumed"
                time.sleep(0.25)
            again = [
                client.post(f"{api.url}/predict", json={"features": rows[i]}) for i in range(20)
            ]
            assert all(r.status_code == 200 for r in again), [r.text for r in again]
            ok_ids |= {r.json()["request_id"] for r in again}
            time.sleep(0.5)  # the writer removes rows committed after their 503
            log = api.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]
        print([line for line in log.splitlines() if "503" in line or "removed" in line][-3:])
        assert _logged(pg.url(), "hang") == ok_ids  # every 200 is logged, no 503 is
