"""Console output and option parsing shared by the commands."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from champion.datasets import Dataset, load_data, load_dataset
from champion.drift import DriftResult
from champion.errors import InvalidInputError

console = Console()
err_console = Console(stderr=True)

EXIT_INPUT = 2
EXIT_DRIFT = 3


def split(values: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when absent or empty)."""
    if values is None:
        return None
    items = [v.strip() for v in values.split(",") if v.strip()]
    return items or None


def load_source(
    dataset: str | None, data: Path | None, target: str | None, task: str | None = None
) -> Dataset:
    """``--data PATH --target COL`` or ``--dataset NAME`` (default titanic)."""
    if data is not None:
        if dataset is not None:
            raise InvalidInputError("give either --data or --dataset, not both")
        if target is None:
            raise InvalidInputError("--data needs --target COL (the column to predict)")
        return load_data(data, target=target, task=task)  # type: ignore[arg-type]
    source = load_dataset(dataset or "titanic")
    if target is not None and target != source.schema.target:
        from champion.datasets import infer_schema

        schema = infer_schema(source.frame, target=target, task=task)  # type: ignore[arg-type]
        return Dataset(source.name, source.frame, schema, source.source)
    if task is not None and task != source.schema.task:
        from dataclasses import replace

        return Dataset(source.name, source.frame, replace(source.schema, task=task), source.source)
    return source


def print_drift(result: DriftResult) -> None:
    """The per-feature table and the verdict, on the console."""
    table = Table(title="Drift per feature")
    for col in ("feature", "kind", "PSI", "test", "statistic", "p-value", "missing", "drift"):
        table.add_column(col, justify="right" if col in ("PSI", "statistic", "p-value") else "left")
    for f in result.features:
        table.add_row(
            f.feature,
            "num" if f.kind == "numeric" else "cat",
            f"{f.psi:.4f}",
            "KS" if f.test == "ks" else "chi2",
            f"{f.statistic:.4g}",
            f"{f.p_value:.3g}",
            f"{f.missing_reference:.0%}→{f.missing_current:.0%}",
            "[bold red]yes[/]" if f.drifted else "[green]no[/]",
        )
    console.print(table)
    verdict = "[bold red]DRIFT[/]" if result.drifted else "[bold green]no drift[/]"
    console.print(f"{verdict}: {result.reason} (mean PSI {result.mean_psi:.3f})")
