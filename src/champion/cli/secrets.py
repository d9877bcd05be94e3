"""Command: ``check-secrets`` — a deployment refuses to start on placeholder secrets.

The compose stack runs it once before anything else (``secrets-check``): every variable
of the environment whose name says it is a credential (``PASSWORD``, ``SECRET``,
``TOKEN``, ``KEY``) must be set to something other than an empty string or a
``change-me`` placeholder — except the optional ones named with ``--optional``, which
may be empty. Only the names are printed, never a value.
"""

from __future__ import annotations

import os
import re
from typing import Annotated

from champion.cli.app import app
from champion.cli.common import Opt, console, split
from champion.errors import ConfigError

_CREDENTIAL = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY|ACCESS_KEY")
_PLACEHOLDER = re.compile(r"change[-_ ]?me|changeme|placeholder|^x+$", re.IGNORECASE)


def placeholder_secrets(environ: dict[str, str], optional: set[str]) -> list[str]:
    """The credential variables of ``environ`` left empty or set to a placeholder."""
    bad = []
    for name, value in sorted(environ.items()):
        if not _CREDENTIAL.search(name):
            continue
        if value.strip() == "" and name in optional:
            continue
        if value.strip() == "" or _PLACEHOLDER.search(value):
            bad.append(name)
    return bad


@app.command("check-secrets")
def check_secrets(
    optional: Annotated[
        str | None, Opt(help="Comma-separated credential variables that may be empty.")
    ] = None,
) -> None:
    """Exit 2 naming every credential variable that is empty or still a placeholder."""
    bad = placeholder_secrets(dict(os.environ), set(split(optional) or []))
    if bad:
        raise ConfigError(
            f"placeholder or empty secrets: {', '.join(bad)} — set real values in .env"
        )
    console.print("secrets: no placeholder left")
