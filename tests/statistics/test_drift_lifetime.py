"""Drift alarms over a reference's life, by simulation through the real decision code.

Ground truth is known: stationary traffic (any alarm is false) or a known shift. Monte
Carlo error is stated at each bound; ``benchmarks/drift_validity.py`` runs the same
scenarios at full size (a simulated year of hourly checks, 400 repetitions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion.abtest.moments import of_rows
from champion.abtest.performance import live_performance
from champion.drift import DriftConfig, build_profile, check_summary, spending, summarize_frame
from champion.predictionlog import EventStore
from champion.training.two_sample import classifier_two_sample
from champion.types import DriftUnit, Task

from log_helpers import user_rows

LEVELS = np.array([f"l{i}" for i in range(10)])
SHARES = np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum()


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.gamma(2.0, 3.0, n) + shift, "c": rng.choice(LEVELS, n, p=SHARES)})


def test_a_scheduled_series_stays_under_its_lifetime_alpha() -> None:
    """Fresh windows at every check (the union bound's worst case): the share of series
    with any false alarm stays under alpha * sum of the shares spent, where a fixed level
    per check alarms in nearly every series."""
    rng = np.random.default_rng(1)
    series, checks, alpha = 40, 300, 0.3
    spent_any = fixed_any = 0
    for _ in range(series):
        profile = build_profile(_frame(rng, 1000), ["x"], ["c"])
        config = DriftConfig(alpha=alpha)
        spent = fixed = False
        for j in range(1, checks + 1):
            result = check_summary(profile, summarize_frame(profile, _frame(rng, 100)), config,
                                   check=j)  # fmt: skip
            spent |= result.drifted
            fixed |= any(f.p_value < alpha / 2 for f in result.features)
        spent_any += spent
        fixed_any += fixed
    bound = alpha * sum(spending(j) for j in range(1, checks + 1))
    mc_sd = np.sqrt(bound * (1 - bound) / series)
    assert spent_any / series <= bound + 2.5 * mc_sd, (spent_any, bound)
    assert fixed_any / series >= 0.9


@pytest.mark.parametrize(
    ("kind", "window"),
    [("continuous", 10), ("continuous", 50), ("continuous", 500), ("levels", 200),
     ("poisson", 500)],
)  # fmt: skip
def test_a_one_off_check_holds_its_level_at_any_window_size(kind: str, window: int) -> None:
    rng = np.random.default_rng([2, window])
    levels = np.array([f"v{i}" for i in range(100)])
    shares = 1 / np.arange(1, 101) ** 0.8
    shares /= shares.sum()

    def draw(n: int) -> pd.DataFrame:
        if kind == "continuous":
            return pd.DataFrame({"x": rng.normal(size=n)})
        if kind == "poisson":
            return pd.DataFrame({"x": rng.poisson(2.0, n).astype(float)})
        return pd.DataFrame({"c": rng.choice(levels, n, p=shares)})

    reps, alarms = 300, 0
    for _ in range(reps):
        ref = draw(2000)
        numeric = ["x"] if "x" in ref else []
        profile = build_profile(ref, numeric, [] if numeric else ["c"])
        alarms += check_summary(profile, summarize_frame(profile, draw(window))).drifted
    # Binomial(300, 0.05): sd 1.26 points; valid means at most the level (+3 sd)
    assert alarms / reps <= 0.05 + 3 * 0.0126, alarms


def test_repeated_users_false_alarm_by_row_and_not_by_user(tmp_path) -> None:
    """200 users x 10 alike rows: counted by row the window looks 10x larger than it
    is and alarms most of the time; by user (the SQL window) it holds its level."""
    rng = np.random.default_rng(3)
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m0")
    store.migrate()
    reps = 40
    alarms = {DriftUnit.ROW: 0, DriftUnit.USER: 0}
    for rep in range(reps):
        store.model_name = f"m{rep}"
        store.insert_predictions(user_rows(rng, store.model_name))
        profile = build_profile(pd.DataFrame({"x": rng.normal(0, 1, 5000)}), ["x"], [])
        for unit in alarms:
            summary = store.served_summary(profile, limit=2000, unit=unit)
            alarms[unit] += check_summary(profile, summary).drifted
    store.dispose()
    assert alarms[DriftUnit.ROW] / reps >= 0.5
    assert alarms[DriftUnit.USER] / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_shifts_are_found_a_year_into_the_schedule() -> None:
    """A 0.3-SD shift of one feature in a 2,000-row window, at the 8,760th check; a
    correlation change the marginals cannot show, by the joint check at 1,000 rows."""
    rng = np.random.default_rng(4)
    found = 0
    for _ in range(20):
        ref = pd.DataFrame(rng.normal(0, 1, (5000, 3)), columns=["a", "b", "c"])
        cur = pd.DataFrame(rng.normal(0, 1, (2000, 3)), columns=["a", "b", "c"])
        cur["a"] += 0.3
        profile = build_profile(ref, ["a", "b", "c"], [])
        found += check_summary(profile, summarize_frame(profile, cur), check=8760).drifted
    assert found >= 18
    joint_found = marginal_found = 0
    for _ in range(8):
        z = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 1000)
        later = pd.DataFrame({"a": z[:, 0], "b": z[:, 1]})
        first = pd.DataFrame(rng.normal(0, 1, (1000, 2)), columns=["a", "b"])
        profile = build_profile(pd.DataFrame(rng.normal(0, 1, (5000, 2)), columns=["a", "b"]),
                                ["a", "b"], [])  # fmt: skip
        test = classifier_two_sample(first, later, ["a", "b"])
        summary = summarize_frame(profile, later)
        marginal_found += check_summary(profile, summary, check=8760).drifted
        result = check_summary(profile, summary, check=8760, joint=test)
        joint_found += result.drifted and result.joint is not None and result.joint.drifted
    assert joint_found == 8 and marginal_found <= 1


def test_the_performance_trigger_finds_three_points_and_keeps_quiet_otherwise() -> None:
    rng = np.random.default_rng(5)

    def first_trigger(accuracy: float) -> int | None:
        right = (rng.random(12_000) < accuracy).astype(float)
        users = rng.integers(0, 3000, right.size)
        for n in range(200, right.size + 1, 200):
            check = live_performance(Task.CLASSIFICATION, of_rows(right[:n], users[:n]),
                                     validation=0.80, margin=0.01, alpha=0.05)  # fmt: skip
            if check.dropped:
                return n
        return None

    found = [first_trigger(0.77) for _ in range(20)]
    assert sum(n is not None for n in found) >= 18
    assert np.median([n for n in found if n is not None]) <= 8000
    quiet = [first_trigger(0.80) for _ in range(40)]
    assert sum(n is not None for n in quiet) <= 2  # 40 lifetimes of 60 looks each
