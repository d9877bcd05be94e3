"""Command: ``serve``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Annotated

import typer
import uvicorn

from champion.cli.app import app
from champion.cli.common import console
from champion.errors import InvalidInputError
from champion.predictionlog.commits import SHARED_ENV, shared_writer
from champion.serving.prometheus import MULTIPROC_ENV
from champion.settings import Settings, load_settings
from champion.types import LogWriter

Opt = typer.Option


@app.command()
def serve(
    host: Annotated[str, Opt(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, Opt(min=1, max=64, help="uvicorn worker processes.")] = 1,
    log_level: Annotated[str, Opt(help="uvicorn log level.")] = "warning",
) -> None:
    """Run the prediction API (uvicorn; settings from the environment)."""
    settings = load_settings()  # validate before forking workers
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise InvalidInputError(f"--log-level {log_level!r}: use warning, info or debug")
    console.print(
        f"serving [bold]{settings.model_name}[/] on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}); docs at /docs"
    )
    shared = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # one /metrics for all the workers (prometheus_client's multiprocess mode): the
        # spawned workers inherit the directory and write their values there
        shared = tempfile.mkdtemp(prefix="champion-metrics-")
        os.environ[MULTIPROC_ENV] = shared
    try:
        with contextlib.ExitStack() as stack:
            if workers > 1 and settings.serving.log_writer is LogWriter.PROCESS:
                # one commit process for all the workers, so their rows share commits
                os.environ[SHARED_ENV] = stack.enter_context(
                    shared_writer(
                        settings.events_url,
                        model_name=settings.model_name,
                        statement_timeout=settings.serving.log_deadline,
                    )
                )
                stack.callback(os.environ.pop, SHARED_ENV, None)
            run_uvicorn(settings, host, port, workers, log_level)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def run_uvicorn(settings: Settings, host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn with champion's protocol, loop and limits (also what the benchmarks run)."""
    uvicorn.run(
        "champion.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # below info uvicorn drops each access line, but only after formatting its
        # arguments on the event loop: not made at all then
        access_log=log_level in ("info", "debug"),
        loop="uvloop",
        # httptools with header, count and arrival-time limits (serving/protocol.py) and
        # the prediction lane (serving/lane.py)
        http="champion.serving.lane:ServingProtocol",
        timeout_keep_alive=settings.serving.http_keep_alive,
        timeout_graceful_shutdown=10,
    )
