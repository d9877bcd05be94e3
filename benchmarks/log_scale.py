"""Benchmark: the A/B evaluation at production log sizes, from kept sums vs from rows.

    python benchmarks/log_scale.py [--sizes 100000,1000000,10000000] [--databases sqlite,postgresql]

One hash-mode experiment of a binary classifier (``_log_fill.py``: users repeat, half the
rows labelled, both models score every row) is grown to each size, in a SQLite file and
in a PostgreSQL cluster this script starts in a temporary directory. At each size, every
evaluation runs in a fresh process (``_log_worker.py``) that reports its wall time and
its peak RSS (imports included):

* **first look** — no kept sums: one pass over the whole experiment;
* **next look** — 1 % more rows since the previous look (an hourly look of a log that
  grows by a day's traffic in four days): only those are read;
* **repeat look** — nothing new since: the kept sums and the last minute;
* **kept-up look** — 1 % more rows again, arriving in chunks of ``--keep-every`` rows
  (10,000: 100 s of traffic), each followed by what the API does between looks
  (``EventStore.keep_up``, every ``CHAMPION_AB_KEEP_INTERVAL``; timed here too), so the
  scheduled look reads only the last chunk — how looks run beside a serving API;
* **rows** — the evaluation before this change: every row of the experiment pulled
  into pandas and decided by ``decide_frame`` (run up to 1 M rows; above, the memory it
  needs grows ~1 KB per row);
* **drift** — the served-drift check of the latest 50,000 rows, counted in the database;
* **archive** — at the end, ``champion log archive`` of the first hour (360,000 rows).

The decision of each look is checked to be the rows' one where both ran.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from _log_fill import FIRST_S, STEP_S, fill, fill_kept_up
from _runner import run_worker
from champion.predictionlog import EventStore

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_log_worker.py"
ROWS_UP_TO = 1_000_000
MODEL = "bench-model"


@contextmanager
def database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'events.db'}"
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    from servers import pg_cluster, postgres_available  # the tests' throwaway cluster

    if not postgres_available():
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    with pg_cluster(("events",)) as pg:
        yield pg.url("events")


def _now(rows: int) -> float:
    """A look just after the ``rows``-th request (labels arrive a minute after it)."""
    return FIRST_S + rows * STEP_S + 90.0


def _forget(store: EventStore) -> None:
    from champion.predictionlog.schema import ab_state

    with store.engine.begin() as conn:
        conn.execute(ab_state.delete())


def _after(moment: float) -> int:
    """The index of the first row served after ``moment`` (rows are 10 ms apart)."""
    return int((moment - FIRST_S) / STEP_S) + 1


def measure(kind: str, sizes: list[int], progress: Progress, every: int) -> list[dict]:
    """Grow the log to each size; rows come after the previous look, as served rows do."""
    out = []
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        store = EventStore(url, model_name=MODEL)
        store.migrate()
        logged, cursor = 0, 0  # rows in the log; index of the next row to serve
        task = progress.add_task(f"{kind}", total=len(sizes))
        for size in sizes:
            progress.update(task, description=f"{kind}: filling to {size:,} rows")
            fill(store, size - logged, offset=cursor)
            cursor += size - logged
            logged = size
            _forget(store)
            progress.update(task, description=f"{kind}: {size:,} rows, first look")
            first_at = _now(cursor)
            first = run_worker(sys.executable, WORKER, url, "sums", first_at)
            more = max(size // 100, 1)
            cursor = _after(first_at)
            fill(store, more, offset=cursor)
            cursor, logged = cursor + more, logged + more
            progress.update(task, description=f"{kind}: {size:,} rows, next look")
            next_at = _now(cursor)
            following = run_worker(sys.executable, WORKER, url, "sums", next_at)
            repeat = run_worker(sys.executable, WORKER, url, "sums", next_at + 5)
            rows = None
            if size <= ROWS_UP_TO:
                progress.update(task, description=f"{kind}: {size:,} rows, from rows")
                rows = run_worker(sys.executable, WORKER, url, "rows", next_at + 5)
                assert rows["action"] == repeat["action"], (rows, repeat)
                assert abs(rows["lower"] - repeat["lower"]) < 1e-9, (rows, repeat)
            progress.update(task, description=f"{kind}: {size:,} rows, kept up by the API")
            cursor = _after(next_at + 5)
            took = sorted(fill_kept_up(store, more, offset=cursor, every=every))
            upkeep = {"median": took[len(took) // 2], "max": took[-1], "count": len(took)}
            cursor, logged = cursor + more, logged + more
            kept = run_worker(sys.executable, WORKER, url, "sums", _now(cursor))
            progress.update(task, description=f"{kind}: {size:,} rows, drift check")
            drift = run_worker(sys.executable, WORKER, url, "drift", _now(cursor) + 5)
            cursor = _after(_now(cursor) + 5)
            out.append(
                {"db": kind, "size": size, "first": first, "next": following, "repeat": repeat,
                 "rows": rows, "kept": kept, "upkeep": upkeep, "drift": drift}
            )  # fmt: skip
            progress.advance(task)
        # the archive last (it deletes): the first hour of traffic, 360,000 rows
        progress.update(task, description=f"{kind}: archiving the first hour")
        hour = _now(0) - 90.0 + 3600.0
        out[-1]["archive"] = run_worker(
            sys.executable, WORKER, url, "archive", hour, Path(tmp) / "archive"
        )
        store.dispose()
    return out


def _cell(result: dict | None) -> tuple[str, str]:
    if result is None:
        return "not run", "-"
    return f"{result['seconds']:.2f}", f"{result['peak_mb']:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--keep-every", type=int, default=10_000, help="rows between upkeeps")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    console = Console(width=170)
    results = []
    with Progress(console=console) as progress:
        for kind in args.databases.split(","):
            results += measure(kind, sizes, progress, args.keep_every)
    table = Table(title="ab evaluate: seconds and peak RSS MB of the evaluating process")
    for col in (
        "database", "rows", "first look s", "MB", "next look (+1 %) s", "MB",
        "repeat look s", "MB", "from rows s", "MB", "rows / next look", "kept-up look s", "MB",
        "upkeep s (median / max)",
    ):  # fmt: skip
        table.add_column(col, justify="right")
    for r in results:
        first, following, repeat, rows = (_cell(r[k]) for k in ("first", "next", "repeat", "rows"))
        ratio = "-"
        if r["rows"] is not None:
            ratio = f"{r['rows']['seconds'] / r['next']['seconds']:.1f}x"
        up = r["upkeep"]
        table.add_row(
            r["db"], f"{r['size']:,}", *first, *following, *repeat, *rows, ratio,
            *_cell(r["kept"]), f"{up['median']:.2f} / {up['max']:.2f} (x{up['count']})",
        )  # fmt: skip
    console.print(table)
    other = Table(title="drift check (latest 50,000 served rows) and archive (first hour)")
    for col in ("database", "rows", "drift s", "MB", "archive rows", "archive s", "rows/s", "MB"):
        other.add_column(col, justify="right")
    for r in results:
        arch = r.get("archive")
        cells = ("-", "-", "-", "-")
        if arch:
            rate = arch["rows"] / arch["seconds"]
            cells = (
                f"{arch['rows']:,}", f"{arch['seconds']:.1f}", f"{rate:,.0f}",
                f"{arch['peak_mb']:.0f}",
            )  # fmt: skip
        drift = r["drift"]
        other.add_row(
            r["db"], f"{r['size']:,}", f"{drift['seconds']:.2f}", f"{drift['peak_mb']:.0f}", *cells
        )
    console.print(other)


if __name__ == "__main__":
    main()
