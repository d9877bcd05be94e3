"""Request features against a model's signature: every problem named by its field, the
clean features in the signature's order."""

from __future__ import annotations

import math

import pytest

from champion.serving.validation import (
    MAX_UNKNOWN_REPORTED,
    FeatureSpec,
    check_features,
    unknown_features,
)

SPEC = FeatureSpec(
    names=("age", "fare", "sex", "vip"),
    types={"age": "double", "fare": "long", "sex": "string", "vip": "boolean"},
)
LOC = ["body", "features"]


def test_clean_features_come_back_in_signature_order() -> None:
    clean, errors = check_features({"vip": False, "sex": "f", "fare": 7, "age": 3.5}, SPEC, LOC)
    assert errors == [] and list(clean) == ["age", "fare", "sex", "vip"]
    clean, errors = check_features({"age": None, "fare": None, "sex": None, "vip": None}, SPEC, LOC)
    assert errors == [] and clean == dict.fromkeys(SPEC.names)  # null: imputed by the model


@pytest.mark.parametrize(
    ("features", "field", "kind"),
    [
        ({"fare": 1, "sex": "m", "vip": True}, "age", "missing"),
        ({"age": "old", "fare": 1, "sex": "m", "vip": True}, "age", "type"),
        ({"age": True, "fare": 1, "sex": "m", "vip": True}, "age", "type"),
        ({"age": math.inf, "fare": 1, "sex": "m", "vip": True}, "age", "finite"),
        ({"age": 1, "fare": 1, "sex": 3, "vip": True}, "sex", "type"),
        ({"age": 1, "fare": 1, "sex": "m", "vip": "yes"}, "vip", "type"),
        ({"age": math.nan, "fare": 1, "sex": "m", "vip": True}, "age", "finite"),
        ({"age": 1, "fare": False, "sex": "m", "vip": True}, "fare", "type"),
        ({"age": 1, "fare": 1, "sex": 1.5, "vip": True}, "sex", "type"),
        ({"age": 1, "fare": 1, "sex": "m", "vip": 1}, "vip", "type"),
        ({"age": 1, "fare": 1, "sex": "m", "vip": True, "extra": 2}, None, None),
    ],
)
def test_each_problem_names_its_field(features: dict, field: str | None, kind: str | None) -> None:
    clean, errors = check_features(features, SPEC, LOC)
    if field is None:  # only a key the model does not use: clean, without it
        assert errors == [] and clean == {k: features[k] for k in SPEC.names}
        return
    assert clean is None
    assert [(e["loc"], e["type"]) for e in errors] == [([*LOC, field], kind)]


def test_not_an_object_and_several_problems_at_once() -> None:
    clean, errors = check_features([1, 2], SPEC, LOC)
    assert clean is None and errors[0]["type"] == "dict_type" and errors[0]["loc"] == LOC
    clean, errors = check_features({"sex": 1}, SPEC, ["body", "items", 3, "features"])
    assert clean is None
    assert {tuple(e["loc"][-2:]) for e in errors} == {
        ("features", "age"),
        ("features", "fare"),
        ("features", "vip"),
        ("features", "sex"),
    }


def test_keys_the_model_does_not_use_are_ignored_unless_strict() -> None:
    sent = {"name": "Braund", "age": 1, "fare": 1, "sex": "m", "vip": True, "cabin": "C85"}
    clean, errors = check_features(sent, SPEC, LOC)
    assert errors == [] and list(clean) == ["age", "fare", "sex", "vip"]
    assert unknown_features(sent, SPEC) == ["name", "cabin"]
    assert unknown_features(sent, SPEC, limit=1) == ["name"]
    clean, errors = check_features(sent, SPEC, LOC, strict=True)
    assert clean is None
    assert [(e["loc"], e["type"]) for e in errors[:2]] == [
        ([*LOC, "name"], "extra"),
        ([*LOC, "cabin"], "extra"),
    ]
    assert "the model takes: age, fare, sex, vip" in errors[-1]["msg"]


def test_a_strict_error_for_a_flood_of_unknown_keys_stays_small() -> None:
    sent = {f"k{i}": i for i in range(150_000)} | {"age": 1, "fare": 1, "sex": "m", "vip": True}
    _, errors = check_features(sent, SPEC, LOC, strict=True)
    assert len(errors) == MAX_UNKNOWN_REPORTED + 2
    assert errors[-2]["msg"] == f"{150_000 - MAX_UNKNOWN_REPORTED} more unknown features"
