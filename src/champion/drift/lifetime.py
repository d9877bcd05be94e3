"""The level a drift check may spend when checks repeat for the life of a reference.

A drift check on a schedule (hourly, say) tests the same reference again and again; at
a fixed level ``alpha`` per check, false alarms add up — about one a day at 5 % and
hourly checks. Instead the ``j``-th scheduled check of a reference tests at

    alpha_j = alpha * w(j),   w(j) = 1 / (S (j + 1) ln²(j + 1)),

where ``S`` bounds ``sum_{n >= 2} 1 / (n ln² n)`` from above, so ``sum_j w(j) <= 1``. By
the union bound — which needs no independence, so overlapping windows and a reference
that happens to be unlucky are covered — the chance that *any* check in the reference's
life raises a false alarm on unchanged traffic is at most ``alpha``. The level falls
only a little faster than ``1 / j``: a year of hourly checks (j = 8,760) tests at
``alpha * 7e-7``, which a real shift still passes within a few thousand rows.
"""

from __future__ import annotations

from functools import cache

import numpy as np

#: terms summed exactly; the rest is bounded by the integral 1 / ln(N)
_EXACT_TERMS = 1_000_000


@cache
def _sum_bound() -> float:
    n = np.arange(2, _EXACT_TERMS + 1, dtype=np.float64)
    return float(np.sum(1.0 / (n * np.log(n) ** 2)) + 1.0 / np.log(float(_EXACT_TERMS)))


def spending(check: int) -> float:
    """The share ``w(check)`` of the lifetime level the ``check``-th scheduled check
    spends (1-based); the shares of all checks sum to at most 1."""
    if check < 1:
        raise ValueError(f"check must be at least 1, got {check}")
    return 1.0 / (_sum_bound() * (check + 1) * np.log(check + 1) ** 2)
