"""Request features checked against the model's signature.

Every feature of the signature must be present (``null`` is allowed: the pipeline
imputes it), numbers must be finite numbers (not booleans, not strings), strings must be
strings, booleans booleans. Keys the model does not use — a client sending the whole
record it has — are ignored and reported (``strict`` makes them errors instead). Errors
come back in FastAPI's 422 format, each naming its field.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from champion.tracking.model_kind import NUMERIC_TYPES


@dataclass(frozen=True)
class FeatureSpec:
    """Names and MLflow types (double, long, string, boolean, ...) of a model's inputs."""

    names: tuple[str, ...]
    types: dict[str, str]

    @functools.cached_property
    def checks(self) -> tuple[tuple[str, str], ...]:
        """(name, kind) per feature, kind one of number, string, boolean, other."""
        return tuple((name, _kind(self.types[name])) for name in self.names)

    @classmethod
    def from_signature(cls, signature: Any) -> FeatureSpec:
        columns = signature.inputs.inputs
        names = tuple(c.name for c in columns)
        types = {c.name: getattr(c.type, "name", str(c.type)) for c in columns}
        return cls(names=names, types=types)


def _kind(mlflow_type: str) -> str:
    if mlflow_type in NUMERIC_TYPES:
        return "number"
    return mlflow_type if mlflow_type in ("string", "boolean") else "other"


def shown(value: Any) -> str:
    """A value as an error message quotes it: at most 40 characters (a hostile body can
    send megabytes in one field)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _error(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


#: Unknown keys named one by one in a strict 422 at most (a hostile body may hold many).
MAX_UNKNOWN_REPORTED = 20


#: Ignored keys listed in a response at most (the count in /metrics is complete).
MAX_IGNORED_LISTED = 100


def unknown_features(
    features: dict[str, Any], spec: FeatureSpec, *, limit: int | None = None
) -> list[str]:
    """The keys of ``features`` the model does not use, in the request's order (the
    first ``limit`` of them)."""
    out = []
    for name in features:
        if name not in spec.types:
            out.append(name)
            if limit is not None and len(out) >= limit:
                break
    return out


def _clean(features: dict[str, Any], spec: FeatureSpec) -> dict[str, Any] | None:
    """The features in signature order if every one is there and of its exact type
    (the common case, checked with no error built); None: let the full check say why."""
    try:
        clean = {name: features[name] for name in spec.names}
    except KeyError:
        return None
    for name, kind in spec.checks:
        value = clean[name]
        if value is None or kind == "other":
            continue
        t = type(value)
        if kind == "number":
            if t is not int and not (t is float and math.isfinite(value)):
                return None
        elif t is not (str if kind == "string" else bool):
            return None
    return clean


def check_features(
    features: Any, spec: FeatureSpec, loc: list[Any], *, strict: bool = False
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(features in signature order, []) or (None, errors). Keys the model does not use
    are left out — or, with ``strict``, each is an error."""
    if not isinstance(features, dict):
        return None, [_error(loc, "features must be a JSON object", "dict_type")]
    if not strict:
        clean = _clean(features, spec)
        if clean is not None:
            return clean, []
    errors = []
    for name in spec.names:
        if name not in features:
            errors.append(_error([*loc, name], f"missing feature {name!r}", "missing"))
    if strict:
        unknown = unknown_features(features, spec)
        for name in unknown[:MAX_UNKNOWN_REPORTED]:
            errors.append(_error([*loc, name], f"unknown feature {name!r}", "extra"))
        if len(unknown) > MAX_UNKNOWN_REPORTED:
            more = len(unknown) - MAX_UNKNOWN_REPORTED
            errors.append(_error(loc, f"{more} more unknown features", "extra"))
        if unknown:
            expected = ", ".join(spec.names)
            errors.append(_error(loc, f"the model takes: {expected}", "extra"))
    for name, kind in spec.checks:
        if name not in features or features[name] is None:
            continue
        value = features[name]
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(
                    _error([*loc, name], f"{name!r} must be a number, got {shown(value)}", "type")
                )
            elif not math.isfinite(value):
                errors.append(
                    _error([*loc, name], f"{name!r} must be finite, got {shown(value)}", "finite")
                )
        elif kind == "string" and not isinstance(value, str):
            message = f"{name!r} must be a string, got {shown(value)}"
            errors.append(_error([*loc, name], message, "type"))
        elif kind == "boolean" and not isinstance(value, bool):
            errors.append(_error([*loc, name], f"{name!r} must be true or false", "type"))
    if errors:
        return None, errors
    return {name: features[name] for name in spec.names}, []
