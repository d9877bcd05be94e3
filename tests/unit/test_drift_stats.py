"""PSI, KS and chi-square against hand-computed values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from champion.drift.stats import (
    bin_counts,
    chi_square_test,
    ks_statistic_sorted,
    ks_test,
    psi,
    quantile_edges,
)


def test_psi_hand_computed() -> None:
    # p = (.5, .5), q = (.25, .75)
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.2746530722, rel=1e-9)


def test_psi_empty_bin_uses_epsilon() -> None:
    # reference bin 2 is empty: its share 0 becomes eps = 1e-4
    expected = (0.9 - 1.0) * math.log(0.9 / 1.0) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert psi(np.array([100, 0]), np.array([90, 10])) == pytest.approx(expected, rel=1e-12)
    assert psi(np.array([100, 0]), np.array([90, 10]), eps=1e-3) < expected


def test_psi_identical_is_zero_and_symmetric_terms() -> None:
    assert psi(np.array([3, 5, 2]), np.array([30, 50, 20])) == pytest.approx(0.0, abs=1e-15)
    a, b = np.array([10, 20, 70]), np.array([30, 30, 40])
    assert psi(a, b) == pytest.approx(psi(b, a), rel=1e-12)  # PSI is symmetric


def test_psi_rejects_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi(np.array([1, 2]), np.array([1, 2, 3]))


def test_quantile_edges_and_counts_by_hand() -> None:
    values = np.arange(1.0, 11.0)  # 1..10
    edges = quantile_edges(values, 5)
    np.testing.assert_allclose(edges, [2.8, 4.6, 6.4, 8.2])
    np.testing.assert_allclose(edges, np.quantile(values, [0.2, 0.4, 0.6, 0.8]))
    assert bin_counts(values, edges).tolist() == [2, 2, 2, 2, 2]
    # right-closed bins; values outside the reference range land in the outer bins
    assert bin_counts(np.array([-5.0, 2.8, 2.81, 8.2, 99.0]), edges).tolist() == [2, 1, 0, 1, 1]


def test_quantile_edges_deduplicate_discrete_values() -> None:
    values = np.sort(np.array([1] * 50 + [2] * 20 + [3] * 30, dtype=float))
    edges = quantile_edges(values, 10)
    assert edges.tolist() == sorted(set(np.quantile(values, np.arange(1, 10) / 10)))
    assert bin_counts(values, edges).sum() == 100


KS_CASES = [
    ("small-exact", 80, 120, 0.0, False),
    ("equal-sizes", 500, 500, 0.2, False),
    ("ties", 3000, 2000, 0.0, True),
    ("large-asymptotic", 30_000, 12_000, 0.05, False),
    ("large-ties", 20_000, 40_000, 0.0, True),
]


@pytest.mark.parametrize(("label", "n1", "n2", "shift", "discrete"), KS_CASES)
def test_ks_equals_scipy(label: str, n1: int, n2: int, shift: float, discrete: bool) -> None:
    rng = np.random.default_rng(len(label))
    a = rng.normal(size=n1)
    b = rng.normal(shift, 1.0, size=n2)
    if discrete:
        a, b = np.round(a * 2), np.round(b * 2 + 0.3)
    ours = ks_test(np.sort(a), np.sort(b))
    ref = sps.ks_2samp(a, b)
    assert ours.statistic == ref.statistic
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    # scipy rounds D to the lattice 1 / lcm(n1, n2) in its exact branch
    assert ks_statistic_sorted(np.sort(a), np.sort(b)) == pytest.approx(ref.statistic, rel=1e-12)


def test_chi_square_equals_scipy_contingency() -> None:
    ref, cur = np.array([120, 300, 80, 5]), np.array([40, 90, 50, 0])
    ours = chi_square_test(ref, cur)
    expected = sps.chi2_contingency(np.vstack([ref, cur]))
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi_square_two_levels_uses_scipys_yates_correction() -> None:
    ref, cur = np.array([60, 40]), np.array([45, 55])
    expected = sps.chi2_contingency(np.vstack([ref, cur]))  # correction=True for dof 1
    assert chi_square_test(ref, cur).statistic == pytest.approx(expected.statistic, rel=1e-12)


def test_chi_square_single_level_cannot_differ() -> None:
    result = chi_square_test(np.array([10, 0]), np.array([5, 0]))
    assert (result.statistic, result.p_value) == (0.0, 1.0)
