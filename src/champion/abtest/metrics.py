"""Per-arm figures of an experiment, for the reader: accuracy, precision, recall, F1,
ROC AUC, MAE, RMSE, R², label coverage, failure rate, p95 latency (pure). The decision
rests on the sequences of :mod:`.looks`, not on these."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from champion.types import Task


@dataclass(frozen=True)
class Arm:
    """What one variant produced: labelled rows and request outcomes."""

    y_true: np.ndarray  # labels of the labelled rows
    y_pred: np.ndarray  # predictions of the same rows
    latency_ms: np.ndarray  # every scored request
    requests: int  # rows the arm (or model) was asked to score
    errors: int  # of which it failed
    y_score: np.ndarray | None = None  # P(positive) for ROC AUC, binary only


def precision_recall(
    cells: list[tuple[float | None, float | None, float]],
) -> tuple[float, float, float]:
    """Binary (positive = the larger label) or macro-averaged precision, recall, F1 from
    confusion cells (label, prediction, rows); a missing prediction (both models
    failed) is no class."""
    found = {y for y, _, _ in cells} | {p for _, p, _ in cells}
    classes = sorted(c for c in found if c is not None)
    targets = classes[-1:] if len(classes) <= 2 else classes
    values = []
    for c in targets:
        tp = float(sum(n for y, p, n in cells if y == c and p == c))
        predicted = float(sum(n for _, p, n in cells if p == c))
        actual = float(sum(n for y, _, n in cells if y == c))
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        values.append((precision, recall, f1))
    precision, recall, f1 = (float(np.mean(v)) for v in zip(*values, strict=True))
    return precision, recall, f1


def _precision_recall(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    pairs = np.stack([y.astype(np.float64), pred.astype(np.float64)], axis=1)
    found, counts = np.unique(pairs, axis=0, return_counts=True)
    cells = [
        (None if np.isnan(a) else float(a), None if np.isnan(b) else float(b), float(n))
        for (a, b), n in zip(found, counts, strict=True)
    ]
    return precision_recall(cells)


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by the rank (Mann-Whitney) formula; None without both classes."""
    positive = y == np.unique(y).max()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def arm_metrics(arm: Arm, task: Task) -> dict[str, float | None]:
    labelled = int(arm.y_true.size)
    latency = arm.latency_ms[np.isfinite(arm.latency_ms)]
    out: dict[str, float | None] = {
        "requests": float(arm.requests),
        "labelled": float(labelled),
        "label_coverage": labelled / max(arm.requests - arm.errors, 1),
        "error_rate": arm.errors / arm.requests if arm.requests else 0.0,
        "latency_p95_ms": float(np.percentile(latency, 95)) if latency.size else None,
    }
    if labelled == 0:
        return out
    if task == Task.CLASSIFICATION:
        precision, recall, f1 = _precision_recall(arm.y_true, arm.y_pred)
        scores = arm.y_score
        usable = (
            scores is not None and np.isfinite(scores).all() and np.unique(arm.y_true).size <= 2
        )
        out.update(
            accuracy=float(np.mean(arm.y_true == arm.y_pred)),
            precision=precision,
            recall=recall,
            f1=f1,
            roc_auc=_auc(arm.y_true, scores) if usable and scores is not None else None,
        )
    else:  # over the rows that got an answer (both models failing gives none)
        answered = np.isfinite(arm.y_pred.astype(np.float64))
        if not answered.any():
            return out
        y = arm.y_true.astype(np.float64)[answered]
        err = y - arm.y_pred.astype(np.float64)[answered]
        total = float(((y - y.mean()) ** 2).sum())
        out.update(
            mae=float(np.abs(err).mean()),
            rmse=float(np.sqrt((err**2).mean())),
            r2=1.0 - float((err**2).sum()) / total if total > 0 else None,
        )
    return out
