"""Anytime-valid sequences and classical tests: formulas, and decisions on simulated
ground truth (a look every 500 labels up to 20,000)."""

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
LOOKS = np.arange(500, 20_001, 500)  # labels at each look
REPS = 2000


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


def _unpaired_looks(p_a: float, p_b: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower bounds and naive chi-square p-values at every look, REPS x looks."""
    rng = np.random.default_rng(seed)
    per_arm = np.diff(np.concatenate([[0], LOOKS // 2]))
    sa = rng.binomial(per_arm, p_a, size=(REPS, len(LOOKS))).cumsum(axis=1)
    sb = rng.binomial(per_arm, p_b, size=(REPS, len(LOOKS))).cumsum(axis=1)
    n = LOOKS // 2
    ma, mb = sa / n, sb / n
    var = ma * (1 - ma) / (n - 1) + mb * (1 - mb) / (n - 1)
    lower = (mb - ma) - half_width(var, LOOKS, ALPHA, N_STAR)
    pooled = (sa + sb) / (2 * n)
    z = (mb - ma) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    naive_p = 2 * sps.norm.sf(np.abs(z))
    naive = (naive_p < 0.05) & (mb > ma)
    return lower, naive


@pytest.mark.slow
def test_aa_false_promotion_stays_below_2_5_percent_while_naive_peeking_does_not() -> None:
    lower, naive = _unpaired_looks(0.80, 0.80, seed=1)
    promoted = (lower > 0).any(axis=1).mean()
    assert promoted <= 0.025, promoted
    assert naive.any(axis=1).mean() > 0.10  # the original hourly chi-square


@pytest.mark.slow
def test_three_points_better_is_promoted_by_20000_labels() -> None:
    lower, _ = _unpaired_looks(0.80, 0.83, seed=2)
    assert (lower > 0).any(axis=1).mean() >= 0.95


def _paired_first_promotion(seed: int) -> np.ndarray:
    """Labels needed to promote in shadow mode; models agree on 90 % of rows."""
    rng = np.random.default_rng(seed)
    # both right, only A right, only B right, both wrong: accuracy A .80, B .83
    probs = [0.765, 0.035, 0.065, 0.135]
    step = np.diff(np.concatenate([[0], LOOKS]))
    counts = np.stack([rng.multinomial(k, probs, size=REPS) for k in step], axis=1).cumsum(axis=1)
    only_a, only_b = counts[..., 1], counts[..., 2]
    mean = (only_b - only_a) / LOOKS
    var = ((only_a + only_b) / LOOKS - mean**2) * LOOKS / (LOOKS - 1) / LOOKS
    lower = mean - half_width(var, LOOKS, ALPHA, N_STAR)
    hit = lower > 0
    return np.where(hit.any(axis=1), LOOKS[hit.argmax(axis=1)], np.inf)


@pytest.mark.slow
def test_paired_shadow_needs_fewer_labels_than_split() -> None:
    lower, _ = _unpaired_looks(0.80, 0.83, seed=3)
    hit = lower > 0
    split_labels = np.where(hit.any(axis=1), LOOKS[hit.argmax(axis=1)], np.inf)
    shadow_labels = _paired_first_promotion(seed=3)
    assert np.isfinite(shadow_labels).mean() >= np.isfinite(split_labels).mean()
    assert np.median(shadow_labels) * 2 < np.median(split_labels)
