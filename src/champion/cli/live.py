"""Commands on live data: ``lifecycle drift-check`` and ``lifecycle drift-retrain``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from champion.cli.ab import ModeOpt, SplitOpt, _check
from champion.cli.app import lifecycle_app
from champion.cli.common import EXIT_DRIFT, console, print_drift
from champion.cli.models import BudgetOpt, JsonOpt, _search_progress
from champion.lifecycle import check_served_drift, drift_retrain, train_config
from champion.settings import load_settings

Opt = typer.Option


@lifecycle_app.command("drift-check")
def lifecycle_drift_check(
    window: Annotated[int | None, Opt(help="Latest served rows to check (default 2000).")] = None,
    fail_on_drift: Annotated[bool, Opt(help="Exit 3 when drift is found.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Drift of the features the API served against the champion's training data."""
    settings = load_settings()
    checked = check_served_drift(settings, window=window)
    if as_json:
        console.print_json(
            json.dumps(
                {"champion": checked.champion, "rows": checked.rows, **checked.result.to_dict()}
            )
        )
    else:
        console.print(
            f"{checked.rows} served rows against champion v{checked.champion}'s training data"
        )
        print_drift(checked.result)
    if fail_on_drift and checked.result.drifted:
        raise typer.Exit(EXIT_DRIFT)


@lifecycle_app.command("drift-retrain")
def lifecycle_drift_retrain(
    force: Annotated[bool, Opt(help="Retrain even without drift.")] = False,
    mode: ModeOpt = None,
    split_b: SplitOpt = None,
    budget: BudgetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """On drift, retrain on the latest labelled rows, register a challenger, start an A/B."""
    _check(mode, split_b)
    settings = load_settings()
    config = train_config(settings, budget=budget)
    progress, tick = _search_progress(config.budget)
    with progress:
        outcome = drift_retrain(
            settings, config, force=force, mode=mode, split_b=split_b, on_progress=tick
        )
    if as_json:
        console.print_json(json.dumps(outcome.to_dict()))
        return
    if outcome.drift is not None:
        print_drift(outcome.drift.result)
    if outcome.retrained:
        console.print(
            f"challenger v{outcome.challenger} registered (run {outcome.run_id}); "
            f"experiment {outcome.experiment.experiment_id if outcome.experiment else '—'}"
        )
    console.print(outcome.note)
