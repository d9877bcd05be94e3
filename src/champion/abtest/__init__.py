"""A/B statistics: anytime-valid sequences, classical tests, guardrails (pure)."""

from champion.abtest.classical import chi_square_accuracy, mcnemar, sample_ratio_mismatch
from champion.abtest.sequential import Interval, always_valid_p, half_width, paired, unpaired

__all__ = [
    "Interval",
    "always_valid_p",
    "chi_square_accuracy",
    "half_width",
    "mcnemar",
    "paired",
    "sample_ratio_mismatch",
    "unpaired",
]
