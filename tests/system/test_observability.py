"""Grafana and Prometheus for the stack: every metric the provisioned dashboard and the
alert rules query is served by a running two-worker API's ``/metrics``, whichever
worker answers the scrape; the counts a scrape sees are the whole replica's; and the
provisioning files point at each other and at what the compose file mounts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from champion.predictionlog import sqlite_url

from api_helpers import TOKEN, feature_rows
from servers import api_server

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BOARD = DEPLOY / "grafana" / "dashboards" / "champion.json"
RULES = DEPLOY / "prometheus" / "rules" / "champion.yml"
METRIC = re.compile(r"\b(champion_[a-z_]+)")
SUFFIXES = ("_bucket", "_count", "_sum")


def _queried() -> dict[str, set[str]]:
    """Metric names in each query of the dashboard and the rules -> where."""
    found: dict[str, set[str]] = {}
    board = json.loads(BOARD.read_text())
    for panel in board["panels"]:
        for target in panel["targets"]:
            for name in METRIC.findall(target["expr"]):
                found.setdefault(name, set()).add(f"panel {panel['title']}")
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            for name in METRIC.findall(rule["expr"]):
                found.setdefault(name, set()).add(f"rule {rule['alert']}")
    return found


def _exposed(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def _total(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def scraped(tmp_path_factory, model_home, titanic):
    """A two-worker API after 40 answered requests over fresh connections."""
    tmp = tmp_path_factory.mktemp("metrics")
    env = {
        "CHAMPION_HOME": str(model_home),
        "CHAMPION_DATABASE_URL": sqlite_url(tmp / "events.db"),
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
    }
    rows = feature_rows(titanic.frame, titanic.schema.features)
    with api_server(env, tmp, workers=2) as api:
        workers = set()
        for k in range(40):
            answer = httpx.post(
                f"{api.url}/predict", json={"features": rows[k]}, headers={"Connection": "close"}
            )
            assert answer.status_code == 200
        bodies = []
        for _ in range(60):  # fresh connections land on either worker
            metrics = httpx.get(f"{api.url}/metrics", headers={"Connection": "close"})
            health = httpx.get(f"{api.url}/health", headers={"Connection": "close"}).json()
            workers.add(health["worker"])
            bodies.append(metrics.text)
            if len(workers) == 2 and len(bodies) >= 20:
                break
        yield bodies, workers


def test_every_queried_metric_is_served(scraped) -> None:
    bodies, _ = scraped
    exposed = _exposed(bodies[0])
    queried = _queried()
    assert len(queried) >= 10
    missing = {
        name: where
        for name, where in queried.items()
        if name not in exposed and not any(name + s in exposed for s in SUFFIXES)
    }
    assert missing == {}, missing


def test_a_scrape_counts_every_worker(scraped) -> None:
    bodies, workers = scraped
    assert len(workers) == 2  # both workers answered
    for text in bodies:  # every scrape, whichever worker served it, sees all 40
        assert _total(text, "champion_requests_total", outcome="ok") == 40
        assert _total(text, "champion_request_latency_seconds_count") == 40
        assert _total(text, "champion_model_version", slot="champion") == 1.0


def test_the_provisioning_fits_together() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"] if ":" in v)
    assert mounts["./prometheus/rules"] == "/etc/prometheus/rules"
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    (job,) = prometheus["scrape_configs"]
    (found,) = job["dns_sd_configs"]
    assert found["names"] == ["api"] and found["port"] == 8000
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert any(f'up{{job="{job["job_name"]}"}}' in r["expr"] for r in rules)
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    board = json.loads(BOARD.read_text())
    assert {p["datasource"]["uid"] for p in board["panels"]} == {datasource["uid"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "champion.yml").read_text()
    )["providers"][0]
    grafana_mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert grafana_mounts["./grafana/dashboards"] == provider["options"]["path"]
    # every panel says what it shows in a unit
    assert all(p["fieldConfig"]["defaults"]["unit"] for p in board["panels"])
