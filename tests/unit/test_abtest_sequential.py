"""Anytime-valid sequences and classical tests: the formulas, against values by hand and
scipy. (Their behaviour on simulated experiments: tests/statistics.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from champion.abtest import (
    always_valid_p,
    chi_square_accuracy,
    half_width,
    mcnemar,
    paired,
    sample_ratio_mismatch,
    unpaired,
)

ALPHA, N_STAR = 0.05, 10_000


def _by_hand(v: float, n: float, a: float, n_star: float) -> float:
    rho2 = (-2 * math.log(a) + math.log(1 - 2 * math.log(a))) / n_star
    return math.sqrt(v * n) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / a)
    )


@pytest.mark.parametrize(("v", "n"), [(1e-4, 1000), (3.2e-5, 5000), (4e-6, 40_000)])
def test_half_width_formula(v: float, n: float) -> None:
    assert float(half_width(v, n, ALPHA, N_STAR)) == pytest.approx(_by_hand(v, n, ALPHA, N_STAR))


def test_sequence_is_wider_than_a_fixed_interval_and_shrinks() -> None:
    sigma2 = 0.16  # per-row variance of a 0.8 accuracy
    widths = [float(half_width(sigma2 / n, n, ALPHA, N_STAR)) for n in (1000, 4000, 16000)]
    fixed = [1.959964 * math.sqrt(sigma2 / n) for n in (1000, 4000, 16000)]
    assert all(w > f for w, f in zip(widths, fixed, strict=True))  # the price of peeking
    assert widths[0] > widths[1] > widths[2]


def test_always_valid_p_inverts_the_sequence() -> None:
    estimate, variance, n = 0.02, 2.5e-5, 8000
    p = always_valid_p(estimate, variance, n, N_STAR)
    assert 0 < p < 1
    assert float(half_width(variance, n, p, N_STAR)) == pytest.approx(abs(estimate), rel=1e-6)
    assert always_valid_p(0.0, variance, n, N_STAR) == 1.0


def test_unpaired_and_paired_estimates() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(3000) < 0.80, rng.random(3000) < 0.85
    res = unpaired(a, b, alpha=ALPHA, n_star=N_STAR)
    assert res.estimate == pytest.approx(b.mean() - a.mean())
    assert res.variance == pytest.approx(a.var(ddof=1) / 3000 + b.var(ddof=1) / 3000)
    assert res.lower < res.estimate < res.upper and res.n == 6000
    d = b.astype(float) - a.astype(float)
    pres = paired(d, alpha=ALPHA, n_star=N_STAR)
    assert pres.estimate == pytest.approx(d.mean()) and pres.n == 3000


def test_classical_tests_equal_scipy() -> None:
    res = chi_square_accuracy(800, 1000, 830, 1000)
    ref = sps.chi2_contingency(np.array([[800, 200], [830, 170]]))
    assert (res.statistic, res.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    assert mcnemar(35, 65).p_value == pytest.approx(sps.binomtest(65, 100, 0.5).pvalue)


def test_sample_ratio_mismatch_55_45_is_detected() -> None:
    assert sample_ratio_mismatch(5500, 4500, 0.5).p_value < 0.001
    assert sample_ratio_mismatch(5030, 4970, 0.5).p_value > 0.05
    assert sample_ratio_mismatch(7000, 3000, 0.3).p_value > 0.05
