"""The drift check on live data: the features the API served against the champion's
training data (its reference profile, stored with its MLflow run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from champion.abtest.performance import PerformanceCheck
from champion.datasets import Schema
from champion.drift import (
    DriftResult,
    JointTest,
    NumericProfile,
    NumericWindow,
    build_profile,
    check_summary,
    summarize_frame,
)
from champion.drift.detect import SCORE
from champion.errors import ConflictError, NotFoundError
from champion.lifecycle.notices import drift_events
from champion.lifecycle.performance import champion_performance
from champion.lifecycle.workspace import Workspace
from champion.predictionlog import EventStore
from champion.settings import Settings
from champion.tracking.registry import DATASET_TAG, VersionInfo
from champion.tracking.runs import load_profile, run_schema
from champion.training.two_sample import classifier_two_sample
from champion.types import Alias, DriftUnit

#: tries at a check number when checks of the same reference run at the same moment
RECORD_ATTEMPTS = 5
#: rows served as champion, in each of its first and latest windows, the joint check needs
JOINT_MIN_ROWS = 200


@dataclass(frozen=True)
class ServedDrift:
    """The drift check of what the API served against the champion's training data."""

    champion: str
    result: DriftResult
    rows: int
    challenger: str | None = None  # a challenger already under test, if any
    note: str = ""  # why the joint check did not run, when it did not
    performance: PerformanceCheck | None = None  # the champion's live performance

    @property
    def retrain(self) -> bool:
        """Drift found, or the champion's performance dropped: retraining is due."""
        return self.result.drifted or bool(self.performance and self.performance.dropped)

    @property
    def why(self) -> str:
        """The reason retraining is due (or is not)."""
        parts = []
        if self.result.drifted:
            parts.append(f"drift: {self.result.reason}")
        if self.performance is not None and self.performance.dropped:
            parts.append(f"performance dropped: {self.performance.reason}")
        if parts:
            return "; ".join(parts)
        perf = f"; performance: {self.performance.reason}" if self.performance else ""
        return f"no drift: {self.result.reason}{perf}"

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
            "joint": self.result.joint.reason if self.result.joint else self.note or None,
            "performance_dropped": bool(self.performance and self.performance.dropped),
            "performance": self.performance.reason if self.performance else None,
            "retrain": self.retrain,
            "why": self.why,
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


def _promoted_at(ws: Workspace, version: VersionInfo) -> datetime:
    """When ``version`` last became the champion (its registration if never recorded)."""
    moves = [
        e
        for e in ws.registry.history()
        if e.alias == Alias.CHAMPION and e.version == version.version
    ]
    if moves:
        moment = datetime.fromisoformat(moves[-1].at)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return version.created_at


def joint_inputs(
    ws: Workspace, info: ChampionSchema, window: int, promoted: datetime
) -> tuple[JointTest | None, tuple[NumericProfile, NumericWindow] | None, str]:
    """The joint check and the score's check: the champion's latest ``window`` served
    rows against its first ``window`` rows since it became the champion (which carry the
    features' joint distribution and the model's own live scores; the reference profile
    keeps only each feature's). Users of the first window are left out of the latest."""
    drift = ws.settings.drift
    version = info.version.version
    first = ws.store.scored_rows(
        version, limit=window, since=promoted, earliest=True, unit=drift.unit
    )
    if len(first) < JOINT_MIN_ROWS:
        return None, None, f"joint check waits for {JOINT_MIN_ROWS} rows served as champion"
    known = {r.unit for r in first} if drift.unit == DriftUnit.USER else set()
    end = first[-1].created_at
    latest = [
        r
        for r in ws.store.scored_rows(version, limit=window, since=end, unit=drift.unit)
        if r.created_at > end and r.unit not in known
    ]
    if len(latest) < JOINT_MIN_ROWS:
        return None, None, "joint check waits for a second window after the first"
    schema = info.schema
    before = served_frame([r.features for r in first], schema)
    after = served_frame([r.features for r in latest], schema)
    joint = classifier_two_sample(before, after, schema.numeric, schema.categorical, seed=0)
    scores = [r.score for r in first], [r.score for r in latest]
    if any(x is None for side in scores for x in side):
        return joint, None, ""
    baseline = build_profile(pd.DataFrame({SCORE: scores[0]}), [SCORE], [], bins=drift.bins)
    window_of = summarize_frame(baseline, pd.DataFrame({SCORE: scores[1]})).numeric[0]
    return joint, (baseline.numeric[0], window_of), ""


def served_drift(
    ws: Workspace,
    info: ChampionSchema,
    *,
    window: int | None = None,
    since: datetime | None = None,
    challenger: str | None = None,
) -> ServedDrift:
    """Compare the latest ``window`` served rows with the champion's reference profile
    (and, with ``joint``, with its first served window: :func:`joint_inputs`).

    The check is numbered within the reference's life and recorded: its number sets
    the share of ``alpha`` it spends, which keeps the chance of any false alarm over
    all of the reference's checks at most ``alpha``.
    """
    profile = load_profile(ws.tracking.client, info.run_id)
    drift = ws.settings.drift
    size = window or drift.window
    # counted in the database: the window's rows never come to Python
    summary = ws.store.served_summary(profile, limit=size, since=since, unit=drift.unit)
    if not summary.rows:
        raise NotFoundError("the prediction log has no served rows yet: nothing to check")
    promoted = _promoted_at(ws, info.version)  # one registry read for both checks
    joint, score, note = joint_inputs(ws, info, size, promoted) if drift.joint else (None, None, "")
    performance = None
    if info.schema.task is not None:
        performance = champion_performance(
            ws, info.run_id, info.version.version, info.schema.task, promoted, size
        )
    config = drift.config()
    for _ in range(RECORD_ATTEMPTS):  # another check may take the number first
        number = ws.store.next_drift_check(info.run_id)
        result = check_summary(profile, summary, config, check=number, score=score, joint=joint)
        try:
            ws.store.record_drift_check(info.run_id, info.version.version, result)
        except ConflictError:
            continue
        _notify(ws, info, result, performance)
        return ServedDrift(
            info.version.version, result, summary.rows, challenger, note, performance
        )
    raise ConflictError(f"{RECORD_ATTEMPTS} drift checks of one reference ran at once; retry")


def _notify(
    ws: Workspace, info: ChampionSchema, result: DriftResult, perf: PerformanceCheck | None
) -> None:
    if not ws.settings.notify.webhooks:
        return
    # drift is told when it appears, not at every check while it lasts
    latest = ws.store.drift_history(info.run_id, limit=2)
    was_drifted = len(latest) > 1 and latest[1].drifted
    events = drift_events(
        ws.settings.model_name, info.version.version, info.run_id, result, perf, was_drifted
    )
    ws.notify(*events)


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
