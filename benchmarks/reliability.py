"""Does the API hold under load, a crash and model swaps — and lose nothing?

    python benchmarks/reliability.py [--seconds 60]

Everything runs on 127.0.0.1: ``champion serve`` (one uvicorn worker) in a child process
over an embedded MLflow store with Titanic v1 = champion and v2 = challenger, a SQLite
prediction log (the PostgreSQL log's outage and recovery are in
``tests/system/test_reliability.py``), and an asyncio load generator in this process
that keeps every answered request id.

* **load c=16 / c=64** — ``--seconds`` of sustained load each: every response must be
  2xx and every answered request id must be in the log; RSS of the server at the start
  (after a warm-up) and at the end.
* **crash** — load at c=16, then ``SIGKILL`` of the server in the middle of it: every
  request that got a 2xx must be in the log (rows whose response was lost in flight may
  be there too), the SQLite file passes ``PRAGMA integrity_check``, and a restarted
  server on the same log is ready and serves.
* **hot swap** — load at c=16 while v2 is promoted and then rolled back through the
  registry: no failed request, and both versions answered.

Exit status 1 when any check fails. The README's reliability table comes from this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from champion.datasets import load_dataset
from champion.lifecycle import train_and_register
from champion.predictionlog import sqlite_url
from champion.serving.process import local_api
from champion.settings import load_settings
from champion.simulation.replay import records
from champion.tracking.registry import open_registry

console = Console()
TOKEN = "reliability-benchmark-token"  # a throwaway server's admin token


@dataclass
class Load:
    """What the load generator saw."""

    sent: int = 0
    ok_ids: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.sent - len(self.ok_ids)


async def run_load(
    url: str, rows: list[dict], *, concurrency: int, seconds: float, stop: asyncio.Event
) -> Load:
    load = Load()
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=30)
    start = time.perf_counter()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout
    ) as session:

        async def user(w: int) -> None:
            i = w
            while time.monotonic() < deadline and not stop.is_set():
                body = {"user_id": i, "features": rows[i % len(rows)]}
                load.sent += 1
                try:
                    async with session.post(f"{url}/predict", json=body) as response:
                        if response.status == 200:
                            payload = await response.json()
                            load.ok_ids.append(payload["request_id"])
                            v = payload["model_version"]
                            load.versions[v] = load.versions.get(v, 0) + 1
                        else:
                            await response.read()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    kind = type(exc).__name__
                    load.errors[kind] = load.errors.get(kind, 0) + 1
                    if stop.is_set() or kind in ("ClientConnectorError", "ServerDisconnectedError"):
                        await asyncio.sleep(0.05)
                i += concurrency

        await asyncio.gather(*(user(w) for w in range(concurrency)))
    load.seconds = time.perf_counter() - start
    return load


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def logged_ids(database_url: str, ids: list[str]) -> tuple[int, int]:
    """(rows in the log, answered ids missing from it)."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.connect() as conn:
        present = {row[0] for row in conn.execute(text("SELECT request_id FROM predictions"))}
    engine.dispose()
    return len(present), sum(1 for i in ids if i not in present)


def integrity(database_url: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        result = str(conn.execute(text("PRAGMA integrity_check")).scalar())
    engine.dispose()
    return result


@dataclass(frozen=True)
class Outcome:
    scenario: str
    load: Load
    logged: int
    missing: int
    note: str
    passed: bool


def _env(home: Path, database_url: str) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": database_url,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        "CHAMPION_AB_MODE": "off",
    }


def scenario_load(home: Path, work: Path, rows: list[dict], concurrency: int, seconds: float):
    database_url = sqlite_url(work / f"load-{concurrency}.db")
    with local_api(_env(home, database_url), work / f"load-{concurrency}.log") as api:
        warm = asyncio.run(
            run_load(api.url, rows, concurrency=concurrency, seconds=2, stop=asyncio.Event())
        )
        rss_start = rss_mb(api.pid)
        load = asyncio.run(
            run_load(api.url, rows, concurrency=concurrency, seconds=seconds, stop=asyncio.Event())
        )
        rss_end = rss_mb(api.pid)
    logged, missing = logged_ids(database_url, warm.ok_ids + load.ok_ids)
    passed = warm.failed == 0 and load.failed == 0 and missing == 0
    logged -= len(warm.ok_ids)  # the table shows the measured run only
    passed = passed and logged == len(load.ok_ids)
    note = f"{len(load.ok_ids) / load.seconds:,.0f} req/s; RSS {rss_start:.0f} → {rss_end:.0f} MB"
    return Outcome(f"load c={concurrency}, {seconds:.0f} s", load, logged, missing, note, passed)


def scenario_crash(home: Path, work: Path, rows: list[dict], kill_after: float) -> Outcome:
    database_url = sqlite_url(work / "crash.db")
    env = _env(home, database_url)

    async def load_then_kill(url: str, pid: int) -> Load:
        stop = asyncio.Event()

        async def killer() -> None:
            await asyncio.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(1.0)  # let the clients see the dead connections
            stop.set()

        load, _ = await asyncio.gather(
            run_load(url, rows, concurrency=16, seconds=kill_after + 30, stop=stop), killer()
        )
        return load

    with local_api(env, work / "crash.log") as api:
        load = asyncio.run(load_then_kill(api.url, api.pid))
    logged, missing = logged_ids(database_url, load.ok_ids)
    check = integrity(database_url)
    with local_api(env, work / "crash-restart.log") as api:
        after = asyncio.run(run_load(api.url, rows, concurrency=4, seconds=1, stop=asyncio.Event()))
    restarted = after.failed == 0 and len(after.ok_ids) > 0
    passed = missing == 0 and check == "ok" and restarted
    note = (
        f"SIGKILL after {kill_after:.0f} s: {len(load.ok_ids):,} answered, {logged:,} rows "
        f"({logged - len(load.ok_ids)} committed but unanswered); integrity {check}; "
        f"restart {'serves' if restarted else 'FAILED'}"
    )
    return Outcome("crash (SIGKILL mid-load)", load, logged, missing, note, passed)


def scenario_swap(home: Path, work: Path, rows: list[dict], seconds: float) -> Outcome:
    database_url = sqlite_url(work / "swap.db")
    settings = load_settings(home=home)
    registry = open_registry(settings)

    async def load_and_swap(url: str) -> Load:
        async def swaps() -> None:
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(registry.promote, actor="benchmark", reason="swap under load")
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(registry.rollback, actor="benchmark", reason="and back")

        load, _ = await asyncio.gather(
            run_load(url, rows, concurrency=16, seconds=seconds, stop=asyncio.Event()), swaps()
        )
        return load

    with local_api(_env(home, database_url), work / "swap.log") as api:
        load = asyncio.run(load_and_swap(api.url))
    logged, missing = logged_ids(database_url, load.ok_ids)
    both = len(load.versions) >= 2
    passed = load.failed == 0 and missing == 0 and both
    seen = ", ".join(f"v{v}: {n:,}" for v, n in sorted(load.versions.items()))
    note = f"promote at {seconds / 3:.0f} s, rollback at {2 * seconds / 3:.0f} s; answered {seen}"
    return Outcome("hot swap (promote + rollback)", load, logged, missing, note, passed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="per load scenario")
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    work = Path(tempfile.mkdtemp(prefix="champion-reliability-"))
    home = work / "home"
    titanic = load_dataset("titanic")
    rows = records(titanic.frame, titanic.schema.features)
    settings = load_settings(home=home)
    with console.status("training v1 (champion) and v2 (challenger)"):
        for alias, seed in (("champion", 1), ("challenger", 9)):
            train_and_register(
                settings, titanic, settings.training.config(budget=2, seed=seed),
                register_as=alias, reason=f"reliability benchmark {alias}",  # type: ignore[arg-type]
            )  # fmt: skip
    outcomes = []
    for concurrency in (16, 64):
        with console.status(f"load at c={concurrency} for {args.seconds:.0f} s"):
            outcomes.append(scenario_load(home, work, rows, concurrency, args.seconds))
    with console.status("crash: SIGKILL in the middle of load"):
        outcomes.append(scenario_crash(home, work, rows, kill_after=min(5.0, args.seconds)))
    with console.status("hot swap under load"):
        outcomes.append(scenario_swap(home, work, rows, seconds=max(6.0, args.seconds / 4)))

    table = Table(title=f"Reliability (work dir {work})")
    for col in ("scenario", "requests", "2xx", "failed", "logged", "2xx missing", "", "notes"):
        table.add_column(col, justify="right" if col in ("requests", "2xx", "failed") else "left")
    for o in outcomes:
        failures = o.load.failed
        detail = "connection errors after the kill" if o.load.errors else ""
        table.add_row(
            o.scenario,
            f"{o.load.sent:,}",
            f"{len(o.load.ok_ids):,}",
            f"{failures:,}" + (f" ({detail})" if detail else ""),
            f"{o.logged:,}",
            f"{o.missing}",
            "[green]pass[/]" if o.passed else "[red]FAIL[/]",
            o.note,
        )
    Console(width=max(console.width, 180)).print(table)
    sys.exit(0 if all(o.passed for o in outcomes) else 1)


if __name__ == "__main__":
    main()
