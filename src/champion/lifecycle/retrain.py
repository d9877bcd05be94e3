"""Retraining on live labels: a challenger learnt from the latest labelled rows of the
prediction log, and the drift-retrain step that runs it only when the served data
drifted or the champion's live performance dropped (then starts the experiment)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import make_url

from champion.datasets import Dataset
from champion.lifecycle.drift_check import (
    ChampionSchema,
    ServedDrift,
    champion_schema,
    served_drift,
    served_frame,
)
from champion.lifecycle.experiment import start_experiment
from champion.lifecycle.notices import retrain_failed, retrain_finished, retrain_started
from champion.lifecycle.registration import Progress, TrainOutcome, train_and_register
from champion.lifecycle.workspace import Workspace
from champion.predictionlog import ABConfig, EventStore
from champion.settings import Settings
from champion.training import TrainConfig
from champion.types import ABMode, Alias


@dataclass(frozen=True)
class RetrainOutcome:
    """What a drift-retrain step saw and did."""

    drift: ServedDrift | None
    retrained: bool
    challenger: str | None = None
    run_id: str | None = None
    experiment: ABConfig | None = None
    training_rows: int = 0
    note: str = ""
    training: TrainOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        drift = self.drift
        return {
            "drifted": drift.result.drifted if drift else None,
            "drift_reason": drift.result.reason if drift else None,
            "drifted_features": list(drift.result.drifted_features) if drift else [],
            "performance_dropped": bool(drift and drift.performance and drift.performance.dropped),
            "why": drift.why if drift else None,
            "served_rows": drift.rows if drift else 0,
            "retrained": self.retrained,
            "challenger": self.challenger,
            "run_id": self.run_id,
            "experiment_id": self.experiment.experiment_id if self.experiment else None,
            "training_rows": self.training_rows,
            "note": self.note,
        }


def live_dataset(ws: Workspace, info: ChampionSchema) -> Dataset:
    """The latest ``retrain_rows`` labelled rows of the log, with the champion's schema."""
    labelled = ws.store.labelled_rows(limit=ws.settings.training.retrain_rows)
    assert info.schema.target is not None  # a training run always records its target
    frame = served_frame([features for features, _ in labelled], info.schema)
    frame[info.schema.target] = [label for _, label in labelled]
    source = make_url(ws.settings.events_url).render_as_string(hide_password=True)
    return Dataset(f"{info.dataset}-live", frame, info.schema, source=source)


def _retrain(
    ws: Workspace, config: TrainConfig, info: ChampionSchema, reason: str, on_progress: Any
) -> RetrainOutcome:
    data = live_dataset(ws, info)
    needed = ws.settings.training.retrain_min_rows
    if len(data.frame) < needed:
        note = f"only {len(data.frame)} labelled rows (need {needed}): retraining waits for labels"
        return RetrainOutcome(None, False, note=note)
    model, champion = ws.settings.model_name, info.version.version
    ws.notify(retrain_started(model, champion, reason))
    try:
        outcome = train_and_register(
            ws.settings,
            data,
            config,
            register_as=Alias.CHALLENGER,
            reason=f"retrained on {len(data.frame)} live labelled rows: {reason}",
            on_progress=on_progress,
        )
    except Exception as exc:
        ws.notify(retrain_failed(model, champion, exc))
        raise
    retrained = RetrainOutcome(
        None,
        True,
        challenger=outcome.version.version if outcome.version else None,
        run_id=outcome.run.run_id if outcome.run else None,
        training_rows=len(data.frame),
        note=f"challenger trained on {len(data.frame)} labelled rows",
        training=outcome,
    )
    ws.notify(
        retrain_finished(
            model, champion, retrained.challenger, retrained.training_rows, retrained.note
        )
    )
    return retrained


def retrain_challenger(
    settings: Settings,
    config: TrainConfig,
    *,
    reason: str,
    store: EventStore | None = None,
    on_progress: Progress | None = None,
) -> RetrainOutcome:
    """Train on the latest ``retrain_rows`` labelled rows of the log and register the
    model as ``challenger`` (the champion's features and target, read from its run).

    With fewer than ``retrain_min_rows`` labelled rows nothing is trained: the outcome
    says so (``retrained`` false) — the labels have not arrived yet, not an error.
    """
    ws = Workspace(settings, given_store=store)
    ws.require_logging("retraining")
    return _retrain(ws, config, champion_schema(ws), reason, on_progress)


def drift_retrain(
    settings: Settings,
    config: TrainConfig,
    *,
    force: bool = False,
    mode: ABMode | None = None,
    split_b: float | None = None,
    store: EventStore | None = None,
    on_progress: Progress | None = None,
) -> RetrainOutcome:
    """The drift-retrain step whole: check drift; only on drift (or ``force``) retrain
    (:func:`retrain_challenger`) and start an experiment against the champion.

    Nothing happens while a challenger is already under test.
    """
    ws = Workspace(settings, given_store=store)
    ws.require_logging("drift-retrain")
    existing = ws.alias(Alias.CHALLENGER)
    if existing is not None:
        note = f"challenger v{existing.version} is already under test: no retrain"
        return RetrainOutcome(None, False, note=note)
    info = champion_schema(ws)
    drift = served_drift(ws, info)
    if not drift.retrain and not force:
        return RetrainOutcome(drift, False, note=drift.why)
    why = drift.why if drift.retrain else "forced retraining"
    retrained = _retrain(ws, config, info, why, on_progress)
    if not retrained.retrained:
        return replace(retrained, drift=drift)
    experiment = start_experiment(settings, mode=mode, split_b=split_b, store=ws.store)
    note = f"{retrained.note}; experiment started"
    return replace(retrained, drift=drift, experiment=experiment, note=note)
