"""Anytime-valid confidence sequences for a difference of means (pure numpy/scipy).

The asymptotic confidence sequence of Waudby-Smith et al. ("Time-uniform central limit
theory", 2023), in the form GrowthBook and Eppo use: for an estimate with variance ``V``
after ``N`` observations,

    rho^2      = (-2 ln a + ln(1 - 2 ln a)) / N*
    half-width = sqrt(V N) * sqrt( 2 (N rho^2 + 1) / (N^2 rho^2) * ln( sqrt(N rho^2 + 1) / a ) )

where ``a`` is the two-sided level and ``N*`` the planned sample size, which only tunes
where the sequence is tightest (validity holds for every N). The interval covers the true
difference at every N simultaneously with probability >= 1 - a (asymptotically), so it
may be looked at after every label without inflating the error rate — unlike a
fixed-horizon test repeated every hour.

* **Unpaired** (split traffic): the difference of the arms' mean per-row scores,
  ``V = s_A^2 / n_A + s_B^2 / n_B``, ``N = n_A + n_B``.
* **Paired** (shadow: both models scored the same rows): the mean of the per-row
  differences, ``V = s_d^2 / n``, ``N = n``. When the models agree on most rows the
  differences have a small variance, so far fewer labels are needed.

The always-valid p-value is the smallest ``a`` at which the sequence excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from champion.errors import InvalidInputError


@dataclass(frozen=True)
class Interval:
    """A confidence-sequence interval for ``B - A`` at one look."""

    estimate: float
    lower: float
    upper: float
    n: int  # observations behind it (both arms, or pairs)
    variance: float  # of the estimate
    alpha: float
    p_value: float  # always-valid

    def excludes_zero(self) -> bool:
        return self.lower > 0 or self.upper < 0


def rho_squared(alpha: float, n_star: float) -> float:
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    if n_star <= 0:
        raise InvalidInputError(f"the planned sample size must be positive, got {n_star}")
    log_a = math.log(alpha)
    return (-2.0 * log_a + math.log(1.0 - 2.0 * log_a)) / n_star


def half_width(
    variance: np.ndarray | float, n: np.ndarray | float, alpha: float, n_star: float
) -> np.ndarray:
    """Half-width of the confidence sequence (vectorised over ``variance`` and ``n``)."""
    rho2 = rho_squared(alpha, n_star)
    n = np.asarray(n, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    inner = 2.0 * (n * rho2 + 1.0) / (n * n * rho2) * np.log(np.sqrt(n * rho2 + 1.0) / alpha)
    return np.sqrt(v * n) * np.sqrt(inner)


def always_valid_p(estimate: float, variance: float, n: int, n_star: float) -> float:
    """Smallest alpha whose sequence excludes 0: bisection on ln(alpha).

    The half-width shrinks as alpha grows, so "excluded at alpha" is monotone.
    """
    if n <= 1:
        return 1.0
    if variance <= 0:
        return 0.0 if estimate != 0 else 1.0

    def excluded(log_alpha: float) -> bool:
        return abs(estimate) > float(half_width(variance, n, math.exp(log_alpha), n_star))

    lo, hi = math.log(1e-300), math.log(1.0 - 1e-12)
    if not excluded(hi):
        return 1.0
    if excluded(lo):
        return 0.0
    for _ in range(60):  # invariant: excluded(hi), not excluded(lo)
        mid = (lo + hi) / 2
        if excluded(mid):
            hi = mid
        else:
            lo = mid
    return math.exp(hi)


def _interval(estimate: float, variance: float, n: int, alpha: float, n_star: float) -> Interval:
    width = float(half_width(variance, n, alpha, n_star)) if n > 1 else math.inf
    return Interval(
        estimate=estimate,
        lower=estimate - width,
        upper=estimate + width,
        n=n,
        variance=variance,
        alpha=alpha,
        p_value=always_valid_p(estimate, variance, n, n_star),
    )


def unpaired(
    a: np.ndarray, b: np.ndarray, *, alpha: float = 0.05, n_star: float = 10_000
) -> Interval:
    """Sequence for mean(b) - mean(a) from the per-row scores of two independent arms."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return Interval(0.0, -math.inf, math.inf, int(a.size + b.size), math.inf, alpha, 1.0)
    variance = a.var(ddof=1) / a.size + b.var(ddof=1) / b.size
    return _interval(
        float(b.mean() - a.mean()), float(variance), int(a.size + b.size), alpha, n_star
    )


def paired(d: np.ndarray, *, alpha: float = 0.05, n_star: float = 10_000) -> Interval:
    """Sequence for mean(d), with d the per-row difference score_B - score_A."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return Interval(0.0, -math.inf, math.inf, int(d.size), math.inf, alpha, 1.0)
    return _interval(float(d.mean()), float(d.var(ddof=1) / d.size), int(d.size), alpha, n_star)
