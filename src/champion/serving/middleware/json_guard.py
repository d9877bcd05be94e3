"""Hostile JSON refused before any endpoint parses it, with the same answer on every path.

A pure ASGI middleware over every JSON request body. The body is parsed once, strictly
(orjson: a lone surrogate, a number too large for a double, invalid UTF-8 are errors),
and walked without recursion; refused with 422 (FastAPI's error form, naming where):

* nesting deeper than ``max_depth``;
* an object with more than ``max_keys`` keys, or a key longer than ``max_key_length``;
* a NUL character in a key or a string (PostgreSQL cannot store one, and no feature
  needs one);
* an integer outside the signed 64-bit range (what the databases store);
* ``NaN``, ``Infinity`` or a number too large for a double, and a lone surrogate —
  orjson refuses the body, and Python's lenient parser then finds the field to name.

Most bodies are small, and the walk is the guard's largest cost on the serving hot path:
a body whose bytes alone bound it within the limits (see :class:`_ByteBounds`) is let
through without it; any other is walked.

What passes is handed on re-encoded from the parsed value (encoded only when an endpoint
reads the body), so the fast path and FastAPI's parser see exactly the same document (an
integer too long for 64 bits that orjson reads as a double stays a double on both), and
the parsed value rides along in the scope for the fast path (no second parse).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from champion.serving.middleware.body_limit import media_type, read_body, replay, send_json

#: Where the parsed body is kept for the endpoints behind this middleware.
PARSED = "champion.json"
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int = 32
    max_keys: int = 1000
    max_key_length: int = 256


class _NonFinite:
    """Where a lenient parse met ``NaN`` or ``Infinity``."""


_NON_FINITE = _NonFinite()
_SURROGATES = re.compile("[\ud800-\udfff]")


def _lenient(body: bytes) -> Any:
    """What Python's own parser makes of a body orjson refused (NaN and Infinity marked,
    lone surrogates kept), so the error can name the field; None if it fails too."""
    try:
        return json.loads(body, parse_constant=lambda _: _NON_FINITE)
    except (ValueError, RecursionError):
        return None


def _scalar_problem(item: Any) -> str | None:
    if type(item) is str:
        if "\x00" in item:
            return "a string contains a NUL character"
        if _SURROGATES.search(item):
            return "a string contains a lone surrogate (not valid Unicode)"
    elif type(item) is int and not _INT64[0] <= item <= _INT64[1]:
        return "an integer outside the signed 64-bit range"
    elif item is _NON_FINITE or (type(item) is float and not math.isfinite(item)):
        return "not a finite number"
    return None


def _problem(value: Any, limits: JsonLimits) -> tuple[list[Any], str] | None:
    """The first (location, reason) in ``value`` the limits refuse, or None."""
    stack: list[tuple[Any, list[Any]]] = [(value, ["body"])]
    while stack:
        item, loc = stack.pop()
        if len(loc) > limits.max_depth + 1:
            return loc[: limits.max_depth + 1], f"nested deeper than {limits.max_depth} levels"
        if type(item) is dict:
            if len(item) > limits.max_keys:
                return loc, f"{len(item)} keys in one object (at most {limits.max_keys})"
            for key, inner in item.items():
                if len(key) > limits.max_key_length:
                    shown = key[:40] + "..."
                    return loc, f"key {shown!r} longer than {limits.max_key_length} characters"
                if "\x00" in key:
                    return loc, "a key contains a NUL character"
                stack.append((inner, [*loc, key]))
        elif type(item) is list:
            stack.extend((inner, [*loc, i]) for i, inner in enumerate(item))
        else:
            reason = _scalar_problem(item)
            if reason is not None:
                return loc, reason
    return None


def _scalar_fine(item: Any) -> bool:
    kind = type(item)
    if kind is str:
        return "\x00" not in item and (item.isascii() or not _SURROGATES.search(item))
    if kind is int:
        return _INT64[0] <= item <= _INT64[1]
    if kind is float:
        return math.isfinite(item)
    return True


def _fine(value: Any, limits: JsonLimits) -> bool:
    """Whether ``value`` is within the limits, found without keeping any locations (the
    common case: every request pays for this check). False: :func:`_problem` then finds
    what and where."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limits.max_depth:
            return False
        if type(item) is dict:
            if len(item) > limits.max_keys or (item and depth >= limits.max_depth):
                return False  # (its values would be nested too deep)
            for key, inner in item.items():
                if len(key) > limits.max_key_length or "\x00" in key:
                    return False
                if type(inner) is dict or type(inner) is list:
                    stack.append((inner, depth + 1))
                elif not _scalar_fine(inner):
                    return False
        elif type(item) is list:
            stack.extend((inner, depth + 1) for inner in item)
        elif not _scalar_fine(item):
            return False
    return True


_LONG_NUMBER = re.compile(rb"\d{19}")  # an integer past the signed 64-bit range, or longer


class _ByteBounds:
    """What the raw bytes of a body orjson accepted prove about it, conservatively:
    where they prove nothing, the walk decides.

    After orjson, no string has a lone surrogate and every float is finite (it refuses
    those), so what the walk looks for among scalars is a NUL (in JSON only ever the
    escape ``\\u0000``) and an integer past the signed 64-bit range (19 digits or more).
    Nesting is at most the number of ``{`` and ``[`` bytes; an object of ``n`` keys takes
    at least ``4n`` bytes (``"":0,``); a key longer than ``max_key_length`` characters is
    a run of more bytes than that with no quote in it — unless a quote is escaped inside
    a string, which sends the body to the walk.
    """

    def __init__(self, limits: JsonLimits) -> None:
        self.limits = limits
        self._long_run = re.compile(rb'"[^"]{%d,}' % (limits.max_key_length + 1))

    def within(self, body: bytes) -> bool:
        limits = self.limits
        return (
            len(body) < 4 * limits.max_keys
            and body.count(b"{") + body.count(b"[") <= limits.max_depth
            and b"\\u0000" not in body
            and _LONG_NUMBER.search(body) is None
            and (
                len(body) <= limits.max_key_length
                or (b'\\"' not in body and self._long_run.search(body) is None)
            )
        )


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI would parse this body as JSON: no content type at all, or
    ``application/json`` or ``application/*+json``."""
    kind = media_type(headers)
    return (
        kind is None
        or kind == b"application/json"
        or (kind.startswith(b"application/") and kind.endswith(b"+json"))
    )


class JsonGuard:
    def __init__(self, app: Any, *, limits: JsonLimits | None = None) -> None:
        self.app = app
        self.limits = limits or JsonLimits()
        self._bounds = _ByteBounds(self.limits)

    def bounded(self, body: bytes) -> bool:
        """Whether ``body``, once it parses, is within the limits by its bytes alone."""
        return self._bounds.within(body)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or not _is_json(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            lenient = _lenient(body)
            found = None if lenient is None else _problem(lenient, self.limits)
            if found is None:
                found = (["body"], f"invalid JSON: {str(exc)[:120]}")
            await _refuse(send, *found, "json_invalid")
            return
        problem = None
        if not self._bounds.within(body) and not _fine(data, self.limits):
            problem = _problem(data, self.limits)
        if problem is not None:
            await _refuse(send, *problem, "json_limit")
            return
        if scope["path"].startswith(VERBATIM_PATHS):
            # a signed body: its signature is over the very bytes sent
            scope[PARSED] = data
            await self.app(scope, replay(body, receive), send)
            return
        # the re-encoded body is built only if an endpoint reads it: the fast path takes
        # the parsed value from the scope (its length differs, so no content-length)
        # (the scope is this request's own: set in place, not copied)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        scope[PARSED] = data
        await self.app(scope, _reencoded(data, receive), send)


#: Endpoints whose body reaches them as sent (still checked against the limits).
VERBATIM_PATHS = ("/hooks/",)


def _reencoded(data: Any, receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``receive`` that hands the app ``data`` as JSON bytes, encoded on first use."""
    again: Callable[[], Awaitable[dict[str, Any]]] | None = None

    async def first() -> dict[str, Any]:
        nonlocal again
        if again is None:
            again = replay(orjson.dumps(data), receive)
        return await again()

    return first


async def _refuse(send: Any, loc: list[Any], msg: str, kind: str) -> None:
    await send_json(send, 422, {"detail": [{"loc": loc[:8], "msg": msg, "type": kind}]})
