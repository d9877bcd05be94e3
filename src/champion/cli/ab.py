"""Commands: ``ab status|config|start|evaluate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from rich.table import Table

from champion.abtest import decide_frame
from champion.cli.app import ab_app
from champion.cli.common import JsonOpt, ModeOpt, Opt, SplitOpt, choice, console, split_share
from champion.datasets import read_table
from champion.errors import InvalidInputError
from champion.lifecycle import EvaluationOutcome, evaluate_and_promote, start_experiment
from champion.predictionlog import DEFAULT_EXPERIMENT, VariantStats, open_store
from champion.reports.console import decision_view
from champion.settings import load_settings
from champion.tracking.registry import open_registry
from champion.types import ABMode, Alias, Task


def _figures(stats: list[VariantStats]) -> Table:
    table = Table(title="Live figures")
    for col in ("variant", "versions", "predictions", "labelled", "accuracy", "MAE", "latency"):
        table.add_column(col, justify="left" if col in ("variant", "versions") else "right")
    for s in stats:
        table.add_row(
            s.variant,
            ", ".join(s.model_versions),
            str(s.predictions),
            str(s.labelled),
            "—" if s.accuracy is None else f"{s.accuracy:.4f}",
            "—" if s.mae is None else f"{s.mae:.4g}",
            "—" if s.mean_latency_ms is None else f"{s.mean_latency_ms:.1f} ms",
        )
    return table


@ab_app.command("status")
def ab_status(as_json: JsonOpt = False) -> None:
    """The experiment in force, the versions under test and live per-variant figures."""
    settings = load_settings()
    registry = open_registry(settings)
    champion, challenger = (registry.alias(alias) for alias in Alias)
    store = open_store(settings)
    config = store.ab_config()
    stats = store.variant_stats(config.experiment_id if config else DEFAULT_EXPERIMENT)
    if as_json:
        body = {
            "champion": champion.version if champion else None,
            "challenger": challenger.version if challenger else None,
            "config": config.to_dict() if config else None,
            "variants": [s.__dict__ for s in stats],
        }
        console.print_json(json.dumps(body))
        return
    versions = (
        f"champion v{champion.version if champion else '—'}, "
        f"challenger v{challenger.version if challenger else '—'}"
    )
    if config is None:
        console.print(f"{versions}; no experiment stored (the API routes by its settings)")
    else:
        console.print(
            f"{versions}; experiment {config.experiment_id}: mode {config.mode}, "
            f"split B {config.split_b:g} (set by {config.updated_by}"
            f"{': ' + config.note if config.note else ''})"
        )
    console.print(_figures(stats))


@ab_app.command("config")
def ab_config(mode: ModeOpt = None, split_b: SplitOpt = None, as_json: JsonOpt = False) -> None:
    """Show the A/B configuration; with --mode/--split-b, change it (same experiment)."""
    new_mode, new_split = choice(ABMode, mode, "--mode"), split_share(split_b)
    settings = load_settings()
    store = open_store(settings)
    config = store.ab_config()
    if new_mode is not None or new_split is not None:
        config = store.set_ab_config(
            experiment_id=config.experiment_id if config else DEFAULT_EXPERIMENT,
            mode=new_mode or (config.mode if config else settings.ab.mode),
            split_b=new_split if new_split is not None else (config.split_b if config else 0.5),
            updated_by=settings.who,
            note="changed from the command line",
        )
    if as_json:
        console.print_json(json.dumps(config.to_dict() if config else None))
    elif config is None:
        console.print(f"no A/B configuration stored; the API uses mode {settings.ab.mode}")
    else:
        console.print(
            f"experiment {config.experiment_id}: mode {config.mode}, split B {config.split_b:g}"
        )


@ab_app.command("start")
def ab_start(mode: ModeOpt = None, split_b: SplitOpt = None) -> None:
    """Start a new experiment: the challenger against the champion."""
    config = start_experiment(
        load_settings(), mode=choice(ABMode, mode, "--mode"), split_b=split_share(split_b)
    )
    console.print(
        f"experiment {config.experiment_id} started: mode {config.mode}, split B {config.split_b:g}"
    )


def print_evaluation(outcome: EvaluationOutcome) -> None:
    decision = outcome.decision
    if decision is None:
        console.print(outcome.note)
        return
    console.print(
        decision_view(
            decision,
            experiment=outcome.experiment_id,
            champion=outcome.champion,
            challenger=outcome.challenger,
        )
    )
    if outcome.applied:
        console.print(f"applied: {outcome.applied}")
    elif outcome.repeated:
        console.print("nothing new since the previous look: not logged again")
    if outcome.ignored_rows:
        console.print(f"{outcome.ignored_rows} rows of other model versions were left out")


def report_evaluation(outcome: EvaluationOutcome, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(outcome.to_dict(), default=str))
    else:
        print_evaluation(outcome)


@ab_app.command("evaluate")
def ab_evaluate(
    promote: Annotated[
        bool, Opt("--promote", help="Act on the decision: promote or reject the challenger.")
    ] = False,
    rows: Annotated[
        Path | None,
        Opt(help="Decide on a CSV/Parquet of rows instead (docs/statistics.md: the columns)."),
    ] = None,
    task: Annotated[str, Opt(help="--rows: classification | regression.")] = "classification",
    mode: ModeOpt = None,
    split_b: SplitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the experiment (logged to MLflow); with --promote, act on the decision.
    With --rows, decide on a file of rows a user already has (nothing is logged)."""
    if rows is None:
        report_evaluation(evaluate_and_promote(load_settings(), apply=promote), as_json)
        return
    if promote:
        raise InvalidInputError("--promote acts on the running experiment, not on --rows")
    settings = load_settings()
    routing = choice(ABMode, mode, "--mode") or settings.ab.mode
    share = split_share(split_b)
    decision = decide_frame(
        read_table(rows),
        settings.ab.policy(),
        task=choice(Task, task, "--task") or Task.CLASSIFICATION,
        mode=routing,
        split_b=settings.ab.split_b if share is None else share,
    )
    if as_json:
        console.print_json(json.dumps(decision.to_dict(), default=str))
        return
    console.print(decision_view(decision, experiment=str(rows), champion="A", challenger="B"))
