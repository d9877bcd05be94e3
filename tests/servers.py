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
from typing import Any

import requests

from champion.serving.process import free_port

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


def exited(pid: int, within: float) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``within`` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as f:  # reaped by the API side, or a zombie
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.02)
    return False


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


@contextmanager
def background(
    cmd: list[str],
    log_path: Path,
    ready_url: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen]:
    """``cmd`` as a child process logging to ``log_path``, yielded once ``ready_url``
    answers; stopped on exit."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(ready_url, timeout=timeout, proc=proc)
        yield proc
    finally:
        stop(proc)


@dataclass(frozen=True)
class MlflowServer:
    url: str
    username: str
    password: str


@contextmanager
def mlflow_server(
    workdir: Path,
    *,
    backend_uri: str | None = None,
    artifacts_destination: str | None = None,
    env: dict[str, str] | None = None,
    workers: int = 1,
    port: int | None = None,
) -> Iterator[MlflowServer]:
    """``mlflow server --app-name basic-auth`` on 127.0.0.1.

    SQLite backend and local artifacts by default; ``backend_uri`` (also the auth
    database, as in the compose stack), ``artifacts_destination`` (e.g. ``s3://bucket/x``
    with ``MLFLOW_S3_ENDPOINT_URL`` and AWS keys in ``env``) for the production topology.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    backend_uri = backend_uri or f"sqlite:///{workdir / 'mlflow.db'}"
    auth_uri = (
        backend_uri
        if backend_uri.startswith("postgresql")
        else (f"sqlite:///{workdir / 'auth.db'}")
    )
    ini = workdir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {auth_uri}\n"
        f"admin_username = {ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    port = port or free_port()
    env = {
        **os.environ,
        **(env or {}),
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
        backend_uri,
        "--artifacts-destination",
        artifacts_destination or str(workdir / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    url = f"http://127.0.0.1:{port}"
    with background(cmd, workdir / "server.log", f"{url}/health", env=env, cwd=workdir, timeout=90):
        yield MlflowServer(url, ADMIN_USER, ADMIN_PASSWORD)


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


class PgCluster:
    """A throwaway PostgreSQL cluster (Debian packages) on 127.0.0.1 that can be stopped
    and started again (the fault tests). initdb refuses to run as root, so the cluster
    runs as the ``postgres`` system user when the tests run as root."""

    def __init__(self, databases: tuple[str, ...]) -> None:
        import tempfile

        bin_dir = _pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bin_dir
        # its own directory directly under /tmp: pytest's temp dirs are private to root
        self.workdir = Path(tempfile.mkdtemp(prefix="champion-pg-"))
        self.data = self.workdir / "pgdata"
        self.sock = self.workdir / "pgsock"
        self.sock.mkdir(parents=True, exist_ok=True)
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            for path in (self.workdir, self.sock):
                os.chown(path, _uid("postgres"), -1)
            self.workdir.chmod(0o755)
        self.port = free_port()
        self.databases = databases
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "champion",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], check=check, capture_output=True
        )

    def url(self, database: str | None = None) -> str:
        return f"postgresql://champion@127.0.0.1:{self.port}/{database or self.databases[0]}"

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.sock} -c fsync=on"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.workdir / "postgres.log"),
            "-w",
            "start",
            "-o",
            options,
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def _pids(self) -> list[int]:
        """The postmaster and every process it started (one backend per connection)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """SIGSTOP the whole server: connections stay open, nothing answers (a hang)."""
        import signal

        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        import signal

        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def create_databases(self) -> None:
        for name in self.databases:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "champion", name)


@contextmanager
def pg_cluster(databases: tuple[str, ...] = ("events",)) -> Iterator[PgCluster]:
    """A started cluster with ``databases`` created; removed afterwards."""
    import shutil

    cluster = PgCluster(databases)
    cluster.start()
    try:
        cluster.create_databases()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.workdir, ignore_errors=True)


@contextmanager
def postgres_cluster(workdir: Path) -> Iterator[str]:
    """A throwaway cluster with one ``events`` database; yields its URL."""
    del workdir  # the cluster lives under /tmp (see PgCluster)
    with pg_cluster() as cluster:
        yield cluster.url()


# -- S3 (moto's server mode stands in for MinIO) ---------------------------------------------
S3_KEY = "champion-test-key"  # test-only credentials for a throwaway local S3
S3_SECRET = "champion-test-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What a client of this server needs (as the compose file gives MLflow)."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )

    def keys(self, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@contextmanager
def s3_server(workdir: Path, bucket: str = "mlflow") -> Iterator[S3Server]:
    """``python -m moto.server`` on 127.0.0.1 with ``bucket`` created."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with background(cmd, workdir / "s3.log", f"{endpoint}/moto-api/"):
        server = S3Server(endpoint, bucket)
        server.client().create_bucket(Bucket=bucket)
        yield server


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid
