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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

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


T = TypeVar("T")
U = TypeVar("U")
Pairs = tuple[tuple[T, T], ...]  # one (A, B) pair per phase


@dataclass(frozen=True)
class Tracks(Generic[T]):
    """Every group of rows a look reads, by role: ``T`` is a :class:`Tracker` over rows,
    or the :class:`Moments` a database added up (``champion.predictionlog.aggregates``).

    ``paired_*`` fields are used by the paired analysis, ``*_phases`` by the split one
    (per phase: the rows of arm A, then of arm B); a guardrail's entries are per guarded
    class."""

    paired: bool
    splits: tuple[float, ...]  # each phase's configured share of B
    primary_paired: T | None
    primary_phases: Pairs[T]
    labelled: tuple[T, T]  # labelled rows per arm
    units: Pairs[T]  # units per phase and arm (split traffic only)
    mature: tuple[T, T]  # rows old enough to have their label, per arm
    error_rate: T
    latency: T | None  # None: no row timed both models
    precision: tuple[Pairs[T], ...]  # per class (paired: one pair, its own positives)
    recall_paired: tuple[T, ...]
    recall_phases: tuple[Pairs[T], ...]

    def map(self, f: Callable[[T], U]) -> Tracks[U]:
        def pairs(ps: Pairs[T]) -> Pairs[U]:
            return tuple((f(a), f(b)) for a, b in ps)

        return Tracks(
            paired=self.paired,
            splits=self.splits,
            primary_paired=None if self.primary_paired is None else f(self.primary_paired),
            primary_phases=pairs(self.primary_phases),
            labelled=(f(self.labelled[0]), f(self.labelled[1])),
            units=pairs(self.units),
            mature=(f(self.mature[0]), f(self.mature[1])),
            error_rate=f(self.error_rate),
            latency=None if self.latency is None else f(self.latency),
            precision=tuple(pairs(p) for p in self.precision),
            recall_paired=tuple(f(r) for r in self.recall_paired),
            recall_phases=tuple(pairs(r) for r in self.recall_phases),
        )


def _one_or_macro(found: list[Comparison]) -> Comparison:
    return found[0] if len(found) == 1 else macro(found)


def primary_of(m: Tracks[Moments]) -> Comparison:
    """The primary comparison of B with A."""
    if m.primary_paired is not None:
        return paired(m.primary_paired)
    return stratified(m.primary_phases)


def assemble(m: Tracks[Moments]) -> LookStats:
    """What a look sees, from the moments of its tracks."""
    guards = {"error_rate": paired(m.error_rate)}
    if m.latency is not None:
        guards["latency_ms"] = paired(m.latency)
    if m.precision:
        guards["precision"] = _one_or_macro([stratified(p) for p in m.precision])
        recall = (
            [paired(r) for r in m.recall_paired]
            if m.paired
            else [stratified(r) for r in m.recall_phases]
        )
        guards["recall"] = _one_or_macro(recall)
    labelled_a, labelled_b = m.labelled[0].n, m.labelled[1].n
    coverage_a = coverage_b = coverage = None
    if not m.paired:
        coverage_a, coverage_b, coverage = _coverage(
            labelled_a, m.mature[0].n, labelled_b, m.mature[1].n
        )
    return LookStats(
        primary=primary_of(m),
        paired=m.paired,
        labelled_a=labelled_a,
        labelled_b=labelled_b,
        phases=tuple(
            PhaseSplit(split, a.k, b.k) for split, (a, b) in zip(m.splits, m.units, strict=False)
        ),
        coverage_a=coverage_a,
        coverage_b=coverage_b,
        coverage=coverage,
        guardrails=guards,
    )


class Looks:
    """The statistics of an experiment at any time: trackers built once, read per look."""

    def __init__(self, ev: Evidence, *, paired: bool, split: bool, maturity: float) -> None:
        self.ev, self.paired, self.split = ev, paired, split
        entered = ev.entered(maturity)
        phases = sorted(set(ev.phase.tolist()))
        everyone, ones = np.ones(ev.size, bool), np.ones(ev.size)
        self._phases = phases
        primary_paired, primary_phases = None, ()
        if paired:
            primary_paired = self._track(entered, everyone, ev.score_b - ev.score_a)
        else:
            y = np.where(ev.triggered, np.where(ev.served_b, ev.score_b, ev.score_a), 0.0)
            primary_phases = self._arms(entered, everyone, y)
        failed = ev.failed_b.astype(float) - ev.failed_a.astype(float)
        latency = ev.latency_difference()
        timed = np.isfinite(latency).any()  # rows a user brings may not time the models
        precision, recall_paired, recall_phases = self._classes(entered)
        self.tracks: Tracks[Tracker] = Tracks(
            paired=paired,
            splits=tuple(float(ev.split_b[ev.phase == p][0]) for p in phases) if split else (),
            primary_paired=primary_paired,
            primary_phases=primary_phases,
            labelled=(
                self._track(entered, ~ev.served_b, ones),
                self._track(entered, ev.served_b, ones),
            ),
            units=self._arms(ev.created, everyone, ones) if split else (),
            mature=(
                self._track(ev.created + maturity, ~ev.served_b, ones),
                self._track(ev.created + maturity, ev.served_b, ones),
            ),
            error_rate=self._track(ev.created, everyone, failed),
            latency=self._track(ev.created, np.isfinite(latency), np.nan_to_num(latency))
            if timed
            else None,
            precision=precision,
            recall_paired=recall_paired,
            recall_phases=recall_phases,
        )

    def _track(self, key: np.ndarray, mask: np.ndarray, scores: np.ndarray) -> Tracker:
        return Tracker(np.where(mask, key, np.inf), scores, self.ev.unit)

    def _arms(self, key: np.ndarray, mask: np.ndarray, scores: np.ndarray) -> Pairs[Tracker]:
        ev = self.ev
        return tuple(
            (
                self._track(key, mask & ~ev.served_b & (ev.phase == p), scores),
                self._track(key, mask & ev.served_b & (ev.phase == p), scores),
            )
            for p in self._phases
        )

    def _classes(
        self, entered: np.ndarray
    ) -> tuple[tuple[Pairs[Tracker], ...], tuple[Tracker, ...], tuple[Pairs[Tracker], ...]]:
        """The precision and recall guardrails' tracks, one set per guarded class."""
        ev = self.ev
        if ev.task != Task.CLASSIFICATION:
            return (), (), ()
        precision: list[Pairs[Tracker]] = []
        recall_paired: list[Tracker] = []
        recall_phases: list[Pairs[Tracker]] = []
        for c in ev.positive:
            if self.paired:  # each model on every row: its own positives, the same labels
                a_right = (ev.answer_a == ev.label).astype(float)
                b_right = (ev.answer_b == ev.label).astype(float)
                precision.append(
                    (
                        (
                            self._track(entered, ev.answer_a == c, a_right),
                            self._track(entered, ev.answer_b == c, b_right),
                        ),
                    )
                )
                said = (ev.answer_b == c).astype(float) - (ev.answer_a == c).astype(float)
                recall_paired.append(self._track(entered, ev.label == c, said))
            else:
                right = (ev.served == ev.label).astype(float)
                precision.append(self._arms(entered, ev.served == c, right))
                recall_phases.append(
                    self._arms(entered, ev.label == c, (ev.served == c).astype(float))
                )
        return tuple(precision), tuple(recall_paired), tuple(recall_phases)

    def at(self, now: float | np.ndarray) -> LookStats:
        """What a look at ``now`` (one time, or an array of times) sees."""
        return assemble(self.tracks.map(lambda t: t.at(now)))


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
