"""Command: ``adopt`` — a version the team registered itself becomes the champion (or
the challenger), and the whole loop runs on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from champion.cli.app import app
from champion.cli.common import JsonOpt, Opt, ReasonOpt, TaskOpt, choice, console
from champion.datasets import read_table
from champion.errors import InvalidInputError
from champion.lifecycle import Reference, adopt
from champion.settings import load_settings
from champion.types import Alias, Task


@app.command("adopt")
def adopt_command(
    model: Annotated[
        str, typer.Argument(help="models:/<name>/<version> or models:/<name>@<alias>")
    ],
    reference: Annotated[
        Path | None, Opt(help="The data it was trained on (CSV/Parquet): its drift reference.")
    ] = None,
    target: Annotated[str | None, Opt(help="The target column of --reference.")] = None,
    as_alias: Annotated[str, Opt("--as", help="champion (default) or challenger.")] = "champion",
    task: TaskOpt = None,
    force: Annotated[
        bool, Opt("--force", help="Reject a challenger under test to make room.")
    ] = False,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make an existing registered version the champion: its drift reference profile is
    built from --reference and stored, the move is recorded in the registry history, and
    from then on drift checks, retraining, A/B tests and promotion run on it."""
    role = choice(Alias, as_alias, "--as") or Alias.CHAMPION
    if (reference is None) != (target is None):
        raise InvalidInputError("--reference and --target go together")
    given = None
    if reference is not None and target is not None:
        source = str(reference.resolve())
        given = Reference(reference.name.split(".")[0], read_table(reference), target, source)
    settings = load_settings()
    outcome = adopt(
        settings,
        model,
        reference=given,
        role=role,
        task=choice(Task, task, "--task"),
        force=force,
        reason=reason,
    )
    if as_json:
        console.print_json(json.dumps(outcome.to_dict(), default=str))
        return
    before = f" (was v{outcome.previous})" if outcome.previous else ""
    console.print(f"{outcome.alias} -> {outcome.model_name} v{outcome.version}{before}")
    if outcome.rejected:
        console.print(f"challenger v{outcome.rejected} rejected to make room")
    if outcome.schema is not None:
        features = ", ".join(outcome.schema.features)
        console.print(
            f"{outcome.task} of {outcome.schema.target!r} from {features}; drift reference "
            f"profile of {outcome.reference_rows:,} rows stored in run {outcome.schema_run}"
        )
    if outcome.model_name != settings.model_name:
        console.print(
            f"note: champion follows CHAMPION_MODEL_NAME={settings.model_name!r}; "
            f"set CHAMPION_MODEL_NAME={outcome.model_name} for the API and the lifecycle"
        )
    if role == Alias.CHALLENGER:
        console.print("start its experiment with `champion ab start`")
