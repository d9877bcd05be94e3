"""``POST /feedback``: the true labels of earlier predictions."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException

from champion.errors import BackendError, ConflictError, NotFoundError
from champion.predictionlog import to_json
from champion.serving.auth import Feedback, State
from champion.serving.loading import LoadedModel
from champion.serving.schemas import FeedbackRequest, FeedbackResponse
from champion.serving.validation import shown

routes = APIRouter(tags=["feedback"])


def as_class(label: Any, model: LoadedModel | None) -> Any:
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


def label_error(label: Any, models: list[LoadedModel]) -> str | None:
    """Why ``label`` cannot be a label of these models (None: it can). Classification:
    one of the classes a model knows (any scalar when none says); regression: a number."""
    if not models:
        return None
    if any(m.classes is None for m in models):  # regression
        if isinstance(label, bool) or not isinstance(label, int | float):
            return f"label {shown(label)} is not a number (the model is a regressor)"
        return None
    known = [c for m in models for c in (m.classes or ())]
    if not known:  # a classifier that does not list its classes (some pyfuncs)
        return None
    if as_class(label, models[0]) in known or any(as_class(label, m) in known for m in models):
        return None
    listed = ", ".join(shown(c) for c in dict.fromkeys(known))
    return f"label {shown(label)} is not one of the model's classes ({listed[:200]})"


def _validated(body: FeedbackRequest, models: list[LoadedModel]) -> list[tuple[str, Any]]:
    """The (request_id, label) pairs in the classes' own spelling; a 422 naming the first
    bad labels otherwise."""
    pairs = body.pairs()
    errors = []
    for i, (_, label) in enumerate(pairs):
        reason = label_error(label, models)
        if reason is not None:
            loc = ["body", "items", i, "label"] if body.items is not None else ["body", "label"]
            errors.append({"loc": loc, "msg": reason, "type": "value_error"})
            if len(errors) == 5:  # a short answer, however long the batch
                break
    if errors:
        raise HTTPException(422, errors)
    reference = models[0] if models else None
    return [(rid, as_class(label, reference)) for rid, label in pairs]


@routes.post("/feedback", response_model=FeedbackResponse)
async def post_feedback(body: FeedbackRequest, state: State, source: Feedback) -> FeedbackResponse:
    """Record the true label of earlier predictions (all or none of a batch); needs the
    feedback (or admin) token.

    401/403: no or a wrong token. 422: a label the model cannot have (not one of its
    classes; not a number for a regressor). 404: unknown request_id. 409: a different
    label is already recorded (the first label stands). The same label again is accepted.
    """
    models = [m for m in state.slots.snapshot() if m is not None]
    try:
        pairs = _validated(body, models)
    except HTTPException:
        state.metrics.feedback.labels("invalid").inc()
        raise
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(state.store.add_feedback, pairs, source=source),
            state.settings.serving.log_deadline,
        )
    except NotFoundError as exc:
        state.metrics.feedback.labels("not_found").inc()
        raise HTTPException(404, str(exc)) from exc
    except ConflictError as exc:
        state.metrics.feedback.labels("conflict").inc()
        raise HTTPException(409, str(exc)) from exc
    except BackendError as exc:
        raise HTTPException(503, str(exc)) from exc
    except TimeoutError as exc:  # a label posted again later is a duplicate, not a conflict
        raise HTTPException(503, "the database did not answer in time; post again") from exc
    state.metrics.feedback.labels("accepted").inc(result.inserted)
    state.metrics.feedback.labels("duplicate").inc(result.duplicates)
    return FeedbackResponse(inserted=result.inserted, duplicates=result.duplicates)
