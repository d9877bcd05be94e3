"""The API's pure ASGI middleware, in-process through httpx's ASGI transport: the body
limit answers before the app reads anything, the /predict fast path serves well-formed
bodies itself and hands everything else to the app byte for byte."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from champion.serving.middleware.body_limit import BodySizeLimit
from champion.serving.middleware.fast_path import PredictFastPath


class Echo:
    """An inner app that answers with what reached it (and counts calls)."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append(body)
        payload = orjson.dumps({"inner": True, "length": len(body)})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": payload})


def _request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


async def _chunks(total: int, size: int = 1000):
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    inner = Echo()
    app = BodySizeLimit(inner, max_bytes=2048)
    response = _request(app, "POST", "/predict", content=b"x" * 2049)
    assert response.status_code == 413
    assert "2,049 bytes" in response.json()["detail"]
    assert "CHAMPION_MAX_BODY_BYTES" in response.json()["detail"]
    assert inner.calls == []


def test_a_body_at_the_limit_reaches_the_app_whole() -> None:
    inner = Echo()
    response = _request(BodySizeLimit(inner, max_bytes=2048), "POST", "/x", content=b"y" * 2048)
    assert response.status_code == 200 and response.json() == {"inner": True, "length": 2048}
    assert inner.calls == [b"y" * 2048]


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit() -> None:
    inner = Echo()
    app = BodySizeLimit(inner, max_bytes=4096)
    response = _request(app, "POST", "/predict", content=_chunks(10_000))
    assert response.status_code == 413 and inner.calls == []
    # under the limit, the chunks reach the app as one body
    response = _request(app, "POST", "/predict", content=_chunks(3500))
    assert response.status_code == 200 and inner.calls == [b"x" * 3500]


def test_a_malformed_content_length_is_a_400() -> None:
    inner = Echo()
    app = BodySizeLimit(inner, max_bytes=4096)

    async def go() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [(b"content-length", b"ten")],
        }
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(go())
    assert sent[0]["status"] == 400 and inner.calls == []
    assert orjson.loads(sent[1]["body"]) == {"detail": "Content-Length must be an integer"}


class FakeServe:
    """The serve function the fast path is given (the real one needs loaded models)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.items: list[Any] = []
        self.error = error

    async def __call__(self, state: Any, items: list[Any], *, batch: bool) -> list[Any]:
        assert batch is False
        self.items.extend(items)
        if self.error is not None:
            raise self.error
        return [{"served": True, "user_id": items[0].user_id}]


def _fast_path(serve: FakeServe) -> tuple[Any, Echo]:
    inner = Echo()
    app = PredictFastPath(inner, serve=serve, validation_detail=lambda exc: exc.errors())

    async def with_state(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = {**scope, "app": type("App", (), {"state": type("S", (), {"serving": None})})}
        await app(scope, receive, send)

    return with_state, inner


@pytest.mark.parametrize(
    "body",
    [
        {"features": {"a": 1}},
        {"features": {}, "user_id": "u-1"},
        {"features": {"a": None}, "user_id": 42},
        {"features": {"a": "x"}, "user_id": None},
    ],
)
def test_well_formed_bodies_are_served_by_the_fast_path(body: dict[str, Any]) -> None:
    serve = FakeServe()
    app, inner = _fast_path(serve)
    response = _request(app, "POST", "/predict", json=body)
    assert response.status_code == 200
    assert response.json() == {"served": True, "user_id": body.get("user_id")}
    assert inner.calls == [] and len(serve.items) == 1
    assert serve.items[0].features == body["features"]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"features": {"a": 1}, "extra": 1}', {"content-type": "application/json"}),
        (b'{"features": [1, 2]}', {"content-type": "application/json"}),
        (b'{"features": {}, "user_id": true}', {"content-type": "application/json"}),
        (b'{"features": {}, "user_id": ""}', {"content-type": "application/json"}),
        (b'{"features": {"a": NaN}}', {"content-type": "application/json"}),
        (b"not json", {"content-type": "application/json"}),
        (b'{"features": {"a": 1}}', {"content-type": "text/plain"}),
    ],
)
def test_anything_else_reaches_the_app_unchanged(content: bytes, headers: dict[str, str]) -> None:
    serve = FakeServe()
    app, inner = _fast_path(serve)
    response = _request(app, "POST", "/predict", content=content, headers=headers)
    assert response.json() == {"inner": True, "length": len(content)}
    assert inner.calls == [content] and serve.items == []


def test_other_paths_and_methods_are_not_touched() -> None:
    serve = FakeServe()
    app, inner = _fast_path(serve)
    assert _request(app, "POST", "/predict/batch", json={"items": []}).json()["inner"]
    assert _request(app, "GET", "/predict").json()["inner"]
    assert serve.items == [] and len(inner.calls) == 2


def test_errors_of_serve_keep_their_status_and_detail() -> None:
    app, _ = _fast_path(FakeServe(HTTPException(503, "no champion model is loaded yet")))
    response = _request(app, "POST", "/predict", json={"features": {}})
    assert response.status_code == 503
    assert response.json() == {"detail": "no champion model is loaded yet"}
    problem = {
        "loc": ["body", "features", "Age"],
        "msg": "missing feature 'Age'",
        "type": "missing",
    }
    app, _ = _fast_path(FakeServe(RequestValidationError([problem])))
    response = _request(app, "POST", "/predict", json={"features": {}})
    assert response.status_code == 422 and response.json() == {"detail": [problem]}
