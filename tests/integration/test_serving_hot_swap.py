"""A promotion in the middle of load: no request fails, the new version answers after
the next poll (real uvicorn server, embedded MLflow store, SQLite log)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from champion.predictionlog import EventStore, sqlite_url
from champion.settings import load_settings
from champion.tracking.registry import open_registry

from api_helpers import TOKEN, feature_rows, set_config, two_models
from servers import api_server

POLL = 0.5


def test_promotion_during_load_drops_nothing(tmp_path, titanic, titanic_pair) -> None:
    home = tmp_path / "home"
    two_models(home, titanic, titanic_pair)
    rows = feature_rows(titanic.frame, titanic.schema.features)
    log_url = sqlite_url(tmp_path / "events.db")
    env = {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log_url,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": str(POLL),
    }
    with api_server(env, tmp_path) as api:
        set_config(api.url, mode="off", experiment_id="swap")  # all traffic to the champion
        results: list[tuple[float, int, str | None]] = []
        promoted_at: list[float] = []

        async def load() -> None:
            stop = time.monotonic() + 6.0
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:

                async def worker(w: int) -> None:
                    i = w
                    while time.monotonic() < stop:
                        body = {"user_id": i, "features": rows[i % len(rows)]}
                        async with session.post(f"{api.url}/predict", json=body) as response:
                            payload = await response.json()
                            version = (
                                payload.get("model_version") if response.status == 200 else None
                            )
                            results.append((time.monotonic(), response.status, version))
                        i += 16

                async def promote() -> None:
                    await asyncio.sleep(2.0)
                    settings = load_settings(home=home)
                    await asyncio.to_thread(
                        open_registry(settings).promote, actor="test", reason="during load"
                    )
                    promoted_at.append(time.monotonic())

                await asyncio.gather(promote(), *(worker(w) for w in range(16)))

        asyncio.run(load())

    statuses = [status for _, status, _ in results]
    assert len(results) > 200
    assert statuses.count(200) == len(statuses), {s: statuses.count(s) for s in set(statuses)}
    before = [v for t, _, v in results if t < promoted_at[0]]
    after = [v for t, _, v in results if t > promoted_at[0] + 2 * POLL + 1.0]
    assert set(before) == {"1"} and after and set(after) == {"2"}
    store = EventStore(log_url)
    assert store.count_predictions("swap") == len(results)  # every answer was logged
    store.dispose()
