"""The traffic router: an HTTP service handing out batches of a dataset, with drift.

Compatible with the original data router: ``GET /traffic`` shows the configuration,
``POST /traffic`` changes it (``{"a": 0.5, "b": 0.5, "data_size": 5000,
"drift_cols": []}``; a + b must be 1, data_size positive, drift columns features of the
dataset — else 422 with the reason), ``POST /get_data`` returns a training batch with
the configured drift, ``POST /ab_data`` the same batch split into ``a`` and ``b`` parts
by the configured shares. Each batch is drawn with the next seed of a counter (or the
``seed`` given in the body), so successive batches differ and are reproducible.
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from champion.datasets import Dataset
from champion.errors import InvalidInputError
from champion.simulation.drift import make_traffic
from champion.simulation.replay import records

#: Rows per batch at most: one request must not make the router build (and a client
#: receive) an unbounded response.
MAX_BATCH = 10_000


class TrafficConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: float = Field(0.5, ge=0, le=1, description="Share of a batch for variant A.")
    b: float = Field(0.5, ge=0, le=1, description="Share of a batch for variant B.")
    data_size: int = Field(5000, gt=0, le=MAX_BATCH, description="Rows per batch.")
    drift_cols: list[str] = Field(default_factory=list, description="Columns to drift.")

    @model_validator(mode="after")
    def _shares_add_up(self) -> TrafficConfig:
        if not math.isclose(self.a + self.b, 1.0, abs_tol=1e-9):
            raise ValueError(f"a + b must be 1, got {self.a} + {self.b} = {self.a + self.b:g}")
        return self


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, description="Seed of this batch (default: next).")


#: ``POST /get_data`` and ``/ab_data`` take an optional JSON body.
OptionalBody = Annotated[BatchRequest | None, Body()]


class Batches:
    """The router's state: the configuration in force and the next batch's seed."""

    def __init__(self, source: Dataset, *, seed: int, shift_sd: float | None) -> None:
        self.source = source
        self.config = TrafficConfig()
        self.next_seed = seed
        self.shift_sd = shift_sd
        self.lock = asyncio.Lock()

    def configure(self, config: TrafficConfig) -> TrafficConfig:
        features = self.source.schema.features
        unknown = [c for c in config.drift_cols if c not in features]
        if unknown:
            raise HTTPException(
                422,
                f"drift_cols: {', '.join(unknown)} not among the features ({', '.join(features)})",
            )
        self.config = config
        return config

    def draw(self, body: BatchRequest | None) -> tuple[TrafficConfig, list[dict[str, Any]]]:
        """The next batch (rows as JSON-ready dicts) under the configuration in force."""
        config = self.config
        if body is not None and body.seed is not None:
            seed = body.seed
        else:
            seed, self.next_seed = self.next_seed, self.next_seed + 1
        try:
            frame = make_traffic(
                self.source.frame,
                config.data_size,
                seed=seed,
                drift_cols=config.drift_cols,
                shift_sd=self.shift_sd,
            )
        except InvalidInputError as exc:
            raise HTTPException(422, str(exc)) from exc
        return config, records(frame, list(self.source.frame.columns))

    async def next_batch(
        self, body: BatchRequest | None
    ) -> tuple[TrafficConfig, list[dict[str, Any]]]:
        async with self.lock:
            return await asyncio.to_thread(self.draw, body)


def create_router_app(source: Dataset, *, seed: int = 0, shift_sd: float | None = None) -> FastAPI:
    """The router over ``source``; ``shift_sd`` picks k-SD shifts over the router rule."""
    app = FastAPI(title="champion traffic router", description=__doc__, version="1")
    batches = Batches(source, seed=seed, shift_sd=shift_sd)
    target = source.schema.target

    @app.get("/traffic")
    async def get_traffic() -> TrafficConfig:
        return batches.config

    @app.post("/traffic")
    async def set_traffic(config: TrafficConfig) -> TrafficConfig:
        async with batches.lock:
            return batches.configure(config)

    @app.post("/get_data")
    async def get_data(body: OptionalBody = None) -> dict[str, Any]:
        config, rows = await batches.next_batch(body)
        return {"target": target, "drift_cols": config.drift_cols, "data": rows}

    @app.post("/ab_data")
    async def ab_data(body: OptionalBody = None) -> dict[str, Any]:
        config, rows = await batches.next_batch(body)
        cut = round(len(rows) * config.a)
        return {"target": target, "drift_cols": config.drift_cols, "a": rows[:cut], "b": rows[cut:]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "dataset": source.name, "rows": len(source.frame)}

    return app
