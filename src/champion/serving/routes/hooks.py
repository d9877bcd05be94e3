"""``POST /hooks/mlflow``: MLflow's model-registry webhook (``champion webhook
subscribe``). An alias of this API's model set or deleted makes this worker reload at
once and raises the registry signal in the prediction log, which every other worker
and replica checks every ``CHAMPION_SIGNAL_INTERVAL`` seconds.

MLflow signs each delivery: ``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of
"<delivery id>.<timestamp>.<body>">``. A delivery is accepted only with a valid
signature and a timestamp within five minutes (a replayed one is refused).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request

from champion.errors import BackendError
from champion.serving.auth import State
from champion.types import Alias

log = logging.getLogger("champion.serving")
routes = APIRouter(tags=["hooks"])

#: Seconds a signed delivery stays acceptable (MLflow retries within this).
MAX_AGE_S = 300
ALIAS_ENTITY = "model_version_alias"


def signature_ok(secret: str, delivery: str, stamp: str, body: bytes, given: str) -> bool:
    signed = f"{delivery}.{stamp}.".encode() + body
    mac = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode("ascii")
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _fresh(stamp: str) -> bool:
    try:
        return abs(time.time() - int(stamp)) <= MAX_AGE_S
    except ValueError:
        return False


def _alias_move(payload: Any, model: str) -> str | None:
    """``"<alias> <action> (v<version>)"`` when the delivery moves one of this model's
    serving aliases, else None."""
    if not isinstance(payload, dict) or payload.get("entity") != ALIAS_ENTITY:
        return None
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("name") != model:
        return None
    alias = data.get("alias")
    if alias not in {a.value for a in Alias}:
        return None
    version = data.get("version")
    return f"{alias} {payload.get('action')}" + (f" (v{version})" if version else "")


@routes.post("/hooks/mlflow", include_in_schema=True)
async def mlflow_hook(
    request: Request,
    state: State,
    x_mlflow_signature: Annotated[str | None, Header()] = None,
    x_mlflow_timestamp: Annotated[str | None, Header()] = None,
    x_mlflow_delivery_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """An MLflow registry event; 200 whether or not it concerns this model."""
    secret = state.settings.serving.registry_webhook_secret
    if secret is None:
        raise HTTPException(403, "registry webhooks are off: CHAMPION_REGISTRY_WEBHOOK_SECRET")
    if not (x_mlflow_signature and x_mlflow_timestamp and x_mlflow_delivery_id):
        raise HTTPException(401, "an MLflow webhook delivery is signed: X-MLflow-Signature")
    body = await request.body()
    good = signature_ok(
        secret.get_secret_value(),
        x_mlflow_delivery_id,
        x_mlflow_timestamp,
        body,
        x_mlflow_signature,
    )
    if not good:
        raise HTTPException(403, "invalid webhook signature")
    if not _fresh(x_mlflow_timestamp):
        raise HTTPException(403, "webhook delivery too old (or from the future)")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise HTTPException(422, "the webhook body is not JSON") from exc
    moved = _alias_move(payload, state.settings.model_name)
    if moved is None:
        return {"reload": False}
    state.wake.set()
    try:
        state.generation = await asyncio.wait_for(
            asyncio.to_thread(state.store.bump_registry_signal, moved),
            state.settings.serving.log_deadline,
        )
    except (BackendError, TimeoutError) as exc:  # this worker still reloads; others poll
        log.warning("registry signal not raised: %s", exc)
        return {"reload": True, "signalled": False}
    log.info("registry webhook: %s", moved)
    return {"reload": True, "signalled": True}
