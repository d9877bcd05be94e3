"""The demo's scenarios: a shift is a selection of real rows (no row repeats, each keeps
its target unless the concept changes), strong enough to see and of the stated size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from champion.errors import InvalidInputError
from champion.simulation.scenarios import (
    REGRESSION_FACTOR,
    Scenario,
    segment_of,
    tilt_weights,
    world_of,
)
from champion.types import Task


def _pool(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=n)  # heavy tail: the tilt works on ranks
    colour = rng.choice(["red", "green", "blue"], size=n, p=[0.8, 0.15, 0.05])
    return pd.DataFrame({"id": np.arange(n), "x": x, "colour": colour, "y": (x > 1.5).astype(int)})


def _world(scenario: Scenario, pool: pd.DataFrame, cols=("x",), task=Task.CLASSIFICATION):
    return world_of(scenario, pool, drift_cols=cols, strength=1.0, target="y", task=task)


def test_numeric_tilt_moves_the_normal_scores_by_its_strength() -> None:
    pool = _pool()
    rows = _world(Scenario.COVARIATE_SHIFT, pool).sample(pool, 1000, seed=1)
    assert rows["id"].is_unique  # a selection: no row twice
    # normal scores of the chosen rows' ranks in the pool
    ranks = pool["x"].rank(pct=True).to_numpy()
    z = stats.norm.ppf((ranks * len(pool) - 0.5) / len(pool))
    chosen = z[rows["id"].to_numpy()]
    # a 1-SD tilt of N(0, 1) drawn without replacement (1000 of 4000) moves the mean
    # less than 1 (the heaviest rows run out); it must be clearly positive and below 1
    assert 0.6 < chosen.mean() < 1.0
    assert stats.ks_2samp(rows["x"], pool["x"]).pvalue < 1e-10


def test_categorical_tilt_evens_the_categories_out() -> None:
    pool = _pool()
    weights = tilt_weights(pool, ["colour"], 1.0)
    total = pd.Series(weights).groupby(pool["colour"].to_numpy()).sum()
    assert total.max() / total.min() == pytest.approx(1.0)  # every category equally likely
    rows = _world(Scenario.COVARIATE_SHIFT, pool, cols=("colour",)).sample(pool, 600, seed=2)
    assert (rows["colour"] == "blue").mean() > 0.2  # 5 % in the pool


def test_covariate_shift_keeps_every_target_concept_shift_flips_the_segment() -> None:
    pool = _pool()
    covariate = _world(Scenario.COVARIATE_SHIFT, pool).sample(pool, 800, seed=3)
    original = pool.set_index("id").loc[covariate["id"], "y"].to_numpy()
    assert (covariate["y"].to_numpy() == original).all()

    world = _world(Scenario.CONCEPT_SHIFT, pool)
    assert world.segment == segment_of(pool, "x")
    assert world.segment.above == pytest.approx(np.quantile(pool["x"], 0.75))
    concept = world.sample(pool, 800, seed=3)
    original = pool.set_index("id").loc[concept["id"], "y"].to_numpy()
    inside = concept["x"].to_numpy() > world.segment.above
    assert inside.mean() > 0.25  # the shift makes the segment common
    assert (concept["y"].to_numpy()[inside] == 1 - original[inside]).all()  # two classes swap
    assert (concept["y"].to_numpy()[~inside] == original[~inside]).all()


def test_regression_concept_shift_scales_the_segment() -> None:
    pool = _pool().assign(y=lambda f: f["x"] * 10.0)
    world = _world(Scenario.CONCEPT_SHIFT, pool, task=Task.REGRESSION)
    rows = world.sample(pool, 500, seed=4)
    inside = rows["x"].to_numpy() > world.segment.above
    np.testing.assert_allclose(rows["y"][inside], rows["x"][inside] * 10.0 * REGRESSION_FACTOR)
    np.testing.assert_allclose(rows["y"][~inside], rows["x"][~inside] * 10.0)


def test_no_drift_is_a_uniform_draw_and_sizes_are_checked() -> None:
    pool = _pool()
    world = _world(Scenario.NO_DRIFT, pool)
    rows = world.sample(pool, 2000, seed=5)
    assert rows["id"].is_unique
    assert stats.ks_2samp(rows["x"], pool["x"]).pvalue > 0.001
    assert world.describe().startswith("no drift")
    with pytest.raises(InvalidInputError, match="cannot draw 4001 distinct rows"):
        world.sample(pool, 4001, seed=0)
    with pytest.raises(InvalidInputError, match="at least one drift column"):
        world_of(Scenario.NO_DRIFT, pool, drift_cols=(), strength=1.0, target="y", task=None)


def test_a_weighted_draw_is_shuffled() -> None:
    """The heaviest rows must not come first: every stretch of a window looks alike."""
    pool = _pool()
    rows = _world(Scenario.COVARIATE_SHIFT, pool).sample(pool, 1000, seed=6)
    first, last = rows["x"].iloc[:500], rows["x"].iloc[500:]
    assert stats.ks_2samp(first, last).pvalue > 0.001
