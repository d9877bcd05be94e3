"""A/B evaluations in MLflow: one comparison run per experiment, one step per look.

Every look logs, at step = labelled rows so far, the interval of ``B - A`` (estimate,
lower, upper), the always-valid p-value, the classical tests (the fixed-horizon
chi-square marked as such) and every per-variant metric (``A/accuracy``, ``B/recall``,
…): MLflow's metric charts then show the confidence sequence over time. The latest
decision, its reasons and the per-variant tables are tags and artifacts of the run.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from typing import Any

from champion.abtest import Decision, Look
from champion.errors import BackendError
from champion.tracking.connection import Tracking, ensure_experiment
from champion.types import Variant

TAG_EXPERIMENT = "champion.experiment_id"
TAG_LOOK = "champion.last_look"
TAG_DECISION = "champion.decision"
TAG_APPLIED = "champion.applied"


@dataclass(frozen=True)
class ComparisonRun:
    run_id: str
    experiment_id: str  # MLflow's id of the comparison experiment
    tags: dict[str, str]


def _fail(exc: Exception, what: str) -> BackendError:
    return BackendError(f"MLflow failed to {what}: {getattr(exc, 'message', None) or exc}")


def open_run(
    tracking: Tracking,
    comparison_name: str,
    experiment_id: str,
    *,
    params: dict[str, Any],
) -> ComparisonRun:
    """The comparison run of A/B experiment ``experiment_id``, created on first look."""
    from mlflow.exceptions import MlflowException

    client: Any = tracking.client
    mlflow_experiment = ensure_experiment(tracking, comparison_name)
    try:
        found = client.search_runs(
            [mlflow_experiment],
            filter_string=f"tags.`{TAG_EXPERIMENT}` = '{experiment_id}'",
            max_results=1,
        )
        if found:
            run = found[0]
            return ComparisonRun(run.info.run_id, mlflow_experiment, dict(run.data.tags))
        run = client.create_run(
            mlflow_experiment, run_name=f"ab-{experiment_id}", tags={TAG_EXPERIMENT: experiment_id}
        )
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
    except MlflowException as exc:
        raise _fail(exc, f"open the comparison run of {experiment_id}") from exc
    return ComparisonRun(run.info.run_id, mlflow_experiment, {TAG_EXPERIMENT: experiment_id})


def look_key(decision: Decision) -> str:
    """What a look saw; the same key twice means nothing new arrived in between."""
    m = decision.metrics
    return ",".join(str(int(m[v].get(k) or 0)) for v in Variant for k in ("requests", "labelled"))


def is_repeat(run: ComparisonRun, decision: Decision) -> bool:
    """True when ``decision`` saw exactly what the run's latest look saw, and said the same."""
    same_rows = run.tags.get(TAG_LOOK) == look_key(decision)
    return same_rows and run.tags.get(TAG_DECISION) == decision.action


def _metrics(decision: Decision) -> dict[str, float]:
    iv = decision.interval
    out = {"diff/estimate": iv.estimate, "diff/p_value_always_valid": iv.p_value}
    if abs(iv.lower) < float("inf"):
        out["diff/lower"], out["diff/upper"] = iv.lower, iv.upper
    for name, test in (
        ("srm_p", decision.srm),
        ("chi_square_p_fixed_horizon_not_valid_under_peeking", decision.chi_square),
        ("mcnemar_p", decision.mcnemar),
    ):
        if test is not None:
            out[name] = test.p_value
    for g in decision.guardrails:
        out[f"guardrail/{g.name}/estimate"] = g.estimate
        if abs(g.bound) < float("inf"):
            out[f"guardrail/{g.name}/bound"] = g.bound
        out[f"guardrail/{g.name}/passed"] = float(g.passed)
    if decision.coverage is not None:
        out["A/label_coverage_mature"], out["B/label_coverage_mature"] = decision.coverage
    for variant, values in decision.metrics.items():
        for key, value in values.items():
            if value is not None:
                out[f"{variant}/{key}"] = float(value)
    return out


def variant_table(decision: Decision) -> str:
    """The per-variant metrics as CSV (one row per variant)."""
    keys = sorted({k for values in decision.metrics.values() for k in values})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", *keys])
    for variant, values in sorted(decision.metrics.items()):
        writer.writerow([variant, *("" if values.get(k) is None else values[k] for k in keys)])
    return buffer.getvalue()


def log_look(tracking: Tracking, run: ComparisonRun, decision: Decision, looks: list[Look]) -> None:
    """Log one evaluation to the comparison run."""
    from mlflow.entities import Metric, RunTag
    from mlflow.exceptions import MlflowException

    client: Any = tracking.client
    step = sum(decision.labelled) if not decision.paired else decision.labelled[0]
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, step) for k, v in _metrics(decision).items()]
    reasons = " | ".join(decision.reasons)
    tags = [
        RunTag(TAG_DECISION, decision.action),
        RunTag("champion.reasons", reasons[:5000]),
        RunTag(TAG_LOOK, look_key(decision)),
        RunTag("mlflow.note.content", f"**{decision.action}**: {reasons}"),
    ]
    sequence = "labelled,estimate,lower,upper\n" + "".join(
        f"{look.labelled},{look.estimate},{look.lower},{look.upper}\n" for look in looks
    )
    try:
        client.log_batch(run.run_id, metrics=metrics, tags=tags)
        client.log_text(run.run_id, variant_table(decision), "variant_metrics.csv")
        client.log_text(
            run.run_id, json.dumps(decision.to_dict(), indent=2, default=str), "decision.json"
        )
        client.log_text(run.run_id, sequence, "confidence_sequence.csv")
    except MlflowException as exc:
        raise _fail(exc, "log the evaluation") from exc


def mark_applied(tracking: Tracking, run_id: str, what: str) -> None:
    """Record on the run what the evaluation did to the aliases, and close it."""
    from mlflow.exceptions import MlflowException

    client: Any = tracking.client
    try:
        client.set_tag(run_id, TAG_APPLIED, what)
        client.set_terminated(run_id, "FINISHED")
    except MlflowException as exc:
        raise _fail(exc, "record the applied decision") from exc
