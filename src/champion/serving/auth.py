"""Bearer credentials, one per kind of trust:

* ``CHAMPION_ADMIN_TOKEN`` — the admin endpoints (the A/B configuration); also accepted
  wherever a narrower token is;
* ``CHAMPION_FEEDBACK_TOKEN`` — ``POST /feedback``: labels decide experiments and train
  models, so they are trusted input;
* ``CHAMPION_READ_TOKEN`` — when set, ``GET /ab/report`` and ``GET /models`` (what an
  experiment is showing, what is deployed).

No token: 401; a wrong one, or an endpoint whose token is not configured: 403. Tokens
are compared in constant time and never logged.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from champion.serving.state import ServingState


async def get_state(request: Request) -> ServingState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread
    state: ServingState = request.app.state.serving
    return state


State = Annotated[ServingState, Depends(get_state)]
Bearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, description="a champion bearer token")),
]


def _matches(given: str, expected: SecretStr | None) -> bool:
    if expected is None:
        return False
    value = expected.get_secret_value().encode("utf-8")
    return secrets.compare_digest(given.encode("utf-8"), value)


def _check(credentials: HTTPAuthorizationCredentials | None, what: str) -> str:
    if credentials is None:
        raise HTTPException(
            401, f"{what}: send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
        )
    return credentials.credentials


async def require_admin(state: State, credentials: Bearer) -> str:
    """Admin endpoints: 401 without a bearer token, 403 with a wrong one (or none set)."""
    given = _check(credentials, "admin endpoint")
    expected = state.settings.serving.admin_token
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: CHAMPION_ADMIN_TOKEN is not set")
    if not _matches(given, expected):
        raise HTTPException(403, "invalid admin token")
    return "admin"


async def require_feedback(state: State, credentials: Bearer) -> str:
    """``POST /feedback``: the feedback token or the admin token; returns which (the
    label's recorded source)."""
    given = _check(credentials, "feedback")
    serving = state.settings.serving
    if serving.feedback_token is None and serving.admin_token is None:
        raise HTTPException(
            403, "feedback is disabled: set CHAMPION_FEEDBACK_TOKEN (or CHAMPION_ADMIN_TOKEN)"
        )
    if _matches(given, serving.feedback_token):
        return "feedback"
    if _matches(given, serving.admin_token):
        return "admin"
    raise HTTPException(403, "invalid feedback token")


async def require_reader(state: State, credentials: Bearer) -> str:
    """Read endpoints: open unless ``CHAMPION_READ_TOKEN`` is set; then it or the admin
    token."""
    serving = state.settings.serving
    if serving.read_token is None:
        return "anyone"
    given = _check(credentials, "this endpoint needs the read token")
    if _matches(given, serving.read_token):
        return "reader"
    if _matches(given, serving.admin_token):
        return "admin"
    raise HTTPException(403, "invalid read token")


Admin = Annotated[str, Depends(require_admin)]
Feedback = Annotated[str, Depends(require_feedback)]
Reader = Annotated[str, Depends(require_reader)]
