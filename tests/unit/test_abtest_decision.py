"""Per-arm figures against scikit-learn, and the rule on constructed experiments (drawn
with known ground truth)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn import metrics as skm

from champion.abtest import Arm, Policy, Scenario, arm_metrics, decide, verdicts
from champion.abtest.looks import Looks
from champion.abtest.simulation import draw
from champion.errors import InvalidInputError
from champion.types import ABMode, Action, Task


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
    m = arm_metrics(arm, Task.CLASSIFICATION)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(arm.y_true, arm.y_pred))
    assert m["precision"] == pytest.approx(skm.precision_score(arm.y_true, arm.y_pred))
    assert m["recall"] == pytest.approx(skm.recall_score(arm.y_true, arm.y_pred))
    assert m["f1"] == pytest.approx(skm.f1_score(arm.y_true, arm.y_pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(arm.y_true, arm.y_score))
    y3 = rng.integers(0, 3, 300)
    p3 = np.where(rng.random(300) < 0.7, y3, rng.integers(0, 3, 300))
    m3 = arm_metrics(Arm(y3, p3, np.ones(300), 300, 0), Task.CLASSIFICATION)
    assert m3["precision"] == pytest.approx(skm.precision_score(y3, p3, average="macro"))
    assert m3["recall"] == pytest.approx(skm.recall_score(y3, p3, average="macro"))
    yr = rng.normal(100, 10, 200)
    pr = yr + rng.normal(0, 3, 200)
    mr = arm_metrics(Arm(yr, pr, np.ones(200), 200, 0), Task.REGRESSION)
    assert mr["mae"] == pytest.approx(skm.mean_absolute_error(yr, pr))
    assert mr["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yr, pr)))
    assert mr["r2"] == pytest.approx(skm.r2_score(yr, pr))


def _decide(scenario: Scenario, seed: int, policy: Policy | None = None, **kw):
    ev = draw(scenario, np.random.default_rng(seed))
    return ev, decide(ev, policy or Policy(), mode=scenario.mode, **kw)


def test_a_better_challenger_is_promoted_and_a_worse_one_rejected() -> None:
    _, better = _decide(Scenario(mode=ABMode.RANDOM, rows=12_000, tpr_b=0.86, tnr_b=0.86), 1)
    assert better.action == Action.PROMOTE and better.interval.lower > 0
    assert better.reasons[0].startswith("B is better") and better.chi_square.p_value < 0.05
    assert all(g.passed for g in better.guardrails)
    _, worse = _decide(Scenario(mode=ABMode.RANDOM, rows=12_000, tpr_b=0.74, tnr_b=0.74), 2)
    assert worse.action == Action.REJECT and worse.reasons[0].startswith("B is worse")
    _, few = _decide(Scenario(mode=ABMode.RANDOM, rows=300, tpr_b=0.9, tnr_b=0.9), 3)
    assert few.action == Action.CONTINUE and "need 200 per arm" in few.reasons[0]


def test_a_broken_assignment_is_invalid_whatever_the_scores() -> None:
    ev = draw(
        Scenario(mode=ABMode.HASH, users=2000, rows=20_000, tpr_b=0.9, tnr_b=0.9),
        np.random.default_rng(4),
    )
    skewed = replace(ev, split_b=np.full(ev.size, 0.3))  # half the users in B, split says 0.3
    decision = decide(skewed, Policy(), mode=ABMode.HASH)
    assert decision.action == Action.INVALID
    assert any("sample-ratio check" in r for r in decision.reasons)
    assert decision.srm is not None and decision.srm.p_value < 0.001


def test_uneven_label_arrival_is_invalid() -> None:
    s = Scenario(mode=ABMode.RANDOM, rows=20_000, delay_a=10.0, delay_b=4000.0)
    _, decision = _decide(s, 5, now=20_000.0)  # looked at as the traffic ends
    assert decision.action == Action.INVALID
    assert decision.coverage[0] > decision.coverage[1] + 0.1
    assert any("label coverage differs" in r for r in decision.reasons)


def test_a_recall_breach_holds_back_a_more_accurate_challenger() -> None:
    # B is 3 points more accurate, its recall 6 points worse (the margin is 0.02)
    s = Scenario(mode=ABMode.RANDOM, rows=40_000, tpr_b=0.74, tnr_b=0.92)
    _, decision = _decide(s, 6)
    assert decision.interval.lower > 0 and decision.action != Action.PROMOTE
    recall = next(g for g in decision.guardrails if g.name == "recall")
    assert not recall.passed and recall.bound < -0.02
    assert any(r.startswith("guardrail recall") for r in decision.reasons)


def test_shadow_mode_pairs_every_labelled_row() -> None:
    ev, decision = _decide(
        Scenario(mode=ABMode.SHADOW, rows=6000, agreement=0.8, tpr_b=0.85, tnr_b=0.85), 7
    )
    assert decision.paired and decision.analysis == "paired"
    assert decision.labelled == (6000, 6000) and decision.srm is None
    assert decision.mcnemar is not None and decision.chi_square is None
    d = ev.score_b - ev.score_a
    assert decision.interval.estimate == pytest.approx(d.mean())


def test_decide_is_the_rule_at_one_look() -> None:
    rng = np.random.default_rng(8)
    for scenario in (
        Scenario(mode=ABMode.HASH, users=400, rows=8000, tpr_b=0.82, tnr_b=0.82),
        Scenario(mode=ABMode.SHADOW, rows=8000, agreement=0.9, tpr_b=0.81, tnr_b=0.81),
    ):
        ev = draw(scenario, rng)
        times = np.sort(rng.uniform(300, 8000, 12))
        looks = Looks(
            ev,
            paired=scenario.mode == ABMode.SHADOW,
            split=scenario.mode != ABMode.SHADOW,
            maturity=0.0,
        )
        actions = verdicts(looks.at(times), Policy()).action
        for t, code in zip(times, actions, strict=True):
            one = decide(ev, Policy(), mode=scenario.mode, now=float(t))
            assert one.action == ("invalid", "continue", "reject", "promote", "reject")[int(code)]


def test_policy_validation() -> None:
    with pytest.raises(InvalidInputError, match="min_labelled < max_labelled"):
        Policy(min_labelled=500, max_labelled=100)
    with pytest.raises(InvalidInputError, match="alpha"):
        Policy(alpha=1.5)
    with pytest.raises(InvalidInputError, match="label_maturity_s"):
        Policy(label_maturity_s=-1)
