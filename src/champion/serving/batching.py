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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

from champion.handoff import Inbox
from champion.serving.compiled import Scored
from champion.serving.forest import MAX_STACKED_ROWS
from champion.serving.loading import LoadedModel

#: One model's rows of one request.
Job = tuple[LoadedModel, list[dict[str, Any]]]
#: What a job gets back: its rows' results, or the error its call raised.
Outcome = Scored | BaseException
#: One request's jobs (every model it needs, in one queue entry: one future, no task per
#: model) and where their outcomes go.
Item = tuple[list[Job], "asyncio.Future[list[Outcome]]"]
#: (item, job) positions.
Where = tuple[int, int]


def _one_thread_per_pool() -> None:
    # Estimators' own OpenMP pools on 2 cores only add start-up cost to small batches.
    threadpool_limits(limits=1)


class MicroBatcher:
    def __init__(
        self,
        *,
        max_rows: int = 512,
        inline_rows: int = MAX_STACKED_ROWS,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.max_rows = max_rows
        self._on_batch = on_batch
        self.inline_rows = inline_rows
        self.batches = 0
        self.rows = 0
        self._queue: Inbox[Item] = Inbox()
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="champion-score", initializer=_one_thread_per_pool
        )
        self._task: asyncio.Task[None] | None = None
        # the loop, kept: on Python 3.11 every ``get_running_loop`` is a getpid() call
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="micro-batch")

    async def score(self, model: LoadedModel, rows: list[dict[str, Any]]) -> Scored:
        """``model`` on ``rows``, batched with whatever else is waiting."""
        (outcome,) = await self.score_jobs([(model, rows)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def score_jobs(self, jobs: list[Job]) -> list[Outcome]:
        """Each job's model on its rows, all batched with whatever else is waiting: one
        outcome per job (a failed call's error in its place)."""
        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[list[Outcome]] = loop.create_future()
        self._queue.put((jobs, future))
        return await future

    @staticmethod
    def _score_groups(batch: list[Item], where: list[Where]) -> list[Outcome]:
        """The jobs at ``where``, one model call per distinct model."""
        groups: dict[int, list[int]] = defaultdict(list)
        for n, (i, j) in enumerate(where):
            groups[id(batch[i][0][j][0])].append(n)
        results: list[Outcome] = [None] * len(where)  # type: ignore[list-item]
        for members in groups.values():
            jobs = [batch[where[n][0]][0][where[n][1]] for n in members]
            model = jobs[0][0]
            rows = [row for _, job_rows in jobs for row in job_rows]
            began = time.perf_counter()
            try:
                scored = model.predictor.predict(rows)
            except Exception as exc:  # the requests of this call retry their own rows
                for n in members:
                    results[n] = exc
                continue
            seconds = time.perf_counter() - began
            start = 0
            for n, (_, job_rows) in zip(members, jobs, strict=True):
                stop = start + len(job_rows)
                results[n] = Scored(
                    scored.labels[start:stop], scored.probability[start:stop], seconds
                )
                start = stop
        return results

    def _take(self, first: Item) -> tuple[list[Item], int]:
        batch = [first]
        size = sum(len(rows) for _, rows in first[0])
        while size < self.max_rows and self._queue:
            item = self._queue.take()
            batch.append(item)
            size += sum(len(rows) for _, rows in item[0])
        return batch, size

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._queue.wait()
            batch, size = self._take(self._queue.take())
            outcomes: list[list[Outcome]] = [[None] * len(jobs) for jobs, _ in batch]  # type: ignore[list-item]
            here: list[Where] = []  # compiled-path models of a small batch: on the loop
            away: list[Where] = []
            small = size <= self.inline_rows
            for i, (jobs, _) in enumerate(batch):
                for j, (model, _) in enumerate(jobs):
                    (here if small and model.predictor.compiled else away).append((i, j))
            waiting = {i for i, _ in away}
            if here:
                try:
                    found = self._score_groups(batch, here)
                except Exception as exc:
                    found = [exc] * len(here)
                _place(outcomes, here, found)
            # requests that need nothing from the thread are answered now
            _deliver(batch, outcomes, [i for i in range(len(batch)) if i not in waiting])
            if away:
                try:
                    found = await loop.run_in_executor(
                        self._executor, self._score_groups, batch, away
                    )
                except Exception as exc:
                    found = [exc] * len(away)
                _place(outcomes, away, found)
                _deliver(batch, outcomes, sorted(waiting))
            self.batches += 1
            self.rows += size
            if self._on_batch is not None:
                self._on_batch(size)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)


def _place(outcomes: list[list[Outcome]], where: list[Where], found: list[Outcome]) -> None:
    for (i, j), outcome in zip(where, found, strict=True):
        outcomes[i][j] = outcome


def _deliver(batch: list[Item], outcomes: list[list[Outcome]], items: list[int]) -> None:
    for i in items:
        future = batch[i][1]
        if not future.done():  # else the request went away
            future.set_result(outcomes[i])
