"""``GET /models``, ``/health``, ``/ready`` and ``/metrics``: for operators and probes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from champion.redact import redact
from champion.serving.auth import Reader, State

routes = APIRouter(tags=["ops"])


@routes.get("/models")
async def models(state: State, _reader: Reader) -> dict[str, Any]:
    """The models served, with their versions, features and scoring path."""
    champion, challenger = state.slots.snapshot()
    return {
        "model_name": state.settings.model_name,
        "champion": champion.describe() if champion else None,
        "challenger": challenger.describe() if challenger else None,
        "registry_error": redact(state.slots.last_error) if state.slots.last_error else None,
    }


@routes.get("/health")
async def health(state: State) -> dict[str, Any]:
    """Liveness (always 200); ``status`` says whether anything is degraded."""
    champion, challenger = state.slots.snapshot()
    problems = state.problems()
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "database": state.database_ok,
        "champion": champion.version if champion else None,
        "challenger": challenger.version if challenger else None,
        "worker": os.getpid(),
        "log_writer": state.writer.describe() if state.writer is not None else None,
    }


async def database_answers(state: State) -> bool:
    if state.writer is not None and state.writer.stalled:
        return False  # no new probe into a database that has a commit hanging
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(state.store.ping), state.settings.serving.log_deadline
        )
    except TimeoutError:
        return False


@routes.get("/ready")
async def ready(state: State) -> JSONResponse:
    """200 when a champion is loaded and the database answers (within the log
    deadline, with no commit stuck), else 503."""
    db = await database_answers(state)
    loaded = state.slots.champion is not None
    body = {"ready": db and loaded, "database": db, "champion_loaded": loaded}
    return JSONResponse(body, status_code=200 if db and loaded else 503)


@routes.get("/metrics")
async def metrics(state: State) -> Response:
    """Prometheus metrics of this worker."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
