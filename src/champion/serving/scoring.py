"""Scoring a request: routing, validation against the model, the micro-batched model call
and the durable log write — shared by the FastAPI route and the ``/predict`` fast path."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from champion.errors import BackendError
from champion.predictionlog import ABConfig, EventStore, GroupCommitWriter, to_json, to_number
from champion.predictionlog.ids import new_request_id
from champion.serving.assignment import Route, route
from champion.serving.batching import MicroBatcher
from champion.serving.loading import LoadedModel, ModelSlots
from champion.serving.prometheus import Metrics
from champion.serving.schemas import PredictRequest, PredictResponse
from champion.serving.validation import check_features
from champion.settings import Settings
from champion.tracking.registry import ModelRegistry

log = logging.getLogger("champion.serving")


@dataclass
class ServingState:
    """Everything the endpoints share; one per app."""

    settings: Settings
    store: EventStore
    slots: ModelSlots
    metrics: Metrics
    registry: ModelRegistry | None = None
    writer: GroupCommitWriter | None = None
    batcher: MicroBatcher | None = None
    ab: ABConfig | None = None
    database_ok: bool = False
    database_error: str | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def config(self) -> ABConfig:
        if self.ab is not None:
            return self.ab
        return ABConfig(
            experiment_id="default",
            mode=self.settings.ab_mode,
            split_b=self.settings.ab_split_b,
            updated_at=datetime.fromtimestamp(0, tz=UTC),
            updated_by="settings",
        )


async def _record_failures(
    state: ServingState, experiment_id: str, plans: list[Any], exc: Exception
) -> None:
    """Count the failed requests per variant in the log (the error-rate guardrail)."""
    counts: dict[tuple[str, str], int] = {}
    for plan in plans:
        key = (plan[1], plan[2].version)
        counts[key] = counts.get(key, 0) + 1
    for (variant, version), n in counts.items():
        try:
            await asyncio.to_thread(
                state.store.record_failure,
                experiment_id=experiment_id,
                variant=variant,
                model_version=version,
                requests=n,
                error=f"{type(exc).__name__}: {exc}",
            )
        except BackendError as db_exc:
            log.warning("could not record a failure: %s", db_exc)


async def serve(
    state: ServingState, items: list[PredictRequest], *, batch: bool
) -> list[PredictResponse]:
    start = time.perf_counter()
    endpoint = "batch" if batch else "predict"
    champion, challenger = state.slots.snapshot()
    if champion is None:
        state.metrics.requests.labels(endpoint, "none", "unavailable").inc()
        raise HTTPException(503, "no champion model is loaded yet; see /health")
    config = state.config()
    plans: list[tuple[str, str, LoadedModel, bool, dict[str, Any], PredictRequest]] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        request_id = new_request_id()
        user = None if item.user_id is None else str(item.user_id)
        r = route(
            mode=config.mode,
            split_b=config.split_b,
            experiment_id=config.experiment_id,
            user_id=user,
            request_id=request_id,
            has_challenger=challenger is not None,
        )
        model = challenger if r.variant == "B" and challenger is not None else champion
        loc = ["body", "items", i, "features"] if batch else ["body", "features"]
        clean, problems = check_features(item.features, model.spec, loc)
        if clean is not None and r.shadow and challenger is not None:
            _, shadow_problems = check_features(item.features, challenger.spec, loc)
            if shadow_problems:  # the challenger needs other features: skip shadow scoring
                r = Route("A", False)
        errors.extend(problems)
        if clean is not None:
            plans.append((request_id, r.variant, model, r.shadow, clean, item))
    if errors:
        state.metrics.requests.labels(endpoint, "none", "invalid").inc()
        raise RequestValidationError(errors)

    assert state.batcher is not None and state.writer is not None
    by_model: dict[int, tuple[LoadedModel, list[int]]] = {}
    shadow_idx = [k for k, plan in enumerate(plans) if plan[3]]
    for k, plan in enumerate(plans):
        by_model.setdefault(id(plan[2]), (plan[2], []))[1].append(k)
    jobs = [
        state.batcher.score(model, [plans[k][4] for k in members])
        for model, members in by_model.values()
    ]
    if shadow_idx and challenger is not None:
        jobs.append(state.batcher.score(challenger, [plans[k][4] for k in shadow_idx]))
    try:  # one model call (the usual case) needs no Task from gather
        scored = [await jobs[0]] if len(jobs) == 1 else await asyncio.gather(*jobs)
    except Exception as exc:
        state.metrics.requests.labels(endpoint, "none", "error").inc()
        log.exception("scoring failed")
        await _record_failures(state, config.experiment_id, plans, exc)
        raise HTTPException(500, f"the model failed to score the request: {exc}") from exc
    label: dict[int, Any] = {}
    proba: dict[int, float | None] = {}
    for (_, members), result in zip(by_model.values(), scored, strict=False):
        for pos, k in enumerate(members):
            label[k], proba[k] = result.labels[pos], result.probability[pos]
    shadow: dict[int, tuple[Any, float | None]] = {}
    if shadow_idx:
        result = scored[-1]
        for pos, k in enumerate(shadow_idx):
            shadow[k] = (result.labels[pos], result.probability[pos])

    now = datetime.now(UTC)
    latency_ms = (time.perf_counter() - start) * 1000
    rows, responses = [], []
    for k, (request_id, variant, model, is_shadow, clean, item) in enumerate(plans):
        s_label, s_proba = shadow.get(k, (None, None))
        rows.append(
            {
                "request_id": request_id,
                "created_at": now,
                "experiment_id": config.experiment_id,
                "user_id": None if item.user_id is None else str(item.user_id),
                "variant": variant,
                "model_name": model.name,
                "model_version": model.version,
                "features": to_json(clean),
                "prediction": to_json(label[k]),
                "prediction_num": to_number(label[k]),
                "probability": proba[k],
                "shadow_version": challenger.version if is_shadow and challenger else None,
                "shadow_prediction": to_json(s_label) if is_shadow else None,
                "shadow_prediction_num": to_number(s_label) if is_shadow else None,
                "shadow_probability": s_proba,
                "latency_ms": latency_ms,
            }
        )
        responses.append(
            {
                "request_id": request_id,
                "experiment_id": config.experiment_id,
                "variant": variant,
                "model_version": model.version,
                "prediction": label[k],
                "probability": proba[k],
            }
        )
    try:
        await state.writer.write(rows)
    except BackendError as exc:
        state.database_ok, state.database_error = False, str(exc)  # /health at once
        state.metrics.requests.labels(endpoint, "none", "log_unavailable").inc()
        raise HTTPException(
            503, f"prediction log unavailable, nothing was served or logged: {exc}"
        ) from exc
    if not state.database_ok:  # the log is back: say so before the next poll
        state.database_ok, state.database_error = True, None
    elapsed = time.perf_counter() - start
    for plan in plans:
        state.metrics.served(endpoint, plan[1], elapsed)
    return responses
