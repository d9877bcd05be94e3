"""Acceptance simulations on the bundled datasets under the default rule."""

from __future__ import annotations

import numpy as np
import pytest

from champion.datasets import Dataset
from champion.drift import build_profile, check_drift
from champion.simulation.drift import make_traffic

RESAMPLES = 200


@pytest.mark.parametrize("name", ["titanic", "diamonds"])
def test_random_halves_do_not_alarm(name: str, request: pytest.FixtureRequest) -> None:
    ds: Dataset = request.getfixturevalue(name)
    s = ds.schema
    alarms = 0
    for seed in range(RESAMPLES):
        order = np.random.default_rng(seed).permutation(len(ds.frame))
        half = len(order) // 2
        profile = build_profile(ds.frame.iloc[order[:half]], s.numeric, s.categorical)
        alarms += check_drift(profile, ds.frame.iloc[order[half:]]).drifted
    # the family's level is 5 %; Binomial(200, 0.05) has sd 1.5 points
    assert alarms / RESAMPLES <= 0.05 + 2 * 0.0154, alarms


@pytest.mark.parametrize(
    ("name", "columns"), [("titanic", ("Age", "Fare")), ("diamonds", ("carat", "depth"))]
)
def test_small_shift_in_two_features_is_detected(
    name: str, columns: tuple[str, str], request: pytest.FixtureRequest
) -> None:
    ds: Dataset = request.getfixturevalue(name)
    profile = build_profile(ds.frame, ds.schema.numeric, ds.schema.categorical)
    detected = 0
    for seed in range(RESAMPLES):
        current = make_traffic(ds.frame, 5000, seed=seed, drift_cols=columns, shift_sd=0.3)
        result = check_drift(profile, current)
        detected += result.drifted and set(result.drifted_features) <= set(columns)
    assert detected / RESAMPLES >= 0.95, detected
