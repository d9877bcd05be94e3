"""Where the group-commit writer's transactions run: a thread, or a child process.

The API's event loop is busy under load and holds the GIL most of the time. A commit run
on a thread of the same process needs the GIL back at every step (waking up, binding the
rows, after the database call, handing the result back), and each time waits for the
loop to let go of it: a commit the database finishes in under half a millisecond takes
two (docs/benchmarks.md). :class:`ProcessCommits` runs them in a child process of the
API's own, with its own interpreter; the loop only writes the rows to a socket and reads
one short answer, and never waits for the child.

The child is ``python -m champion.predictionlog.commit_child FD``: it reads the log's URL from
the socket (never from its command line, where ``ps`` would show a password), then
answers one request at a time. It ignores SIGINT and SIGTERM, which a terminal or a
service manager sends to the whole group, and exits when the API closes the socket, so
a commit in flight is finished and answered first. If the child dies, the commit in
flight fails with :class:`~champion.errors.BackendError` (its requests are answered
503), a new child is started for the next commit, and the rows of the lost commit are
deleted first, since it cannot be known whether the dead child committed them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from champion.errors import BackendError, RowRejectedError
from champion.predictionlog.writes import PredictionWrites
from champion.types import LogWriter

log = logging.getLogger("champion.predictionlog")
HEADER = struct.Struct("!I")  # the length of the pickled message that follows


class Op(StrEnum):
    """What the writer asks of the child."""

    INSERT = "insert"
    DELETE = "delete"


class Outcome(StrEnum):
    """How the child answers."""

    DONE = "done"
    REJECTED = "rejected"  # RowRejectedError: a row's value was refused
    FAILED = "failed"  # BackendError: the database failed


class Commits(Protocol):
    """The writer's transactions, run off the event loop."""

    runs_in: LogWriter
    starts: int  # processes started for the commits (0: they run in this one)

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    async def insert(self, rows: list[dict[str, Any]]) -> None: ...

    async def delete(self, request_ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class ThreadCommits:
    """On one dedicated thread of this process, through ``store``."""

    runs_in = LogWriter.THREAD
    starts = 0

    def __init__(self, store: PredictionWrites) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="champion-log")

    @property
    def pid(self) -> int:
        return os.getpid()

    def start(self) -> None:
        pass

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.store.insert_predictions, rows)

    async def delete(self, request_ids: Sequence[str]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.store.delete_predictions, request_ids)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


#: Seconds before starting a child again after two in a row exited before answering;
#: doubling with each further one, up to the max.
RESTART_BACKOFF = 0.5
MAX_RESTART_BACKOFF = 30.0


class _Child:
    """The API's connection to a child: one it started (``spawn``), or the one the
    workers share (``connect``).

    Calls may overlap: each message is written at once and its answer, which the child
    sends in the same order, resolves the oldest waiting call.
    """

    def __init__(self, sock: socket.socket, process: subprocess.Popen[bytes] | None, pid: int):
        self.socket = sock
        self.process = process  # None: not ours to reap
        self.pid = pid
        self._opened: asyncio.Future[asyncio.StreamWriter] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: collections.deque[asyncio.Future[tuple[Outcome, str]]] = collections.deque()
        self.answered = False  # it has answered a call: it did start

    @classmethod
    def spawn(cls, config: tuple[str, str, float | None], listener: int | None = None) -> _Child:
        """Start a child that commits for this socket (and, with ``listener``, for every
        connection made to that listening socket)."""
        ours, theirs = socket.socketpair()
        fds = (theirs.fileno(),) if listener is None else (theirs.fileno(), listener)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "champion.predictionlog.commit_child", *map(str, fds)],
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            ours.sendall(frame(config))
        except BaseException:
            ours.close()
            process.kill()
            raise
        return cls(ours, process, process.pid)

    @classmethod
    def connect(cls, shared: str) -> _Child:
        """Connect to the child the workers share (``PID:PATH`` of its socket)."""
        pid, _, path = shared.partition(":")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except BaseException:
            sock.close()
            raise
        return cls(sock, None, int(pid))

    async def call(self, message: tuple[Op, Any]) -> tuple[Outcome, str]:
        if self._opened is None:  # once, however many calls come first
            self._opened = asyncio.ensure_future(self._open())
        writer = await asyncio.shield(self._opened)
        if self._reading is not None and self._reading.done():
            raise _Lost
        data = frame(message)  # before the answer is awaited: a failure here leaves no gap
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        writer.write(data)
        return await answer  # cancelled: its answer is read and dropped all the same

    async def _open(self) -> asyncio.StreamWriter:
        reader, self._writer = await asyncio.open_connection(sock=self.socket)
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))
        return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                outcome, detail = pickle.loads(await reader.readexactly(size))
                answer = self._waiting.popleft()
                self.answered = True
                if not answer.done():
                    answer.set_result((Outcome(outcome), detail))
        except (OSError, EOFError, asyncio.IncompleteReadError):
            pass  # the child exited, or its socket was closed
        except Exception:  # an answer that cannot be read: the stream is out of step
            log.exception("unreadable answer from the log writer process")
        while self._waiting:  # the child is gone: nothing else will be answered
            answer = self._waiting.popleft()
            if not answer.done():
                answer.set_exception(_Lost())

    @property
    def alive(self) -> bool:
        """False once the child has exited or its answers can no longer be read."""
        if self.process is not None and self.process.poll() is not None:
            return False
        return not (self._reading and self._reading.done())

    def close(self) -> None:
        """Close the socket (on the event loop's thread): the child finishes what it was
        doing, then exits."""
        if self._writer is not None:
            self._writer.close()  # closes the socket once its buffer is written
        else:
            self.socket.close()

    def reap(self, wait: float) -> None:
        """Wait for the child to exit (blocking: run it on a thread), then kill it."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ProcessCommits:
    """In a child process that opens its own connection to the log (see the module).

    Calls may overlap (the writer keeps two commits in flight); the child runs them in
    the order they were made.
    """

    runs_in = LogWriter.PROCESS

    def __init__(
        self,
        url: str,
        *,
        model_name: str,
        statement_timeout: float | None = None,
        shared: str | None = None,
    ) -> None:
        """``shared``: ``PID:PATH`` of the child the workers share (see
        :func:`shared_writer`); None, or unreachable: a child of this worker's own."""
        self._config = (url, model_name, statement_timeout)
        self._shared = shared  # the socket of the child the workers share, if any
        self._child: _Child | None = None
        self._unsure: list[str] = []  # rows of a commit whose child died during it
        self.starts = 0  # children started by this worker
        # children in a row that exited before answering anything (a broken
        # environment, say): the next start waits, so the API does not spawn a process
        # for every commit while they keep exiting
        self._failed_starts = 0
        self._next_start = 0.0  # monotonic

    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first start and after a loss)."""
        return None if self._child is None else self._child.pid

    def start(self) -> None:
        if self._child is not None:
            return
        if self._shared is not None:
            try:
                self._child = _Child.connect(self._shared)
                return
            except OSError as exc:  # gone: this worker commits through a child of its own
                log.warning("no shared log writer at %s (%s): starting one", self._shared, exc)
                self._shared = None
        wait = self._next_start - time.monotonic()
        if wait > 0:
            raise BackendError(
                f"the log writer process exited {self._failed_starts} times in a row before "
                f"answering (see the API's log); the next start in {wait:.1f} s"
            )
        try:
            self._child = _Child.spawn(self._config)
        except OSError as exc:
            raise BackendError(f"cannot start the log writer process: {exc}") from exc
        self.starts += 1

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        if self._unsure:
            await self.delete([])
        try:
            await self._call(Op.INSERT, [_sendable(row) for row in rows])
        except _Lost:
            self._unsure += [row["request_id"] for row in rows]
            raise BackendError("the log writer process exited during a commit") from None
        except asyncio.CancelledError:  # sent, maybe committed: delete at close
            self._unsure += [row["request_id"] for row in rows]
            raise

    async def delete(self, request_ids: Sequence[str]) -> None:
        unsure, self._unsure = self._unsure, []  # more may be lost while this runs
        try:
            await self._call(Op.DELETE, [*unsure, *request_ids])
        except BaseException as exc:
            self._unsure = unsure + self._unsure
            if isinstance(exc, _Lost):
                raise BackendError("the log writer process exited during a delete") from None
            raise

    async def _call(self, op: Op, payload: Any) -> None:
        if self._child is not None and not self._child.alive:
            # died with nothing in flight: a new child takes this call, nothing is lost
            log.warning("the log writer process %d is gone; starting another", self._child.pid)
            self._lose(self._child)
        self.start()
        child = self._child
        assert child is not None
        try:
            outcome, detail = await child.call((op, payload))
        except (_Lost, OSError) as exc:
            if self._child is child:
                self._lose(child)
            raise _Lost from exc
        if outcome is Outcome.REJECTED:
            raise RowRejectedError(detail)
        if outcome is Outcome.FAILED:
            raise BackendError(detail)

    def _lose(self, child: _Child) -> None:
        if child.answered or child.process is None:
            self._failed_starts, self._next_start = 0, 0.0
        else:
            self._failed_starts += 1
            if self._failed_starts > 1:  # the first such loss restarts at once
                delay = RESTART_BACKOFF * 2 ** (self._failed_starts - 2)  # 0.5, 1, 2 …
                self._next_start = time.monotonic() + min(delay, MAX_RESTART_BACKOFF)
        child.close()
        if child.process is not None:
            with contextlib.suppress(OSError):
                child.process.kill()  # reaped by subprocess once its Popen is gone
        self._child = None

    async def close(self) -> None:
        """Delete the rows of commits cut short, then let the child finish and exit."""
        if self._unsure and self._child is not None and self._child.alive:
            with contextlib.suppress(BackendError, TimeoutError):
                await asyncio.wait_for(self.delete([]), 5.0)
        if self._child is not None:
            child, self._child = self._child, None
            child.close()
            await asyncio.to_thread(child.reap, 5.0)


#: how ``champion serve --workers N`` tells its workers where the shared child listens
SHARED_ENV = "CHAMPION_LOG_WRITER_SOCKET"


@contextlib.contextmanager
def shared_writer(
    url: str, *, model_name: str, statement_timeout: float | None = None
) -> Iterator[str]:
    """One child committing for all the workers of one server; yields ``PID:PATH`` of it
    and its socket (in a directory only this user can enter), for :data:`SHARED_ENV`.

    Each worker's requests would otherwise be committed by a child of its own: twice the
    commits, each half the size, taking turns at the one SQLite write lock. The shared
    child makes the requests that arrive together from any worker one transaction. A
    worker that cannot reach it (the child died) starts a child of its own.
    """
    folder = tempfile.mkdtemp(prefix="champion-log-")
    path = os.path.join(folder, "commits.sock")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(128)
            # only the child keeps it open: once the child is gone, connecting fails at once
            child = _Child.spawn((url, model_name, statement_timeout), listener.fileno())
        try:
            yield f"{child.pid}:{path}"
        finally:
            child.socket.close()  # the child exits when this closes
            child.reap(5.0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Lost(Exception):
    """The child died or its socket broke before it answered."""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _sendable(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its time as integer microseconds since the epoch (exact): pickling
    an aware datetime costs a call into Python for each one, most of a row's cost."""
    return row | {"created_at": (row["created_at"] - EPOCH) // _MICROSECOND}


def received(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the API made them (the child's side of :func:`_sendable`)."""
    return [row | {"created_at": EPOCH + row["created_at"] * _MICROSECOND} for row in rows]


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body
