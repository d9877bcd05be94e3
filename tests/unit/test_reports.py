from __future__ import annotations

import json
from html.parser import HTMLParser

from champion.drift import build_profile, check_drift
from champion.reports import render_drift_html, write_drift_reports
from champion.simulation.drift import make_traffic


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, str | None]] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if tag == "svg":
            self.charts.append(d)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if d.get(key, "") and str(d[key]).startswith("http"):
                self.external.append(str(d[key]))


def test_html_report_has_one_chart_per_feature(titanic, tmp_path) -> None:
    s = titanic.schema
    profile = build_profile(titanic.frame, s.numeric, s.categorical)
    result = check_drift(
        profile, make_traffic(titanic.frame, 800, seed=1, drift_cols=["Age"], shift_sd=1.0)
    )
    html_path, json_path = tmp_path / "r.html", tmp_path / "r.json"
    write_drift_reports(result, html_path=html_path, json_path=json_path)

    parser = _Charts()
    parser.feed(html_path.read_text())
    per_feature = [c["data-feature"] for c in parser.charts if c.get("data-chart") == "feature"]
    assert per_feature == list(s.features)
    assert sum(c.get("data-chart") == "psi" for c in parser.charts) == 1
    assert parser.external == [] and parser.scripts == 0  # self-contained
    assert render_drift_html(result).count("<rect") > 3 * len(s.features)

    data = json.loads(json_path.read_text())
    assert data["drifted"] == result.drifted and data["rule"] == "any"
    assert [f["feature"] for f in data["features"]] == list(s.features)
    assert "Age" in data["drifted_features"]
