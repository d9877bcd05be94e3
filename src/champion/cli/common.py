"""Console output, shared options and option parsing of the commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from champion.datasets import BUNDLED, Dataset, infer_schema, load_data, load_dataset
from champion.errors import InvalidInputError
from champion.settings import Settings
from champion.training import TrainConfig
from champion.training.plugin import load_trainer
from champion.types import ABMode, Task, parse

console = Console()
err_console = Console(stderr=True)

EXIT_INPUT = 2
EXIT_DRIFT = 3

Opt = typer.Option
JsonOpt = Annotated[bool, Opt("--json", help="Print JSON instead of tables.")]
DatasetOpt = Annotated[str | None, Opt(help=f"Bundled dataset: {', '.join(BUNDLED)}.")]
DataOpt = Annotated[Path | None, Opt(help="Or any CSV/Parquet table; needs --target.")]
TargetOpt = Annotated[str | None, Opt(help="Target column.")]
TaskOpt = Annotated[str | None, Opt(help="classification | regression (default: inferred).")]
BudgetOpt = Annotated[float | None, Opt(help="Search time budget in seconds.")]
TrainerOpt = Annotated[
    str | None,
    Opt(help="Your training function, package.module:function, instead of the FLAML search."),
]
ReasonOpt = Annotated[str | None, Opt(help="Why (recorded in the registry history).")]
ModeOpt = Annotated[str | None, Opt(help=f"Routing: {' | '.join(ABMode)}.")]
SplitOpt = Annotated[float | None, Opt(help="Share of traffic to the challenger (0..1).")]
ShiftOpt = Annotated[
    float | None, Opt(help="Shift numeric drift columns by this many SDs (default: router rule).")
]

E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: str | None, option: str) -> E | None:
    """An option's value as a member of ``kind`` (None stays None); exit 2 otherwise."""
    return None if value is None else parse(kind, value, option)


def split_share(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise InvalidInputError(f"--split-b must be between 0 and 1, got {value}")
    return value


def split(values: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when absent or empty)."""
    if values is None:
        return None
    items = [v.strip() for v in values.split(",") if v.strip()]
    return items or None


def load_source(
    dataset: str | None,
    data: Path | None,
    target: str | None,
    task: str | None = None,
    *,
    default: str = "titanic",
) -> Dataset:
    """``--data PATH --target COL`` or ``--dataset NAME`` (else the ``default`` one)."""
    kind = choice(Task, task, "--task")
    if data is not None:
        if dataset is not None:
            raise InvalidInputError("give either --data or --dataset, not both")
        if target is None:
            raise InvalidInputError("--data needs --target COL (the column to predict)")
        return load_data(data, target=target, task=kind)
    source = load_dataset(dataset or default)
    if target is not None and target != source.schema.target:
        schema = infer_schema(source.frame, target=target, task=kind)
        return Dataset(source.name, source.frame, schema, source.source)
    if kind is not None and kind != source.schema.task:
        return Dataset(source.name, source.frame, replace(source.schema, task=kind), source.source)
    return source


def training_config(settings: Settings, **overrides: object) -> TrainConfig:
    """The training configuration of a command; a plug-in trainer is imported now, so a
    bad ``--trainer`` is one line before any data or model is touched."""
    config = settings.training.config(**overrides)
    if config.trainer is not None:
        load_trainer(config.trainer)
    return config


def search_progress(config: TrainConfig) -> tuple[Progress, Callable[[float, int], None]]:
    """A transient progress bar of the training on stderr (the AutoML search's seconds,
    or a plug-in trainer's folds), and its tick."""
    if config.trainer is not None:
        return _fold_progress(config)
    budget = config.budget
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


def _fold_progress(config: TrainConfig) -> tuple[Progress, Callable[[float, int], None]]:
    progress = Progress(
        TextColumn(f"[bold]trainer {config.trainer}[/] cross-validation"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} folds"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task("folds", total=config.folds)

    def tick(elapsed: float, folds: int) -> None:
        progress.update(task, completed=folds)

    return progress, tick
