"""Commands: ``train``, ``registry list|history``, ``promote``, ``rollback``,
``lifecycle bootstrap``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from champion.cli.app import app, lifecycle_app, registry_app
from champion.cli.common import console, err_console, load_source
from champion.datasets import BUNDLED
from champion.errors import InvalidInputError
from champion.lifecycle import (
    TrainOutcome,
    bootstrap,
    open_registry,
    train_and_register,
    train_config,
)
from champion.settings import load_settings
from champion.training import TrainResult

Opt = typer.Option
DataOpt = Annotated[Path | None, Opt(help="Training data (CSV/Parquet); needs --target.")]
DatasetOpt = Annotated[str | None, Opt(help=f"Bundled dataset: {', '.join(BUNDLED)}.")]
TargetOpt = Annotated[str | None, Opt(help="Target column.")]
TaskOpt = Annotated[str | None, Opt(help="classification | regression (default: inferred).")]
MetricOpt = Annotated[
    str | None, Opt(help="Selection metric (default: recall / mae). See the README.")
]
BudgetOpt = Annotated[float | None, Opt(help="Search time budget in seconds.")]
SeedOpt = Annotated[int | None, Opt(help="Random seed.")]
ReasonOpt = Annotated[str | None, Opt(help="Why (recorded in the registry history).")]


def _check_task(task: str | None) -> None:
    if task is not None and task not in ("classification", "regression"):
        raise InvalidInputError(f"--task must be classification or regression, got {task!r}")


def _search_progress(budget: float) -> tuple[Progress, object]:
    progress = Progress(
        TextColumn("[bold]AutoML search[/]"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s · {task.fields[evals]} evaluations"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,  # stdout keeps the result, stderr only an error
    )
    task = progress.add_task("search", total=budget, evals=0)

    def tick(elapsed: float, evaluations: int) -> None:
        progress.update(task, completed=min(elapsed, budget), evals=evaluations)

    return progress, tick


SHORT = {
    "selected": "",
    "accuracy": "acc",
    "precision": "prec",
    "log_loss": "logloss",
    "roc_auc": "auc",
    "threshold": "thr",
    "recall_at_threshold": "rec@thr",
    "precision_at_threshold": "prec@thr",
}


def print_leaderboard(result: TrainResult) -> None:
    board = result.leaderboard_frame()
    table = Table(title=f"Leaderboard ({result.task}, {result.config.folds}-fold CV)")
    for col in board.columns:
        table.add_column(SHORT.get(col, col), justify="left" if col == "family" else "right")
    for row in board.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, bool):
                cells.append("★" if value else "")
            elif isinstance(value, float):
                cells.append("" if value != value else f"{value:.3f}")
            else:
                cells.append("" if value is None else str(value))
        table.add_row(*cells)
    console.print(table)
    console.print(f"selected: {result.selection.reason}")


def print_outcome(outcome: TrainOutcome) -> None:
    print_leaderboard(outcome.result)
    scores = ", ".join(f"{k} {v:.4f}" for k, v in outcome.result.cv_scores.items() if v == v)
    console.print(f"CV scores of the shipped model: {scores}")
    if outcome.run is not None:
        console.print(f"MLflow run {outcome.run.run_id} · model {outcome.run.model_uri}")
    if outcome.version is not None:
        aliases = ", ".join(outcome.version.aliases) or "no alias"
        console.print(
            f"registered [bold]{outcome.version.name}[/] v{outcome.version.version} ({aliases})"
        )
    if outcome.note:
        console.print(f"[yellow]{outcome.note}[/]")


@app.command()
def train(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    task: TaskOpt = None,
    metric: MetricOpt = None,
    budget: BudgetOpt = None,
    seed: SeedOpt = None,
    register: Annotated[
        str | None, Opt(help="Register the model as challenger or champion (default: don't).")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Train with AutoML, log the run to MLflow, optionally register it under an alias."""
    _check_task(task)
    if register not in (None, "challenger", "champion"):
        raise InvalidInputError(f"--register must be challenger or champion, got {register!r}")
    settings = load_settings()
    source = load_source(dataset, data, target, task)
    config = train_config(settings, task=task, metric=metric, budget=budget, seed=seed)
    progress, tick = _search_progress(config.budget)
    with progress:
        outcome = train_and_register(
            settings,
            source,
            config,
            register_as=register,  # type: ignore[arg-type]
            reason=reason or f"trained on {source.name} from the command line",
            on_progress=tick,  # type: ignore[arg-type]
        )
    print_outcome(outcome)


@lifecycle_app.command("bootstrap")
def lifecycle_bootstrap(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    task: TaskOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """First run: when no champion exists, train one and make it champion."""
    _check_task(task)
    settings = load_settings()
    source = load_source(dataset, data, target, task)
    config = train_config(settings, task=task, budget=budget)
    progress, tick = _search_progress(config.budget)
    with progress:
        outcome = bootstrap(settings, source, config, on_progress=tick)  # type: ignore[arg-type]
    if outcome.training is not None:
        print_outcome(outcome.training)
        console.print(f"bootstrap: v{outcome.champion.version} is now the champion")
    else:
        console.print(f"bootstrap: a champion exists (v{outcome.champion.version}); nothing to do")


JsonOpt = Annotated[bool, Opt("--json", help="Print JSON instead of a table.")]


@registry_app.command("list")
def registry_list(as_json: JsonOpt = False) -> None:
    """Every version of the model, with its aliases and run."""
    settings = load_settings()
    registry = open_registry(settings)
    versions = registry.versions()
    if as_json:
        rows = [
            {
                "version": v.version,
                "aliases": list(v.aliases),
                "created_at": v.created_at.isoformat(),
                "run_id": v.run_id,
                "tags": v.tags,
            }
            for v in versions
        ]
        console.print_json(json.dumps(rows))
        return
    if not versions:
        console.print(f"model {settings.model_name!r} has no registered version yet")
        return
    table = Table(title=f"{settings.model_name} ({registry.client.tracking_uri})")
    for col in ("version", "aliases", "created (UTC)", "run", "dataset", "last move"):
        table.add_column(col, overflow="fold")
    for v in versions:
        moves = {
            k: val for k, val in v.tags.items() if k.startswith("champion.") and k.endswith(".at")
        }
        last = max(moves.items(), key=lambda kv: kv[1])[0].split(".")[1] if moves else ""
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.run_id or "",
            v.tags.get("champion.dataset", ""),
            last,
        )
    console.print(table)


@registry_app.command("history")
def registry_history(as_json: JsonOpt = False) -> None:
    """Who moved which alias, when, and why."""
    settings = load_settings()
    events = open_registry(settings).history()
    if as_json:
        console.print_json(json.dumps([e.__dict__ for e in events]))
        return
    if not events:
        console.print(f"model {settings.model_name!r} has no recorded alias move yet")
        return
    table = Table(title=f"Alias history of {settings.model_name}")
    for col in ("when (UTC)", "action", "alias", "version", "previous", "by", "why"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            e.at, e.action, e.alias, e.version or "—", e.previous or "—", e.actor, e.reason
        )
    console.print(table)


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Argument(help="Version (default: the challenger).")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Make a version (default: the challenger) the champion."""
    settings = load_settings()
    registry = open_registry(settings)
    event = registry.promote(
        version, actor=settings.who, reason=reason or "promoted from the command line"
    )
    before = f" (was v{event.previous})" if event.previous else ""
    console.print(f"champion -> v{event.version}{before}")


@app.command()
def rollback(reason: ReasonOpt = None) -> None:
    """Return the champion alias to the version the current champion replaced."""
    settings = load_settings()
    registry = open_registry(settings)
    event = registry.rollback(
        actor=settings.who, reason=reason or "rolled back from the command line"
    )
    console.print(f"champion -> v{event.version} (rolled back from v{event.previous})")
