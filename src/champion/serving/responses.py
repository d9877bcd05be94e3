"""JSON responses and the 422 body shared by the routes and the fast path."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError


def json_response(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def _printable(value: Any) -> Any:
    """NaN and infinities as text: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def validation_detail(exc: RequestValidationError) -> Any:
    """FastAPI's error list, printable whatever the rejected input was."""
    return _printable(jsonable_encoder(exc.errors()))


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 naming each field; a rejected NaN is echoed as "nan" rather than a 500."""
    assert isinstance(exc, RequestValidationError)
    return json_response({"detail": validation_detail(exc)}, 422)
