"""Connecting to MLflow: the embedded store or a tracking server, checked up front.

:func:`connect` points MLflow at the URI in force, passes basic-auth credentials from
the settings, keeps MLflow's HTTP retries short (its default retries for minutes), and
for a server checks — before any long work — that it answers and accepts the
credentials. An unreachable server or rejected credentials is a
:class:`~champion.errors.ConfigError` naming the URI.

:func:`while_unreachable` retries a call for up to ``CHAMPION_MLFLOW_WAIT`` seconds while
the tracking server is down (a restart, a network blip), so a long training is not lost
because MLflow was away when it finished. Errors of a server that answers are raised at
once: retrying would not change them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from champion.errors import BackendError, ConfigError
from champion.settings import Settings

log = logging.getLogger("champion.tracking.connection")
T = TypeVar("T")

#: MLflow's own retry settings, unless the user set them.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


@dataclass(frozen=True)
class Tracking:
    """An MLflow connection: the client and where experiments keep artifacts."""

    client: object  # mlflow.MlflowClient (kept untyped: mlflow imports lazily)
    uri: str
    artifact_root: str | None  # embedded: a file URI under `home`; server: its own


def _check_server(uri: str, settings: Settings) -> None:
    import requests

    auth = None
    if settings.mlflow_username and settings.mlflow_password:
        auth = (settings.mlflow_username, settings.mlflow_password.get_secret_value())
    base = uri.rstrip("/")
    try:
        health = requests.get(f"{base}/health", timeout=5)
    except requests.RequestException as exc:
        raise ConfigError(
            f"MLflow tracking server {uri} is unreachable ({type(exc).__name__}); "
            "check MLFLOW_TRACKING_URI and that the server runs"
        ) from exc
    if health.status_code >= 500:
        raise ConfigError(f"MLflow tracking server {uri} answers {health.status_code} on /health")
    probe = requests.get(
        f"{base}/api/2.0/mlflow/experiments/search",
        params={"max_results": 1},
        auth=auth,
        timeout=10,
    )
    if probe.status_code in (401, 403):
        who = "no credentials" if auth is None else f"user {settings.mlflow_username!r}"
        raise ConfigError(
            f"MLflow tracking server {uri} refused {who} ({probe.status_code}); set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )


def server_answers(uri: str) -> bool:
    """True when the tracking server at ``uri`` answers its health check."""
    import requests

    try:
        return requests.get(f"{uri.rstrip('/')}/health", timeout=5).status_code < 500
    except requests.RequestException:
        return False


def while_unreachable(settings: Settings, what: str, call: Callable[[], T]) -> T:
    """``call()``, retried with backoff while the tracking server does not answer.

    Gives up after ``settings.mlflow_wait`` seconds (0: no retry) and raises the last
    error. An embedded store, or a server that answers, gets no retry.
    """
    deadline = time.monotonic() + settings.mlflow_wait
    delay = 1.0
    while True:
        try:
            return call()
        except (BackendError, ConfigError) as exc:
            uri = settings.tracking_uri
            if settings.embedded or time.monotonic() + delay > deadline or server_answers(uri):
                raise
            log.warning(
                "MLflow at %s is unreachable; retrying to %s in %.0f s (%s)", uri, what, delay, exc
            )
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def connect(settings: Settings) -> Tracking:
    """Configure MLflow for ``settings`` and return a checked client (see
    :func:`while_unreachable` for how long an unreachable server is waited for)."""
    return while_unreachable(settings, "connect", lambda: _connect(settings))


def set_mlflow_uris(uri: str) -> None:
    """Point MLflow's fluent API (tracking and registry) at ``uri`` — and leave
    ``os.environ`` as it was: MLflow also exports these URIs there (for subprocesses),
    where champion's settings, or a server started later, would read them back as
    MLFLOW_TRACKING_URI. MLflow's own lookups prefer the values set here."""
    import mlflow

    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _connect(settings: Settings) -> Tracking:
    from mlflow import MlflowClient

    uri = settings.tracking_uri
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    # MLflow reads credentials from the environment only; make it match the settings
    # (which were read from it), so credentials of an earlier connection never linger.
    if settings.mlflow_username and settings.mlflow_password:
        os.environ["MLFLOW_TRACKING_USERNAME"] = settings.mlflow_username
        os.environ["MLFLOW_TRACKING_PASSWORD"] = settings.mlflow_password.get_secret_value()
    else:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    artifact_root = None
    if settings.embedded:
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        settings.artifact_root.mkdir(parents=True, exist_ok=True)
        artifact_root = settings.artifact_root.resolve().as_uri()
    else:
        _check_server(uri, settings)
    set_mlflow_uris(uri)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    except Exception as exc:  # invalid URI scheme, unusable store
        raise ConfigError(f"cannot open MLflow tracking URI {uri!r}: {exc}") from exc
    return Tracking(client=client, uri=uri, artifact_root=artifact_root)


def ensure_experiment(tracking: Tracking, name: str) -> str:
    """The id of experiment ``name``, created (with the embedded artifact root) if absent."""
    from mlflow.exceptions import MlflowException

    client = tracking.client
    try:
        experiment = client.get_experiment_by_name(name)  # type: ignore[attr-defined]
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                client.restore_experiment(experiment.experiment_id)  # type: ignore[attr-defined]
            return str(experiment.experiment_id)
        return str(
            client.create_experiment(name, artifact_location=tracking.artifact_root)  # type: ignore[attr-defined]
        )
    except MlflowException as exc:
        raise BackendError(f"MLflow could not open experiment {name!r}: {exc.message}") from exc
