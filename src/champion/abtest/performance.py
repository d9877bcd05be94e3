"""Has the champion got worse? Its live performance against its validation estimate.

Features can stay put while the world changes what they mean (a concept shift): only
labels can tell. With labels, the champion's per-row score on its own answers — 1 for a
right answer and 0 for a wrong one (classifiers), minus the absolute error (regressors) —
is averaged over users (cluster-robust variance: a user's rows are alike), and an
anytime-valid confidence sequence (:mod:`champion.abtest.sequential`) is kept for it
over the champion's whole life. Performance has **dropped** when the sequence's upper end
falls below the validation estimate less ``margin`` — accuracy points for a classifier, a
share of the validation MAE for a regressor. Because the sequence covers the live mean at
every moment at once, checking it after every label keeps the chance of a false trigger
at most ``alpha`` for the champion's life.

Before labels arrive, a classifier's accuracy is estimated from its confidence (the
idea of NannyML's CBPE): each answer is right with the probability the model gives it,
after recalibrating those probabilities on the labelled rows there are. The estimate is
reported; it triggers retraining only when asked to (it assumes the calibration still
holds, which a concept shift breaks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from champion.abtest.moments import Moments
from champion.abtest.sequential import half_width
from champion.errors import InvalidInputError
from champion.types import Task

#: planned labels at which the sequence is tightest (validity holds at every size)
PLANNED_LABELS = 5_000
#: bins of the calibration map behind the label-free estimate
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class PerformanceCheck:
    """The champion's live performance against its validation estimate."""

    task: Task
    labelled: int  # labelled rows (of ``users`` units)
    users: int
    live: float | None  # accuracy, or MAE for a regressor
    lower: float | None  # the sequence on the live metric
    upper: float | None
    validation: float | None  # accuracy or MAE the champion was trained to
    floor: float | None  # the worst live value tolerated: validation less the margin
    dropped: bool
    reason: str
    estimated: float | None = None  # label-free accuracy estimate (classifiers)
    estimate_dropped: bool = False


def _bounds(m: Moments, alpha: float) -> tuple[float, float, float]:
    mean = float(m.mean)
    width = float(half_width(float(m.variance), float(m.k), alpha, PLANNED_LABELS))
    return mean, mean - width, mean + width


def _judge(
    regression: bool, mean: float, lower: float, upper: float, floor: float | None,
    validation: float | None, margin: float, labelled: int,
) -> tuple[bool, str]:  # fmt: skip
    name = "MAE" if regression else "accuracy"
    if floor is None or validation is None:
        return False, f"live {name} {mean:.4g}; no validation estimate to compare with"
    against = f"(validation {validation:.4g}, margin {margin:g})"
    if regression and lower > floor:
        return True, (
            f"live MAE {mean:.4g} over {labelled} labels: the sequence's lower end "
            f"{lower:.4g} is above {floor:.4g} {against}"
        )
    if not regression and upper < floor:
        return True, (
            f"live accuracy {mean:.4g} over {labelled} labels: the sequence's upper end "
            f"{upper:.4g} is below {floor:.4g} {against}"
        )
    return False, f"live {name} {mean:.4g} in [{lower:.4g}, {upper:.4g}], floor {floor:.4g}"


def live_performance(
    task: Task,
    scores: Moments,
    *,
    validation: float | None,
    margin: float,
    alpha: float,
    estimated: float | None = None,
    trigger_on_estimate: bool = False,
) -> PerformanceCheck:
    """Judge the champion's per-row ``scores`` (right = 1 / wrong = 0, or minus the
    absolute error), summed per user, against ``validation`` (accuracy, or MAE)."""
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    if margin < 0:
        raise InvalidInputError(f"margin must be >= 0, got {margin}")
    regression = task == Task.REGRESSION
    floor = None
    if validation is not None:
        floor = validation * (1 + margin) if regression else validation - margin
    low_estimate = bool(
        trigger_on_estimate and estimated is not None and floor is not None and estimated < floor
    )
    live = lower = upper = None
    if scores.k < 2:
        dropped, reason = False, "no labelled rows of the champion yet"
    else:
        live, lower, upper = _bounds(scores, alpha)
        if regression:  # the scores are minus the error: as MAE
            live, lower, upper = -live, -upper, -lower
        dropped, reason = _judge(
            regression, live, lower, upper, floor, validation, margin, int(scores.n)
        )
    if low_estimate and not dropped:
        dropped = True
        reason += f"; the label-free accuracy estimate {estimated:.4g} is below {floor:.4g}"
    return PerformanceCheck(
        task=task,
        labelled=int(scores.n),
        users=int(scores.k),
        live=live,
        lower=lower,
        upper=upper,
        validation=validation,
        floor=floor,
        dropped=dropped,
        reason=reason,
        estimated=estimated,
        estimate_dropped=low_estimate,
    )


def confidence_accuracy(
    probabilities: np.ndarray,
    predicted_positive: np.ndarray,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """A binary classifier's expected accuracy from its P(positive) alone: an answer of
    1 is right with probability p, an answer of 0 with 1 - p. ``calibration``: labelled
    (probability, label) pairs; the probabilities are first mapped to the share of
    positives among labelled rows of their quantile bin."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0:
        raise InvalidInputError("the label-free estimate needs scored rows")
    if calibration is not None and len(calibration[0]) >= 2 * CALIBRATION_BINS:
        seen, labels = (np.asarray(a, dtype=np.float64) for a in calibration)
        edges = np.unique(np.quantile(seen, np.linspace(0, 1, CALIBRATION_BINS + 1)[1:-1]))
        bins = np.searchsorted(edges, seen, side="right")
        rate = np.bincount(bins, weights=labels, minlength=edges.size + 1)
        count = np.bincount(bins, minlength=edges.size + 1)
        mapped = np.divide(rate, count, out=np.full(rate.size, np.nan), where=count > 0)
        recalibrated = mapped[np.searchsorted(edges, p, side="right")]
        p = np.where(np.isnan(recalibrated), p, recalibrated)
    positive = np.asarray(predicted_positive, dtype=bool)
    return float(np.mean(np.where(positive, p, 1.0 - p)))
