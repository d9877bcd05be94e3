"""Creates MLflow's service accounts, so no client logs in as the tracking server's admin.

    python users.py http://mlflow:5000 PIPELINE API

For each NAME, the account MLFLOW_<NAME>_USER with password MLFLOW_<NAME>_PASSWORD is
created as an ordinary (non-admin) user, or its password is reset when it exists, so the
script can run on every start. It logs in as MLFLOW_ADMIN_USER / MLFLOW_ADMIN_PASSWORD.

What the accounts may do follows from the server's ``default_permission = READ``: every
user can read every experiment, run, model and artifact; a user who creates an
experiment or a registered model manages it. The pipeline (Airflow) creates the
experiments and the model, so it manages them; the prediction API only reads, so a
stolen API credential cannot move an alias or register a version.

Standard library only: it runs in the MLflow image, where champion is not installed.
Exit 0 when every account logs in with its password, 2 with one line otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import NoReturn

USERS = "/api/2.0/mlflow/users"


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _request(
    url: str, method: str, auth: tuple[str, str], body: dict | None = None
) -> tuple[int, str]:
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Basic {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _first_line(text: str) -> str:
    return " ".join(text.split())[:160]


def _wait(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                _fail(f"no MLflow server answers at {base}")
            time.sleep(1)


def _credentials(name: str) -> tuple[str, str]:
    user = os.environ.get(f"MLFLOW_{name}_USER", "")
    password = os.environ.get(f"MLFLOW_{name}_PASSWORD", "")
    if not user or not password:
        _fail(f"set MLFLOW_{name}_USER and MLFLOW_{name}_PASSWORD")
    return user, password


def ensure_user(base: str, admin: tuple[str, str], user: str, password: str) -> str:
    """Create ``user`` or reset its password; returns what was done."""
    status, text = _request(f"{base}{USERS}/get?username={urllib.parse.quote(user)}", "GET", admin)
    body = {"username": user, "password": password}
    if status == 200:
        if json.loads(text)["user"].get("is_admin"):
            _fail(f"MLflow user {user} is an admin; use another name")
        status, text = _request(f"{base}{USERS}/update-password", "PATCH", admin, body)
        done = "password reset"
    elif status == 404:
        status, text = _request(f"{base}{USERS}/create", "POST", admin, body)
        done = "created"
    else:
        done = "looked up"
    if status != 200:
        _fail(f"MLflow user {user} not {done}: HTTP {status} {_first_line(text)}")
    return done


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        _fail("usage: users.py TRACKING_URL NAME [NAME ...]")
    base, names = argv[0].rstrip("/"), argv[1:]
    admin = _credentials("ADMIN")
    _wait(base, timeout=float(os.environ.get("MLFLOW_USERS_WAIT", "120")))
    for name in names:
        user, password = _credentials(name)
        if user == admin[0]:
            _fail(f"MLFLOW_{name}_USER must not be the admin account")
        done = ensure_user(base, admin, user, password)
        status, _ = _request(f"{base}{USERS}/current", "GET", (user, password))
        if status != 200:
            _fail(f"MLflow user {user} cannot log in (HTTP {status})")
        print(f"MLflow user {user}: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
