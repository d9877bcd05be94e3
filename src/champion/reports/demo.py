"""The demo's one-page HTML report: the story, drift per feature, the training
leaderboards, the confidence sequence over time, the decision and why."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from champion.drift import DriftResult
from champion.reports.ab import ab_section, leaderboard_section
from champion.reports.drift import drift_section
from champion.reports.html import page, table
from champion.settings import Settings


def _story_section(story: Any) -> str:
    rows = []
    for step in story.steps:
        facts = {
            k: v
            for k, v in step.items()
            if k not in ("step", "reasons", "drift_reason") and v not in (None, [], "")
        }
        rows.append([step["step"], ", ".join(f"{k}={v}" for k, v in facts.items())])
    looks = [
        [
            str(e["round"]),
            " / ".join(str(n) for n in e["labelled"]),
            e["action"],
            f"{e['estimate']:+.4f}",
            "—" if e["lower"] is None else f"{e['lower']:+.4f}",
            "—" if e["upper"] is None else f"{e['upper']:+.4f}",
            f"{e['p_value']:.3g}",
        ]
        for e in story.evaluations
    ]
    out = "<h2>The story</h2>" + table(["step", "what happened"], rows)
    if looks:
        out += "<h3>Evaluations</h3>" + table(
            ["look", "labelled A / B", "decision", "B − A", "lower", "upper", "always-valid p"],
            looks,
        )
    history = [
        [e["at"], e["action"], e["alias"], e["version"] or "—", e["reason"]]
        for e in story.final.get("history", [])
    ]
    out += "<h3>Registry history (MLflow)</h3>" + table(
        ["when (UTC)", "action", "alias", "version", "why"], history
    )
    return out


def write_report(
    workdir: Path,
    story: Any,
    windows: dict[str, DriftResult],
    boot: Any,
    retrain: Any,
    outcome: Any,
    settings: Settings,
) -> Path:
    sections = [_story_section(story)]
    if outcome is not None and outcome.decision is not None:
        sections.append(
            ab_section(
                outcome.decision,
                outcome.looks,
                heading=f"A/B: challenger v{outcome.challenger} vs champion v{outcome.champion}",
                evaluations=[
                    (
                        sum(e["labelled"]) if not outcome.decision.paired else e["labelled"][0],
                        f"look {e['round']}: {e['action']}",
                    )
                    for e in story.evaluations
                ],
                applied=outcome.applied,
            )
        )
    titles = {"stable": "Drift — stable traffic", "drifted": "Drift — the drifted window"}
    for name, result in windows.items():
        sections.append(drift_section(result, titles.get(name, name)))
    sections.append(
        leaderboard_section(
            f"Training — champion v{boot.champion.version} (bootstrap)",
            boot.training.result.leaderboard_frame(),
            note=f"{boot.training.result.n_rows} reference rows",
        )
    )
    if retrain is not None and retrain.training is not None:
        sections.append(
            leaderboard_section(
                f"Training — challenger v{retrain.challenger} (after drift)",
                retrain.training.result.leaderboard_frame(),
                note=f"{retrain.training_rows} live labelled rows from the prediction log",
            )
        )
    mlflow = (
        f"<h2>MLflow</h2><p>Runs, versions and the comparison: <code>mlflow ui "
        f"--backend-store-uri {escape(settings.tracking_uri)}</code> — experiments "
        f"<code>{escape(settings.experiment_name)}</code> and "
        f"<code>{escape(settings.comparison_name)}</code>.</p>"
    )
    sections.append(mlflow)
    html = page(
        f"champion demo — {story.dataset}",
        sections,
        subtitle=f"{story.final.get('seconds', 0)} s · API {story.api_url}",
    )
    path = workdir / "report.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
