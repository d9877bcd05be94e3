"""``GET|PUT /ab/config`` and ``GET /ab/report``: the experiment in force."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException

from champion.errors import BackendError
from champion.serving.auth import Admin, Reader, State
from champion.serving.poller import background, keep_sums
from champion.serving.schemas import ABConfigIn, ABConfigOut, ABReport, VariantOut

routes = APIRouter(tags=["a/b"])


@routes.get("/ab/config", response_model=ABConfigOut)
async def get_ab_config(state: State) -> ABConfigOut:
    return ABConfigOut(**state.config().to_dict())


@routes.put("/ab/config", response_model=ABConfigOut)
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
    if new.experiment_id != current.experiment_id:  # its looks' sums start now, kept up
        background(state, keep_sums(state, start=True))  # by the API from its first rows
    return ABConfigOut(**new.to_dict())


@routes.get("/ab/report", response_model=ABReport)
async def ab_report(state: State, _reader: Reader) -> ABReport:
    """Per-variant counts, label coverage and live metrics of the current experiment."""
    config = state.config()
    try:
        stats = await asyncio.wait_for(
            asyncio.to_thread(state.store.variant_stats, config.experiment_id),
            state.settings.serving.log_deadline,
        )
    except BackendError as exc:
        raise HTTPException(503, str(exc)) from exc
    except TimeoutError as exc:  # a read: asking again later is harmless
        raise HTTPException(503, "the database did not answer in time") from exc
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
