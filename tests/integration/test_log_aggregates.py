"""The evaluation computed in the database equals the row-based one on the same log.

Each case writes a log with the shapes that make the statistics hard — repeat users and
rows without one, an unequal split that changes between phases, labels that arrive late
or never, failures, rows with no timing, other versions' rows — then evaluates it twice:
from rows (``decide_frame``, what users call on their own data) and from the database's
sums (``decide_in_database``, looks on a schedule that each add what arrived since).
Decision, interval, guardrails, checks and per-arm figures must agree to 1e-9 (the ROC
AUC and the p95 latency, from histograms, to their resolution), on SQLite and
PostgreSQL, and again when the kept sums are thrown away.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select

from champion.abtest import Policy, decide_frame
from champion.predictionlog import EventStore
from champion.predictionlog.aggregates import Trial
from champion.predictionlog.evaluation import decide_in_database
from champion.predictionlog.look_state import keep_up
from champion.predictionlog.schema import ab_config, ab_state, feedback
from champion.types import ABMode, Task

from servers import pg_cluster, postgres_available

START = datetime(2026, 3, 1, tzinfo=UTC)
TOL = 1e-9


@dataclass(frozen=True)
class Case:
    task: Task
    mode: ABMode
    n: int
    users: int  # distinct users (rows per user ~ n / users)
    splits: tuple[float, ...]  # one phase per entry
    classes: int = 2
    edge: float = 0.0  # B's advantage in accuracy (or in error, regression)
    label_share: float = 0.7
    failure: float = 0.02
    seed: int = 0
    maturity: float = 0.0
    independent: bool = False


CASES = {
    "hash-unequal-phases": Case(Task.CLASSIFICATION, ABMode.HASH, 3000, 300, (0.1, 0.4), edge=0.05),
    "hash-multiclass": Case(Task.CLASSIFICATION, ABMode.HASH, 2000, 2000, (0.3,), classes=4),
    "random-regression": Case(Task.REGRESSION, ABMode.RANDOM, 2500, 50, (0.5,), edge=0.3),
    "shadow-binary": Case(Task.CLASSIFICATION, ABMode.SHADOW, 2000, 100, (0.0,), edge=0.04),
    "hash-independent-matured": Case(
        Task.CLASSIFICATION, ABMode.HASH, 2500, 400, (0.2,), maturity=600.0, independent=True
    ),
    "shadow-regression": Case(Task.REGRESSION, ABMode.SHADOW, 1500, 1500, (0.0,), seed=3),
}


def _prediction(task: Task, rng: np.random.Generator, y: float, accuracy: float, classes: int):
    if task == Task.REGRESSION:
        value = y + rng.normal(0, 1.0 - accuracy)
        return round(float(value), 6), None
    right = rng.random() < accuracy
    pred = int(y) if right else int((y + rng.integers(1, classes)) % classes)
    prob = float(np.clip(0.5 + (0.3 if pred == 1 else -0.3) + rng.normal(0, 0.15), 0, 1))
    return pred, round(prob, 6)


def write_log(store: EventStore, case: Case, experiment: str = "exp") -> datetime:
    """The case's rows; returns the time of the look."""
    rng = np.random.default_rng(case.seed)
    with store.engine.begin() as conn:
        phase_ids = []
        for split in case.splits:
            mode = case.mode
            phase_ids.append(
                conn.execute(
                    insert(ab_config).values(
                        model_name=store.model_name, experiment_id=experiment, mode=mode,
                        split_b=split, updated_at=START, updated_by="test", note="",
                    )
                ).inserted_primary_key[0]
            )  # fmt: skip
    rows, labels = [], []
    draws = rng.random((case.users, len(case.splits)))
    user_draws = {
        (f"user-{u}", p): draws[u, p] for u in range(case.users) for p in range(len(case.splits))
    }
    per_phase = case.n // len(case.splits)
    for i in range(case.n):
        phase_index = min(i // per_phase, len(case.splits) - 1)
        split = case.splits[phase_index]
        user = None if rng.random() < 0.05 else f"user-{rng.integers(case.users)}"
        # hash mode: a user stays in one arm within a phase; others: each request
        draw = (
            user_draws[(user, phase_index)] if case.mode == ABMode.HASH and user else rng.random()
        )
        to_b = case.mode != ABMode.SHADOW and draw < split
        if case.task == Task.REGRESSION:
            y: float = round(float(rng.normal(10, 3)), 6)
        else:
            y = float(rng.integers(case.classes))
        pred_a, prob_a = _prediction(case.task, rng, y, 0.7, case.classes)
        pred_b, prob_b = _prediction(case.task, rng, y, 0.7 + case.edge, case.classes)
        fail_a, fail_b = rng.random() < case.failure / 2, rng.random() < case.failure
        other = rng.random() < 0.03  # served by another challenger: left out
        created = START + timedelta(seconds=float(i) * 1.7 + float(rng.random()))
        timed = rng.random() > 0.05
        request_id = str(uuid.uuid4())
        arms = {}
        for arm, pred, prob, failed, version in (
            ("a", pred_a, prob_a, fail_a, "1"),
            ("b", pred_b, prob_b, fail_b, "3" if other else "2"),
        ):
            arms |= {
                f"version_{arm}": version,
                f"prediction_{arm}": None if failed else str(pred),
                f"prediction_{arm}_num": None if failed else float(pred),
                f"probability_{arm}": None if failed else prob,
                f"latency_{arm}_ms": round(float(rng.gamma(2.0, 2.0)), 4) if timed else None,
                f"failed_{arm}": int(failed),
            }
        served = pred_b if to_b and not fail_b else pred_a
        rows.append(
            {
                "request_id": request_id, "created_at": created, "experiment_id": experiment,
                "user_id": user, "variant": "B" if to_b else "A", "model_name": store.model_name,
                "model_version": "2" if to_b else "1", "features": "{}",
                "prediction": str(served), "prediction_num": float(served), "probability": None,
                "latency_ms": 5.0, "phase": phase_ids[phase_index], **arms,
            }
        )  # fmt: skip
        if rng.random() < case.label_share:
            delay = float(rng.exponential(400.0))
            label = int(y) if case.task == Task.CLASSIFICATION else y
            labels.append(
                {
                    "request_id": request_id, "label": str(label), "label_num": float(label),
                    "received_at": created + timedelta(seconds=delay), "source": "feedback",
                    "predicted_at": created,
                }
            )  # fmt: skip
    store.insert_predictions(rows)
    with store.engine.begin() as conn:
        conn.execute(insert(feedback), labels)
    # a look before the last labels arrived: some rows are labelled only later
    return START + timedelta(seconds=case.n * 1.7 + 300)


def _close(a: float | None, b: float | None, what: str) -> None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b):
        assert a == b, f"{what}: {a} != {b}"
        return
    assert abs(a - b) <= TOL * max(1.0, abs(a), abs(b)), f"{what}: {a} != {b}"


METRIC_TOLERANCE = {"roc_auc": 2e-3, "latency_p95_ms": 0.051}  # histograms (1e-4, 0.05 ms)


def _looks(store: EventStore, trial: Trial, policy: Policy, times: list[float]):
    """Looks at ``times``; the last one's decision, the sequence, the rows left out."""
    out = None
    for t in times:
        with store.engine.begin() as conn:
            out = decide_in_database(conn, trial, policy, now=t, lag=120.0)
    assert out is not None
    return out


def _compare(a: dict, b: dict) -> None:
    assert a["action"] == b["action"] and a["reasons"] == b["reasons"], (a["reasons"], b["reasons"])
    for key in ("estimate", "lower", "upper", "p_value"):
        _close(a["interval"][key], b["interval"][key], f"interval {key}")
    assert a["interval"]["n"] == b["interval"]["n"]
    assert [g["name"] for g in a["guardrails"]] == [g["name"] for g in b["guardrails"]]
    for ga, gb in zip(a["guardrails"], b["guardrails"], strict=True):
        _close(ga["estimate"], gb["estimate"], f"{ga['name']} estimate")
        _close(ga["bound"], gb["bound"], f"{ga['name']} bound")
    for test in ("srm", "chi_square_fixed_horizon", "mcnemar"):
        if a[test] is None:
            assert b[test] is None, test
            continue
        for key in ("statistic", "p_value"):
            _close(a[test][key], b[test][key], f"{test} {key}")
    assert (a["coverage"] is None) == (b["coverage"] is None)
    for ca, cb in zip(a["coverage"] or (), b["coverage"] or (), strict=True):
        _close(ca, cb, "coverage")
    for arm in ("A", "B"):
        assert set(a["metrics"][arm]) == set(b["metrics"][arm]), arm
        for key, value in a["metrics"][arm].items():
            other = b["metrics"][arm][key]
            if key in METRIC_TOLERANCE and value is not None and other is not None:
                assert abs(value - other) <= METRIC_TOLERANCE[key], (arm, key, value, other)
            else:
                _close(value, other, f"{arm} {key}")


def check_equal(store: EventStore, case: Case) -> None:
    now = write_log(store, case)
    policy = Policy(
        min_labelled=50, label_maturity_s=case.maturity, labels_independent=case.independent
    )
    split = case.splits[0]
    frame, ignored = store.experiment_frame("exp", champion="1", challenger="2")
    by_rows = decide_frame(frame, policy, task=case.task, mode=case.mode, split_b=split, now=now)
    trial = Trial(store.model_name, "exp", "1", "2", case.task, case.mode, split, case.maturity)
    start, end = START.timestamp(), now.timestamp()
    # looks on a schedule, each adding what arrived since: the last equals the rows' one
    times = [start + (end - start) * f for f in (0.2, 0.45, 0.7, 0.9)] + [end]
    decision, looks, left_out = _looks(store, trial, policy, times)
    assert left_out == ignored > 0
    _compare(by_rows.to_dict(), decision.to_dict())
    assert 1 <= len(looks) <= len(times) and looks[-1].estimate == decision.interval.estimate
    # and again from nothing (the kept sums are a cache): the same decision
    with store.engine.begin() as conn:
        conn.execute(ab_state.delete())
    again, _, _ = _looks(store, trial, policy, [end])
    _compare(by_rows.to_dict(), again.to_dict())


@pytest.mark.parametrize("name", sorted(CASES))
def test_sql_evaluation_equals_the_row_based_one_on_sqlite(tmp_path, name: str) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m")
    store.migrate()
    check_equal(store, CASES[name])
    store.dispose()


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("apt-get install postgresql")
    with pg_cluster(("events",)) as pg:
        yield pg.url("events")


@pytest.mark.parametrize("name", ["hash-unequal-phases", "random-regression", "shadow-binary"])
def test_sql_evaluation_equals_the_row_based_one_on_postgresql(postgres: str, name: str) -> None:
    store = EventStore(postgres, model_name=f"m-{name}")
    store.migrate()
    check_equal(store, CASES[name])
    store.dispose()


def test_rows_written_later_with_an_old_time_are_counted(tmp_path) -> None:
    """A backfill behind the kept sums starts them again: the look still equals the rows'."""
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m")
    store.migrate()
    case = CASES["hash-unequal-phases"]
    now = write_log(store, case)
    trial = Trial("m", "exp", "1", "2", case.task, case.mode, case.splits[0])
    policy = Policy(min_labelled=50)
    _looks(store, trial, policy, [now.timestamp()])
    write_log(store, Case(case.task, case.mode, 600, 60, case.splits, seed=9), experiment="exp")
    frame, _ = store.experiment_frame("exp", champion="1", challenger="2")
    by_rows = decide_frame(frame, policy, task=case.task, mode=case.mode, split_b=0.1, now=now)
    decision, _, _ = _looks(store, trial, policy, [now.timestamp()])
    _compare(by_rows.to_dict(), decision.to_dict())
    store.dispose()


def test_a_new_trial_drops_the_kept_sums_of_the_last_one(tmp_path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m")
    store.migrate()
    now = write_log(store, CASES["random-regression"]).timestamp()
    old = Trial("m", "exp", "1", "2", Task.REGRESSION, ABMode.RANDOM, 0.5)
    new = Trial("m", "exp-2", "1", "2", Task.REGRESSION, ABMode.RANDOM, 0.5)
    other = Trial("other-model", "exp", "1", "2", Task.REGRESSION, ABMode.RANDOM, 0.5)
    for trial in (old, other, new):
        _looks(store, trial, Policy(min_labelled=50), [now])
    with store.engine.connect() as conn:
        kept = sorted(conn.execute(select(ab_state.c.model_name, ab_state.c.experiment_id)).all())
    assert kept == [("m", "exp-2"), ("other-model", "exp")]
    store.dispose()


@pytest.mark.parametrize("name", ["hash-unequal-phases", "shadow-binary", "random-regression"])
def test_keeping_the_sums_up_between_looks_changes_no_decision(tmp_path, name: str) -> None:
    """What the API does between looks (``keep_up``): the sums advance, the next look
    reads only what arrived since, and its decision equals the rows' one."""
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m")
    store.migrate()
    case = CASES[name]
    now = write_log(store, case)
    policy = Policy(
        min_labelled=50, label_maturity_s=case.maturity, labels_independent=case.independent
    )
    split = case.splits[0]
    trial = Trial(store.model_name, "exp", "1", "2", case.task, case.mode, split, case.maturity)
    paired = case.mode == ABMode.SHADOW or case.independent
    start, end = START.timestamp(), now.timestamp()
    with store.engine.begin() as conn:  # nothing kept yet: nothing to keep up
        assert keep_up(conn, trial, paired=paired, now=end, lag=120.0) is None
    _looks(store, trial, policy, [start + (end - start) * 0.2])
    shown = store.latest_look("exp")
    for f in (0.45, 0.7, 0.9):
        t = start + (end - start) * f
        with store.engine.begin() as conn:
            assert keep_up(conn, trial, paired=paired, now=t, lag=120.0) == t - 120.0
        with store.engine.connect() as conn:
            assert conn.execute(select(ab_state.c.upto)).scalar_one() == t - 120.0
    # the dashboard still shows the last look's decision and sequence
    assert store.latest_look("exp") == shown and shown["decision"] is not None
    # a caller that sees the trial otherwise (another mode) starts nothing afresh
    other = replace(trial, mode=ABMode.RANDOM if case.mode != ABMode.RANDOM else ABMode.HASH)
    with store.engine.begin() as conn:
        assert keep_up(conn, other, paired=paired, now=end, lag=120.0) is None
        assert conn.execute(select(ab_state.c.upto)).scalar_one() < end - 120.0
    frame, _ = store.experiment_frame("exp", champion="1", challenger="2")
    by_rows = decide_frame(frame, policy, task=case.task, mode=case.mode, split_b=split, now=now)
    decision, _, _ = _looks(store, trial, policy, [end])
    _compare(by_rows.to_dict(), decision.to_dict())
    store.dispose()


@pytest.mark.parametrize("name", ["hash-unequal-phases", "shadow-binary", "random-regression"])
def test_sums_started_with_the_experiment_are_kept_up_without_a_look(tmp_path, name) -> None:
    """Starting an experiment starts its sums (``keep_up(start=True)`` on an empty log):
    the API keeps them up from its first rows, no look ever reads the whole experiment,
    and the first look's decision equals the rows' one."""
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", model_name="m")
    store.migrate()
    case = CASES[name]
    policy = Policy(
        min_labelled=50, label_maturity_s=case.maturity, labels_independent=case.independent
    )
    split = case.splits[0]
    trial = Trial(store.model_name, "exp", "1", "2", case.task, case.mode, split, case.maturity)
    paired = case.mode == ABMode.SHADOW or case.independent
    begun = START.timestamp() - 1.0
    with store.engine.begin() as conn:  # nothing to start from yet: a start does
        assert keep_up(conn, trial, paired=paired, now=begun, lag=120.0) is None
        assert keep_up(conn, trial, paired=paired, now=begun, lag=120.0, start=True) == (
            begun - 120.0
        )
        assert keep_up(conn, trial, paired=paired, now=begun, lag=120.0) == begun - 120.0
    now = write_log(store, case)
    start, end = START.timestamp(), now.timestamp()
    for f in (0.01, 0.3, 0.95):
        t = start + (end - start) * f
        with store.engine.begin() as conn:
            assert keep_up(conn, trial, paired=paired, now=t, lag=120.0) == t - 120.0
    with store.engine.connect() as conn:
        figures = conn.execute(select(ab_state.c.figures)).scalar_one()
    assert json.loads(figures)["looks"] == []  # upkeeps are no looks
    frame, _ = store.experiment_frame("exp", champion="1", challenger="2")
    by_rows = decide_frame(frame, policy, task=case.task, mode=case.mode, split_b=split, now=now)
    decision, looks, _ = _looks(store, trial, policy, [end])
    _compare(by_rows.to_dict(), decision.to_dict())
    assert len(looks) == 1
    store.dispose()
