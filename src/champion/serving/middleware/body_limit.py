"""A request-body size limit, enforced before the body is read or parsed.

A pure ASGI middleware (no per-request task or copy): a declared ``Content-Length`` above
the limit is answered 413 at once; a chunked body is read here, up to the limit, and cut
off with 413 as soon as it passes it. Either way nothing reaches the endpoint, so
nothing is scored or logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]


async def read_body(receive: Any, limit: int | None = None) -> bytes | None:
    """The whole request body (None if the client went away); stops reading as soon as
    it is longer than ``limit``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if (limit is not None and len(body) > limit) or not message.get("more_body", False):
            return bytes(body)


def media_type(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The request's content type without parameters, lower case (None: no header)."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower()
    return None


async def send_json(
    send: Any, status: int, content: Any, headers: dict[str, str] | None = None
) -> None:
    """A complete JSON response, straight to the ASGI ``send``."""
    payload = orjson.dumps(content)
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that hands the app ``body`` again, then defers to the real one."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class BodySizeLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Any, status: int, detail: str) -> None:
        body = orjson.dumps({"detail": detail})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await self._refuse(send, 400, "Content-Length must be an integer")
                return
            if size > self.max_bytes:
                await self._refuse(send, 413, self._message(size))
                return
        if not chunked:  # the server holds the body to its declared length
            await self.app(scope, receive, send)
            return

        # Chunked: read it here, up to the limit, then hand the app the whole body.
        # (Raising from inside the app's read would be turned into a 400 by FastAPI.)
        body = await read_body(receive, self.max_bytes)
        if body is None:
            return
        if len(body) > self.max_bytes:
            await self._refuse(send, 413, self._message(len(body)))
            return
        await self.app(scope, replay(body, receive), send)

    def _message(self, size: int) -> str:
        return (
            f"request body of {size:,} bytes or more exceeds the limit of {self.max_bytes:,} bytes "
            "(CHAMPION_MAX_BODY_BYTES); send large scoring jobs as several batches"
        )
