"""Group commit: concurrent requests share one transaction, and each waits for it.

A request hands its prediction rows to :meth:`GroupCommitWriter.write` and awaits them.
One consumer task takes every row queued so far (up to ``max_batch``), inserts them in a
single transaction off the event loop, and then wakes all their requests — so a
response is sent only after its rows are committed, and the cost of a commit (an fsync)
is shared by everyone who arrived while the previous one ran.

What can go wrong, and what each request then gets:

* **a bad row** (the database refuses a value): a failed batch of several requests is
  retried one request at a time, so only the bad one fails (:class:`RowRejectedError`);
* **a database that is down**: the whole batch fails at once (no retries into an outage);
* **a database that hangs**: no request waits longer than ``deadline`` seconds. A
  request whose rows are not committed by then is answered 503; if the hung commit
  completes later, those rows are deleted again, so the log never holds a row whose
  request was refused. While a commit has been in flight longer than the deadline the
  writer is *stalled*: new rows are refused at once (503) instead of queueing, and
  :attr:`stalled` says so (``/ready``, ``/health``);
* **more rows waiting than** ``max_queue``: refused at once (503), so memory stays
  bounded under any load.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from champion.errors import BackendError, RowRejectedError
from champion.handoff import Inbox
from champion.predictionlog.commits import Commits, ThreadCommits
from champion.predictionlog.store import EventStore

log = logging.getLogger("champion.predictionlog")


@dataclass
class _Pending:
    rows: list[dict[str, Any]]
    future: asyncio.Future[None]
    expires: float  # its deadline, on the event loop's clock
    abandoned: bool = field(default=False)  # its request was answered 503 already


class GroupCommitWriter:
    """Batches prediction rows from concurrent requests into shared transactions.

    They run through ``commits`` (default: a thread of this process writing to
    ``store``; the API uses a child process, see :mod:`champion.predictionlog.commits`).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 512,
        max_queue: int = 20_000,
        deadline: float = 5.0,
        on_commit: Callable[[int, float], None] | None = None,
        commits: Commits | None = None,
        pipeline: int = 2,
    ) -> None:
        self.store = store
        self.commits = commits if commits is not None else ThreadCommits(store)
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.deadline = deadline
        self._on_commit = on_commit
        self._queue: Inbox[_Pending] = Inbox()
        self._queued_rows = 0
        self.pipeline = pipeline
        self._inflight: dict[object, float] = {}  # commit -> monotonic start
        self._commits_running: set[asyncio.Task[None]] = set()
        self._tidying: asyncio.Task[None] | None = None  # an orphan delete running
        self._holding = False  # the consumer holds a request between queue and commit
        self._orphans: list[str] = []  # committed after their request got a 503
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # every request not yet answered, oldest first (deadlines come in that order),
        # and one timer for the oldest: not a timer per request on the event loop
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._watch: asyncio.TimerHandle | None = None

    @property
    def _inflight_since(self) -> float | None:
        """When the oldest commit in flight started (None: none is)."""
        return min(self._inflight.values()) if self._inflight else None

    @property
    def stalled(self) -> bool:
        """True while a commit has been in flight for longer than the deadline."""
        since = self._inflight_since
        return since is not None and time.monotonic() - since > self.deadline

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def describe(self) -> dict[str, Any]:
        """Where the commits run and what is waiting (for ``/health``)."""
        return {
            "runs_in": self.commits.runs_in.value,
            "pid": self.commits.pid,
            "processes_started": self.commits.starts,
            "queued_rows": self._queued_rows,
            "commits_in_flight": len(self._inflight),
            "requests_waiting": len(self._waiting),  # for their commit, or their deadline
        }

    def start(self) -> None:
        try:
            self.commits.start()
        except BackendError as exc:  # the first commit tries again
            log.error("log writer: %s", exc)
        # the loop, kept: on Python 3.11 every ``get_running_loop`` is a getpid() call
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="group-commit")

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Return once ``rows`` are committed; raises :class:`BackendError` when they are
        not (and then they never will be), :class:`RowRejectedError` for a bad row."""
        if self.stalled:
            waited = time.monotonic() - (self._inflight_since or time.monotonic())
            raise BackendError(f"the database has not answered a commit for {waited:.0f} s")
        if self._queued_rows + len(rows) > self.max_queue:
            raise BackendError(f"{self._queued_rows} rows are waiting for the database")
        loop = self._loop or asyncio.get_running_loop()
        pending = _Pending(rows, loop.create_future(), loop.time() + self.deadline)
        self._queued_rows += len(rows)
        self._queue.put(pending)
        self._waiting.append(pending)
        if self._watch is None:
            self._watch = loop.call_at(pending.expires, self._expire_due)
        await pending.future

    def _expire_due(self) -> None:
        """Answer 503 to every request whose deadline has passed (if its rows are
        committed later, they are deleted again); then wait for the next deadline."""
        self._watch = None
        loop = asyncio.get_running_loop()
        waiting, now = self._waiting, loop.time()
        while waiting and (waiting[0].future.done() or waiting[0].expires <= now):
            pending = waiting.popleft()
            if not pending.future.done():
                pending.abandoned = True
                pending.future.set_exception(
                    BackendError(f"the database did not commit within {self.deadline:g} s")
                )
        if waiting:
            self._watch = loop.call_at(waiting[0].expires, self._expire_due)

    def _answer(self, batch: list[_Pending], exc: BaseException | None) -> None:
        """Answer ``batch``; forget the oldest requests once answered (commits finish
        in about the order they were asked for, so this keeps the list short)."""
        _settle(batch, exc)
        waiting = self._waiting
        while waiting and waiting[0].future.done():
            waiting.popleft()

    def _take(self, first: _Pending) -> list[_Pending]:
        batch, size = [first], len(first.rows)
        while size < self.max_batch and self._queue:
            item = self._queue.take()
            batch.append(item)
            size += len(item.rows)
        self._queued_rows -= sum(len(item.rows) for item in batch)
        return [item for item in batch if not item.abandoned]

    async def _insert(self, batch: list[_Pending]) -> None:
        rows = [row for item in batch for row in item.rows]
        token = object()
        self._inflight[token] = time.monotonic()
        start = time.perf_counter()
        try:
            await self.commits.insert(rows)
        finally:
            del self._inflight[token]
        if self._on_commit is not None:
            self._on_commit(len(rows), time.perf_counter() - start)

    async def _commit(self, batch: list[_Pending]) -> None:
        """Insert ``batch``; a bad row fails only its own request."""
        try:
            await self._insert(batch)
        except RowRejectedError as exc:
            if len(batch) == 1:
                self._answer(batch, exc)
                return
            for item in batch:  # one at a time: only the bad request fails
                if not item.abandoned:  # answered 503 meanwhile: never insert it now
                    await self._commit([item])
            return
        except Exception as exc:
            self._answer(batch, exc)
            return
        self._orphans += [r["request_id"] for item in batch if item.abandoned for r in item.rows]
        self._answer(batch, None)
        if self._orphans and self._tidying is None:  # now, not when the next request comes
            self._tidying = asyncio.get_running_loop().create_task(self._delete_orphans())

    async def _run(self) -> None:
        # ``pipeline`` commits in flight at once: the next batch is already with the
        # committer when the current one finishes, instead of waiting for the loop to
        # hear of it; the committer still runs them one after the other.
        slots = asyncio.Semaphore(self.pipeline)
        while True:
            await self._queue.wait()
            first = self._queue.take()
            self._holding = True  # close() waits for it: ``first`` is out of the queue
            try:
                await slots.acquire()
                batch = self._take(first)  # taken late: it holds all that queued meanwhile
            finally:
                self._holding = False
            if not batch:
                slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._commit(batch))
            self._commits_running.add(task)
            task.add_done_callback(lambda t: (self._commits_running.discard(t), slots.release()))

    async def _delete_orphans(self) -> None:
        ids, self._orphans = self._orphans, []
        token = object()
        self._inflight[token] = time.monotonic()  # a hung delete stalls the writer too
        try:
            await self.commits.delete(ids)
        except BaseException as exc:
            self._orphans = ids + self._orphans  # again after the next commit
            if not isinstance(exc, BackendError):
                raise
            log.warning("could not yet remove %d rows whose requests got 503: %s", len(ids), exc)
        else:
            log.warning("removed %d rows committed after their requests got 503", len(ids))
        finally:
            del self._inflight[token]
            self._tidying = None

    async def close(self) -> None:
        """Finish what is queued (within the deadline), then stop."""
        end = time.monotonic() + self.deadline
        while time.monotonic() < end and (
            self._queue or self._inflight or self._holding or self._tidying
        ):
            await asyncio.sleep(0.01)
        for task in [self._task, *self._commits_running, self._tidying]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._orphans:  # one last try, so a shutdown keeps no row of a 503
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._delete_orphans(), self.deadline)
        await self.commits.close()
        if self._watch is not None:
            self._watch.cancel()
        stopped = BackendError("the log writer has stopped")
        _settle(list(self._waiting), stopped)  # none waits on
        self._waiting.clear()


def _settle(batch: list[_Pending], exc: BaseException | None) -> None:
    for item in batch:
        if item.future.done() or item.abandoned:  # nobody awaits an abandoned one
            continue
        if exc is None:
            item.future.set_result(None)
        else:
            item.future.set_exception(exc)
