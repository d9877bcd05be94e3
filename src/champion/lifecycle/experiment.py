"""The A/B experiment: start it, evaluate it, act on the decision.

An evaluation is four steps, the middle one pure: load the evidence (the prediction log
of the experiment, the versions under test) → :func:`champion.abtest.decide` → record the
look in MLflow → apply the decision (move the alias, end the experiment).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from champion.abtest import Decision, Look, Policy
from champion.errors import BackendError, ConfigError, ConflictError, NotFoundError
from champion.lifecycle.notices import decision_events, experiment_started
from champion.lifecycle.workspace import Workspace
from champion.predictionlog import DEFAULT_EXPERIMENT, ABConfig, EventStore
from champion.settings import Settings
from champion.tracking.comparisons import ComparisonRun, is_repeat, log_look, mark_applied, open_run
from champion.tracking.registry import TASK_TAG, VersionInfo
from champion.tracking.runs import version_task
from champion.types import ABMode, Action, Alias, Task

log = logging.getLogger("champion.lifecycle")


def start_experiment(
    settings: Settings,
    *,
    mode: ABMode | None = None,
    split_b: float | None = None,
    store: EventStore | None = None,
) -> ABConfig:
    """Start an A/B experiment of the current challenger against the champion.

    A fresh experiment id (``v<champion>-v<challenger>-<UTC time>``) is stored with the
    mode and split; every API worker picks it up at its next poll. Rows logged under
    earlier experiments never count for this one. The sums its looks keep start here,
    so the API adds rows to them from the first and no look reads the whole experiment.
    """
    mode = ABMode(mode or settings.ab.mode)
    if mode == ABMode.OFF:
        raise ConfigError("an experiment needs a mode: hash, random or shadow")
    ws = Workspace(settings, given_store=store)
    champion = ws.require(Alias.CHAMPION, "nothing to test")
    challenger = ws.require(Alias.CHALLENGER, "nothing to test")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    config = ws.store.set_ab_config(
        experiment_id=f"v{champion.version}-v{challenger.version}-{stamp}",
        mode=mode,
        split_b=settings.ab.split_b if split_b is None else split_b,
        updated_by=settings.who,
        note=f"challenger v{challenger.version} vs champion v{champion.version}",
    )
    _start_sums(ws, config, champion, challenger)
    ws.notify(
        experiment_started(
            settings.model_name,
            config.experiment_id,
            config.mode,
            config.split_b,
            champion.version,
            challenger.version,
        )
    )
    return config


def _start_sums(
    ws: Workspace, config: ABConfig, champion: VersionInfo, challenger: VersionInfo
) -> None:
    """Start the sums the experiment's looks keep, with the looks' own reading of it
    (the settings' policy), so that the API adds each minute's rows to them from the
    first (``CHAMPION_AB_KEEP_INTERVAL``) and no look reads the whole experiment. Without
    a task tag, or with the log unreachable, the first look starts them instead."""
    task = version_task(ws.tracking.client, champion)
    if task is None:
        return
    try:
        ws.store.keep_up(
            config.experiment_id,
            champion=champion.version,
            challenger=challenger.version,
            task=task,
            mode=config.mode,
            split_b=config.split_b,
            policy=ws.settings.ab.policy(),
            now=datetime.now(UTC),
            start=True,
        )
    except BackendError as exc:
        log.warning("the A/B sums were not started (the first look starts them): %s", exc)


@dataclass(frozen=True)
class EvaluationOutcome:
    """One evaluation: what it saw, decided, logged and did."""

    experiment_id: str | None
    champion: str | None
    challenger: str | None
    decision: Decision | None  # None when there was nothing to evaluate
    looks: tuple[Look, ...] = ()
    run_id: str | None = None
    applied: str | None = None  # "promoted v3" | "rejected v3" | None
    repeated: bool = False  # nothing new since the previous look: nothing logged again
    ignored_rows: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "champion": self.champion,
            "challenger": self.challenger,
            "decision": self.decision.to_dict() if self.decision else None,
            "run_id": self.run_id,
            "applied": self.applied,
            "repeated": self.repeated,
            "ignored_rows": self.ignored_rows,
            "note": self.note,
        }


@dataclass(frozen=True)
class Trial:
    """The experiment in force and the two versions it compares."""

    experiment_id: str
    mode: ABMode
    split_b: float
    champion: VersionInfo
    challenger: VersionInfo
    task: Task


def _task(ws: Workspace, version: VersionInfo) -> Task:
    task = version_task(ws.tracking.client, version)
    if task is None:
        raise NotFoundError(
            f"v{version.version}'s task is unknown: tag it {TASK_TAG}=classification "
            f"(or regression), or run `champion adopt {version.model_uri} ...`"
        )
    return task


def _trial(ws: Workspace) -> Trial | EvaluationOutcome:
    """The trial to evaluate, or the outcome that says why there is none."""
    champion, challenger = ws.alias(Alias.CHAMPION), ws.alias(Alias.CHALLENGER)
    if champion is None or challenger is None:
        missing = Alias.CHAMPION if champion is None else Alias.CHALLENGER
        return EvaluationOutcome(
            None,
            champion.version if champion else None,
            challenger.version if challenger else None,
            None,
            note=f"no {missing} under test: nothing to evaluate",
        )
    config = ws.store.ab_config()
    experiment = config.experiment_id if config else DEFAULT_EXPERIMENT
    mode = config.mode if config else ws.settings.ab.mode
    if mode == ABMode.OFF:
        return EvaluationOutcome(
            experiment,
            champion.version,
            challenger.version,
            None,
            note=f"no experiment running (mode off{': ' + config.note if config else ''}); "
            "start one with `champion ab start`",
        )
    split_b = config.split_b if config else ws.settings.ab.split_b
    return Trial(experiment, mode, split_b, champion, challenger, _task(ws, champion))


def record_look(
    ws: Workspace, trial: Trial, policy: Policy, decision: Decision, looks: list[Look]
) -> tuple[ComparisonRun, bool]:
    """Log the look to the experiment's comparison run, unless it saw exactly what the
    previous look saw; returns the run and whether the look was such a repeat."""
    run = open_run(
        ws.tracking,
        ws.settings.comparison_name,
        trial.experiment_id,
        params={
            "champion_version": trial.champion.version,
            "challenger_version": trial.challenger.version,
            "mode": trial.mode,
            "split_b": trial.split_b,
            "task": trial.task,
            **{f"policy.{k}": v for k, v in policy.__dict__.items()},
        },
    )
    repeated = is_repeat(run, decision)
    if not repeated:
        log_look(ws.tracking, run, decision, looks)
    return run, repeated


def evaluate_and_promote(
    settings: Settings,
    *,
    apply: bool = True,
    policy: Policy | None = None,
    store: EventStore | None = None,
) -> EvaluationOutcome:
    """Evaluate the experiment in force; with ``apply``, act on the decision.

    ``promote`` moves the champion alias to the challenger (the API hot-swaps at its
    next poll); ``reject`` removes the challenger alias; both end the experiment (mode
    ``off``). Every look is logged to the comparison run in MLflow — except a look that
    saw exactly what the previous one saw. Running it again after a decision finds no
    challenger and does nothing.
    """
    policy = policy or settings.ab.policy()
    ws = Workspace(settings, given_store=store)
    trial = _trial(ws)
    if isinstance(trial, EvaluationOutcome):
        return trial
    decision, looks, ignored = ws.store.evaluate(
        trial.experiment_id,
        champion=trial.champion.version,
        challenger=trial.challenger.version,
        task=trial.task,
        mode=trial.mode,
        split_b=trial.split_b,
        policy=policy,
        now=datetime.now(UTC),
    )
    run, repeated = record_look(ws, trial, policy, decision, looks)
    outcome = EvaluationOutcome(
        trial.experiment_id,
        trial.champion.version,
        trial.challenger.version,
        decision,
        tuple(looks),
        run.run_id,
        repeated=repeated,
        ignored_rows=ignored,
        note=f"{trial.mode} experiment {trial.experiment_id}",
    )
    if not apply or not decision.action.concludes:
        _notify_decision(ws, trial, decision, policy, None)
        return outcome
    reason = f"A/B {trial.experiment_id}: " + "; ".join(decision.reasons)
    try:
        applied = _apply(ws, decision.action, trial.challenger.version, reason, run.run_id)
    except (NotFoundError, ConflictError) as exc:  # someone else acted in between
        return replace(outcome, note=f"{outcome.note}; not applied: {exc}")
    _notify_decision(ws, trial, decision, policy, applied)
    return replace(outcome, applied=applied)


def _notify_decision(
    ws: Workspace, trial: Trial, decision: Decision, policy: Policy, applied: str | None
) -> None:
    # a look that only reports (apply off) tells of no promotion it did not make
    events = decision_events(
        ws.settings.model_name,
        trial.experiment_id,
        trial.champion.version,
        trial.challenger.version,
        decision,
        policy,
        applied,
    )
    ws.notify(*events)


def apply_decision(
    settings: Settings,
    *,
    action: Action,
    challenger: str,
    reason: str,
    run_id: str | None = None,
    store: EventStore | None = None,
) -> str:
    """Act on an evaluation: ``promote`` makes ``challenger`` the champion, ``reject``
    removes the challenger alias; then the experiment is switched off and the
    comparison run closed. Refuses (ConflictError) when the challenger alias no longer
    points at ``challenger`` — a decision applies to the version it was made on."""
    action = Action(action)
    if not action.concludes:
        raise ConfigError(f"only promote and reject change anything, got {action!r}")
    return _apply(Workspace(settings, given_store=store), action, challenger, reason, run_id)


def _apply(ws: Workspace, action: Action, challenger: str, reason: str, run_id: str | None) -> str:
    settings = ws.settings
    current = ws.alias(Alias.CHALLENGER)
    if current is None or current.version != challenger:
        now = f"v{current.version}" if current else "none"
        raise ConflictError(f"the decision was on challenger v{challenger}, the alias is {now}")
    if action == Action.PROMOTE:
        ws.registry.promote(challenger, actor=settings.who, reason=reason)
        applied = f"promoted v{challenger}"
    else:
        ws.registry.reject_challenger(actor=settings.who, reason=reason)
        applied = f"rejected v{challenger}"
    config = ws.store.ab_config()
    ws.store.set_ab_config(
        experiment_id=config.experiment_id if config else DEFAULT_EXPERIMENT,
        mode=ABMode.OFF,
        split_b=config.split_b if config else settings.ab.split_b,
        updated_by=settings.who,
        note=f"concluded: {applied}",
    )
    if run_id is not None:
        mark_applied(ws.tracking, run_id, applied)
    return applied
