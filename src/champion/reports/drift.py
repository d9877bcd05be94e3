"""The drift report: verdict, PSI per feature, and reference-vs-current charts."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from champion.drift import DriftResult, FeatureDrift
from champion.reports.html import page, table
from champion.reports.svg import (
    ALERT_COLOR,
    CURRENT_COLOR,
    OK_COLOR,
    REFERENCE_COLOR,
    grouped_bars,
    horizontal_bars,
)


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _feature_card(item: FeatureDrift) -> str:
    chart = grouped_bars(
        item.bins,
        [
            ("reference", item.reference_shares, REFERENCE_COLOR),
            ("current", item.current_shares, CURRENT_COLOR),
        ],
        chart="feature",
        data={"feature": item.feature, "kind": item.kind},
        y_label="share of rows in the bin",
    )
    tag = (
        "<span class='tag bad'>drift</span>"
        if item.drifted
        else ("<span class='tag good'>stable</span>")
    )
    test = "KS" if item.test == "ks" else "χ²"
    means = ""
    if item.mean_reference is not None and item.mean_current is not None:
        means = f" · mean {item.mean_reference:.4g} → {item.mean_current:.4g}"
    return (
        f"<div class='card'><h3>{escape(item.feature)} {tag}</h3>"
        f"<p>{item.kind} · PSI {item.psi:.3f} · {test} {item.statistic:.3g} "
        f"(p={_p(item.p_value)}) · missing {item.missing_reference:.1%} → "
        f"{item.missing_current:.1%}{escape(means)}</p>"
        f"<p>{escape(item.reason)}</p>{chart}</div>"
    )


def drift_section(result: DriftResult, heading: str = "Data drift") -> str:
    """The drift part of a report, embeddable in a larger page."""
    cls = "bad" if result.drifted else "good"
    word = "DRIFT" if result.drifted else "no drift"
    cfg = result.config
    psi_chart = horizontal_bars(
        [f.feature for f in result.features],
        [f.psi for f in result.features],
        chart="psi",
        colors=[ALERT_COLOR if f.drifted else OK_COLOR for f in result.features],
        threshold=cfg.psi_threshold,
        threshold_label=f"psi_threshold {cfg.psi_threshold:g}",
        x_label="population stability index (PSI, no unit)",
    )
    rows = [
        [
            f.feature,
            f.kind,
            f"{f.psi:.4f}",
            f"≤ {f.psi_null:.4f}" if f.psi_null is not None else "",
            "KS" if f.test == "ks" else "chi2",
            f"{f.statistic:.4g}",
            _p(f.p_value),
            f"{f.missing_reference:.1%} → {f.missing_current:.1%}",
            "yes" if f.drifted else "no",
            f.reason,
        ]
        for f in result.features
    ]
    summary = table(
        [
            "feature",
            "kind",
            "PSI",
            "no-drift PSI (95 %)",
            "test",
            "statistic",
            "p-value",
            "missing",
            "drift",
            "why",
        ],
        rows,
        ["drifted" if f.drifted else "" for f in result.features],
    )
    settings = (
        f"rule <b>{escape(result.rule)}</b> · alpha {cfg.alpha:g} ({escape(cfg.correction)}: "
        f"{result.alpha_per_feature:.3g} per feature) · psi_threshold {cfg.psi_threshold:g} · "
        f"drift_threshold {cfg.drift_threshold:g} · ks_floor {cfg.ks_floor:g} · "
        f"psi_floor {cfg.psi_floor:g} · {cfg.bins} bins"
        + (f" · check {result.check} of this reference" if result.check is not None else "")
    )
    if result.joint is not None:
        settings += f"<br>joint check: {escape(result.joint.reason)}"
    cards = "".join(_feature_card(f) for f in result.features)
    return (
        f"<h2>{escape(heading)}</h2>"
        f"<div class='verdict {cls}'><b>{word}</b> — {escape(result.reason)}<br>"
        f"<small>reference {result.n_reference:,} rows · current {result.n_current:,} rows · "
        f"mean PSI {result.mean_psi:.3f} · {result.n_drifted} of {len(result.features)} "
        f"features drifted</small></div>"
        f"<p class='meta'>{settings}</p>"
        f"<h3>PSI per feature</h3>{psi_chart}{summary}"
        f"<h3>Distributions (reference quantile bins / category shares)</h3>"
        f"<div class='grid'>{cards}</div>"
    )


def render_drift_html(result: DriftResult, title: str = "champion drift report") -> str:
    """A complete, self-contained HTML drift report."""
    return page(title, [drift_section(result)])


def write_drift_reports(
    result: DriftResult, *, html_path: Path | None = None, json_path: Path | None = None
) -> None:
    """Write the HTML and/or JSON form of ``result`` (atomically: temp file + rename)."""
    if html_path is not None:
        _atomic_write(html_path, render_drift_html(result))
    if json_path is not None:
        _atomic_write(json_path, json.dumps(result.to_dict(), indent=2, allow_nan=False))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
