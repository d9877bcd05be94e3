"""The read side of the prediction log: what evaluations, drift checks, retraining and
the live report read. Mixed into :class:`champion.predictionlog.store.EventStore`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import and_, case, func, literal, select

from champion.abtest import Decision, Look, Policy
from champion.abtest.moments import Moments
from champion.drift import ReferenceProfile, WindowSummary
from champion.predictionlog import live_report
from champion.predictionlog.aggregates import Trial
from champion.predictionlog.drift_window import window_summary
from champion.predictionlog.evaluation import decide_in_database
from champion.predictionlog.look_state import keep_up, latest_look
from champion.predictionlog.schema import ab_config, failures, feedback, predictions
from champion.predictionlog.traffic import Traffic, read_traffic
from champion.types import ABMode, DriftUnit, Task


@dataclass(frozen=True)
class ScoredRow:
    """A served row with the champion's own score of it (the joint drift check)."""

    unit: str  # the user, or the request for a row without one
    features: dict[str, Any]
    score: float | None  # P(positive) or the predicted number; None when it has none
    created_at: datetime


@dataclass(frozen=True)
class VariantStats:
    """Live per-variant figures of one experiment."""

    variant: str
    model_versions: tuple[str, ...]
    predictions: int
    labelled: int
    accuracy: float | None  # classification: share of labelled rows predicted right
    mae: float | None  # regression: mean absolute error over labelled rows
    mean_latency_ms: float | None


class LogReads:
    """Queries over one model's predictions, labels and failures (one transaction each)."""

    _tx: Callable[[str], AbstractContextManager[Any]]
    model_name: str
    dialect: str

    def failure_counts(self, experiment_id: str) -> dict[tuple[str, str], int]:
        """Failed requests of an experiment by (variant, model version)."""
        query = (
            select(failures.c.variant, failures.c.model_version, func.sum(failures.c.requests))
            .where(
                failures.c.experiment_id == experiment_id,
                failures.c.model_name == self.model_name,
            )
            .group_by(failures.c.variant, failures.c.model_version)
        )
        with self._tx("read failures") as conn:
            return {(v, m): int(n or 0) for v, m, n in conn.execute(query).all()}

    def experiment_frame(
        self, experiment_id: str, *, champion: str, challenger: str
    ) -> tuple[pd.DataFrame, int]:
        """The rows of an experiment that both versions under test took, as
        :func:`champion.abtest.decide_frame` reads them (labels and predictions decoded,
        each phase's split), oldest first; and how many of its rows were left out (served
        before a version was loaded, or by another version)."""
        p, f, c = predictions, feedback, ab_config
        columns = [
            p.c.created_at,
            p.c.variant,
            p.c.user_id,
            p.c.phase,
            p.c.version_a,
            p.c.version_b,
            p.c.prediction_a,
            p.c.prediction_b,
            p.c.probability_a,
            p.c.probability_b,
            p.c.latency_a_ms,
            p.c.latency_b_ms,
            p.c.failed_a,
            p.c.failed_b,
            f.c.label,
            f.c.received_at.label("labelled_at"),
        ]
        query = (
            select(*columns)
            .select_from(p.outerjoin(f, p.c.request_id == f.c.request_id))
            .where(p.c.experiment_id == experiment_id, p.c.model_name == self.model_name)
            .order_by(p.c.created_at)
        )
        splits = select(c.c.id, c.c.split_b).where(
            c.c.experiment_id == experiment_id, c.c.model_name == self.model_name
        )
        with self._tx("read experiment") as conn:
            rows = conn.execute(query).all()
            phase_split = dict(conn.execute(splits).all())
        frame = pd.DataFrame(rows, columns=[col.name for col in columns])
        total = len(frame)
        frame = frame[(frame["version_a"] == champion) & (frame["version_b"] == challenger)]
        frame = frame.reset_index(drop=True)
        for name in ("prediction_a", "prediction_b", "label"):
            frame[name] = [orjson.loads(v) if isinstance(v, str) else None for v in frame[name]]
        frame["phase"] = frame["phase"].fillna(0).astype(int)
        frame["split_b"] = [phase_split.get(ph, float("nan")) for ph in frame["phase"]]
        for name in ("failed_a", "failed_b"):
            frame[name] = frame[name].fillna(0).astype(bool)
        return frame, total - len(frame)

    def _trial(
        self,
        experiment_id: str,
        champion: str,
        challenger: str,
        task: Task,
        mode: ABMode,
        split_b: float,
        policy: Policy,
    ) -> Trial:
        return Trial(
            self.model_name, experiment_id, champion, challenger, task, mode, split_b,
            policy.label_maturity_s,
        )  # fmt: skip

    def evaluate(
        self,
        experiment_id: str,
        *,
        champion: str,
        challenger: str,
        task: Task,
        mode: ABMode,
        split_b: float,
        policy: Policy,
        now: datetime,
    ) -> tuple[Decision, list[Look], int]:
        """The A/B decision on the rows both versions took, computed in the database
        (:func:`champion.predictionlog.evaluation.decide_in_database`): the decision, the
        confidence sequence over time, and how many of the experiment's rows were left
        out (served before a version was loaded, or by another version)."""
        trial = self._trial(experiment_id, champion, challenger, task, mode, split_b, policy)
        with self._tx("evaluate experiment") as conn:
            return decide_in_database(conn, trial, policy, now=now.timestamp())

    def keep_up(
        self,
        experiment_id: str,
        *,
        champion: str,
        challenger: str,
        task: Task,
        mode: ABMode,
        split_b: float,
        policy: Policy,
        now: datetime,
        start: bool = False,
    ) -> float | None:
        """Advance the kept sums of the experiment's look to ``now`` less the look's
        lag (:func:`champion.predictionlog.look_state.keep_up`): what the API does every
        ``CHAMPION_AB_KEEP_INTERVAL`` so a look reads minutes of rows, not hours.
        ``start``: start them if no look has (what starting an experiment does)."""
        trial = self._trial(experiment_id, champion, challenger, task, mode, split_b, policy)
        paired = mode == ABMode.SHADOW or policy.labels_independent
        with self._tx("keep the A/B sums") as conn:
            return keep_up(conn, trial, paired=paired, now=now.timestamp(), start=start)

    def served_summary(
        self,
        profile: ReferenceProfile,
        *,
        limit: int,
        since: datetime | None = None,
        unit: DriftUnit = DriftUnit.USER,
    ) -> WindowSummary:
        """What the drift check needs of the ``limit`` latest predictions (newer than
        ``since``; by ``unit`` user, each user's latest among them), counted in the
        database (champion.predictionlog.drift_window)."""
        with self._tx("summarize served features") as conn:
            return window_summary(
                conn, self.model_name, profile, limit=limit, since=since, unit=unit
            )

    def served_features(self, *, limit: int, since: datetime | None = None) -> list[dict[str, Any]]:
        """The features of the ``limit`` latest predictions (newer than ``since``)."""
        query = (
            select(predictions.c.features)
            .where(predictions.c.model_name == self.model_name)
            .order_by(predictions.c.created_at.desc())
        )
        if since is not None:
            query = query.where(predictions.c.created_at >= since)
        with self._tx("read served features") as conn:
            texts = conn.execute(query.limit(limit)).scalars().all()
        return [orjson.loads(t) for t in texts]

    def scored_rows(
        self,
        version: str,
        *,
        limit: int,
        since: datetime | None = None,
        earliest: bool = False,
        unit: DriftUnit = DriftUnit.USER,
    ) -> list[ScoredRow]:
        """The ``limit`` rows ``version`` scored as the champion — the latest, or with
        ``earliest`` the first since ``since`` — by ``unit`` user one row per user among
        them (the one nearest the window's end)."""
        p = predictions.c
        order = p.created_at.asc() if earliest else p.created_at.desc()
        query = (
            select(
                p.user_id,
                p.request_id,
                p.features,
                func.coalesce(p.probability_a, p.prediction_a_num),
                p.created_at,
            )
            .where(p.model_name == self.model_name, p.version_a == version)
            .order_by(order)
            .limit(limit)
        )
        if since is not None:
            query = query.where(p.created_at >= since)
        with self._tx("read scored rows") as conn:
            found = conn.execute(query).all()
        rows: list[ScoredRow] = []
        seen: set[str] = set()
        for user, request_id, features, score, created in found:
            key = f"u:{user}" if user is not None and unit == DriftUnit.USER else f"r:{request_id}"
            if key in seen:
                continue
            seen.add(key)
            moment = created if created.tzinfo else created.replace(tzinfo=UTC)
            rows.append(ScoredRow(key, orjson.loads(features), score, moment))
        return rows

    def champion_scores(self, version: str, *, since: datetime | None, task: Task) -> Moments:
        """The per-user sums of ``version``'s per-row scores on its own labelled answers
        (1 right / 0 wrong, or minus the absolute error), summed in the database."""
        p, f = predictions.c, feedback.c
        if task == Task.CLASSIFICATION:
            score = case((p.prediction_a == f.label, 1.0), else_=0.0)
        else:
            score = -func.abs(p.prediction_a_num - f.label_num)
        unit = func.coalesce(literal("u:") + p.user_id, literal("r:") + p.request_id)
        on = p.request_id == f.request_id
        if self.dialect == "postgresql":
            on = and_(on, f.predicted_at == p.created_at)
        where = [p.model_name == self.model_name, p.version_a == version, score.is_not(None)]
        if since is not None:
            where.append(p.created_at >= since)
        per_unit = (
            select(unit.label("unit"), func.count().label("n"), func.sum(score).label("s"))
            .select_from(predictions.join(feedback, on))
            .where(*where)
            .group_by(unit)
            .subquery()
        )
        u = per_unit.c
        query = select(
            func.count(), func.sum(u.n), func.sum(u.s), func.sum(u.s * u.s),
            func.sum(u.s * u.n), func.sum(u.n * u.n),
        )  # fmt: skip
        with self._tx("read the champion's labelled scores") as conn:
            row = conn.execute(query).one()
        return Moments(*(float(v or 0.0) for v in row))

    def champion_confidence(
        self, version: str, *, limit: int, since: datetime | None = None, labelled: bool
    ) -> list[tuple[str, float, str | None]]:
        """(answer, P(positive), label) of ``version``'s latest ``limit`` answers as the
        champion — the labelled ones, or all of them."""
        p, f = predictions.c, feedback.c
        on = p.request_id == f.request_id
        if self.dialect == "postgresql":
            on = and_(on, f.predicted_at == p.created_at)
        query = (
            select(p.prediction_a, p.probability_a, f.label)
            .select_from(predictions.outerjoin(feedback, on))
            .where(
                p.model_name == self.model_name,
                p.version_a == version,
                p.probability_a.is_not(None),
                p.prediction_a.is_not(None),
            )
            .order_by(p.created_at.desc())
            .limit(limit)
        )
        if labelled:
            query = query.where(f.label.is_not(None))
        if since is not None:
            query = query.where(p.created_at >= since)
        with self._tx("read the champion's confidence") as conn:
            return [(a, float(pr), lab) for a, pr, lab in conn.execute(query).all()]

    def labelled_rows(
        self, *, limit: int, since: datetime | None = None
    ) -> list[tuple[dict[str, Any], Any]]:
        """(features, label) of the ``limit`` latest labelled predictions."""
        p, f = predictions, feedback
        query = (
            select(p.c.features, f.c.label)
            .select_from(p.join(f, p.c.request_id == f.c.request_id))
            .where(p.c.model_name == self.model_name)
            .order_by(p.c.created_at.desc())
        )
        if since is not None:
            query = query.where(p.c.created_at >= since)
        with self._tx("read labelled rows") as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [(orjson.loads(features), orjson.loads(label)) for features, label in rows]

    def variant_stats(self, experiment_id: str) -> list[VariantStats]:
        """Per-variant counts, label coverage, accuracy or MAE, and latency: from the
        running counts (:mod:`champion.predictionlog.live_report`), so a call reads what
        arrived since the previous one, not the whole experiment."""
        now = datetime.now(UTC).timestamp()
        with self._tx("read A/B report") as conn:
            current, kept, previous = live_report.tally(
                conn, self.model_name, experiment_id, now=now
            )
        if kept is not None:
            with self._tx("keep A/B report counts") as conn:
                live_report.keep(conn, self.model_name, experiment_id, kept, previous)
        return [
            VariantStats(
                variant=variant,
                model_versions=tuple(sorted(c.versions, key=_version_key)),
                predictions=int(c.served),
                labelled=int(c.labelled),
                accuracy=c.right / c.labelled if c.labelled else None,
                mae=c.abs_error / c.abs_errors if c.abs_errors else None,
                mean_latency_ms=c.latency / c.served if c.served else None,
            )
            for variant, c in sorted(current.variants.items())
            if c.served or c.labelled
        ]

    def traffic(self, span: timedelta = timedelta(hours=1)) -> Traffic:
        """Requests, model errors and latency per minute over the last ``span``."""
        with self._tx("read traffic") as conn:
            return read_traffic(conn, self.model_name, span=span, now=datetime.now(UTC))

    def latest_look(self, experiment_id: str) -> dict[str, Any] | None:
        """The latest A/B look at ``experiment_id``: its confidence sequence and decision."""
        with self._tx("read the latest look") as conn:
            return latest_look(conn, self.model_name, experiment_id)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)
