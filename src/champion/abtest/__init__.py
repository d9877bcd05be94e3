"""A/B statistics (pure): anytime-valid confidence sequences, classical tests, the
evidence of an experiment and the decision on it."""

from champion.abtest.classical import chi_square_accuracy, mcnemar, sample_ratio_mismatch
from champion.abtest.decision import Arm, Decision, Policy, arm_metrics, decide, row_scores
from champion.abtest.evidence import Evidence, Look, build_evidence, interval_path
from champion.abtest.sequential import Interval, always_valid_p, half_width, paired, unpaired

__all__ = [
    "Arm",
    "Decision",
    "Evidence",
    "Interval",
    "Look",
    "Policy",
    "always_valid_p",
    "arm_metrics",
    "build_evidence",
    "chi_square_accuracy",
    "decide",
    "half_width",
    "interval_path",
    "mcnemar",
    "paired",
    "row_scores",
    "sample_ratio_mismatch",
    "unpaired",
]
