"""The leaderboard and the rule that picks the model to ship (pure).

Classification searches on **log loss** — a proper scoring rule, which rewards good
probabilities rather than one trade-off — and keeps the best configuration of each
estimator family. The model shipped is chosen among those by the selection metric:

* ``recall`` on a binary target: selecting by recall alone would favour a model that
  calls everything positive, so recall is bought with a bounded amount of precision.
  The floor is the CV precision of the log-loss-best candidate minus
  ``precision_tolerance`` (0.05 by default), and at least ``min_precision``. For each
  candidate, the decision threshold is the one, on its pooled out-of-fold probabilities,
  that gives the highest recall with precision at or above the floor; the candidate with
  the highest recall there is shipped with that threshold. (The threshold is chosen on
  the same out-of-fold predictions that score it: a one-parameter fit, slightly
  optimistic.)
* ``recall`` on a multiclass target (macro): highest CV recall among candidates whose
  CV precision is at or above the same floor.
* any other metric: the best CV value of that metric.

Ties go to the lower log loss. Regression searches and selects on the same metric (MAE
by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from champion.errors import InvalidInputError

#: Metrics where a larger value is better; every other metric is a loss.
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "r2"})
CLASSIFICATION_METRICS = ("recall", "precision", "f1", "accuracy", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Candidate:
    """One estimator family's best configuration and its cross-validated scores."""

    family: str
    config: dict[str, Any] = field(hash=False)
    cv: dict[str, float] = field(hash=False)  # metric -> mean over folds (threshold 0.5)
    folds: int = 0
    # pooled out-of-fold (labels, positive-class probabilities), binary tasks only
    oof: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold and the pooled out-of-fold scores it gives."""

    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float


@dataclass(frozen=True)
class Selection:
    """The candidate shipped, its operating point if tuned, and why."""

    chosen: Candidate
    anchor: Candidate  # best by the search loss
    eligible: tuple[str, ...]
    reason: str
    operating_point: OperatingPoint | None = None
    points: dict[str, OperatingPoint | None] = field(default_factory=dict, compare=False)

    @property
    def threshold(self) -> float | None:
        return self.operating_point.threshold if self.operating_point else None

    @property
    def scores(self) -> dict[str, float]:
        """CV scores of the model as shipped (at its threshold when one was tuned)."""
        scores = dict(self.chosen.cv)
        if self.operating_point is not None:
            op = self.operating_point
            scores.update(precision=op.precision, recall=op.recall, f1=op.f1, accuracy=op.accuracy)
        return scores


def best_recall_point(y: np.ndarray, p: np.ndarray, floor: float) -> OperatingPoint | None:
    """The threshold with the highest recall whose precision is >= ``floor``.

    Positive means ``p >= threshold``. Among thresholds with the same recall the highest
    one is kept. None when no threshold reaches the floor.
    """
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    positives = int(y.sum())
    if positives == 0 or y.size == 0:
        return None
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    predicted = np.arange(1, y.size + 1)
    # evaluate at the last index of each run of equal probabilities (ties go together)
    last = np.append(p_sorted[:-1] != p_sorted[1:], True)
    tp, predicted, thresholds = tp[last], predicted[last], p_sorted[last]
    precision = tp / predicted
    recall = tp / positives
    ok = precision >= floor - 1e-12
    if not ok.any():
        return None
    best_recall = recall[ok].max()
    # highest threshold achieving that recall with the floor met = first such index
    idx = int(np.flatnonzero(ok & (recall >= best_recall - 1e-12))[0])
    fp = predicted[idx] - tp[idx]
    tn = (y.size - positives) - fp
    prec, rec = float(precision[idx]), float(recall[idx])
    return OperatingPoint(
        threshold=float(thresholds[idx]),
        precision=prec,
        recall=rec,
        f1=2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        accuracy=float((tp[idx] + tn) / y.size),
    )


def _better(metric: str, a: float, b: float) -> bool:
    return a > b if metric in HIGHER_IS_BETTER else a < b


def _pick(cands: list[Candidate], value: dict[str, float], metric: str, loss: str) -> Candidate:
    chosen = cands[0]
    for cand in cands[1:]:
        a, b = value[cand.family], value[chosen.family]
        if _better(metric, a, b) or (a == b and cand.cv[loss] < chosen.cv[loss]):
            chosen = cand
    return chosen


def select(
    candidates: list[Candidate],
    *,
    metric: str,
    search_loss: str,
    precision_tolerance: float = 0.05,
    min_precision: float = 0.0,
) -> Selection:
    """Pick the candidate to ship (see the module docstring for the rule)."""
    usable = [c for c in candidates if metric in c.cv and search_loss in c.cv]
    if not usable:
        raise InvalidInputError("no candidate has cross-validated scores: raise the budget")
    anchor = min(usable, key=lambda c: c.cv[search_loss])
    direction = "highest" if metric in HIGHER_IS_BETTER else "lowest"
    if metric != "recall":
        chosen = _pick(usable, {c.family: c.cv[metric] for c in usable}, metric, search_loss)
        reason = f"{chosen.family}: {direction} CV {metric} {chosen.cv[metric]:.4f}"
        return Selection(
            chosen=chosen,
            anchor=anchor,
            eligible=tuple(c.family for c in usable),
            reason=f"{reason}; searched on {search_loss}",
        )

    floor = max(anchor.cv["precision"] - precision_tolerance, min_precision)
    floor_note = (
        f"CV precision >= {floor:.3f} (log-loss-best {anchor.family}: "
        f"{anchor.cv['precision']:.3f} - {precision_tolerance:g})"
    )
    if all(c.oof is not None for c in usable):
        points = {c.family: best_recall_point(*c.oof, floor) for c in usable}  # type: ignore[misc]
        eligible = [c for c in usable if points[c.family] is not None] or [anchor]
        recalls = {
            c.family: points[c.family].recall if points[c.family] else c.cv["recall"]
            for c in eligible
        }
        chosen = _pick(eligible, recalls, metric, search_loss)
        point = points.get(chosen.family)
        at = (
            f" at threshold {point.threshold:.3f} (precision {point.precision:.4f})"
            if point
            else ""
        )
        reason = (
            f"{chosen.family}: highest out-of-fold recall {recalls[chosen.family]:.4f}{at} "
            f"with {floor_note}; searched on {search_loss}"
        )
        return Selection(
            chosen=chosen,
            anchor=anchor,
            eligible=tuple(c.family for c in eligible),
            reason=reason,
            operating_point=point,
            points=points,
        )
    eligible = [c for c in usable if c.cv["precision"] >= floor or c is anchor]
    chosen = _pick(eligible, {c.family: c.cv["recall"] for c in eligible}, metric, search_loss)
    reason = (
        f"{chosen.family}: highest CV recall {chosen.cv['recall']:.4f} among candidates "
        f"with {floor_note}; searched on {search_loss}"
    )
    return Selection(
        chosen=chosen, anchor=anchor, eligible=tuple(c.family for c in eligible), reason=reason
    )
