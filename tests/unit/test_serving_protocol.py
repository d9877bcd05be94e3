"""The HTTP protocol's transport: a response head leaves with its first body bytes."""

from __future__ import annotations

from typing import Any

from champion.serving.protocol import HeadHoldingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class Recorder:
    """A transport that keeps what was written, one entry per ``write``."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_a_head_with_a_length_leaves_with_its_body_in_one_write() -> None:
    raw = Recorder()
    transport = HeadHoldingTransport(raw)  # type: ignore[arg-type]
    transport.write(HEAD)
    assert raw.writes == []
    transport.write(b"{}")
    assert raw.writes == [HEAD + b"{}"]
    transport.write(b"more")  # later bytes are written as they come
    transport.flush()
    assert raw.writes == [HEAD + b"{}", b"more"]


def test_a_head_without_a_length_is_written_at_once() -> None:
    raw = Recorder()
    transport = HeadHoldingTransport(raw)  # type: ignore[arg-type]
    cont = b"HTTP/1.1 100 Continue\r\n\r\n"
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    transport.write(cont)
    transport.write(chunked)
    assert raw.writes == [cont, chunked]


def test_a_held_head_leaves_on_flush_and_before_close() -> None:
    raw = Recorder()
    transport = HeadHoldingTransport(raw)  # type: ignore[arg-type]
    transport.write(HEAD)  # a HEAD request: no body follows
    transport.flush()
    assert raw.writes == [HEAD]
    transport.flush()  # nothing held: nothing written
    transport.write(HEAD)
    transport.close()
    assert raw.writes == [HEAD, HEAD] and raw.closed and transport.is_closing()


def test_a_body_that_looks_like_a_head_is_not_lost() -> None:
    raw = Recorder()
    transport = HeadHoldingTransport(raw)  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.write(HEAD)  # a body made of head-like bytes: joined to the real head
    transport.flush()
    assert b"".join(raw.writes) == HEAD + HEAD


def test_the_rest_of_the_transport_is_the_real_one() -> None:
    raw = Recorder()
    transport = HeadHoldingTransport(raw)  # type: ignore[arg-type]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
