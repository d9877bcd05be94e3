"""The A/B section, the demo's page and the terminal views: what a reader sees, checked
in the rendered output."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
from rich.console import Console

from champion.abtest import Look, Scenario, decide
from champion.abtest.simulation import draw
from champion.drift import build_profile, check_drift
from champion.reports.ab import ab_section
from champion.reports.console import decision_view, drift_view
from champion.reports.demo import DemoReport, Experiment, LookRow, StoryLine, render_report
from champion.types import ABMode, Action


def _decision(acc_b: float, n: int = 8000, seed: int = 0):
    s = Scenario(mode=ABMode.RANDOM, rows=n, tpr_a=0.7, tnr_a=0.7, tpr_b=acc_b, tnr_b=acc_b)
    return decide(draw(s, np.random.default_rng(seed)), mode=ABMode.RANDOM)


def _text(renderable) -> str:
    console = Console(record=True, width=140)
    console.print(renderable)
    return console.export_text()


class _Svg(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.charts.append(dict(attrs).get("data-chart"))


def test_the_terminal_decision_view_shows_interval_tests_and_reasons() -> None:
    decision = _decision(0.8)
    assert decision.action == Action.PROMOTE
    text = _text(decision_view(decision, experiment="e1", champion="1", challenger="2"))
    iv = decision.interval
    assert "Experiment e1" in text and "A (v1)" in text and "B (v2)" in text
    assert f"{iv.estimate:+.4f} in [{iv.lower:+.4f}, {iv.upper:+.4f}]" in text
    assert "sample-ratio check p" in text and "NOT valid under repeated looks" in text
    assert "guardrail recall: B - A" in text
    assert "decision: promote" in text and decision.reasons[0] in text


def test_the_terminal_drift_view_lists_every_feature_and_the_verdict() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    cur = ref.assign(x=ref["x"] + 1.0)
    result = check_drift(build_profile(ref, ["x"], ["c"]), cur)
    text = _text(drift_view(result))
    assert "DRIFT" in text and result.reason in text.replace("\n", " ")
    lines = {line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 3}
    assert {"x", "c"} <= lines


def test_the_ab_section_draws_the_sequence_and_names_the_decision() -> None:
    decision = _decision(0.72)
    looks = [Look(n, 0.02, 0.02 - 1 / n**0.5, 0.02 + 1 / n**0.5) for n in (200, 800, 3200, 8000)]
    html = ab_section(decision, looks, heading="A/B", evaluations=[(800, "look 1: continue")])
    parser = _Svg()
    parser.feed(html)
    assert parser.charts.count("confidence-sequence") == 1
    assert f"<b>{decision.action}</b>" in html and "look 1: continue" in html


def test_the_demo_page_tells_the_story_in_order() -> None:
    decision = _decision(0.8)
    report = DemoReport(
        dataset="titanic",
        api_url="http://127.0.0.1:1",
        seconds=12.5,
        story=[
            StoryLine("bootstrap", {"champion": "1", "rows": 356}, "v1 became the champion."),
            StoryLine("retrain", {}),
        ],
        evaluations=[LookRow(1, (400, 410), "promote", 0.1, 0.02, 0.18, 0.001)],
        history=[
            {"at": "t", "action": "register", "alias": "champion", "version": "1", "reason": "r"}
        ],
        windows={},
        trainings=[],
        experiment=Experiment("1", "2", decision, [Look(810, 0.1, 0.02, 0.18)], "promoted v2"),
        tracking_uri="sqlite:///x.db",
        experiment_names=("train", "compare"),
    )
    html = render_report(report)
    assert html.index("bootstrap") < html.index("retrain") < html.index("Evaluations")
    assert "<b>bootstrap</b>: v1 became the champion." in html  # a sentence, not facts
    assert "400 / 410" in html and "+0.0200" in html
    assert "promoted v2" in html and "mlflow ui --backend-store-uri sqlite:///x.db" in html
