"""``champion demo`` end to end (quick settings): the story must really have happened —
in MLflow, in the prediction log, through the API, in the report."""

from __future__ import annotations

import json

import pytest

from champion.cli import main
from champion.predictionlog import EventStore
from champion.settings import load_settings
from champion.tracking.connection import connect
from champion.tracking.registry import open_registry


def test_demo_tells_the_whole_story(tmp_path, capsys) -> None:
    """The default story (diamonds, a concept shift in one segment): drift, a retrained
    challenger that wins its experiment, promotion and the hot swap."""
    workdir = tmp_path / "demo"
    argv = ["demo", "--workdir", str(workdir), "--budget", "2", "--rows", "600"]
    argv += ["--eval-every", "300", "--max-evaluations", "4", "--seed", "3"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    story = json.loads((workdir / "summary.json").read_text())
    steps = {s["step"]: s for s in story["steps"]}
    assert steps["scenario"]["scenario"] == "concept-shift"
    assert "where carat > " in steps["scenario"]["change"]
    assert steps["bootstrap"]["champion"] == "1"
    assert steps["stable traffic"]["drifted"] is False
    assert steps["drifted traffic"]["drifted"] is True
    assert {"carat", "clarity"} <= set(steps["drifted traffic"]["drifted_features"])
    assert steps["retrain"]["retrained"] is True and steps["retrain"]["challenger"] == "2"
    assert steps["retrain"]["training_rows"] == 600  # the changed window, no repeated row
    action = steps["decision"]["action"]
    assert action == "promote", steps["decision"]["reasons"]  # retraining learnt the change

    settings = load_settings(home=workdir)
    registry = open_registry(settings)
    assert [v.version for v in registry.versions()] == ["2", "1"]
    moves = [(e.action, e.alias, e.version) for e in registry.history()]
    assert moves[:2] == [("register", "champion", "1"), ("register", "challenger", "2")]
    assert registry.alias("challenger", refresh=True) is None  # the experiment is over
    champion = registry.alias("champion", refresh=True).version
    assert champion == ("2" if action == "promote" else "1")
    if action == "promote":
        assert steps["hot swap"]["serving"] == "2"
        assert steps["hot swap"]["probe_versions"] == {"2": 20}  # the API answers with v2

    # the decision is recorded in MLflow's comparison experiment
    client = connect(settings).client
    comparison = client.get_experiment_by_name(settings.comparison_name)
    (run,) = client.search_runs([comparison.experiment_id])
    assert run.data.tags["champion.decision"] == action
    assert run.data.tags["champion.applied"].startswith(("promoted", "rejected"))
    looks = client.get_metric_history(run.info.run_id, "diff/estimate")
    assert len(looks) == len(story["evaluations"])

    # every request the demo sent is in the prediction log, labelled
    store = EventStore(settings.events_url)
    rounds = len(story["evaluations"])
    sent = 600 + 600 + 300 * rounds + 20
    assert store.count_predictions() == sent
    store.dispose()

    html = (workdir / "report.html").read_text()
    assert "data-chart='confidence-sequence'" in html
    # two windows x 9 features, and the model's score where its first window was there
    score = html.count('data-feature="(model score)"')
    assert html.count("data-chart='feature'") == 18 + score and score == 1
    assert "Training — challenger v2" in html
    assert f"mlflow ui --backend-store-uri {settings.tracking_uri}" in out.replace("\n", "")


def test_demo_without_drift_retrains_nothing(tmp_path, capsys) -> None:
    """``--scenario no-drift`` on the small Titanic table: windows of distinct rows (half
    the live pool), a quiet drift check, no challenger."""
    workdir = tmp_path / "demo"
    argv = ["demo", "--dataset", "titanic", "--scenario", "no-drift", "--workdir", str(workdir)]
    argv += ["--budget", "2", "--seed", "2"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert "windows of 156 distinct rows (half the live pool)" in " ".join(out.split())
    steps = {s["step"]: s for s in json.loads((workdir / "summary.json").read_text())["steps"]}
    assert steps["scenario"]["scenario"] == "no-drift"
    assert steps["stable traffic"]["drifted"] is False
    assert steps["drifted traffic"]["drifted"] is False
    assert steps["retrain"]["retrained"] is False and "decision" not in steps
    registry = open_registry(load_settings(home=workdir))
    assert [v.version for v in registry.versions()] == ["1"]
    store = EventStore(load_settings(home=workdir).events_url)
    assert store.count_predictions() == 156 * 2
    store.dispose()
