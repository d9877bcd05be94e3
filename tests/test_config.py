from __future__ import annotations

import pytest

from champion.errors import ConfigError
from champion.settings import load_settings


def test_defaults() -> None:
    s = load_settings()
    assert (s.drift.drift_threshold, s.drift.psi_threshold, s.drift.alpha, s.ab.split_b) == (
        0.2,
        0.2,
        0.05,
        0.5,
    )
    assert s.tracking_uri.startswith("sqlite:///") and s.tracking_uri.endswith("mlflow.db")


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


def test_every_bad_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AB_SPLIT_B", "1.5")
    monkeypatch.setenv("DRIFT_THRESHOLD", "abc")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "AB_SPLIT_B='1.5'" in text and "less than or equal to 1" in text
    assert "DRIFT_THRESHOLD='abc'" in text and "valid number" in text


def test_missing_train_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_PATH", "/nonexistent/train.csv")
    with pytest.raises(ConfigError, match=r"TRAIN_PATH=/nonexistent/train\.csv does not exist"):
        load_settings()
