"""The use cases of champion, as plain typed functions, one module each.

* :mod:`~champion.lifecycle.bootstrap` — no champion yet: train one, alias it;
* :mod:`~champion.lifecycle.adoption` — or adopt a version the team already has;
* :mod:`~champion.lifecycle.drift_check` — the served features against the champion's
  training data;
* :mod:`~champion.lifecycle.retrain` — a challenger from live labels, only on drift;
* :mod:`~champion.lifecycle.experiment` — start the A/B test, evaluate it, act on it;
* :mod:`~champion.lifecycle.aliases` — promote or roll back by hand;
* :mod:`~champion.lifecycle.notices` — what the steps tell the webhooks;
* :mod:`~champion.lifecycle.registration` — train, log, register (shared by the above);
* :mod:`~champion.lifecycle.retention` — old predictions to Parquet, out of the log;
* :mod:`~champion.lifecycle.workspace` — the one place that opens MLflow and the log.

The CLI calls them in-process; the Airflow DAGs call the very same functions, one per
task, passing only ids and small JSON. Nothing here talks to a user: progress goes
through an optional callback, results come back as frozen dataclasses.
"""

from champion.lifecycle.adoption import AdoptionOutcome, Reference, adopt
from champion.lifecycle.aliases import promote_version, rollback_champion
from champion.lifecycle.bootstrap import BootstrapOutcome, bootstrap, model_status
from champion.lifecycle.drift_check import ServedDrift, check_served_drift
from champion.lifecycle.experiment import (
    EvaluationOutcome,
    apply_decision,
    evaluate_and_promote,
    start_experiment,
)
from champion.lifecycle.registration import TrainOutcome, register_trained, train_and_register
from champion.lifecycle.retention import apply_retention, archive_log
from champion.lifecycle.retrain import RetrainOutcome, drift_retrain, retrain_challenger
from champion.lifecycle.workspace import Workspace

__all__ = [
    "AdoptionOutcome",
    "BootstrapOutcome",
    "EvaluationOutcome",
    "Reference",
    "RetrainOutcome",
    "ServedDrift",
    "TrainOutcome",
    "Workspace",
    "adopt",
    "apply_decision",
    "apply_retention",
    "archive_log",
    "bootstrap",
    "check_served_drift",
    "drift_retrain",
    "evaluate_and_promote",
    "model_status",
    "promote_version",
    "register_trained",
    "retrain_challenger",
    "rollback_champion",
    "start_experiment",
    "train_and_register",
]
