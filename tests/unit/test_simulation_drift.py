from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from champion.errors import InvalidInputError
from champion.simulation.drift import (
    make_traffic,
    reweight_categories,
    router_drift,
    sample_rows,
    shift_numeric,
)


def test_sampling_is_seeded(titanic) -> None:
    a = sample_rows(titanic.frame, 500, seed=3)
    b = sample_rows(titanic.frame, 500, seed=3)
    c = sample_rows(titanic.frame, 500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert len(sample_rows(titanic.frame, 2000, seed=1)) == 2000  # with replacement


def test_router_drift_numeric_half_rows_scaled(titanic) -> None:
    base = titanic.frame.dropna(subset=["Age"]).reset_index(drop=True)
    base = pd.concat([base] * 10, ignore_index=True)  # 7140 rows
    drifted = router_drift(base, ["Age"], seed=0)
    ratio = drifted["Age"].to_numpy() / base["Age"].to_numpy()
    changed = ~np.isclose(ratio, 1.0)
    assert 0.47 < changed.mean() < 0.53
    assert ratio[changed].min() >= 0.1 and ratio[changed].max() <= 2.0
    assert abs(ratio[changed].mean() - 1.05) < 0.03  # mean of U(0.1, 2.0)
    pd.testing.assert_series_equal(drifted["Fare"], base["Fare"])  # other columns untouched


def test_router_drift_categorical_is_uniform(titanic) -> None:
    base = pd.concat([titanic.frame] * 10, ignore_index=True)
    shares = router_drift(base, ["Embarked"], seed=1)["Embarked"].value_counts(normalize=True)
    assert set(shares.index) == {"S", "C", "Q"}
    assert np.allclose(shares.to_numpy(), 1 / 3, atol=0.02)


def test_shift_numeric_moves_mean_by_k_sd(diamonds) -> None:
    frame = diamonds.frame
    shifted = shift_numeric(frame, ["carat"], 0.3)
    assert shifted["carat"].mean() - frame["carat"].mean() == pytest.approx(
        0.3 * np.std(frame["carat"])
    )
    with pytest.raises(InvalidInputError, match="not numeric"):
        shift_numeric(frame, ["cut"], 0.3)


def test_reweight_categories_changes_shares(titanic) -> None:
    out = reweight_categories(titanic.frame, "Sex", {"female": 3.0}, seed=2, n=20_000)
    female = (titanic.frame["Sex"] == "female").mean()
    expected = 3 * female / (3 * female + (1 - female))
    assert (out["Sex"] == "female").mean() == pytest.approx(expected, abs=0.015)


def test_make_traffic_and_errors(titanic) -> None:
    rows = make_traffic(titanic.frame, 300, seed=5, drift_cols=["Age", "Sex"], shift_sd=1.0)
    assert len(rows) == 300
    with pytest.raises(InvalidInputError, match="unknown drift column"):
        make_traffic(titanic.frame, 10, seed=0, drift_cols=["Cabin"])
    with pytest.raises(InvalidInputError, match="must be positive"):
        sample_rows(titanic.frame, 0, seed=0)
