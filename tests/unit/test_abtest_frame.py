"""decide_frame: a user's own rows (one per served request) to a decision — the columns,
their checks, failures, units, phases and late labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion.abtest import Policy, decide_frame, evidence
from champion.errors import InvalidInputError
from champion.types import ABMode, Action, Task

T0 = pd.Timestamp("2026-06-01", tz="UTC")


def _rows(
    n: int,
    *,
    acc_a: float,
    acc_b: float,
    split: float = 0.5,
    seed: int = 0,
    users: int | None = None,
    labels=("no", "yes"),
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pick = np.asarray(labels, dtype=object)
    right_a, right_b = rng.random(n) < acc_a, rng.random(n) < acc_b
    created = T0 + pd.to_timedelta(np.arange(n), unit="s")
    return pd.DataFrame(
        {
            "variant": np.where(rng.random(n) < split, "B", "A"),
            "user_id": [f"u{u}" for u in rng.integers(0, users or n * 10, n)],
            "prediction_a": pick[np.where(right_a, y, 1 - y)],
            "prediction_b": pick[np.where(right_b, y, 1 - y)],
            "label": pick[y],
            "created_at": created,
            "labelled_at": created + pd.Timedelta(seconds=5),
        }
    )


def test_a_frame_of_string_labels_is_decided() -> None:
    rows = _rows(10_000, acc_a=0.78, acc_b=0.86)
    decision = decide_frame(rows, task="classification", mode="random", split_b=0.5)
    assert decision.action == Action.PROMOTE and decision.analysis == "triggered split"
    b = decision.metrics["B"]
    served_b = rows[rows["variant"] == "B"]
    assert b["accuracy"] == pytest.approx((served_b["prediction_b"] == served_b["label"]).mean())
    assert b["labelled"] == len(served_b)


def test_missing_columns_and_bad_values_are_named() -> None:
    rows = _rows(50, acc_a=0.8, acc_b=0.8)
    with pytest.raises(InvalidInputError, match=r"no column.*labelled_at"):
        decide_frame(
            rows.drop(columns="labelled_at"), task="classification", mode="hash", split_b=0.5
        )
    with pytest.raises(InvalidInputError, match="variant must be A or B, got C"):
        decide_frame(rows.assign(variant="C"), task="classification", mode="hash", split_b=0.5)
    with pytest.raises(InvalidInputError, match="regression needs numeric"):
        decide_frame(rows, task="regression", mode="hash", split_b=0.5)
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        decide_frame(rows, task="classification", mode="sideways", split_b=0.5)


def test_a_failed_model_is_replaced_by_the_other_models_answer() -> None:
    rows = _rows(6, acc_a=1.0, acc_b=0.0).assign(variant="B")
    rows.loc[:2, "failed_b"] = True  # B failed on three rows: the user got A's (right) answer
    rows["failed_b"] = rows["failed_b"].fillna(False)
    ev = evidence(rows, task=Task.CLASSIFICATION, mode=ABMode.RANDOM, split_b=0.5)
    assert ev.failed_b.tolist() == [True] * 3 + [False] * 3
    assert ev.score_b.tolist() == [1.0] * 3 + [0.0] * 3
    assert ev.triggered.tolist() == [False] * 3 + [True] * 3


def test_hash_mode_counts_users_not_rows() -> None:
    rows = _rows(2000, acc_a=0.8, acc_b=0.8, users=40)
    hashed = evidence(rows, task=Task.CLASSIFICATION, mode=ABMode.HASH, split_b=0.5)
    drawn = evidence(rows, task=Task.CLASSIFICATION, mode=ABMode.RANDOM, split_b=0.5)
    assert np.unique(hashed.unit).size == rows["user_id"].nunique()
    assert np.unique(drawn.unit).size == len(rows)
    without = rows.assign(user_id=None)  # no user id: every request is its own unit
    assert (
        np.unique(evidence(without, task="classification", mode="hash", split_b=0.5).unit).size
        == 2000
    )


def test_each_phase_is_checked_against_its_own_split() -> None:
    first = _rows(4000, acc_a=0.8, acc_b=0.8, split=0.2, seed=1).assign(phase=1, split_b=0.2)
    second = _rows(4000, acc_a=0.8, acc_b=0.8, split=0.5, seed=2).assign(phase=2, split_b=0.5)
    second["created_at"] += pd.Timedelta(hours=2)
    second["labelled_at"] += pd.Timedelta(hours=2)
    both = pd.concat([first, second])
    decision = decide_frame(both, task="classification", mode="random", split_b=0.5)
    assert decision.action != Action.INVALID and decision.srm.p_value > 0.01
    as_one = both.drop(columns=["phase", "split_b"])  # all-time counts against the new split
    assert (
        decide_frame(as_one, task="classification", mode="random", split_b=0.5).action
        == Action.INVALID
    )


def test_rows_younger_than_the_label_maturity_are_not_compared() -> None:
    rows = _rows(3000, acc_a=0.8, acc_b=0.8)
    now = rows["created_at"].max()
    young = decide_frame(
        rows,
        Policy(label_maturity_s=1000),
        task="classification",
        mode="random",
        split_b=0.5,
        now=now,
    )
    every = decide_frame(rows, task="classification", mode="random", split_b=0.5, now=now)
    assert sum(young.labelled) == pytest.approx(sum(every.labelled) - 1000, abs=5)


def test_a_label_that_is_not_a_number_does_not_break_a_regression() -> None:
    """An old log may hold a string label of a regressor: that row is unlabelled, the
    evaluation of everything else goes on and equals the one without it."""
    rows = _rows(2_000, acc_a=0.8, acc_b=0.8, labels=(10.0, 20.0))
    for name in ("prediction_a", "prediction_b", "label"):
        rows[name] = rows[name].astype(object)
    poisoned = rows.copy()
    poisoned.loc[7, "label"] = "banana"
    rules = {"task": "regression", "mode": "random", "split_b": 0.5}
    clean = decide_frame(rows.drop(index=7), **rules)
    seen = decide_frame(poisoned, **rules)
    assert seen.labelled == clean.labelled
    assert (seen.interval.lower, seen.interval.upper) == pytest.approx(
        (clean.interval.lower, clean.interval.upper)
    )
