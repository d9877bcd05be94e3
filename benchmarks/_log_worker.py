"""One evaluation of the benchmark log in a fresh process: its time and peak memory.

    python _log_worker.py URL sums|rows|drift|archive NOW [DIR]

``sums``: the evaluation ``champion ab evaluate`` runs (the database adds up, from the
kept sums); ``rows``: the rows pulled into Python and decided by ``decide_frame``, as
before; ``drift``: the served-drift check's read and check of the latest 50,000 rows
against a reference of the same distribution; ``archive``: ``champion log archive`` of
every row served before NOW to DIR. Prints one JSON line: seconds, peak RSS in MB (of
this whole process, imports included), the process's RSS before the work, its result.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    url, how, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
    from champion.abtest import Policy, decide_frame
    from champion.predictionlog import EventStore
    from champion.types import ABMode, Task

    store = EventStore(url, model_name="bench-model")
    before = _rss_mb()
    at = datetime.fromtimestamp(now, UTC)
    if how in ("drift", "archive"):
        result = _other(store, how, at, sys.argv[4] if len(sys.argv) > 4 else "")
        print(json.dumps({**result, "before_mb": before}))
        return
    start = time.perf_counter()
    if how == "sums":
        decision, _, _ = store.evaluate(
            "bench", champion="1", challenger="2", task=Task.CLASSIFICATION, mode=ABMode.HASH,
            split_b=0.5, policy=Policy(), now=at,
        )  # fmt: skip
    else:
        frame, _ = store.experiment_frame("bench", champion="1", challenger="2")
        decision = decide_frame(
            frame, Policy(), task=Task.CLASSIFICATION, mode=ABMode.HASH, split_b=0.5, now=at
        )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    iv = decision.interval
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "before_mb": before,
                "action": str(decision.action),
                "lower": iv.lower,
                "upper": iv.upper,
            }
        )
    )


def _other(store, how: str, at: datetime, where: str) -> dict:
    import numpy as np
    import pandas as pd

    from champion.drift import build_profile, check_summary
    from champion.predictionlog.archive import archive

    start = time.perf_counter()
    if how == "archive":
        result = archive(store.engine, before=at, to=where)
        out = {"rows": result.rows, "partitions": len(result.partitions)}
    else:
        rng = np.random.default_rng(0)
        x2 = rng.random(5000)
        reference = pd.DataFrame(
            {"x1": rng.random(5000), "x2": x2,
             "segment": np.where(x2 < 0.3, "north", np.where(x2 < 0.6, "south", "west"))}
        )  # fmt: skip
        profile = build_profile(reference, ["x1", "x2"], ["segment"])
        start = time.perf_counter()
        summary = store.served_summary(profile, limit=50_000)  # counted in the database
        drift = check_summary(profile, summary)
        out = {"rows": summary.rows, "drifted": bool(drift.drifted)}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**out, "seconds": seconds, "peak_mb": peak}


if __name__ == "__main__":
    main()
