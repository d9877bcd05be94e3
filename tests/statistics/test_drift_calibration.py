"""Every per-feature test, under the null, rejects at about its nominal level.

One suite over every test implementation. The two-sample chi-square is compared with the
goodness-of-fit test against reference shares, which is what a naive pipeline runs and
which false-alarms far above its level because it treats the reference as exact.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from champion.drift import DriftConfig, build_profile, check_drift

ALPHA = 0.05
REPS = 400


def _numeric(rng: np.random.Generator, n: int) -> pd.Series:
    return pd.Series(rng.gamma(2.0, 3.0, size=n))


def _categorical(rng: np.random.Generator, n: int) -> pd.Series:
    levels = np.array([f"c{i}" for i in range(10)])
    shares = np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum()
    return pd.Series(levels[rng.choice(10, size=n, p=shares)])


GENERATORS: dict[str, tuple[str, Callable[[np.random.Generator, int], pd.Series]]] = {
    "ks": ("numeric", _numeric),
    "chi2": ("categorical", _categorical),
}


def _p_values(test: str, seed: int) -> np.ndarray:
    kind, gen = GENERATORS[test]
    rng = np.random.default_rng(seed)
    out = []
    config = DriftConfig(correction="none")
    for _ in range(REPS):
        ref = pd.DataFrame({"x": gen(rng, 300)})
        cur = pd.DataFrame({"x": gen(rng, 300)})
        numeric, categorical = (["x"], []) if kind == "numeric" else ([], ["x"])
        result = check_drift(build_profile(ref, numeric, categorical), cur, config)
        out.append(result.features[0].p_value)
    return np.array(out)


@pytest.mark.parametrize("test", sorted(GENERATORS))
def test_null_rejection_rate_is_nominal(test: str) -> None:
    p = _p_values(test, seed=7)
    rate = float(np.mean(p < ALPHA))
    # Binomial(400, 0.05): sd 1.1 points; KS on continuous data and chi-square are
    # at or slightly below their level.
    assert 0.015 <= rate <= 0.085, rate


def test_goodness_of_fit_against_reference_shares_false_alarms() -> None:
    """The naive test the contingency table replaces: far above its level on the same data."""
    rng = np.random.default_rng(11)
    naive = []
    for _ in range(REPS):
        ref = _categorical(rng, 300).value_counts().sort_index()
        cur = _categorical(rng, 300).value_counts().reindex(ref.index, fill_value=0)
        expected = ref / ref.sum() * cur.sum()
        naive.append(sps.chisquare(cur, expected).pvalue < ALPHA)
    assert float(np.mean(naive)) > 0.15
