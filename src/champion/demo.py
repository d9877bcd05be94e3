"""``champion demo``: the main job, end to end, embedded on one machine.

Today the story covers what champion can already do on its own data: profile the
reference split, watch two windows of simulated traffic — one stable, one with drift
injected into chosen columns by the original router's rule — and report the drift
check of each, in the console and in one self-contained HTML report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from champion.config import Settings
from champion.datasets import Dataset
from champion.drift import DriftResult, build_profile, check_drift
from champion.errors import InvalidInputError
from champion.report.drift import drift_section
from champion.report.html import page
from champion.simulate import make_traffic

#: Columns whose drift matters for each bundled dataset (strong predictors).
DEFAULT_DRIFT_COLS: dict[str, tuple[str, ...]] = {
    "titanic": ("Age", "Fare"),
    "diamonds": ("carat", "clarity"),
}


def default_drift_cols(source: Dataset) -> tuple[str, ...]:
    if source.name in DEFAULT_DRIFT_COLS:
        return DEFAULT_DRIFT_COLS[source.name]
    return source.schema.numeric[:2] or source.schema.categorical[:1]


def run_demo(
    source: Dataset,
    *,
    workdir: Path,
    drift_cols: Sequence[str] | None,
    rows: int,
    seed: int,
    settings: Settings,
    console: Console,
) -> dict[str, DriftResult]:
    """Run the demo story; returns the drift result of each traffic window."""
    from champion.cli.common import print_drift
    from champion.lifecycle import drift_config

    cols = tuple(drift_cols) if drift_cols else default_drift_cols(source)
    unknown = [c for c in cols if c not in source.schema.features]
    if unknown:
        raise InvalidInputError(
            f"--drift-cols: {', '.join(unknown)} not among the features "
            f"({', '.join(source.schema.features)})"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    config = drift_config(settings)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(source.frame))
    half = len(order) // 2
    reference = source.frame.iloc[order[:half]]
    holdout = source.frame.iloc[order[half:]]
    schema = source.schema
    console.rule(f"champion demo · {source.name} · {len(source.frame):,} rows · {schema.task}")

    results: dict[str, DriftResult] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        step = progress.add_task("profiling the reference split", total=3)
        profile = build_profile(
            reference,
            schema.numeric,
            schema.categorical,
            bins=config.bins,
            meta={"dataset": source.name, "rows": len(reference)},
        )
        (workdir / "reference_profile.json").write_text(profile.to_json(), encoding="utf-8")
        progress.update(step, advance=1, description="window 1: stable traffic")
        stable = make_traffic(holdout, rows, seed=seed + 1)
        results["stable"] = check_drift(profile, stable, config)
        progress.update(step, advance=1, description=f"window 2: drift in {', '.join(cols)}")
        drifted = make_traffic(holdout, rows, seed=seed + 2, drift_cols=cols)
        results["drifted"] = check_drift(profile, drifted, config)
        progress.update(step, advance=1, description="drift checks done")

    for name, result in results.items():
        console.rule(f"window: {name}")
        print_drift(result)

    html = page(
        f"champion demo — {source.name}",
        [
            drift_section(results["stable"], "Window 1 — stable traffic"),
            drift_section(results["drifted"], f"Window 2 — drift injected in {', '.join(cols)}"),
        ],
        subtitle=f"reference {len(reference):,} rows · {rows:,} rows per window · seed {seed}",
    )
    report = workdir / "report.html"
    report.write_text(html, encoding="utf-8")
    (workdir / "drift.json").write_text(
        json.dumps({k: v.to_dict() for k, v in results.items()}, indent=2), encoding="utf-8"
    )
    summary = Table(title="Summary")
    summary.add_column("window")
    summary.add_column("verdict")
    summary.add_column("drifted features")
    for name, result in results.items():
        summary.add_row(
            name, "DRIFT" if result.drifted else "no drift", ", ".join(result.drifted_features)
        )
    console.print(summary)
    console.print(f"report: {report.resolve()}")
    return results
