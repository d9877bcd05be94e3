"""The traffic router through a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import sys

import httpx
import pandas as pd
import pytest

from champion.drift import detect_drift

from servers import background, free_port


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("router") / "router.log"
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "champion", "simulate", "router", "--port", str(port)]
    with background(cmd, log, f"{url}/health"):
        yield url


def test_configuration_is_validated_with_reasons(router) -> None:
    with httpx.Client(base_url=router, timeout=10) as client:
        assert client.get("/traffic").json() == {
            "a": 0.5,
            "b": 0.5,
            "data_size": 5000,
            "drift_cols": [],
        }
        bad = client.post("/traffic", json={"a": 0.7, "b": 0.2, "data_size": 10})
        assert bad.status_code == 422 and "a + b must be 1" in bad.text
        bad = client.post("/traffic", json={"a": 0.5, "b": 0.5, "data_size": 0})
        assert bad.status_code == 422 and "data_size" in bad.text
        huge = client.post("/traffic", json={"a": 0.5, "b": 0.5, "data_size": 1_000_000})
        assert huge.status_code == 422 and "less than or equal to 10000" in huge.text
        huge = client.post("/get_data", json={"data_size": 10_001})
        assert huge.status_code == 422 and "data_size" in huge.text
        bad = client.post("/traffic", json={"a": 1, "b": 0, "drift_cols": ["Height"]})
        assert bad.status_code == 422 and "Height" in bad.text
        assert client.get("/traffic").json()["data_size"] == 5000  # nothing changed


def test_batches_follow_the_configuration(router, titanic) -> None:
    config = {"a": 0.3, "b": 0.7, "data_size": 2000, "drift_cols": ["Age"]}
    with httpx.Client(base_url=router, timeout=30) as client:
        assert client.post("/traffic", json=config).json() == config
        body = client.post("/get_data").json()
        assert body["target"] == "Survived" and len(body["data"]) == 2000
        frame = pd.DataFrame(body["data"])
        schema = titanic.schema
        result = detect_drift(titanic.frame, frame, schema.numeric, schema.categorical)
        assert result.drifted_features == ("Age",)
        split = client.post("/ab_data").json()
        assert (len(split["a"]), len(split["b"])) == (600, 1400)
        # successive batches differ; a given seed reproduces its batch
        again = client.post("/get_data").json()["data"]
        assert again != body["data"]
        one = client.post("/get_data", json={"seed": 5}).json()["data"]
        assert one == client.post("/get_data", json={"seed": 5}).json()["data"]
