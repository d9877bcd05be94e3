"""Commands: ``drift``, ``simulate sample``, ``demo``, ``version``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from champion import __version__
from champion.cli.app import app, simulate_app
from champion.cli.common import EXIT_DRIFT, console, load_source, print_drift, split
from champion.datasets import BUNDLED, load_data, read_table
from champion.drift import build_profile, check_drift
from champion.errors import InvalidInputError
from champion.lifecycle import drift_config
from champion.reports import write_drift_reports
from champion.settings import load_settings

Opt = typer.Option


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
    settings = load_settings()
    config = drift_config(
        settings,
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
    print_drift(result)
    if ref.schema.dropped:
        dropped = ", ".join(ref.schema.dropped)
        console.print(f"[dim]not monitored (identifier-like or empty): {dropped}[/]")
    write_drift_reports(result, html_path=html_out, json_path=json_out)
    for path in (json_out, html_out):
        if path is not None:
            console.print(f"wrote {path}")
    if fail_on_drift and result.drifted:
        raise typer.Exit(EXIT_DRIFT)


@simulate_app.command("sample")
def simulate_sample(
    out: Annotated[Path, Opt(help="Output file (.csv, .csv.gz or .parquet).")],
    dataset: Annotated[str | None, Opt(help=f"Bundled dataset: {', '.join(BUNDLED)}.")] = None,
    data: Annotated[Path | None, Opt(help="Or any CSV/Parquet table.")] = None,
    target: Annotated[str | None, Opt(help="Target column of --data.")] = None,
    rows: Annotated[int, Opt(min=1, help="Rows to draw.")] = 1000,
    drift_cols: Annotated[str | None, Opt(help="Comma-separated columns to drift.")] = None,
    shift_sd: Annotated[
        float | None,
        Opt(help="Shift numeric drift columns by this many SDs (default: router drift)."),
    ] = None,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
) -> None:
    """Write a sample of a dataset, optionally with drift injected into chosen columns."""
    from champion.simulation.drift import make_traffic

    source = load_source(dataset, data, target)
    frame = make_traffic(
        source.frame, rows, seed=seed, drift_cols=split(drift_cols) or (), shift_sd=shift_sd
    )
    suffix = "".join(out.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
    elif suffix.endswith((".csv", ".csv.gz")):
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
    else:
        raise InvalidInputError(f"--out {out}: use a .csv, .csv.gz or .parquet file name")
    console.print(f"wrote {len(frame):,} rows to {out}")


@app.command()
def demo(
    dataset: Annotated[str | None, Opt(help=f"Bundled dataset: {', '.join(BUNDLED)}.")] = None,
    data: Annotated[Path | None, Opt(help="Or any CSV/Parquet table.")] = None,
    target: Annotated[str | None, Opt(help="Target column of --data.")] = None,
    workdir: Annotated[Path, Opt(help="Where the demo keeps its state and report.")] = Path(
        "champion-demo"
    ),
    drift_cols: Annotated[
        str | None, Opt(help="Comma-separated columns to drift (default per dataset).")
    ] = None,
    mode: Annotated[str, Opt(help="Experiment routing: shadow | hash | random.")] = "shadow",
    rows: Annotated[int, Opt(min=100, help="Rows per traffic window (stable, drifted).")] = 1500,
    eval_every: Annotated[int, Opt(min=50, help="Rows of traffic between evaluations.")] = 500,
    max_evaluations: Annotated[int, Opt(min=1, help="Evaluations before the horizon.")] = 12,
    budget: Annotated[float, Opt(min=1, help="AutoML seconds per training.")] = 8.0,
    shift_sd: Annotated[
        float, Opt(min=0, help="Shift numeric drift columns by this many SDs (0: router rule).")
    ] = 1.0,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
) -> None:
    """The whole lifecycle end to end, embedded: bootstrap, traffic, drift, retrain, A/B,
    promotion; a report at WORKDIR/report.html."""
    from champion.demo.run import DemoOptions, run_demo

    run_demo(
        load_source(dataset, data, target),
        workdir=workdir,
        drift_cols=split(drift_cols),
        options=DemoOptions(
            mode=mode,
            rows=rows,
            eval_every=eval_every,
            max_evaluations=max_evaluations,
            budget=budget,
            shift_sd=shift_sd,
            seed=seed,
        ),
        settings=load_settings(),
        console=console,
    )


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"champion {__version__}")
