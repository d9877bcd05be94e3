"""Serving a request, in four steps: plan (route and check every item, before any model
runs) → score (both models, whenever both are loaded: the routed one answers, the other's
prediction, latency and failure are logged beside it) → rows (the log rows and the
responses) → commit (the group commit; a response is sent only after its row is durable).

A model that fails on a row never fails the response while the other model can answer
it: the user gets the other model's answer, and the failure is logged against the model
that failed, on that row. Only a row neither model can answer fails its request (500).

Shared by the FastAPI routes and the ``/predict`` fast path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from champion.errors import BackendError, RowRejectedError
from champion.predictionlog import ABConfig, to_json, to_number
from champion.predictionlog.ids import new_request_id
from champion.serving.assignment import route
from champion.serving.compiled import Scored
from champion.serving.loading import LoadedModel
from champion.serving.schemas import Item, PredictRequest, PredictResponse
from champion.serving.state import ServingState
from champion.serving.validation import MAX_IGNORED_LISTED, check_features, unknown_features
from champion.types import Variant

log = logging.getLogger("champion.serving")


# Per-request values are named tuples: as immutable as a frozen dataclass, and several
# are built for every request on the event loop, where a tuple is the cheaper build.
class Plan(NamedTuple):
    """How one request will be served, decided before any model runs."""

    request_id: str
    user_id: str | None
    variant: Variant  # the arm the request is routed to
    features: dict[str, Any]  # checked against the routed model's signature
    given: dict[str, Any]  # as the client sent them
    # the same row for each model, in its signature's order (None: it cannot take it)
    inputs: tuple[dict[str, Any] | None, dict[str, Any] | None]


class Prediction(NamedTuple):
    """One model's answer on one row (None: it failed)."""

    label: Any
    probability: float | None
    latency_ms: float


Scores = list[Prediction | None]


def plan(
    items: Sequence[PredictRequest | Item],
    config: ABConfig,
    champion: LoadedModel,
    challenger: LoadedModel | None,
    *,
    batch: bool,
    strict: bool = False,
) -> tuple[list[Plan], list[dict[str, Any]]]:
    """Route every item and check its features against the routed model (the other
    model takes the row too when its signature accepts it; each model gets the features
    of its own signature): the plans, and the validation errors (each naming its field)
    if any. ``strict``: a key the routed model does not use is an error."""
    plans: list[Plan] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        request_id = new_request_id()
        user = None if item.user_id is None else str(item.user_id)
        variant = route(
            mode=config.mode,
            split_b=config.split_b,
            experiment_id=config.experiment_id,
            user_id=user,
            request_id=request_id,
            has_challenger=challenger is not None,
        ).variant
        routed = challenger if variant == Variant.B and challenger is not None else champion
        loc = ["body", "items", i, "features"] if batch else ["body", "features"]
        clean, problems = check_features(item.features, routed.spec, loc, strict=strict)
        errors.extend(problems)
        if clean is None:
            continue
        inputs: list[dict[str, Any] | None] = []
        for model in (champion, challenger):
            if model is None:
                inputs.append(None)
            elif model is routed or model.spec == routed.spec:
                inputs.append(clean)
            else:  # another signature: the other model scores the row if it can
                inputs.append(check_features(item.features, model.spec, loc)[0])
        plans.append(Plan(request_id, user, variant, clean, item.features, (inputs[0], inputs[1])))
    return plans, errors


async def _singles(state: ServingState, model: LoadedModel, rows: list[dict[str, Any]]) -> Scores:
    """``model`` on each row on its own, after a call on all of them failed: one bad row
    fails only itself."""
    assert state.batcher is not None
    singles = await state.batcher.score_jobs([(model, [row]) for row in rows])
    return [
        None
        if isinstance(one, BaseException)
        else Prediction(one.labels[0], one.probability[0], one.seconds * 1000)
        for one in singles
    ]


def _predictions(scored: Scored) -> Scores:
    ms = scored.seconds * 1000
    pairs = zip(scored.labels, scored.probability, strict=True)
    return [Prediction(label, p, ms) for label, p in pairs]


async def score(
    state: ServingState, plans: list[Plan], models: tuple[LoadedModel, LoadedModel | None]
) -> tuple[Scores, Scores]:
    """Both models on every planned row they can take (one micro-batched call each, in
    one queue entry); a model whose call fails retries its rows one by one."""
    assert state.batcher is not None
    slots, jobs = [], []
    for slot, model in enumerate(models):
        members = [k for k, p in enumerate(plans) if p.inputs[slot] is not None]
        if model is not None and members:
            slots.append((slot, members))
            jobs.append((model, [plans[k].inputs[slot] for k in members]))
    outcomes = await state.batcher.score_jobs(jobs) if jobs else []  # type: ignore[arg-type]
    results: list[Scores] = [[None] * len(plans), [None] * len(plans)]
    for (slot, members), (model, rows), outcome in zip(slots, jobs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            predictions = await _singles(state, model, rows)  # type: ignore[arg-type]
            name = "champion" if slot == 0 else "challenger"
            state.metrics.model_failures.labels(name).inc(predictions.count(None))
            log.warning(
                "%s v%s failed on a batch: %s: %s",
                name, model.version, type(outcome).__name__, outcome,
            )  # fmt: skip
        else:
            predictions = _predictions(outcome)
        for k, prediction in zip(members, predictions, strict=True):
            results[slot][k] = prediction
    return results[0], results[1]


def answers(
    plans: list[Plan], scores: tuple[Scores, Scores]
) -> list[tuple[Variant, Prediction] | None]:
    """Who answers each request, and with what: the routed model, else the other; None
    when neither could."""
    out: list[tuple[Variant, Prediction] | None] = []
    for k, p in enumerate(plans):
        a, b = scores[0][k], scores[1][k]
        routed, other = (b, a) if p.variant == Variant.B else (a, b)
        other_arm = Variant.A if p.variant == Variant.B else Variant.B
        if routed is not None:
            out.append((p.variant, routed))
        elif other is not None:
            out.append((other_arm, other))
        else:
            out.append(None)
    return out


#: Each model's log columns, named once (not formatted for every row).
_NAMES = ("version", "prediction", "prediction", "probability", "latency", "failed")
_SUFFIXES = ("", "", "_num", "", "_ms", "")
_COLUMNS = {
    prefix: tuple(f"{n}_{prefix}{x}" for n, x in zip(_NAMES, _SUFFIXES, strict=True))
    for prefix in ("a", "b")
}


def _put_model(
    row: dict[str, Any],
    prefix: str,
    model: LoadedModel | None,
    prediction: Prediction | None,
    took: bool,
) -> tuple[str, float | None] | None:
    """Set one model's log columns on ``row``; its label as logged (JSON, number)."""
    version, label, number, probability, latency, failed = _COLUMNS[prefix]
    row[version] = model.version if model is not None and took else None
    row[failed] = int(took and prediction is None)
    if prediction is None:
        row[label] = row[number] = row[probability] = row[latency] = None
        return None
    logged = (to_json(prediction.label), to_number(prediction.label))
    row[label], row[number] = logged
    row[probability], row[latency] = prediction.probability, prediction.latency_ms
    return logged


def log_rows(
    plans: list[Plan],
    scores: tuple[Scores, Scores],
    answered: list[tuple[Variant, Prediction]],
    config: ABConfig,
    models: tuple[LoadedModel, LoadedModel | None],
    *,
    latency_ms: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """The prediction-log rows of the planned requests (one each)."""
    rows = []
    for k, (p, (arm, prediction)) in enumerate(zip(plans, answered, strict=True)):
        by = models[0] if arm == Variant.A else models[1]
        assert by is not None
        row: dict[str, Any] = {
            "request_id": p.request_id,
            "created_at": now,
            "experiment_id": config.experiment_id,
            "phase": config.phase,
            "user_id": p.user_id,
            "variant": p.variant.value,  # a plain str: cheaper to send to the writer
            "model_name": by.name,
            "model_version": by.version,
            "features": to_json(p.features),
            "probability": prediction.probability,
            "latency_ms": latency_ms,
        }
        took_b = p.inputs[1] is not None and models[1] is not None
        a = _put_model(row, "a", models[0], scores[0][k], p.inputs[0] is not None)
        b = _put_model(row, "b", models[1], scores[1][k], took_b)
        # the answer is the answering model's own prediction: its label is encoded
        logged = a if arm == Variant.A else b
        assert logged is not None
        row["prediction"], row["prediction_num"] = logged
        rows.append(row)
    return rows


def responses(
    plans: list[Plan],
    answered: list[tuple[Variant, Prediction]],
    config: ABConfig,
    models: tuple[LoadedModel, LoadedModel | None],
) -> list[dict[str, Any]]:
    """The response bodies of the planned requests (``PredictResponse``'s fields)."""
    out = []
    for p, (arm, prediction) in zip(plans, answered, strict=True):
        by = models[0] if arm == Variant.A else models[1]
        assert by is not None
        out.append(
            {
                "request_id": p.request_id,
                "experiment_id": config.experiment_id,
                "variant": p.variant,
                "model_version": by.version,
                "prediction": prediction.label,
                "probability": prediction.probability,
                "ignored_features": unknown_features(p.given, by.spec, limit=MAX_IGNORED_LISTED),
            }
        )
    return out


async def _record_failures(state: ServingState, config: ABConfig, plans: list[Plan]) -> None:
    """Count requests no model could answer per variant (they got a 500 and no row)."""
    counts: dict[Variant, int] = {}
    for p in plans:
        counts[p.variant] = counts.get(p.variant, 0) + 1
    champion, challenger = state.slots.snapshot()
    for variant, n in counts.items():
        model = challenger if variant == Variant.B and challenger else champion
        try:
            await asyncio.to_thread(
                state.store.record_failure,
                experiment_id=config.experiment_id,
                variant=variant,
                model_version=model.version if model else "",
                requests=n,
                error="no model could score the request",
            )
        except BackendError as db_exc:
            log.warning("could not record a failure: %s", db_exc)


async def commit(state: ServingState, rows: list[dict[str, Any]], endpoint: str) -> None:
    """Wait for the rows' group commit; a failed commit answers 503 and marks /health."""
    assert state.writer is not None
    try:
        await state.writer.write(rows)
    except RowRejectedError as exc:  # this request's value, not the database
        state.metrics.requests.labels(endpoint, "none", "log_rejected").inc()
        raise HTTPException(
            422, [{"loc": ["body"], "msg": f"not served: {exc}", "type": "log_rejected"}]
        ) from exc
    except BackendError as exc:
        state.database_ok, state.database_error = False, str(exc)  # /health at once
        state.metrics.requests.labels(endpoint, "none", "log_unavailable").inc()
        raise HTTPException(
            503, f"prediction log unavailable, nothing was served or logged: {exc}"
        ) from exc
    if not state.database_ok:  # the log is back: say so before the next poll
        state.database_ok, state.database_error = True, None


async def serve(
    state: ServingState, items: Sequence[PredictRequest | Item], *, batch: bool
) -> list[PredictResponse]:
    """Serve ``items``: every answer is logged, durably, before it is returned."""
    start = time.perf_counter()
    endpoint = "batch" if batch else "predict"
    champion, challenger = state.slots.snapshot()
    if champion is None:
        state.metrics.requests.labels(endpoint, "none", "unavailable").inc()
        raise HTTPException(503, "no champion model is loaded yet; see /health")
    config = state.config()
    strict = state.settings.serving.strict_features
    plans, errors = plan(items, config, champion, challenger, batch=batch, strict=strict)
    if errors:
        state.metrics.requests.labels(endpoint, "none", "invalid").inc()
        raise RequestValidationError(errors)
    models = (champion, challenger)
    scores = await score(state, plans, models)
    answered = answers(plans, scores)
    if any(a is None for a in answered):
        state.metrics.requests.labels(endpoint, "none", "error").inc()
        await _record_failures(
            state, config, [p for p, a in zip(plans, answered, strict=True) if a is None]
        )
        raise HTTPException(500, "no model could score the request; see the API's log")
    done = [a for a in answered if a is not None]
    latency_ms = (time.perf_counter() - start) * 1000
    rows = log_rows(
        plans, scores, done, config, models, latency_ms=latency_ms, now=datetime.now(UTC)
    )
    await commit(state, rows, endpoint)
    elapsed = time.perf_counter() - start
    for p in plans:
        state.metrics.served(endpoint, p.variant, elapsed)
    answered_bodies = responses(plans, done, config, models)
    ignored = sum(len(body["ignored_features"]) for body in answered_bodies)
    if ignored:  # (beyond MAX_IGNORED_LISTED per request, the rest is not counted)
        state.metrics.ignored_features.inc(ignored)
    return answered_bodies  # type: ignore[return-value]
