"""Which variant answers: sticky per user in hash mode, the configured share, shadow and
off, and the hash itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from champion.serving.assignment import Route, route, unit_hash
from champion.types import ABMode, Variant


def _route(mode: ABMode, user: str | None, request: str, split_b: float = 0.3, **kw) -> Route:
    return route(
        mode=mode,
        split_b=split_b,
        experiment_id=kw.get("experiment", "exp-1"),
        user_id=user,
        request_id=request,
        has_challenger=kw.get("has_challenger", True),
    )


def test_unit_hash_is_stable_and_uniform() -> None:
    assert unit_hash("exp-1:u1") == unit_hash("exp-1:u1") != unit_hash("exp-2:u1")
    values = np.array([unit_hash(f"k{i}") for i in range(20_000)])
    assert values.min() >= 0 and values.max() < 1
    assert sps.kstest(values, "uniform").pvalue > 0.01


def test_hash_mode_keeps_a_user_on_one_variant_with_the_configured_share() -> None:
    users = [f"user-{i}" for i in range(5000)]
    first = {u: _route(ABMode.HASH, u, f"r-{u}-1").variant for u in users}
    again = {u: _route(ABMode.HASH, u, f"r-{u}-2").variant for u in users}
    assert first == again  # sticky: the request id does not matter
    share = np.mean([v == Variant.B for v in first.values()])
    assert sps.binomtest(int(share * 5000), 5000, 0.3).pvalue > 0.01
    other = {u: _route(ABMode.HASH, u, "r", experiment="exp-2").variant for u in users}
    assert other != first  # a new experiment reshuffles


def test_without_a_user_id_or_in_random_mode_each_request_is_drawn() -> None:
    for mode, user in ((ABMode.HASH, None), (ABMode.RANDOM, "same-user")):
        variants = [_route(mode, user, f"req-{i}").variant for i in range(5000)]
        b = sum(v == Variant.B for v in variants)
        assert sps.binomtest(b, 5000, 0.3).pvalue > 0.01 and 0 < b < 5000


@pytest.mark.parametrize(
    ("mode", "has_challenger", "expected"),
    [
        (ABMode.SHADOW, True, Route(Variant.A, True)),
        (ABMode.OFF, True, Route(Variant.A, False)),
        (ABMode.HASH, False, Route(Variant.A, False)),
        (ABMode.SHADOW, False, Route(Variant.A, False)),
    ],
)
def test_shadow_off_and_no_challenger_answer_with_the_champion(
    mode: ABMode, has_challenger: bool, expected: Route
) -> None:
    for i in range(50):
        assert (
            _route(mode, f"u{i}", f"r{i}", split_b=1.0, has_challenger=has_challenger) == expected
        )


def test_split_zero_and_one_route_everyone_to_one_arm() -> None:
    assert {_route(ABMode.RANDOM, None, f"r{i}", split_b=0.0).variant for i in range(200)} == {
        Variant.A
    }
    assert {_route(ABMode.RANDOM, None, f"r{i}", split_b=1.0).variant for i in range(200)} == {
        Variant.B
    }
