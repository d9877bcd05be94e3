"""Per-variant metrics, guardrails and the decision of an A/B evaluation (pure).

The decision, in order (every reason that applies is spelled out):

1. ``invalid`` — the arm counts do not match the configured split (sample-ratio
   mismatch, p < ``srm_alpha``): the assignment is broken, nothing can be concluded.
2. ``continue`` — an arm has fewer than ``min_labelled`` labelled rows.
3. ``reject`` — the sequence says B is worse (upper bound < 0).
4. ``promote`` — the sequence's lower bound clears ``promote_margin`` **and** no
   guardrail is breached: B's precision and recall (classification) are not lower than
   A's by more than their margins, its error rate not higher by more than its margin, its
   p95 latency not higher by more than its margin.
5. ``reject`` — the horizon (``max_labelled`` labelled rows) is reached without 4.
6. ``continue`` — otherwise.

Guardrails compare point estimates with non-inferiority margins; the primary decision
is the anytime-valid sequence, so evaluating as often as one likes stays honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from champion.abtest.classical import chi_square_accuracy, mcnemar
from champion.abtest.classical import sample_ratio_mismatch as srm_test
from champion.abtest.sequential import Interval, paired, unpaired
from champion.errors import InvalidInputError
from champion.types import Action, Task, TestResult, Variant


@dataclass(frozen=True)
class Policy:
    """Thresholds of the evaluation; each name says its direction."""

    alpha: float = 0.05  # two-sided level of the sequence
    n_star: float = 10_000  # planned labelled rows (tunes where the sequence is tightest)
    promote_margin: float = 0.0  # lower bound of B - A must exceed this
    min_labelled: int = 200  # per arm
    max_labelled: int = 40_000  # horizon, all arms together
    srm_alpha: float = 0.001
    precision_margin: float = 0.02  # B may be at most this much below A
    recall_margin: float = 0.02
    error_rate_margin: float = 0.01  # B may be at most this much above A
    latency_p95_margin_ms: float = 25.0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or not 0 < self.srm_alpha < 1:
            raise InvalidInputError("alpha and srm_alpha must be in (0, 1)")
        if self.min_labelled < 2 or self.max_labelled <= self.min_labelled:
            raise InvalidInputError(
                f"need 2 <= min_labelled < max_labelled, got {self.min_labelled} and "
                f"{self.max_labelled}"
            )


@dataclass(frozen=True)
class Arm:
    """What one variant produced: labelled rows and request outcomes."""

    y_true: np.ndarray  # labels of the labelled rows
    y_pred: np.ndarray  # predictions of the same rows
    latency_ms: np.ndarray  # every answered request
    requests: int  # answered + failed
    errors: int  # failed requests
    y_score: np.ndarray | None = None  # P(positive) for ROC AUC, binary only


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

    @property
    def labelled(self) -> tuple[int, int]:
        """Labelled rows behind the decision: (A, B); the same number twice when paired."""
        a, b = (int(self.metrics[v].get("labelled") or 0) for v in Variant)
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
            "paired": self.paired,
            "interval": {
                "estimate": iv.estimate,
                "lower": finite(iv.lower),
                "upper": finite(iv.upper),
                "n": iv.n,
                "alpha": iv.alpha,
                "p_value": iv.p_value,
            },
            "srm": test(self.srm),
            "chi_square_fixed_horizon": test(self.chi_square),
            "mcnemar": test(self.mcnemar),
            "metrics": self.metrics,
        }


def row_scores(arm: Arm, task: Task) -> np.ndarray:
    """Per-row score: 1/0 correct (classification), minus the absolute error (regression)."""
    if task == Task.CLASSIFICATION:
        return (arm.y_true == arm.y_pred).astype(np.float64)
    return -np.abs(arm.y_true.astype(np.float64) - arm.y_pred.astype(np.float64))


def _precision_recall(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Binary (positive = the larger label) or macro-averaged precision, recall, F1."""
    classes = np.unique(np.concatenate([y, pred]))
    targets = classes[-1:] if classes.size <= 2 else classes
    values = []
    for c in targets:
        tp = float(np.sum((pred == c) & (y == c)))
        predicted, actual = float(np.sum(pred == c)), float(np.sum(y == c))
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        values.append((p, r, 2 * p * r / (p + r) if p + r else 0.0))
    return tuple(float(np.mean(v)) for v in zip(*values, strict=True))  # type: ignore[return-value]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by the rank (Mann-Whitney) formula; None without both classes."""
    positive = y == np.unique(y).max()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def arm_metrics(arm: Arm, task: Task) -> dict[str, float | None]:
    labelled = int(arm.y_true.size)
    out: dict[str, float | None] = {
        "requests": float(arm.requests),
        "labelled": float(labelled),
        "label_coverage": labelled / max(arm.requests - arm.errors, 1),
        "error_rate": arm.errors / arm.requests if arm.requests else 0.0,
        "latency_p95_ms": float(np.percentile(arm.latency_ms, 95)) if arm.latency_ms.size else None,
    }
    if labelled == 0:
        return out
    if task == Task.CLASSIFICATION:
        precision, recall, f1 = _precision_recall(arm.y_true, arm.y_pred)
        out.update(
            accuracy=float(np.mean(arm.y_true == arm.y_pred)),
            precision=precision,
            recall=recall,
            f1=f1,
            roc_auc=_auc(arm.y_true, arm.y_score) if arm.y_score is not None else None,
        )
    else:
        y = arm.y_true.astype(np.float64)
        err = y - arm.y_pred.astype(np.float64)
        total = float(((y - y.mean()) ** 2).sum())
        out.update(
            mae=float(np.abs(err).mean()),
            rmse=float(np.sqrt((err**2).mean())),
            r2=1.0 - float((err**2).sum()) / total if total > 0 else None,
        )
    return out


def _guardrails(ma: dict, mb: dict, task: Task, policy: Policy) -> list[str]:
    breaches = []
    checks = [("error_rate", policy.error_rate_margin, +1)]
    if task == Task.CLASSIFICATION:
        checks += [("precision", policy.precision_margin, -1), ("recall", policy.recall_margin, -1)]
    for name, margin, worse in checks:
        a, b = ma.get(name), mb.get(name)
        if a is not None and b is not None and worse * (b - a) > margin:
            breaches.append(f"guardrail {name}: B {b:.4f} vs A {a:.4f} (margin {margin:g})")
    a, b = ma.get("latency_p95_ms"), mb.get("latency_p95_ms")
    if a is not None and b is not None and b - a > policy.latency_p95_margin_ms:
        breaches.append(
            f"guardrail p95 latency: B {b:.1f} ms vs A {a:.1f} ms "
            f"(margin {policy.latency_p95_margin_ms:g} ms)"
        )
    return breaches


@dataclass(frozen=True)
class _Statistics:
    """The arms as compared (the paired rows' when paired) and every test on them."""

    a: Arm
    b: Arm
    paired: bool
    interval: Interval
    n_a: int  # labelled rows behind the interval (pairs: the same number twice)
    n_b: int
    srm: TestResult | None
    chi_square: TestResult | None
    mcnemar: TestResult | None


def _statistics(
    a: Arm,
    b: Arm,
    task: Task,
    split_b: float,
    policy: Policy,
    paired_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> _Statistics:
    if paired_rows is None:
        sa, sb = row_scores(a, task), row_scores(b, task)
        n_a, n_b = int(sa.size), int(sb.size)
        chi = None
        if task == Task.CLASSIFICATION:
            chi = chi_square_accuracy(int(sa.sum()), n_a, int(sb.sum()), n_b)
        interval = unpaired(sa, sb, alpha=policy.alpha, n_star=policy.n_star)
        return _Statistics(
            a, b, False, interval, n_a, n_b, srm_test(a.requests, b.requests, split_b), chi, None
        )
    y, pa, pb = paired_rows
    # both models scored the same rows: metrics and scores come from those rows
    a = Arm(y, pa, a.latency_ms, a.requests, a.errors)
    b = Arm(y, pb, b.latency_ms, b.requests, b.errors)
    sa, sb = row_scores(a, task), row_scores(b, task)
    interval = paired(sb - sa, alpha=policy.alpha, n_star=policy.n_star)
    mcn = None
    if task == Task.CLASSIFICATION:
        mcn = mcnemar(int(((sa == 1) & (sb == 0)).sum()), int(((sa == 0) & (sb == 1)).sum()))
    return _Statistics(a, b, True, interval, int(y.size), int(y.size), None, None, mcn)


def _rule(
    s: _Statistics,
    metrics: dict[str, dict[str, float | None]],
    task: Task,
    split_b: float,
    policy: Policy,
) -> tuple[Action, list[str]]:
    """The decision rule of the module docstring, in its order, with every reason."""
    iv = s.interval
    bounds = f"B - A in [{iv.lower:+.4f}, {iv.upper:+.4f}] (p={iv.p_value:.3g})"
    if s.srm is not None and s.srm.p_value < policy.srm_alpha:
        return Action.INVALID, [
            f"sample-ratio mismatch: {s.a.requests} A / {s.b.requests} B requests for a "
            f"{1 - split_b:.0%}/{split_b:.0%} split (p={s.srm.p_value:.2g} < {policy.srm_alpha:g})"
        ]
    if min(s.n_a, s.n_b) < policy.min_labelled:
        return Action.CONTINUE, [
            f"not enough labels yet: A {s.n_a}, B {s.n_b}, need {policy.min_labelled} per arm"
        ]
    if iv.upper < 0:
        return Action.REJECT, [f"B is worse: {bounds}"]
    breaches = _guardrails(metrics[Variant.A], metrics[Variant.B], task, policy)
    if iv.lower > policy.promote_margin and not breaches:
        return Action.PROMOTE, [f"B is better: {bounds}, lower bound > {policy.promote_margin:g}"]
    reasons = []
    if iv.lower > policy.promote_margin:
        reasons.append(f"B is better on the primary metric ({bounds}) but:")
    reasons.extend(breaches)
    labelled = s.n_a if s.paired else s.n_a + s.n_b  # pairs count once
    if labelled >= policy.max_labelled:
        reasons.append(f"horizon reached: {labelled} labelled rows >= {policy.max_labelled}")
        return Action.REJECT, reasons
    if not breaches:
        reasons.append(f"no decision yet: {bounds}")
    return Action.CONTINUE, reasons


def decide(
    a: Arm,
    b: Arm,
    *,
    task: Task,
    split_b: float,
    policy: Policy | None = None,
    paired_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Decision:
    """Decide on B vs A. ``paired_rows`` = (y_true, pred_A, pred_B) of rows both scored
    (shadow mode): then the paired sequence and McNemar are used, and no SRM check."""
    policy = policy or Policy()
    task = Task(task)
    s = _statistics(a, b, task, split_b, policy, paired_rows)
    metrics = {Variant.A.value: arm_metrics(s.a, task), Variant.B.value: arm_metrics(s.b, task)}
    action, reasons = _rule(s, metrics, task, split_b, policy)
    return Decision(
        action,
        tuple(reasons),
        s.interval,
        s.paired,
        s.srm,
        s.chi_square,
        s.mcnemar,
        metrics,
    )
