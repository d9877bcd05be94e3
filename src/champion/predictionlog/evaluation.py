"""An A/B evaluation of the prediction log, computed in the database.

:func:`decide_in_database` gives the decision, the confidence sequence over time and the
rows left out — the numbers :func:`champion.abtest.decide_frame` gives on the same rows —
from sums the database adds up (:mod:`.aggregates`) and a handful of counts per arm: the
memory it needs does not grow with the log.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Float, and_, case, cast, func, select

from champion.abtest.classical import chi_square_accuracy, mcnemar
from champion.abtest.decision import Decision, Policy, conclude, sequence
from champion.abtest.looks import Look, assemble, primary_of
from champion.predictionlog.aggregates import TIMELINE_POINTS, ExperimentRows, Expr, Trial
from champion.types import ABMode, TestResult


def _percentile(rows: ExperimentRows, value: Expr, where: Expr, q: float) -> float | None:
    """The ``q`` quantile of ``value`` with linear interpolation, as ``np.percentile``:
    the database sorts, two values come back."""
    base = select(value).select_from(rows.source).where(rows.where, where, value.is_not(None))
    count = rows.conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    if not count:
        return None
    h = q * (count - 1)
    low = int(np.floor(h))
    pair = [float(v) for (v,) in rows.conn.execute(base.order_by(value).offset(low).limit(2))]
    if len(pair) == 1 or h == low:
        return pair[0]
    return pair[0] + (h - low) * (pair[1] - pair[0])


def _auc(rows: ExperimentRows, score: Expr, positive: Expr, where: Expr) -> float | None:
    """ROC AUC by the rank formula with average ranks for ties (as ``rankdata``)."""
    grouped = (
        select(
            score.label("score"),
            func.count().label("c"),
            func.sum(case((positive, 1), else_=0)).label("cp"),
        )
        .select_from(rows.source)
        .where(rows.where, where)
        .group_by(score)
        .subquery()
    )
    below = func.coalesce(func.sum(grouped.c.c).over(order_by=grouped.c.score, rows=(None, -1)), 0)
    ranked = select(grouped.c.c, grouped.c.cp, below.label("below")).subquery()
    midrank = cast(ranked.c.below, Float) + (cast(ranked.c.c, Float) + 1.0) / 2.0
    n_pos, n_all, rank_sum = rows.conn.execute(
        select(
            func.sum(ranked.c.cp),
            func.sum(ranked.c.c),
            func.sum(cast(ranked.c.cp, Float) * midrank),
        )
    ).one()
    n_pos, n_neg = int(n_pos or 0), int(n_all or 0) - int(n_pos or 0)
    if n_pos == 0 or n_neg == 0:
        return None
    return float((float(rank_sum) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _classification(
    rows: ExperimentRows, pred: Expr, prob: Expr, scored: Expr
) -> dict[str, float | None]:
    c = rows.cols
    query = (
        select(c.label, pred, func.count())
        .select_from(rows.source)
        .where(rows.where, scored)
        .group_by(c.label, pred)
    )
    cells = [(y, p, int(n)) for y, p, n in rows.conn.execute(query)]
    total = sum(n for _, _, n in cells)
    classes = sorted({y for y, _, _ in cells} | {p for _, p, _ in cells if p is not None})
    targets = classes[-1:] if len(classes) <= 2 else classes
    values = []
    for k in targets:
        tp = float(sum(n for y, p, n in cells if y == k and p == k))
        predicted = float(sum(n for _, p, n in cells if p == k))
        actual = float(sum(n for y, _, n in cells if y == k))
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        values.append((precision, recall, f1))
    precision, recall, f1 = (float(np.mean(v)) for v in zip(*values, strict=True))
    labels = sorted({y for y, _, _ in cells})
    unscored = rows.conn.execute(
        select(func.count()).select_from(rows.source).where(rows.where, scored, prob.is_(None))
    ).scalar_one()
    auc = None
    if not unscored and len(labels) <= 2:
        auc = _auc(rows, prob, c.label == labels[-1], scored)
    return {
        "accuracy": sum(n for y, p, n in cells if y == p) / total,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": auc,
    }


def _regression(rows: ExperimentRows, pred: Expr, scored: Expr) -> dict[str, float | None]:
    c = rows.cols
    err = c.label - pred
    scored = and_(scored, pred.is_not(None))  # rows that got an answer
    n, mean_y, abs_err, sq_err = rows.conn.execute(
        select(func.count(), func.avg(c.label), func.avg(func.abs(err)), func.sum(err * err))
        .select_from(rows.source)
        .where(rows.where, scored)
    ).one()
    if not n:
        return {}
    spread = rows.conn.execute(
        select(func.sum((c.label - float(mean_y)) * (c.label - float(mean_y))))
        .select_from(rows.source)
        .where(rows.where, scored)
    ).scalar_one()
    return {
        "mae": float(abs_err),
        "rmse": float(np.sqrt(float(sq_err) / int(n))),
        "r2": 1.0 - float(sq_err) / float(spread) if spread and float(spread) > 0 else None,
    }


def arm_figures(rows: ExperimentRows, now: float, paired: bool) -> dict[str, dict[str, Any]]:
    """Per-arm figures for the reader (``champion.abtest.metrics.arm_metrics``'s keys)."""
    c = rows.cols
    served = c.created <= now
    entered = and_(c.entered.is_not(None), c.entered <= now)
    out = {}
    for arm in ("A", "B"):
        b = arm == "B"
        in_arm = served if paired else and_(served, c.served_b if b else ~c.served_b)
        scored = and_(in_arm, entered)
        pred = (c.answer_b if b else c.answer_a) if paired else c.served
        latency = c.latency_b if b else c.latency_a
        failed = c.failed_b if b else c.failed_a
        requests, errors, labelled = rows.conn.execute(
            select(
                func.count(),
                func.sum(case((failed, 1), else_=0)),
                func.sum(case((entered, 1), else_=0)),
            )
            .select_from(rows.source)
            .where(rows.where, in_arm)
        ).one()
        requests, errors, labelled = int(requests), int(errors or 0), int(labelled or 0)
        figures: dict[str, Any] = {
            "requests": float(requests),
            "labelled": float(labelled),
            "label_coverage": labelled / max(requests - errors, 1),
            "error_rate": errors / requests if requests else 0.0,
            "latency_p95_ms": _percentile(rows, latency, in_arm, 0.95),
        }
        if labelled:
            prob = c.prob_b if b else c.prob_a
            figures.update(
                _classification(rows, pred, prob, scored)
                if c.classification
                else _regression(rows, pred, scored)
            )
        out[arm] = figures
    return out


def classical_tests(
    rows: ExperimentRows, now: float, paired: bool
) -> tuple[TestResult | None, TestResult | None]:
    """The fixed-horizon chi-square (split) or McNemar (paired) on accuracy."""
    c = rows.cols
    if not c.classification:
        return None, None
    entered = and_(c.entered.is_not(None), c.entered <= now)
    right_a, right_b = c.score(c.answer_a) == 1.0, c.score(c.answer_b) == 1.0

    def count(cond: Expr) -> Expr:
        return func.sum(case((cond, 1), else_=0))

    base = select().select_from(rows.source).where(rows.where, entered)
    if paired:
        only_a, only_b = rows.conn.execute(
            base.add_columns(count(and_(right_a, ~right_b)), count(and_(right_b, ~right_a)))
        ).one()
        return None, mcnemar(int(only_a or 0), int(only_b or 0))
    right = case((c.served_b, right_b), else_=right_a)
    got = rows.conn.execute(
        base.add_columns(
            count(and_(right, ~c.served_b)),
            count(~c.served_b),
            count(and_(right, c.served_b)),
            count(c.served_b),
        )
    ).one()
    a_right, a_n, b_right, b_n = (int(v or 0) for v in got)
    return chi_square_accuracy(a_right, a_n, b_right, b_n), None


def decide_in_database(
    conn: Any, trial: Trial, policy: Policy, *, now: float, points: int = TIMELINE_POINTS
) -> tuple[Decision, list[Look], int]:
    """The decision as of ``now`` (seconds since the epoch), the confidence sequence at
    ``points`` equally spaced looks up to it, and how many of the experiment's rows were
    left out (served by other versions)."""
    rows = ExperimentRows(conn, trial)
    paired = trial.mode == ABMode.SHADOW or policy.labels_independent
    at_now, timeline, _ = rows.tracks(now, paired=paired, points=points)
    decision = conclude(
        assemble(at_now),
        policy,
        metrics=arm_figures(rows, now, paired),
        classical=classical_tests(rows, now, paired),
    )
    looks: list[Look] = []
    if timeline is not None:
        labelled = np.asarray(timeline.labelled[0].n) + np.asarray(timeline.labelled[1].n)
        looks = sequence(primary_of(timeline), labelled, policy)
    total, ours = rows.counts()
    return decision, looks, total - ours
