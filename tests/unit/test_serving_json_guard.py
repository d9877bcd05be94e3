"""The JSON guard's quick check agrees with its full walk on every value."""

from __future__ import annotations

import random
from typing import Any

import pytest

from champion.serving.middleware.json_guard import JsonLimits, _fine, _problem

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
