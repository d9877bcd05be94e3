"""The demo's one-page HTML report: the story, drift per feature, the training
leaderboards, the confidence sequence over time, the decision and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from champion.abtest import Decision, Look
from champion.drift import DriftResult
from champion.reports.ab import ab_section, leaderboard_section
from champion.reports.drift import drift_section
from champion.reports.html import page, table
from champion.training import TrainResult

#: Facts too long for the story table (they have sections of their own).
HIDDEN_FACTS = ("reasons", "drift_reason")


@dataclass(frozen=True)
class StoryLine:
    """One step of the story: its name and its facts."""

    step: str
    facts: Mapping[str, Any]
    text: str = ""  # the step as a sentence; empty: its facts are shown


@dataclass(frozen=True)
class LookRow:
    """One evaluation of the experiment."""

    round: int
    labelled: tuple[int, int]  # A, B (the same twice when paired)
    action: str
    estimate: float
    lower: float | None  # None while the interval is unbounded
    upper: float | None
    p_value: float


@dataclass(frozen=True)
class Training:
    """A training run shown with its leaderboard."""

    title: str
    result: TrainResult
    note: str


@dataclass(frozen=True)
class Experiment:
    """The experiment's last evaluation and its sequence over time."""

    champion: str
    challenger: str
    decision: Decision
    looks: Sequence[Look]
    applied: str | None


@dataclass(frozen=True)
class DemoReport:
    """Everything the report shows."""

    dataset: str
    api_url: str
    seconds: float
    story: Sequence[StoryLine]
    evaluations: Sequence[LookRow]
    history: Sequence[Mapping[str, Any]]  # the registry's alias moves
    windows: Mapping[str, DriftResult]  # "stable" / "drifted" -> the drift check
    trainings: Sequence[Training]
    experiment: Experiment | None
    tracking_uri: str
    experiment_names: tuple[str, str]  # training, comparison


def _fact_text(facts: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in facts.items() if k not in HIDDEN_FACTS and v not in (None, [], "")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _bound(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def _story_section(report: DemoReport) -> str:
    looks = [
        [
            str(e.round),
            " / ".join(str(n) for n in e.labelled),
            e.action,
            f"{e.estimate:+.4f}",
            _bound(e.lower),
            _bound(e.upper),
            f"{e.p_value:.3g}",
        ]
        for e in report.evaluations
    ]
    told = "".join(
        f"<li><b>{escape(line.step)}</b>: {escape(line.text or _fact_text(line.facts))}</li>"
        for line in report.story
    )
    out = f"<h2>The story</h2><ol class='story'>{told}</ol>"
    if looks:
        out += "<h3>Evaluations</h3>" + table(
            ["look", "labelled A / B", "decision", "B − A", "lower", "upper", "always-valid p"],
            looks,
        )
    history = [
        [e["at"], e["action"], e["alias"], e["version"] or "—", e["reason"]] for e in report.history
    ]
    out += "<h3>Registry history (MLflow)</h3>" + table(
        ["when (UTC)", "action", "alias", "version", "why"], history
    )
    return out


def _experiment_section(report: DemoReport) -> str:
    ex = report.experiment
    assert ex is not None
    return ab_section(
        ex.decision,
        ex.looks,
        heading=f"A/B: challenger v{ex.challenger} vs champion v{ex.champion}",
        evaluations=[
            (
                e.labelled[0] if ex.decision.paired else sum(e.labelled),
                f"look {e.round}: {e.action}",
            )
            for e in report.evaluations
        ],
        applied=ex.applied,
    )


def render_report(report: DemoReport) -> str:
    """The report as one self-contained HTML page."""
    sections = [_story_section(report)]
    if report.experiment is not None:
        sections.append(_experiment_section(report))
    titles = {"stable": "Drift — stable traffic", "drifted": "Drift — the drifted window"}
    for name, result in report.windows.items():
        sections.append(drift_section(result, titles.get(name, name)))
    for training in report.trainings:
        sections.append(
            leaderboard_section(
                training.title, training.result.leaderboard_frame(), note=training.note
            )
        )
    training_name, comparison_name = report.experiment_names
    sections.append(
        f"<h2>MLflow</h2><p>Runs, versions and the comparison: <code>mlflow ui "
        f"--backend-store-uri {escape(report.tracking_uri)}</code> — experiments "
        f"<code>{escape(training_name)}</code> and <code>{escape(comparison_name)}</code>.</p>"
    )
    return page(
        f"champion demo — {report.dataset}",
        sections,
        subtitle=f"{report.seconds} s · API {report.api_url}",
    )


def write_report(path: Path, report: DemoReport) -> Path:
    """Write the report to ``path`` (replaced whole: a reader never sees half of it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_report(report), encoding="utf-8")
    tmp.replace(path)
    return path
