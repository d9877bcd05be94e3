"""Lifecycle steps of an A/B experiment: start it, evaluate it, act on the decision.

Re-exported by :mod:`champion.lifecycle`; the CLI and the Airflow DAGs call them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from champion.abtest.decision import Decision, Policy, decide
from champion.abtest.evidence import Look, build_evidence, interval_path
from champion.errors import ConfigError, ConflictError, NotFoundError
from champion.predictionlog import ABConfig, EventStore
from champion.settings import Settings
from champion.tracking.comparisons import (
    TAG_DECISION,
    TAG_LOOK,
    log_look,
    look_key,
    mark_applied,
    open_run,
)
from champion.tracking.connection import Tracking, connect
from champion.tracking.registry import CHALLENGER, CHAMPION, ModelRegistry, VersionInfo
from champion.tracking.runs import run_schema


def ab_policy(settings: Settings, **overrides: Any) -> Policy:
    """The evaluation policy in force: settings, then non-None overrides."""
    values: dict[str, Any] = {
        "alpha": settings.ab_alpha,
        "n_star": settings.ab_planned_labels,
        "promote_margin": settings.ab_promote_margin,
        "min_labelled": settings.ab_min_labelled,
        "max_labelled": settings.ab_max_labelled,
        "precision_margin": settings.ab_precision_margin,
        "recall_margin": settings.ab_recall_margin,
        "error_rate_margin": settings.ab_error_rate_margin,
        "latency_p95_margin_ms": settings.ab_latency_margin_ms,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Policy(**values)
    except ValueError as exc:
        raise ConfigError(f"A/B policy: {exc} (CHAMPION_AB_MIN_LABELLED/MAX_LABELLED)") from exc


def open_store(settings: Settings) -> EventStore:
    """The prediction log of ``settings``, migrated."""
    store = EventStore(settings.events_url)
    store.migrate()
    return store


def registry_for(tracking: Tracking, settings: Settings) -> ModelRegistry:
    """The registry of ``settings.model_name`` on an open connection, uncached: a
    lifecycle step must see the aliases as they are now."""
    return ModelRegistry(tracking.client, settings.model_name, cache_ttl=0)


def start_experiment(
    settings: Settings,
    *,
    mode: str | None = None,
    split_b: float | None = None,
    store: EventStore | None = None,
) -> ABConfig:
    """Start an A/B experiment of the current challenger against the champion.

    A fresh experiment id (``v<champion>-v<challenger>-<UTC time>``) is stored with the
    mode and split; every API worker picks it up at its next poll. Rows logged under
    earlier experiments never count for this one.
    """
    mode = mode or settings.ab_mode
    split_b = settings.ab_split_b if split_b is None else split_b
    if mode == "off":
        raise ConfigError("an experiment needs a mode: hash, random or shadow")
    registry = registry_for(connect(settings), settings)
    champion, challenger = registry.alias(CHAMPION), registry.alias(CHALLENGER)
    if champion is None or challenger is None:
        missing = "champion" if champion is None else "challenger"
        raise NotFoundError(f"model {settings.model_name!r} has no {missing}: nothing to test")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    store = store or open_store(settings)
    return store.set_ab_config(
        experiment_id=f"v{champion.version}-v{challenger.version}-{stamp}",
        mode=mode,
        split_b=split_b,
        updated_by=settings.who,
        note=f"challenger v{challenger.version} vs champion v{champion.version}",
    )


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


def _task(tracking: Tracking, version: VersionInfo) -> str:
    if version.run_id is None:
        raise NotFoundError(f"version {version.version} has no training run: task unknown")
    task = run_schema(tracking.client, version.run_id).task
    if task not in ("classification", "regression"):
        raise NotFoundError(f"run {version.run_id} records no task (classification/regression)")
    return str(task)


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
    policy = policy or ab_policy(settings)
    tracking = connect(settings)
    registry = registry_for(tracking, settings)
    champion, challenger = registry.alias(CHAMPION), registry.alias(CHALLENGER)
    if champion is None or challenger is None:
        missing = "champion" if champion is None else "challenger"
        return EvaluationOutcome(
            None,
            champion.version if champion else None,
            challenger.version if challenger else None,
            None,
            note=f"no {missing} under test: nothing to evaluate",
        )
    store = store or open_store(settings)
    config = store.ab_config()
    experiment = config.experiment_id if config else "default"
    mode = config.mode if config else settings.ab_mode
    if mode == "off":
        return EvaluationOutcome(
            experiment,
            champion.version,
            challenger.version,
            None,
            note=f"no experiment running (mode off{': ' + config.note if config else ''}); "
            "start one with `champion ab start`",
        )
    split_b = config.split_b if config else settings.ab_split_b
    task = _task(tracking, champion)
    evidence = build_evidence(
        store.experiment_rows(experiment),
        store.failure_counts(experiment),
        champion=champion.version,
        challenger=challenger.version,
        task=task,
        shadow=mode == "shadow",
    )
    decision = decide(
        evidence.a,
        evidence.b,
        task=task,
        split_b=split_b,
        policy=policy,
        paired_rows=evidence.paired_rows,
    )
    looks = interval_path(evidence, task=task, alpha=policy.alpha, n_star=policy.n_star)
    run = open_run(
        tracking,
        settings.comparison_name,
        experiment,
        params={
            "champion_version": champion.version,
            "challenger_version": challenger.version,
            "mode": mode,
            "split_b": split_b,
            "task": task,
            **{f"policy.{k}": v for k, v in policy.__dict__.items()},
        },
    )
    repeated = (
        run.tags.get(TAG_LOOK) == look_key(decision)
        and run.tags.get(TAG_DECISION) == decision.action
    )
    if not repeated:
        log_look(tracking, run, decision, looks)
    outcome = EvaluationOutcome(
        experiment,
        champion.version,
        challenger.version,
        decision,
        tuple(looks),
        run.run_id,
        repeated=repeated,
        ignored_rows=evidence.ignored,
        note=f"{mode} experiment {experiment}",
    )
    if not apply or decision.action not in ("promote", "reject"):
        return outcome
    try:
        applied = _apply(
            settings,
            tracking,
            registry,
            store,
            action=decision.action,
            challenger=challenger.version,
            reason=f"A/B {experiment}: " + "; ".join(decision.reasons),
            run_id=run.run_id,
        )
    except (NotFoundError, ConflictError) as exc:  # someone else acted in between
        return replace(outcome, note=f"{outcome.note}; not applied: {exc}")
    return replace(outcome, applied=applied)


def apply_decision(
    settings: Settings,
    *,
    action: str,
    challenger: str,
    reason: str,
    run_id: str | None = None,
    store: EventStore | None = None,
) -> str:
    """Act on an evaluation: ``promote`` makes ``challenger`` the champion, ``reject``
    removes the challenger alias; then the experiment is switched off and the
    comparison run closed. Refuses (ConflictError) when the challenger alias no longer
    points at ``challenger`` — a decision applies to the version it was made on."""
    if action not in ("promote", "reject"):
        raise ConfigError(f"only promote and reject change anything, got {action!r}")
    tracking = connect(settings)
    return _apply(
        settings,
        tracking,
        registry_for(tracking, settings),
        store or open_store(settings),
        action=action,
        challenger=challenger,
        reason=reason,
        run_id=run_id,
    )


def _apply(
    settings: Settings,
    tracking: Tracking,
    registry: ModelRegistry,
    store: EventStore,
    *,
    action: str,
    challenger: str,
    reason: str,
    run_id: str | None,
) -> str:
    current = registry.alias(CHALLENGER)
    if current is None or current.version != challenger:
        now = f"v{current.version}" if current else "none"
        raise ConflictError(f"the decision was on challenger v{challenger}, the alias is {now}")
    if action == "promote":
        registry.promote(challenger, actor=settings.who, reason=reason)
        applied = f"promoted v{challenger}"
    else:
        registry.reject_challenger(actor=settings.who, reason=reason)
        applied = f"rejected v{challenger}"
    config = store.ab_config()
    store.set_ab_config(
        experiment_id=config.experiment_id if config else "default",
        mode="off",
        split_b=config.split_b if config else settings.ab_split_b,
        updated_by=settings.who,
        note=f"concluded: {applied}",
    )
    if run_id is not None:
        mark_applied(tracking, run_id, applied)
    return applied
