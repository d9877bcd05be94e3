"""Per-feature drift statistics and the dataset verdict.

A feature has drifted when

* its PSI is above ``psi_threshold`` (a large shift, whatever the sample size), or
* its test rejects — KS for numerics, chi-square for categoricals — at level ``alpha``
  (Bonferroni-corrected over the monitored features by default) **and** its effect size
  reaches a floor: KS statistic >= ``ks_floor`` for numerics, PSI >= ``psi_floor`` for
  categoricals. With a million rows a p-value is tiny for a shift nobody cares about;
  the floor keeps such shifts from raising an alarm.

The dataset verdict follows one rule:

* ``any`` (default): at least one feature has drifted;
* ``mean_psi``: the mean PSI over the monitored features is above ``drift_threshold``
  (the rule of the original pipeline);
* ``share``: at least ``share_threshold`` of the features have drifted.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from champion.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from champion.drift.stats import PSI_EPS, chi_square_test, ks_test, ks_test_grid, psi
from champion.drift.window import (
    CategoricalWindow,
    NumericWindow,
    WindowSummary,
    ks_grid,
    summarize_frame,
)
from champion.errors import InvalidInputError
from champion.types import MISSING, Correction, DriftRule

#: Categories shown per feature in charts (the rest are summed into "(other)").
MAX_LEVELS_SHOWN = 30


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the drift check; each name says its direction."""

    rule: DriftRule = DriftRule.ANY
    alpha: float = 0.05  # p-value below this rejects (before correction)
    psi_threshold: float = 0.2  # feature PSI above this is drift
    drift_threshold: float = 0.2  # rule mean_psi: mean PSI above this is drift
    share_threshold: float = 0.5  # rule share: share of drifted features at or above this
    ks_floor: float = 0.05  # KS statistic below this never flags a numeric feature
    psi_floor: float = 0.02  # PSI below this never flags a categorical feature
    correction: Correction = Correction.BONFERRONI
    bins: int = 10
    eps: float = PSI_EPS

    def __post_init__(self) -> None:
        problems = []
        if self.rule in tuple(DriftRule):  # a plain string of a member becomes the member
            object.__setattr__(self, "rule", DriftRule(self.rule))
        else:
            allowed = ", ".join(DriftRule)
            problems.append(f"rule must be one of {allowed}, got {self.rule!r}")
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be in (0, 1), got {self.alpha}")
        for name in ("psi_threshold", "drift_threshold"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.share_threshold <= 1:
            problems.append(f"share_threshold must be in (0, 1], got {self.share_threshold}")
        if not 0 <= self.ks_floor <= 1:
            problems.append(f"ks_floor must be in [0, 1], got {self.ks_floor}")
        if self.psi_floor < 0:
            problems.append(f"psi_floor must be >= 0, got {self.psi_floor}")
        if self.correction in tuple(Correction):
            object.__setattr__(self, "correction", Correction(self.correction))
        else:
            problems.append(f"correction must be bonferroni or none, got {self.correction!r}")
        if self.bins < 2:
            problems.append(f"bins must be at least 2, got {self.bins}")
        if not 0 < self.eps < 0.01:
            problems.append(f"eps must be in (0, 0.01), got {self.eps}")
        if problems:
            raise InvalidInputError("invalid drift configuration: " + "; ".join(problems))


@dataclass(frozen=True)
class FeatureDrift:
    """Drift statistics of one feature against the reference."""

    feature: str
    kind: Literal["numeric", "categorical"]
    n_reference: int
    n_current: int
    psi: float
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    missing_reference: float  # share of missing values
    missing_current: float
    drifted: bool
    reason: str
    bins: tuple[str, ...]  # chart: bin or category labels
    reference_shares: tuple[float, ...]
    current_shares: tuple[float, ...]
    mean_reference: float | None = None
    mean_current: float | None = None

    @property
    def missing_change(self) -> float:
        return self.missing_current - self.missing_reference


@dataclass(frozen=True)
class DriftResult:
    """Dataset verdict plus the per-feature results it was drawn from."""

    drifted: bool
    rule: DriftRule
    reason: str
    mean_psi: float
    n_drifted: int
    share_drifted: float
    alpha_per_feature: float
    n_reference: int
    n_current: int
    features: tuple[FeatureDrift, ...]
    config: DriftConfig

    @property
    def drifted_features(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.drifted)

    def feature(self, name: str) -> FeatureDrift:
        for item in self.features:
            if item.feature == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drifted_features"] = list(self.drifted_features)
        for item in data["features"]:
            item["missing_change"] = item["missing_current"] - item["missing_reference"]
        return data


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _numeric_labels(edges: np.ndarray) -> list[str]:
    if edges.size == 0:
        return ["all"]
    labels = [f"≤ {_fmt(edges[0])}"]
    labels += [f"({_fmt(lo)}, {_fmt(hi)}]" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"> {_fmt(edges[-1])}")
    return labels


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c / total) for c in counts) if total else tuple(0.0 for _ in counts)


def _ks(ref: NumericProfile, win: NumericWindow) -> tuple[float, float]:
    if not win.present:  # every current value is missing: the missing bin carries the PSI
        return 1.0, 0.0
    if win.values is not None:
        test = ks_test(ref.sample, win.values)
    elif win.below is not None:
        test = ks_test_grid(ref.sample, ks_grid(ref), win.below, win.present)
    else:
        raise InvalidInputError(f"the window of {ref.name!r} has neither values nor a KS grid")
    return test.statistic, test.p_value


def _numeric_stats(ref: NumericProfile, win: NumericWindow, eps: float) -> dict[str, Any]:
    ref_counts, cur_counts = ref.counts, np.asarray(win.counts, dtype=np.int64)
    labels = _numeric_labels(ref.edges)
    if ref.missing or win.missing:
        ref_counts = np.append(ref_counts, ref.missing)
        cur_counts = np.append(cur_counts, win.missing)
        labels.append(MISSING)
    statistic, p_value = _ks(ref, win)
    return {
        "kind": "numeric",
        "n_reference": ref.n + ref.missing,
        "n_current": win.rows,
        "psi": psi(ref_counts, cur_counts, eps),
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "missing_reference": ref.missing / (ref.n + ref.missing),
        "missing_current": win.missing / win.rows,
        "bins": tuple(labels),
        "reference_shares": _shares(ref_counts),
        "current_shares": _shares(cur_counts),
        "mean_reference": ref.mean,
        "mean_current": win.mean,
    }


def _categorical_stats(
    ref: CategoricalProfile, win: CategoricalWindow, eps: float
) -> dict[str, Any]:
    cur = win.counts
    # Union of levels, reference order by decreasing share, then unseen levels.
    levels = sorted(ref.counts, key=lambda k: -ref.counts[k])
    levels += sorted(k for k in cur if k not in ref.counts)
    ref_counts = np.array([ref.counts.get(k, 0) for k in levels], dtype=np.int64)
    cur_counts = np.array([cur.get(k, 0) for k in levels], dtype=np.int64)
    test = chi_square_test(ref_counts, cur_counts)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    shown_ref, shown_cur, shown = ref_counts, cur_counts, levels
    if len(levels) > MAX_LEVELS_SHOWN:
        cut = MAX_LEVELS_SHOWN - 1
        shown = [*levels[:cut], "(other)"]
        shown_ref = np.append(ref_counts[:cut], ref_counts[cut:].sum())
        shown_cur = np.append(cur_counts[:cut], cur_counts[cut:].sum())
    return {
        "kind": "categorical",
        "n_reference": n_ref,
        "n_current": n_cur,
        "psi": psi(ref_counts, cur_counts, eps),
        "test": "chi2",
        "statistic": test.statistic,
        "p_value": test.p_value,
        "missing_reference": ref.counts.get(MISSING, 0) / n_ref,
        "missing_current": cur.get(MISSING, 0) / n_cur,
        "bins": tuple(shown),
        "reference_shares": _shares(shown_ref),
        "current_shares": _shares(shown_cur),
    }


def _decide(stats: dict[str, Any], config: DriftConfig, alpha: float) -> tuple[bool, str]:
    value, p = stats["psi"], stats["p_value"]
    test = "KS" if stats["test"] == "ks" else "chi-square"
    if value > config.psi_threshold:
        return True, f"PSI {value:.3f} > psi_threshold {config.psi_threshold:g}"
    if stats["kind"] == "numeric":
        effect, floor, effect_name = stats["statistic"], config.ks_floor, "KS statistic"
    else:
        effect, floor, effect_name = value, config.psi_floor, "PSI"
    if p < alpha:
        if effect >= floor:
            return True, (
                f"{test} p={p:.2g} < {alpha:.3g} and {effect_name} {effect:.3f} >= floor {floor:g}"
            )
        return False, (
            f"{test} p={p:.2g} < {alpha:.3g} but {effect_name} {effect:.3f} < floor {floor:g}: "
            "negligible shift"
        )
    return False, f"PSI {value:.3f} <= {config.psi_threshold:g} and {test} p={p:.2g} >= {alpha:.3g}"


def check_drift(
    profile: ReferenceProfile, current: pd.DataFrame, config: DriftConfig | None = None
) -> DriftResult:
    """Compare ``current`` with the reference ``profile`` and draw the verdict."""
    config = config or DriftConfig()
    if current.empty:
        raise InvalidInputError("the current data has no rows")
    absent = [name for name in profile.features if name not in current.columns]
    if absent:
        raise InvalidInputError(
            f"current data has no column(s) {', '.join(map(repr, absent))} that the reference "
            "monitors; add them or choose the monitored features with --features"
        )
    return check_summary(profile, summarize_frame(profile, current), config)


def check_summary(
    profile: ReferenceProfile, summary: WindowSummary, config: DriftConfig | None = None
) -> DriftResult:
    """The verdict from a window's counts (:mod:`champion.drift.window`)."""
    config = config or DriftConfig()
    if summary.rows == 0:
        raise InvalidInputError("the current data has no rows")
    n_features = len(profile.features)
    alpha = (
        config.alpha / n_features if config.correction == Correction.BONFERRONI else config.alpha
    )
    numeric = {w.name: w for w in summary.numeric}
    categorical = {w.name: w for w in summary.categorical}
    per_feature = [
        {"feature": p.name, **_numeric_stats(p, numeric[p.name], config.eps)}
        for p in profile.numeric
    ] + [
        {"feature": p.name, **_categorical_stats(p, categorical[p.name], config.eps)}
        for p in profile.categorical
    ]
    results = []
    for stats in per_feature:
        drifted, reason = _decide(stats, config, alpha)
        results.append(FeatureDrift(drifted=drifted, reason=reason, **stats))

    mean_psi = float(np.mean([f.psi for f in results]))
    drifted_names = [f.feature for f in results if f.drifted]
    share = len(drifted_names) / n_features
    listed = ", ".join(drifted_names) or "none"
    if config.rule == DriftRule.ANY:
        verdict = bool(drifted_names)
        reason = f"{len(drifted_names)} of {n_features} features drifted ({listed}); rule any"
    elif config.rule == DriftRule.MEAN_PSI:
        verdict = mean_psi > config.drift_threshold
        sign = ">" if verdict else "<="
        reason = f"mean PSI {mean_psi:.3f} {sign} drift_threshold {config.drift_threshold:g}"
    else:
        verdict = share >= config.share_threshold
        sign = ">=" if verdict else "<"
        reason = (
            f"{len(drifted_names)} of {n_features} features drifted ({listed}): share "
            f"{share:.2f} {sign} {config.share_threshold:g}; rule share"
        )
    return DriftResult(
        drifted=verdict,
        rule=config.rule,
        reason=reason,
        mean_psi=mean_psi,
        n_drifted=len(drifted_names),
        share_drifted=share,
        alpha_per_feature=alpha,
        n_reference=profile.n_rows,
        n_current=summary.rows,
        features=tuple(results),
        config=config,
    )


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str] | tuple[str, ...],
    categorical: list[str] | tuple[str, ...] = (),
    config: DriftConfig | None = None,
) -> DriftResult:
    """Profile ``reference`` and check ``current`` against it in one call."""
    config = config or DriftConfig()
    profile = build_profile(reference, numeric, categorical, bins=config.bins)
    return check_drift(profile, current, config)
