"""The vocabulary: members are their strings, a bad string is one clear error."""

from __future__ import annotations

import json

import pytest

from champion.errors import ChampionError, InvalidInputError
from champion.types import ABMode, Action, Alias, Task, Variant, parse


def test_members_are_their_strings() -> None:
    assert Alias.CHAMPION == "champion" and f"{Alias.CHALLENGER}" == "challenger"
    assert {"champion": 1}[Alias.CHAMPION] == 1  # dicts keyed by strings find members
    assert json.dumps({Variant.A: ABMode.SHADOW}) == '{"A": "shadow"}'
    assert Task("regression") is Task.REGRESSION


def test_parse_names_the_option_and_the_allowed_values() -> None:
    assert parse(ABMode, "random", "--mode") is ABMode.RANDOM
    with pytest.raises(InvalidInputError) as info:
        parse(ABMode, "sideways", "--mode")
    assert str(info.value) == "--mode must be one of hash, random, shadow, off, got 'sideways'"
    assert isinstance(info.value, ValueError) and isinstance(info.value, ChampionError)


def test_which_decisions_conclude_and_which_modes_run_experiments() -> None:
    assert [a for a in Action if a.concludes] == [Action.PROMOTE, Action.REJECT]
    assert ABMode.OFF not in ABMode.experiments() and len(ABMode.experiments()) == 3
