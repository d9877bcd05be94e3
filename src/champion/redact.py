"""Credentials out of what champion prints, returns and logs.

A URI may carry a password (``postgresql://champion:pw@db/champion``,
``http://admin:pw@mlflow:5000``), and error messages of the libraries below quote
the URI they failed on. :func:`redact` replaces every ``user:password@`` of a URL in a
text with ``user:***@``; it is applied to every message that leaves the process.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def redact_logs() -> None:
    """From now on, every log record of the process has its URLs' passwords redacted
    (a record factory, so libraries' own loggers and handlers are covered too)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "champion_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to logging
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return record

    factory.champion_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
