"""What the demo tells: one typed record per step, and the story they make.

Each step's fields are its facts: the console summary, ``summary.json`` and the HTML
report all show them (``step.facts()``); the evaluations are a table of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from champion.abtest import Decision
from champion.reports.demo import LookRow, StoryLine


@dataclass(frozen=True)
class Step:
    """A step of the story; subclasses name themselves and carry their facts."""

    name: ClassVar[str] = "step"

    def facts(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> StoryLine:
        return StoryLine(self.name, self.facts())


@dataclass(frozen=True)
class ScenarioChosen(Step):
    name: ClassVar[str] = "scenario"
    scenario: str
    change: str


@dataclass(frozen=True)
class Bootstrapped(Step):
    name: ClassVar[str] = "bootstrap"
    champion: str
    rows: int
    run_id: str | None


@dataclass(frozen=True)
class StableTraffic(Step):
    name: ClassVar[str] = "stable traffic"
    sent: int
    labelled: int
    rps: int
    drifted: bool
    reason: str


@dataclass(frozen=True)
class DriftedTraffic(Step):
    name: ClassVar[str] = "drifted traffic"
    sent: int
    labelled: int
    drifted: bool
    drifted_features: list[str]


@dataclass(frozen=True)
class Retrained(Step):
    name: ClassVar[str] = "retrain"
    outcome: dict[str, Any]  # RetrainOutcome.to_dict()

    def facts(self) -> dict[str, Any]:
        return dict(self.outcome)


@dataclass(frozen=True)
class Decided(Step):
    name: ClassVar[str] = "decision"
    action: str
    applied: str | None
    reasons: list[str]
    run_id: str | None


@dataclass(frozen=True)
class HotSwapped(Step):
    name: ClassVar[str] = "hot swap"
    serving: str
    probe_versions: dict[str, int]


def look_row(round_: int, decision: Decision) -> LookRow:
    """One evaluation of the experiment as the story's table shows it."""
    iv = decision.interval
    return LookRow(
        round=round_,
        labelled=decision.labelled,
        action=decision.action,
        estimate=iv.estimate,
        lower=iv.lower if np.isfinite(iv.lower) else None,
        upper=iv.upper if np.isfinite(iv.upper) else None,
        p_value=iv.p_value,
    )


@dataclass
class DemoStory:
    """What happened, step by step (written to ``summary.json``)."""

    dataset: str
    api_url: str = ""
    steps: list[Step] = field(default_factory=list)
    evaluations: list[LookRow] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str) -> Step | None:
        """The step called ``name``, if it happened."""
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "api_url": self.api_url,
            "steps": [{"step": s.name, **s.facts()} for s in self.steps],
            "evaluations": [asdict(e) for e in self.evaluations],
            "final": self.final,
        }
