"""The prediction API: ``create_app(settings)`` builds it; nothing loads at import.

The lifespan opens the prediction log (creating or checking its schema), connects to
the registry, loads the champion and the challenger, and starts three background tasks:
the group-commit writer, the micro-batcher, and a poller that follows the aliases and
the A/B configuration stored in the database (so every worker and replica converges on
the same models and split). If the registry or the database is down at start-up the app
still starts, reports itself unready and degraded, and recovers when they return.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import os
import secrets
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from champion.errors import BackendError, ConflictError, NotFoundError
from champion.predictionlog import EventStore, GroupCommitWriter, to_json
from champion.serving.batching import MicroBatcher
from champion.serving.loading import LoadedModel, ModelSlots
from champion.serving.middleware.body_limit import BodySizeLimit
from champion.serving.middleware.fast_path import PredictFastPath
from champion.serving.prometheus import Metrics
from champion.serving.schemas import (
    ABConfigIn,
    ABConfigOut,
    ABReport,
    BatchRequest,
    BatchResponse,
    FeedbackRequest,
    FeedbackResponse,
    PredictRequest,
    PredictResponse,
    VariantOut,
)
from champion.serving.scoring import ServingState, serve
from champion.settings import Settings, load_settings
from champion.tracking.registry import ModelRegistry

log = logging.getLogger("champion.serving")


async def get_state(request: Request) -> ServingState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread
    return request.app.state.serving


State = Annotated[ServingState, Depends(get_state)]
_bearer = HTTPBearer(auto_error=False, description="CHAMPION_ADMIN_TOKEN")


async def require_admin(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """Admin endpoints: 401 without a bearer token, 403 with a wrong one."""
    if credentials is None:
        raise HTTPException(
            401,
            "admin endpoint: send Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    expected = state.settings.admin_token
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: CHAMPION_ADMIN_TOKEN is not set")
    given = credentials.credentials.encode("utf-8")
    if not secrets.compare_digest(given, expected.get_secret_value().encode("utf-8")):
        raise HTTPException(403, "invalid admin token")
    return "admin"


Admin = Annotated[str, Depends(require_admin)]


# -- background work --------------------------------------------------------------------
async def _refresh(state: ServingState) -> None:
    """One poll: database health and A/B config, registry aliases and model swaps."""
    try:
        state.ab = await asyncio.to_thread(state.store.ab_config)
        state.database_ok, state.database_error = True, None
    except BackendError as exc:
        state.database_ok, state.database_error = False, str(exc)
        log.warning("%s", exc)
    if state.registry is None:
        try:
            from champion.lifecycle import open_registry

            state.registry = await asyncio.to_thread(open_registry, state.settings)
        except Exception as exc:  # ConfigError / BackendError: retried next poll
            state.slots.last_error = f"registry unreachable: {exc}"
            return
    if await asyncio.to_thread(state.slots.refresh, state.registry):
        gc.collect()
        gc.freeze()
    state.metrics.model_version.clear()
    for slot, model in zip(("champion", "challenger"), state.slots.snapshot(), strict=True):
        if model is not None and model.version.isdigit():
            path = "compiled" if model.predictor.compiled else "pipeline"
            state.metrics.model_version.labels(slot, path).set(int(model.version))


async def _poll(state: ServingState) -> None:
    while True:
        await asyncio.sleep(state.settings.poll_interval)
        try:
            await _refresh(state)
        except Exception:  # never let the poller die
            log.exception("poll failed")


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServingState = app.state.serving
    # The event loop and the log writer (and the scoring thread, for pipeline-path
    # models) share the GIL; with the default 5 ms switch interval a finished commit
    # waits for the loop to let go. Measured at c=16: 1,106 req/s at 5 ms, 1,430 at
    # 0.5 ms, 1,230 at 0.2 ms; again once compiled batches were scored on the loop:
    # 4,203 at 5 ms, 4,161 at 1 ms, 4,532 at 0.5 ms, 4,213 at 0.2 ms.
    sys.setswitchinterval(state.settings.gil_switch_interval)
    try:
        await asyncio.to_thread(state.store.migrate)
    except BackendError as exc:
        state.database_error = str(exc)
        log.error("prediction log unavailable at start-up: %s", exc)
    state.writer = GroupCommitWriter(
        state.store,
        on_commit=lambda rows, seconds: (
            state.metrics.log_write.observe(seconds),
            state.metrics.log_rows.inc(rows),
        ),
    )
    state.batcher = MicroBatcher()
    state.writer.start()
    state.batcher.start()
    await _refresh(state)
    # Everything loaded so far (MLflow, pandas, the models) lives as long as the process:
    # keep it out of the cyclic collector, whose full passes over it stalled requests
    # for 100-200 ms (p99). Models loaded later are frozen after each swap.
    gc.freeze()
    state.tasks.append(asyncio.create_task(_poll(state), name="poll"))
    try:
        yield
    finally:
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await state.batcher.close()
        await state.writer.close()
        state.store.dispose()


# -- the app -------------------------------------------------------------------------------
def create_app(
    settings: Settings | None = None,
    *,
    store: EventStore | None = None,
    registry: ModelRegistry | None = None,
) -> FastAPI:
    """Build the API. ``store`` and ``registry`` default to the ones ``settings`` name."""
    settings = settings or load_settings()
    app = FastAPI(
        title="champion prediction API",
        version="1",
        description="Champion/challenger serving with a durable prediction log.",
        lifespan=_lifespan,
        docs_url="/docs",
    )
    app.state.serving = ServingState(
        settings=settings,
        store=store or EventStore(settings.events_url),
        slots=ModelSlots(),
        metrics=Metrics(),
        registry=registry,
    )
    app.include_router(_router())
    # inner to outer: the /predict fast path, then the body limit in front of everything
    app.add_middleware(PredictFastPath, serve=serve, validation_detail=_validation_detail)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]

    @app.get("/apidocs", include_in_schema=False)
    def apidocs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=app.title)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker builds its own app)."""
    return create_app(load_settings())


def _router() -> Any:
    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/predict", response_model=PredictResponse, tags=["predict"])
    async def predict(body: PredictRequest, request: Request) -> Response:
        """Score one row; the response is sent after its log row is committed."""
        # the state straight from the app: dependency resolution costs ~5 % of a request
        return _json((await serve(request.app.state.serving, [body], batch=False))[0])

    @router.post("/predict/batch", response_model=BatchResponse, tags=["predict"])
    async def predict_batch(body: BatchRequest, state: State) -> Response:
        """Score several rows at once (at most CHAMPION_MAX_BATCH_ITEMS)."""
        limit = state.settings.max_batch_items
        if len(body.items) > limit:
            raise HTTPException(413, f"batch of {len(body.items)} items exceeds the limit {limit}")
        return _json({"predictions": await serve(state, body.items, batch=True)})

    @router.post("/feedback", response_model=FeedbackResponse, tags=["feedback"])
    async def post_feedback(body: FeedbackRequest, state: State) -> FeedbackResponse:
        """Record the true label of earlier predictions (all or none of a batch).

        404: unknown request_id. 409: a different label is already recorded (the first
        label stands). The same label again is accepted.
        """
        champion = state.slots.champion
        pairs = [(rid, _as_class(label, champion)) for rid, label in body.pairs()]
        try:
            result = await asyncio.to_thread(state.store.add_feedback, pairs)
        except NotFoundError as exc:
            state.metrics.feedback.labels("not_found").inc()
            raise HTTPException(404, str(exc)) from exc
        except ConflictError as exc:
            state.metrics.feedback.labels("conflict").inc()
            raise HTTPException(409, str(exc)) from exc
        except BackendError as exc:
            raise HTTPException(503, str(exc)) from exc
        state.metrics.feedback.labels("accepted").inc(result.inserted)
        state.metrics.feedback.labels("duplicate").inc(result.duplicates)
        return FeedbackResponse(inserted=result.inserted, duplicates=result.duplicates)

    @router.get("/ab/config", response_model=ABConfigOut, tags=["a/b"])
    async def get_ab_config(state: State) -> ABConfigOut:
        return ABConfigOut(**state.config().to_dict())

    @router.put("/ab/config", response_model=ABConfigOut, tags=["a/b"])
    async def put_ab_config(body: ABConfigIn, state: State, who: Admin) -> ABConfigOut:
        """Change the split (admin token). Stored in the database: every worker follows."""
        current = state.config()
        try:
            new = await asyncio.to_thread(
                state.store.set_ab_config,
                experiment_id=body.experiment_id or current.experiment_id,
                mode=body.mode,
                split_b=body.split_b,
                updated_by=who,
                note=body.note,
            )
        except BackendError as exc:
            raise HTTPException(503, str(exc)) from exc
        state.ab = new
        return ABConfigOut(**new.to_dict())

    @router.get("/ab/report", response_model=ABReport, tags=["a/b"])
    async def ab_report(state: State) -> ABReport:
        """Per-variant counts, label coverage and live metrics of the current experiment."""
        config = state.config()
        try:
            stats = await asyncio.to_thread(state.store.variant_stats, config.experiment_id)
        except BackendError as exc:
            raise HTTPException(503, str(exc)) from exc
        return ABReport(
            experiment_id=config.experiment_id,
            mode=config.mode,
            split_b=config.split_b,
            variants=[
                VariantOut(
                    variant=s.variant,
                    model_versions=list(s.model_versions),
                    predictions=s.predictions,
                    labelled=s.labelled,
                    label_coverage=s.labelled / s.predictions if s.predictions else 0.0,
                    accuracy=s.accuracy,
                    mae=s.mae,
                    mean_latency_ms=s.mean_latency_ms,
                )
                for s in stats
            ],
        )

    @router.get("/models", tags=["ops"])
    async def models(state: State) -> dict[str, Any]:
        champion, challenger = state.slots.snapshot()
        return {
            "model_name": state.settings.model_name,
            "champion": champion.describe() if champion else None,
            "challenger": challenger.describe() if challenger else None,
            "registry_error": state.slots.last_error,
        }

    @router.get("/health", tags=["ops"])
    async def health(state: State) -> dict[str, Any]:
        """Liveness (always 200); ``status`` says whether anything is degraded."""
        champion, challenger = state.slots.snapshot()
        problems = [p for p in (state.database_error, state.slots.last_error) if p]
        if champion is None:
            problems.append("no champion model loaded")
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "database": state.database_ok,
            "champion": champion.version if champion else None,
            "challenger": challenger.version if challenger else None,
            "worker": os.getpid(),
        }

    @router.get("/ready", tags=["ops"])
    async def ready(state: State) -> JSONResponse:
        """200 when a champion is loaded and the database answers, else 503."""
        db = await asyncio.to_thread(state.store.ping)
        ok = db and state.slots.champion is not None
        body = {"ready": ok, "database": db, "champion_loaded": state.slots.champion is not None}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", tags=["ops"])
    async def metrics(state: State) -> Response:
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    return router


def _printable(value: Any) -> Any:
    """NaN and infinities as text: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _validation_detail(exc: RequestValidationError) -> Any:
    return _printable(jsonable_encoder(exc.errors()))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field; a rejected NaN is echoed as "nan" rather than a 500."""
    detail = _validation_detail(exc)
    return Response(orjson.dumps({"detail": detail}), 422, media_type="application/json")


def _json(content: Any) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


def _as_class(label: Any, model: LoadedModel | None) -> Any:
    """A label spelled differently from the model's class ("1" for 1) takes its form."""
    if model is None or model.classes is None:
        return label
    encoded = to_json(label)
    for cls in model.classes:
        if to_json(cls) == encoded:
            return cls
    for cls in model.classes:
        if str(cls) == str(label) or (isinstance(label, bool) and label == cls):
            return cls
    return label
