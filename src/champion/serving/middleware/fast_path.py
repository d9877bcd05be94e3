"""``POST /predict`` without FastAPI's request machinery, for well-formed bodies.

Under load the event loop is the bottleneck, and much of its time went to FastAPI's
routing, dependency solving and body handling around a handler that needs none of it
(docs/benchmarks.md). This ASGI middleware serves the common case directly: a JSON object
with ``features`` (an object) and an optional ``user_id`` (a string of 1–256 characters,
an integer, or null) and nothing else — exactly what :class:`PredictRequest` accepts
without coercion. Anything else (another content type, invalid JSON, NaN literals, other
keys or types) is replayed into FastAPI unchanged, so every error keeps its usual form
and the OpenAPI schema still documents the route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from champion.serving.middleware.body_limit import media_type, read_body, replay, send_json
from champion.serving.middleware.json_guard import PARSED
from champion.serving.schemas import Item

Serve = Callable[..., Awaitable[list[Any]]]
#: A response: status, JSON content, extra headers.
Answer = tuple[int, Any, "dict[str, str] | None"]
_KEYS = frozenset({"user_id", "features"})
log = logging.getLogger("champion.serving")


def well_formed(data: Any) -> bool:
    if type(data) is not dict or not data.keys() <= _KEYS or type(data.get("features")) is not dict:
        return False
    user = data.get("user_id")
    return user is None or type(user) is int or (type(user) is str and 1 <= len(user) <= 256)


class PredictFastPath:
    def __init__(
        self,
        app: Any,
        *,
        serve: Serve,
        validation_detail: Callable[[RequestValidationError], Any],
    ) -> None:
        self.app = app
        self.serve = serve
        self.validation_detail = validation_detail

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/predict"
            or scope["method"] != "POST"
            or media_type(scope["headers"]) != b"application/json"
        ):
            await self.app(scope, receive, send)
            return
        if PARSED in scope:  # the JSON guard in front has read, parsed and checked it
            data = scope[PARSED]
            if not well_formed(data):  # its receive hands the app the body again
                await self.app(scope, receive, send)
                return
        else:
            body = await read_body(receive)
            if body is None:
                return
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = None
            if not well_formed(data):
                await self.app(scope, replay(body, receive), send)
                return
        status, content, headers = await self.answer(scope["app"], data)
        await send_json(send, status, content, headers)

    async def answer(self, app: Any, data: dict[str, Any]) -> Answer:
        """The response to a well-formed body: (status, JSON content, extra headers)."""
        item = Item(data.get("user_id"), data["features"])
        try:
            answers = await self.serve(app.state.serving, [item], batch=False)
        except HTTPException as exc:
            return exc.status_code, {"detail": exc.detail}, exc.headers
        except RequestValidationError as exc:
            return 422, {"detail": self.validation_detail(exc)}, None
        except Exception:  # what the error layer behind would do: a 500, logged
            log.exception("POST /predict failed")
            return 500, {"detail": "Internal Server Error"}, None
        return 200, answers[0], None


class DirectPredict:
    """``POST /predict`` for a caller holding the whole body (the HTTP protocol's lane,
    ``serving/lane.py``): the body the JSON guard's byte bounds and the fast path would
    pass straight through is answered here; any other is left to the ASGI chain, whose
    checks and errors then apply as always."""

    def __init__(self, fast: PredictFastPath, bounded: Callable[[bytes], bool]) -> None:
        self.fast = fast
        self.bounded = bounded

    def parsed(self, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any] | None:
        """The body's value if this answers it (None: the ASGI chain does)."""
        if media_type(headers) != b"application/json" or not self.bounded(body):
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return data if well_formed(data) else None
