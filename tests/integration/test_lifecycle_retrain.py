"""Drift on served features and drift-triggered retraining, on a real embedded MLflow
store and a real SQLite prediction log."""

from __future__ import annotations

import json

import numpy as np
import pytest

from champion.cli import main
from champion.datasets import Dataset
from champion.drift.lifetime import spending
from champion.lifecycle import bootstrap, check_served_drift, drift_retrain
from champion.predictionlog import EventStore
from champion.settings import load_settings
from champion.simulation.drift import make_traffic
from champion.tracking.registry import open_registry

from log_helpers import log_traffic


@pytest.fixture
def world(tmp_path, titanic):
    settings = load_settings(home=tmp_path / "home", actor="tester", retrain_min_rows=100)
    half = titanic.frame.sample(frac=0.5, random_state=0)
    reference = Dataset("titanic", half, titanic.schema)
    bootstrap(settings, reference, settings.training.config(budget=2))
    store = EventStore(settings.events_url)
    store.migrate()
    yield settings, store, titanic.frame.drop(half.index)
    store.dispose()


def test_no_drift_no_retrain_then_drift_retrains_and_starts_an_experiment(world, titanic) -> None:
    settings, store, holdout = world
    schema = titanic.schema
    log_traffic(store, make_traffic(holdout, 600, seed=1), schema, labelled=True)
    checked = check_served_drift(settings)
    assert not checked.result.drifted, checked.result.reason
    assert checked.rows == 600 and checked.champion == "1"
    outcome = drift_retrain(settings, settings.training.config(budget=2))
    assert not outcome.retrained and outcome.note.startswith("no drift")
    assert open_registry(settings).alias("challenger", refresh=True) is None

    drifted = make_traffic(holdout, 800, seed=2, drift_cols=("Age", "Fare"), shift_sd=1.0)
    log_traffic(store, drifted, schema, labelled=True)
    checked = check_served_drift(settings, window=800)  # the latest 800 rows: the drifted ones
    assert checked.result.drifted
    assert set(checked.result.drifted_features) >= {"Age", "Fare"}
    settings = load_settings(home=settings.home, actor="tester", drift_window=800, retrain_rows=800)
    outcome = drift_retrain(settings, settings.training.config(budget=2), mode="shadow")
    assert outcome.retrained and outcome.challenger == "2"
    assert outcome.training_rows == 800
    registry = open_registry(settings)
    assert registry.alias("challenger", refresh=True).version == "2"
    assert "drift" in registry.history()[-1].reason
    config = store.ab_config()
    assert config.mode == "shadow" and config.experiment_id.startswith("v1-v2-")
    # the challenger's run learned from the logged rows, with the champion's schema
    run = open_registry(settings).client.get_run(outcome.run_id)
    assert run.data.params["target"] == "Survived"
    assert run.data.params["numeric_features"] == ",".join(schema.numeric)
    # a second call while the challenger is under test does nothing
    again = drift_retrain(settings, settings.training.config(budget=2))
    assert not again.retrained and "already under test" in again.note


def test_retraining_waits_for_labels(world, titanic) -> None:
    settings, store, holdout = world
    drifted = make_traffic(holdout, 400, seed=3, drift_cols=("Age", "Fare"), shift_sd=1.5)
    log_traffic(store, drifted, titanic.schema, labelled=False)
    outcome = drift_retrain(settings, settings.training.config(budget=2))
    assert outcome.drift.result.drifted and not outcome.retrained
    assert "0 labelled rows" in outcome.note


def test_cli_drift_check_and_errors(world, titanic, monkeypatch, capsys) -> None:
    settings, store, holdout = world
    monkeypatch.setenv("CHAMPION_HOME", str(settings.home))
    with pytest.raises(SystemExit) as exit_info:
        main(["lifecycle", "drift-check"])
    assert exit_info.value.code == 2
    assert "no served rows" in capsys.readouterr().err
    drifted = make_traffic(holdout, 400, seed=4, drift_cols=("Age", "Fare"), shift_sd=1.5)
    log_traffic(store, drifted, titanic.schema, labelled=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["lifecycle", "drift-check", "--fail-on-drift"])
    assert exit_info.value.code == 3
    assert "DRIFT" in capsys.readouterr().out
    # each check is numbered in the reference's life and spends a smaller share of alpha
    with pytest.raises(SystemExit) as exit_info:
        main(["lifecycle", "drift-check", "--json"])
    assert exit_info.value.code == 0
    second = json.loads(capsys.readouterr().out)
    assert second["check"] == 2 and second["drifted"]
    expected = settings.drift.alpha * spending(2)
    assert second["alpha_check"] == pytest.approx(expected, rel=1e-12)
    history = store.drift_history()
    assert [h.check_number for h in history] == [2, 1] and all(h.drifted for h in history)
    assert history[1].alpha_check == pytest.approx(settings.drift.alpha * spending(1))
    assert set(history[0].features) == set(titanic.schema.features)


def test_the_joint_check_finds_what_the_marginals_miss(world, titanic) -> None:
    """Fare shuffled across rows keeps its distribution but loses its tie to the class
    and the deck: no per-feature test can see it, the classifier two-sample test does."""
    settings, store, holdout = world
    schema = titanic.schema
    log_traffic(store, make_traffic(holdout, 700, seed=5), schema, labelled=False)
    log_traffic(store, make_traffic(holdout, 700, seed=6), schema, labelled=False)
    calm = check_served_drift(settings, window=700)
    assert calm.result.joint is not None, calm.note
    # (the holdout resampled differs from the reference half by its own sampling error,
    # which a per-feature test may see; the two live windows come from the same holdout)
    assert not calm.result.joint.drifted, calm.result.joint.reason
    assert calm.result.joint.n_reference == calm.result.joint.n_current == 700
    shuffled = make_traffic(holdout, 700, seed=7)
    rng = np.random.default_rng(7)
    shuffled["Fare"] = rng.permutation(shuffled["Fare"].to_numpy())
    log_traffic(store, shuffled, schema, labelled=False)
    checked = check_served_drift(settings, window=700)
    joint = checked.result.joint
    assert joint is not None and joint.drifted and checked.result.drifted, joint.reason
    assert joint.importances[0][0] in {"Fare", "Pclass", "Deck"}
    assert "Fare" in [name for name, _ in joint.importances[:3]]
    assert not checked.result.feature("Fare").drifted  # its own distribution is the same
    assert checked.result.check == 2 and "(joint)" in checked.result.reason


def test_a_performance_drop_without_drift_retrains(world, titanic, monkeypatch, capsys) -> None:
    """A concept shift: the features are as before, the champion's answers go wrong."""
    settings, store, holdout = world
    schema = titanic.schema
    log_traffic(store, make_traffic(holdout, 600, seed=8), schema, labelled=True, accuracy=0.9)
    calm = check_served_drift(settings, window=600)
    assert calm.performance is not None and not calm.performance.dropped, calm.performance
    assert calm.performance.validation is not None and calm.performance.labelled == 600
    assert not calm.retrain
    shifted = make_traffic(holdout, 600, seed=9)
    log_traffic(store, shifted, schema, labelled=True, accuracy=0.5, seed=1)
    checked = check_served_drift(settings, window=600)
    perf = checked.performance
    assert perf is not None and perf.dropped and checked.retrain, perf.reason
    assert perf.upper < perf.floor == pytest.approx(perf.validation - settings.drift.perf_margin)
    assert perf.live == pytest.approx(0.7, abs=0.06)  # 600 right at 0.9, 600 at 0.5
    assert not checked.result.feature("Age").drifted
    monkeypatch.setenv("CHAMPION_HOME", str(settings.home))
    with pytest.raises(SystemExit) as exit_info:
        main(["lifecycle", "drift-check", "--fail-on-drift", "--window", "600"])
    assert exit_info.value.code == 3
    assert "performance DROPPED" in capsys.readouterr().out
    settings = load_settings(
        home=settings.home, actor="tester", drift_window=600, retrain_rows=1200
    )
    outcome = drift_retrain(settings, settings.training.config(budget=2), mode="shadow")
    assert outcome.retrained and outcome.challenger == "2"
    assert "performance dropped" in open_registry(settings).history()[-1].reason
