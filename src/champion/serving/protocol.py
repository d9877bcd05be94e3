"""HTTP limits of the API's server: uvicorn's httptools protocol with bounds on what a
client may hold open.

uvicorn bounds neither the size nor the number of request headers with httptools, and
has no deadline for a request head or body that trickles in (only an idle keep-alive
timeout), so a few slow or oversized connections can hold memory and sockets for as
long as the client likes. This protocol adds, per connection:

* **head size** — the bytes of a request line and headers, counted as they arrive
  (before the parser buffers them): more than ``max_header_bytes`` is a 431 and the
  connection is closed;
* **header count** — more than ``max_headers`` is a 431;
* **head deadline** — a request head must be complete within ``header_timeout`` seconds
  of its first byte (or of the connection), else 408 and close;
* **body deadline** — a body must be complete within ``body_timeout`` seconds of its
  head, else 408 and close;
* the **idle keep-alive** timeout is uvicorn's own (``timeout_keep_alive``).

It also sends a response's head and its body in one write: uvicorn writes each ASGI
message to the socket as it comes, so a whole response (``http.response.start``, then
its body) cost two ``send`` calls and the client two wake-ups. A head that declares a
``content-length`` is held until the first body bytes, the response's end, or the
connection's close, whichever comes first (docs/benchmarks.md).

The limits come from the settings (``CHAMPION_HTTP_*``), read once per worker.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from champion.settings import load_settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_LENGTH = b"\r\ncontent-length:"  # uvicorn writes header names in lower case


class HeadHoldingTransport:
    """The connection's transport, writing a response head with its first body bytes.

    Only a head with a ``content-length`` is held: its body follows at once, except for
    a HEAD request (no body is written: the response's end lets the head go). A head
    without one (100 Continue, a chunked stream) is written at once.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.held is not None:
            data, self.held = self.held + data, None
        elif data.startswith(b"HTTP/") and _LENGTH in data and data.endswith(b"\r\n\r\n"):
            self.held = data
            return
        self.transport.write(data)

    def flush(self) -> None:
        if self.held is not None:
            data, self.held = self.held, None
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # the rest of the transport's interface
        return getattr(self.transport, name)


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0


@functools.cache
def limits() -> HttpLimits:
    serving = load_settings().serving
    return HttpLimits(
        max_header_bytes=serving.http_max_header_bytes,
        max_headers=serving.http_max_headers,
        header_timeout=serving.http_header_timeout,
        body_timeout=serving.http_body_timeout,
    )


class GuardedHttpProtocol(HttpToolsProtocol):
    """httptools with the limits of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits()
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._refusal: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        # when the deadline of the head (of the body) runs from; a timer is armed only
        # if a chunk of bytes leaves it incomplete: most requests arrive whole, in one
        # chunk, and would pay for a timer armed and cancelled twice each
        self._head_since: float | None = None
        self._body_since: float | None = None

    # -- phases ----------------------------------------------------------------------------
    def _arm_at(self, when: float) -> None:
        self._disarm()
        self._timer = self.loop.call_at(when, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport is not None and not self.transport.is_closing():
            self._refuse(408, "the request did not arrive in time")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._out = HeadHoldingTransport(transport)
        self.transport = self._out  # type: ignore[assignment]  # what uvicorn writes to
        self._head_since = self.loop.time()
        self._arm_at(self._head_since + self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._head_done()
        super().on_headers_complete()

    def _head_done(self) -> None:
        # counted once the head is parsed (the head-size limit bounds how many can pile
        # up before): a call of ours for every header cost more than the check
        if len(self.headers) > self._limits.max_headers:
            self._refusal = 431
        self._in_head = False
        self._disarm()
        self._head_since, self._body_since = None, self.loop.time()

    def on_message_complete(self) -> None:
        self._body_done()
        super().on_message_complete()

    def _body_done(self) -> None:
        self._disarm()  # the app has all of it; answering is the app's affair
        self._body_since = None

    def on_response_complete(self) -> None:
        self._out.flush()  # a HEAD response's head
        self._in_head, self._head_bytes, self._head_tail = True, 0, b""
        super().on_response_complete()  # arms uvicorn's keep-alive timeout

    def _arm_if_incomplete(self) -> None:
        """After a chunk: a deadline for the head or body it left incomplete."""
        if self._timer is not None or self.transport.is_closing():
            return
        if self._in_head and self._head_since is not None:
            self._arm_at(self._head_since + self._limits.header_timeout)
        elif self._body_since is not None:
            self._arm_at(self._body_since + self._limits.body_timeout)

    # -- bytes -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_since is None:  # the first byte of a request after keep-alive
                self._head_since = self.loop.time()
            window = self._head_tail + data
            end = window.find(b"\r\n\r\n")
            head = len(data) if end < 0 else max(end + 4 - len(self._head_tail), 0)
            self._head_bytes += head
            self._head_tail = window[-3:]
            if self._head_bytes > self._limits.max_header_bytes:
                self._refuse(431, "request headers too large")
                return
        super().data_received(data)
        if self._refusal is not None and not self.transport.is_closing():
            self._refuse(self._refusal, "too many request headers")
            return
        self._arm_if_incomplete()

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        body = message.encode("ascii")
        head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
        self.transport.write(
            head
            + b"content-type: text/plain; charset=utf-8\r\n"
            + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            + body
        )
        self.transport.close()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
