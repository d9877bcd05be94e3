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


def _precision_recall(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Binary (positive = the larger label) or macro-averaged precision, recall, F1."""
    both = np.concatenate([y, pred]).astype(np.float64)
    classes = np.unique(both[~np.isnan(both)])  # no answer (both models failed): no class
    targets = classes[-1:] if classes.size <= 2 else classes
    values = []
    for c in targets:
        tp = float(np.sum((pred == c) & (y == c)))
        predicted, actual = float(np.sum(pred == c)), float(np.sum(y == c))
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        values.append((p, r, 2 * p * r / (p + r) if p + r else 0.0))
    precision, recall, f1 = (float(np.mean(v)) for v in zip(*values, strict=True))
    return precision, recall, f1


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
