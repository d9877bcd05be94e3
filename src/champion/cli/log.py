"""Commands: ``log archive`` (retention of the prediction log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from rich.table import Table

from champion.cli.app import log_app
from champion.cli.common import JsonOpt, Opt, console, err_console
from champion.errors import InvalidInputError
from champion.lifecycle import archive_log
from champion.predictionlog.archive import PartitionOutcome
from champion.settings import load_settings


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"--before {text!r} is not a date (YYYY-MM-DD) or an ISO time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@log_app.command("archive")
def archive(
    before: Annotated[str, Opt(help="Archive predictions served before this UTC date/time.")],
    to: Annotated[str, Opt("--to", help="A directory or s3://bucket/prefix.")],
    dry_run: Annotated[
        bool, Opt("--dry-run", help="List what would be archived; write and delete nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write old predictions (with their labels) to Parquet by model and day, then delete
    them from the log, a day at a time; run again to finish a run that stopped."""
    settings = load_settings()

    def report(outcome: PartitionOutcome) -> None:
        p = outcome.partition
        err_console.print(f"[dim]{outcome.status} {p.model_name} {p.day}: {p.rows:,} rows[/]")

    result = archive_log(settings, before=_moment(before), to=to, dry_run=dry_run, progress=report)
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
        return
    verb = "would archive" if dry_run else "archived"
    table = Table(
        title=f"{verb} {result.rows:,} predictions served before {result.before:%Y-%m-%d %H:%M} UTC"
    )
    for col in ("model", "day", "rows", "status", "file"):
        table.add_column(col)
    for outcome in result.partitions:
        p = outcome.partition
        where = outcome.part.file if outcome.part else "-"
        table.add_row(p.model_name, p.day.isoformat(), f"{p.rows:,}", outcome.status, where)
    console.print(table)
    for kept in result.kept_running:
        console.print(f"[dim]kept in the log (experiment running): {kept}[/]")
