"""Per-variant metrics against scikit-learn, and the decision on constructed experiments."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from champion.abtest.decision import Arm, Policy, arm_metrics, decide


def _arm(rng, n, accuracy, *, requests=None, errors=0, latency=10.0, positive_bias=0.0) -> Arm:
    y = rng.integers(0, 2, n)
    right = rng.random(n) < accuracy
    pred = np.where(right, y, 1 - y)
    if positive_bias:  # flip some negatives to positive: recall up, precision down
        flip = (pred == 0) & (rng.random(n) < positive_bias)
        pred = np.where(flip, 1, pred)
    reqs = requests if requests is not None else n
    return Arm(y, pred, np.full(reqs, latency), reqs + errors, errors, rng.random(n))


def test_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    arm = _arm(rng, 500, 0.8)
    m = arm_metrics(arm, "classification")
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(arm.y_true, arm.y_pred))
    assert m["precision"] == pytest.approx(skm.precision_score(arm.y_true, arm.y_pred))
    assert m["recall"] == pytest.approx(skm.recall_score(arm.y_true, arm.y_pred))
    assert m["f1"] == pytest.approx(skm.f1_score(arm.y_true, arm.y_pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(arm.y_true, arm.y_score))
    y3 = rng.integers(0, 3, 300)
    p3 = np.where(rng.random(300) < 0.7, y3, rng.integers(0, 3, 300))
    m3 = arm_metrics(Arm(y3, p3, np.ones(300), 300, 0), "classification")
    assert m3["precision"] == pytest.approx(skm.precision_score(y3, p3, average="macro"))
    assert m3["recall"] == pytest.approx(skm.recall_score(y3, p3, average="macro"))
    yr = rng.normal(100, 10, 200)
    pr = yr + rng.normal(0, 3, 200)
    mr = arm_metrics(Arm(yr, pr, np.ones(200), 200, 0), "regression")
    assert mr["mae"] == pytest.approx(skm.mean_absolute_error(yr, pr))
    assert mr["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yr, pr)))
    assert mr["r2"] == pytest.approx(skm.r2_score(yr, pr))


def test_decisions_on_constructed_experiments() -> None:
    rng = np.random.default_rng(1)
    policy = Policy()
    better = decide(
        _arm(rng, 6000, 0.80), _arm(rng, 6000, 0.86), task="classification", split_b=0.5
    )
    assert better.action == "promote" and better.interval.lower > 0
    assert better.chi_square is not None and better.chi_square.p_value < 0.05

    worse = decide(_arm(rng, 6000, 0.86), _arm(rng, 6000, 0.80), task="classification", split_b=0.5)
    assert worse.action == "reject" and "B is worse" in worse.reasons[0]

    few = decide(_arm(rng, 100, 0.8), _arm(rng, 150, 0.9), task="classification", split_b=0.5)
    assert few.action == "continue" and "need 200 per arm" in few.reasons[0]

    skewed = decide(
        _arm(rng, 3000, 0.8, requests=5500),
        _arm(rng, 3000, 0.9, requests=4500),
        task="classification",
        split_b=0.5,
    )
    assert skewed.action == "invalid" and "sample-ratio mismatch" in skewed.reasons[0]

    slow = decide(
        _arm(rng, 6000, 0.80),
        _arm(rng, 6000, 0.86, latency=60.0),
        task="classification",
        split_b=0.5,
        policy=policy,
    )
    assert slow.action == "continue"
    assert any("p95 latency" in r for r in slow.reasons)

    equal = decide(_arm(rng, 21000, 0.8), _arm(rng, 21000, 0.8), task="classification", split_b=0.5)
    assert equal.action == "reject" and any("horizon reached" in r for r in equal.reasons)


def test_a_precision_breach_holds_back_a_more_accurate_challenger() -> None:
    rng = np.random.default_rng(2)
    n = 8000
    y = rng.integers(0, 2, n)
    u = rng.random(n)
    pred_a = np.where(u < 0.80, y, 1 - y)  # errors on both classes: precision ~0.80
    pred_b = np.where((y == 0) & (u < 0.34), 1, y)  # better accuracy, every error a false positive
    lat = np.full(n, 5.0)
    decision = decide(
        Arm(y, pred_a, lat, n, 0),
        Arm(y, pred_b, lat, n, 0),
        task="classification",
        split_b=0.5,
    )
    assert decision.metrics["B"]["accuracy"] > decision.metrics["A"]["accuracy"] + 0.02
    assert decision.metrics["B"]["precision"] < decision.metrics["A"]["precision"] - 0.02
    assert decision.interval.lower > 0  # better on the primary metric...
    assert decision.action == "continue"  # ...but not promoted
    assert any("guardrail precision" in r for r in decision.reasons)


def test_paired_shadow_decision_uses_mcnemar() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.integers(0, 2, n)
    u = rng.random(n)
    a_right = u < 0.80
    b_right = np.where(u < 0.765, True, np.where(u < 0.80, False, u < 0.865))  # +3 points
    pa, pb = np.where(a_right, y, 1 - y), np.where(b_right, y, 1 - y)
    lat = np.full(n, 5.0)
    decision = decide(
        Arm(y, pa, lat, n, 0),
        Arm(y, pb, lat, n, 0),
        task="classification",
        split_b=0.0,
        paired_rows=(y, pa, pb),
    )
    assert decision.paired and decision.srm is None
    assert decision.mcnemar is not None and decision.mcnemar.p_value < 0.01
    assert decision.action == "promote"


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="min_labelled"):
        Policy(min_labelled=100, max_labelled=50)
