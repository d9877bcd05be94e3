"""The admin credential: ``Authorization: Bearer <CHAMPION_ADMIN_TOKEN>``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from champion.serving.state import ServingState


async def get_state(request: Request) -> ServingState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread
    state: ServingState = request.app.state.serving
    return state


State = Annotated[ServingState, Depends(get_state)]
_bearer = HTTPBearer(auto_error=False, description="CHAMPION_ADMIN_TOKEN")


async def require_admin(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """Admin endpoints: 401 without a bearer token, 403 with a wrong one (or none set)."""
    if credentials is None:
        raise HTTPException(
            401,
            "admin endpoint: send Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    expected = state.settings.serving.admin_token
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: CHAMPION_ADMIN_TOKEN is not set")
    given = credentials.credentials.encode("utf-8")
    if not secrets.compare_digest(given, expected.get_secret_value().encode("utf-8")):
        raise HTTPException(403, "invalid admin token")
    return "admin"


Admin = Annotated[str, Depends(require_admin)]
