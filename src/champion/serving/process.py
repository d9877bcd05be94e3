"""Run ``champion serve`` as a child process on a free 127.0.0.1 port (the demo's API)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from champion.errors import BackendError


@dataclass(frozen=True)
class LocalApi:
    url: str
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_api(
    env: dict[str, str], log_path: Path, *, ready_timeout: float = 90, cwd: Path | None = None
) -> Iterator[LocalApi]:
    """Start the API with ``env`` added to this process's environment (in ``cwd``, default
    this process's); stop it on exit.

    Ready when ``GET /ready`` answers 200 (a champion is loaded, the log reachable).
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "champion",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = log_path.open("ab")
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=cwd
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-1500:]
                raise BackendError(f"the API exited with code {proc.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BackendError(
                    f"the API was not ready after {ready_timeout:.0f} s; see {log_path}"
                )
            time.sleep(0.3)
        yield LocalApi(url, proc.pid, log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def wait_for(
    url: str, predicate: str, check: object, *, timeout: float = 30, interval: float = 0.3
) -> dict:
    """Poll ``GET url`` until ``check(json)`` is true; return that JSON (``predicate``
    says what is awaited, for the error)."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            body = httpx.get(url, timeout=5).json()
            if check(body):  # type: ignore[operator]
                return body
        time.sleep(interval)
    raise BackendError(f"timed out after {timeout:.0f} s waiting for {predicate} at {url}")
