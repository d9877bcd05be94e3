"""The registry adapter, one suite over both backends: the embedded SQLite store and a
real ``mlflow server`` with basic auth."""

from __future__ import annotations

import itertools
import time
import uuid

import numpy as np
import pytest
import requests
from sklearn.dummy import DummyClassifier

from champion.errors import ConfigError, ConflictError, NotFoundError
from champion.settings import Settings, load_settings
from champion.tracking.connection import connect, ensure_experiment
from champion.tracking.registry import ModelRegistry
from champion.types import Alias


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path) -> Settings:
    name = f"model-{uuid.uuid4().hex[:8]}"
    if request.param == "embedded":
        return load_settings(home=tmp_path, model_name=name)
    server = request.getfixturevalue("mlflow_server_url")
    return load_settings(
        home=tmp_path,
        model_name=name,
        mlflow_tracking_uri=server.url,
        mlflow_username=server.username,
        mlflow_password=server.password,
    )


def _log_model(settings: Settings) -> tuple[str, str, str | None]:
    import mlflow
    import mlflow.sklearn

    tracking = connect(settings)
    experiment = ensure_experiment(tracking, settings.experiment_name)
    model = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), [0, 1, 1, 0])
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="cloudpickle", pip_requirements=[]
        )
    return run.info.run_id, info.model_uri, info.model_id


def _registry(settings: Settings, **kw) -> ModelRegistry:
    return ModelRegistry(connect(settings).client, settings.model_name, **kw)


def _register(reg: ModelRegistry, settings: Settings, alias, reason="test") -> str:
    run_id, uri, model_id = _log_model(settings)
    return reg.register(
        uri, run_id, alias=alias, actor="tester@ci", reason=reason, model_id=model_id
    ).version


def test_register_promote_history(settings: Settings) -> None:
    reg = _registry(settings)
    assert reg.alias(Alias.CHAMPION) is None and reg.versions() == []
    v1 = _register(reg, settings, Alias.CHAMPION, "bootstrap")
    v2 = _register(reg, settings, Alias.CHALLENGER, "drift in Age")
    assert (v1, v2) == ("1", "2")
    assert reg.alias(Alias.CHAMPION).version == "1" and reg.alias(Alias.CHALLENGER).version == "2"

    event = reg.promote(actor="airflow:ab", reason="B better: lower bound +0.021")
    assert (event.version, event.previous) == ("2", "1")
    assert reg.alias(Alias.CHAMPION).version == "2"
    assert reg.alias(Alias.CHALLENGER) is None  # the promoted challenger is no longer one
    listed = {v.version: v.aliases for v in reg.versions()}
    assert listed == {"2": ("champion",), "1": ()}

    # the history lives in MLflow: a fresh client sees it, with who / when / why
    fresh = _registry(settings)
    history = fresh.history()
    assert [(e.action, e.alias, e.version, e.previous) for e in history] == [
        ("register", "champion", "1", None),
        ("register", "challenger", "2", None),
        ("promote", "champion", "2", "1"),
        ("clear", "challenger", None, "2"),
    ]
    promote = history[2]
    assert promote.actor == "airflow:ab" and promote.reason.startswith("B better")
    assert promote.at.endswith("+00:00")
    tags = fresh.get("2").tags
    assert tags["champion.promote.by"] == "airflow:ab"
    assert tags["champion.promote.reason"] == "B better: lower bound +0.021"


def test_rollback_walks_back_one_champion_at_a_time(settings: Settings) -> None:
    reg = _registry(settings)
    _register(reg, settings, Alias.CHAMPION)
    for _ in range(2):
        _register(reg, settings, Alias.CHALLENGER)
        reg.promote(actor="t", reason="better")
    assert reg.alias(Alias.CHAMPION).version == "3"
    first = reg.rollback(actor="oncall", reason="bad predictions")
    assert (first.version, first.previous) == ("2", "3")
    second = reg.rollback(actor="oncall", reason="still bad")
    assert (second.version, second.previous) == ("1", "2")
    assert reg.alias(Alias.CHAMPION).version == "1"
    with pytest.raises(NotFoundError, match="nothing to roll back to"):
        reg.rollback(actor="oncall", reason="again")


def test_reject_and_errors(settings: Settings) -> None:
    reg = _registry(settings)
    with pytest.raises(NotFoundError, match="no challenger to promote"):
        reg.promote(actor="t", reason="r")
    with pytest.raises(NotFoundError, match="no champion to roll back"):
        reg.rollback(actor="t", reason="r")
    _register(reg, settings, Alias.CHAMPION)
    with pytest.raises(ConflictError, match="already the champion"):
        reg.promote("1", actor="t", reason="r")
    with pytest.raises(NotFoundError, match="no version 7"):
        reg.promote("7", actor="t", reason="r")
    _register(reg, settings, Alias.CHALLENGER)
    event = reg.reject_challenger(actor="ab", reason="worse: upper bound -0.01")
    assert (event.action, event.previous) == ("reject", "2")
    assert reg.alias(Alias.CHALLENGER) is None and reg.alias(Alias.CHAMPION).version == "1"
    assert "champion.rejected" in reg.get("2").tags


class _Counting:
    """A real MlflowClient that counts alias lookups."""

    def __init__(self, client) -> None:
        self._client = client
        self.lookups = 0

    def get_model_version_by_alias(self, *args):
        self.lookups += 1
        return self._client.get_model_version_by_alias(*args)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_alias_lookups_are_cached_for_the_ttl(settings: Settings) -> None:
    now = itertools.count()
    clock_value = [0.0]
    client = _Counting(connect(settings).client)
    reg = ModelRegistry(client, settings.model_name, cache_ttl=30, clock=lambda: clock_value[0])
    _register(reg, settings, Alias.CHAMPION)
    client.lookups = 0
    for _ in range(5):
        assert reg.alias(Alias.CHAMPION).version == "1"
    assert client.lookups == 1
    clock_value[0] = 31.0
    reg.alias(Alias.CHAMPION)
    assert client.lookups == 2
    reg.alias(Alias.CHAMPION, refresh=True)
    assert client.lookups == 3
    del now


def test_server_requires_credentials(mlflow_server_url, tmp_path) -> None:
    server = mlflow_server_url
    anonymous = requests.get(
        f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10
    )
    assert anonymous.status_code == 401
    with pytest.raises(ConfigError, match="refused no credentials"):
        connect(load_settings(home=tmp_path, mlflow_tracking_uri=server.url))
    with pytest.raises(ConfigError, match=r"refused user 'admin' \(401\)"):
        connect(
            load_settings(
                home=tmp_path,
                mlflow_tracking_uri=server.url,
                mlflow_username="admin",
                mlflow_password="wrong-password-0000",
            )
        )


def test_unreachable_server_is_a_config_error(tmp_path) -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(ConfigError, match="is unreachable"):
        connect(load_settings(home=tmp_path, mlflow_tracking_uri=url))
    assert time.monotonic() - start < 10  # no minutes of retries
