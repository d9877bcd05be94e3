"""The JSON guard's quick check agrees with its full walk on every value, and what its
byte bounds let through the walk would have let through too."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from champion.serving.middleware.json_guard import JsonLimits, _ByteBounds, _fine, _problem

LIMITS = JsonLimits(max_depth=4, max_keys=6, max_key_length=8)
SCALARS: list[Any] = [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 1.5, float("nan"),
    float("inf"), "", "ok", "é", "a\x00b", "\ud800", "x" * 300,
]  # fmt: skip
KEYS = ["a", "bb", "user_id", "features", "k" * 8, "k" * 9, "nul\x00", "é"]


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth > 6 or kind < 0.4:
        return rng.choice(SCALARS)
    if kind < 0.75:
        return {
            rng.choice(KEYS) + str(i % 2): _value(rng, depth + 1) for i in range(rng.randint(0, 8))
        }
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("seed", range(4))
def test_the_quick_check_passes_exactly_what_the_walk_finds_no_problem_in(seed: int) -> None:
    rng = random.Random(seed)
    values = [_value(rng, 0) for _ in range(2000)]
    verdicts = [(_fine(v, LIMITS), _problem(v, LIMITS) is None) for v in values]
    assert all(quick == walked for quick, walked in verdicts)
    # both outcomes occur, so the agreement is not one-sided
    assert 200 < sum(quick for quick, _ in verdicts) < 1800


@pytest.mark.parametrize(
    ("value", "fine"),
    [
        ({"features": {"a": 1, "b": "x"}, "user_id": "u1"}, True),
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, False),  # depth 5 > 4
        ({"a": {"b": {"c": {"d": 1}}}}, True),  # depth 4
        ({"features": {"a": "\x00"}}, False),
        ({"features": {"a": 2**63}}, False),
        ([1, [2, [3, [4, [5]]]]], False),
        ({str(i): i for i in range(7)}, False),  # 7 keys > 6
    ],
)
def test_the_quick_check_on_known_cases(value: Any, fine: bool) -> None:
    assert _fine(value, LIMITS) is fine
    assert (_problem(value, LIMITS) is None) is fine


def _bodies(rng: random.Random, n: int) -> list[bytes]:
    """JSON bodies of random values as different clients write them (ASCII escapes or
    raw UTF-8, spaces or none), and a few hand-made edges."""
    out = [
        b'{"a":"\\u0000"}', b'{"a":9223372036854775808}', b'{"a":-9223372036854775809}',
        b'{"kkkkkkkkk":1}', b'{"k\\"kkkkkkkk":1}', b'[[[[[1]]]]]', b'[[[[1]]]]',
        b'{"a":1,"a":2,"a":3,"a":4,"a":5,"a":6,"a":7}',
        b'{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1}',
        b'{"a":[],"b":{},"c":"","d":0,"e":0,"f":0}', b'{"\\u00e9\\u00e9\\u00e9":1}',
    ]  # fmt: skip
    while len(out) < n:
        value = _value(rng, 0)
        try:
            text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True,
                              separators=rng.choice([(",", ":"), (", ", ": ")]))  # fmt: skip
            out.append(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate written raw: no client sends that
            continue
    return out


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(
    "limits",
    [
        LIMITS,
        JsonLimits(max_depth=4, max_keys=1000, max_key_length=8),
        JsonLimits(max_depth=32, max_keys=6, max_key_length=256),
    ],
    ids=[
        "small",
        "many keys",
        "few keys, long ones",
    ],  # (a small max_keys bounds only the smallest bodies)
)
def test_what_the_byte_bounds_let_through_the_walk_finds_fine(
    seed: int, limits: JsonLimits
) -> None:
    rng = random.Random(seed)
    bounds = _ByteBounds(limits)
    passed = walked_only = 0
    for body in _bodies(rng, 2000):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue  # refused before the bounds are asked
        fine = _fine(value, limits)
        if bounds.within(body):
            passed += 1
            assert fine, body[:200]  # never lets through what the walk refuses
        elif fine:
            walked_only += 1
    # the bounds decide many bodies, and are conservative on others, so neither
    # side of the assertion is empty
    assert passed > 300 and walked_only > 100, (passed, walked_only)


def test_a_prediction_body_is_decided_by_its_bytes() -> None:
    body = orjson.dumps({"user_id": "u1", "features": {"Pclass": 3, "Sex": "male", "Age": 22.0}})
    assert _ByteBounds(JsonLimits()).within(body)
    assert not _ByteBounds(JsonLimits()).within(body.replace(b"male", b"\\u0000"))
