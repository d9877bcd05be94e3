"""``POST /feedback``: the true labels of earlier predictions."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException

from champion.errors import BackendError, ConflictError, NotFoundError
from champion.predictionlog import to_json
from champion.serving.auth import State
from champion.serving.loading import LoadedModel
from champion.serving.schemas import FeedbackRequest, FeedbackResponse

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


@routes.post("/feedback", response_model=FeedbackResponse)
async def post_feedback(body: FeedbackRequest, state: State) -> FeedbackResponse:
    """Record the true label of earlier predictions (all or none of a batch).

    404: unknown request_id. 409: a different label is already recorded (the first
    label stands). The same label again is accepted.
    """
    champion = state.slots.champion
    pairs = [(rid, as_class(label, champion)) for rid, label in body.pairs()]
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
