"""Adopt a version champion did not train: a team's model already in the registry
becomes the champion (or the challenger) and the whole loop runs on it.

What champion needs of a champion — its task, target and features, and the drift
reference profile of the data it was trained on — is built from a reference table and
the model's signature, logged as an *adoption run*, and pointed to from the version's
tags (``champion.schema_run``, ``champion.task``); the alias move is recorded in the
registry history like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from champion.datasets import Dataset, Schema, infer_task
from champion.errors import ConflictError, InvalidInputError, NotFoundError
from champion.lifecycle.registration import reference_profile
from champion.lifecycle.workspace import Workspace
from champion.settings import Settings
from champion.tracking.connection import ensure_experiment
from champion.tracking.model_kind import NUMERIC_TYPES, input_columns
from champion.tracking.registry import DATASET_TAG, SCHEMA_RUN_TAG, TASK_TAG, VersionInfo
from champion.tracking.runs import log_adoption_run, version_task
from champion.types import Alias, Task

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


@dataclass(frozen=True)
class Reference:
    """The table a version was trained on (or one like it), and which column is its target."""

    name: str
    frame: pd.DataFrame
    target: str
    source: str


@dataclass(frozen=True)
class AdoptionOutcome:
    """What an adoption did."""

    model_name: str
    version: str
    alias: Alias
    previous: str | None
    task: Task
    schema: Schema | None
    schema_run: str | None  # the run holding the schema and the reference profile
    reference_rows: int = 0
    rejected: str | None = None  # the challenger removed to make room (force)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "alias": self.alias,
            "previous": self.previous,
            "task": self.task,
            "features": list(self.schema.features) if self.schema else None,
            "target": self.schema.target if self.schema else None,
            "schema_run": self.schema_run,
            "reference_rows": self.reference_rows,
            "rejected_challenger": self.rejected,
        }


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of ``models:/name/3`` or ``models:/name@alias``."""
    match = _URI.match(uri.strip())
    if match is None:
        raise InvalidInputError(
            f"model must be models:/<name>/<version> or models:/<name>@<alias>, got {uri!r}"
        )
    return match["name"], match["version"], match["alias"]


def reference_schema(columns: dict[str, str], reference: Reference, task: Task | None) -> Schema:
    """The champion schema of a model with input ``columns``: its signature's columns
    (numbers numeric, the rest categorical), the target, and the reference's other
    columns listed as dropped. Every input and the target must be in the reference."""
    frame = reference.frame
    missing = [c for c in (*columns, reference.target) if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the reference table has no column(s) {', '.join(map(repr, missing))} "
            f"(the model's inputs and the target); it has: {', '.join(map(str, frame.columns))}"
        )
    if reference.target in columns:
        raise InvalidInputError(f"the target {reference.target!r} is one of the model's inputs")
    numeric = tuple(c for c, kind in columns.items() if kind in NUMERIC_TYPES)
    text = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise InvalidInputError(
            f"column(s) {', '.join(map(repr, text))} hold text in the reference table but "
            "numbers in the model's signature"
        )
    labels = frame[reference.target]
    if labels.isna().all():
        raise InvalidInputError(f"the target column {reference.target!r} is empty")
    return Schema(
        target=reference.target,
        task=task or infer_task(labels),
        numeric=numeric,
        categorical=tuple(c for c in columns if c not in numeric),
        dropped=tuple(c for c in frame.columns if c not in columns and c != reference.target),
    )


def _resolve(ws: Workspace, version: str | None, alias: str | None) -> VersionInfo:
    if version is not None:
        return ws.registry.get(version)
    found = ws.registry.alias(str(alias), refresh=True)
    if found is None:
        raise NotFoundError(f"model {ws.settings.model_name!r} has no alias {alias!r}")
    return found


def _make_room(ws: Workspace, info: VersionInfo, role: Alias, force: bool) -> str | None:
    """Refuse to replace a challenger under test unless ``force`` (which rejects it)."""
    if role == Alias.CHALLENGER:
        champion = ws.require(Alias.CHAMPION, "adopt a champion before a challenger")
        if champion.version == info.version:
            raise ConflictError(f"v{info.version} is the champion: it cannot challenge itself")
    challenger = ws.alias(Alias.CHALLENGER)
    if challenger is None or challenger.version == info.version:
        return None
    if not force:
        raise ConflictError(
            f"challenger v{challenger.version} is under test: wait for its decision, or "
            "pass --force to reject it"
        )
    ws.registry.reject_challenger(
        actor=ws.settings.who, reason=f"replaced by adopting v{info.version} as {role}"
    )
    return challenger.version


def _schema_run(
    ws: Workspace, info: VersionInfo, columns: dict[str, str], reference: Reference, task: Task
) -> tuple[Schema, str]:
    schema = reference_schema(columns, reference, task)
    data = Dataset(reference.name, reference.frame, schema, source=reference.source)
    profile = reference_profile(ws.settings, data)
    experiment = ensure_experiment(ws.tracking, ws.settings.experiment_name)
    run_id = log_adoption_run(
        schema,
        reference.frame,
        profile,
        experiment_id=experiment,
        model_uri=info.model_uri,
        dataset_name=reference.name,
        source=reference.source,
    )
    return schema, run_id


def adopt(
    settings: Settings,
    model_uri: str,
    *,
    reference: Reference | None,
    role: Alias = Alias.CHAMPION,
    task: Task | None = None,
    force: bool = False,
    reason: str | None = None,
) -> AdoptionOutcome:
    """Make the registered version at ``model_uri`` the ``role`` (champion by default).

    A champion needs ``reference``: its drift reference profile and schema are built
    from it. A challenger may go without (it then takes the champion's task), but
    without one it cannot become a champion that is drift-checked. The version's model
    name replaces ``settings.model_name``.
    """
    name, version, alias = parse_model_uri(model_uri)
    ws = Workspace(settings.with_values(model_name=name))
    info = _resolve(ws, version, alias)
    if role == Alias.CHAMPION and reference is None:
        raise InvalidInputError("a champion needs --reference FILE and --target COLUMN")
    columns = input_columns(info.model_uri)
    rejected = _make_room(ws, info, role, force)
    known = task or version_task(ws.tracking.client, info)
    if known is None and reference is None:  # a challenger: the champion's task
        champion = ws.require(Alias.CHAMPION, "adopt a champion before a challenger")
        known = version_task(ws.tracking.client, champion)
    schema, run_id = None, None
    if reference is not None:
        schema, run_id = _schema_run(ws, info, columns, reference, known)
        known = schema.task
    if known is None:
        raise InvalidInputError("the task is unknown: pass --task classification|regression")
    tags = {TASK_TAG: str(known)}
    if run_id is not None and reference is not None:
        tags.update({SCHEMA_RUN_TAG: run_id, DATASET_TAG: reference.name})
    event = ws.registry.adopt(
        info.version,
        role,
        actor=settings.who,
        reason=reason or f"adopted {info.model_uri} as {role}",
        tags=tags,
    )
    return AdoptionOutcome(
        name,
        info.version,
        role,
        event.previous,
        known,
        schema,
        run_id,
        reference_rows=len(reference.frame) if reference is not None else 0,
        rejected=rejected,
    )
