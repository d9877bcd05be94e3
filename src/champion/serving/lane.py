"""``POST /predict`` answered by the HTTP protocol itself, without the ASGI layers.

Under load the event loop bounds the API. For each prediction, uvicorn's request cycle (a
scope built from the parsed URL, an ``asyncio.Event``, a task around the app, a ``send``
that checks every header) and the ASGI layers in front of the fast path (the body limit,
the JSON guard, each wrapping ``receive``) cost the loop about a tenth of its time
(docs/benchmarks.md). :class:`ServingProtocol` holds a prediction request's whole body
(announced by ``content-length``) and hands it to the serving app: a body the JSON
guard's byte bounds and the fast path would let straight through is answered by the fast
path's own code (:class:`~champion.serving.middleware.fast_path.DirectPredict`); any
other goes through the same ASGI chain as before (``ServingAPI.front``), with a receive
that gives the body at once, so every refusal keeps its form. The response, head and
body, is one write.

The lane is taken only when nothing else is in play: HTTP/1.1 with keep-alive, no
``Expect``, no ``Upgrade``, no ``transfer-encoding``, a ``content-length`` within the body
limit, no query string, nothing pipelined ahead, uvicorn's concurrency limit and access
log off. Anything else goes through uvicorn as before. While a lane request is answered
the connection's cycle is a :class:`LaneCycle`, so a request pipelined behind it is
queued by uvicorn and started when the lane's response is complete, in order.

The client address is the socket's: the lane does not apply ``X-Forwarded-For``, which no
part of the prediction path reads.
"""

from __future__ import annotations

import asyncio
import http
import logging
from typing import Any, NamedTuple

from champion.serving.middleware.body_limit import send_json
from champion.serving.middleware.fast_path import DirectPredict
from champion.serving.protocol import GuardedHttpProtocol

log = logging.getLogger("champion.serving")
_STATUS = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in http.HTTPStatus}
#: Request headers that send a request the ordinary way.
_NOT_LANE = frozenset({b"expect", b"upgrade", b"transfer-encoding"})


class LaneCycle:
    """What uvicorn reads off the connection's cycle while a lane request runs."""

    def __init__(self) -> None:
        self.response_complete = False
        self.disconnected = False
        self.keep_alive = True  # uvicorn's shutdown sets it False: close after the answer
        self.message_event = self  # uvicorn sets it on a lost connection
        self.gone: asyncio.Future[None] | None = None  # an app waiting for a disconnect

    def set(self) -> None:
        if self.gone is not None and not self.gone.done():
            self.gone.set_result(None)


class _Serving(NamedTuple):
    app: Any  # the ServingAPI
    front: Any  # its front chain: body limit, JSON guard, fast path
    max_bytes: int  # the body limit
    direct: DirectPredict


def _front(app: Any) -> _Serving | None:
    """The serving app under uvicorn's wrappers, and what the lane calls of it."""
    for _ in range(8):
        front = getattr(app, "front", None)
        direct = getattr(app, "direct", None)
        if front is not None and isinstance(direct, DirectPredict):
            limit = getattr(front, "max_bytes", None)
            return None if limit is None else _Serving(app, front, int(limit), direct)
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class ServingProtocol(GuardedHttpProtocol):
    """The HTTP limits of :class:`GuardedHttpProtocol`, with the prediction lane."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._serving = None if self.limit_concurrency or self.access_log else _front(self.app)
        self._lane: list[bytes] | None = None  # the body of a lane request, arriving

    def on_headers_complete(self) -> None:
        if self._lane_taken():
            self._head_done()
            if self._refusal is None:
                self._lane = []
                self.cycle = LaneCycle()  # type: ignore[assignment]
                return
        super().on_headers_complete()

    def _lane_taken(self) -> bool:
        if self._serving is None or self.url != b"/predict":
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # pipelined behind another request: uvicorn queues it
        parser = self.parser
        if (
            parser.get_method() != b"POST"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or self.pipeline
        ):
            return False
        length = None
        for name, value in self.headers:
            if name in _NOT_LANE:
                return False
            if name == b"content-length":
                length = value
        return length is not None and length.isdigit() and int(length) <= self._serving.max_bytes

    def on_body(self, body: bytes) -> None:
        if self._lane is not None:
            self._lane.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._lane is None:
            super().on_message_complete()
            return
        body, self._lane = b"".join(self._lane), None
        self._body_done()
        cycle = self.cycle
        assert isinstance(cycle, LaneCycle)
        task = self.loop.create_task(self._answer(cycle, self._scope(), body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _scope(self) -> dict[str, Any]:
        assert self._serving is not None
        return {
            **self.scope,  # uvicorn's for this request: server, client, scheme, state …
            "method": "POST",
            "path": "/predict",
            "raw_path": b"/predict",
            "query_string": b"",
            "app": self._serving.app,
        }

    async def _answer(self, cycle: LaneCycle, scope: dict[str, Any], body: bytes) -> None:
        assert self._serving is not None
        response = _Response(cycle, body)
        data: bytes | None = None
        serving = self._serving
        try:
            parsed = serving.direct.parsed(scope["headers"], body)
            if parsed is None:
                await serving.front(scope, response.receive, response.send)
            else:
                await send_json(
                    response.send, *await serving.direct.fast.answer(serving.app, parsed)
                )
            data = response.encoded(self.server_state.default_headers)
        except Exception:  # what uvicorn does: logged, a 500 unless the answer began
            log.exception("POST /predict failed")
            cycle.keep_alive = False
            if not response.started:
                data = _Response.error(cycle).encoded(self.server_state.default_headers)
        if data is not None and not cycle.disconnected and not self.transport.is_closing():
            self._out.transport.write(data)
        cycle.response_complete = True
        if not cycle.keep_alive or response.closes:
            self.transport.close()
        self.on_response_complete()


class _Response:
    """The ASGI side of one lane request: its body at once, its answer collected."""

    def __init__(self, cycle: LaneCycle, body: bytes) -> None:
        self.cycle = cycle
        self._body: bytes | None = body
        self.started = False
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.closes = False

    async def receive(self) -> dict[str, Any]:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.cycle.disconnected:  # nothing more comes: wait for the client to go
            self.cycle.gone = asyncio.get_running_loop().create_future()
            await self.cycle.gone
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("the response has started already")
            self.started = True
            self.status = int(message["status"])
            self.headers = [
                (bytes(k).lower(), bytes(v))
                for k, v in message.get("headers", [])
                if bytes(k).lower() != b"content-length"  # set from the body itself
            ]
        elif kind == "http.response.body":
            if not self.started:
                raise RuntimeError("a response body before its start")
            self.body.append(bytes(message.get("body", b"")))

    @classmethod
    def error(cls, cycle: LaneCycle) -> _Response:
        """uvicorn's own answer to an app that failed before it answered."""
        response = cls(cycle, b"")
        response.started, response.status = True, 500
        response.headers = [(b"content-type", b"text/plain; charset=utf-8")]
        response.body = [b"Internal Server Error"]
        return response

    def encoded(self, defaults: list[tuple[bytes, bytes]]) -> bytes:
        """The whole response: status line, headers (``content-length`` from the body),
        body."""
        body = b"".join(self.body)
        parts = [_STATUS.get(self.status) or b"HTTP/1.1 %d \r\n" % self.status]
        for name, value in [*defaults, *self.headers]:
            if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
                raise RuntimeError("invalid HTTP header")
            if name == b"connection" and b"close" in value.lower():
                self.closes = True
            parts += [name, b": ", value, b"\r\n"]
        if not self.cycle.keep_alive and not self.closes:
            parts.append(b"connection: close\r\n")
        parts.append(b"content-length: %d\r\n\r\n" % len(body))
        parts.append(body)
        return b"".join(parts)
