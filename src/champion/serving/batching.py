"""Micro-batching: concurrent requests share one model call.

Requests hand their rows and the model that should score them to
:meth:`MicroBatcher.score`. One consumer takes everything queued so far (no waiting for
more: the batch is whatever arrived while the previous call ran, so a lone request pays
no delay), groups it by model, calls each model once, and hands every request its rows'
results. Under load, per-call overhead — input checks, thread start-up inside the
estimator — is paid once per batch instead of once per request.

Where the calls run: in a batch of at most ``inline_rows`` rows (48 by default), the
models with the compiled numpy path are scored on the event loop itself: such a call is
a fraction of a millisecond, and handing it to a thread costs more than the call — the
thread and the loop take the GIL from each other at every numpy and booster call, and
every hand-back wakes the loop through its self-pipe (docs/benchmarks.md). Pipeline-path
models and large batches (milliseconds each) go to one dedicated thread so the loop
keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

from champion.serving.compiled import Scored
from champion.serving.forest import MAX_STACKED_ROWS
from champion.serving.loading import LoadedModel

Item = tuple[LoadedModel, list[dict[str, Any]], "asyncio.Future[Scored]"]


def _one_thread_per_pool() -> None:
    # Estimators' own OpenMP pools on 2 cores only add start-up cost to small batches.
    threadpool_limits(limits=1)


class MicroBatcher:
    def __init__(self, *, max_rows: int = 512, inline_rows: int = MAX_STACKED_ROWS) -> None:
        self.max_rows = max_rows
        self.inline_rows = inline_rows
        self.batches = 0
        self.rows = 0
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="champion-score", initializer=_one_thread_per_pool
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batch")

    async def score(self, model: LoadedModel, rows: list[dict[str, Any]]) -> Scored:
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        await self._queue.put((model, rows, future))
        return await future

    @staticmethod
    def _score_groups(batch: list[Item]) -> list[Scored | BaseException]:
        groups: dict[int, list[int]] = defaultdict(list)
        for i, (model, _, _) in enumerate(batch):
            groups[id(model)].append(i)
        results: list[Scored | BaseException] = [None] * len(batch)  # type: ignore[list-item]
        for members in groups.values():
            model = batch[members[0]][0]
            rows = [row for i in members for row in batch[i][1]]
            began = time.perf_counter()
            try:
                scored = model.predictor.predict(rows)
            except Exception as exc:  # the requests of this call retry their own rows
                for i in members:
                    results[i] = exc
                continue
            seconds = time.perf_counter() - began
            start = 0
            for i in members:
                n = len(batch[i][1])
                results[i] = Scored(
                    scored.labels[start : start + n],
                    scored.probability[start : start + n],
                    seconds,
                )
                start += n
        return results

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0][1])
            while size < self.max_rows and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item[1])
            here: list[Item] = []  # compiled-path models of a small batch: on the loop
            away: list[Item] = batch
            if size <= self.inline_rows:
                here, away = [], []
                for item in batch:
                    (here if item[0].predictor.compiled else away).append(item)
            if here:
                try:
                    _deliver(here, self._score_groups(here))
                except Exception as exc:
                    _deliver(here, [exc] * len(here))
            if away:
                try:
                    results = await loop.run_in_executor(self._executor, self._score_groups, away)
                except Exception as exc:
                    results = [exc] * len(away)
                _deliver(away, results)
            self.batches += 1
            self.rows += size

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)


def _deliver(batch: list[Item], results: list[Scored | BaseException]) -> None:
    for (_, _, future), result in zip(batch, results, strict=True):
        if future.done():  # the request went away
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
