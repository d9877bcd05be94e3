"""Sums over randomisation units: the cluster-robust variance by hand, the running sums
equal to the sums of each prefix, and the unpaired difference's pooled guard."""

from __future__ import annotations

import numpy as np
import pytest

from champion.abtest.looks import stratified, unpaired
from champion.abtest.moments import Moments, at, of_rows, running


def test_cluster_robust_variance_by_hand() -> None:
    scores = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    units = np.array([7, 7, 3, 3, 3, 9])  # sums 1, 2, 1 over 2, 3, 1 rows
    m = of_rows(scores, units)
    assert (m.k, m.n, m.s, m.ss, m.sn, m.nn) == (3, 6, 4, 6, 9, 14)
    mean = 4 / 6
    residuals = [1 - 2 * mean, 2 - 3 * mean, 1 - 1 * mean]
    assert m.variance == pytest.approx(3 / 2 * sum(r * r for r in residuals) / 36)
    alone = of_rows(scores)  # every row its own unit: s^2 / n
    assert alone.variance == pytest.approx(scores.var(ddof=1) / scores.size)


def test_running_sums_equal_each_prefix() -> None:
    rng = np.random.default_rng(0)
    scores, units = rng.normal(size=400), rng.integers(0, 30, 400)
    table = running(scores, units)
    for count in (1, 2, 17, 200, 400):
        got, want = at(table, count), of_rows(scores[:count], units[:count])
        assert np.allclose(
            [got.k, got.n, got.s, got.ss, got.sn, got.nn],
            [want.k, want.n, want.s, want.ss, want.sn, want.nn],
        )
    many = at(table, np.array([0, 17, 400]))  # one field per look
    assert many.n.tolist() == [0, 17, 400] and many.variance[0] == np.inf
    assert many.variance[2] == pytest.approx(of_rows(scores, units).variance)


def test_a_small_arm_without_errors_borrows_the_spread_of_both() -> None:
    big = of_rows(np.r_[np.ones(900), np.zeros(100)])  # accuracy 0.9, 1000 rows
    small = of_rows(np.ones(50))  # no error yet: its own variance is 0
    c = unpaired(big, small)
    assert c.estimate == pytest.approx(0.1)
    pooled = np.r_[np.ones(950), np.zeros(100)]
    tau2 = ((pooled - pooled.mean()) ** 2).sum() / (pooled.size - 1)
    assert c.variance == pytest.approx(tau2 * (1 / 1000 + 1 / 50))
    assert c.variance > big.variance + small.variance


def test_phases_are_combined_by_their_rows() -> None:
    a1, b1 = of_rows(np.r_[np.ones(80), np.zeros(20)]), of_rows(np.r_[np.ones(90), np.zeros(10)])
    a2, b2 = of_rows(np.r_[np.ones(30), np.zeros(30)]), of_rows(np.r_[np.ones(45), np.zeros(15)])
    one, two = unpaired(a1, b1), unpaired(a2, b2)
    c = stratified([(a1, b1), (a2, b2)])
    assert c.estimate == pytest.approx((200 * one.estimate + 120 * two.estimate) / 320)
    assert c.variance == pytest.approx((200**2 * one.variance + 120**2 * two.variance) / 320**2)
    lonely = stratified([(a1, b1), (Moments(), of_rows(np.ones(5)))])  # a phase without A
    assert lonely.estimate == pytest.approx(one.estimate)
