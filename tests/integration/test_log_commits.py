"""The group commits run in a child process of the API (``ProcessCommits``): the rows
land, a bad row fails alone, a child that dies mid-commit fails only that commit (its
rows are removed in case it had committed them), and the child outlives no API."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from champion.errors import BackendError, RowRejectedError
from champion.predictionlog import EventStore, GroupCommitWriter, sqlite_url
from champion.predictionlog.commits import ProcessCommits
from champion.predictionlog.schema import predictions

from log_helpers import plain_row
from servers import exited


@pytest.fixture
def store(tmp_path) -> Iterator[EventStore]:
    s = EventStore(sqlite_url(tmp_path / "events.db"))
    s.migrate()
    yield s
    s.dispose()


def _ids(store: EventStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(predictions.c.request_id)).scalars())


def _commits(store: EventStore) -> ProcessCommits:
    return ProcessCommits(store.url, model_name=store.model_name, statement_timeout=5.0)


def test_concurrent_requests_share_commits_in_the_child_and_a_bad_row_fails_alone(
    store,
) -> None:
    """200 requests at once land in shared commits; then 100 more, three of which reuse
    a committed request id (the database refuses them): only those three fail."""
    taken = plain_row(store, "e", user_id="first")
    store.insert_predictions([taken])
    shared = [[plain_row(store, "e", user_id=f"s{i}")] for i in range(200)]
    good = [[plain_row(store, "e", user_id=f"u{i}")] for i in range(97)]
    bad = [[{**plain_row(store, "e", user_id="dup"), "request_id": taken["request_id"]}]] * 3
    mixed = good[:30] + bad[:1] + good[30:60] + bad[1:] + good[60:]
    commits: list[int] = []

    async def run() -> tuple[list[BaseException | None], list[BaseException | None]]:
        writer = GroupCommitWriter(
            store,
            commits=_commits(store),
            max_batch=50,  # four commits: the first two overlap
            on_commit=lambda rows, _s: commits.append(rows),
        )
        writer.start()
        assert writer.describe()["runs_in"] == "process"
        child = writer.describe()["pid"]
        assert child != os.getpid()
        try:
            first = await asyncio.gather(*(writer.write(r) for r in shared), return_exceptions=True)
            assert 4 <= len(commits) < 20 and sum(commits) == 200  # shared, not one each
            assert writer.describe()["pid"] == child  # the first commits overlap: one child
            then = await asyncio.gather(*(writer.write(r) for r in mixed), return_exceptions=True)
            return first, then
        finally:
            await writer.close()

    first, then = asyncio.run(run())
    assert first == [None] * 200
    failed = [r for r in then if r is not None]
    assert len(failed) == 3 and all(isinstance(r, RowRejectedError) for r in failed), failed
    assert "UNIQUE" in str(failed[0])
    expected = {taken["request_id"]} | {r[0]["request_id"] for r in shared + good}
    assert _ids(store) == expected


def test_a_child_killed_mid_commit_fails_that_commit_only_and_its_rows_never_stay(
    store, tmp_path
) -> None:
    """The child waits for another writer's turn at the log (a file lock held here) and
    is killed: that request fails with a BackendError, a new child takes the next one,
    and rows the dead child might have committed are deleted before it."""
    lost = [plain_row(store, "e", user_id="lost")]
    after = [plain_row(store, "e", user_id="after")]

    async def run() -> tuple[BaseException | None, int, int]:
        writer = GroupCommitWriter(store, commits=_commits(store), deadline=30)
        writer.start()
        first = writer.describe()["pid"]
        fd = os.open(tmp_path / "events.db-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another worker is committing
        pending = asyncio.ensure_future(writer.write(lost))
        while writer.describe()["commits_in_flight"] == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the child is blocked on the lock
        os.kill(first, signal.SIGKILL)
        outcome = (await asyncio.gather(pending, return_exceptions=True))[0]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        store.insert_predictions(lost)  # as if the dead child had committed it
        await writer.write(after)
        second = writer.describe()["pid"]
        await writer.close()
        return outcome, first, second

    outcome, first, second = asyncio.run(run())
    assert isinstance(outcome, BackendError) and "exited" in str(outcome), outcome
    assert second != first
    assert _ids(store) == {after[0]["request_id"]}  # the lost row is gone, the next landed


def test_the_child_ignores_the_terminals_signals_and_exits_with_its_api(store) -> None:
    """A Ctrl-C reaches every process of the group: the child lives on until the API
    closes it, so the commits of a shutting-down API are still made and answered."""

    async def run() -> int:
        writer = GroupCommitWriter(store, commits=_commits(store))
        writer.start()
        pid = writer.describe()["pid"]
        await writer.write([plain_row(store, "e", user_id="before")])
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.3)
        await writer.write([plain_row(store, "e", user_id="after the signals")])
        assert writer.describe()["pid"] == pid  # the same child answered
        await writer.close()
        return pid

    pid = asyncio.run(run())
    assert exited(pid, within=5), "the child outlived its writer"
    assert len(_ids(store)) == 2


def test_the_child_reads_the_url_from_its_socket_not_its_command_line(tmp_path) -> None:
    """``ps`` shows a process's arguments to every user: a password in the log's URL
    must not be among them."""
    url = sqlite_url(tmp_path / "secret-name-s3cr3t.db")
    EventStore(url).migrate()
    commits = ProcessCommits(url, model_name="m", statement_timeout=5.0)
    commits.start()
    try:
        assert commits.pid is not None
        end = time.monotonic() + 5
        while True:  # empty for a moment around the exec
            with open(f"/proc/{commits.pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if argv != [b""] or time.monotonic() > end:
                break
            time.sleep(0.01)
        assert b"champion.predictionlog.commit_child" in argv
        assert not any(b"s3cr3t" in a for a in argv), argv
    finally:
        asyncio.run(commits.close())


def test_a_child_that_died_idle_is_replaced_without_failing_a_request(store) -> None:
    """Killed between commits (nothing in flight), the child costs no request: the next
    commit notices, starts another child and lands."""

    async def run() -> tuple[int, int]:
        writer = GroupCommitWriter(store, commits=_commits(store))
        writer.start()
        first = writer.describe()["pid"]
        await writer.write([plain_row(store, "e", user_id="before")])
        os.kill(first, signal.SIGKILL)
        assert exited(first, within=5)
        await asyncio.sleep(0.2)  # the loop reads the socket's end: the death is known
        await writer.write([plain_row(store, "e", user_id="after")])  # no BackendError
        second = writer.describe()["pid"]
        await writer.close()
        return first, second

    first, second = asyncio.run(run())
    assert second != first
    assert len(_ids(store)) == 2


def test_a_child_that_keeps_exiting_at_start_is_started_again_only_after_a_wait(
    store, capfd
) -> None:
    """A child that exits before answering anything (here: a log URL no driver takes)
    is started again at once the first time, then only after 0.5, 1, 2 … s: three
    seconds of commits start a handful of processes, not one per commit, and each
    commit fails with a BackendError saying so."""
    commits = ProcessCommits("nodriver://nowhere", model_name="m", statement_timeout=5.0)
    row = plain_row(store, "e", user_id="u")

    async def run() -> list[str]:
        failures = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            try:
                await commits.insert([row])
            except BackendError as exc:
                failures.append(str(exc))
            await asyncio.sleep(0.02)
        await commits.close()
        return failures

    failures = asyncio.run(run())
    assert 2 <= commits.starts <= 5, commits.starts
    waited = [f for f in failures if "times in a row before answering" in f]
    assert waited and len(failures) > 3 * commits.starts, (commits.starts, failures[:5])
    assert "the next start in" in waited[0]
    assert "NoSuchModuleError" in capfd.readouterr().err  # the child's reason, in the log


def test_rows_of_requests_answered_503_are_removed_even_with_no_traffic_after(
    store, tmp_path
) -> None:
    """A commit held up past the deadline lands after its request got 503, and nothing
    comes after it: the row is removed all the same, not at the next request."""
    late = [plain_row(store, "e", user_id="late")]
    landed: list[str] = []

    async def run() -> BaseException | None:
        writer = GroupCommitWriter(store, commits=_commits(store), deadline=0.5)
        writer.start()
        while True:  # the child takes longer than the deadline to start
            warm = [plain_row(store, "e", user_id="warm")]
            try:
                await writer.write(warm)
                break
            except BackendError:
                await asyncio.sleep(0.1)
        landed.append(warm[0]["request_id"])
        fd = os.open(tmp_path / "events.db-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # the commit waits past the deadline
        outcome = (await asyncio.gather(writer.write(late), return_exceptions=True))[0]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        end = time.monotonic() + 5
        while _ids(store) != set(landed) or writer.describe()["commits_in_flight"]:
            assert time.monotonic() < end, "the late row was not removed"
            await asyncio.sleep(0.05)
        await writer.close()
        return outcome

    outcome = asyncio.run(run())
    assert isinstance(outcome, BackendError) and "within 0.5 s" in str(outcome), outcome
    assert _ids(store) == set(landed)  # the late row and any warm-up 503s are gone


def test_each_waiting_request_gets_its_503_at_its_own_deadline(store, tmp_path) -> None:
    """One timer serves every request's deadline: with the commit held up, a request
    made 0.4 s after another is answered 503 a deadline after its own start, not at the
    first one's; afterwards nothing is left waiting and the writer serves on."""
    deadline = 0.8

    async def timed(rows: list[dict]) -> tuple[BaseException | None, float]:
        start = time.monotonic()
        try:
            await writer.write(rows)
        except BackendError as exc:
            return exc, time.monotonic() - start
        return None, time.monotonic() - start

    async def run() -> list[tuple[BaseException | None, float]]:
        writer.start()
        while (await timed([plain_row(store, "e", user_id="warm")]))[0] is not None:
            await asyncio.sleep(0.1)  # the child takes longer than the deadline to start
        fd = os.open(tmp_path / "events.db-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # every commit waits past the deadline
        first = asyncio.ensure_future(timed([plain_row(store, "e", user_id="first")]))
        await asyncio.sleep(0.4)
        second = asyncio.ensure_future(timed([plain_row(store, "e", user_id="second")]))
        outcomes = [await first, await second]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        end = time.monotonic() + 5
        while writer.describe()["commits_in_flight"]:
            assert time.monotonic() < end, "the held commit never finished"
            await asyncio.sleep(0.05)
        after = await asyncio.gather(
            *(timed([plain_row(store, "e", user_id=f"after{i}")]) for i in range(50))
        )
        outcomes += after
        assert writer.describe()["requests_waiting"] == 0
        await writer.close()
        return outcomes

    writer = GroupCommitWriter(store, commits=_commits(store), deadline=deadline)
    outcomes = asyncio.run(run())
    for exc, seconds in outcomes[:2]:
        assert isinstance(exc, BackendError) and f"within {deadline:g} s" in str(exc), exc
        assert deadline - 0.05 <= seconds < deadline + 0.35, outcomes[:2]
    assert [exc for exc, _ in outcomes[2:]] == [None] * 50
    assert {"first", "second"}.isdisjoint(_users(store))  # their rows were removed


def _users(store: EventStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(predictions.c.user_id)).scalars())


def test_inserts_arriving_together_share_a_transaction_and_a_bad_one_fails_alone(
    store,
) -> None:
    """The child's round: three workers' inserts and a delete answered in order; the
    inserts as one transaction, unless a value is refused, then each on its own."""
    from champion.predictionlog.commit_child import answer_all
    from champion.predictionlog.commits import _sendable

    def message(*users: str) -> tuple[str, list[dict]]:
        return "insert", [_sendable(plain_row(store, "e", user_id=u)) for u in users]

    gone = plain_row(store, "e", user_id="gone")
    store.insert_predictions([gone])
    calls: list[int] = []  # rows per transaction
    insert = store.insert_predictions
    store.insert_predictions = lambda rows: (calls.append(len(rows)), insert(rows))[1]
    together = [message("a", "b"), ("delete", [gone["request_id"]]), message("c"), message("d")]
    assert answer_all(store, together) == [("done", "")] * 4
    assert len(_ids(store)) == 4  # a, b, c, d; "gone" deleted
    assert calls == [4]

    taken = next(iter(_ids(store)))
    bad = ("insert", [{**message("x")[1][0], "request_id": taken}])
    answers = answer_all(store, [message("e"), bad, message("f")])
    assert [a[0] for a in answers] == ["done", "rejected", "done"], answers
    assert len(_ids(store)) == 6
    assert calls == [4, 3, 1, 1, 1]  # the merged try, then each on its own
