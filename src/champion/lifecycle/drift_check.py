"""The drift check on live data: the features the API served against the champion's
training data (its reference profile, stored with its MLflow run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from champion.datasets import Schema
from champion.drift import DriftResult, check_summary
from champion.errors import ConflictError, NotFoundError
from champion.lifecycle.workspace import Workspace
from champion.predictionlog import EventStore
from champion.settings import Settings
from champion.tracking.registry import DATASET_TAG, VersionInfo
from champion.tracking.runs import load_profile, run_schema
from champion.types import Alias

#: tries at a check number when checks of the same reference run at the same moment
RECORD_ATTEMPTS = 5


@dataclass(frozen=True)
class ServedDrift:
    """The drift check of what the API served against the champion's training data."""

    champion: str
    result: DriftResult
    rows: int
    challenger: str | None = None  # a challenger already under test, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "rows": self.rows,
            "drifted": self.result.drifted,
            "reason": self.result.reason,
            "drifted_features": list(self.result.drifted_features),
            "mean_psi": self.result.mean_psi,
            "check": self.result.check,
            "alpha_check": self.result.alpha_check,
        }


@dataclass(frozen=True)
class ChampionSchema:
    """What the champion was trained on, read from its MLflow run."""

    version: VersionInfo
    run_id: str
    schema: Schema
    dataset: str


def champion_schema(ws: Workspace) -> ChampionSchema:
    """The champion's training schema; NotFoundError when there is no champion yet."""
    champion = ws.require(Alias.CHAMPION, "run `champion lifecycle bootstrap` first")
    run_id = champion.schema_run
    if run_id is None:
        raise NotFoundError(
            f"champion v{champion.version} has no training run: run `champion adopt "
            f"{champion.model_uri} --reference FILE --target COLUMN` to give it a schema"
        )
    schema = run_schema(ws.tracking.client, run_id)
    if schema.target is None or not schema.features:
        raise NotFoundError(
            f"champion v{champion.version}'s run {run_id} records no champion schema: run "
            f"`champion adopt {champion.model_uri} --reference FILE --target COLUMN`"
        )
    dataset = champion.tags.get(DATASET_TAG, "live")
    return ChampionSchema(champion, run_id, schema, dataset)


def served_frame(records: list[dict[str, Any]], schema: Schema) -> pd.DataFrame:
    """Logged feature dicts as a table with the schema's columns and dtypes."""
    frame = pd.DataFrame.from_records(records, columns=list(schema.features))
    for name in schema.numeric:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in schema.categorical:
        frame[name] = frame[name].astype("object")
    return frame


def served_drift(
    ws: Workspace,
    info: ChampionSchema,
    *,
    window: int | None = None,
    since: datetime | None = None,
    challenger: str | None = None,
) -> ServedDrift:
    """Compare the latest ``window`` served rows with the champion's reference profile.

    The check is numbered within the reference's life and recorded: its number sets
    the share of ``alpha`` it spends, which keeps the chance of any false alarm over
    all of the reference's checks at most ``alpha``.
    """
    profile = load_profile(ws.tracking.client, info.run_id)
    # counted in the database: the window's rows never come to Python
    drift = ws.settings.drift
    summary = ws.store.served_summary(
        profile, limit=window or drift.window, since=since, unit=drift.unit
    )
    if not summary.rows:
        raise NotFoundError("the prediction log has no served rows yet: nothing to check")
    config = drift.config()
    for _ in range(RECORD_ATTEMPTS):  # another check may take the number first
        number = ws.store.next_drift_check(info.run_id)
        result = check_summary(profile, summary, config, check=number)
        try:
            ws.store.record_drift_check(info.run_id, info.version.version, result)
        except ConflictError:
            continue
        return ServedDrift(info.version.version, result, summary.rows, challenger)
    raise ConflictError(f"{RECORD_ATTEMPTS} drift checks of one reference ran at once; retry")


def check_served_drift(
    settings: Settings,
    *,
    window: int | None = None,
    since: datetime | None = None,
    store: EventStore | None = None,
) -> ServedDrift:
    """The drift check of the served features, as the CLI and the DAGs run it."""
    ws = Workspace(settings, given_store=store)
    info = champion_schema(ws)
    challenger = ws.alias(Alias.CHALLENGER)
    return served_drift(
        ws,
        info,
        window=window,
        since=since,
        challenger=challenger.version if challenger else None,
    )
