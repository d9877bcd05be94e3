"""Following the registry and the database: one poll every ``CHAMPION_POLL_INTERVAL``
seconds checks the database and reads the A/B configuration, and follows the aliases
(loading a moved version completely before swapping it in)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from champion.errors import BackendError
from champion.serving.state import ServingState
from champion.tracking.registry import open_registry
from champion.types import Alias

log = logging.getLogger("champion.serving")

#: A PostgreSQL log's day partitions are made a week ahead; an API that runs for weeks
#: keeps them coming (champion.predictionlog.partitions).
PARTITION_UPKEEP_S = 3600.0


async def _keep_partitions(state: ServingState) -> None:
    now = time.monotonic()
    if now - state.partitions_made_at < PARTITION_UPKEEP_S:
        return
    state.partitions_made_at = now
    try:
        made = await asyncio.to_thread(state.store.ensure_partitions)
    except BackendError as exc:  # rows go to the default partition meanwhile
        log.warning("%s", exc)
        return
    if made:
        log.info("made log partitions %s", ", ".join(made))


async def refresh(state: ServingState) -> None:
    """One poll: database health and A/B config, registry aliases and model swaps."""
    try:
        state.ab = await asyncio.to_thread(state.store.ab_config)
        state.database_ok, state.database_error = True, None
        await _keep_partitions(state)
    except BackendError as exc:
        state.database_ok, state.database_error = False, str(exc)
        log.warning("%s", exc)
    if state.registry is None:
        try:
            state.registry = await asyncio.to_thread(open_registry, state.settings)
        except Exception as exc:  # unreachable, refusing, a bad URI: retried next poll
            state.slots.last_error = f"registry unreachable: {exc}"
            return
    if await asyncio.to_thread(state.slots.refresh, state.registry):
        # a swapped-in model lives until the next swap: keep it out of the collector
        gc.collect()
        gc.freeze()
    state.metrics.model_version.clear()
    for slot, model in zip(Alias, state.slots.snapshot(), strict=True):
        if model is not None and model.version.isdigit():
            path = "compiled" if model.predictor.compiled else "pipeline"
            state.metrics.model_version.labels(slot, path).set(int(model.version))


async def poll(state: ServingState) -> None:
    """Refresh forever; a failed poll is logged and the next one tries again."""
    while True:
        await asyncio.sleep(state.settings.serving.poll_interval)
        try:
            await refresh(state)
        except Exception:  # never let the poller die
            log.exception("poll failed")
