"""Replay rows to a running prediction API and post their labels (HTTP client side).

Used by ``champion simulate traffic`` and by ``champion demo``. Requests go out
concurrently (``concurrency`` in flight) with a ``user_id`` each; labels follow through
``POST /feedback`` in batches, after ``label_delay`` seconds, for a ``label_share`` of
the answered requests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from champion.errors import BackendError, InvalidInputError

FEEDBACK_BATCH = 500


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: numpy scalars to Python, NaN to None."""
    out = []
    for record in frame.loc[:, list(columns)].to_dict("records"):
        out.append(
            {
                k: None
                if isinstance(v, float) and math.isnan(v)
                else (v.item() if hasattr(v, "item") else v)
                for k, v in record.items()
            }
        )
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class TrafficResult:
    """What a replay did."""

    sent: int
    answered: int
    labelled: int
    seconds: float
    variants: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # the first few failures, verbatim

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


async def _post_requests(
    client: httpx.AsyncClient,
    rows: list[dict[str, Any]],
    user_ids: list[str],
    concurrency: int,
    on_progress: Callable[[int], None] | None,
) -> tuple[list[dict[str, Any] | None], list[str]]:
    """Every row to ``POST /predict``, ``concurrency`` at a time: the answers (None where
    a request failed) and the first few failures, verbatim."""
    answers: list[dict[str, Any] | None] = [None] * len(rows)
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(rows)):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                response = await client.post(
                    "/predict", json={"user_id": user_ids[i], "features": rows[i]}
                )
                if response.status_code == 200:
                    answers[i] = response.json()
                elif len(errors) < 5:
                    errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
            except httpx.HTTPError as exc:
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
            if on_progress is not None:
                on_progress(1)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return answers, errors


async def _post_labels(
    client: httpx.AsyncClient,
    answers: list[dict[str, Any] | None],
    labels: list[Any],
    *,
    share: float,
    seed: int,
    token: str | None,
) -> int:
    """The labels of a random ``share`` of the answered requests, in batches; how many."""
    keep = np.random.default_rng(seed).random(len(answers)) < share
    items = [
        {"request_id": a["request_id"], "label": _plain(labels[i])}
        for i, a in enumerate(answers)
        if a is not None and keep[i]
    ]
    for k in range(0, len(items), FEEDBACK_BATCH):
        response = await client.post(
            "/feedback",
            json={"items": items[k : k + FEEDBACK_BATCH]},
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )
        if response.status_code != 200:
            raise BackendError(
                f"the API refused labels: HTTP {response.status_code} {response.text[:300]}"
            )
    return len(items)


async def _replay(
    url: str,
    rows: list[dict[str, Any]],
    labels: list[Any] | None,
    user_ids: list[str],
    *,
    concurrency: int,
    label_delay: float,
    label_share: float,
    seed: int,
    timeout: float,
    on_progress: Callable[[int], None] | None,
    token: str | None,
) -> TrafficResult:
    start = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        answers, errors = await _post_requests(client, rows, user_ids, concurrency, on_progress)
        labelled = 0
        if labels is not None:
            if label_delay > 0:
                await asyncio.sleep(label_delay)
            labelled = await _post_labels(
                client, answers, labels, share=label_share, seed=seed, token=token
            )
    done = [a for a in answers if a is not None]
    return TrafficResult(
        sent=len(rows),
        answered=len(done),
        labelled=labelled,
        seconds=time.perf_counter() - start,
        variants=dict(Counter(a["variant"] for a in done)),
        versions=dict(Counter(str(a["model_version"]) for a in done)),
        errors=tuple(errors),
    )


def send_traffic(
    api_url: str,
    frame: pd.DataFrame,
    features: Sequence[str],
    *,
    target: str | None = None,
    users: int = 1000,
    concurrency: int = 8,
    label_delay: float = 0.0,
    label_share: float = 1.0,
    seed: int = 0,
    timeout: float = 10.0,
    on_progress: Callable[[int], None] | None = None,
    token: str | None = None,
) -> TrafficResult:
    """Send every row of ``frame`` to ``POST /predict`` (``users`` distinct user ids,
    drawn with ``seed``); with ``target``, post that column as the labels afterwards,
    with ``token`` (the feedback or admin token) as the bearer credential."""
    if not 0 <= label_share <= 1:
        raise InvalidInputError(f"label share must be between 0 and 1, got {label_share}")
    if label_delay < 0:
        raise InvalidInputError(f"label delay must be >= 0 seconds, got {label_delay}")
    missing = [c for c in [*features, *([target] if target else [])] if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"the rows have no column(s) {', '.join(missing)}")
    rng = np.random.default_rng(seed)
    user_ids = [f"user-{u}" for u in rng.integers(0, max(users, 1), len(frame))]
    labels = [_plain(v) for v in frame[target].tolist()] if target else None
    return asyncio.run(
        _replay(
            api_url.rstrip("/"),
            records(frame, features),
            labels,
            user_ids,
            concurrency=concurrency,
            label_delay=label_delay,
            label_share=label_share,
            seed=seed,
            timeout=timeout,
            on_progress=on_progress,
            token=token,
        )
    )
