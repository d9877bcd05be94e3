"""An A/B evaluation of the prediction log from sums the database keeps and adds up.

:func:`decide_in_database` gives the decision — the same as
:func:`champion.abtest.decide_frame` on the same rows, to 1e-9 — with the confidence
sequence of the looks taken so far and the rows left out. It reads the running sums of
:mod:`.look_state` and the rows and labels that arrived since, never the whole log, so
its time and memory do not grow with the log. The per-arm figures for the reader come
from counts; the ROC AUC and the p95 latency from histograms (1e-4 in probability,
0.05 ms below 100 ms).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from champion.abtest.classical import chi_square_accuracy, mcnemar
from champion.abtest.decision import Decision, Policy, conclude
from champion.abtest.looks import Look, assemble
from champion.abtest.metrics import precision_recall
from champion.predictionlog.aggregates import Trial, tracks_of
from champion.predictionlog.look_state import LOOK_LAG_S, Seen, look, remember
from champion.types import ABMode, Task, TestResult


def _sides(arm: str, paired: bool) -> tuple[str, ...]:
    """The rows an arm's figures are over: every row (paired), or those it served."""
    return ("0", "1") if paired else (("1",) if arm == "b" else ("0",))


def _number(text: str) -> float | None:
    return None if text == "None" else float(text)


def latency_value(bin_: int) -> float:
    """The middle of a latency bin (ms) of :func:`champion.predictionlog.look_state._bin`."""
    if bin_ < 1000:
        return bin_ / 1000.0 + 0.0005
    if bin_ < 3000:
        return (bin_ - 1000) / 20.0 + 0.025
    return 100.5 + bin_ - 3000


def _p95(counts: dict[str, float], arm: str, sides: tuple[str, ...]) -> float | None:
    """The 95th percentile of the arm's scoring latency as ``np.percentile`` interpolates
    it, each value read as the middle of its bin (within a bin: 0.05 ms below 100 ms)."""
    prefixes = tuple(f"lat_{arm}|{side}|" for side in sides)
    bins = sorted(
        (int(k.rsplit("|", 1)[1]), n) for k, n in counts.items() if k.startswith(prefixes)
    )
    total = sum(n for _, n in bins)
    if not total:
        return None

    def value(index: float) -> float:
        seen = 0.0
        for bin_, n in bins:
            seen += n
            if seen > index:
                return latency_value(bin_)
        return value(total - 1)

    rank = 0.95 * (total - 1)
    low = float(np.floor(rank))
    first = value(low)
    return first + (rank - low) * (value(min(low + 1, total - 1)) - first)


def _auc(
    counts: dict[str, float], arm: str, sides: tuple[str, ...], positive: float
) -> float | None:
    pos: dict[int, float] = defaultdict(float)
    neg: dict[int, float] = defaultdict(float)
    for key, n in counts.items():
        if not key.startswith(f"prob_{arm}|"):
            continue
        _, side, y, bin_ = key.split("|")
        if side not in sides:
            continue
        if int(bin_) < 0:
            return None  # a labelled row without a probability: no AUC
        (pos if _number(y) == positive else neg)[int(bin_)] += n
    n_pos, n_neg = sum(pos.values()), sum(neg.values())
    if not n_pos or not n_neg:
        return None
    below, wins = 0.0, 0.0
    for bin_ in sorted(set(pos) | set(neg)):
        wins += pos.get(bin_, 0.0) * (below + 0.5 * neg.get(bin_, 0.0))
        below += neg.get(bin_, 0.0)
    return wins / (n_pos * n_neg)


def _cells(counts: dict[str, float], sides: tuple[str, ...]) -> list[tuple[float | None, ...]]:
    out = []
    for key, n in counts.items():
        if key.startswith("conf|"):
            _, side, y, a, b = key.split("|")
            if side in sides:
                out.append((_number(y), _number(a), _number(b), n))
    return out


def _classification(counts: dict[str, float], arm: str, sides: tuple[str, ...]) -> dict[str, Any]:
    index = 1 if arm == "a" else 2  # the arm's own answer in (label, a, b, rows)
    cells = [(row[0], row[index], row[3]) for row in _cells(counts, sides)]
    precision, recall, f1 = precision_recall(cells)
    labels = sorted({y for y, _, _ in cells if y is not None})
    auc = _auc(counts, arm, sides, labels[-1]) if len(labels) <= 2 and labels else None
    return {
        "accuracy": sum(n for y, p, n in cells if y == p) / sum(n for _, _, n in cells),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": auc,
    }


def _regression(counts: dict[str, float], arm: str, sides: tuple[str, ...]) -> dict[str, Any]:
    stat = {
        s: sum(counts.get(f"reg_{arm}|{side}|{s}", 0.0) for side in sides)
        for s in ("n", "y", "yy", "ae", "se")
    }
    n = stat["n"]
    if not n:
        return {}
    spread = stat["yy"] - stat["y"] * stat["y"] / n
    return {
        "mae": stat["ae"] / n,
        "rmse": float(np.sqrt(stat["se"] / n)),
        "r2": 1.0 - stat["se"] / spread if spread > 1e-12 * max(stat["yy"], 1.0) else None,
    }


def arm_figures(seen: Seen, task: Task, paired: bool) -> dict[str, dict[str, Any]]:
    """Per-arm figures for the reader (``champion.abtest.metrics.arm_metrics``'s keys)."""
    counts = seen.sums.counts
    out = {}
    for arm in "ab":
        sides = _sides(arm, paired)
        requests = sum(counts.get(f"req|{s}", 0.0) for s in sides)
        errors = sum(counts.get(f"fail_{arm}|{s}", 0.0) for s in sides)
        labelled = sum(counts.get(f"lab|{s}", 0.0) for s in sides)
        figures: dict[str, Any] = {
            "requests": float(requests),
            "labelled": float(labelled),
            "label_coverage": labelled / max(requests - errors, 1),
            "error_rate": errors / requests if requests else 0.0,
            "latency_p95_ms": _p95(counts, arm, sides),
        }
        if labelled:
            figures.update(
                _classification(counts, arm, sides)
                if task == Task.CLASSIFICATION
                else _regression(counts, arm, sides)
            )
        out[arm.upper()] = figures
    return out


def classical_tests(
    seen: Seen, task: Task, paired: bool
) -> tuple[TestResult | None, TestResult | None]:
    """The fixed-horizon chi-square (split) or McNemar (paired) on accuracy."""
    if task != Task.CLASSIFICATION:
        return None, None
    counts = seen.sums.counts
    cells = _cells(counts, ("0", "1"))
    if paired:
        only_a = sum(n for y, a, b, n in cells if a == y and b != y)
        only_b = sum(n for y, a, b, n in cells if b == y and a != y)
        return None, mcnemar(int(only_a), int(only_b))
    a_rows = int(counts.get("lab|0", 0.0))
    b_rows = int(counts.get("lab|1", 0.0))
    a_right = sum(n for y, a, _, n in _cells(counts, ("0",)) if a == y and y is not None)
    b_right = sum(n for y, _, b, n in _cells(counts, ("1",)) if b == y and y is not None)
    return chi_square_accuracy(int(a_right), a_rows, int(b_right), b_rows), None


def decide_in_database(
    conn: Any, trial: Trial, policy: Policy, *, now: float, lag: float = LOOK_LAG_S
) -> tuple[Decision, list[Look], int]:
    """The decision as of ``now`` (seconds since the epoch), the confidence sequence of
    the looks taken so far (this one last), and how many of the experiment's rows were
    left out (served by other versions)."""
    paired = trial.mode == ABMode.SHADOW or policy.labels_independent
    seen = look(conn, trial, paired=paired, now=now, lag=lag)
    guarded = len(seen.classes.positive) if trial.task == Task.CLASSIFICATION else 0
    tracks = tracks_of(seen.sums.moments, trial, seen.phases, guarded, paired=paired)
    decision = conclude(
        assemble(tracks),
        policy,
        metrics=arm_figures(seen, trial.task, paired),
        classical=classical_tests(seen, trial.task, paired),
    )
    iv = decision.interval
    labelled = decision.labelled[0] if paired else sum(decision.labelled)
    point = [float(labelled), iv.estimate, iv.lower, iv.upper]
    history = remember(conn, seen.kept, point, decision.to_dict())
    looks = [Look(int(n), e, lo, hi) for n, e, lo, hi in history if np.isfinite(lo)]
    served = sum(seen.sums.counts.get(f"req|{s}", 0.0) for s in ("0", "1"))
    return decision, looks, int(seen.sums.counts.get("all", 0.0) - served)
