"""The events the lifecycle steps notify (:mod:`champion.notify`), built from what each
step found: a sentence for people and the figures behind it."""

from __future__ import annotations

from champion.abtest.decision import Decision, Policy
from champion.abtest.performance import PerformanceCheck
from champion.drift import DriftResult
from champion.notify import Event, Kind
from champion.tracking.registry import AliasEvent
from champion.types import Action


def drift_events(
    model: str,
    champion: str,
    reference: str,
    result: DriftResult,
    perf: PerformanceCheck | None,
    was_drifted: bool = False,
) -> list[Event]:
    """Drift found by a check after one that found none (``was_drifted``: the previous
    check of the reference drifted), and the champion's performance dropped (once per
    champion's reference)."""
    check = result.check if result.check is not None else "one-off"
    events = []
    if result.drifted and not was_drifted:
        features = ", ".join(result.drifted_features) or "the joint check"
        events.append(
            Event(
                Kind.DRIFT_FOUND,
                model,
                f"Drift found in what champion v{champion} serves: {features} "
                f"({result.n_current} rows, check {check}).",
                {
                    "champion": champion,
                    "check": result.check,
                    "rows": result.n_current,
                    "drifted_features": ", ".join(result.drifted_features),
                    "alpha_check": result.alpha_check,
                    "reason": result.reason,
                },
                key=f"drift:{reference}:{check}" if result.check is not None else "",
            )
        )
    if perf is not None and perf.dropped:
        events.append(
            Event(
                Kind.PERFORMANCE_DROPPED,
                model,
                f"Champion v{champion}'s live performance dropped: {perf.reason}",
                {"champion": champion, "check": result.check, "reason": perf.reason},
                key=f"performance:{reference}",
            )
        )
    return events


def retrain_started(model: str, champion: str, why: str) -> Event:
    return Event(
        Kind.RETRAIN_STARTED,
        model,
        f"Retraining a challenger to champion v{champion}: {why}",
        {"champion": champion, "why": why},
    )


def retrain_finished(
    model: str, champion: str, challenger: str | None, rows: int, note: str
) -> Event:
    if challenger is None:
        text = f"Retraining registered no challenger: {note}"
    else:
        text = f"Challenger v{challenger} trained on {rows} labelled rows and registered."
    return Event(
        Kind.RETRAIN_FINISHED,
        model,
        text,
        {"champion": champion, "challenger": challenger, "training_rows": rows, "note": note},
    )


def retrain_failed(model: str, champion: str, error: Exception) -> Event:
    return Event(
        Kind.RETRAIN_FAILED,
        model,
        f"Retraining a challenger to champion v{champion} failed: {error}",
        {"champion": champion, "error": type(error).__name__},
    )


def experiment_started(
    model: str, experiment_id: str, mode: str, split_b: float, champion: str, challenger: str
) -> Event:
    split = "both models score every request" if mode == "shadow" else f"{split_b:.0%} to B"
    return Event(
        Kind.EXPERIMENT_STARTED,
        model,
        f"A/B experiment {experiment_id} started: challenger v{challenger} against "
        f"champion v{champion}, {mode} ({split}).",
        {
            "experiment_id": experiment_id,
            "mode": mode,
            "split_b": split_b,
            "champion": champion,
            "challenger": challenger,
        },
        key=f"experiment:{experiment_id}",
    )


def decision_events(
    model: str,
    experiment_id: str,
    champion: str,
    challenger: str,
    decision: Decision,
    policy: Policy,
    applied: str | None,
) -> list[Event]:
    """A concluding or invalid decision, and every guardrail that holds back a
    challenger the primary metric would promote (once per experiment each)."""
    events = []
    iv = decision.interval
    figures = {
        "experiment_id": experiment_id,
        "champion": champion,
        "challenger": challenger,
        "estimate": iv.estimate,
        "lower": iv.lower if abs(iv.lower) != float("inf") else None,
        "upper": iv.upper if abs(iv.upper) != float("inf") else None,
        "labelled_a": decision.labelled[0],
        "labelled_b": decision.labelled[1],
    }
    if decision.action in (Action.PROMOTE, Action.REJECT, Action.INVALID):
        verb = {
            Action.PROMOTE: f"Challenger v{challenger} is better: promote",
            Action.REJECT: f"Challenger v{challenger} is not better: reject",
            Action.INVALID: f"Experiment {experiment_id} is invalid",
        }[decision.action]
        done = f" ({applied})" if applied else ""
        events.append(
            Event(
                Kind.DECISION,
                model,
                f"{verb}{done}. " + "; ".join(decision.reasons),
                {**figures, "action": str(decision.action), "applied": applied},
                key=f"decision:{experiment_id}:{decision.action}",
            )
        )
    if iv.lower > policy.promote_margin:
        for guard in decision.guardrails:
            if guard.passed:
                continue
            events.append(
                Event(
                    Kind.GUARDRAIL_BREACH,
                    model,
                    f"Challenger v{challenger} leads on the primary metric but {guard.describe()}.",
                    {**figures, "guardrail": guard.name, "guardrail_estimate": guard.estimate},
                    key=f"guardrail:{experiment_id}:{guard.name}",
                )
            )
    return events


def alias_event(model: str, moved: AliasEvent) -> Event:
    """A promotion by hand or a rollback."""
    kind = Kind.ROLLBACK if moved.action == "rollback" else Kind.PROMOTED
    what = "rolled back to" if kind == Kind.ROLLBACK else "promoted"
    return Event(
        kind,
        model,
        f"Champion {what} v{moved.version} (was v{moved.previous}) by {moved.actor}: "
        f"{moved.reason}",
        {
            "version": moved.version,
            "previous": moved.previous,
            "actor": moved.actor,
            "reason": moved.reason,
        },
    )
