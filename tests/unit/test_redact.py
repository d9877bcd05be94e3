"""Passwords of URLs never leave the process: messages, returned errors, log records."""

from __future__ import annotations

import logging

import pytest

from champion.redact import redact, redact_logs


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "postgresql://champion:pw1@db:5432/champion",
            "postgresql://champion:***@db:5432/champion",
        ),
        (
            "cannot reach http://admin:p%40@mlflow:5000/api",
            "cannot reach http://admin:***@mlflow:5000/api",
        ),
        (
            "a=postgresql+psycopg://u:x@h/d b=s3://k:v@bucket",
            "a=postgresql+psycopg://u:***@h/d b=s3://k:***@bucket",
        ),
        ("sqlite:////tmp/events.db", "sqlite:////tmp/events.db"),
        (
            "http://mlflow:5000 and user:pass without a scheme",
            "http://mlflow:5000 and user:pass without a scheme",
        ),
        ("http://token@host/", "http://token@host/"),  # no password part: nothing to hide
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redact_logs()
    redact_logs()  # idempotent
    with caplog.at_level(logging.WARNING):
        logging.getLogger("some.library").warning("failed on %s", "postgresql://u:hunt@h/d")
    assert "hunt" not in caplog.text and "postgresql://u:***@h/d" in caplog.text
