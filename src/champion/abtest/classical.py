"""Fixed-horizon tests reported beside the sequence (pure numpy/scipy).

* :func:`chi_square_accuracy`: the original pipeline's test — a 2x2 chi-square on
  correct/incorrect per arm. Valid only for a single look decided in advance; repeated
  every hour it promotes an equal challenger far more often than its level.
* :func:`mcnemar`: the paired counterpart for shadow mode (rows scored by both models),
  exact binomial on the discordant pairs.
* :func:`sample_ratio_mismatch`: chi-square goodness-of-fit of the arm counts against
  the configured split; a tiny p-value means the assignment is broken and the
  experiment cannot be trusted.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from champion.types import TestResult


def chi_square_accuracy(correct_a: int, n_a: int, correct_b: int, n_b: int) -> TestResult:
    table = np.array([[correct_a, n_a - correct_a], [correct_b, n_b - correct_b]], dtype=float)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return TestResult(0.0, 1.0)
    res = sps.chi2_contingency(table)
    return TestResult(float(res.statistic), float(res.pvalue))


def mcnemar(only_a_right: int, only_b_right: int) -> TestResult:
    """Exact McNemar test on the discordant pairs (statistic: B-only minus A-only)."""
    discordant = only_a_right + only_b_right
    if discordant == 0:
        return TestResult(0.0, 1.0)
    p = sps.binomtest(only_b_right, discordant, 0.5).pvalue
    return TestResult(float(only_b_right - only_a_right), float(p))


def sample_ratio_mismatch(n_a: int, n_b: int, split_b: float) -> TestResult:
    total = n_a + n_b
    if total == 0 or not 0 < split_b < 1:
        return TestResult(0.0, 1.0)
    res = sps.chisquare([n_a, n_b], [total * (1 - split_b), total * split_b])
    return TestResult(float(res.statistic), float(res.pvalue))
