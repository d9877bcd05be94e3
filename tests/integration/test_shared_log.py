"""Two models, two APIs, one prediction log (a SQLite file, then a PostgreSQL database):
each API's experiment, A/B configuration, report, evaluation, drift window and
retraining rows are its own model's only — nothing mixes, even under the same
experiment id."""

from __future__ import annotations

import httpx
import pytest

from champion.lifecycle import evaluate_and_promote, register_trained
from champion.predictionlog import open_store, sqlite_url
from champion.settings import load_settings
from champion.types import Alias

from api_helpers import AUTH, TOKEN, feature_rows, set_config
from servers import api_server, postgres_cluster

MODELS = {"fares": 300, "cabins": 80}  # model name -> requests sent to its API


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"shared-{request.param}")
    if request.param == "sqlite":
        yield sqlite_url(workdir / "events.db")
    else:
        with postgres_cluster(workdir) as url:
            yield url


@pytest.fixture(scope="module")
def home(tmp_path_factory, titanic, titanic_pair):
    """One MLflow store holding both models, each with v1 champion and v2 challenger."""
    home = tmp_path_factory.mktemp("two-models")
    for name in MODELS:
        settings = load_settings(home=home, model_name=name)
        for alias, result in zip(Alias, titanic_pair, strict=True):
            register_trained(settings, titanic, result, register_as=alias, reason="t")
    return home


def _env(home, log, name) -> dict[str, str]:
    return {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_MODEL_NAME": name,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }


def test_two_models_on_one_log_never_mix(home, log, titanic, tmp_path) -> None:
    rows = feature_rows(titanic.frame, titanic.schema.features)
    target = titanic.frame[titanic.schema.target].tolist()
    fares, cabins = MODELS
    with (
        api_server(_env(home, log, fares), tmp_path) as api_f,
        api_server(_env(home, log, cabins), tmp_path) as api_c,
        httpx.Client(timeout=10) as client,
    ):
        apis = {fares: api_f.url, cabins: api_c.url}
        for url in apis.values():  # the same experiment id for both, on purpose
            set_config(url, mode="hash", split_b=0.5, experiment_id="same-id")
        set_config(apis[cabins], mode="hash", split_b=0.3, experiment_id="same-id")
        for name, url in apis.items():
            sent = [
                client.post(f"{url}/predict", json={"user_id": f"{name}-{i}", "features": rows[i]})
                for i in range(MODELS[name])
            ]
            items = [
                {"request_id": r.json()["request_id"], "label": int(target[i])}
                for i, r in enumerate(sent)
            ]
            assert (
                client.post(f"{url}/feedback", headers=AUTH, json={"items": items}).status_code
                == 200
            )
        # one model's API cannot label the other's requests
        other = client.post(
            f"{apis[fares]}/feedback",
            headers=AUTH,
            json={"request_id": items[0]["request_id"], "label": 1},
        )
        assert other.status_code == 404
        reports = {name: client.get(f"{url}/ab/report").json() for name, url in apis.items()}
        configs = {name: client.get(f"{url}/ab/config").json() for name, url in apis.items()}
    assert (configs[fares]["split_b"], configs[cabins]["split_b"]) == (0.5, 0.3)
    for name, count in MODELS.items():
        assert sum(v["predictions"] for v in reports[name]["variants"]) == count
        settings = load_settings(home=home, database_url=log, model_name=name, ab_min_labelled=20)
        store = open_store(settings)
        assert store.count_predictions("same-id") == count
        assert len(store.served_features(limit=10_000)) == count  # the drift window
        assert len(store.labelled_rows(limit=10_000)) == count  # what retraining learns from
        assert store.ab_config().split_b == configs[name]["split_b"]
        store.dispose()
        decision = evaluate_and_promote(settings, apply=False).decision
        assert sum(decision.labelled) == count
        assert decision.action != "invalid"  # the other model's rows do not skew the split
