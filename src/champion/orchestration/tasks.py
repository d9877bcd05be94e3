"""The body of every Airflow task: one lifecycle call each, small JSON in and out.

``dags/`` holds the thin shells that wire these together; settings come from the
workers' ``CHAMPION_*`` environment, as for the CLI. The branch tasks' decisions live here
too, so a DAG file holds no logic of its own.
"""

from __future__ import annotations

from typing import Any

from champion.datasets import load_data, load_dataset
from champion.lifecycle import (
    apply_decision,
    apply_retention,
    bootstrap,
    check_served_drift,
    evaluate_and_promote,
    model_status,
    retrain_challenger,
    start_experiment,
)
from champion.settings import load_settings
from champion.types import Action

Json = dict[str, Any]


def status() -> Json:
    """The versions behind the aliases."""
    return dict(model_status(load_settings()))


def next_step(models: Json) -> str:
    """main_pipeline's branch: bootstrap, evaluate the running experiment, or check drift."""
    if models["champion"] is None:
        return "bootstrap"
    return "evaluate" if models["challenger"] is not None else "check_drift"


def bootstrap_champion(params: Json | None = None) -> Json:
    """A champion from ``CHAMPION_TRAIN_PATH`` (with the ``target`` param) or the bundled
    ``dataset`` param, unless one exists."""
    settings = load_settings()
    params = params or {}
    if settings.train_path is not None:
        source = load_data(settings.train_path, target=params.get("target"))
    else:
        source = load_dataset(params.get("dataset") or "titanic")
    outcome = bootstrap(settings, source, settings.training.config())
    return {"champion": outcome.champion.version, "created": outcome.created}


def check_drift() -> Json:
    return check_served_drift(load_settings()).to_dict()


def retrain_or_skip(drift: Json) -> str:
    """Retrain on drift or a performance drop, unless an experiment is running (it is
    let finish)."""
    if drift["challenger"] is not None:
        return "skip"
    return "retrain" if drift.get("retrain", drift["drifted"]) else "skip"


def retrain(drift: Json) -> Json:
    settings = load_settings()
    why = drift.get("why") or f"drift: {drift['reason']}"
    return retrain_challenger(settings, settings.training.config(), reason=why).to_dict()


def start(retrained: Json) -> Json:
    if not retrained["retrained"]:  # too few labels yet: nothing to test
        return {"started": False, "note": retrained["note"]}
    return {"started": True, **start_experiment(load_settings()).to_dict()}


def evaluate(*, apply: bool) -> Json:
    """Evaluate the running experiment; with ``apply``, act on the decision too."""
    outcome = evaluate_and_promote(load_settings(), apply=apply)
    decision = outcome.decision
    return {
        "action": decision.action if decision else None,
        "reasons": list(decision.reasons) if decision else [outcome.note],
        "experiment_id": outcome.experiment_id,
        "challenger": outcome.challenger,
        "run_id": outcome.run_id,
        "applied": outcome.applied,
        "note": outcome.note,
    }


def act(evaluation: Json) -> str:
    """ab_evaluate_and_promote's branch: promote, reject, or let it continue."""
    action = evaluation["action"]
    return action if action in (Action.PROMOTE, Action.REJECT) else "continue"


def apply(action: str, evaluation: Json) -> str:
    """Promote or reject the challenger the evaluation was made on."""
    return apply_decision(
        load_settings(),
        action=Action(action),
        challenger=evaluation["challenger"],
        reason=f"A/B {evaluation['experiment_id']}: " + "; ".join(evaluation["reasons"]),
        run_id=evaluation["run_id"],
    )


def retention() -> Json:
    """Archive and delete the predictions older than the retention (if one is set)."""
    result = apply_retention(load_settings())
    if result is None:
        return {"archived": 0, "note": "no CHAMPION_LOG_RETENTION_DAYS: the log keeps everything"}
    return {"archived": result.rows, "partitions": len(result.partitions), "to": result.target}
