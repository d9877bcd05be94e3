"""The prediction API through a real uvicorn server on 127.0.0.1 — the same tests on the
SQLite and the PostgreSQL prediction log."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
import httpx
import numpy as np
import pytest

from champion.predictionlog import EventStore, sqlite_url

from api_helpers import AUTH, TOKEN, feature_rows, set_config
from servers import api_server, postgres_cluster


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"log-{request.param}")
    if request.param == "sqlite":
        yield sqlite_url(workdir / "events.db")
    else:
        with postgres_cluster(workdir) as url:
            yield url


@pytest.fixture(scope="module")
def api(backend, model_home, tmp_path_factory):
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": backend,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }
    with api_server(env, tmp_path_factory.mktemp("api")) as server:
        yield server


@pytest.fixture(scope="module")
def store(backend):
    s = EventStore(backend)
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def rows(titanic):
    return feature_rows(titanic.frame, titanic.schema.features)


def _post(client: httpx.Client, url: str, features, user_id=None) -> dict:
    body = {"features": features} if user_id is None else {"user_id": user_id, "features": features}
    response = client.post(f"{url}/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_hash_routing_is_sticky_with_the_configured_share(api, rows) -> None:
    set_config(api.url, mode="hash", split_b=0.3, experiment_id="hash-share")
    users = [f"user-{i}" for i in range(400)]
    with httpx.Client(timeout=10) as client:
        first = {
            u: _post(client, api.url, rows[i % len(rows)], u)["variant"]
            for i, u in enumerate(users)
        }
        again = {
            u: _post(client, api.url, rows[(i + 7) % len(rows)], u)["variant"]
            for i, u in enumerate(users)
        }
    assert first == again  # same user, same variant
    share = np.mean([v == "B" for v in first.values()])
    assert 0.23 <= share <= 0.37, share  # 3 sd of a binomial(400, 0.3)


def test_random_routing_share_and_no_stickiness(api, rows) -> None:
    set_config(api.url, mode="random", split_b=0.5, experiment_id="random-share")
    with httpx.Client(timeout=10) as client:
        variants = [
            _post(client, api.url, rows[i % len(rows)], "same-user")["variant"] for i in range(400)
        ]
    share = np.mean([v == "B" for v in variants])
    assert 0.42 <= share <= 0.58, share
    assert set(variants) == {"A", "B"}


@pytest.mark.parametrize("mode", ["shadow", "hash"])
def test_both_models_score_every_request(api, rows, store, mode: str) -> None:
    set_config(api.url, mode=mode, split_b=0.5, experiment_id=f"both-{mode}")
    with httpx.Client(timeout=10) as client:
        answers = [_post(client, api.url, rows[i], f"u{i}") for i in range(40)]
    if mode == "shadow":
        assert {a["variant"] for a in answers} == {"A"}
    else:
        assert {a["variant"] for a in answers} == {"A", "B"}
    for answer in answers:
        row = store.prediction(answer["request_id"])
        assert (row["version_a"], row["version_b"]) == ("1", "2")
        assert (row["failed_a"], row["failed_b"]) == (0, 0)
        assert row["latency_a_ms"] > 0 and row["latency_b_ms"] > 0
        own = "a" if answer["variant"] == "A" else "b"  # the routed model answered
        assert row["model_version"] == answer["model_version"] == row[f"version_{own}"]
        assert json.loads(row[f"prediction_{own}"]) == answer["prediction"]
        assert row[f"probability_{own}"] == pytest.approx(answer["probability"])
        other = "b" if own == "a" else "a"
        assert json.loads(row[f"prediction_{other}"]) in (0, 1)


def test_2000_concurrent_requests_give_exactly_2000_rows(api, rows, store) -> None:
    experiment = f"load-{uuid.uuid4().hex[:8]}"
    set_config(api.url, mode="hash", split_b=0.5, experiment_id=experiment)

    async def load() -> list[tuple[int, dict]]:
        # 64 concurrent connections; aiohttp, since httpx's async pool is the bottleneck
        pending = iter(range(2000))
        done: list[tuple[int, dict]] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def worker() -> None:
                for i in pending:
                    body = {"user_id": i, "features": rows[i % len(rows)]}
                    async with session.post(f"{api.url}/predict", json=body) as response:
                        done.append((response.status, await response.json()))

            await asyncio.gather(*(worker() for _ in range(64)))
        return done

    responses = asyncio.run(load())
    assert [status for status, _ in responses] == [200] * 2000
    assert store.count_predictions(experiment) == 2000
    ids = {body["request_id"] for _, body in responses}
    assert len(ids) == 2000
    assert all(store.prediction(rid) is not None for rid in list(ids)[:200])


def test_invalid_input_is_422_naming_the_field_and_logs_nothing(api, rows, store) -> None:
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="invalid-input")
    good = rows[0]
    cases = {
        "Parch": {k: v for k, v in good.items() if k != "Parch"},
        "Age": {**good, "Age": "old", "Cabin": "C85"},  # an extra key excuses nothing
        "Sex": {**good, "Sex": 1},
        "Fare": {**good, "Fare": True},
    }
    with httpx.Client(timeout=10) as client:
        for field, features in cases.items():
            response = client.post(f"{api.url}/predict", json={"features": features})
            assert response.status_code == 422
            assert ["body", "features", field] in [e["loc"] for e in response.json()["detail"]]
        raw = json.dumps({"features": {**good, "Age": 1.0}}).replace("1.0", "NaN")
        response = client.post(
            f"{api.url}/predict", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422 and "finite" in response.text
        batch = {"items": [{"features": good}, {"features": {**good, "Age": "x"}}]}
        response = client.post(f"{api.url}/predict/batch", json=batch)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "items", 1, "features", "Age"]
        assert client.post(f"{api.url}/predict", json={"feature": good}).status_code == 422
    assert store.count_predictions("invalid-input") == 0  # nothing logged for rejects


VENDOR = {"content-type": "application/vnd.champion+json"}  # JSON, but not the fast path's


def test_predict_bodies_on_and_off_the_fast_path_answer_alike(api, rows, store) -> None:
    """Well-formed bodies skip FastAPI's request machinery; everything else is replayed
    into FastAPI — either way the same answers, errors and log rows."""
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="fast-path")
    good = rows[0]
    raw = {"content-type": "application/json"}
    cases = [  # (body, headers, status, where a 422 points)
        (json.dumps({"user_id": "u1", "features": good}), raw, 200, None),
        (json.dumps({"user_id": 7, "features": good}), raw, 200, None),
        (
            json.dumps({"features": good}),
            {"content-type": "application/json; charset=utf-8"},
            200,
            None,
        ),
        (json.dumps({"user_id": 7.0, "features": good}), raw, 422, ["body", "user_id"]),
        (json.dumps({"user_id": True, "features": good}), raw, 422, ["body", "user_id"]),
        (json.dumps({"user_id": 7, "features": good}), VENDOR, 200, None),  # FastAPI's path
        (json.dumps({"user_id": "", "features": good}), raw, 422, ["body", "user_id"]),
        (json.dumps({"user_id": "u1", "features": good, "x": 1}), raw, 422, ["body", "x"]),
        (json.dumps({"features": {**good, "Age": "old"}}), raw, 422, ["body", "features", "Age"]),
        (json.dumps({"features": [1, 2]}), raw, 422, ["body", "features"]),
        ("[1, 2]", raw, 422, ["body"]),
        ('{"features": ', raw, 422, ["body"]),
        ('{"features": ', {}, 422, ["body"]),  # FastAPI parses a body without a type
    ]
    answered = 0
    with httpx.Client(timeout=10) as client:
        for body, headers, status, loc in cases:
            response = client.post(f"{api.url}/predict", content=body, headers=headers)
            assert response.status_code == status, (body, response.text)
            if status == 200:
                answered += 1
                assert set(response.json()) == {
                    "request_id", "experiment_id", "variant", "model_version", "prediction",
                    "probability", "ignored_features",
                }  # fmt: skip
                assert response.headers["content-type"] == "application/json"
            else:
                locs = [e["loc"][: len(loc)] for e in response.json()["detail"]]
                assert loc in locs, (body, response.text)
    assert store.count_predictions("fast-path") == answered
    with httpx.Client(timeout=10) as client:  # the same user, the same variant, either path
        fast = client.post(f"{api.url}/predict", json={"user_id": 42, "features": good}).json()
        body = json.dumps({"user_id": 42, "features": good})
        slow = client.post(f"{api.url}/predict", content=body, headers=VENDOR).json()
    assert fast["variant"] == slow["variant"] and fast["prediction"] == slow["prediction"]


def test_batch_endpoint(api, rows, store) -> None:
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="batch")
    items = [{"user_id": i, "features": rows[i]} for i in range(25)]
    response = httpx.post(f"{api.url}/predict/batch", json={"items": items}, timeout=10)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 25
    assert store.count_predictions("batch") == 25


def test_a_new_experiment_has_the_sums_of_its_looks_started(api, store) -> None:
    """A new experiment id through the API starts the sums its looks keep, so the API's
    upkeeps add rows to them before any look (the first look is no pass over them all)."""
    assert store.latest_look("started-here") is None
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="started-here")
    deadline = time.monotonic() + 10
    while (kept := store.latest_look("started-here")) is None:
        assert time.monotonic() < deadline, "the experiment's sums were not started"
        time.sleep(0.1)
    assert kept["looks"] == [] and kept["decision"] is None  # started, not looked at
    assert (kept["champion"], kept["challenger"]) == ("1", "2")
    set_config(api.url, mode="hash", split_b=0.4)  # the same experiment: nothing new
    assert store.latest_look("started-here") == kept


def test_admin_endpoints_need_the_token(api) -> None:
    body = {"mode": "off"}
    assert httpx.put(f"{api.url}/ab/config", json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.put(f"{api.url}/ab/config", json=body, headers=wrong).status_code == 403
    assert httpx.get(f"{api.url}/ab/config").status_code == 200  # reading is public


def test_feedback_rules(api, rows, store) -> None:
    set_config(api.url, mode="hash", split_b=0.5, experiment_id="feedback")
    with httpx.Client(timeout=10) as client:
        ids = [_post(client, api.url, rows[i], f"fb{i}")["request_id"] for i in range(3)]
        fb = f"{api.url}/feedback"
        assert client.post(fb, json={"request_id": ids[0], "label": 1}).status_code == 401
        assert client.post(fb, headers={"Authorization": "Bearer nope"}, json={}).status_code == 403
        client.headers.update(AUTH)
        assert client.post(fb, json={"request_id": "unknown-id", "label": 1}).status_code == 404
        assert client.post(fb, json={"request_id": ids[0], "label": 1}).json() == {
            "inserted": 1,
            "duplicates": 0,
        }
        same = client.post(
            fb, json={"request_id": ids[0], "label": "1"}
        )  # same label, other spelling
        assert same.status_code == 200 and same.json() == {"inserted": 0, "duplicates": 1}
        assert client.post(fb, json={"request_id": ids[0], "label": 0}).status_code == 409
        # a batch is all or nothing
        bad = {"items": [{"request_id": ids[1], "label": 0}, {"request_id": "nope", "label": 1}]}
        assert client.post(fb, json=bad).status_code == 404
        report = client.get(f"{api.url}/ab/report").json()
        assert sum(v["labelled"] for v in report["variants"]) == 1
        good = {"items": [{"request_id": ids[1], "label": 0}, {"request_id": ids[2], "label": 1}]}
        assert client.post(fb, json=good).json() == {"inserted": 2, "duplicates": 0}
        assert client.post(fb, json={"request_id": ids[0]}).status_code == 422
        report = client.get(f"{api.url}/ab/report").json()
    assert report["experiment_id"] == "feedback"
    assert sum(v["labelled"] for v in report["variants"]) == 3
    assert sum(v["predictions"] for v in report["variants"]) == 3


def test_ops_endpoints(api) -> None:
    with httpx.Client(timeout=10) as client:
        health = client.get(f"{api.url}/health").json()
        assert (
            health["status"] == "ok" and health["champion"] == "1" and health["challenger"] == "2"
        )
        assert client.get(f"{api.url}/ready").status_code == 200
        models = client.get(f"{api.url}/models").json()
        assert models["champion"]["path"].startswith("compiled numpy path")
        metrics = client.get(f"{api.url}/metrics").text
        assert 'champion_requests_total{endpoint="predict",outcome="ok"' in metrics
        assert 'champion_model_version{slot="champion"} 1.0' in metrics
        assert 'champion_model_compiled{slot="champion"} 1.0' in metrics
        assert client.get(f"{api.url}/docs").status_code == 200
        assert "swagger" in client.get(f"{api.url}/apidocs").text.lower()
        assert client.get(f"{api.url}/openapi.json").json()["paths"]["/predict"]


def test_a_shadow_experiment_through_the_api_is_evaluated(
    api, rows, store, backend, model_home, titanic
) -> None:
    from champion.lifecycle import evaluate_and_promote
    from champion.settings import load_settings

    set_config(api.url, mode="shadow", experiment_id="shadow-eval")
    labels = titanic.frame[titanic.schema.target].tolist()
    picked = list(range(0, 600, 2))
    with httpx.Client(timeout=10) as client:
        answers = [_post(client, api.url, rows[i], f"se{i}") for i in picked]
        items = [
            {"request_id": a["request_id"], "label": int(labels[i])}
            for a, i in zip(answers, picked, strict=True)
        ]
        assert (
            client.post(f"{api.url}/feedback", headers=AUTH, json={"items": items}).status_code
            == 200
        )
    settings = load_settings(home=model_home, database_url=backend, ab_min_labelled=50)
    outcome = evaluate_and_promote(settings, apply=False)
    decision = outcome.decision
    assert outcome.experiment_id == "shadow-eval" and decision.paired
    truth = np.array([labels[i] for i in picked])
    served = np.array([a["prediction"] for a in answers])
    shadow = np.array(
        [json.loads(store.prediction(a["request_id"])["prediction_b"]) for a in answers]
    )
    assert decision.metrics["A"]["labelled"] == len(picked)
    assert decision.metrics["A"]["accuracy"] == pytest.approx(float(np.mean(served == truth)))
    assert decision.metrics["B"]["accuracy"] == pytest.approx(float(np.mean(shadow == truth)))
    assert decision.interval.estimate == pytest.approx(
        float(np.mean(shadow == truth) - np.mean(served == truth))
    )


def test_simulate_traffic_replays_rows_and_labels(api, store, capsys) -> None:
    from champion.cli import main

    set_config(api.url, mode="random", split_b=0.5, experiment_id="replay-refused")
    argv = ["simulate", "traffic", "--api", api.url, "--n", "5"]
    with pytest.raises(SystemExit) as refused:  # labels need a credential
        main(argv)
    assert refused.value.code == 1 and "HTTP 401" in capsys.readouterr().err
    set_config(api.url, mode="random", split_b=0.5, experiment_id="replay")
    argv = ["simulate", "traffic", "--api", api.url, "--n", "120", "--seed", "4"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--token", TOKEN])
    assert exit_info.value.code == 0
    assert "120/120 answered" in capsys.readouterr().out
    stats = {s.variant: s for s in store.variant_stats("replay")}
    assert sum(s.predictions for s in stats.values()) == 120
    assert sum(s.labelled for s in stats.values()) == 120
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "traffic", "--api", "localhost:1", "--n", "1"])
    assert exit_info.value.code == 2
