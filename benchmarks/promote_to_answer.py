"""From ``champion promote`` to the first answer of the new version: by poll, by webhook.

    python benchmarks/promote_to_answer.py [--promotions 10] [--workers 2]

On 127.0.0.1: an ``mlflow server`` (basic auth, SQLite, webhooks allowed to private
HTTP addresses) holding Titanic v1 and v2, and two ``champion serve`` APIs on one
SQLite log, each with ``--workers``:

* **poll** — the default ``CHAMPION_POLL_INTERVAL`` (5 s), no webhook;
* **webhook** — the same poll, plus MLflow's registry webhook subscribed to its
  ``/hooks/mlflow`` (the worker it reaches reloads; the others see the registry signal
  within ``CHAMPION_SIGNAL_INTERVAL``, 0.25 s).

Each promotion alternates v1 and v2 through :func:`champion.lifecycle.promote_version`
(what ``champion promote`` runs), at a random moment of the poll cycle; a client sends
``/predict`` back to back over fresh connections (so every worker is asked) and records
when the new version first answers and when every worker answers with it (20 answers
in a row). Times are from the start of the promote call, which itself is reported.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from champion.datasets import load_dataset
from champion.lifecycle import promote_version, register_trained
from champion.predictionlog import sqlite_url
from champion.settings import load_settings
from champion.simulation.replay import records
from champion.tracking.connection import connect
from champion.tracking.webhooks import subscribe
from champion.training import TrainConfig, train
from champion.types import Alias

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from servers import ADMIN_PASSWORD, ADMIN_USER, api_server, mlflow_server  # noqa: E402

console = Console()
SECRET = "benchmark-registry-hook-secret"
IN_A_ROW = 20


def _first_and_all(url: str, row: dict, new: str, started: float) -> tuple[float, float]:
    first = None
    streak = 0
    with httpx.Client(timeout=5) as client:
        while time.monotonic() - started < 30:
            answer = client.post(
                f"{url}/predict", json={"features": row}, headers={"Connection": "close"}
            ).json()
            if answer["model_version"] == new:
                first = first if first is not None else time.monotonic() - started
                streak += 1
                if streak >= IN_A_ROW:
                    return first, time.monotonic() - started
            else:
                streak = 0
    raise TimeoutError(f"v{new} never answered everywhere at {url}")


def _measure(url: str, settings, row: dict, promotions: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    current = "1"
    for _ in range(promotions):
        time.sleep(rng.uniform(0.0, 5.0))  # a random moment of the poll cycle
        new = "2" if current == "1" else "1"
        started = time.monotonic()
        promote_version(settings, new, reason="benchmark")
        called = time.monotonic() - started
        first, every = _first_and_all(url, row, new, started)
        out.append((called, first, every))
        current = new
    return out


def _summary(name: str, rows: list[tuple]) -> list[str]:
    called = [r[0] for r in rows]
    first = [r[1] for r in rows]
    every = [r[2] for r in rows]
    return [
        name,
        str(len(rows)),
        f"{statistics.median(called):.2f}",
        f"{statistics.median(first):.2f}",
        f"{max(first):.2f}",
        f"{statistics.median(every):.2f}",
        f"{max(every):.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promotions", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = load_dataset("titanic")
    work = Path(tempfile.mkdtemp(prefix="champion-promote-"))
    mlflow_env = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    with ExitStack() as stack:
        mlflow = stack.enter_context(mlflow_server(work / "mlflow", env=mlflow_env))
        settings = load_settings(
            home=work, mlflow_tracking_uri=mlflow.url, mlflow_username=ADMIN_USER,
            mlflow_password=ADMIN_PASSWORD,
        )  # fmt: skip
        console.print("training and registering v1, v2 …")
        for alias, seed in zip(Alias, (1, 9), strict=True):
            result = train(data.frame, data.schema, TrainConfig(budget=2, seed=seed))
            register_trained(settings, data, result, register_as=alias, reason="benchmark")
        base = {
            "CHAMPION_MLFLOW_TRACKING_URI": mlflow.url,
            "CHAMPION_MLFLOW_USERNAME": ADMIN_USER,
            "CHAMPION_MLFLOW_PASSWORD": ADMIN_PASSWORD,
            "CHAMPION_DATABASE_URL": sqlite_url(work / "events.db"),
        }
        polled = stack.enter_context(api_server(base, work, workers=args.workers))
        hooked_env = {**base, "CHAMPION_REGISTRY_WEBHOOK_SECRET": SECRET}
        hooked = stack.enter_context(api_server(hooked_env, work, workers=args.workers))
        subscribe(connect(settings), f"{hooked.url}/hooks/mlflow", SECRET)
        time.sleep(1.5)
        row = records(data.frame, data.schema.features)[0]
        table = Table(
            title=f"promote → first answer of the new version (s), {args.workers} workers, "
            f"poll every 5 s"
        )
        for col in ("path", "promotions", "promote call", "first p50", "first max",
                    "every worker p50", "every worker max"):  # fmt: skip
            table.add_column(col, justify="right" if col != "path" else "left")
        for name, api in (("poll", polled), ("webhook", hooked)):
            console.print(f"{name}: {args.promotions} promotions …")
            rows = _measure(api.url, settings, row, args.promotions, seed=7)
            table.add_row(*_summary(name, rows))
        console.print(table)


if __name__ == "__main__":
    main()
