"""The ``champion`` command line (Typer + rich).

Exit codes: 0 success; 2 bad input or settings (one line on stderr says what and how to
fix it); 3 drift found with ``--fail-on-drift``; 1 an external system failed.
"""

from __future__ import annotations

import logging
import os
import sys

import click
import typer

from champion.cli import (  # noqa: F401  (importing a module registers its commands)
    ab,
    ab_simulate,
    adopt,
    demo,
    drift,
    lifecycle,
    log,
    notify,
    registry,
    score,
    secrets,
    serve,
    simulate,
    train,
)
from champion.cli.app import app
from champion.cli.common import EXIT_INPUT, err_console
from champion.errors import ChampionError, InvalidInputError, NotFoundError
from champion.redact import redact, redact_logs

__all__ = ["app", "main"]

# Typer >= 0.2x vendors click: its usage errors are not ``click``'s classes.
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    {click.exceptions.ClickException, getattr(typer, "TyperException", click.ClickException)}
)
_ABORTS: tuple[type[BaseException], ...] = tuple({click.exceptions.Abort, typer.Abort})


def _usage_line(exc: Exception) -> str:
    """A click/typer usage error as one line that says how to get help."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "champion"
    return f"error: {message} (see `{command} --help`)"


def _error_line(text: str) -> None:
    err_console.print(redact(text), highlight=False, soft_wrap=True, markup=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning champion errors into one line and an exit code."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no INFO chatter on the console
    redact_logs()
    # MLflow writes "View run … at" to stdout after runs on a tracking server, which would
    # corrupt ``--json`` output; our commands print the run id themselves.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        code = app(args=argv, standalone_mode=False)
    except _ABORTS:
        err_console.print("aborted")
        sys.exit(130)
    except _USAGE_ERRORS as exc:
        err_console.print(redact(_usage_line(exc)), highlight=False, soft_wrap=True, markup=False)
        sys.exit(getattr(exc, "exit_code", EXIT_INPUT))
    except (InvalidInputError, NotFoundError) as exc:
        err_console.print(
            f"error: {redact(str(exc))}", highlight=False, soft_wrap=True, markup=False
        )
        sys.exit(EXIT_INPUT)
    except ChampionError as exc:
        err_console.print(
            f"error: {redact(str(exc))}", highlight=False, soft_wrap=True, markup=False
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
