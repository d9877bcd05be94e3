"""Command: ``drift`` (two tables, no MLflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from champion.cli.app import app
from champion.cli.common import EXIT_DRIFT, Opt, console, split
from champion.datasets import load_data, read_table
from champion.drift import build_profile, check_drift
from champion.reports import write_drift_reports
from champion.reports.console import drift_view
from champion.settings import load_settings


@app.command()
def drift(
    reference: Annotated[Path, Opt(help="Reference data (CSV/Parquet), e.g. training data.")],
    current: Annotated[Path, Opt(help="Current data (CSV/Parquet), e.g. served features.")],
    features: Annotated[
        str | None, Opt(help="Comma-separated columns to monitor (default: all features).")
    ] = None,
    target: Annotated[
        str | None, Opt(help="Target column of the reference, left out of the check.")
    ] = None,
    rule: Annotated[str | None, Opt(help="Dataset rule: any | mean_psi | share.")] = None,
    alpha: Annotated[float | None, Opt(help="Test level (p-value below it rejects).")] = None,
    psi_threshold: Annotated[float | None, Opt(help="Feature PSI above it is drift.")] = None,
    drift_threshold: Annotated[
        float | None, Opt(help="Rule mean_psi: mean PSI above it is drift.")
    ] = None,
    bins: Annotated[int | None, Opt(help="Quantile bins for numeric PSI.")] = None,
    json_out: Annotated[Path | None, Opt("--json", help="Write the result as JSON.")] = None,
    html_out: Annotated[Path | None, Opt("--html", help="Write an HTML report.")] = None,
    fail_on_drift: Annotated[
        bool, Opt("--fail-on-drift", help="Exit with code 3 when drift is found.")
    ] = False,
) -> None:
    """Compare current data with reference data: PSI, KS, chi-square, per feature."""
    config = load_settings().drift.config(
        rule=rule,
        alpha=alpha,
        psi_threshold=psi_threshold,
        drift_threshold=drift_threshold,
        bins=bins,
    )
    ref = load_data(reference, target=target, features=split(features))
    cur = read_table(current)
    profile = build_profile(ref.frame, ref.schema.numeric, ref.schema.categorical, bins=config.bins)
    result = check_drift(profile, cur, config)
    console.print(drift_view(result))
    if ref.schema.dropped:
        dropped = ", ".join(ref.schema.dropped)
        console.print(f"[dim]not monitored (identifier-like or empty): {dropped}[/]")
    write_drift_reports(result, html_path=html_out, json_path=json_out)
    for path in (json_out, html_out):
        if path is not None:
            console.print(f"wrote {path}")
    if fail_on_drift and result.drifted:
        raise typer.Exit(EXIT_DRIFT)
