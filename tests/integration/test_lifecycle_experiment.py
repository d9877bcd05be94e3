"""evaluate_and_promote against a real embedded MLflow store and a real SQLite log.

The prediction log is filled with simulated experiments whose ground truth is known
(each arm's accuracy), the decision is checked against it, and so is what the
evaluation did in MLflow: the comparison run, the aliases, the history.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

from champion.abtest import Policy, decide_frame, timeline_frame
from champion.abtest.sequential import paired
from champion.cli import main
from champion.lifecycle import evaluate_and_promote, start_experiment
from champion.predictionlog import EventStore
from champion.predictionlog.look_state import LOOK_LAG_S
from champion.predictionlog.schema import SCHEMA_VERSION, schema_version
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.registry import open_registry

from api_helpers import two_models
from log_helpers import seed_rows


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory, titanic, titanic_pair):
    home = tmp_path_factory.mktemp("eval-models")
    two_models(home, titanic, titanic_pair)  # v1 champion, v2 challenger
    return home


@pytest.fixture
def settings(trained_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return load_settings(home=home, actor="tester")


@pytest.fixture
def store(settings):
    s = EventStore(settings.events_url)
    s.migrate()
    yield s
    s.dispose()


def start(store: EventStore, experiment: str, mode: str = "random", split_b: float = 0.5) -> None:
    store.set_ab_config(experiment_id=experiment, mode=mode, split_b=split_b, updated_by="t")


def comparison_run(settings):
    client = connect(settings).client
    experiment = client.get_experiment_by_name(settings.comparison_name)
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


# -- the arms, against sklearn ----------------------------------------------------------
def test_arm_metrics_match_sklearn(settings, store) -> None:
    start(store, "e1")
    truth = seed_rows(store, "e1", n=3000, acc_a=0.75, acc_b=0.8, seed=1)
    outcome = evaluate_and_promote(settings, apply=False)
    y, to_b = truth["y"], truth["to_b"]
    metrics = outcome.decision.metrics
    for arm, pred, mask in (("A", truth["pred_a"], ~to_b), ("B", truth["pred_b"], to_b)):
        assert metrics[arm]["labelled"] == mask.sum()
        assert metrics[arm]["accuracy"] == pytest.approx(accuracy_score(y[mask], pred[mask]))
        assert metrics[arm]["precision"] == pytest.approx(precision_score(y[mask], pred[mask]))
        assert metrics[arm]["recall"] == pytest.approx(recall_score(y[mask], pred[mask]))
    mask = ~to_b
    # from a histogram of the probabilities (1e-4 wide bins) the database keeps
    auc = roc_auc_score(y[mask], truth["score_a"][mask])
    assert metrics["A"]["roc_auc"] == pytest.approx(auc, abs=1e-3)
    # the interval is decide_frame's on the same rows, read back from the log
    expected = decide_frame(
        _truth_frame(truth), settings.ab.policy(), task="classification", mode="hash", split_b=0.5
    ).interval
    assert outcome.decision.interval.lower == pytest.approx(expected.lower)
    assert outcome.decision.interval.upper == pytest.approx(expected.upper)


def _truth_frame(truth: dict) -> pd.DataFrame:
    """The rows seed_rows wrote, as decide_frame takes them."""
    n = truth["y"].size
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = [start + timedelta(seconds=i) for i in range(n)]
    return pd.DataFrame(
        {
            "variant": np.where(truth["to_b"], "B", "A"),
            "user_id": [f"u{i}" for i in range(n)],
            "prediction_a": truth["pred_a"],
            "prediction_b": np.where(truth["failed_b"], None, truth["pred_b"]),
            "label": truth["y"],
            "created_at": created,
            "labelled_at": created,
            "failed_b": truth["failed_b"],
        }
    )


# -- decisions against simulated ground truth -------------------------------------------
def test_better_challenger_is_promoted_once(settings, store) -> None:
    start(store, "better")
    seed_rows(store, "better", n=6000, acc_a=0.70, acc_b=0.80, seed=2)
    outcome = evaluate_and_promote(settings)
    assert outcome.decision.action == "promote", outcome.decision.reasons
    assert outcome.decision.interval.lower > 0
    assert outcome.applied == "promoted v2"
    registry = open_registry(settings)
    assert registry.alias("champion", refresh=True).version == "2"
    assert registry.alias("challenger", refresh=True) is None
    assert registry.history()[-2].action == "promote"
    assert "better" in registry.history()[-2].reason
    assert store.ab_config().mode == "off"  # the experiment is over
    client, run = comparison_run(settings)
    assert run.data.tags["champion.decision"] == "promote"
    assert run.data.tags["champion.applied"] == "promoted v2"
    assert run.info.status == "FINISHED"
    assert run.data.metrics["diff/lower"] > 0
    # every guardrail's bound is logged beside the sequence, and it passed
    for name in ("precision", "recall", "error_rate"):
        assert run.data.metrics[f"guardrail/{name}/passed"] == 1.0
    assert run.data.metrics["guardrail/recall/bound"] > -settings.ab.recall_margin
    assert run.data.params["challenger_version"] == "2"
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"variant_metrics.csv", "decision.json", "confidence_sequence.csv"} <= artifacts
    # a second run does nothing: no challenger left, no alias moved, nothing logged
    again = evaluate_and_promote(settings)
    assert again.decision is None and "no challenger" in again.note
    assert open_registry(settings).alias("champion", refresh=True).version == "2"
    assert len(open_registry(settings).history()) == len(registry.history())


def test_equal_challenger_continues_and_repeat_looks_are_not_logged(settings, store) -> None:
    start(store, "aa")
    seed_rows(store, "aa", n=2000, acc_a=0.8, acc_b=0.8, seed=3)
    first = evaluate_and_promote(settings)
    assert first.decision.action == "continue"
    assert first.decision.interval.lower < 0 < first.decision.interval.upper
    second = evaluate_and_promote(settings)
    assert second.repeated
    client, run = comparison_run(settings)
    assert len(client.get_metric_history(run.info.run_id, "diff/estimate")) == 1
    seed_rows(store, "aa", n=500, acc_a=0.8, acc_b=0.8, seed=4)
    third = evaluate_and_promote(settings)
    assert not third.repeated
    history = client.get_metric_history(run.info.run_id, "diff/estimate")
    assert sorted(m.step for m in history) == [2000, 2500]
    assert open_registry(settings).alias("challenger", refresh=True).version == "2"


def test_worse_challenger_is_rejected(settings, store) -> None:
    start(store, "worse")
    seed_rows(store, "worse", n=5000, acc_a=0.80, acc_b=0.70, seed=5)
    outcome = evaluate_and_promote(settings)
    assert outcome.decision.action == "reject"
    assert outcome.applied == "rejected v2"
    registry = open_registry(settings)
    assert registry.alias("champion", refresh=True).version == "1"
    assert registry.alias("challenger", refresh=True) is None
    assert registry.get("2").tags.get("champion.rejected")


def test_without_apply_nothing_moves(settings, store) -> None:
    start(store, "dry")
    seed_rows(store, "dry", n=6000, acc_a=0.70, acc_b=0.80, seed=6)
    outcome = evaluate_and_promote(settings, apply=False)
    assert outcome.decision.action == "promote" and outcome.applied is None
    assert open_registry(settings).alias("champion", refresh=True).version == "1"


def test_shadow_is_paired_and_needs_fewer_labels(settings, store) -> None:
    start(store, "shadow", mode="shadow")
    truth = seed_rows(store, "shadow", n=1500, acc_a=0.75, acc_b=0.85, shadow=True, seed=7)
    outcome = evaluate_and_promote(settings, apply=False)
    d = outcome.decision
    assert d.paired and d.mcnemar is not None and d.srm is None
    y = truth["y"]
    diff = (truth["pred_b"] == y).astype(float) - (truth["pred_a"] == y).astype(float)
    expected = paired(diff, alpha=0.05, n_star=settings.ab.n_star)
    assert d.interval.lower == pytest.approx(expected.lower)
    assert d.metrics["B"]["accuracy"] == pytest.approx(float(np.mean(truth["pred_b"] == y)))
    assert d.action == "promote"
    # the sequence over time ends where the decision is
    assert outcome.looks[-1].labelled == 1500
    assert outcome.looks[-1].lower == pytest.approx(d.interval.lower)


def test_sample_ratio_mismatch_is_invalid_and_never_promoted(settings, store) -> None:
    start(store, "srm", split_b=0.5)
    seed_rows(store, "srm", n=10_000, acc_a=0.70, acc_b=0.80, split_b=0.45, seed=8)
    outcome = evaluate_and_promote(settings)
    assert outcome.decision.action == "invalid"
    assert "sample-ratio check" in outcome.decision.reasons[0]
    assert outcome.applied is None
    assert open_registry(settings).alias("challenger", refresh=True).version == "2"


def test_rows_of_other_versions_and_failures(settings, store) -> None:
    start(store, "mixed")
    seed_rows(store, "mixed", n=400, acc_a=0.9, acc_b=0.9, versions=("7", "8"), seed=9)
    truth = seed_rows(store, "mixed", n=1000, acc_a=0.8, acc_b=0.95, failed_b=0.1, seed=10)
    outcome = evaluate_and_promote(settings, apply=False)
    assert outcome.ignored_rows == 400
    m = outcome.decision.metrics
    assert m["A"]["requests"] + m["B"]["requests"] == 1000
    failed_in_b = int((truth["failed_b"] & truth["to_b"]).sum())
    assert m["B"]["error_rate"] == pytest.approx(failed_in_b / m["B"]["requests"])
    guard = next(g for g in outcome.decision.guardrails if g.name == "error_rate")
    assert guard.estimate == pytest.approx(truth["failed_b"].mean()) and not guard.passed
    assert outcome.decision.action != "promote"  # B is more accurate, but fails 10 %
    assert any(r.startswith("guardrail error_rate") for r in outcome.decision.reasons)


def test_mode_off_or_no_experiment_evaluates_nothing(settings, store) -> None:
    start(store, "stopped", mode="off")
    outcome = evaluate_and_promote(settings)
    assert outcome.decision is None and "mode off" in outcome.note


def test_start_experiment_gets_a_fresh_id(settings, store) -> None:
    config = start_experiment(settings, mode="shadow", store=store)
    assert config.experiment_id.startswith("v1-v2-") and config.mode == "shadow"
    assert store.ab_config().experiment_id == config.experiment_id
    # its sums are started: the API's upkeep adds rows to them before any look
    now = datetime.now(UTC)
    kept = store.keep_up(
        config.experiment_id, champion="1", challenger="2", task="classification",
        mode=config.mode, split_b=config.split_b, policy=settings.ab.policy(), now=now,
    )  # fmt: skip
    assert kept == pytest.approx(now.timestamp() - LOOK_LAG_S, abs=0.01)


# -- pure helpers --------------------------------------------------------------------
def test_the_sequence_over_time_is_each_looks_decision() -> None:
    rng = np.random.default_rng(0)
    n = 400
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "variant": ["A" if i % 2 else "B" for i in range(n)],
            "user_id": [f"u{i}" for i in range(n)],
            "prediction_a": np.where(rng.random(n) < 0.7, y, 1 - y),
            "prediction_b": np.where(rng.random(n) < 0.8, y, 1 - y),
            "label": y,
            "created_at": [t0] * n,
            "labelled_at": [t0 + timedelta(seconds=n - i) for i in range(n)],  # reverse order
        }
    )
    policy = Policy(min_labelled=10, n_star=1000)
    rules = {"task": "classification", "mode": "random", "split_b": 0.5}
    looks = timeline_frame(frame, policy, **rules, points=n)
    assert looks[-1].labelled == n
    at_100 = next(look for look in looks if look.labelled == 100)
    # the 100 labels that arrived first are the last 100 rows: a look then saw only them
    seen = decide_frame(frame.iloc[n - 100 :], policy, **rules)
    assert (at_100.lower, at_100.upper) == pytest.approx((seen.interval.lower, seen.interval.upper))


def test_migrate_upgrades_a_version_1_log(tmp_path) -> None:
    from sqlalchemy import update

    store = EventStore(f"sqlite:///{tmp_path / 'old.db'}")
    store.migrate()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE failures")
        conn.execute(update(schema_version).values(version=1))
    assert store.migrate() == SCHEMA_VERSION
    store.record_failure(experiment_id="e", variant="A", model_version="1", requests=3, error="x")
    assert store.failure_counts("e") == {("A", "1"): 3}
    store.dispose()


def test_migrate_upgrades_a_version_2_log_with_its_shadow_rows(tmp_path) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as old:  # the version-2 predictions table, two rows
        old.executescript(V2_SCHEMA)
    store = EventStore(f"sqlite:///{path}")
    assert store.migrate() == SCHEMA_VERSION
    frame, ignored = store.experiment_frame("e", champion="1", challenger="2")
    assert ignored == 1  # the B row of v2 had no champion prediction: not a pair
    (row,) = frame.to_dict("records")
    assert (row["variant"], row["prediction_a"], row["prediction_b"]) == ("A", 1, 0)
    assert (row["probability_a"], row["probability_b"], row["failed_b"]) == (0.9, 0.2, False)
    store.dispose()


V2_SCHEMA = """
CREATE TABLE champion_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO champion_schema VALUES (1, 2);
CREATE TABLE predictions (
    request_id VARCHAR(36) PRIMARY KEY, created_at DATETIME NOT NULL,
    experiment_id VARCHAR(64) NOT NULL, user_id VARCHAR(256), variant VARCHAR(16) NOT NULL,
    model_name VARCHAR(256) NOT NULL, model_version VARCHAR(32) NOT NULL, features TEXT NOT NULL,
    prediction TEXT NOT NULL, prediction_num FLOAT, probability FLOAT,
    shadow_version VARCHAR(32), shadow_prediction TEXT, shadow_prediction_num FLOAT,
    shadow_probability FLOAT, latency_ms FLOAT NOT NULL);
INSERT INTO predictions VALUES ('r1', '2026-01-01 00:00:00.000000', 'e', 'u1', 'A',
    'champion-model', '1', '{}', '1', 1.0, 0.9, '2', '0', 0.0, 0.2, 3.0);
INSERT INTO predictions VALUES ('r2', '2026-01-01 00:00:01.000000', 'e', 'u2', 'B',
    'champion-model', '2', '{}', '1', 1.0, 0.8, NULL, NULL, NULL, NULL, 3.0);
"""


# -- the command line ----------------------------------------------------------------
def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr()
    return int(exit_info.value.code), out.out, out.err


def test_cli_ab_commands(settings, store, monkeypatch, capsys) -> None:
    import json

    monkeypatch.setenv("CHAMPION_HOME", str(settings.home))
    code, out, _ = run_cli(["ab", "start", "--mode", "random", "--split-b", "0.5"], capsys)
    assert code == 0 and "started" in out
    experiment = store.ab_config().experiment_id
    seed_rows(store, experiment, n=6000, acc_a=0.70, acc_b=0.80, seed=11)
    code, out, _ = run_cli(["ab", "status"], capsys)
    assert code == 0 and experiment in out and "challenger v2" in out
    code, out, _ = run_cli(["ab", "evaluate", "--json"], capsys)
    body = json.loads(out)
    assert body["decision"]["action"] == "promote" and body["applied"] is None
    code, out, _ = run_cli(["ab", "evaluate", "--promote"], capsys)
    assert code == 0 and "applied: promoted v2" in out
    assert "NOT valid under repeated looks" in out
    code, out, _ = run_cli(["ab", "evaluate", "--promote"], capsys)
    assert code == 0 and "nothing to evaluate" in out
    code, _, err = run_cli(["ab", "config", "--mode", "sideways"], capsys)
    assert code == 2 and "--mode must be one of" in err
    code, _, err = run_cli(["ab", "start"], capsys)
    assert code == 2 and "no challenger" in err


def test_migrate_marks_the_labels_of_a_version_4_log_unverified(tmp_path) -> None:
    from sqlalchemy import select, update

    from champion.predictionlog.schema import feedback

    store = EventStore(f"sqlite:///{tmp_path / 'v4.db'}")
    store.migrate()
    request_id = "00000000-0000-4000-8000-000000000001"
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO predictions (request_id, created_at, experiment_id, variant, "
            "model_name, model_version, features, prediction, latency_ms) VALUES "
            f"('{request_id}', '2026-01-01 00:00:00', 'e', 'A', 'champion-model', '1', "
            "'{}', '1', 1.0)"
        )
    store.add_feedback([(request_id, 1)], source="admin")
    with store.engine.begin() as conn:  # back to version 4: no source column
        conn.exec_driver_sql("ALTER TABLE feedback DROP COLUMN source")
        conn.execute(update(schema_version).values(version=4))
    assert store.migrate() == SCHEMA_VERSION
    with store.engine.begin() as conn:
        rows = conn.execute(select(feedback.c.request_id, feedback.c.source)).all()
    assert rows == [(request_id, "unverified")]
    store.dispose()
