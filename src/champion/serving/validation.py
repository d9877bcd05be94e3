"""Request features checked against the model's signature.

Every feature of the signature must be present (``null`` is allowed: the pipeline
imputes it), no other key may appear, numbers must be finite numbers (not booleans,
not strings), strings must be strings, booleans booleans. Errors come back in FastAPI's
422 format, each naming its field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})


@dataclass(frozen=True)
class FeatureSpec:
    """Names and MLflow types (double, long, string, boolean, ...) of a model's inputs."""

    names: tuple[str, ...]
    types: dict[str, str]

    @classmethod
    def from_signature(cls, signature: Any) -> FeatureSpec:
        columns = signature.inputs.inputs
        names = tuple(c.name for c in columns)
        types = {c.name: getattr(c.type, "name", str(c.type)) for c in columns}
        return cls(names=names, types=types)


def _error(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def check_features(
    features: Any, spec: FeatureSpec, loc: list[Any]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(features in signature order, []) or (None, errors)."""
    if not isinstance(features, dict):
        return None, [_error(loc, "features must be a JSON object", "dict_type")]
    errors = []
    for name in spec.names:
        if name not in features:
            errors.append(_error([*loc, name], f"missing feature {name!r}", "missing"))
    for name in features:
        if name not in spec.types:
            expected = ", ".join(spec.names)
            errors.append(
                _error([*loc, name], f"unknown feature {name!r}; expected: {expected}", "extra")
            )
    for name in spec.names:
        if name not in features or features[name] is None:
            continue
        value, kind = features[name], spec.types[name]
        if kind in NUMERIC_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(
                    _error([*loc, name], f"{name!r} must be a number, got {value!r}", "type")
                )
            elif not math.isfinite(value):
                errors.append(
                    _error([*loc, name], f"{name!r} must be finite, got {value!r}", "finite")
                )
        elif kind == "string" and not isinstance(value, str):
            errors.append(_error([*loc, name], f"{name!r} must be a string, got {value!r}", "type"))
        elif kind == "boolean" and not isinstance(value, bool):
            errors.append(_error([*loc, name], f"{name!r} must be true or false", "type"))
    if errors:
        return None, errors
    return {name: features[name] for name in spec.names}, []
