"""``GET /dashboard``: the live dashboard (HTML, inline SVG, reloads itself) and
``GET /dashboard.json``, the same figures as JSON. Read-only.

With ``CHAMPION_READ_TOKEN`` set the page needs it (or the admin token): as a bearer
token, or — for a browser — through ``POST /dashboard/login``, which sets an HttpOnly,
SameSite=Strict cookie holding an HMAC of the token (never the token itself).

The figures are gathered at most once per :data:`CACHE_S` seconds however many people
watch; each section's read is bounded by ``CHAMPION_LOG_DEADLINE`` and a section that
cannot be read says why instead of failing the page.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from champion.redact import redact
from champion.reports.dashboard import Dashboard, render_dashboard
from champion.serving.auth import Bearer, State, require_reader
from champion.serving.state import ServingState

routes = APIRouter(tags=["dashboard"])

#: Seconds the gathered figures are reused (many viewers, one set of queries).
CACHE_S = 2.0
REFRESH_S = 15
COOKIE = "champion_dashboard"
COOKIE_AGE_S = 12 * 3600


def cookie_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"champion dashboard", hashlib.sha256).hexdigest()


async def dashboard_reader(request: Request, state: State, credentials: Bearer) -> str:
    """The read token as a bearer token, or the dashboard's cookie."""
    serving = state.settings.serving
    given = request.cookies.get(COOKIE)
    if serving.read_token is not None and given and credentials is None:
        for token in (serving.read_token, serving.admin_token):
            if token is not None and hmac.compare_digest(
                given.encode(), cookie_value(token.get_secret_value()).encode()
            ):
                return "reader"
    return await require_reader(state, credentials)


DashboardReader = Annotated[str, Depends(dashboard_reader)]

LOGIN_PAGE = """<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>
<title>champion dashboard</title></head><body style='font-family:system-ui;margin:3rem'>
<h1>champion dashboard</h1><p>{message}</p>
<form method='post' action='/dashboard/login'><label>read token
<input type='password' name='token' autocomplete='current-password'></label>
<button type='submit'>open</button></form></body></html>"""


async def _section(
    state: ServingState, unavailable: dict[str, str], name: str, read: Callable[[], Any]
) -> Any:
    try:
        return await asyncio.wait_for(asyncio.to_thread(read), state.settings.serving.log_deadline)
    except TimeoutError:
        unavailable[name] = "the database did not answer in time"
    except Exception as exc:  # one section's failure must not take the page down
        unavailable[name] = redact(str(exc))[:300]
    return None


def _traffic_dict(state: ServingState) -> dict[str, Any]:
    t = state.store.traffic()
    return {
        "requests": t.requests,
        "failed": t.failed,
        "rate_per_s": t.rate_per_s,
        "quantiles": t.latency_quantiles_ms,
        "minutes": [{**asdict(m), "start": m.start.isoformat()} for m in t.minutes],
    }


async def gather(state: ServingState) -> Dashboard:
    """Every section's figures, each read on its own (a slow one costs only itself)."""
    config = state.config()
    unavailable: dict[str, str] = {}
    champion, challenger = state.slots.snapshot()
    store = state.store
    variants = await _section(
        state, unavailable, "experiment", lambda: store.variant_stats(config.experiment_id)
    )
    look = await _section(
        state, unavailable, "experiment", lambda: store.latest_look(config.experiment_id)
    )
    drift = await _section(state, unavailable, "drift", lambda: store.drift_history(limit=8))
    traffic = await _section(state, unavailable, "traffic", lambda: _traffic_dict(state))
    registry = state.registry
    history = None
    if registry is None:
        unavailable["history"] = "the registry is not reachable yet"
    else:
        history = await _section(state, unavailable, "history", registry.history)
    problems = state.problems()
    return Dashboard(
        model_name=state.settings.model_name,
        status="degraded" if problems else "ok",
        problems=problems,
        models={
            "champion": champion.describe() if champion else None,
            "challenger": challenger.describe() if challenger else None,
        },
        experiment=config.to_dict(),
        variants=[asdict(v) | _coverage(v) for v in variants or ()],
        look=look,
        task=str(champion.task) if champion and champion.task else None,
        promote_margin=state.settings.ab.promote_margin,
        drift=[asdict(c) | {"checked_at": c.checked_at.isoformat()} for c in drift or ()],
        traffic=traffic,
        history=[e.__dict__ for e in reversed(history or [])],
        unavailable=unavailable,
        refresh_s=REFRESH_S,
        generated_at=datetime.now(UTC),
    )


def _coverage(v: Any) -> dict[str, Any]:
    return {"label_coverage": v.labelled / v.predictions if v.predictions else 0.0}


async def cached(state: ServingState) -> Dashboard:
    kept = state.dashboard_cache
    now = time.monotonic()
    if kept is not None and now - kept[0] < CACHE_S:
        board: Dashboard = kept[1]
        return board
    board = await gather(state)
    state.dashboard_cache = (now, board)
    return board


@routes.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, state: State, credentials: Bearer) -> Response:
    """The live dashboard (a login form when the read token is needed and missing)."""
    try:
        await dashboard_reader(request, state, credentials)
    except HTTPException as exc:
        if exc.status_code == 401:
            page = LOGIN_PAGE.format(message="This dashboard needs the read token.")
            return HTMLResponse(page, status_code=401)
        raise
    board = await cached(state)
    return HTMLResponse(render_dashboard(board), headers={"Cache-Control": "no-store"})


@routes.get("/dashboard.json")
async def dashboard_json(state: State, _reader: DashboardReader) -> JSONResponse:
    """The dashboard's figures as JSON."""
    board = await cached(state)
    body = {**asdict(board), "generated_at": board.generated_at.isoformat()}
    return JSONResponse(_finite(body), headers={"Cache-Control": "no-store"})


def _finite(value: Any) -> Any:
    """JSON has no infinity: unbounded interval ends become null."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@routes.post("/dashboard/login", include_in_schema=False)
async def login(request: Request, state: State) -> Response:
    """Trade the read (or admin) token (a form field, ``token``) for the dashboard's
    cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    serving = state.settings.serving
    if serving.read_token is None:
        return RedirectResponse("/dashboard", status_code=303)
    for expected in (serving.read_token, serving.admin_token):
        if expected is not None and hmac.compare_digest(
            token.encode("utf-8"), expected.get_secret_value().encode("utf-8")
        ):
            answer = RedirectResponse("/dashboard", status_code=303)
            answer.set_cookie(
                COOKIE,
                cookie_value(expected.get_secret_value()),
                max_age=COOKIE_AGE_S,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
            return answer
    page = LOGIN_PAGE.format(message="That token is not right.")
    return HTMLResponse(page, status_code=403)
