"""Command: ``train``."""

from __future__ import annotations

from typing import Annotated

from champion.cli.app import app
from champion.cli.common import (
    BudgetOpt,
    DataOpt,
    DatasetOpt,
    Opt,
    ReasonOpt,
    TargetOpt,
    TaskOpt,
    TrainerOpt,
    choice,
    console,
    load_source,
    search_progress,
    training_config,
)
from champion.lifecycle import TrainOutcome, train_and_register
from champion.reports.console import leaderboard_view
from champion.settings import load_settings
from champion.types import Alias, Task

MetricOpt = Annotated[
    str | None, Opt(help="Selection metric (default: recall / mae). See the README.")
]
SeedOpt = Annotated[int | None, Opt(help="Random seed.")]


def print_outcome(outcome: TrainOutcome) -> None:
    """The leaderboard, the shipped model's scores, and where the run and model went."""
    console.print(leaderboard_view(outcome.result))
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
    trainer: TrainerOpt = None,
    register: Annotated[
        str | None, Opt(help="Register the model as challenger or champion (default: don't).")
    ] = None,
    reason: ReasonOpt = None,
) -> None:
    """Train with AutoML, log the run to MLflow, optionally register it under an alias."""
    kind = choice(Task, task, "--task")
    alias = choice(Alias, register, "--register")
    settings = load_settings()
    config = training_config(
        settings, task=kind, metric=metric, budget=budget, seed=seed, trainer=trainer
    )
    source = load_source(dataset, data, target, task)
    progress, tick = search_progress(config)
    with progress:
        outcome = train_and_register(
            settings,
            source,
            config,
            register_as=alias,
            reason=reason or f"trained on {source.name} from the command line",
            on_progress=tick,
        )
    print_outcome(outcome)
