"""Run the prediction API with parts stubbed out, to see where a request's time goes.

    CHAMPION_HOME=... CHAMPION_ADMIN_TOKEN=... python benchmarks/serve_stubbed.py PORT MODE [SWITCH]

MODE: ``full``, ``nolog`` (the log write returns at once), ``noscore`` (scoring returns a
constant), or ``nolog-noscore``; SWITCH overrides the GIL switch interval. Load it with
wrk as in serving_vs_peers.py (after setting the A/B config to hash 50/50).
"""

from __future__ import annotations

import sys

from champion.cli.serve import run_uvicorn
from champion.serving import app as serving_app
from champion.serving.compiled import Scored
from champion.settings import load_settings


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    if "nolog" in mode:

        async def write(self, rows):
            return None

        serving_app.GroupCommitWriter.write = write  # type: ignore[method-assign]
    if "noscore" in mode:

        async def score_jobs(self, jobs):  # every model call of a request, answered at once
            return [Scored([0] * len(rows), [0.5] * len(rows)) for _, rows in jobs]

        serving_app.MicroBatcher.score_jobs = score_jobs  # type: ignore[method-assign]
    if len(sys.argv) > 3:
        import os

        os.environ["CHAMPION_GIL_SWITCH_INTERVAL"] = sys.argv[3]
    # as ``champion serve`` runs it (its protocol, loop and limits), in this process: the
    # app it imports is the module patched above
    run_uvicorn(load_settings(), "127.0.0.1", port, 1, "warning")


if __name__ == "__main__":
    main()
