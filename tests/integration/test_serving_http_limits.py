"""HTTP limits of ``champion serve`` against raw sockets: oversized and too many headers
are a 431, a head or body that trickles in is a 408 and the connection is closed, an
idle keep-alive connection is closed — and normal requests are served all along."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from champion.predictionlog import sqlite_url

from servers import api_server

LIMITS = {
    "CHAMPION_HTTP_HEADER_TIMEOUT": "1.5",
    "CHAMPION_HTTP_BODY_TIMEOUT": "1.5",
    "CHAMPION_HTTP_KEEP_ALIVE": "1.5",
}


@pytest.fixture(scope="module")
def api(model_home, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": sqlite_url(tmp / "events.db"),
        **LIMITS,
    }
    with api_server(env, tmp) as server:
        yield server


def _connect(url: str) -> socket.socket:
    parts = urlparse(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _read_all(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and how long that took."""
    start, data = time.monotonic(), b""
    sock.settimeout(limit)
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and its Content-Length body), however it is segmented."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else 0


def test_an_oversized_header_is_431_and_closed(api) -> None:
    sock = _connect(api.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: ")
    try:
        for _ in range(8 * 16):  # up to 8 MiB in 64 KiB pieces; the server stops us first
            sock.sendall(b"a" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, _ = _read_all(sock)
    sock.close()
    assert _status(data) == 431, data[:200]


def test_too_many_headers_are_431(api) -> None:
    headers = b"".join(b"x-h%d: 1\r\n" % i for i in range(101))
    sock = _connect(api.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
    data, _ = _read_all(sock)
    sock.close()
    assert _status(data) == 431, data[:200]


def test_a_hundred_headers_are_served(api) -> None:
    headers = b"".join(b"x-h%d: 1\r\n" % i for i in range(99))  # with host: 100
    sock = _connect(api.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
    data = _read_response(sock)
    sock.close()
    assert _status(data) == 200, data[:200]


def test_a_head_request_gets_its_head_at_once_and_the_connection_goes_on(api) -> None:
    # the head of a response is held for its body; a HEAD response has none
    sock = _connect(api.url)
    sock.settimeout(5)
    start = time.monotonic()
    sock.sendall(b"HEAD /health HTTP/1.1\r\nhost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    assert time.monotonic() - start < 1.0  # not held until the keep-alive timeout
    head, _, rest = data.partition(b"\r\n\r\n")
    assert _status(head) in (200, 405) and re.search(rb"(?im)^content-length:", head)
    assert rest == b""
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    assert _status(_read_response(sock)) == 200
    sock.close()


def test_pipelined_requests_are_answered_whole_and_in_order(api) -> None:
    sock = _connect(api.url)
    sock.sendall(
        b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
        b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n"
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    data, _ = _read_all(sock)
    sock.close()
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    assert statuses == [200, 404, 200], data[:600]
    bodies = re.split(rb"HTTP/1\.1 \d{3} [^\r]*\r\n", data)[1:]
    for part in bodies:  # each head's content-length is exactly its body
        head, _, body = part.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        assert len(body) == length, part[:300]


@pytest.mark.parametrize(
    "opening",
    [b"", b"GET /health HTTP/1.1\r\nhost: x\r\n", b"G"],
    ids=["idle before a request", "an unfinished head", "one byte"],
)
def test_a_head_that_does_not_arrive_is_cut_off(api, opening) -> None:
    sock = _connect(api.url)
    if opening:
        sock.sendall(opening)
    data, waited = _read_all(sock)
    sock.close()
    assert waited < 5, waited  # the 1.5 s deadline, not the client's patience
    assert data == b"" or _status(data) == 408, data[:200]


def test_a_trickling_head_is_cut_off_at_its_deadline(api) -> None:
    sock = _connect(api.url)
    start = time.monotonic()
    closed = False
    for byte in b"GET /health HTTP/1.1\r\nhost: x\r\n":  # one byte every 0.2 s
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(0.2)
        if time.monotonic() - start > 6:
            break
    data, _ = _read_all(sock, limit=5)
    sock.close()
    assert closed or _status(data) == 408, data[:200]
    assert time.monotonic() - start < 8


def test_a_body_that_does_not_arrive_is_408(api) -> None:
    sock = _connect(api.url)
    sock.sendall(
        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 1000\r\n\r\n{"features": '
    )
    data, waited = _read_all(sock)
    sock.close()
    assert _status(data) == 408 and waited < 5, (data[:200], waited)


@pytest.mark.parametrize(
    "unfinished",
    [b"GET /health HTTP/1.1\r\nhost", b'POST /predict HTTP/1.1\r\ncontent-length: 50\r\n\r\n{"f'],
    ids=["head", "body"],
)
def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline(api, unfinished) -> None:
    """A request that arrives whole arms no deadline; the next one on the connection,
    left unfinished, is still cut off at its own deadline (from its first byte), with
    no bytes of it arriving afterwards to arm one."""
    sock = _connect(api.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    assert _status(_read_response(sock)) == 200
    time.sleep(0.5)  # within the keep-alive timeout
    start = time.monotonic()
    sock.sendall(unfinished)
    data, _ = _read_all(sock)
    sock.close()
    waited = time.monotonic() - start
    assert _status(data) == 408, data[:200]
    assert 1.3 < waited < 3.5, waited  # the 1.5 s deadline of this request


def test_an_idle_keep_alive_connection_is_closed(api) -> None:
    sock = _connect(api.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    first = _read_response(sock)
    assert _status(first) == 200
    data, waited = _read_all(sock)  # nothing more is sent: the server closes
    sock.close()
    assert data == b"" and waited < 5, waited


def test_normal_requests_are_served_beside_the_probes(api) -> None:
    with httpx.Client(timeout=10) as client:
        for _ in range(3):
            assert client.get(f"{api.url}/health").status_code == 200
        # keep-alive reuse within the idle timeout works
        assert client.get(f"{api.url}/ready").status_code in (200, 503)
