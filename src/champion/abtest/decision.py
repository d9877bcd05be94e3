"""The decision of an A/B evaluation: the rule, and the decision with its reasons (pure).

The rule, in order, on what a look sees (:mod:`.looks`):

1. ``invalid`` — the units per arm do not match the configured split in some phase, or
   the arms' label coverage differs: the comparison cannot be trusted. Both checks are
   confidence sequences at ``srm_alpha``, so they too may be looked at as often as one
   likes.
2. ``continue`` — fewer than ``min_labelled`` labelled rows per arm (pairs, when paired).
3. ``reject`` — the sequence says B is worse (its upper bound is below 0).
4. ``promote`` — the lower bound clears ``promote_margin`` **and** every guardrail passes:
   its own anytime-valid bound shows B no worse than A by more than its margin
   (precision, recall, failure rate, scoring latency).
5. ``reject`` — the horizon (``max_labelled`` labelled rows) is reached without 4.
6. ``continue`` — otherwise.

:func:`verdicts` applies the rule to any number of looks at once (what the simulations
run); :func:`decide` applies it to one and spells out every reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from champion.abtest.classical import chi_square_accuracy, mcnemar
from champion.abtest.evidence import Evidence
from champion.abtest.looks import Comparison, Look, Looks, LookStats
from champion.abtest.metrics import Arm, arm_metrics
from champion.abtest.sequential import Interval, always_valid_p, half_width
from champion.errors import InvalidInputError
from champion.types import ABMode, Action, Analysis, Task, TestResult

#: Guardrail name -> (policy field of its margin, True when higher is better for B).
GUARDRAILS: dict[str, tuple[str, bool]] = {
    "precision": ("precision_margin", True),
    "recall": ("recall_margin", True),
    "error_rate": ("error_rate_margin", False),
    "latency_ms": ("latency_margin_ms", False),
}
ACTIONS = (Action.INVALID, Action.CONTINUE, Action.REJECT, Action.PROMOTE, Action.REJECT)


@dataclass(frozen=True)
class Policy:
    """Thresholds of the evaluation; each name says its direction."""

    alpha: float = 0.05  # two-sided level of every sequence
    n_star: float = 10_000  # planned labelled units (tunes where a sequence is tightest)
    promote_margin: float = 0.0  # the lower bound of B - A must exceed this
    min_labelled: int = 200  # labelled rows per arm (pairs, when paired) before deciding
    max_labelled: int = 40_000  # horizon, all arms together
    srm_alpha: float = 0.001  # level of the split and label-coverage checks
    precision_margin: float = 0.02  # B may be at most this much below A
    recall_margin: float = 0.02
    error_rate_margin: float = 0.01  # B may be at most this much above A
    latency_margin_ms: float = 25.0  # B's scoring may be at most this much slower
    label_maturity_s: float = 0.0  # rows younger than this are not compared yet
    labels_independent: bool = False  # split traffic: labels never depend on the answer

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or not 0 < self.srm_alpha < 1:
            raise InvalidInputError("alpha and srm_alpha must be in (0, 1)")
        if self.min_labelled < 2 or self.max_labelled <= self.min_labelled:
            raise InvalidInputError(
                f"need 2 <= min_labelled < max_labelled, got {self.min_labelled} and "
                f"{self.max_labelled}"
            )
        if self.n_star <= 0 or self.label_maturity_s < 0:
            raise InvalidInputError("n_star must be positive and label_maturity_s >= 0")


@dataclass(frozen=True)
class Verdicts:
    """The rule's findings at each look (arrays, or numbers for one look)."""

    lower: np.ndarray  # the primary sequence's bounds of B - A
    upper: np.ndarray
    split_mismatch: np.ndarray  # some phase's share of B units is off its split
    coverage_mismatch: np.ndarray  # the arms' label coverage differs
    too_few: np.ndarray
    guard_bounds: dict[str, np.ndarray]  # the bound that must clear the margin
    guard_pass: dict[str, np.ndarray]
    horizon: np.ndarray
    action: np.ndarray  # index into ACTIONS


def _arrays(c: Comparison) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    est, var, n = (np.asarray(v, dtype=np.float64) for v in (c.estimate, c.variance, c.units))
    return est, var, n


def _bounds(c: Comparison, alpha: float, n_star: float) -> tuple[np.ndarray, np.ndarray]:
    """The confidence sequence's bounds (infinite where it has nothing to go on)."""
    est, var, n = _arrays(c)
    ok = np.isfinite(var) & (n > 1)
    width = half_width(np.where(ok, var, 0.0), np.where(ok, n, 2.0), alpha, n_star)
    return np.where(ok, est - width, -np.inf), np.where(ok, est + width, np.inf)


def share_tests(stats: LookStats) -> list[Comparison]:
    """Per split phase: the share of B units minus the split, with its null variance."""
    out = []
    for p in stats.phases:
        if not 0 < p.split_b < 1:
            continue
        k = np.asarray(p.units_a, dtype=np.float64) + np.asarray(p.units_b, dtype=np.float64)
        safe = np.where(k > 0, k, 1.0)
        share = np.where(k > 0, np.asarray(p.units_b) / safe, p.split_b)
        var = np.where(k > 1, p.split_b * (1 - p.split_b) / safe, np.inf)
        out.append(Comparison(share - p.split_b, var, k))
    return out


def _excludes_zero(c: Comparison, alpha: float, n_star: float) -> np.ndarray:
    lower, upper = _bounds(c, alpha, n_star)
    return (lower > 0) | (upper < 0)


def verdicts(stats: LookStats, policy: Policy) -> Verdicts:
    """The rule at every look of ``stats``."""
    lower, upper = _bounds(stats.primary, policy.alpha, policy.n_star)
    shares = share_tests(stats)
    split_mismatch = np.zeros(lower.shape, dtype=bool)
    for c in shares:  # Bonferroni over the phases
        split_mismatch |= _excludes_zero(c, policy.srm_alpha / len(shares), policy.n_star)
    coverage_mismatch = np.zeros(lower.shape, dtype=bool)
    if stats.coverage is not None:
        coverage_mismatch = _excludes_zero(stats.coverage, policy.srm_alpha, policy.n_star)
    la, lb = np.asarray(stats.labelled_a), np.asarray(stats.labelled_b)
    labelled = la + lb
    if stats.paired:
        too_few = labelled < policy.min_labelled
    else:
        too_few = np.minimum(la, lb) < policy.min_labelled
    bounds, passes = {}, {}
    for name, comparison in stats.guardrails.items():
        margin_field, higher_better = GUARDRAILS[name]
        margin = getattr(policy, margin_field)
        lo, hi = _bounds(comparison, policy.alpha, policy.n_star)
        bounds[name] = lo if higher_better else hi
        passes[name] = lo > -margin if higher_better else hi < margin
    all_pass = np.logical_and.reduce([np.ones(lower.shape, dtype=bool), *passes.values()])
    horizon = labelled >= policy.max_labelled
    action = np.select(
        [
            split_mismatch | coverage_mismatch,
            too_few,
            upper < 0,
            (lower > policy.promote_margin) & all_pass,
            horizon,
        ],
        [0, 1, 2, 3, 4],
        default=1,
    )
    return Verdicts(
        lower, upper, split_mismatch, coverage_mismatch, too_few, bounds, passes, horizon, action
    )


@dataclass(frozen=True)
class GuardrailBound:
    """One guardrail at one look: B - A, the bound that must clear the margin, verdict."""

    name: str
    estimate: float
    bound: float  # lower bound (higher-is-better metrics) or upper bound (the others)
    margin: float
    higher_is_better: bool
    passed: bool

    def describe(self) -> str:
        side = f"> -{self.margin:g}" if self.higher_is_better else f"< {self.margin:g}"
        verdict = "passes" if self.passed else "not shown yet"
        return (
            f"guardrail {self.name}: B - A {self.estimate:+.4f}, bound {self.bound:+.4f} "
            f"(must be {side}): {verdict}"
        )


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[str, ...]
    interval: Interval
    paired: bool
    srm: TestResult | None
    chi_square: TestResult | None  # fixed-horizon, NOT valid under repeated looks
    mcnemar: TestResult | None
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    guardrails: tuple[GuardrailBound, ...] = ()
    coverage: tuple[float, float] | None = None  # labelled share of mature rows, A and B
    analysis: str = ""

    @property
    def labelled(self) -> tuple[int, int]:
        """Labelled rows behind the decision: (A, B); the same number twice when paired."""
        a, b = (int(self.metrics[v].get("labelled") or 0) for v in ("A", "B"))
        return a, b

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (infinite bounds become None)."""

        def finite(x: float) -> float | None:
            return x if np.isfinite(x) else None

        def test(t: TestResult | None) -> dict[str, float] | None:
            return None if t is None else {"statistic": t.statistic, "p_value": t.p_value}

        iv = self.interval
        return {
            "action": self.action,
            "reasons": list(self.reasons),
            "analysis": self.analysis,
            "paired": self.paired,
            "interval": {
                "estimate": iv.estimate,
                "lower": finite(iv.lower),
                "upper": finite(iv.upper),
                "n": iv.n,
                "alpha": iv.alpha,
                "p_value": iv.p_value,
            },
            "guardrails": [{**g.__dict__, "bound": finite(g.bound)} for g in self.guardrails],
            "coverage": list(self.coverage) if self.coverage else None,
            "srm": test(self.srm),
            "chi_square_fixed_horizon": test(self.chi_square),
            "mcnemar": test(self.mcnemar),
            "metrics": self.metrics,
        }


def _guardrail_bounds(stats: LookStats, v: Verdicts, policy: Policy) -> tuple[GuardrailBound, ...]:
    out = []
    for name, comparison in stats.guardrails.items():
        margin_field, higher_better = GUARDRAILS[name]
        out.append(
            GuardrailBound(
                name,
                float(comparison.estimate),
                float(v.guard_bounds[name]),
                float(getattr(policy, margin_field)),
                higher_better,
                bool(v.guard_pass[name]),
            )
        )
    return tuple(out)


def _reasons(
    stats: LookStats,
    v: Verdicts,
    policy: Policy,
    interval: Interval,
    guards: tuple[GuardrailBound, ...],
) -> list[str]:
    """Every finding that bears on the action, in the rule's order."""
    bounds = f"B - A in [{interval.lower:+.4f}, {interval.upper:+.4f}] (p={interval.p_value:.3g})"
    action = ACTIONS[int(v.action)]
    reasons = []
    if bool(v.split_mismatch):
        for p in stats.phases:
            reasons.append(
                f"sample-ratio check: {int(p.units_a)} A / {int(p.units_b)} B units for a "
                f"{1 - p.split_b:.0%}/{p.split_b:.0%} split"
            )
        reasons.append("the assignment does not match the split: nothing can be concluded")
    if bool(v.coverage_mismatch):
        reasons.append(
            f"label coverage differs between the arms: A {float(stats.coverage_a):.1%}, B "
            f"{float(stats.coverage_b):.1%} of the rows old enough to be labelled; labels "
            "that arrive unevenly bias the comparison (CHAMPION_AB_LABEL_MATURITY)"
        )
    if action == Action.INVALID:
        return reasons
    la, lb = int(stats.labelled_a), int(stats.labelled_b)
    if bool(v.too_few):
        counts = f"{la + lb} pairs" if stats.paired else f"A {la}, B {lb}"
        return [f"not enough labels yet: {counts}, need {policy.min_labelled} per arm"]
    if float(v.upper) < 0:
        return [f"B is worse: {bounds}"]
    better = float(v.lower) > policy.promote_margin
    if better:
        reasons.append(f"B is better: {bounds}, lower bound > {policy.promote_margin:g}")
    reasons.extend(g.describe() for g in guards if better or not g.passed)
    if action == Action.PROMOTE:
        return reasons
    if bool(v.horizon):
        total = la + lb
        reasons.append(f"horizon reached: {total} labelled rows >= {policy.max_labelled}")
    elif not better:
        reasons.append(f"no decision yet: {bounds}")
    return reasons


def _arms(ev: Evidence, now: float, paired: bool, maturity: float) -> tuple[Arm, Arm]:
    """The per-arm figures' inputs: each arm's served rows (split), or each model on
    every row (paired)."""
    created = ev.created <= now
    entered = ev.entered(maturity) <= now
    arms = []
    for is_b, answer, latency, failed, prob in (
        (False, ev.answer_a, ev.latency_a, ev.failed_a, ev.prob_a),
        (True, ev.answer_b, ev.latency_b, ev.failed_b, ev.prob_b),
    ):
        rows = created if paired else created & (ev.served_b == is_b)
        scored = entered & rows
        pred = answer if paired else ev.served
        arms.append(
            Arm(
                ev.label[scored],
                pred[scored],
                latency[rows],
                int(rows.sum()),
                int((failed & rows).sum()),
                prob[scored],
            )
        )
    return arms[0], arms[1]


def _classical(
    ev: Evidence, now: float, paired: bool, maturity: float
) -> tuple[TestResult | None, TestResult | None]:
    """The fixed-horizon chi-square (split) or McNemar (paired) on accuracy, reported
    beside the sequence; classification only."""
    if ev.task != Task.CLASSIFICATION:
        return None, None
    entered = ev.entered(maturity) <= now
    if paired:
        right_a, right_b = ev.score_a[entered] == 1, ev.score_b[entered] == 1
        return None, mcnemar(int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum()))
    right = np.where(ev.served_b, ev.score_b, ev.score_a) == 1
    a, b = entered & ~ev.served_b, entered & ev.served_b
    return chi_square_accuracy(
        int((right & a).sum()), int(a.sum()), int((right & b).sum()), int(b.sum())
    ), None


def _srm(stats: LookStats, n_star: float) -> TestResult | None:
    tests = share_tests(stats)
    if not tests:
        return None
    ps = [
        always_valid_p(float(c.estimate), float(c.variance), int(c.units), n_star)
        if np.isfinite(c.variance)
        else 1.0
        for c in tests
    ]
    worst = max(abs(float(c.estimate)) for c in tests)
    return TestResult(worst, min(1.0, min(ps) * len(tests)))


def decide(
    ev: Evidence, policy: Policy | None = None, *, mode: ABMode, now: float | None = None
) -> Decision:
    """The decision on ``ev`` as of ``now`` (default: its latest event)."""
    policy = policy or Policy()
    paired = mode == ABMode.SHADOW or policy.labels_independent
    if now is None:
        times = np.concatenate([ev.created, ev.labelled_at[np.isfinite(ev.labelled_at)]])
        now = float(times.max()) if times.size else 0.0
    looks = Looks(ev, paired=paired, split=mode != ABMode.SHADOW, maturity=policy.label_maturity_s)
    arm_a, arm_b = _arms(ev, now, paired, policy.label_maturity_s)
    return conclude(
        looks.at(now),
        policy,
        metrics={"A": arm_metrics(arm_a, ev.task), "B": arm_metrics(arm_b, ev.task)},
        classical=_classical(ev, now, paired, policy.label_maturity_s),
    )


def conclude(
    stats: LookStats,
    policy: Policy,
    *,
    metrics: dict[str, dict[str, float | None]],
    classical: tuple[TestResult | None, TestResult | None],
) -> Decision:
    """The decision from what one look saw (rows or a database's sums), with the
    per-arm figures and the fixed-horizon tests reported beside it."""
    v = verdicts(stats, policy)
    p = stats.primary
    interval = Interval(
        estimate=float(p.estimate),
        lower=float(v.lower),
        upper=float(v.upper),
        n=int(p.units),
        variance=float(p.variance),
        alpha=policy.alpha,
        p_value=always_valid_p(float(p.estimate), float(p.variance), int(p.units), policy.n_star)
        if np.isfinite(p.variance)
        else 1.0,
    )
    guards = _guardrail_bounds(stats, v, policy)
    coverage = None
    if stats.coverage_a is not None and stats.coverage_b is not None:
        coverage = (float(stats.coverage_a), float(stats.coverage_b))
    return Decision(
        action=ACTIONS[int(v.action)],
        reasons=tuple(_reasons(stats, v, policy, interval, guards)),
        interval=interval,
        paired=stats.paired,
        srm=_srm(stats, policy.n_star),
        chi_square=classical[0],
        mcnemar=classical[1],
        metrics=metrics,
        guardrails=guards,
        coverage=coverage,
        analysis=Analysis.PAIRED if stats.paired else Analysis.TRIGGERED,
    )


def timeline(ev: Evidence, policy: Policy, *, mode: ABMode, points: int = 60) -> list[Look]:
    """The primary sequence as the labels arrived: at up to ``points`` moments, the
    interval a look at that moment saw."""
    paired = mode == ABMode.SHADOW or policy.labels_independent
    entered = ev.entered(policy.label_maturity_s)
    times = np.sort(entered[np.isfinite(entered)])
    if times.size < 2:
        return []
    picks = np.unique(np.linspace(1, times.size - 1, num=min(points, times.size - 1)).astype(int))
    at = times[picks]
    looks = Looks(ev, paired=paired, split=mode != ABMode.SHADOW, maturity=policy.label_maturity_s)
    stats = looks.at(at)
    labelled = np.asarray(stats.labelled_a) + np.asarray(stats.labelled_b)
    return sequence(stats.primary, labelled, policy)


def sequence(primary: Comparison, labelled: np.ndarray, policy: Policy) -> list[Look]:
    """The primary comparison at several looks as points of the confidence sequence
    (looks with nothing to go on yet are left out)."""
    lower, upper = _bounds(primary, policy.alpha, policy.n_star)
    estimate = np.asarray(primary.estimate)
    return [
        Look(int(labelled[i]), float(estimate[i]), float(lower[i]), float(upper[i]))
        for i in range(np.size(labelled))
        if np.isfinite(lower[i])
    ]
