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

    def sentence(self) -> str:
        """The step told as one sentence (the report's story)."""
        return ""

    def line(self) -> StoryLine:
        return StoryLine(self.name, self.facts(), self.sentence())


@dataclass(frozen=True)
class ScenarioChosen(Step):
    name: ClassVar[str] = "scenario"
    scenario: str
    change: str

    def sentence(self) -> str:
        return f"The scenario is {self.scenario}: {self.change}."


@dataclass(frozen=True)
class Bootstrapped(Step):
    name: ClassVar[str] = "bootstrap"
    champion: str
    rows: int
    run_id: str | None

    def sentence(self) -> str:
        return (
            f"No champion existed, so champion trained one on {self.rows:,} reference rows "
            f"and made v{self.champion} the champion."
        )


@dataclass(frozen=True)
class StableTraffic(Step):
    name: ClassVar[str] = "stable traffic"
    sent: int
    labelled: int
    rps: int
    drifted: bool
    reason: str

    def sentence(self) -> str:
        found = "found drift" if self.drifted else "found none"
        return (
            f"The API answered {self.sent:,} requests like the training data "
            f"({self.labelled:,} labelled later, {self.rps:,} requests/s); the drift check "
            f"{found}: {self.reason}."
        )


@dataclass(frozen=True)
class DriftedTraffic(Step):
    name: ClassVar[str] = "drifted traffic"
    sent: int
    labelled: int
    drifted: bool
    drifted_features: list[str]

    def sentence(self) -> str:
        found = (
            f"found drift in {', '.join(self.drifted_features) or 'the joint check'}"
            if self.drifted
            else "found none"
        )
        return (
            f"Then the traffic changed: of {self.sent:,} more requests ({self.labelled:,} "
            f"labelled), the drift check {found}."
        )


@dataclass(frozen=True)
class Retrained(Step):
    name: ClassVar[str] = "retrain"
    outcome: dict[str, Any]  # RetrainOutcome.to_dict()

    def facts(self) -> dict[str, Any]:
        return dict(self.outcome)

    def sentence(self) -> str:
        o = self.outcome
        if not o.get("retrained"):
            return f"Nothing was retrained: {o.get('note')}."
        return (
            f"champion retrained on the latest {o.get('training_rows', 0):,} labelled rows, "
            f"registered challenger v{o.get('challenger')} and started A/B experiment "
            f"{o.get('experiment_id')}."
        )


@dataclass(frozen=True)
class Decided(Step):
    name: ClassVar[str] = "decision"
    action: str
    applied: str | None
    reasons: list[str]
    run_id: str | None

    def sentence(self) -> str:
        done = f", and champion {self.applied}" if self.applied else ""
        why = self.reasons[0] if self.reasons else ""
        return f"The A/B test decided {self.action}{done}: {why}."


@dataclass(frozen=True)
class HotSwapped(Step):
    name: ClassVar[str] = "hot swap"
    serving: str
    probe_versions: dict[str, int]

    def sentence(self) -> str:
        probes = ", ".join(f"v{v}: {n}" for v, n in sorted(self.probe_versions.items()))
        return (
            f"The running API now serves v{self.serving}, swapped in without a restart "
            f"(probe answers by version: {probes})."
        )


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
