"""Per-feature drift statistics and the dataset verdict.

A feature has drifted when

* its test rejects at this check's level — KS for continuous numerics; chi-square for
  categoricals and for numerics with few distinct values (``DISCRETE_LEVELS``: KS is
  conservative under ties and loses power), levels with small expected counts pooled
  so the chi-square's tail holds — Bonferroni-corrected over the monitored features by
  default, **and**
* its effect size reaches a floor: KS statistic >= ``ks_floor`` for numerics tested by
  KS, PSI >= ``psi_floor`` otherwise. With a million rows a p-value is tiny for a shift
  nobody cares about; the floor keeps such shifts from raising an alarm.

PSI is reported beside the PSI a window of this size shows 95 % of the time without
drift (a 50-row window of a continuous feature shows PSI > 0.2 by chance about half the
time); a PSI above ``psi_threshold`` marks a shift as large but raises no alarm without
the test. A one-off check tests at ``alpha``; the ``j``-th check of a scheduled series
at ``alpha * w(j)`` (:mod:`champion.drift.lifetime`), so that the chance of a false
alarm over a reference's whole life is at most ``alpha``.

The dataset verdict follows one rule:

* ``any`` (default): at least one feature has drifted;
* ``mean_psi``: the mean PSI over the monitored features is above ``drift_threshold``
  (the rule of the original pipeline) and at least one feature's test rejects;
* ``share``: at least ``share_threshold`` of the features have drifted.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from champion.drift.joint import JointDrift, JointTest, judge_joint
from champion.drift.lifetime import spending
from champion.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from champion.drift.stats import (
    PSI_EPS,
    chi_square_pooled,
    ks_test,
    ks_test_grid,
    missing_share_test,
    psi,
)
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
#: Windows drawn to find the PSI a window of a given size shows without drift.
PSI_NULL_DRAWS = 400
#: A numeric feature with at most this many distinct reference values is tested by
#: chi-square on its bins (which are then its values, or nearly) instead of KS.
DISCRETE_LEVELS = 30
#: Smallest expected count per cell of a chi-square test; rarer levels are pooled.
MIN_EXPECTED = 5.0


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
    seed: int = 0  # the draws behind the reported no-drift PSI level
    auc_floor: float = 0.55  # a joint-drift classifier AUC below this never flags

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
        if not 0.5 <= self.auc_floor < 1:
            problems.append(f"auc_floor must be in [0.5, 1), got {self.auc_floor}")
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
    test: Literal["ks", "chi2"]  # numerics with few distinct values: chi2 on their bins
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
    psi_null: float | None = None  # PSI a window this size shows 95 % of the time anyway

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
    check: int | None = None  # its place in the reference's scheduled checks (None: one-off)
    alpha_check: float = 0.0  # the level of this check (alpha, or its share of it)
    min_rows: int = 0  # fewer rows than this cannot show even a large shift at this level
    joint: JointDrift | None = None  # the classifier two-sample check, when it ran

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
    if not win.present or not ref.n:  # no values on one side: only missingness to test
        return 0.0, 1.0
    if win.values is not None:
        test = ks_test(ref.sample, win.values)
    elif win.below is not None:
        test = ks_test_grid(ref.sample, ks_grid(ref), win.below, win.present)
    else:
        raise InvalidInputError(f"the window of {ref.name!r} has neither values nor a KS grid")
    return test.statistic, test.p_value


def _numeric_test(
    ref: NumericProfile, win: NumericWindow, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> tuple[str, float, float]:
    """(test, statistic, p-value) of one numeric feature: chi-square on the bins for a
    feature with few distinct values, otherwise KS on the values and, when values are
    missing on either side, a test of the missing share (the smaller p-value, doubled)."""
    if np.unique(ref.sample).size <= DISCRETE_LEVELS:
        test = chi_square_pooled(ref_counts, cur_counts, MIN_EXPECTED)
        return "chi2", test.statistic, test.p_value
    statistic, p_value = _ks(ref, win)
    if ref.missing or win.missing:
        missing = missing_share_test(ref.missing, ref.n + ref.missing, win.missing, win.rows)
        p_value = min(1.0, 2 * min(p_value, missing))
    return "ks", statistic, p_value


def _numeric_stats(ref: NumericProfile, win: NumericWindow, eps: float) -> dict[str, Any]:
    ref_counts, cur_counts = ref.counts, np.asarray(win.counts, dtype=np.int64)
    labels = _numeric_labels(ref.edges)
    if ref.missing or win.missing:
        ref_counts = np.append(ref_counts, ref.missing)
        cur_counts = np.append(cur_counts, win.missing)
        labels.append(MISSING)
    test, statistic, p_value = _numeric_test(ref, win, ref_counts, cur_counts)
    return {
        "kind": "numeric",
        "n_reference": ref.n + ref.missing,
        "n_current": win.rows,
        "psi": psi(ref_counts, cur_counts, eps),
        "test": test,
        "statistic": statistic,
        "p_value": p_value,
        "missing_reference": ref.missing / (ref.n + ref.missing),
        "missing_current": win.missing / win.rows,
        "bins": tuple(labels),
        "reference_shares": _shares(ref_counts),
        "current_shares": _shares(cur_counts),
        "mean_reference": ref.mean,
        "mean_current": win.mean,
        "null_counts": ref_counts,
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
    by_name = np.argsort(np.array(levels, dtype=object).astype(str), kind="stable")
    test = chi_square_pooled(ref_counts[by_name], cur_counts[by_name], MIN_EXPECTED)
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
        "null_counts": ref_counts,
    }


@functools.lru_cache(maxsize=256)  # a schedule checks one reference at one size
def _psi_null(reference: tuple[int, ...], n: int, eps: float, seed: int) -> float:
    """The 95th percentile of the PSI of ``n``-row windows drawn from the reference's
    own shares: what a window this size shows without any drift."""
    ref = np.asarray(reference, dtype=np.float64)
    shares = ref / ref.sum()
    rng = np.random.default_rng([seed, n])
    draws = rng.multinomial(n, shares, size=PSI_NULL_DRAWS) / n
    p, q = np.maximum(shares, eps), np.maximum(draws, eps)
    return float(np.quantile(np.sum((q - p) * np.log(q / p), axis=1), 0.95))


def _decide(stats: dict[str, Any], config: DriftConfig, alpha: float) -> tuple[bool, str]:
    value, p = stats["psi"], stats["p_value"]
    test = "KS" if stats["test"] == "ks" else "chi-square"
    shown = f"PSI {value:.3f} (no drift: <= {stats['psi_null']:.3f} at {stats['n_current']} rows"
    shown += " 95 % of the time)"
    if p >= alpha:
        return False, f"{test} p={p:.2g} >= {alpha:.3g}; {shown}"
    if stats["test"] == "ks":
        effect, floor, effect_name = stats["statistic"], config.ks_floor, "KS statistic"
        if effect < floor and value >= config.psi_floor:  # a change in missingness
            effect, floor, effect_name = value, config.psi_floor, "PSI"
    else:
        effect, floor, effect_name = value, config.psi_floor, "PSI"
    if effect < floor:
        return False, (
            f"{test} p={p:.2g} < {alpha:.3g} but {effect_name} {effect:.3f} < floor {floor:g}: "
            "negligible shift"
        )
    large = f"; large: PSI above psi_threshold {config.psi_threshold:g}"
    return True, (
        f"{test} p={p:.2g} < {alpha:.3g} and {effect_name} {effect:.3f} >= floor {floor:g}; "
        f"{shown}{large if value > config.psi_threshold else ''}"
    )


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


#: The shift the smallest useful window must be able to show: KS statistic 0.5 (half of
#: a feature's distribution moved past the other half).
LARGE_SHIFT_KS = 0.5


def smallest_window(n_reference: int, alpha: float) -> int:
    """The fewest rows with which a window could show even a large shift (KS statistic
    ``LARGE_SHIFT_KS``) against ``n_reference`` rows at level ``alpha``: the effective
    size at which the KS tail ``2 exp(-2 n D^2)`` falls below ``alpha``."""
    n_eff = np.log(2.0 / alpha) / (2.0 * LARGE_SHIFT_KS**2)
    if n_eff >= n_reference:  # even an endless window cannot: the reference is too small
        return 1 << 30
    return int(np.ceil(n_eff * n_reference / (n_reference - n_eff)))


def _verdict(
    results: list[FeatureDrift], config: DriftConfig, alpha: float, rows: int, min_rows: int,
    joint: JointDrift | None,
) -> tuple[bool, str]:  # fmt: skip
    n_features = len(results)
    drifted_names = [f.feature for f in results if f.drifted]
    if joint is not None and joint.drifted:
        drifted_names.append("(joint)")
    listed = ", ".join(drifted_names) or "none"
    too_few = (
        f"; {rows} rows are too few to show even a large shift at this check's level "
        f"(at least {min_rows})"
        if rows < min_rows
        else ""
    )
    if config.rule == DriftRule.ANY:
        verdict = bool(drifted_names)
        reason = f"{len(drifted_names)} of {n_features} features drifted ({listed}); rule any"
    elif config.rule == DriftRule.MEAN_PSI:
        mean_psi = float(np.mean([f.psi for f in results]))
        rejected = any(f.p_value < alpha for f in results) or bool(joint and joint.drifted)
        verdict = mean_psi > config.drift_threshold and rejected
        sign = ">" if mean_psi > config.drift_threshold else "<="
        reason = f"mean PSI {mean_psi:.3f} {sign} drift_threshold {config.drift_threshold:g}"
        if mean_psi > config.drift_threshold and not rejected:
            reason += " but no feature's test rejects (within the chance of this window size)"
    else:
        share = len(drifted_names) / n_features
        verdict = share >= config.share_threshold
        sign = ">=" if verdict else "<"
        reason = (
            f"{len(drifted_names)} of {n_features} features drifted ({listed}): share "
            f"{share:.2f} {sign} {config.share_threshold:g}; rule share"
        )
    return verdict, reason + too_few


#: the model's score, checked as one more column against its early live distribution
SCORE = "(model score)"


def _family(
    profile: ReferenceProfile, summary: WindowSummary, config: DriftConfig,
    score: tuple[NumericProfile, NumericWindow] | None,
) -> list[dict[str, Any]]:  # fmt: skip
    numeric = {w.name: w for w in summary.numeric}
    categorical = {w.name: w for w in summary.categorical}
    stats = [
        {"feature": p.name, **_numeric_stats(p, numeric[p.name], config.eps)}
        for p in profile.numeric
    ] + [
        {"feature": p.name, **_categorical_stats(p, categorical[p.name], config.eps)}
        for p in profile.categorical
    ]
    if score is not None:
        stats.append({"feature": SCORE, **_numeric_stats(*score, config.eps)})
    return stats


def check_summary(
    profile: ReferenceProfile,
    summary: WindowSummary,
    config: DriftConfig | None = None,
    *,
    check: int | None = None,
    score: tuple[NumericProfile, NumericWindow] | None = None,
    joint: JointTest | None = None,
) -> DriftResult:
    """The verdict from a window's counts (:mod:`champion.drift.window`).

    ``check``: this check's place (1, 2, ...) in the reference's scheduled checks, None
    for a one-off. ``score``: the model's score in the window against its profile from
    an earlier window; ``joint``: a classifier two-sample test. Both join the family the
    level is divided over.
    """
    config = config or DriftConfig()
    if summary.rows == 0:
        raise InvalidInputError("the current data has no rows")
    if check is not None and check < 1:
        raise InvalidInputError(f"check must be at least 1, got {check}")
    family = _family(profile, summary, config, score)
    tests = len(family) + (joint is not None)
    alpha_check = config.alpha * (spending(check) if check is not None else 1.0)
    alpha = alpha_check / tests if config.correction == Correction.BONFERRONI else alpha_check
    results = []
    for stats in family:
        reference = tuple(int(c) for c in stats.pop("null_counts"))
        stats["psi_null"] = _psi_null(reference, stats["n_current"], config.eps, config.seed)
        drifted, reason = _decide(stats, config, alpha)
        results.append(FeatureDrift(drifted=drifted, reason=reason, **stats))
    judged = judge_joint(joint, alpha, config.auc_floor) if joint is not None else None
    min_rows = smallest_window(profile.n_rows, alpha)
    verdict, reason = _verdict(results, config, alpha, summary.rows, min_rows, judged)
    monitored = [f for f in results if f.feature != SCORE]
    n_drifted = sum(f.drifted for f in monitored)
    return DriftResult(
        drifted=verdict,
        rule=config.rule,
        reason=reason,
        mean_psi=float(np.mean([f.psi for f in monitored])),
        n_drifted=n_drifted,
        share_drifted=n_drifted / len(monitored),
        alpha_per_feature=alpha,
        n_reference=profile.n_rows,
        n_current=summary.rows,
        features=tuple(results),
        config=config,
        check=check,
        alpha_check=alpha_check,
        min_rows=min_rows,
        joint=judged,
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
