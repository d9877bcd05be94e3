"""Following the registry and the database: one poll every ``CHAMPION_POLL_INTERVAL``
seconds checks the database and reads the A/B configuration, and follows the aliases
(loading a moved version completely before swapping it in). A registry webhook
(``POST /hooks/mlflow``) makes the poll happen at once, in every worker."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from datetime import UTC, datetime
from typing import Any

from champion.errors import BackendError
from champion.notify import Event, Kind
from champion.predictionlog import EventStore
from champion.serving.state import ServingState
from champion.tracking.registry import open_registry
from champion.types import ABMode, Alias

log = logging.getLogger("champion.serving")

#: A PostgreSQL log's day partitions are made a week ahead; an API that runs for weeks
#: keeps them coming (champion.predictionlog.partitions).
PARTITION_UPKEEP_S = 3600.0
#: Seconds between the API's retries of undelivered notifications.
FLUSH_S = 60.0
#: Seconds between the API's reads of the latest drift check (for its gauges).
DRIFT_READ_S = 60.0
#: Statement timeout of the A/B upkeep (seconds): longer than a request may wait.
KEEP_TIMEOUT_S = 300.0


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
    for slot, model in zip(Alias, state.slots.snapshot(), strict=True):
        # every slot is set each poll (0: empty): a shared gauge cannot be cleared
        number = int(model.version) if model is not None and model.version.isdigit() else 0
        state.metrics.model_version.labels(slot).set(number)
        compiled = model is not None and model.predictor.compiled
        state.metrics.model_compiled.labels(slot).set(int(compiled))
        state.metrics.model_load_failing.labels(slot).set(int(slot in state.slots.failing))
    await _drift_gauges(state)


async def _drift_gauges(state: ServingState) -> None:
    """The latest recorded drift check, as gauges (read once a minute)."""
    now = time.monotonic()
    if now - state.drift_read_at < DRIFT_READ_S:
        return
    state.drift_read_at = now
    try:
        latest = await asyncio.to_thread(state.store.drift_history, None, 1)
    except BackendError:
        return
    if latest:
        state.metrics.drift_detected.set(int(latest[0].drifted))
        state.metrics.drift_checked.set(latest[0].checked_at.timestamp())


def notify_load_failures(state: ServingState) -> None:
    failures, state.slots.new_failures = state.slots.new_failures, []
    for _, slot, _, _ in failures:
        state.metrics.model_load_failures.labels(slot).inc()
    if state.notifier is None:
        return
    for key, slot, version, error in failures:
        event = Event(
            Kind.MODEL_LOAD_FAILED,
            state.settings.model_name,
            f"The API could not load {slot} v{version}; it keeps serving the loaded "
            f"models: {error}",
            {"slot": slot, "version": version, "error": error},
            key=f"load:{key}",  # every worker sees it; the first to write it sends it
        )
        background(state, _counted(state, state.notifier.emit, event))


async def _counted(state: ServingState, send: Any, *args: Any) -> None:
    rows = await asyncio.to_thread(send, *args)
    for row in rows:
        state.metrics.notifications.labels(row.state).inc()


def background(state: ServingState, work: Any) -> None:
    """Run ``work`` beside the requests (the state's tasks, cancelled at shutdown)."""
    task = asyncio.create_task(work)
    state.tasks.append(task)
    task.add_done_callback(lambda done: state.tasks.remove(done) if done in state.tasks else None)


async def keep_sums(state: ServingState, *, start: bool = False) -> None:
    """Add the rows that arrived to the running sums of the experiment's look (only sums
    a look started: :func:`champion.predictionlog.look_state.keep_up`; ``start``: or
    start them, for an experiment just started through the API)."""
    config = state.config()
    champion, challenger = state.slots.snapshot()
    if config.mode == ABMode.OFF or champion is None or challenger is None:
        return
    if state.keeper is None:  # minutes of rows may take longer than a request's deadline
        state.keeper = EventStore(
            state.settings.events_url,
            model_name=state.settings.model_name,
            statement_timeout=KEEP_TIMEOUT_S,
        )
    state.keeping += 1
    try:
        await asyncio.to_thread(
            state.keeper.keep_up,
            config.experiment_id,
            champion=champion.version,
            challenger=challenger.version,
            task=champion.task,
            mode=config.mode,
            split_b=config.split_b,
            policy=state.settings.ab.policy(),
            now=datetime.now(UTC),
            start=start,
        )
    except BackendError as exc:  # the next upkeep, or the look itself, adds them
        log.warning("A/B sums not kept up: %s", exc)
    finally:
        state.keeping -= 1


async def _signalled(state: ServingState) -> bool:
    """Whether the registry signal moved since this worker last looked (a webhook that
    reached another worker)."""
    try:
        generation = await asyncio.to_thread(state.store.registry_generation)
    except BackendError:
        return False  # the full poll reports the database
    moved = generation != state.generation
    state.generation = generation
    return moved


async def poll(state: ServingState) -> None:
    """Refresh forever: every ``CHAMPION_POLL_INTERVAL``, and at once when a registry
    webhook wakes this worker or (checked every ``CHAMPION_SIGNAL_INTERVAL`` when the
    webhook is configured) the registry signal says another worker got one. A failed
    poll is logged and the next one tries again."""
    serving = state.settings.serving
    signals = serving.registry_webhook_secret is not None
    loop = asyncio.get_running_loop()
    next_poll = loop.time() + serving.poll_interval
    next_flush = loop.time() + FLUSH_S
    next_keep = loop.time() + serving.ab_keep_interval
    if signals:
        await _signalled(state)  # the generation at start: nothing to act on yet
    while True:
        wait = max(next_poll - loop.time(), 0.0)
        if signals:
            wait = min(wait, serving.signal_interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wake.wait(), wait)
        woken = state.wake.is_set()
        state.wake.clear()
        if not woken and signals and loop.time() < next_poll:
            woken = await _signalled(state)
        if not woken and loop.time() < next_poll:
            continue
        try:
            await refresh(state)
        except Exception:  # never let the poller die
            log.exception("poll failed")
        state.reloads += int(woken)
        next_poll = loop.time() + serving.poll_interval
        notify_load_failures(state)
        if serving.ab_keep_interval and loop.time() >= next_keep and not state.keeping:
            next_keep = loop.time() + serving.ab_keep_interval
            background(state, keep_sums(state))
        if state.notifier is not None and loop.time() >= next_flush:
            next_flush = loop.time() + FLUSH_S
            background(state, _counted(state, state.notifier.flush))
