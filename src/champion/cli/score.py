"""Command: ``score`` — a CSV/Parquet file scored with a registered model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from champion.cli.app import app
from champion.cli.common import Opt, choice, console, err_console
from champion.datasets import read_table
from champion.errors import InvalidInputError, NotFoundError
from champion.serving.batch import prepare, score_frame
from champion.serving.loading import load_model
from champion.settings import load_settings
from champion.tracking.registry import open_registry
from champion.types import Alias

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def _write(frame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    if out.name.endswith((".parquet", ".pq")):
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False, compression="gzip" if out.name.endswith(".gz") else None)
    tmp.replace(out)  # a reader never sees half a file


@app.command()
def score(
    data: Annotated[Path, Opt(help="Rows to score (CSV/Parquet); other columns are kept.")],
    out: Annotated[Path, Opt(help="Where to write them with their predictions.")],
    alias: Annotated[str | None, Opt(help="champion (default) or challenger.")] = None,
    version: Annotated[str | None, Opt(help="A version number instead of an alias.")] = None,
) -> None:
    """Score a file with the registered model (the compiled fast path where available)."""
    if not out.name.lower().endswith(SUFFIXES):
        raise InvalidInputError(f"--out {out}: use a .csv, .csv.gz or .parquet file name")
    if alias is not None and version is not None:
        raise InvalidInputError("give either --alias or --version, not both")
    slot = choice(Alias, alias, "--alias") or Alias.CHAMPION
    frame = read_table(data)
    settings = load_settings()
    registry = open_registry(settings)
    info = registry.get(version) if version is not None else registry.alias(slot, refresh=True)
    if info is None:
        raise NotFoundError(f"model {settings.model_name!r} has no {slot}: nothing to score with")
    model = load_model(info)
    inputs = prepare(frame, model)  # bad input is reported before the progress bar
    progress = Progress(
        TextColumn(f"scoring with v{info.version}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task("rows", total=len(frame))
        scored = score_frame(
            frame, model, inputs=inputs, on_progress=lambda n: progress.advance(task, n)
        )
    _write(scored, out)
    console.print(f"wrote {len(scored):,} rows scored by v{info.version} ({model.path}) to {out}")
