"""Run the prediction API with parts stubbed out, to see where a request's time goes.

    CHAMPION_HOME=... CHAMPION_ADMIN_TOKEN=... python benchmarks/serve_stubbed.py PORT MODE [SWITCH]

MODE: ``full``, ``nolog`` (the log write returns at once), ``noscore`` (scoring returns a
constant), or ``nolog-noscore``; SWITCH overrides the GIL switch interval. Load it with
wrk as in serving_vs_peers.py (after setting the A/B config to hash 50/50).
"""

from __future__ import annotations

import sys

import uvicorn

from champion.serving import app as serving_app
from champion.serving.compiled import Scored


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    if "nolog" in mode:

        async def write(self, rows):
            return None

        serving_app.GroupCommitWriter.write = write  # type: ignore[method-assign]
    if "noscore" in mode:

        async def score(self, model, rows):
            return Scored([0] * len(rows), [0.5] * len(rows))

        serving_app.MicroBatcher.score = score  # type: ignore[method-assign]
    if len(sys.argv) > 3:
        import os

        os.environ["CHAMPION_GIL_SWITCH_INTERVAL"] = sys.argv[3]
    uvicorn.run(
        serving_app.app_from_env,
        factory=True,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )


if __name__ == "__main__":
    main()
