"""Group commit: concurrent requests share one transaction, and each waits for it.

A request hands its prediction row to :meth:`GroupCommitWriter.write` and awaits it. One
consumer task takes every row queued so far (up to ``max_batch``), inserts them in a
single transaction on a dedicated thread, and then wakes all their requests — so a
response is sent only after its row is committed, and the cost of a commit (an fsync)
is shared by everyone who arrived while the previous one ran. A failed commit fails
every request of that batch (they answer 503), and nothing of the batch is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from champion.predictionlog.store import EventStore


class GroupCommitWriter:
    """Batches prediction rows from concurrent requests into shared transactions."""

    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 512,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[tuple[list[dict[str, Any]], asyncio.Future[None]]] = (
            asyncio.Queue()
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="champion-log")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Return once ``rows`` are committed (raises what the commit raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((rows, future))
        await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0][0])
            while size < self.max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item[0])
            rows = [row for item_rows, _ in batch for row in item_rows]
            start = time.perf_counter()
            try:
                await loop.run_in_executor(self._executor, self.store.insert_predictions, rows)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if self._on_commit is not None:
                self._on_commit(len(rows), time.perf_counter() - start)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)
