"""The rows of an A/B trial as SQL: per-row quantities and the tracks a look adds up.

The decision of :mod:`champion.abtest` reads, for each group of rows (a *track*: an arm
in a phase, a guarded class, the failures, the latencies), the moments of
:class:`~champion.abtest.moments.Moments` — units, rows, and sums of per-unit sums and of
their squares. Here each track is a SQL condition and a SQL score over the trial's rows,
read at one of three times per row: when it was served, when it entered the comparison
(its label arrived, or it became old enough), when it became old enough to have its
label. :mod:`.look_state` adds them up, a window of time at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from champion.abtest.evidence import LATENCY_CAP_MS
from champion.abtest.frame import all_numeric, class_codes
from champion.abtest.looks import Tracks
from champion.abtest.moments import Moments
from champion.predictionlog.schema import feedback, predictions
from champion.types import ABMode, Task

Expr = ColumnElement[Any]
#: slack on the raw timestamp columns before the exact float comparison (index ranges)
_MARGIN_S = 1.0


class Key(StrEnum):
    """The time at which a row counts for a track."""

    CREATED = "created"  # served
    ENTERED = "entered"  # labelled (or old enough, with a label-maturity window)
    MATURE = "mature"  # old enough to have its label


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


def capped(latency: Expr) -> Expr:
    return case((latency > LATENCY_CAP_MS, LATENCY_CAP_MS), else_=latency)


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Columns:
    """The per-row quantities of the evaluation as SQL expressions over the joined rows."""

    served_b: Expr
    unit: Expr  # the randomisation unit as text (hash mode: user and phase; else the row)
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

    def key(self, key: Key) -> Expr:
        return {Key.CREATED: self.created, Key.ENTERED: self.entered, Key.MATURE: self.mature}[key]

    def answer(self, arm: str) -> Expr:
        return self.answer_b if arm == "b" else self.answer_a

    @property
    def served(self) -> Expr:
        return case((self.served_b, self.answer_b), else_=self.answer_a)

    def score(self, answer: Expr) -> Expr:
        """1/0 right, or minus the absolute error; 0 without a label or an answer."""
        if self.classification:
            right: Expr = case((answer == self.label, 1.0), else_=0.0)
        else:
            right = -func.abs(self.label - answer)
        return case((and_(self.labelled, answer.is_not(None)), right), else_=0.0)

    @property
    def triggered(self) -> Expr:
        alike = or_(self.answer_a == self.answer_b, self.answer_a.is_(None))
        return case((alike, False), else_=True)


@dataclass(frozen=True)
class Classes:
    """Classification outputs as the evaluation codes them: each JSON text seen in the
    trial's predictions and labels -> its class code; the guarded classes."""

    codes: dict[str, float]
    positive: tuple[float, ...]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Classes:
        values = {t: orjson.loads(t) for t in set(texts)}
        values = {t: v for t, v in values.items() if v is not None}
        numeric = all_numeric(values.values())
        key = {t: (v if numeric else str(v)) for t, v in values.items()}
        lookup, positive = class_codes(list(key.values()))
        return cls({t: lookup[k] for t, k in sorted(key.items())}, positive)

    def code(self, column: Any) -> Expr:
        if not self.codes:
            return cast(null(), Float)
        return case(self.codes, value=column, else_=None)


class TrialRows:
    """The SQL of one trial's rows."""

    def __init__(self, dialect: str, trial: Trial, classes: Classes | None) -> None:
        self.dialect, self.trial = dialect, trial
        p, f = predictions, feedback
        on = p.c.request_id == f.c.request_id
        if dialect == "postgresql":  # a label's partition is its prediction's: probe one
            on = and_(on, f.c.predicted_at == p.c.created_at)
        self.source = p.outerjoin(f, on)
        self.where = and_(
            p.c.experiment_id == trial.experiment_id,
            p.c.model_name == trial.model_name,
            p.c.version_a == trial.champion,
            p.c.version_b == trial.challenger,
        )
        # SQLite (no statistics unless ANALYZE ran) would walk the experiment's rows to
        # find a window of labels; the same test through expressions no index serves
        # makes it start from the labels' arrival index. PostgreSQL plans from statistics.
        self._where_by_label = (
            self.where
            if dialect == "postgresql"
            else and_(
                func.coalesce(p.c.experiment_id, "") == trial.experiment_id,
                func.coalesce(p.c.model_name, "") == trial.model_name,
                p.c.version_a == trial.champion,
                p.c.version_b == trial.challenger,
            )
        )
        self.classes = classes or Classes({}, ())
        self.cols = self._columns()

    def _columns(self) -> Columns:
        p, f, t = predictions, feedback, self.trial
        classification = t.task == Task.CLASSIFICATION
        failed = {arm: func.coalesce(getattr(p.c, f"failed_{arm}"), 0) != 0 for arm in "ab"}
        raw = {
            arm: self.classes.code(getattr(p.c, f"prediction_{arm}"))
            if classification
            else getattr(p.c, f"prediction_{arm}_num")
            for arm in "ab"
        }
        pred = {arm: case((failed[arm], None), else_=raw[arm]) for arm in "ab"}
        label = self.classes.code(f.c.label) if classification else f.c.label_num
        created = epoch_seconds(p.c.created_at, self.dialect)
        labelled = and_(f.c.received_at.is_not(None), label.is_not(None))
        mature = created + t.maturity
        phase = func.coalesce(p.c.phase, 0)
        row_unit = literal("r:") + p.c.request_id
        if t.mode == ABMode.HASH:  # users are randomised; a row without one is its own unit
            who = case((p.c.user_id.is_(None), row_unit), else_=literal("u:") + p.c.user_id)
            unit = cast(phase, String) + literal(":") + who
        else:
            unit = row_unit
        return Columns(
            served_b=p.c.variant == "B",
            unit=unit,
            phase=phase,
            created=created,
            labelled=labelled,
            entered=case(
                (labelled, _larger(epoch_seconds(f.c.received_at, self.dialect), mature)),
                else_=None,
            ),
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

    def label_floor(self, conn: Any, lo: float, hi: float) -> datetime | None:
        """PostgreSQL: the earliest prediction labelled in (lo, hi] — a literal lower
        bound on ``created_at`` lets the planner prune the older partitions and range
        over the index, so a look's label window costs what the labels' delay spans,
        not the log (the join alone is planned as a scan of every partition)."""
        if self.dialect != "postgresql":
            return None
        f = feedback.c
        query = select(func.min(f.predicted_at)).where(
            f.received_at > when(lo - _MARGIN_S), f.received_at <= when(hi + _MARGIN_S)
        )
        return conn.execute(query).scalar()

    def window(self, key: Key, lo: float | None, hi: float, floor: datetime | None = None) -> Expr:
        """Rows whose ``key`` time is in (lo, hi] (lo None: up to hi), by ranges of the
        indexed timestamp columns, then exactly; ``floor``: see :meth:`label_floor`."""
        p, f, c = predictions, feedback, self.cols
        exact = c.key(key) <= hi if lo is None else and_(c.key(key) > lo, c.key(key) <= hi)
        shift = self.trial.maturity if key == Key.MATURE else 0.0
        top = when(hi - shift + _MARGIN_S)
        if key == Key.ENTERED:
            if lo is None:
                return and_(f.c.received_at.is_not(None), exact)
            # entered = max(label arrival, served + maturity): either moved into the window
            arrived = select(f.c.request_id).where(
                f.c.received_at > when(lo - _MARGIN_S), f.c.received_at <= top
            )
            aged = select(p.c.request_id).where(
                p.c.model_name == self.trial.model_name,
                p.c.experiment_id == self.trial.experiment_id,
                p.c.created_at > when(lo - self.trial.maturity - _MARGIN_S),
                p.c.created_at <= when(hi - self.trial.maturity + _MARGIN_S),
            )
            chosen = and_(p.c.request_id.in_(arrived.union(aged)), exact)
            if self.dialect != "postgresql":
                return chosen
            aged_from = when(lo - self.trial.maturity - _MARGIN_S)
            start = aged_from if floor is None else min(floor, aged_from)
            return and_(p.c.created_at >= start, chosen)
        ranged = p.c.created_at <= top
        if lo is not None:
            ranged = and_(ranged, p.c.created_at > when(lo - shift - _MARGIN_S))
        return and_(ranged, exact)

    def within(self, key: Key, lo: float | None, hi: float, floor: datetime | None = None) -> Expr:
        """The trial's rows whose ``key`` time is in (lo, hi]."""
        by_label = key == Key.ENTERED and lo is not None
        chosen = self._where_by_label if by_label else self.where
        return and_(chosen, self.window(key, lo, hi, floor))

    def texts(self, conn: Any, lo: float | None, hi: float) -> set[str]:
        """The JSON texts of the predictions served and the labels received in (lo, hi]."""
        p, f = predictions, feedback
        served = self.within(Key.CREATED, lo, hi)
        arrived = f.c.received_at <= when(hi + _MARGIN_S)
        if lo is not None:
            arrived = and_(self._where_by_label, arrived, f.c.received_at > when(lo - _MARGIN_S))
        else:
            arrived = and_(self.where, arrived)
        found: set[str] = set()
        for column, cond, source in (  # the answers need no join to the labels
            (p.c.prediction_a, served, p),
            (p.c.prediction_b, served, p),
            (f.c.label, arrived, self.source),
        ):
            query = select(column).select_from(source).where(cond).distinct()
            found.update(t for (t,) in conn.execute(query) if t is not None)
        return found

    def phases(self, conn: Any, lo: float | None, hi: float) -> list[int]:
        """The phases of the rows served in (lo, hi], in the order they started."""
        c = self.cols
        query = (
            select(c.phase, func.min(c.created))
            .select_from(self.source)
            .where(self.within(Key.CREATED, lo, hi))
            .group_by(c.phase)
        )
        return [int(ph) for ph, _ in sorted(conn.execute(query).all(), key=lambda r: (r[1], r[0]))]


def track_conditions(
    cols: Columns, trial: Trial, phases: Sequence[int], classes: Classes, *, paired: bool
) -> dict[Key, dict[str, tuple[Expr, Expr]]]:
    """Every track's (condition, score), by the time key it is read at."""
    one, true = literal(1.0), literal(True)
    tracks: dict[Key, dict[str, tuple[Expr, Expr]]] = {k: {} for k in Key}
    entered, created = tracks[Key.ENTERED], tracks[Key.CREATED]

    def arm(b: bool) -> Expr:
        return cols.served_b if b else ~cols.served_b

    def arms(into: dict, name: str, cond: Expr, score: Expr) -> None:
        for ph in phases:
            for side in "AB":
                into[f"{name}|{ph}|{side}"] = (
                    and_(cond, arm(side == "B"), cols.phase == ph),
                    score,
                )

    score_a, score_b = cols.score(cols.answer_a), cols.score(cols.answer_b)
    if paired:
        entered["primary"] = (true, score_b - score_a)
    else:
        served_score = case((cols.served_b, score_b), else_=score_a)
        arms(entered, "primary", true, case((cols.triggered, served_score), else_=0.0))
    for side in "AB":
        entered[f"labelled|{side}"] = (arm(side == "B"), one)
        tracks[Key.MATURE][f"mature|{side}"] = (arm(side == "B"), one)
    if trial.mode != ABMode.SHADOW:
        arms(created, "units", true, one)
    failed = case((cols.failed_b, 1.0), else_=0.0) - case((cols.failed_a, 1.0), else_=0.0)
    created["error_rate"] = (true, failed)
    timed = and_(cols.latency_a.is_not(None), cols.latency_b.is_not(None))
    created["latency"] = (timed, capped(cols.latency_b) - capped(cols.latency_a))
    if trial.task != Task.CLASSIFICATION:
        return tracks
    for k, cls in enumerate(classes.positive):
        if paired:
            right = {s: case((cols.answer(s) == cols.label, 1.0), else_=0.0) for s in "ab"}
            entered[f"precision{k}|0|A"] = (cols.answer_a == cls, right["a"])
            entered[f"precision{k}|0|B"] = (cols.answer_b == cls, right["b"])
            said = case((cols.answer_b == cls, 1.0), else_=0.0) - case(
                (cols.answer_a == cls, 1.0), else_=0.0
            )
            entered[f"recall{k}"] = (cols.label == cls, said)
        else:
            right_served = case((cols.served == cols.label, 1.0), else_=0.0)
            arms(entered, f"precision{k}", cols.served == cls, right_served)
            said_served = case((cols.served == cls, 1.0), else_=0.0)
            arms(entered, f"recall{k}", cols.label == cls, said_served)
    return tracks


def tracks_of(
    get: Callable[[str], Moments],
    trial: Trial,
    phases: Sequence[tuple[int, float]],
    guarded: int,
    *,
    paired: bool,
) -> Tracks[Moments]:
    """The :class:`Tracks` of a look from each track's moments (``get`` by name)."""

    def pairs(name: str) -> tuple[tuple[Moments, Moments], ...]:
        return tuple((get(f"{name}|{ph}|A"), get(f"{name}|{ph}|B")) for ph, _ in phases)

    split = trial.mode != ABMode.SHADOW
    latency = get("latency")
    precision = tuple(
        ((get(f"precision{k}|0|A"), get(f"precision{k}|0|B")),)
        if paired
        else pairs(f"precision{k}")
        for k in range(guarded)
    )
    return Tracks(
        paired=paired,
        splits=tuple(s for _, s in phases) if split else (),
        primary_paired=get("primary") if paired else None,
        primary_phases=() if paired else pairs("primary"),
        labelled=(get("labelled|A"), get("labelled|B")),
        units=pairs("units") if split else (),
        mature=(get("mature|A"), get("mature|B")),
        error_rate=get("error_rate"),
        latency=latency if float(latency.n) > 0 else None,
        precision=precision,
        recall_paired=tuple(get(f"recall{k}") for k in range(guarded)) if paired else (),
        recall_phases=() if paired else tuple(pairs(f"recall{k}") for k in range(guarded)),
    )


_scratch = MetaData()
#: One look's window of rows, each with the per-row quantities worked out once (a row is
#: here once per time key that falls in the window).
window_rows = Table(
    "champion_look_window",
    _scratch,
    Column("k", Integer),  # Key.CREATED 0, ENTERED 1, MATURE 2
    Column("unit", Text),
    Column("served_b", Integer),
    Column("phase", Integer),
    Column("created", Float),
    Column("entered", Float),
    Column("mature", Float),
    Column("labelled", Integer),
    Column("label", Float),
    Column("answer_a", Float),
    Column("answer_b", Float),
    Column("failed_a", Integer),
    Column("failed_b", Integer),
    Column("latency_a", Float),
    Column("latency_b", Float),
    Column("prob_a", Float),
    Column("prob_b", Float),
    prefixes=["TEMPORARY"],
)
KEY_INDEX = {Key.CREATED: 0, Key.ENTERED: 1, Key.MATURE: 2}
#: One window's sums per unit and track, before they are added to the kept ones.
window_deltas = Table(
    "champion_look_delta",
    _scratch,
    Column("track", Integer),
    Column("unit", Text),
    Column("dn", Float),
    Column("ds", Float),
    prefixes=["TEMPORARY"],
)


class WindowRows:
    """A trial's rows in one window of time, computed once into a temporary table: the
    tracks and figures of the window are then sums over plain numeric columns."""

    def __init__(self, conn: Any, rows: TrialRows, lo: float | None, hi: float) -> None:
        self.conn = conn
        w = window_rows
        w.create(conn, checkfirst=True)
        conn.execute(w.delete())
        c = rows.cols
        values = [
            c.unit, case((c.served_b, 1), else_=0), c.phase, c.created, c.entered, c.mature,
            case((c.labelled, 1), else_=0), c.label, c.answer_a, c.answer_b,
            case((c.failed_a, 1), else_=0), case((c.failed_b, 1), else_=0),
            c.latency_a, c.latency_b, c.prob_a, c.prob_b,
        ]  # fmt: skip
        names = [col.name for col in w.columns][1:]
        # without a maturity window a row is mature when it is served: the same rows
        self._same = {Key.MATURE: Key.CREATED} if rows.trial.maturity == 0 else {}
        for key, index in KEY_INDEX.items():
            if key in self._same:
                continue
            by_label = key == Key.ENTERED and lo is not None
            floor = rows.label_floor(conn, lo, hi) if by_label else None
            picked = select(literal(index), *values).select_from(rows.source)
            where = rows.within(key, lo, hi, floor)
            conn.execute(w.insert().from_select(["k", *names], picked.where(where)))
        self.source = w
        self.cols = Columns(
            served_b=w.c.served_b == 1,
            unit=w.c.unit,
            phase=w.c.phase,
            created=w.c.created,
            labelled=w.c.labelled == 1,
            entered=w.c.entered,
            mature=w.c.mature,
            label=w.c.label,
            answer_a=w.c.answer_a,
            answer_b=w.c.answer_b,
            failed_a=w.c.failed_a == 1,
            failed_b=w.c.failed_b == 1,
            latency_a=w.c.latency_a,
            latency_b=w.c.latency_b,
            prob_a=w.c.prob_a,
            prob_b=w.c.prob_b,
            classification=c.classification,
        )

    def within(self, key: Key) -> Expr:
        return window_rows.c.k == KEY_INDEX[self._same.get(key, key)]

    def close(self) -> None:
        window_rows.drop(self.conn, checkfirst=True)
