"""A/B statistics (pure): anytime-valid confidence sequences over randomisation units,
the rule that decides on them, decisions on rows a user already has, and simulated
experiments that check the rule."""

from champion.abtest.classical import chi_square_accuracy, mcnemar, sample_ratio_mismatch
from champion.abtest.decision import Decision, GuardrailBound, Policy, decide, timeline, verdicts
from champion.abtest.evidence import Evidence
from champion.abtest.frame import decide_frame, evidence, timeline_frame
from champion.abtest.looks import Look, Looks
from champion.abtest.metrics import Arm, arm_metrics
from champion.abtest.moments import Moments
from champion.abtest.sequential import Interval, always_valid_p, half_width, paired, unpaired
from champion.abtest.simulation import Outcome, Scenario, plan, simulate

__all__ = [
    "Arm",
    "Decision",
    "Evidence",
    "GuardrailBound",
    "Interval",
    "Look",
    "Looks",
    "Moments",
    "Outcome",
    "Policy",
    "Scenario",
    "always_valid_p",
    "arm_metrics",
    "chi_square_accuracy",
    "decide",
    "decide_frame",
    "evidence",
    "half_width",
    "mcnemar",
    "paired",
    "plan",
    "sample_ratio_mismatch",
    "simulate",
    "timeline",
    "timeline_frame",
    "unpaired",
    "verdicts",
]
