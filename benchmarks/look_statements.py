"""Where an A/B look's time goes on PostgreSQL: the SQL statements of one look, timed.

    python benchmarks/look_statements.py [--rows 1000000] [--new-share 0.01] [--keep-every 0]

Fills a PostgreSQL cluster it starts in a temporary directory with the benchmark
experiment of ``log_scale.py`` (``_log_fill.py``), times a first look, adds 1 % more
rows (``--new-share``), then times a next look and a repeat look, each statement by statement
(SQLAlchemy's cursor events) and prints the slowest statements of each with their count.
With ``--keep-every K`` the new rows arrive in chunks of K, each followed by what the
API does between looks (``EventStore.keep_up``, timed too), so the next look reads only
the last chunk.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from _log_fill import FIRST_S, STEP_S, fill, fill_kept_up
from champion.abtest import Policy
from champion.predictionlog import EventStore
from champion.types import ABMode, Task

HERE = Path(__file__).resolve().parent


def _at(rows: int) -> float:
    return FIRST_S + rows * STEP_S + 90.0


def _look(store: EventStore, at: float) -> None:
    store.evaluate(
        "bench", champion="1", challenger="2", task=Task.CLASSIFICATION, mode=ABMode.HASH,
        split_b=0.5, policy=Policy(), now=datetime.fromtimestamp(at, UTC),
    )  # fmt: skip


def _timed(store: EventStore) -> dict[str, list[float]]:
    stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    @event.listens_for(store.engine, "before_cursor_execute")
    def before(conn, cursor, statement, params, context, many) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(store.engine, "after_cursor_execute")
    def after(conn, cursor, statement, params, context, many) -> None:
        entry = stats[" ".join(statement.split())[:110]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info["started"]

    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--new-share", type=float, default=0.01)
    parser.add_argument("--keep-every", type=int, default=0, help="rows between upkeeps")
    args = parser.parse_args()
    n, new = args.rows, max(1, int(args.rows * args.new_share))
    sys.path.insert(0, str(HERE.parent / "tests"))
    from servers import pg_cluster  # the tests' throwaway cluster

    with pg_cluster(("events",)) as pg:
        store = EventStore(pg.url("events"), model_name="bench-model")
        store.migrate()
        fill(store, n)
        stats = _timed(store)
        _report(store, stats, "first look (no kept sums)", _at(n))
        cursor = int((_at(n) - FIRST_S) / STEP_S) + 1
        if args.keep_every:
            kept = sorted(fill_kept_up(store, new, offset=cursor, every=args.keep_every))
            median, top = kept[len(kept) // 2], kept[-1]
            print(f"{len(kept)} upkeeps of {args.keep_every:,} rows: "
                  f"median {median:.2f} s, max {top:.2f} s")  # fmt: skip
        else:
            fill(store, new, offset=cursor)
        cursor += new
        label = f"next look (+{new:,} rows)"
        for name, at in ((label, _at(cursor)), ("repeat look", _at(cursor) + 5)):
            _report(store, stats, name, at)
        store.dispose()


def _report(store: EventStore, stats: dict[str, list[float]], name: str, at: float) -> None:
    """Take a look at ``at`` and print its time and its slowest statements."""
    stats.clear()
    start = time.perf_counter()
    _look(store, at)
    total = time.perf_counter() - start
    sql = sum(v[1] for v in stats.values())
    print(f"{name}: {total:.2f} s, of which SQL {sql:.2f} s", flush=True)
    for statement, (count, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"  {seconds:6.2f} s  x{count:<3d} {statement}", flush=True)


if __name__ == "__main__":
    main()
