"""Model integrity: every version champion registers carries a digest of its files; a
running API refuses a version whose files were changed afterwards — without unpickling
it — keeps serving the loaded models, says so in /health, and does not download the
refused version again on every poll."""

from __future__ import annotations

import contextlib
import pickle
import time
from pathlib import Path

import httpx
from mlflow.tracking import MlflowClient

from champion.lifecycle import register_trained
from champion.predictionlog import sqlite_url
from champion.settings import load_settings
from champion.tracking.digest import DIGEST_TAG, directory_digest, version_digest
from champion.tracking.registry import open_registry
from champion.types import Alias

from api_helpers import TOKEN, feature_rows, two_models
from receiver import webhook_receiver
from servers import api_server

POLL = 0.5


class _WritesAFile:
    """What a hostile pickle does: run code when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the pickle ran"))


def _artifact_dir(settings, version: str) -> Path:
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    uri = client.get_model_version_download_uri(settings.model_name, version)
    return Path(uri.removeprefix("file://"))


def test_registered_versions_carry_the_digest_of_their_files(tmp_path, titanic, titanic_pair):
    home = tmp_path / "home"
    two_models(home, titanic, titanic_pair)
    settings = load_settings(home=home)
    registry = open_registry(settings)
    for version in ("1", "2"):
        info = registry.get(version)
        assert info.tags[DIGEST_TAG].startswith("sha256:")
        assert info.tags[DIGEST_TAG] == version_digest(info.model_uri)
        assert info.tags[DIGEST_TAG] == directory_digest(_artifact_dir(settings, version))
    assert registry.get("1").tags[DIGEST_TAG] != registry.get("2").tags[DIGEST_TAG]


def test_a_tampered_version_is_refused_while_the_champion_serves(tmp_path, titanic, titanic_pair):
    with contextlib.ExitStack() as stack:
        _tampered(stack, tmp_path, titanic, titanic_pair)


def _tampered(stack, tmp_path, titanic, titanic_pair) -> None:
    home = tmp_path / "home"
    two_models(home, titanic, titanic_pair)
    settings = load_settings(home=home)
    register_trained(settings, titanic, titanic_pair[1], register_as=Alias.CHALLENGER, reason="v3")
    mlflow = MlflowClient(tracking_uri=settings.tracking_uri)
    mlflow.set_registered_model_alias(settings.model_name, Alias.CHALLENGER, "2")  # for now
    marker = tmp_path / "pwned.txt"
    model_file = next(_artifact_dir(settings, "3").rglob("model.pkl"))
    model_file.write_bytes(pickle.dumps(_WritesAFile(marker)))  # after registration

    hook = stack.enter_context(webhook_receiver())
    env = {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": sqlite_url(tmp_path / "events.db"),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": str(POLL),
        "CHAMPION_WEBHOOKS": f"{hook.url}/alerts",
    }
    row = feature_rows(titanic.frame, titanic.schema.features)[0]
    with api_server(env, tmp_path) as api, httpx.Client(timeout=10) as client:
        models = client.get(f"{api.url}/models").json()
        assert models["challenger"]["version"] == "2"
        assert models["champion"]["integrity"] == "verified"
        # someone with write access points the challenger at the tampered version
        mlflow.set_registered_model_alias(settings.model_name, Alias.CHALLENGER, "3")
        deadline = time.monotonic() + 20
        while True:
            health = client.get(f"{api.url}/health").json()
            if health["status"] == "degraded":
                break
            assert time.monotonic() < deadline, health
            time.sleep(POLL / 2)
        assert any("do not match the digest" in p for p in health["problems"]), health
        time.sleep(POLL * 6)  # several polls: the refused version is not fetched again
        assert client.get(f"{api.url}/models").json()["challenger"]["version"] == "2"
        answer = client.post(f"{api.url}/predict", json={"features": row})
        assert answer.status_code == 200 and answer.json()["model_version"] in ("1", "2")
        log = api.log_path.read_text()
    assert not marker.exists()  # the hostile pickle never ran
    assert log.count("could not load challenger v3") == 1, log[-2000:]
    # the people on call were told, once, with what failed and why
    (told,) = [r.json() for r in hook.received]
    assert told["event"] == "model_load_failed" and told["severity"] == "alert"
    assert told["details"]["slot"] == "challenger" and told["details"]["version"] == "3"
    assert "do not match the digest" in told["text"]
