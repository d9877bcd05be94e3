"""Commands: ``simulate sample|router|traffic``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from champion.cli.app import simulate_app
from champion.cli.common import (
    DataOpt,
    DatasetOpt,
    Opt,
    ShiftOpt,
    TargetOpt,
    console,
    err_console,
    load_source,
    split,
)
from champion.errors import BackendError, InvalidInputError
from champion.simulation.data_router import create_router_app
from champion.simulation.drift import make_traffic
from champion.simulation.replay import send_traffic

DriftColsOpt = Annotated[str | None, Opt(help="Comma-separated columns to drift.")]
SeedOpt = Annotated[int, Opt(help="Random seed.")]


@simulate_app.command("sample")
def simulate_sample(
    out: Annotated[Path, Opt(help="Output file (.csv, .csv.gz or .parquet).")],
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    rows: Annotated[int, Opt(min=1, help="Rows to draw.")] = 1000,
    drift_cols: DriftColsOpt = None,
    shift_sd: ShiftOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Write a sample of a dataset, optionally with drift injected into chosen columns."""
    suffix = "".join(out.suffixes[-2:]).lower()
    if not suffix.endswith((".parquet", ".pq", ".csv", ".csv.gz")):
        raise InvalidInputError(f"--out {out}: use a .csv, .csv.gz or .parquet file name")
    source = load_source(dataset, data, target)
    frame = make_traffic(
        source.frame, rows, seed=seed, drift_cols=split(drift_cols) or (), shift_sd=shift_sd
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix.endswith((".parquet", ".pq")):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    console.print(f"wrote {len(frame):,} rows to {out}")


@simulate_app.command("router")
def simulate_router(
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    host: Annotated[str, Opt(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535, help="Port.")] = 8100,
    shift_sd: ShiftOpt = None,
    seed: Annotated[int, Opt(help="Seed of the first batch.")] = 0,
) -> None:
    """Serve batches of a dataset with configurable drift (the original data router)."""
    source = load_source(dataset, data, target)
    console.print(f"traffic router over {source.name} on http://{host}:{port} (docs at /docs)")
    app = create_router_app(source, seed=seed, shift_sd=shift_sd)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@simulate_app.command("traffic")
def simulate_traffic(
    api: Annotated[str, Opt(help="Base URL of a running champion API.")],
    n: Annotated[int, Opt(min=1, help="Requests to send.")] = 1000,
    dataset: DatasetOpt = None,
    data: DataOpt = None,
    target: TargetOpt = None,
    drift_cols: DriftColsOpt = None,
    shift_sd: ShiftOpt = None,
    label_delay: Annotated[float, Opt(help="Seconds before the labels are posted.")] = 0.0,
    label_share: Annotated[float, Opt(help="Share of requests that get a label.")] = 1.0,
    no_labels: Annotated[bool, Opt("--no-labels", help="Post no labels.")] = False,
    users: Annotated[int, Opt(min=1, help="Distinct user ids.")] = 1000,
    concurrency: Annotated[int, Opt(min=1, max=256, help="Requests in flight.")] = 8,
    seed: SeedOpt = 0,
    token: Annotated[
        str | None,
        Opt(
            envvar="CHAMPION_FEEDBACK_TOKEN",
            show_envvar=True,
            help="Bearer token for /feedback (the API's feedback or admin token).",
        ),
    ] = None,
) -> None:
    """Replay rows of a dataset to a running API and post their labels."""
    if not api.startswith(("http://", "https://")):
        raise InvalidInputError(f"--api must be an http(s) URL, got {api!r}")
    source = load_source(dataset, data, target)
    frame = make_traffic(
        source.frame, n, seed=seed, drift_cols=split(drift_cols) or (), shift_sd=shift_sd
    )
    progress = Progress(
        TextColumn("requests"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,  # stdout keeps the result, stderr only an error
    )
    with progress:
        task = progress.add_task("requests", total=n)
        result = send_traffic(
            api,
            frame,
            source.schema.features,
            target=None if no_labels else source.schema.target,
            users=users,
            concurrency=concurrency,
            label_delay=label_delay,
            label_share=label_share,
            seed=seed,
            on_progress=lambda k: progress.advance(task, k),
            token=token,
        )
    console.print(
        f"{result.answered}/{result.sent} answered in {result.seconds:.1f} s "
        f"({result.rate:,.0f} req/s); {result.labelled} labels posted; "
        f"variants {result.variants}; versions {result.versions}"
    )
    if result.answered == 0 and result.errors:
        raise BackendError(f"no request was answered: {result.errors[0]}")
    for error in result.errors:
        console.print(f"[yellow]{error}[/]", highlight=False)
