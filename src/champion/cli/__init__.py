"""The ``champion`` command line (Typer + rich).

Exit codes: 0 success; 2 bad input or settings (one line on stderr says what and how to
fix it); 3 drift found with ``--fail-on-drift``; 1 an external system failed.
"""

from __future__ import annotations

import logging
import sys

import click

from champion.cli import ab, drift, live, models, serve, simulate  # noqa: F401  (register the commands)
from champion.cli.app import app
from champion.cli.common import EXIT_INPUT, err_console
from champion.errors import ChampionError, InvalidInputError, NotFoundError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning champion errors into one line and an exit code."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no INFO chatter on the console
    try:
        code = app(args=argv, standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except (InvalidInputError, NotFoundError) as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(EXIT_INPUT)
    except ChampionError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
