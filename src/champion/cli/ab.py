"""Commands: ``ab status|config|start|evaluate`` and ``lifecycle evaluate-promote``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from champion.cli.app import ab_app, lifecycle_app
from champion.cli.common import console
from champion.errors import InvalidInputError
from champion.lifecycle import (
    EvaluationOutcome,
    evaluate_and_promote,
    open_registry,
    open_store,
    start_experiment,
)
from champion.predictionlog import AB_MODES
from champion.settings import load_settings
from champion.tracking.registry import CHALLENGER, CHAMPION

Opt = typer.Option
JsonOpt = Annotated[bool, Opt("--json", help="Print JSON instead of tables.")]
ModeOpt = Annotated[str | None, Opt(help=f"Routing: {' | '.join(AB_MODES)}.")]
SplitOpt = Annotated[float | None, Opt(help="Share of traffic to the challenger (0..1).")]


def _check(mode: str | None, split_b: float | None) -> None:
    if mode is not None and mode not in AB_MODES:
        raise InvalidInputError(f"--mode must be one of {', '.join(AB_MODES)}, got {mode!r}")
    if split_b is not None and not 0 <= split_b <= 1:
        raise InvalidInputError(f"--split-b must be between 0 and 1, got {split_b}")


@ab_app.command("status")
def ab_status(as_json: JsonOpt = False) -> None:
    """The experiment in force, the versions under test and live per-variant figures."""
    settings = load_settings()
    registry = open_registry(settings)
    champion, challenger = registry.alias(CHAMPION), registry.alias(CHALLENGER)
    store = open_store(settings)
    config = store.ab_config()
    experiment = config.experiment_id if config else "default"
    stats = store.variant_stats(experiment)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "champion": champion.version if champion else None,
                    "challenger": challenger.version if challenger else None,
                    "config": config.to_dict() if config else None,
                    "variants": [s.__dict__ for s in stats],
                }
            )
        )
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
    console.print(table)


@ab_app.command("config")
def ab_config(mode: ModeOpt = None, split_b: SplitOpt = None, as_json: JsonOpt = False) -> None:
    """Show the A/B configuration; with --mode/--split-b, change it (same experiment)."""
    _check(mode, split_b)
    settings = load_settings()
    store = open_store(settings)
    config = store.ab_config()
    if mode is not None or split_b is not None:
        config = store.set_ab_config(
            experiment_id=config.experiment_id if config else "default",
            mode=mode or (config.mode if config else settings.ab_mode),
            split_b=split_b if split_b is not None else (config.split_b if config else 0.5),
            updated_by=settings.who,
            note="changed from the command line",
        )
    if as_json:
        console.print_json(json.dumps(config.to_dict() if config else None))
    elif config is None:
        console.print(f"no A/B configuration stored; the API uses mode {settings.ab_mode}")
    else:
        console.print(
            f"experiment {config.experiment_id}: mode {config.mode}, split B {config.split_b:g}"
        )


@ab_app.command("start")
def ab_start(mode: ModeOpt = None, split_b: SplitOpt = None) -> None:
    """Start a new experiment: the challenger against the champion."""
    _check(mode, split_b)
    config = start_experiment(load_settings(), mode=mode, split_b=split_b)
    console.print(
        f"experiment {config.experiment_id} started: mode {config.mode}, split B {config.split_b:g}"
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def print_evaluation(outcome: EvaluationOutcome) -> None:
    decision = outcome.decision
    if decision is None:
        console.print(outcome.note)
        return
    table = Table(title=f"Experiment {outcome.experiment_id}")
    table.add_column("metric")
    table.add_column(f"A (v{outcome.champion})", justify="right")
    table.add_column(f"B (v{outcome.challenger})", justify="right")
    names = sorted({k for values in decision.metrics.values() for k in values})
    for name in names:
        table.add_row(
            name, _fmt(decision.metrics["A"].get(name)), _fmt(decision.metrics["B"].get(name))
        )
    console.print(table)
    iv = decision.interval
    kind = "paired (shadow)" if decision.paired else "unpaired (split)"
    console.print(
        f"B - A ({kind}, {1 - iv.alpha:.0%} anytime-valid): {iv.estimate:+.4f} "
        f"in [{iv.lower:+.4f}, {iv.upper:+.4f}], always-valid p = {iv.p_value:.3g}"
    )
    for label, test in (
        ("sample-ratio mismatch p", decision.srm),
        ("McNemar p", decision.mcnemar),
        ("chi-square p (fixed horizon, NOT valid under repeated looks)", decision.chi_square),
    ):
        if test is not None:
            console.print(f"{label} = {test.p_value:.3g}")
    style = {"promote": "green", "reject": "red", "invalid": "red"}.get(decision.action, "yellow")
    console.print(f"decision: [bold {style}]{decision.action}[/]")
    for reason in decision.reasons:
        console.print(f"  - {reason}", highlight=False)
    if outcome.applied:
        console.print(f"applied: {outcome.applied}")
    elif outcome.repeated:
        console.print("nothing new since the previous look: not logged again")
    if outcome.ignored_rows:
        console.print(f"{outcome.ignored_rows} rows of other model versions were left out")


@ab_app.command("evaluate")
def ab_evaluate(
    promote: Annotated[
        bool, Opt("--promote", help="Act on the decision: promote or reject the challenger.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the experiment (logged to MLflow); with --promote, act on the decision."""
    outcome = evaluate_and_promote(load_settings(), apply=promote)
    if as_json:
        console.print_json(json.dumps(outcome.to_dict(), default=str))
    else:
        print_evaluation(outcome)


@lifecycle_app.command("evaluate-promote")
def lifecycle_evaluate_promote(as_json: JsonOpt = False) -> None:
    """Evaluate the experiment and act on the decision (the DAG's step)."""
    outcome = evaluate_and_promote(load_settings(), apply=True)
    if as_json:
        console.print_json(json.dumps(outcome.to_dict(), default=str))
    else:
        print_evaluation(outcome)
