"""Real servers for integration tests: free ports, subprocesses, readiness polling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from champion.serving.local import free_port

ADMIN_USER = "admin"
ADMIN_PASSWORD = "champion-test-password-123"  # test-only, for a throwaway server


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@dataclass(frozen=True)
class MlflowServer:
    url: str
    username: str
    password: str


@contextmanager
def mlflow_server(workdir: Path) -> Iterator[MlflowServer]:
    """``mlflow server --app-name basic-auth`` on 127.0.0.1, one worker, SQLite backend."""
    workdir.mkdir(parents=True, exist_ok=True)
    ini = workdir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'auth.db'}\n"
        f"admin_username = {ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "champion-test-secret",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.pop(key, None)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--app-name",
        "basic-auth",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        str(workdir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc)
        yield MlflowServer(f"http://127.0.0.1:{port}", ADMIN_USER, ADMIN_PASSWORD)
    finally:
        stop(proc)
        log.close()


# -- the prediction API --------------------------------------------------------------------
@dataclass(frozen=True)
class ApiServer:
    url: str
    proc: subprocess.Popen
    log_path: Path


@contextmanager
def api_server(env: dict[str, str], workdir: Path, *, workers: int = 1) -> Iterator[ApiServer]:
    """``champion serve`` (real uvicorn) on a free 127.0.0.1 port, ready when yielded."""
    port = free_port()
    log_path = workdir / f"api-{port}.log"
    full_env = {**os.environ, **env}
    cmd = [
        sys.executable,
        "-m",
        "champion",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=full_env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"API exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
        else:
            raise TimeoutError(f"API not ready:\n{log_path.read_text()[-3000:]}")
        yield ApiServer(url, proc, log_path)
    finally:
        stop(proc)


# -- PostgreSQL ------------------------------------------------------------------------------
def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def postgres_available() -> bool:
    return _pg_bin() is not None


@contextmanager
def postgres_cluster(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster (Debian packages) on 127.0.0.1; yields its URL.

    initdb refuses to run as root, so the cluster runs as the ``postgres`` system user
    when the tests run as root.
    """
    import shutil
    import tempfile

    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    # its own directory directly under /tmp: pytest's temp dirs are private to root
    workdir = Path(tempfile.mkdtemp(prefix="champion-pg-"))
    data = workdir / "pgdata"
    sock = workdir / "pgsock"
    sock.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        for path in (workdir, sock):
            os.chown(path, _uid("postgres"), -1)
        workdir.chmod(0o755)
    port = free_port()
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "champion",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    logfile = workdir / "postgres.log"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(logfile),
            "-w",
            "start",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=on",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "champion",
                "events",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://champion@127.0.0.1:{port}/events"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid
