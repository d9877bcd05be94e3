"""Serving a request, in four steps: plan (route and check every item, before any model
runs) → score (the micro-batched model calls) → rows (the log rows and the responses) →
commit (the group commit; a response is sent only after its row is durable).

Shared by the FastAPI routes and the ``/predict`` fast path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from champion.errors import BackendError
from champion.predictionlog import ABConfig, to_json, to_number
from champion.predictionlog.ids import new_request_id
from champion.serving.assignment import Route, route
from champion.serving.compiled import Scored
from champion.serving.loading import LoadedModel
from champion.serving.schemas import PredictRequest, PredictResponse
from champion.serving.state import ServingState
from champion.serving.validation import check_features
from champion.types import Variant

log = logging.getLogger("champion.serving")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one request will be served, decided before any model runs."""

    request_id: str
    user_id: str | None
    variant: Variant
    model: LoadedModel  # the model that answers
    shadow: bool  # the challenger scores the row too (shadow mode)
    features: dict[str, Any]  # checked, in the answering model's signature order


@dataclass(frozen=True, slots=True)
class Answer:
    """What the models said about one planned request."""

    label: Any
    probability: float | None
    shadow_label: Any = None
    shadow_probability: float | None = None


def plan(
    items: Sequence[PredictRequest],
    config: ABConfig,
    champion: LoadedModel,
    challenger: LoadedModel | None,
    *,
    batch: bool,
) -> tuple[list[Plan], list[dict[str, Any]]]:
    """Route every item and check its features against the model that will answer it:
    the plans, and the validation errors (each naming its field) if any."""
    plans: list[Plan] = []
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
        model = challenger if r.variant == Variant.B and challenger is not None else champion
        loc = ["body", "items", i, "features"] if batch else ["body", "features"]
        clean, problems = check_features(item.features, model.spec, loc)
        if clean is not None and r.shadow and challenger is not None:
            _, shadow_problems = check_features(item.features, challenger.spec, loc)
            if shadow_problems:  # the challenger needs other features: skip shadow scoring
                r = Route(Variant.A, False)
        errors.extend(problems)
        if clean is not None:
            plans.append(Plan(request_id, user, r.variant, model, r.shadow, clean))
    return plans, errors


async def score(
    state: ServingState, plans: list[Plan], challenger: LoadedModel | None
) -> list[Answer]:
    """One micro-batched call per model (and one for the shadow rows); every plan's
    answer, in order. Raises what a model raised."""
    assert state.batcher is not None
    by_model: dict[int, tuple[LoadedModel, list[int]]] = {}
    for k, p in enumerate(plans):
        by_model.setdefault(id(p.model), (p.model, []))[1].append(k)
    shadow_idx = [k for k, p in enumerate(plans) if p.shadow]
    jobs = [
        state.batcher.score(model, [plans[k].features for k in members])
        for model, members in by_model.values()
    ]
    if shadow_idx and challenger is not None:
        jobs.append(state.batcher.score(challenger, [plans[k].features for k in shadow_idx]))
    # one model call (the usual case) needs no Task from gather
    scored: list[Scored] = [await jobs[0]] if len(jobs) == 1 else await asyncio.gather(*jobs)
    answers: list[Answer | None] = [None] * len(plans)
    for (_, members), result in zip(by_model.values(), scored, strict=False):
        for pos, k in enumerate(members):
            answers[k] = Answer(result.labels[pos], result.probability[pos])
    if shadow_idx and challenger is not None:
        result = scored[-1]
        for pos, k in enumerate(shadow_idx):
            main = answers[k]
            assert main is not None
            answers[k] = Answer(
                main.label, main.probability, result.labels[pos], result.probability[pos]
            )
    return [a for a in answers if a is not None]


def log_rows(
    plans: list[Plan],
    answers: list[Answer],
    config: ABConfig,
    challenger: LoadedModel | None,
    *,
    latency_ms: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """The prediction-log rows of the planned requests (one each)."""
    rows = []
    for p, a in zip(plans, answers, strict=True):
        shadow = p.shadow and challenger is not None
        rows.append(
            {
                "request_id": p.request_id,
                "created_at": now,
                "experiment_id": config.experiment_id,
                "user_id": p.user_id,
                "variant": p.variant,
                "model_name": p.model.name,
                "model_version": p.model.version,
                "features": to_json(p.features),
                "prediction": to_json(a.label),
                "prediction_num": to_number(a.label),
                "probability": a.probability,
                "shadow_version": challenger.version if shadow and challenger else None,
                "shadow_prediction": to_json(a.shadow_label) if p.shadow else None,
                "shadow_prediction_num": to_number(a.shadow_label) if p.shadow else None,
                "shadow_probability": a.shadow_probability,
                "latency_ms": latency_ms,
            }
        )
    return rows


def responses(plans: list[Plan], answers: list[Answer], config: ABConfig) -> list[dict[str, Any]]:
    """The response bodies of the planned requests (``PredictResponse``'s fields)."""
    return [
        {
            "request_id": p.request_id,
            "experiment_id": config.experiment_id,
            "variant": p.variant,
            "model_version": p.model.version,
            "prediction": a.label,
            "probability": a.probability,
        }
        for p, a in zip(plans, answers, strict=True)
    ]


async def _record_failures(
    state: ServingState, experiment_id: str, plans: list[Plan], exc: Exception
) -> None:
    """Count the failed requests per variant in the log (the error-rate guardrail)."""
    counts: dict[tuple[Variant, str], int] = {}
    for p in plans:
        key = (p.variant, p.model.version)
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


async def commit(state: ServingState, rows: list[dict[str, Any]], endpoint: str) -> None:
    """Wait for the rows' group commit; a failed commit answers 503 and marks /health."""
    assert state.writer is not None
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


async def serve(
    state: ServingState, items: Sequence[PredictRequest], *, batch: bool
) -> list[PredictResponse]:
    """Serve ``items``: every answer is logged, durably, before it is returned."""
    start = time.perf_counter()
    endpoint = "batch" if batch else "predict"
    champion, challenger = state.slots.snapshot()
    if champion is None:
        state.metrics.requests.labels(endpoint, "none", "unavailable").inc()
        raise HTTPException(503, "no champion model is loaded yet; see /health")
    config = state.config()
    plans, errors = plan(items, config, champion, challenger, batch=batch)
    if errors:
        state.metrics.requests.labels(endpoint, "none", "invalid").inc()
        raise RequestValidationError(errors)
    try:
        answers = await score(state, plans, challenger)
    except Exception as exc:
        state.metrics.requests.labels(endpoint, "none", "error").inc()
        log.exception("scoring failed")
        await _record_failures(state, config.experiment_id, plans, exc)
        raise HTTPException(500, f"the model failed to score the request: {exc}") from exc
    latency_ms = (time.perf_counter() - start) * 1000
    now = datetime.now(UTC)
    await commit(
        state,
        log_rows(plans, answers, config, challenger, latency_ms=latency_ms, now=now),
        endpoint,
    )
    elapsed = time.perf_counter() - start
    for p in plans:
        state.metrics.served(endpoint, p.variant, elapsed)
    return responses(plans, answers, config)  # type: ignore[return-value]
