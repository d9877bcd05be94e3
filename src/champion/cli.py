"""The ``champion`` command line (Typer + rich).

Exit codes: 0 success; 2 bad input or settings (one line on stderr says what and how to
fix it); 3 drift found with ``--fail-on-drift``; 1 an external system failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from champion import __version__
from champion.config import Settings, load_settings
from champion.datasets import BUNDLED, Dataset, load_data, load_dataset, read_table
from champion.drift import DriftConfig, DriftResult, build_profile, check_drift
from champion.errors import ChampionError, InvalidInputError, NotFoundError
from champion.report import write_drift_reports

app = typer.Typer(
    name="champion",
    help="Keep a production tabular model healthy: drift, AutoML retraining, A/B, promotion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
simulate_app = typer.Typer(help="Simulated traffic and drift.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")

console = Console()
err_console = Console(stderr=True)

EXIT_INPUT = 2
EXIT_DRIFT = 3


def _split(values: str | None) -> list[str] | None:
    if values is None:
        return None
    items = [v.strip() for v in values.split(",") if v.strip()]
    return items or None


def drift_config(settings: Settings, **overrides: object) -> DriftConfig:
    """The drift configuration in force: settings, then non-None overrides."""
    values: dict[str, object] = {
        "rule": settings.drift_rule,
        "alpha": settings.drift_alpha,
        "psi_threshold": settings.psi_threshold,
        "drift_threshold": settings.drift_threshold,
        "share_threshold": settings.drift_share,
        "ks_floor": settings.ks_floor,
        "psi_floor": settings.psi_floor,
        "correction": settings.drift_correction,
        "bins": settings.drift_bins,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DriftConfig(**values)  # type: ignore[arg-type]


def print_drift(result: DriftResult) -> None:
    """The per-feature table and the verdict, on the console."""
    table = Table(title="Drift per feature", show_lines=False)
    for col in ("feature", "kind", "PSI", "test", "statistic", "p-value", "missing", "drift"):
        table.add_column(col, justify="right" if col in ("PSI", "statistic", "p-value") else "left")
    for f in result.features:
        table.add_row(
            f.feature,
            f.kind,
            f"{f.psi:.4f}",
            "KS" if f.test == "ks" else "chi2",
            f"{f.statistic:.4g}",
            f"{f.p_value:.3g}",
            f"{f.missing_reference:.1%} → {f.missing_current:.1%}",
            "[bold red]yes[/]" if f.drifted else "[green]no[/]",
        )
    console.print(table)
    verdict = "[bold red]DRIFT[/]" if result.drifted else "[bold green]no drift[/]"
    console.print(f"{verdict}: {result.reason} (mean PSI {result.mean_psi:.3f})")


@app.command()
def drift(
    reference: Annotated[
        Path, typer.Option(help="Reference data (CSV/Parquet), e.g. training data.")
    ],
    current: Annotated[
        Path, typer.Option(help="Current data (CSV/Parquet), e.g. served features.")
    ],
    features: Annotated[
        str | None, typer.Option(help="Comma-separated columns to monitor (default: all features).")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column of the reference, left out of the check.")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Dataset rule: any | mean_psi | share.")] = None,
    alpha: Annotated[
        float | None, typer.Option(help="Test level (p-value below it rejects).")
    ] = None,
    psi_threshold: Annotated[
        float | None, typer.Option(help="Feature PSI above it is drift.")
    ] = None,
    drift_threshold: Annotated[
        float | None, typer.Option(help="Rule mean_psi: mean PSI above it is drift.")
    ] = None,
    bins: Annotated[int | None, typer.Option(help="Quantile bins for numeric PSI.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON.")
    ] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write an HTML report.")] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with code 3 when drift is found.")
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
    ref = load_data(reference, target=target, features=_split(features))
    cur = read_table(current)
    profile = build_profile(ref.frame, ref.schema.numeric, ref.schema.categorical, bins=config.bins)
    result = check_drift(profile, cur, config)
    print_drift(result)
    if ref.schema.dropped:
        console.print(
            f"[dim]not monitored (identifier-like or empty): {', '.join(ref.schema.dropped)}[/]"
        )
    write_drift_reports(result, html_path=html_out, json_path=json_out)
    for path in (json_out, html_out):
        if path is not None:
            console.print(f"wrote {path}")
    if fail_on_drift and result.drifted:
        raise typer.Exit(EXIT_DRIFT)


def _load_source(dataset: str | None, data: Path | None, target: str | None) -> Dataset:
    if data is not None:
        if target is None:
            raise InvalidInputError("--data needs --target COL (the column to predict)")
        return load_data(data, target=target)
    return load_dataset(dataset or "titanic")


@simulate_app.command("sample")
def simulate_sample(
    out: Annotated[Path, typer.Option(help="Output file (.csv, .csv.gz or .parquet).")],
    dataset: Annotated[
        str | None, typer.Option(help=f"Bundled dataset: {', '.join(BUNDLED)}.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Or any CSV/Parquet table.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column of --data.")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Rows to draw.")] = 1000,
    drift_cols: Annotated[
        str | None, typer.Option(help="Comma-separated columns to drift.")
    ] = None,
    shift_sd: Annotated[
        float | None,
        typer.Option(help="Shift numeric drift columns by this many SDs (default: router drift)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Write a sample of a dataset, optionally with drift injected into chosen columns."""
    from champion.simulate import make_traffic

    source = _load_source(dataset, data, target)
    frame = make_traffic(
        source.frame, rows, seed=seed, drift_cols=_split(drift_cols) or (), shift_sd=shift_sd
    )
    suffix = "".join(out.suffixes[-2:]).lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix.endswith((".parquet", ".pq")):
        frame.to_parquet(out, index=False)
    elif suffix.endswith((".csv", ".csv.gz")):
        frame.to_csv(out, index=False)
    else:
        raise InvalidInputError(f"--out {out}: use a .csv, .csv.gz or .parquet file name")
    console.print(f"wrote {len(frame):,} rows to {out}")


@app.command()
def demo(
    dataset: Annotated[
        str | None, typer.Option(help=f"Bundled dataset: {', '.join(BUNDLED)}.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Or any CSV/Parquet table.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column of --data.")] = None,
    workdir: Annotated[Path, typer.Option(help="Where reports are written.")] = Path(
        "champion-demo"
    ),
    drift_cols: Annotated[
        str | None, typer.Option(help="Comma-separated columns to drift (default per dataset).")
    ] = None,
    rows: Annotated[int, typer.Option(min=50, help="Rows of simulated traffic per window.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Run the main job end to end on a bundled dataset (embedded, no server needed)."""
    from champion.demo import run_demo

    run_demo(
        _load_source(dataset, data, target),
        workdir=workdir,
        drift_cols=_split(drift_cols),
        rows=rows,
        seed=seed,
        settings=load_settings(),
        console=console,
    )


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"champion {__version__}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning champion errors into one line and an exit code."""
    try:
        code = app(args=argv, standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except (InvalidInputError, NotFoundError) as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_INPUT)
    except ChampionError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
