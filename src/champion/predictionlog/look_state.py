"""A look at an A/B trial from running sums: each look reads only what arrived since.

Every number a decision needs is a sum over units (:mod:`champion.abtest.moments`), and
each row counts for a track from a time on (served, labelled, old enough). So the sums
of the rows up to a time ``T`` can be kept (``ab_state``) and brought to a later time by
adding the rows whose time falls in between. For a unit seen before — a returning user
in hash mode — the unit's own sums are kept too (``ab_unit_sums``), because
``sum S_j^2`` grows by ``dS (2 S + dS)``, not by ``dS^2``; in the other modes each row is
its own unit and no per-unit state is needed.

Rows are committed a little after they are served (the API's commit deadline) and
labels a little after they are stamped, so what is kept stops ``lag`` seconds before
the look: the last ``lag`` seconds are added up at each look and thrown away, then kept
by a later look once nothing more can arrive in them. A look therefore costs the rows
and labels of the last ``lag`` seconds plus those since the previous look, whatever the
size of the log. Anything that changes what a sum means — a new class, another task,
mode, maturity or analysis, or rows written afterwards with a time the kept sums have
passed (a backfill: found by counting the experiment's rows up to that time) — starts
the sums again from the whole log (one full pass). Labels are stamped by the log when
they arrive, so they cannot be backdated through the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Float,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from champion.abtest.moments import Moments
from champion.predictionlog.aggregates import (
    Classes,
    Expr,
    Key,
    Trial,
    TrialRows,
    WindowRows,
    track_conditions,
    when,
    window_deltas,
)
from champion.predictionlog.schema import ab_config, ab_state, ab_unit_sums, predictions
from champion.types import ABMode, Task

#: seconds before a look that are still in flux (commits and labels in flight)
LOOK_LAG_S = 60.0
#: tracks read only for their row count (coverage, labels per arm), never their spread
COUNTED = ("labelled|", "mature|")
#: probability histogram resolution (ROC AUC) and latency bins (p95)
PROB_BINS = 10_000


@dataclass
class Sums:
    """What the looks so far have added up (persisted as ``ab_state``)."""

    signature: dict[str, Any]
    upto: float | None = None  # None: nothing yet
    totals: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    looks: list[list[float]] = field(default_factory=list)
    id: int | None = None
    latest: dict[str, Any] = field(default_factory=dict)  # the last look's decision, when

    def moments(self, name: str) -> Moments:
        return Moments(*self.totals.get(name, [0.0] * 6))

    def add(self, name: str, values: list[float]) -> None:
        old = self.totals.get(name, [0.0] * 6)
        self.totals[name] = [a + b for a, b in zip(old, values, strict=True)]

    def count(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0.0) + value

    def copy(self) -> Sums:
        return Sums(
            dict(self.signature),
            self.upto,
            {k: list(v) for k, v in self.totals.items()},
            dict(self.counts),
            list(self.looks),
            self.id,
            dict(self.latest),
        )

    def figures(self) -> str:
        """The ``figures`` column: counts, the looks' points, the last look's decision."""
        return json.dumps({"counts": self.counts, "looks": self.looks, **self.latest}, default=str)


def _meaning(trial: Trial, paired: bool) -> dict[str, Any]:
    """What the sums are sums of, besides the classes and phases seen."""
    return {
        "task": trial.task,
        "mode": trial.mode,
        "maturity": trial.maturity,
        "paired": paired,
        "latency_bins": 2,  # kept sums binned otherwise are summed again
    }


def _trial_filter(trial: Trial) -> Expr:
    s = ab_state.c
    return and_(
        s.model_name == trial.model_name,
        s.experiment_id == trial.experiment_id,
        s.champion == trial.champion,
        s.challenger == trial.challenger,
    )


def _load(conn: Any, trial: Trial) -> Sums | None:
    # two first looks at once may each start sums: both are right, the oldest is read
    query = select(ab_state).where(_trial_filter(trial)).order_by(ab_state.c.id).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # one look at a time adds to the sums
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    figures = json.loads(row["figures"])
    upto = float(row["upto"])
    return Sums(
        json.loads(row["signature"]),
        upto if np.isfinite(upto) else None,
        json.loads(row["totals"]),
        figures["counts"],
        figures["looks"],
        int(row["id"]),
        {k: figures[k] for k in ("decision", "looked_at") if k in figures},
    )


def _save(conn: Any, trial: Trial, sums: Sums) -> None:
    values = {
        "signature": json.dumps(sums.signature),
        "upto": sums.upto if sums.upto is not None else float("-inf"),
        "totals": json.dumps(sums.totals),
        "figures": sums.figures(),
        "updated_at": datetime.now(UTC),
    }
    if sums.id is None:
        keys = {
            "model_name": trial.model_name,
            "experiment_id": trial.experiment_id,
            "champion": trial.champion,
            "challenger": trial.challenger,
        }
        sums.id = int(
            conn.execute(insert(ab_state).values(**keys, **values)).inserted_primary_key[0]
        )
    else:
        conn.execute(sql_update(ab_state).where(ab_state.c.id == sums.id).values(**values))


def _splits(conn: Any, trial: Trial, phases: list[int]) -> list[tuple[int, float]]:
    config = select(ab_config.c.id, ab_config.c.split_b).where(
        ab_config.c.experiment_id == trial.experiment_id,
        ab_config.c.model_name == trial.model_name,
    )
    known = dict(conn.execute(config).all())
    return [(ph, float(known.get(ph, trial.split_b))) for ph in phases]


# -- adding up a window of time ---------------------------------------------------------
def _track_ids(sums: Sums, names: list[str]) -> list[int]:
    ids: dict[str, int] = sums.signature.setdefault("ids", {})
    for name in names:
        if name not in ids:
            ids[name] = len(ids)
    return [ids[n] for n in names]


def _per_unit(
    conn: Any, win: WindowRows, sums: Sums, key: Key, conds: dict[str, tuple[Expr, Expr]],
    persist: bool, first: bool = False,
) -> None:  # fmt: skip
    """Hash mode: the window's sums per unit, added to each unit's kept sums."""
    names = list(conds)
    ids = _track_ids(sums, names)
    c = win.cols
    delta = (
        select(
            c.unit.label("unit"),
            *[
                func.sum(case((conds[n][0], 1), else_=0)).label(f"n{i}")
                for i, n in enumerate(names)
            ],
            *[
                func.sum(case((conds[n][0], conds[n][1]), else_=0.0)).label(f"s{i}")
                for i, n in enumerate(names)
            ],
        )
        .select_from(win.source)
        .where(win.within(key))
        .group_by(c.unit)
        .cte("d")
    )
    t = union_all(*[select(literal(i).label("track")) for i in ids]).cte("t")
    dn = case(*[(t.c.track == ids[i], delta.c[f"n{i}"]) for i in range(len(ids))], else_=0)
    ds = case(*[(t.c.track == ids[i], delta.c[f"s{i}"]) for i in range(len(ids))], else_=0.0)
    long = (
        select(t.c.track, delta.c.unit, cast(dn, Float).label("dn"), cast(ds, Float).label("ds"))
        .select_from(delta.join(t, true()))
        .where(dn > 0)
    )
    d = window_deltas
    d.create(conn, checkfirst=True)
    conn.execute(d.delete())
    conn.execute(d.insert().from_select(["track", "unit", "dn", "ds"], long))
    _analyze(conn, d.name)
    u = ab_unit_sums.c
    joined = d.outerjoin(
        ab_unit_sums, and_(u.state_id == sums.id, u.track == d.c.track, u.unit == d.c.unit)
    )
    n0, s0 = func.coalesce(u.n, 0.0), func.coalesce(u.s, 0.0)
    increments = (
        select(
            d.c.track,
            func.sum(case((n0 == 0, 1.0), else_=0.0)),
            func.sum(d.c.dn),
            func.sum(d.c.ds),
            func.sum(d.c.ds * (2.0 * s0 + d.c.ds)),
            func.sum(d.c.ds * n0 + s0 * d.c.dn + d.c.ds * d.c.dn),
            func.sum(d.c.dn * (2.0 * n0 + d.c.dn)),
        )
        .select_from(joined)
        .group_by(d.c.track)
    )
    by_id = {i: n for n, i in zip(names, ids, strict=True)}
    for track, *values in conn.execute(increments):
        sums.add(by_id[int(track)], [float(v or 0.0) for v in values])
    if persist:  # driven by the window's units (an index probe each), not the kept ones
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        rows_in = select(literal(sums.id), d.c.track, d.c.unit, d.c.dn, d.c.ds).where(true())
        stmt = dialect_insert(ab_unit_sums).from_select(
            ["state_id", "track", "unit", "n", "s"], rows_in
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["state_id", "track", "unit"],
            set_={"n": ab_unit_sums.c.n + stmt.excluded.n, "s": ab_unit_sums.c.s + stmt.excluded.s},
        )
        conn.execute(stmt)
        if first:  # the kept sums were just written in bulk: plan later looks from them
            _analyze(conn, ab_unit_sums.name)
    d.drop(conn, checkfirst=True)


def _analyze(conn: Any, table: str) -> None:
    """PostgreSQL: statistics for a table just filled. Without them the planner takes a
    temporary table for empty and a freshly filled ``ab_unit_sums`` for small, and
    hashes every kept unit of the trial instead of probing those the window touches."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table}"))


def _per_row(
    conn: Any, win: WindowRows, sums: Sums, key: Key, conds: dict[str, tuple[Expr, Expr]]
) -> None:
    """Every row its own unit: each row adds itself (k = n, sum S N = sum S, ...)."""
    names = list(conds)
    columns = []
    for n in names:
        cond, score = conds[n]
        columns += [
            func.sum(case((cond, 1.0), else_=0.0)),
            func.sum(case((cond, score), else_=0.0)),
            func.sum(case((cond, score * score), else_=0.0)),
        ]
    query = select(*columns).select_from(win.source).where(win.within(key))
    got = [float(v or 0.0) for v in conn.execute(query).one()]
    for i, n in enumerate(names):
        count, total, squares = got[3 * i : 3 * i + 3]
        sums.add(n, [count, count, total, squares, total, count])


def _bin(latency: Expr) -> Expr:
    """1 µs bins below 1 ms (a compiled model scores in tens of µs: coarser bins would
    give both arms the same p95), 0.05 ms bins to 100 ms, 1 ms bins above (integers,
    portable; :func:`champion.predictionlog.evaluation.latency_value` reads them)."""
    return case(
        (latency < 1.0, cast(latency * 1000.0, Integer)),
        (latency < 100.0, 1000 + cast(latency * 20.0, Integer)),
        else_=3000 + cast(latency - 100.0, Integer),
    )


def _grouped(conn: Any, win: WindowRows, key: Key, *exprs: Expr) -> list:
    query = (
        select(*exprs, func.count()).select_from(win.source).where(win.within(key)).group_by(*exprs)
    )
    return list(conn.execute(query))


def _figures(conn: Any, win: WindowRows, sums: Sums) -> None:
    """The per-arm counts the reader's figures come from (served and labelled rows,
    failures, latency and probability histograms, confusion cells, error sums)."""
    c = win.cols
    served = case((c.served_b, 1), else_=0)
    for side, n in _grouped(conn, win, Key.CREATED, served):
        sums.count(f"req|{side}", n)
    for arm in "ab":
        failed = case((getattr(c, f"failed_{arm}"), 1), else_=0)
        for side, is_failed, n in _grouped(conn, win, Key.CREATED, served, failed):
            if is_failed:
                sums.count(f"fail_{arm}|{side}", n)
        latency = getattr(c, f"latency_{arm}")
        for side, bin_, n in _grouped(conn, win, Key.CREATED, served, _bin(latency)):
            if bin_ is not None:
                sums.count(f"lat_{arm}|{side}|{int(bin_)}", n)
    for side, n in _grouped(conn, win, Key.ENTERED, served):
        sums.count(f"lab|{side}", n)
    if not c.classification:
        for arm in "ab":
            _error_sums(conn, win, sums, arm)
        return
    for side, y, a, b, n in _grouped(
        conn, win, Key.ENTERED, served, c.label, c.answer_a, c.answer_b
    ):
        sums.count(f"conf|{side}|{y}|{a}|{b}", n)
    for arm in "ab":
        prob = getattr(c, f"prob_{arm}")
        binned = case((prob.is_(None), -1), else_=cast(prob * PROB_BINS, Integer))
        for side, y, bin_, n in _grouped(conn, win, Key.ENTERED, served, c.label, binned):
            sums.count(f"prob_{arm}|{side}|{y}|{int(bin_)}", n)


def _error_sums(conn: Any, win: WindowRows, sums: Sums, arm: str) -> None:
    c = win.cols
    answer = c.answer(arm)
    err = c.label - answer
    served = case((c.served_b, 1), else_=0)
    query = (
        select(
            served,
            func.count(),
            func.sum(c.label),
            func.sum(c.label * c.label),
            func.sum(func.abs(err)),
            func.sum(err * err),
        )
        .select_from(win.source)
        .where(win.within(Key.ENTERED), answer.is_not(None))
        .group_by(served)
    )
    for side, n, sy, syy, sae, sse in conn.execute(query):
        for stat, value in (("n", n), ("y", sy), ("yy", syy), ("ae", sae), ("se", sse)):
            sums.count(f"reg_{arm}|{side}|{stat}", float(value or 0.0))


def _served_rows(conn: Any, rows: TrialRows, lo: float | None, hi: float) -> int:
    """Rows of the whole experiment served in the window (any versions)."""
    every = and_(
        predictions.c.experiment_id == rows.trial.experiment_id,
        predictions.c.model_name == rows.trial.model_name,
    )
    query = (
        select(func.count()).select_from(rows.source).where(every, rows.window(Key.CREATED, lo, hi))
    )
    return int(conn.execute(query).scalar_one())


def _rows_up_to(conn: Any, trial: Trial, upto: float) -> float:
    """Rows of the experiment served up to ``upto`` (an index range count)."""
    p = predictions.c
    query = select(func.count()).where(
        p.model_name == trial.model_name,
        p.experiment_id == trial.experiment_id,
        p.created_at <= when(upto),
    )
    return float(conn.execute(query).scalar_one())


@dataclass(frozen=True)
class Plan:
    """What the sums are over: the trial's SQL, its phases, its classes, the analysis."""

    rows: TrialRows
    phases: list[int]
    classes: Classes
    paired: bool


def _add_window(
    conn: Any, plan: Plan, sums: Sums, lo: float | None, hi: float, *, persist: bool
) -> None:
    """Add the rows whose times fall in (lo, hi] to ``sums`` (and, with ``persist``, to
    the kept per-unit sums)."""
    trial = plan.rows.trial
    win = WindowRows(conn, plan.rows, lo, hi)
    _analyze(conn, win.source.name)
    conditions = track_conditions(win.cols, trial, plan.phases, plan.classes, paired=plan.paired)
    for key, conds in conditions.items():
        if trial.mode != ABMode.HASH:  # every row its own unit
            _per_row(conn, win, sums, key, conds)
            continue
        # row counts only (labelled and mature rows): no unit needs remembering for them
        counted = {n: v for n, v in conds.items() if n.startswith(COUNTED)}
        spread = {n: v for n, v in conds.items() if n not in counted}
        if counted:
            _per_row(conn, win, sums, key, counted)
        if spread:
            _per_unit(conn, win, sums, key, spread, persist, first=lo is None)
    _figures(conn, win, sums)
    sums.count("all", float(_served_rows(conn, plan.rows, lo, hi)))
    win.close()


# -- a look ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """What a look found: the sums up to it, the phases and the classes; ``kept`` is
    what was stored (the sums up to ``now - lag``, with the looks taken)."""

    sums: Sums
    phases: list[tuple[int, float]]
    classes: Classes
    kept: Sums


def _discover(
    conn: Any, trial: Trial, sums: Sums | None, paired: bool, now: float
) -> tuple[Sums, Classes, list[int]]:
    """The sums to add to — a fresh start when what they mean has changed — with the
    classes and phases seen so far."""
    plain = TrialRows(conn.dialect.name, trial, None)
    meaning = _meaning(trial, paired)
    if sums is None:
        return _discover_fresh(conn, trial, Sums(meaning), plain, now)
    lo = sums.upto
    texts = plain.texts(conn, lo, now) if trial.task == Task.CLASSIFICATION else set()
    same = {k: sums.signature.get(k) for k in meaning} == meaning
    # rows written with a time the kept sums have passed (a backfill, an import): the
    # kept sums miss them, so they start again
    complete = lo is None or _rows_up_to(conn, trial, lo) == sums.counts.get("all", 0.0)
    if not same or not complete or not texts <= set(sums.signature.get("texts", [])):
        conn.execute(delete(ab_unit_sums).where(ab_unit_sums.c.state_id == sums.id))
        fresh = Sums(meaning, id=sums.id, looks=sums.looks, latest=sums.latest)
        return _discover_fresh(conn, trial, fresh, plain, now)
    known = sums.signature["phases"]
    sums.signature["phases"] = known + [p for p in plain.phases(conn, lo, now) if p not in known]
    return sums, Classes.of(sums.signature["texts"]), sums.signature["phases"]


def _discover_fresh(
    conn: Any, trial: Trial, sums: Sums, plain: TrialRows, now: float
) -> tuple[Sums, Classes, list[int]]:
    texts = sorted(plain.texts(conn, None, now)) if trial.task == Task.CLASSIFICATION else []
    sums.signature["texts"] = texts
    sums.signature["phases"] = plain.phases(conn, None, now)
    return sums, Classes.of(texts), sums.signature["phases"]


def look(conn: Any, trial: Trial, *, paired: bool, now: float, lag: float = LOOK_LAG_S) -> Seen:
    """The sums of ``trial``'s rows up to ``now``; those up to ``now - lag`` are kept."""
    # the sums of the model's earlier trials are a cache nobody reads any more
    conn.execute(
        delete(ab_state).where(ab_state.c.model_name == trial.model_name, ~_trial_filter(trial))
    )
    kept = _load(conn, trial)
    sums, classes, phase_ids = _discover(conn, trial, kept, paired, now)
    if sums.id is None:
        _save(conn, trial, sums)  # the per-unit sums refer to it
    plan = Plan(TrialRows(conn.dialect.name, trial, classes), phase_ids, classes, paired)
    settled = now - lag
    if sums.upto is None or settled > sums.upto:
        _add_window(conn, plan, sums, sums.upto, settled, persist=True)
        sums.upto = settled
    _save(conn, trial, sums)
    current = sums.copy()
    if now > sums.upto:
        _add_window(conn, plan, current, sums.upto, now, persist=False)
    return Seen(current, _splits(conn, trial, phase_ids), classes, sums)


def keep_up(
    conn: Any,
    trial: Trial,
    *,
    paired: bool,
    now: float,
    lag: float = LOOK_LAG_S,
    start: bool = False,
) -> float | None:
    """Add the rows up to ``now - lag`` to the sums a look of ``trial`` keeps, without a
    look: the next look then reads only what arrived since. Only sums a look started,
    with the same meaning, are advanced (a caller that sees the trial differently never
    starts them afresh). ``start``: when there are none, start them as a look would
    (what starting an experiment does, so that no look of it reads its whole history).
    Returns how far the sums reach, or None when there are none."""
    kept = _load(conn, trial)
    if kept is None and start:
        return look(conn, trial, paired=paired, now=now, lag=lag).kept.upto
    meaning = _meaning(trial, paired)
    if kept is None or {k: kept.signature.get(k) for k in meaning} != meaning:
        return None
    settled = now - lag
    if kept.upto is not None and settled <= kept.upto:
        return kept.upto
    sums, classes, phase_ids = _discover(conn, trial, kept, paired, now)
    plan = Plan(TrialRows(conn.dialect.name, trial, classes), phase_ids, classes, paired)
    _add_window(conn, plan, sums, sums.upto, settled, persist=True)
    sums.upto = settled
    _save(conn, trial, sums)
    return settled


def remember(
    conn: Any, kept: Sums, point: list[float], decision: dict[str, Any] | None = None
) -> list[list[float]]:
    """Append a look's point (labelled, estimate, lower, upper) to the stored history
    unless it repeats the last one, and keep the look's decision (what the dashboard
    shows); returns the history."""
    if not kept.looks or kept.looks[-1] != point or decision is not None:
        if not kept.looks or kept.looks[-1] != point:
            kept.looks.append(point)
        if decision is not None:
            kept.latest = {"decision": decision, "looked_at": datetime.now(UTC).isoformat()}
        conn.execute(
            sql_update(ab_state).where(ab_state.c.id == kept.id).values(figures=kept.figures())
        )
    return kept.looks


def latest_look(conn: Any, model_name: str, experiment_id: str) -> dict[str, Any] | None:
    """What the latest look at the experiment saw: its versions, the confidence sequence
    so far (labelled, estimate, lower, upper) and the decision, or None before any."""
    c = ab_state.c
    row = (
        conn.execute(
            select(c.champion, c.challenger, c.figures, c.updated_at)
            .where(c.model_name == model_name, c.experiment_id == experiment_id)
            .order_by(c.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    figures = json.loads(row["figures"])
    return {
        "champion": row["champion"],
        "challenger": row["challenger"],
        "looks": figures.get("looks", []),
        "decision": figures.get("decision"),
        "looked_at": figures.get("looked_at"),
    }
