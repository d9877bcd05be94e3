"""Commands: ``lifecycle bootstrap|drift-check|drift-retrain|evaluate-promote`` — the
steps the Airflow DAGs run, from the shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from champion.cli.ab import report_evaluation
from champion.cli.app import lifecycle_app
from champion.cli.common import (
    EXIT_DRIFT,
    BudgetOpt,
    DataOpt,
    DatasetOpt,
    JsonOpt,
    ModeOpt,
    Opt,
    SplitOpt,
    TargetOpt,
    TaskOpt,
    TrainerOpt,
    choice,
    console,
    load_source,
    search_progress,
    split_share,
    training_config,
)
from champion.cli.train import print_outcome
from champion.lifecycle import bootstrap, check_served_drift, drift_retrain, evaluate_and_promote
from champion.reports.console import drift_view
from champion.settings import load_settings
from champion.types import ABMode, Task


@lifecycle_app.command("bootstrap")
def lifecycle_bootstrap(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    task: TaskOpt = None,
    budget: BudgetOpt = None,
    trainer: TrainerOpt = None,
) -> None:
    """First run: when no champion exists, train one and make it champion."""
    kind = choice(Task, task, "--task")
    settings = load_settings()
    config = training_config(settings, task=kind, budget=budget, trainer=trainer)
    source = load_source(dataset, data, target, task)
    progress, tick = search_progress(config)
    with progress:
        outcome = bootstrap(settings, source, config, on_progress=tick)
    if outcome.training is not None:
        print_outcome(outcome.training)
        console.print(f"bootstrap: v{outcome.champion.version} is now the champion")
    else:
        console.print(f"bootstrap: a champion exists (v{outcome.champion.version}); nothing to do")


@lifecycle_app.command("drift-check")
def lifecycle_drift_check(
    window: Annotated[int | None, Opt(help="Latest served rows to check (default 2000).")] = None,
    fail_on_drift: Annotated[
        bool, Opt(help="Exit 3 when drift is found or the champion's performance dropped.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Drift of the features the API served against the champion's training data."""
    checked = check_served_drift(load_settings(), window=window)
    if as_json:
        body = {
            "champion": checked.champion,
            "rows": checked.rows,
            **checked.result.to_dict(),
            **{k: v for k, v in checked.to_dict().items() if k not in ("drifted", "reason")},
        }
        console.print_json(json.dumps(body))
    else:
        console.print(
            f"{checked.rows} served rows against champion v{checked.champion}'s training data"
        )
        console.print(drift_view(checked.result))
        if checked.result.joint is None and checked.note:
            console.print(f"joint check: {checked.note}")
        if checked.performance is not None:
            state = "DROPPED" if checked.performance.dropped else "ok"
            console.print(f"champion performance {state}: {checked.performance.reason}")
    if fail_on_drift and checked.retrain:
        raise typer.Exit(EXIT_DRIFT)


@lifecycle_app.command("drift-retrain")
def lifecycle_drift_retrain(
    force: Annotated[bool, Opt(help="Retrain even without drift.")] = False,
    mode: ModeOpt = None,
    split_b: SplitOpt = None,
    budget: BudgetOpt = None,
    trainer: TrainerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """On drift, retrain on the latest labelled rows, register a challenger, start an A/B."""
    routing, share = choice(ABMode, mode, "--mode"), split_share(split_b)
    settings = load_settings()
    config = training_config(settings, budget=budget, trainer=trainer)
    progress, tick = search_progress(config)
    with progress:
        outcome = drift_retrain(
            settings, config, force=force, mode=routing, split_b=share, on_progress=tick
        )
    if as_json:
        console.print_json(json.dumps(outcome.to_dict()))
        return
    if outcome.drift is not None:
        console.print(drift_view(outcome.drift.result))
    if outcome.retrained:
        console.print(
            f"challenger v{outcome.challenger} registered (run {outcome.run_id}); "
            f"experiment {outcome.experiment.experiment_id if outcome.experiment else '—'}"
        )
    console.print(outcome.note)


@lifecycle_app.command("evaluate-promote")
def lifecycle_evaluate_promote(as_json: JsonOpt = False) -> None:
    """Evaluate the experiment and act on the decision (the DAG's step)."""
    report_evaluation(evaluate_and_promote(load_settings(), apply=True), as_json)
