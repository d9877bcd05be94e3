"""Profile and detection: values by hand, rules, effect floors, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from champion.drift import (
    DriftConfig,
    ReferenceProfile,
    build_profile,
    check_drift,
    check_summary,
    detect_drift,
    summarize_frame,
)
from champion.errors import InvalidInputError
from champion.types import MISSING


def _psi(p: list[float], q: list[float], eps: float = 1e-4) -> float:
    pairs = [(max(a, eps), max(b, eps)) for a, b in zip(p, q, strict=True)]
    return sum((b - a) * math.log(b / a) for a, b in pairs)


def test_numeric_psi_uses_reference_quantile_bins() -> None:
    ref = pd.DataFrame({"x": np.arange(1.0, 11.0)})  # 1..10, 5 bins of 2 values
    cur = pd.DataFrame({"x": [1.0, 2.0, 3.0, 9.0, 10.0, 11.0, 12.0, 13.0]})
    result = detect_drift(ref, cur, ["x"], config=DriftConfig(bins=5))
    feat = result.feature("x")
    # edges 2.8, 4.6, 6.4, 8.2 -> current counts 2, 1, 0, 0, 5 of 8
    assert feat.current_shares == pytest.approx((0.25, 0.125, 0.0, 0.0, 0.625))
    assert feat.psi == pytest.approx(_psi([0.2] * 5, [0.25, 0.125, 0.0, 0.0, 0.625]), rel=1e-12)
    assert feat.bins[0] == "≤ 2.8" and feat.bins[-1] == "> 8.2"


def test_categorical_psi_counts_unseen_categories() -> None:
    ref = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    cur = pd.DataFrame({"c": ["a"] * 40 + ["b"] * 40 + ["c"] * 20})
    feat = detect_drift(ref, cur, [], ["c"]).feature("c")
    assert feat.bins == ("a", "b", "c")
    assert feat.psi == pytest.approx(_psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]), rel=1e-12)
    assert feat.drifted  # PSI ~1.5 > 0.2


def test_missing_values_form_their_own_bin() -> None:
    ref = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0, np.nan] * 20, "c": ["u", "v", None, "u", "v"] * 20}
    )
    cur = pd.DataFrame(
        {"x": [1.0, np.nan, np.nan, 4.0, np.nan] * 20, "c": ["u", None, None, None, "v"] * 20}
    )
    result = detect_drift(ref, cur, ["x"], ["c"], config=DriftConfig(bins=4))
    x, c = result.feature("x"), result.feature("c")
    assert x.bins[-1] == MISSING and c.bins[-1] == MISSING
    assert (x.missing_reference, x.missing_current) == pytest.approx((0.2, 0.6))
    assert c.missing_change == pytest.approx(0.4)
    assert x.drifted and c.drifted


def test_large_sample_negligible_shift_is_not_flagged() -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    ref = pd.DataFrame({"x": rng.normal(size=n)})
    cur = pd.DataFrame({"x": rng.normal(0.05, 1.0, size=n)})
    feat = detect_drift(ref, cur, ["x"]).feature("x")
    assert feat.p_value < 1e-8  # the test alone would alarm...
    assert feat.statistic < 0.05 and feat.psi < 0.01
    assert not feat.drifted  # ...but the effect is below the floor
    assert "negligible" in feat.reason


def test_rules_decide_and_say_why() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    ref = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["x0"] = cur["x0"] + 1.5  # one strongly drifted feature of four
    profile = build_profile(ref, list(ref.columns))

    any_rule = check_drift(profile, cur, DriftConfig(rule="any"))
    assert any_rule.drifted and any_rule.drifted_features == ("x0",)
    assert "1 of 4 features drifted (x0)" in any_rule.reason

    share = check_drift(profile, cur, DriftConfig(rule="share", share_threshold=0.5))
    assert not share.drifted and share.share_drifted == 0.25
    assert "0.25 < 0.5" in share.reason

    mean_psi = check_drift(profile, cur, DriftConfig(rule="mean_psi", drift_threshold=0.2))
    expected_mean = np.mean([f.psi for f in mean_psi.features])
    assert mean_psi.mean_psi == pytest.approx(expected_mean)
    assert mean_psi.drifted == (expected_mean > 0.2)
    low = check_drift(profile, cur, DriftConfig(rule="mean_psi", drift_threshold=expected_mean * 2))
    assert not low.drifted and "<=" in low.reason


def test_bonferroni_divides_the_check_level_over_features() -> None:
    ref = pd.DataFrame({f"x{i}": np.arange(100.0) for i in range(5)})
    result = detect_drift(ref, ref, list(ref.columns), config=DriftConfig(alpha=0.05))
    assert result.check is None and result.alpha_check == pytest.approx(0.05)
    assert result.alpha_per_feature == pytest.approx(0.01)
    plain = detect_drift(ref, ref, list(ref.columns), config=DriftConfig(correction="none"))
    assert plain.alpha_per_feature == 0.05 and not plain.drifted


def test_a_scheduled_check_spends_its_share_of_alpha() -> None:
    ref = pd.DataFrame({f"x{i}": np.arange(100.0) for i in range(4)})
    profile = build_profile(ref, list(ref.columns), [])
    summary = summarize_frame(profile, ref)
    s = sum(1.0 / (n * np.log(n) ** 2) for n in range(2, 10**6 + 1)) + 1 / np.log(1e6)
    for check in (1, 2, 24, 8760):
        result = check_summary(profile, summary, DriftConfig(alpha=0.05), check=check)
        share = 1.0 / (s * (check + 1) * np.log(check + 1) ** 2)
        assert result.check == check
        assert result.alpha_check == pytest.approx(0.05 * share, rel=1e-9)
        assert result.alpha_per_feature == pytest.approx(0.05 * share / 4, rel=1e-9)
    with pytest.raises(InvalidInputError, match="check must be at least 1"):
        check_summary(profile, summary, check=0)


def test_a_large_psi_alone_is_no_alarm_in_a_small_window() -> None:
    """PSI > 0.2 is common by chance in a 30-row window of a continuous feature: it is
    reported beside its no-drift level, and the test decides."""
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    profile = build_profile(ref, ["x"], [])
    large = 0
    for _ in range(200):
        result = check_drift(profile, pd.DataFrame({"x": rng.normal(size=30)}))
        feature = result.features[0]
        large += feature.psi > 0.2
        assert feature.psi_null is not None and feature.psi_null > 0.2
        assert not result.drifted or feature.p_value < result.alpha_per_feature
    drifted = sum(
        check_drift(profile, pd.DataFrame({"x": rng.normal(size=30)})).drifted for _ in range(200)
    )
    assert large > 60  # about half of such windows
    # the test's 5 %: Binomial(200, 0.05) has mean 10 and sd 3.1 (PSI alone: ~100)
    assert drifted <= 19


def test_a_missing_share_change_is_found_in_a_ks_feature() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(size=3000)})
    cur = pd.DataFrame({"x": np.where(rng.random(2000) < 0.3, np.nan, rng.normal(size=2000))})
    result = detect_drift(ref, cur, ["x"])
    feature = result.features[0]
    assert feature.test == "ks" and feature.statistic < 0.05  # the present values agree
    assert result.drifted and "PSI" in feature.reason


def test_a_discrete_numeric_is_tested_on_its_levels() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.poisson(3.0, size=4000).astype(float)})
    cur = pd.DataFrame({"x": rng.poisson(3.4, size=1500).astype(float)})
    result = detect_drift(ref, cur, ["x"])
    assert result.features[0].test == "chi2" and result.drifted


def test_profile_json_round_trip_gives_identical_results(titanic) -> None:
    s = titanic.schema
    profile = build_profile(titanic.frame, s.numeric, s.categorical, meta={"v": 1})
    restored = ReferenceProfile.from_json(profile.to_json())
    assert restored.features == profile.features and restored.meta == {"v": 1}
    cur = titanic.frame.sample(300, random_state=0)
    assert check_drift(profile, cur).to_dict() == check_drift(restored, cur).to_dict()


def test_large_reference_keeps_a_quantile_sketch_for_ks() -> None:
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"x": rng.normal(size=200_000)})
    profile = build_profile(ref, ["x"], ks_sample_size=10_000)
    num = profile.numeric[0]
    assert num.sample.size == 10_000 and num.n == 200_000 and not num.sample_is_full
    cur = pd.DataFrame({"x": rng.normal(0.1, 1.0, size=50_000)})
    full = detect_drift(ref, cur, ["x"]).feature("x").statistic
    sketched = check_drift(profile, cur).feature("x").statistic
    assert abs(full - sketched) <= 1 / 10_000 + 1e-12


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (pd.DataFrame({"y": [1.0]}), "no column(s) 'x'"),
        (pd.DataFrame({"x": []}, dtype=float), "no rows"),
        (
            pd.DataFrame({"x": ["1.5", "abc", "2"]}),
            "'x' of the current data must be numeric but holds 'abc' (row 2)",
        ),
    ],
)
def test_bad_current_data_is_named(current: pd.DataFrame, message: str) -> None:
    profile = build_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), ["x"])
    with pytest.raises(InvalidInputError) as info:
        check_drift(profile, current)
    assert message in str(info.value)


def test_numeric_strings_are_accepted() -> None:
    profile = build_profile(pd.DataFrame({"x": np.arange(50.0)}), ["x"])
    result = check_drift(profile, pd.DataFrame({"x": [str(v) for v in range(50)]}))
    assert result.feature("x").psi == pytest.approx(0.0, abs=1e-12)


def test_invalid_config_lists_every_problem() -> None:
    with pytest.raises(InvalidInputError) as info:
        DriftConfig(alpha=1.5, bins=1, rule="median")  # type: ignore[arg-type]
    text = str(info.value)
    assert "alpha must be in (0, 1)" in text and "bins must be at least 2" in text
    assert "rule must be one of" in text
