"""``POST /predict`` and ``POST /predict/batch``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from champion.serving.auth import State
from champion.serving.responses import json_response
from champion.serving.schemas import BatchRequest, BatchResponse, PredictRequest, PredictResponse
from champion.serving.scoring import serve

routes = APIRouter(tags=["predict"])


@routes.post("/predict", response_model=PredictResponse)
async def predict(body: PredictRequest, request: Request) -> Response:
    """Score one row; the response is sent after its log row is committed."""
    # the state straight from the app: dependency resolution costs ~5 % of a request
    return json_response((await serve(request.app.state.serving, [body], batch=False))[0])


@routes.post("/predict/batch", response_model=BatchResponse)
async def predict_batch(body: BatchRequest, state: State) -> Response:
    """Score several rows at once (at most CHAMPION_MAX_BATCH_ITEMS)."""
    limit = state.settings.serving.max_batch_items
    if len(body.items) > limit:
        raise HTTPException(413, f"batch of {len(body.items)} items exceeds the limit {limit}")
    return json_response({"predictions": await serve(state, body.items, batch=True)})
