"""The champion's live performance against its validation estimate: the trigger for a
concept shift, which leaves the features as they were (:mod:`champion.abtest.performance`)."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from champion.abtest.performance import PerformanceCheck, confidence_accuracy, live_performance
from champion.lifecycle.workspace import Workspace
from champion.types import Task

#: labelled rows the label-free estimate's calibration reads at most
CALIBRATION_ROWS = 20_000


def validation_estimate(ws: Workspace, run_id: str, task: Task) -> float | None:
    """The champion's cross-validated accuracy or MAE, as its training run recorded it."""
    metrics = ws.tracking.client.get_run(run_id).data.metrics
    value = metrics.get("cv_mae" if task == Task.REGRESSION else "cv_accuracy")
    return float(value) if value is not None and np.isfinite(value) else None


def _estimated_accuracy(ws: Workspace, version: str, since: datetime, window: int) -> float | None:
    """Binary classifiers: the latest ``window`` answers' expected accuracy from their
    P(positive), calibrated on the labelled answers since ``since``."""
    latest = ws.store.champion_confidence(version, limit=window, labelled=False)
    answers = {a for a, _, _ in latest}
    if len(latest) < 2 or len(answers) != 2:
        return None
    # the positive class is the answer given with the higher P(positive)
    mean_p = {a: np.mean([p for b, p, _ in latest if b == a]) for a in answers}
    positive = max(answers, key=lambda a: mean_p[a])
    probs = np.array([p for _, p, _ in latest])
    said_positive = np.array([a == positive for a, _, _ in latest])
    labelled = ws.store.champion_confidence(
        version, limit=CALIBRATION_ROWS, since=since, labelled=True
    )
    calibration = None
    if labelled:
        calibration = (
            np.array([p for _, p, _ in labelled]),
            np.array([float(label == positive) for _, _, label in labelled]),
        )
    return confidence_accuracy(probs, said_positive, calibration)


def champion_performance(
    ws: Workspace, run_id: str, version: str, task: Task, since: datetime, window: int
) -> PerformanceCheck:
    """The check of ``version`` (the champion since ``since``) on its labelled answers."""
    drift = ws.settings.drift
    scores = ws.store.champion_scores(version, since=since, task=task)
    estimated = (
        _estimated_accuracy(ws, version, since, window) if task == Task.CLASSIFICATION else None
    )
    return live_performance(
        task,
        scores,
        validation=validation_estimate(ws, run_id, task),
        margin=drift.perf_margin,
        alpha=drift.perf_alpha,
        estimated=estimated,
        trigger_on_estimate=drift.perf_estimate_trigger,
    )
