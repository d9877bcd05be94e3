"""Following the registry and the database: one poll every ``CHAMPION_POLL_INTERVAL``
seconds checks the database and reads the A/B configuration, and follows the aliases
(loading a moved version completely before swapping it in)."""

from __future__ import annotations

import asyncio
import gc
import logging

from champion.errors import BackendError
from champion.serving.state import ServingState
from champion.tracking.registry import open_registry
from champion.types import Alias

log = logging.getLogger("champion.serving")


async def refresh(state: ServingState) -> None:
    """One poll: database health and A/B config, registry aliases and model swaps."""
    try:
        state.ab = await asyncio.to_thread(state.store.ab_config)
        state.database_ok, state.database_error = True, None
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
