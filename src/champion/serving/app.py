"""The prediction API: ``create_app(settings)`` builds it; nothing loads at import.

The lifespan opens the prediction log (creating or checking its schema), connects to
the registry, loads the champion and the challenger, and starts three background tasks:
the group-commit writer, the micro-batcher, and the poller that follows the aliases and
the A/B configuration stored in the database (so every worker and replica converges on
the same models and split). If the registry or the database is down at start-up the app
still starts, reports itself unready and degraded, and recovers when they return.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from champion.errors import BackendError
from champion.notify import Notifier
from champion.predictionlog import EventStore, GroupCommitWriter
from champion.predictionlog.commits import SHARED_ENV, Commits, ProcessCommits
from champion.redact import redact_logs
from champion.serving.batching import MicroBatcher
from champion.serving.loading import ModelSlots
from champion.serving.middleware.body_limit import BodySizeLimit
from champion.serving.middleware.fast_path import DirectPredict, PredictFastPath
from champion.serving.middleware.json_guard import JsonGuard, JsonLimits
from champion.serving.poller import notify_load_failures, poll, refresh
from champion.serving.prometheus import Metrics
from champion.serving.responses import validation_detail, validation_error
from champion.serving.routes import ROUTES
from champion.serving.scoring import serve
from champion.serving.state import ServingState
from champion.settings import Settings, load_settings
from champion.tracking.registry import ModelRegistry
from champion.types import LogWriter

log = logging.getLogger("champion.serving")


async def _start(state: ServingState) -> None:
    # The event loop and the log writer (and the scoring thread, for pipeline-path
    # models) share the GIL; the default 5 ms switch interval makes a finished commit
    # wait for the loop to let go (docs/benchmarks.md has the measured intervals).
    sys.setswitchinterval(state.settings.serving.gil_switch_interval)
    try:
        await asyncio.to_thread(state.store.migrate)  # makes the day partitions too
        state.partitions_made_at = time.monotonic()
    except BackendError as exc:
        state.database_error = str(exc)
        log.error("prediction log unavailable at start-up: %s", exc)
    state.writer = GroupCommitWriter(
        state.store,
        commits=_commits(state),
        deadline=state.settings.serving.log_deadline,
        max_queue=state.settings.serving.log_max_queue,
        on_commit=lambda rows, seconds: (
            state.metrics.log_write.observe(seconds),
            state.metrics.log_rows.inc(rows),
        ),
    )
    state.batcher = MicroBatcher(
        on_batch=lambda rows: (
            state.metrics.score_batches.inc(),
            state.metrics.score_rows.inc(rows),
        )
    )
    state.writer.start()
    state.batcher.start()
    if state.settings.notify.webhooks is not None:
        state.notifier = Notifier(state.settings.notify, state.store)
    await refresh(state)
    notify_load_failures(state)
    # Everything loaded so far (MLflow, pandas, the models) lives as long as the process:
    # keep it out of the cyclic collector, whose full passes over it stall requests.
    # Models loaded later are frozen after each swap.
    gc.freeze()
    state.tasks.append(asyncio.create_task(poll(state), name="poll"))


def _commits(state: ServingState) -> Commits | None:
    """The child process that commits the rows (None: a thread of this process)."""
    if state.settings.serving.log_writer is LogWriter.THREAD:
        return None
    store = state.store
    return ProcessCommits(
        store.url,
        model_name=store.model_name,
        statement_timeout=store.statement_timeout,
        shared=os.environ.get(SHARED_ENV),  # set by ``champion serve --workers N``
    )


async def _stop(state: ServingState) -> None:
    for task in state.tasks:
        task.cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    if state.batcher is not None:
        await state.batcher.close()
    if state.writer is not None:
        await state.writer.close()
    if state.notifier is not None:
        state.notifier.close()
    if state.keeper is not None:
        state.keeper.dispose()
    state.store.dispose()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServingState = app.state.serving
    await _start(state)
    try:
        yield
    finally:
        await _stop(state)


class ServingAPI(FastAPI):
    """FastAPI with ``POST /predict`` answered in front of its middleware stack.

    The prediction route is the hot path, and a request passing through Starlette's
    error and telemetry layers, the app's own body limit and the router pays for each
    of them on the event loop that is the bottleneck under load (docs/benchmarks.md).
    So it enters the same body limit, JSON guard and fast path as their own chain, in
    front; whatever the fast path does not take goes on through the whole stack.
    """

    front: Any = None
    direct: Any = None  # DirectPredict, for the HTTP protocol's lane (serving/lane.py)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            self.front is not None
            and scope["type"] == "http"
            and scope["path"] == "/predict"
            and scope["method"] == "POST"
        ):
            scope["app"] = self
            await self.front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def stack(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app behind the front: every middleware, the router, the error pages."""
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    store: EventStore | None = None,
    registry: ModelRegistry | None = None,
) -> FastAPI:
    """Build the API. ``store`` and ``registry`` default to the ones ``settings`` name."""
    settings = settings or load_settings()
    app = ServingAPI(
        title="champion prediction API",
        version="1",
        description="Champion/challenger serving with a durable prediction log.",
        lifespan=_lifespan,
        docs_url="/docs",
    )
    app.state.serving = ServingState(
        settings=settings,
        store=store
        or EventStore(
            settings.events_url,
            model_name=settings.model_name,
            statement_timeout=settings.serving.log_deadline,
        ),
        slots=ModelSlots(require_digest=settings.serving.require_model_digest),
        metrics=Metrics(),
        registry=registry,
    )
    for routes in ROUTES:
        app.include_router(routes)
    limits = JsonLimits(
        max_depth=settings.serving.max_json_depth, max_keys=settings.serving.max_json_keys
    )
    # outer to inner: the body limit in front of everything, then the JSON guard
    app.add_middleware(JsonGuard, limits=limits)
    app.add_middleware(BodySizeLimit, max_bytes=settings.serving.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_error)
    fast = PredictFastPath(app.stack, serve=serve, validation_detail=validation_detail)
    guard = JsonGuard(fast, limits=limits)
    app.front = BodySizeLimit(guard, max_bytes=settings.serving.max_body_bytes)
    app.direct = DirectPredict(fast, guard.bounded)

    @app.get("/apidocs", include_in_schema=False)
    def apidocs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=app.title)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker builds its own app)."""
    redact_logs()  # error messages may quote a URI with its password
    return create_app(load_settings())
