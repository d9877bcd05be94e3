"""Settings: the names read (and only those), their precedence, one-line errors, and the
groups that build the pure layer's policies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from champion.abtest import Policy
from champion.drift import DriftConfig
from champion.errors import ConfigError, InvalidInputError
from champion.settings import FLAT, VARIABLES, load_settings
from champion.training import TrainConfig
from champion.types import ABMode, DriftRule


def test_defaults() -> None:
    s = load_settings()
    assert (s.drift.drift_threshold, s.drift.psi_threshold, s.drift.alpha, s.ab.split_b) == (
        0.2,
        0.2,
        0.05,
        0.5,
    )
    assert s.home == Path("champion-data") and s.ab.mode == ABMode.HASH
    assert s.tracking_uri == f"sqlite:///{Path('champion-data/mlflow.db').resolve()}"
    assert s.events_url == f"sqlite:///{Path('champion-data/events.db').resolve()}"


def test_legacy_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_THRESHOLD", "0.3")
    monkeypatch.setenv("KS_PVALUE_THRESHOLD", "0.01")
    monkeypatch.setenv("MODEL_NAME", "titanic-clf")
    monkeypatch.setenv("MLFLOW_LOG", "false")
    monkeypatch.setenv("AB_SPLIT_B", "0.2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    s = load_settings()
    assert (s.drift.drift_threshold, s.drift.alpha, s.model_name) == (0.3, 0.01, "titanic-clf")
    assert (s.mlflow_log, s.ab.split_b, s.tracking_uri) == (False, 0.2, "http://127.0.0.1:5000")


def test_champion_prefix_wins_over_legacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_PSI_THRESHOLD", "0.1")
    monkeypatch.setenv("PSI_THRESHOLD", "0.3")
    assert load_settings().drift.psi_threshold == 0.1


def test_other_programs_names_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_settings().model_dump()
    for name, value in {
        "HOME": "/somewhere/else",
        "home": "/x",
        "SEED": "7",
        "ACTOR": "mallory",
        "DATABASE_URL": "postgresql://other/app",
        "ADMIN_TOKEN": "not-ours",
        "POLL_INTERVAL": "0.1",
        "champion_seed": "9",
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings().model_dump() == before


def test_dotenv_uses_the_same_names_below_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "HOME=/elsewhere\nCHAMPION_MODEL_NAME=from-dotenv\nCHAMPION_SEED=5\nAB_SPLIT_B=0.3\n"
    )
    monkeypatch.setenv("CHAMPION_SEED", "6")
    s = load_settings()
    assert (s.home, s.model_name, s.training.seed, s.ab.split_b) == (
        Path("champion-data"),
        "from-dotenv",
        6,
        0.3,
    )


def test_every_bad_value_is_reported_under_the_name_that_was_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AB_SPLIT_B", "1.5")
    monkeypatch.setenv("DRIFT_THRESHOLD", "abc")
    monkeypatch.setenv("CHAMPION_CV_FOLDS", "1")
    monkeypatch.setenv("CHAMPION_AB_MODE", "sideways")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "AB_SPLIT_B='1.5'" in text and "less than or equal to 1" in text
    assert "DRIFT_THRESHOLD='abc'" in text and "valid number" in text
    assert "CHAMPION_CV_FOLDS='1'" in text and "greater than or equal to 2" in text
    assert "CHAMPION_AB_MODE='sideways'" in text
    assert "\n" not in text


def test_the_horizon_must_follow_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_AB_MIN_LABELLED", "500")
    monkeypatch.setenv("CHAMPION_AB_MAX_LABELLED", "100")
    with pytest.raises(ConfigError, match="CHAMPION_AB_MAX_LABELLED=100 must be larger"):
        load_settings()


def test_missing_train_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_PATH", "/nonexistent/train.csv")
    with pytest.raises(ConfigError, match=r"TRAIN_PATH=/nonexistent/train\.csv does not exist"):
        load_settings()


def test_overrides_by_flat_name_win_and_are_validated() -> None:
    s = load_settings(train_budget=3, drift_window=50, ab_mode="shadow", seed=1)
    assert (s.training.budget, s.drift.window, s.ab.mode, s.training.seed) == (3, 50, "shadow", 1)
    changed = s.with_values(drift_window=80, home="/tmp/x")
    assert (changed.drift.window, changed.home, s.drift.window) == (80, Path("/tmp/x"), 50)
    with pytest.raises(ConfigError, match="CHAMPION_DRIFT_WINDOW=5"):
        s.with_values(drift_window=5)
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(window=5)


def test_groups_build_the_pure_policies() -> None:
    s = load_settings(drift_alpha=0.01, ab_planned_labels=5000, train_budget=7, seed=3)
    assert s.drift.config() == DriftConfig(alpha=0.01)
    assert s.drift.config(rule="mean_psi", bins=None).rule == DriftRule.MEAN_PSI
    assert s.ab.policy(promote_margin=0.01) == Policy(n_star=5000, promote_margin=0.01)
    assert s.training.config(metric="f1") == TrainConfig(budget=7, seed=3, metric="f1")
    with pytest.raises(InvalidInputError, match="budget must be positive"):
        s.training.config(budget=-1)
    with pytest.raises(TypeError, match="no field nope"):
        s.drift.config(nope=1)


@pytest.mark.parametrize(
    ("policy", "group", "not_settings"),
    [
        (DriftConfig, "drift", {"eps", "seed"}),
        (Policy, "ab", {"srm_alpha"}),
        (TrainConfig, "training", {"task", "estimators", "min_precision", "min_rows"}),
    ],
)
def test_every_policy_field_is_a_setting(policy: type, group: str, not_settings: set[str]) -> None:
    fields = {f.name for f in dataclasses.fields(policy)}
    settings = {path[1] for path in VARIABLES if path[0] == group}
    assert fields - settings == not_settings


def test_each_variable_belongs_to_one_setting() -> None:
    names = [name for names in VARIABLES.values() for name in names]
    assert len(names) == len(set(names))
    assert all(names[0].startswith("CHAMPION_") for names in VARIABLES.values())
    assert len(FLAT) == len(VARIABLES)
