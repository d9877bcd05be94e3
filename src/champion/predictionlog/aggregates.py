"""An A/B look computed in the database: sums per unit and per track, never the rows.

The decision of :mod:`champion.abtest` needs, for each group of rows it reads (a *track*:
an arm in a phase, a guarded class, the failures, the latencies), the moments of
:class:`~champion.abtest.moments.Moments` — units, rows, and sums of per-unit sums and
their squares. Here each track is a SQL condition and a SQL score over the experiment's
rows; one query per time key (served, labelled, old enough to be labelled) groups them
by unit and adds them up, so what reaches Python is a few numbers per track, whatever
the size of the log. The same numbers the row-based evaluation finds
(``tests/integration/test_log_aggregates.py`` checks them to 1e-9 on SQLite and
PostgreSQL).

The confidence sequence over time comes from the same query: rows are put in time
buckets, and each unit's contribution to ``sum S_j^2`` grows only in the buckets where
the unit has rows (``(S + dS)^2 - S^2 = dS (2 S + dS)``), so a window over each unit's
buckets and a sum per bucket give every look of the timeline in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Float, Integer, and_, case, cast, func, literal, null, or_, select
from sqlalchemy.sql.elements import ColumnElement

from champion.abtest.evidence import LATENCY_CAP_MS
from champion.abtest.frame import all_numeric, class_codes
from champion.abtest.looks import Tracks
from champion.abtest.moments import Moments
from champion.predictionlog.schema import ab_config, feedback, predictions
from champion.types import ABMode, Task

Expr = ColumnElement[Any]
TIMELINE_POINTS = 60


def epoch_seconds(column: Any, dialect: str) -> Expr:
    """A timestamp column as float seconds since the epoch, rounded as pandas rounds it
    (SQLite stores ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC)."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", column), Float)
    whole = cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
    micros = cast(func.coalesce(func.nullif(func.substr(column, 21, 6), ""), "0"), Integer)
    return cast(whole * 1_000_000 + micros, Float) / 1e6


def _larger(a: Expr, b: Expr) -> Expr:
    return case((a >= b, a), else_=b)


def _capped(latency: Expr) -> Expr:
    return case((latency > LATENCY_CAP_MS, LATENCY_CAP_MS), else_=latency)


@dataclass(frozen=True)
class Trial:
    """Which rows: one model's experiment, served by these two versions."""

    model_name: str
    experiment_id: str
    champion: str
    challenger: str
    task: Task
    mode: ABMode
    split_b: float
    maturity: float = 0.0


@dataclass(frozen=True)
class Columns:
    """The per-row quantities of the evaluation as SQL expressions over the joined rows."""

    served_b: Expr
    unit: tuple[Expr, ...]
    phase: Expr
    created: Expr
    labelled: Expr  # the row has a usable label
    entered: Expr  # when it entered the comparison (NULL: never)
    mature: Expr
    label: Expr  # class code or value
    answer_a: Expr
    answer_b: Expr
    failed_a: Expr
    failed_b: Expr
    latency_a: Expr
    latency_b: Expr
    prob_a: Expr
    prob_b: Expr
    classification: bool

    @property
    def served(self) -> Expr:
        return case((self.served_b, self.answer_b), else_=self.answer_a)

    def score(self, answer: Expr) -> Expr:
        """1/0 right, or minus the absolute error; 0 without a label."""
        if self.classification:
            right: Expr = case((answer == self.label, 1.0), else_=0.0)
        else:
            right = -func.abs(self.label - answer)
        return case((and_(self.labelled, answer.is_not(None)), right), else_=0.0)

    @property
    def triggered(self) -> Expr:
        alike = or_(self.answer_a == self.answer_b, self.answer_a.is_(None))
        return case((alike, False), else_=True)


class ExperimentRows:
    """The SQL of one trial's rows; :meth:`tracks` and :meth:`arm_figures` query them."""

    def __init__(self, conn: Any, trial: Trial) -> None:
        self.conn, self.trial = conn, trial
        self.dialect = conn.dialect.name
        p, f = predictions, feedback
        self.source = p.outerjoin(f, p.c.request_id == f.c.request_id)
        self.where = and_(
            p.c.experiment_id == trial.experiment_id,
            p.c.model_name == trial.model_name,
            p.c.version_a == trial.champion,
            p.c.version_b == trial.challenger,
        )
        self.classes: tuple[float, ...] = ()
        self.cols = self._columns()

    # -- the rows ----------------------------------------------------------------------
    def _coder(self) -> Callable[[Any], Expr]:
        """JSON text -> class code (classification) or the numeric column (regression)."""
        p, f = predictions, feedback
        if self.trial.task != Task.CLASSIFICATION:
            return lambda column: column
        texts: set[str] = set()
        for column in (p.c.prediction_a, p.c.prediction_b, f.c.label):
            query = select(column).select_from(self.source).where(self.where).distinct()
            texts.update(t for (t,) in self.conn.execute(query) if t is not None)
        values = {t: orjson.loads(t) for t in texts}
        present = [v for v in values.values() if v is not None]
        numeric = all_numeric(present)
        key = {t: (v if numeric else str(v)) for t, v in values.items() if v is not None}
        lookup, self.classes = class_codes(list(key.values()))
        whens = [(t, lookup[k]) for t, k in sorted(key.items())]

        def code(column: Any) -> Expr:
            if not whens:
                return cast(null(), Float)
            return case(dict(whens), value=column, else_=None)

        return code

    def _columns(self) -> Columns:
        p, f, t = predictions, feedback, self.trial
        code = self._coder()
        classification = t.task == Task.CLASSIFICATION
        text = {"a": p.c.prediction_a, "b": p.c.prediction_b}
        nums = {"a": p.c.prediction_a_num, "b": p.c.prediction_b_num}
        failed = {arm: func.coalesce(getattr(p.c, f"failed_{arm}"), 0) != 0 for arm in "ab"}
        pred = {
            arm: case((failed[arm], None), else_=code(text[arm] if classification else nums[arm]))
            for arm in "ab"
        }
        label = code(f.c.label) if classification else f.c.label_num
        created = epoch_seconds(p.c.created_at, self.dialect)
        labelled_at = epoch_seconds(f.c.received_at, self.dialect)
        labelled = and_(f.c.received_at.is_not(None), label.is_not(None))
        mature = created + t.maturity
        phase = func.coalesce(p.c.phase, 0)
        if t.mode == ABMode.HASH:  # users are randomised; a row without one is its own unit
            unit: tuple[Expr, ...] = (
                p.c.user_id.is_(None),
                func.coalesce(p.c.user_id, p.c.request_id),
                phase,
            )
        else:
            unit = (p.c.request_id,)
        return Columns(
            served_b=p.c.variant == "B",
            unit=unit,
            phase=phase,
            created=created,
            labelled=labelled,
            entered=case((labelled, _larger(labelled_at, mature)), else_=None),
            mature=mature,
            label=label,
            answer_a=func.coalesce(pred["a"], pred["b"]),
            answer_b=func.coalesce(pred["b"], pred["a"]),
            failed_a=failed["a"],
            failed_b=failed["b"],
            latency_a=p.c.latency_a_ms,
            latency_b=p.c.latency_b_ms,
            prob_a=p.c.probability_a,
            prob_b=p.c.probability_b,
            classification=classification,
        )

    def phases(self) -> list[tuple[int, float]]:
        """Each phase of the trial's rows (in the order they started) and its split."""
        c = self.cols
        query = (
            select(c.phase, func.min(c.created))
            .select_from(self.source)
            .where(self.where)
            .group_by(c.phase)
        )
        found = sorted(self.conn.execute(query).all(), key=lambda r: (r[1], r[0]))
        config = select(ab_config.c.id, ab_config.c.split_b).where(
            ab_config.c.experiment_id == self.trial.experiment_id,
            ab_config.c.model_name == self.trial.model_name,
        )
        splits = dict(self.conn.execute(config).all())
        return [(int(ph), float(splits.get(int(ph), self.trial.split_b))) for ph, _ in found]

    def counts(self) -> tuple[int, int]:
        """Rows of the experiment, and of those the two versions under test took."""
        p = predictions
        every = and_(
            p.c.experiment_id == self.trial.experiment_id, p.c.model_name == self.trial.model_name
        )
        total = self.conn.execute(select(func.count()).where(every)).scalar_one()
        ours = self.conn.execute(
            select(func.count()).select_from(self.source).where(self.where)
        ).scalar_one()
        return int(total), int(ours)

    # -- moments of tracks -------------------------------------------------------------
    def moments(
        self, key: Expr, tracks: dict[str, tuple[Expr, Expr]], edges: list[float]
    ) -> dict[str, np.ndarray]:
        """For each track (condition, score): its moments at each edge (rows with ``key``
        at most that time), as an array of shape (len(edges), 6)."""
        c = self.cols
        bucket: Expr = literal(0)
        if len(edges) > 1:
            bucket = case(*[(key <= e, i) for i, e in enumerate(edges[:-1])], else_=len(edges) - 1)
        names = list(tracks)
        units = [u.label(f"u{i}") for i, u in enumerate(c.unit)]
        rows = (
            select(
                *units,
                bucket.label("b"),
                *[case((tracks[t][0], 1), else_=0).label(f"n{i}") for i, t in enumerate(names)],
                *[
                    case((tracks[t][0], tracks[t][1]), else_=0.0).label(f"s{i}")
                    for i, t in enumerate(names)
                ],
            )
            .select_from(self.source)
            .where(self.where, key.is_not(None), key <= edges[-1])
            .subquery("r")
        )
        ucols = [rows.c[f"u{i}"] for i in range(len(units))]
        per_unit = (
            select(
                *ucols,
                rows.c.b,
                *[func.sum(rows.c[f"n{i}"]).label(f"dn{i}") for i in range(len(names))],
                *[func.sum(rows.c[f"s{i}"]).label(f"ds{i}") for i in range(len(names))],
            )
            .group_by(*ucols, rows.c.b)
            .subquery("u")
        )
        uc = [per_unit.c[f"u{i}"] for i in range(len(units))]

        def before(column: Any) -> Expr:
            window = func.sum(column).over(partition_by=uc, order_by=per_unit.c.b, rows=(None, -1))
            return func.coalesce(window, 0)

        prior = (
            select(
                per_unit.c.b,
                *[per_unit.c[f"dn{i}"] for i in range(len(names))],
                *[per_unit.c[f"ds{i}"] for i in range(len(names))],
                *[before(per_unit.c[f"dn{i}"]).label(f"pn{i}") for i in range(len(names))],
                *[before(per_unit.c[f"ds{i}"]).label(f"ps{i}") for i in range(len(names))],
            )
        ).subquery("w")
        out: list[Expr] = []
        for i in range(len(names)):
            dn, ds = cast(prior.c[f"dn{i}"], Float), cast(prior.c[f"ds{i}"], Float)
            pn, ps = cast(prior.c[f"pn{i}"], Float), cast(prior.c[f"ps{i}"], Float)
            out += [
                func.sum(case((and_(dn > 0, pn == 0), 1.0), else_=0.0)),
                func.sum(dn),
                func.sum(ds),
                func.sum(ds * (2.0 * ps + ds)),
                func.sum(ds * pn + ps * dn + ds * dn),
                func.sum(dn * (2.0 * pn + dn)),
            ]
        query = select(prior.c.b, *out).group_by(prior.c.b)
        increments = np.zeros((len(edges), 6 * len(names)))
        for row in self.conn.execute(query):
            increments[int(row[0])] = [float(v or 0.0) for v in row[1:]]
        table = np.cumsum(increments, axis=0)
        return {t: table[:, 6 * i : 6 * i + 6] for i, t in enumerate(names)}

    def _arm(self, b: bool) -> Expr:
        return self.cols.served_b if b else ~self.cols.served_b

    def track_conditions(
        self, phases: list[tuple[int, float]], *, paired: bool
    ) -> dict[str, dict[str, tuple[Expr, Expr]]]:
        """Every track's (condition, score), by the time key it is read at."""
        c, one = self.cols, literal(1.0)
        entered: dict[str, tuple[Expr, Expr]] = {}
        created: dict[str, tuple[Expr, Expr]] = {}
        mature: dict[str, tuple[Expr, Expr]] = {}
        score_a, score_b = c.score(c.answer_a), c.score(c.answer_b)
        true = literal(True)

        def arms(into: dict, name: str, cond: Expr, score: Expr) -> None:
            for ph, _ in phases:
                for arm in "AB":
                    into[f"{name}|{ph}|{arm}"] = (
                        and_(cond, self._arm(arm == "B"), c.phase == ph),
                        score,
                    )

        if paired:
            entered["primary"] = (true, score_b - score_a)
        else:
            served_score = case((c.served_b, score_b), else_=score_a)
            arms(entered, "primary", true, case((c.triggered, served_score), else_=0.0))
        for arm in "AB":
            entered[f"labelled|{arm}"] = (self._arm(arm == "B"), one)
            mature[f"mature|{arm}"] = (self._arm(arm == "B"), one)
        if self.trial.mode != ABMode.SHADOW:
            arms(created, "units", true, one)
        failed = case((c.failed_b, 1.0), else_=0.0) - case((c.failed_a, 1.0), else_=0.0)
        created["error_rate"] = (true, failed)
        timed = and_(c.latency_a.is_not(None), c.latency_b.is_not(None))
        created["latency"] = (timed, _capped(c.latency_b) - _capped(c.latency_a))
        for k, cls in enumerate(self.classes_guarded()):
            if paired:
                a_right = case((c.answer_a == c.label, 1.0), else_=0.0)
                b_right = case((c.answer_b == c.label, 1.0), else_=0.0)
                entered[f"precision{k}|0|A"] = (c.answer_a == cls, a_right)
                entered[f"precision{k}|0|B"] = (c.answer_b == cls, b_right)
                said = case((c.answer_b == cls, 1.0), else_=0.0) - case(
                    (c.answer_a == cls, 1.0), else_=0.0
                )
                entered[f"recall{k}"] = (c.label == cls, said)
            else:
                right = case((c.served == c.label, 1.0), else_=0.0)
                arms(entered, f"precision{k}", c.served == cls, right)
                said_served = case((c.served == cls, 1.0), else_=0.0)
                arms(entered, f"recall{k}", c.label == cls, said_served)
        return {"entered": entered, "created": created, "mature": mature}

    def classes_guarded(self) -> tuple[float, ...]:
        return self.classes if self.trial.task == Task.CLASSIFICATION else ()

    def tracks(
        self, now: float, *, paired: bool, points: int = 1
    ) -> tuple[Tracks[Moments], Tracks[Moments] | None, np.ndarray]:
        """The moments of every track at ``now``; with ``points`` > 1 also the entered
        tracks at that many equally spaced times up to ``now`` (the timeline), and those
        times."""
        c = self.cols
        phases = self.phases()
        conditions = self.track_conditions(phases, paired=paired)
        first = self.conn.execute(
            select(func.min(c.entered)).select_from(self.source).where(self.where)
        ).scalar_one()
        edges = [now]
        if points > 1 and first is not None and float(first) < now:
            edges = [float(e) for e in np.linspace(float(first), now, points + 1)[1:]]
            edges[-1] = now
        tables = {
            **self.moments(c.entered, conditions["entered"], edges),
            **self.moments(c.created, conditions["created"], [now]),
            **self.moments(c.mature, conditions["mature"], [now]),
        }
        at_now = _tracks(tables, phases, paired, len(self.classes_guarded()), self.trial, -1)
        timeline = None
        if len(edges) > 1:
            timeline = _tracks(
                tables, phases, paired, len(self.classes_guarded()), self.trial, slice(None)
            )
        return at_now, timeline, np.asarray(edges)


def _tracks(
    tables: dict[str, np.ndarray],
    phases: list[tuple[int, float]],
    paired: bool,
    guarded: int,
    trial: Trial,
    which: int | slice,
) -> Tracks[Moments]:
    """The :class:`Tracks` of one look (``which`` = -1) or of every bucket."""

    def m(name: str) -> Moments:
        table = tables[name]
        if table.shape[0] == 1 or isinstance(which, int):
            return Moments(*(float(v) for v in table[-1]))
        return Moments(*(table[which][:, i] for i in range(6)))

    def pairs(name: str) -> tuple[tuple[Moments, Moments], ...]:
        return tuple((m(f"{name}|{ph}|A"), m(f"{name}|{ph}|B")) for ph, _ in phases)

    split = trial.mode != ABMode.SHADOW
    latency = m("latency")
    return Tracks(
        paired=paired,
        splits=tuple(s for _, s in phases) if split else (),
        primary_paired=m("primary") if paired else None,
        primary_phases=() if paired else pairs("primary"),
        labelled=(m("labelled|A"), m("labelled|B")),
        units=pairs("units") if split else (),
        mature=(m("mature|A"), m("mature|B")),
        error_rate=m("error_rate"),
        latency=latency if np.any(np.asarray(latency.n) > 0) else None,
        precision=tuple(
            ((m(f"precision{k}|0|A"), m(f"precision{k}|0|B")),)
            if paired
            else pairs(f"precision{k}")
            for k in range(guarded)
        ),
        recall_paired=tuple(m(f"recall{k}") for k in range(guarded)) if paired else (),
        recall_phases=() if paired else tuple(pairs(f"recall{k}") for k in range(guarded)),
    )
