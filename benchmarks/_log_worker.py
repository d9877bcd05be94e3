"""One evaluation of the benchmark log in a fresh process: its time and peak memory.

    python _log_worker.py URL sums|rows NOW

``sums``: the evaluation ``champion ab evaluate`` runs (the database adds up, from the
kept sums); ``rows``: the rows pulled into Python and decided by ``decide_frame``, as
before. Prints one JSON line: seconds, peak RSS in MB (of this whole process, imports
included), the process's RSS before the evaluation, the decision.
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


if __name__ == "__main__":
    main()
