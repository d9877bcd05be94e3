"""What a look at the experiment sees, at any number of times at once (pure numpy).

For each time ``T`` a :class:`LookStats` holds every comparison the decision needs, as an
estimate of B - A with its variance and its number of independent units:

* **the primary comparison** — *paired* when the label cannot depend on what was served
  (shadow mode, or ``labels_independent`` declared for split traffic): both models on
  every labelled row, ``score_B - score_A`` per row; *triggered split* otherwise: each
  arm's score of what it served, counted only on rows where the two models' answers
  differ (where they agree the arm cannot matter, so those rows add noise and no
  signal), compared between the arms and stratified by phase;
* **the guardrails** — precision and recall (classification), the failure rate and the
  scoring latency (both models score every row, so the last two are always paired);
* **the validity checks** — units per arm against the configured split, in each phase
  (the sample-ratio check), and label coverage per arm among rows old enough to have
  their label (a label-arrival mismatch biases the comparison as surely as a broken
  assignment).

Variances are cluster-robust over the units of randomisation (:mod:`.moments`); an
unpaired difference takes the larger of the per-arm variance and the variance pooled
over both arms, which under the null hypothesis (both models alike) is the same spread
estimated from every unit — so a small arm with few errors cannot make its own spread
look small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from champion.abtest.evidence import Evidence, Tracker
from champion.abtest.moments import Moments, Number
from champion.types import Task


@dataclass(frozen=True)
class Comparison:
    """An estimate of B - A, its variance and the independent units behind it."""

    estimate: Number
    variance: Number
    units: Number


def paired(m: Moments) -> Comparison:
    """The mean of per-row differences."""
    return Comparison(m.mean, m.variance, m.k)


def unpaired(a: Moments, b: Moments) -> Comparison:
    """mean(B) - mean(A), with the larger of the separate and the pooled variance."""
    separate = np.asarray(a.variance) + np.asarray(b.variance)
    both = a + b
    pooled_mean = both.mean
    k = np.asarray(both.k, dtype=np.float64)
    tau2 = np.asarray(both.residual_square(pooled_mean)) / np.maximum(k - 1.0, 1.0)
    na, nb = np.asarray(a.n, dtype=np.float64), np.asarray(b.n, dtype=np.float64)
    ok = (np.asarray(a.k) >= 2) & (np.asarray(b.k) >= 2)
    pooled = tau2 * (
        np.asarray(a.k) / np.where(ok, na * na, 1.0) + np.asarray(b.k) / np.where(ok, nb * nb, 1.0)
    )
    variance = np.where(ok, np.maximum(separate, pooled), np.inf)
    estimate = np.asarray(b.mean) - np.asarray(a.mean)
    return Comparison(_plain(estimate), _plain(variance), _plain(k))


def stratified(phases: Sequence[tuple[Moments, Moments]]) -> Comparison:
    """Per-phase differences combined with weights proportional to their rows (a phase
    with fewer than two units in an arm carries no weight)."""
    estimates, variances, weights, units = [], [], [], []
    for a, b in phases:
        c = unpaired(a, b)
        ok = np.isfinite(c.variance)
        weights.append(np.where(ok, np.asarray(a.n) + np.asarray(b.n), 0.0))
        estimates.append(np.where(ok, c.estimate, 0.0))
        variances.append(np.where(ok, c.variance, 0.0))
        units.append(np.where(ok, c.units, 0.0))
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    estimate = (w * np.asarray(estimates)).sum(axis=0) / safe
    variance = (w * w * np.asarray(variances)).sum(axis=0) / (safe * safe)
    return Comparison(
        _plain(np.where(total > 0, estimate, 0.0)),
        _plain(np.where(total > 0, variance, np.inf)),
        _plain(np.asarray(units).sum(axis=0)),
    )


def macro(comparisons: Sequence[Comparison]) -> Comparison:
    """The average of per-class comparisons (their variances treated as independent)."""
    count = len(comparisons)
    estimate = sum(np.asarray(c.estimate) for c in comparisons) / count
    variance = sum(np.asarray(c.variance) for c in comparisons) / (count * count)
    units = np.min([np.asarray(c.units) for c in comparisons], axis=0)
    return Comparison(_plain(estimate), _plain(variance), _plain(units))


def _plain(value: np.ndarray) -> Number:
    return float(value) if np.ndim(value) == 0 else value


@dataclass(frozen=True)
class Look:
    """The primary sequence at one point in time."""

    labelled: int
    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class PhaseSplit:
    """Units per arm in one phase, against its configured share of B."""

    split_b: float
    units_a: Number
    units_b: Number


@dataclass(frozen=True)
class LookStats:
    """Every number a decision needs, at one time or at many (then arrays)."""

    primary: Comparison
    paired: bool
    labelled_a: Number  # labelled rows behind the primary comparison, per arm
    labelled_b: Number
    phases: tuple[PhaseSplit, ...]  # empty when nothing was split (shadow mode)
    coverage_a: Number | None  # labelled share of mature rows (split analyses)
    coverage_b: Number | None
    coverage: Comparison | None
    guardrails: dict[str, Comparison] = field(default_factory=dict)


class Looks:
    """The statistics of an experiment at any time: trackers built once, read per look."""

    def __init__(self, ev: Evidence, *, paired: bool, split: bool, maturity: float) -> None:
        self.ev, self.paired, self.split = ev, paired, split
        entered = ev.entered(maturity)
        served_at = ev.created
        ones = np.ones(ev.size)
        self._phases = sorted(set(ev.phase.tolist()))
        arms = {False: ~ev.served_b, True: ev.served_b}

        def track(key: np.ndarray, mask: np.ndarray, scores: np.ndarray) -> Tracker:
            return Tracker(np.where(mask, key, np.inf), scores, ev.unit)

        def per_arm(key: np.ndarray, mask: np.ndarray, scores: np.ndarray):
            return [
                (
                    track(key, mask & arms[False] & (ev.phase == p), scores),
                    track(key, mask & arms[True] & (ev.phase == p), scores),
                )
                for p in self._phases
            ]

        if paired:
            self._primary = track(entered, np.ones(ev.size, bool), ev.score_b - ev.score_a)
        else:
            y = np.where(ev.triggered, np.where(ev.served_b, ev.score_b, ev.score_a), 0.0)
            self._primary = per_arm(entered, np.ones(ev.size, bool), y)
        self._labelled = [track(entered, arms[arm], ones) for arm in (False, True)]
        self._units = per_arm(served_at, np.ones(ev.size, bool), ones) if split else []
        self._mature = [track(ev.created + maturity, arms[arm], ones) for arm in (False, True)]
        self._guards = self._guard_trackers(entered, per_arm, track)

    def _guard_trackers(self, entered, per_arm, track) -> dict[str, object]:
        ev = self.ev
        guards: dict[str, object] = {
            "error_rate": track(
                ev.created,
                np.ones(ev.size, bool),
                ev.failed_b.astype(float) - ev.failed_a.astype(float),
            ),
        }
        latency = ev.latency_difference()
        if np.isfinite(latency).any():  # rows a user brings may not time the models
            guards["latency_ms"] = track(ev.created, np.isfinite(latency), np.nan_to_num(latency))
        if ev.task != Task.CLASSIFICATION:
            return guards
        for c in ev.positive:
            if self.paired:
                guards[f"precision:{c}"] = [
                    (
                        track(entered, ev.answer_a == c, (ev.answer_a == ev.label).astype(float)),
                        track(entered, ev.answer_b == c, (ev.answer_b == ev.label).astype(float)),
                    )
                ]
                guards[f"recall:{c}"] = track(
                    entered,
                    ev.label == c,
                    (ev.answer_b == c).astype(float) - (ev.answer_a == c).astype(float),
                )
            else:
                guards[f"precision:{c}"] = per_arm(
                    entered, ev.served == c, (ev.served == ev.label).astype(float)
                )
                guards[f"recall:{c}"] = per_arm(
                    entered, ev.label == c, (ev.served == c).astype(float)
                )
        return guards

    @staticmethod
    def _compare(tracked, now) -> Comparison:
        if isinstance(tracked, Tracker):
            return paired(tracked.at(now))
        return stratified([(a.at(now), b.at(now)) for a, b in tracked])

    def at(self, now: float | np.ndarray) -> LookStats:
        ev = self.ev
        labelled_a, labelled_b = (t.at(now).n for t in self._labelled)
        guards: dict[str, Comparison] = {}
        by_kind: dict[str, list[Comparison]] = {}
        for name, tracked in self._guards.items():
            kind = name.split(":")[0]
            by_kind.setdefault(kind, []).append(self._compare(tracked, now))
        for kind, found in by_kind.items():
            guards[kind] = found[0] if len(found) == 1 else macro(found)
        phases = tuple(
            PhaseSplit(float(ev.split_b[ev.phase == p][0]), a.at(now).k, b.at(now).k)
            for p, (a, b) in zip(self._phases, self._units, strict=False)
        )
        coverage_a = coverage_b = coverage = None
        if not self.paired:
            mature_a, mature_b = (t.at(now).n for t in self._mature)
            coverage_a, coverage_b, coverage = _coverage(labelled_a, mature_a, labelled_b, mature_b)
        return LookStats(
            primary=self._compare(self._primary, now),
            paired=self.paired,
            labelled_a=labelled_a,
            labelled_b=labelled_b,
            phases=phases,
            coverage_a=coverage_a,
            coverage_b=coverage_b,
            coverage=coverage,
            guardrails=guards,
        )


def _coverage(la: Number, ma: Number, lb: Number, mb: Number) -> tuple[Number, Number, Comparison]:
    """Labelled shares of the mature rows per arm, and their difference (pooled variance,
    as a two-proportion test under the null of equal coverage)."""
    la, ma, lb, mb = (np.asarray(v, dtype=np.float64) for v in (la, ma, lb, mb))
    ok = (ma > 0) & (mb > 0)
    ca = np.where(ok, la / np.where(ma > 0, ma, 1.0), 0.0)
    cb = np.where(ok, lb / np.where(mb > 0, mb, 1.0), 0.0)
    pooled = np.where(ok, (la + lb) / np.where(ma + mb > 0, ma + mb, 1.0), 0.0)
    variance = np.where(
        ok, pooled * (1 - pooled) * (1 / np.where(ok, ma, 1.0) + 1 / np.where(ok, mb, 1.0)), np.inf
    )
    return _plain(ca), _plain(cb), Comparison(_plain(cb - ca), _plain(variance), _plain(ma + mb))
