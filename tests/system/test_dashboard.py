"""The live dashboard in a real browser: headless Chromium (Debian's package) loads
``/dashboard`` from a running API (uvicorn on 127.0.0.1, an embedded MLflow store, a
SQLite log) after real traffic, labels, an A/B look and a drift check; the figures in
the DOM equal the log's, and a screenshot is kept (``test-artifacts/dashboard.png``).
The read token's two ways in (bearer, the login cookie) are checked over HTTP."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from champion.lifecycle import check_served_drift, evaluate_and_promote
from champion.predictionlog import EventStore, sqlite_url
from champion.predictionlog.schema import ab_state, feedback, predictions
from champion.serving.process import wait_for
from champion.settings import load_settings
from champion.training import TrainConfig, train

from api_helpers import AUTH, TOKEN, feature_rows, set_config, two_models
from servers import api_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
READ = "read-token-for-the-dashboard-test"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed: apt-get install chromium (.ci/run does)")
    return found


def _browser(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=3000",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


class Fields(HTMLParser):
    """Every ``data-field`` element's text, and every chart's kind."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.charts: list[str] = []
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-chart" in found:
            self.charts.append(str(found["data-chart"]))
        if tag in ("br", "meta", "input", "line", "rect", "circle", "polygon", "polyline"):
            return
        self._open.append(found.get("data-field"))
        if found.get("data-field"):
            self.fields[str(found["data-field"])] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "meta", "input", "line", "rect", "circle", "polygon", "polyline"):
            return
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.fields[name] += data


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").strip())


@pytest.fixture(scope="module")
def watched(tmp_path_factory, titanic, titanic_pair):
    """An API with an experiment in hash mode (40 % to B), 1,200 requests from 150
    users, labels on nine in ten, three A/B looks and one scheduled drift check."""
    tmp = tmp_path_factory.mktemp("dashboard")
    home = tmp / "home"
    # a linear challenger: it disagrees with the champion often enough for an interval
    linear = train(titanic.frame, titanic.schema, TrainConfig(budget=1, estimators=("lrl2",)))
    two_models(home, titanic, (titanic_pair[0], linear))
    log = sqlite_url(tmp / "events.db")
    env = {
        "CHAMPION_HOME": str(home),
        "CHAMPION_DATABASE_URL": log,
        "CHAMPION_ADMIN_TOKEN": TOKEN,
        "CHAMPION_POLL_INTERVAL": "0.5",
        "CHAMPION_AB_KEEP_INTERVAL": "0.5",
    }
    with api_server(env, tmp) as api:
        wait_for(f"{api.url}/models", "both models", lambda b: b.get("challenger") is not None)
        set_config(api.url, mode="hash", split_b=0.4, experiment_id="dash")
        rows = feature_rows(titanic.frame, titanic.schema.features)
        target = titanic.frame[titanic.schema.target].tolist()
        settings = load_settings(home=home, database_url=log)
        store = EventStore(log, model_name=settings.model_name)
        with httpx.Client(timeout=10) as client:
            for look in range(3):  # three rounds of traffic and labels, a look after each
                items = []
                for k in range(look * 400, (look + 1) * 400):
                    i = k % len(rows)
                    body = {"user_id": f"u{k % 150}", "features": rows[i]}
                    answer = client.post(f"{api.url}/predict", json=body).json()
                    if k % 10:  # nine in ten answers get their label
                        items.append({"request_id": answer["request_id"], "label": int(target[i])})
                sent = client.post(f"{api.url}/feedback", headers=AUTH, json={"items": items})
                assert sent.status_code == 200
                outcome = evaluate_and_promote(settings, apply=False, store=store)
        checked = check_served_drift(settings, store=store)
        yield api, store, outcome, checked, env, tmp


def _counts(store: EventStore) -> dict[str, tuple[int, int]]:
    p = predictions.c
    with store.engine.connect() as conn:
        served = dict(conn.execute(select(p.variant, func.count()).group_by(p.variant)).all())
        labelled = dict(
            conn.execute(
                select(p.variant, func.count())
                .select_from(predictions.join(feedback))
                .group_by(p.variant)
            ).all()
        )
    return {v: (int(served[v]), int(labelled.get(v, 0))) for v in served}


def test_the_dashboard_shows_the_logs_figures_in_a_real_browser(watched) -> None:
    api, store, outcome, checked, _, _ = watched
    dom = _browser(f"{api.url}/dashboard", "--dump-dom").stdout
    page = Fields()
    page.feed(dom)
    f = page.fields
    counts = _counts(store)
    assert set(counts) == {"A", "B"}
    for variant, (served, labelled) in counts.items():
        assert _number(f[f"predictions-{variant}"]) == served
        assert _number(f[f"labelled-{variant}"]) == labelled
        assert _number(f[f"coverage-{variant}"]) == pytest.approx(100 * labelled / served, abs=0.06)
    assert f["champion-version"] == "v1" and f["challenger-version"] == "v2"
    assert f["experiment-id"] == "dash" and f["experiment-mode"] == "hash"
    assert f["decision"] == outcome.decision.action
    assert _number(f["estimate"]) == pytest.approx(outcome.decision.interval.estimate, abs=5e-5)
    assert outcome.decision.interval.n > 0  # a real interval: past the labels it needs
    for v in store.variant_stats("dash"):
        assert _number(f[f"accuracy-{v.variant}"]) == pytest.approx(v.accuracy, abs=5e-5)
    assert f["drift-latest"] == ("found drift" if checked.result.drifted else "found no drift")
    assert _number(f["requests"]) == sum(s for s, _ in counts.values())
    assert _number(f["errors"]) == 0
    assert f["status"] == "ok"
    assert {"confidence-sequence", "requests", "latency", "errors"} <= set(page.charts)
    # the registry history lists both registrations
    assert dom.count("register") >= 2
    # the confidence sequence's axis is the meaningful span, not the first looks' width
    ticks = re.findall(r"text-anchor=\"end\">([+-][\d.]+)<", dom)  # signed: its y axis
    assert ticks and max(abs(float(t)) for t in ticks) < 1.0


def test_the_screenshot_is_kept_and_not_blank(watched) -> None:
    api = watched[0]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    _browser(f"{api.url}/dashboard", f"--screenshot={shot}", "--window-size=1280,2400")
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        colours = image.convert("RGB").resize((64, 120)).getcolors(64 * 120)
    assert colours is not None and len(colours) > 20  # text, charts and tables, not a blank


def test_the_json_has_the_same_figures(watched) -> None:
    api, store, outcome, _, _, _ = watched
    body = httpx.get(f"{api.url}/dashboard.json", timeout=10).json()
    counts = _counts(store)
    assert {v["variant"]: (v["predictions"], v["labelled"]) for v in body["variants"]} == counts
    assert body["look"]["decision"]["action"] == outcome.decision.action
    assert len(body["look"]["looks"]) >= 2 and body["drift"][0]["check_number"] == 1


def test_the_read_token_guards_the_dashboard(watched, titanic) -> None:
    _, _, _, _, env, tmp = watched
    with api_server({**env, "CHAMPION_READ_TOKEN": READ}, tmp) as api:
        url = f"{api.url}/dashboard"
        with httpx.Client(timeout=10) as client:
            first = client.get(url)
            assert first.status_code == 401 and "<form" in first.text
            assert "confidence" not in first.text  # nothing of the figures leaks
            assert client.get(f"{url}.json").status_code == 401
            bearer = client.get(url, headers={"Authorization": f"Bearer {READ}"})
            assert bearer.status_code == 200 and "data-field='requests'" in bearer.text
            wrong = client.post(f"{url}/login", data={"token": "guess"})
            assert wrong.status_code == 403 and not client.cookies
            login = client.post(f"{url}/login", data={"token": READ}, follow_redirects=False)
            assert login.status_code == 303
            cookie = login.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and READ not in cookie
            assert client.get(url).status_code == 200  # the cookie is enough
            assert client.get(f"{url}.json").status_code == 200
        forged = httpx.get(url, cookies={"champion_dashboard": "0" * 64}, timeout=10)
        assert forged.status_code == 401


def test_the_api_keeps_the_looks_sums_up_between_looks(watched) -> None:
    """Between the scheduled looks the API adds what arrived to the running sums (up to
    the look's lag), so a look reads minutes of rows, not hours."""
    _, store, _, _, _, _ = watched
    with store.engine.connect() as conn:
        before = conn.execute(select(ab_state.c.upto)).scalar_one()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with store.engine.connect() as conn:
            after = conn.execute(select(ab_state.c.upto)).scalar_one()
        if after > before + 0.5:
            break
    assert after > before + 0.5  # advanced by the API, no look taken
    assert store.latest_look("dash")["decision"] is not None  # the look's record stays
