"""The prediction lane of ``champion serve`` (``serving/lane.py``) over raw sockets: its
answers are the ASGI path's, byte for byte but for the date and the request id; it keeps
pipelined requests in order; what it does not take (HTTP/1.0, ``connection: close``,
chunked bodies) is served the ordinary way."""

from __future__ import annotations

import json
import re
import socket
from typing import Any
from urllib.parse import urlparse

import pytest

from champion.predictionlog import sqlite_url

from servers import api_server

ROW = (
    b'{"Pclass": 3, "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25, "Sex": "male",'
    b' "Deck": "C", "Embarked": "S"}'
)
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def api(model_home, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lane")
    env = {"CHAMPION_HOME": str(model_home), "CHAMPION_DATABASE_URL": sqlite_url(tmp / "e.db")}
    with api_server(env, tmp) as server:
        yield server


def _connect(url: str) -> socket.socket:
    parts = urlparse(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _post(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + extra + b"content-length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip


def _responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole responses (each head and its content-length body), in order."""
    data, found = b"", []
    while len(found) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(found)} responses: {data[:300]!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "closed inside a body"
            rest += chunk
        found.append(head + b"\r\n\r\n" + rest[:length])
        data = rest[length:]
    return found


def _normalised(response: bytes) -> tuple[bytes, list[bytes], Any]:
    """Status line, headers but the date, and the body with its request id masked; a
    200's body as its keys only, and no length (a request with no user is routed at
    random, so its variant and answer may differ between the two requests)."""
    head, _, body = response.partition(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    kept = sorted(h.lower() for h in headers if not h.lower().startswith(b"date:"))
    if status.startswith(b"HTTP/1.1 200 "):
        kept = [h for h in kept if not h.startswith(b"content-length:")]
        return status, kept, sorted(json.loads(body))
    return status, kept, UUID.sub(b"<id>", body)


BODIES = {
    "a user's row": b'{"user_id": "u1", "features": ' + ROW + b"}",
    "no user": b'{"features": ' + ROW + b"}",
    "an integer user": b'{"user_id": 7, "features": ' + ROW + b"}",
    "invalid JSON": b'{"features": ',
    "a key the fast path does not take": b'{"features": ' + ROW + b', "extra": 1}',
    "features not an object": b'{"features": [1, 2]}',
    "a missing feature": b'{"features": {"Pclass": 3}}',
    "a NaN literal": b'{"features": {"Pclass": NaN}}',
    "too deep": b'{"features": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
    "a NUL escape": b'{"features": {"Sex": "\\u0000"}}',
    "empty": b"",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_lane_answers_as_the_asgi_path_does(api, body) -> None:
    sock = _connect(api.url)
    # a query string sends the same request through uvicorn's own cycle and the
    # middleware to the same front chain: the reference answer
    sock.sendall(_post(b"/predict", body) + _post(b"/predict?via=asgi", body))
    lane, reference = _responses(sock, 2)
    assert _normalised(lane) == _normalised(reference), (lane[:400], reference[:400])
    if b'"user_id"' in body and lane.startswith(b"HTTP/1.1 200 "):  # the same arm: all equal
        assert UUID.sub(b"", lane.partition(b"\r\n\r\n")[2]) == UUID.sub(
            b"", reference.partition(b"\r\n\r\n")[2]
        )
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")  # the connection goes on
    assert _responses(sock, 1)[0].startswith(b"HTTP/1.1 200 ")
    sock.close()


def test_pipelined_requests_behind_a_lane_request_keep_their_order(api) -> None:
    good, bad = BODIES["a user's row"], BODIES["a missing feature"]
    sock = _connect(api.url)
    sock.sendall(
        _post(b"/predict", good)
        + b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
        + _post(b"/predict", bad)
        + _post(b"/predict", good)
        + b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n"
    )
    answers = _responses(sock, 5)
    sock.close()
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses == [200, 200, 422, 200, 404], [a[:200] for a in answers]
    assert b'"prediction"' in answers[0] and b'"prediction"' in answers[3]
    assert b'"status"' in answers[1] and b"missing feature" in answers[2]
    ids = [UUID.search(answers[i]).group(0) for i in (0, 3)]
    assert ids[0] < ids[1]  # time-ordered ids: the first request was served first


@pytest.mark.parametrize(
    "request_bytes",
    [
        _post(b"/predict", BODIES["a user's row"], b"connection: close\r\n"),
        _post(b"/predict", BODIES["a user's row"]).replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    ],
    ids=["connection: close", "HTTP/1.0"],
)
def test_a_request_that_closes_is_answered_then_closed(api, request_bytes) -> None:
    sock = _connect(api.url)
    sock.sendall(request_bytes)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert re.match(rb"HTTP/1\.[01] 200 ", data) and b'"prediction"' in data, data[:300]


def test_a_chunked_body_is_served_the_ordinary_way(api) -> None:
    body = BODIES["a user's row"]
    sock = _connect(api.url)
    sock.sendall(
        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 10 + body[:10] + b"\r\n"
        + b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n"
    )  # fmt: skip
    (answer,) = _responses(sock, 1)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"prediction"' in answer


def test_a_client_gone_before_its_answer_harms_nobody_else(api) -> None:
    for _ in range(20):
        gone = _connect(api.url)
        gone.sendall(_post(b"/predict", BODIES["a user's row"]))
        gone.close()
    sock = _connect(api.url)
    sock.sendall(_post(b"/predict", BODIES["no user"]) * 3)
    answers = _responses(sock, 3)
    sock.close()
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
