"""Simulated experiments with known ground truth, decided by the real decision rule (pure).

A :class:`Scenario` describes traffic and models: the task, the routing mode and split
(and a split change), users with a random effect and how many rows each sends, each
model's accuracy (or error distribution), how often the two models agree, how late and
how evenly labels arrive, failures, drift over time. :func:`simulate` draws ``reps``
experiments, looks at each every ``look_every`` labels with :func:`.decision.verdicts`
— the same function an evaluation runs — and reports how often the challenger was
promoted, rejected or left undecided, with Monte Carlo intervals, and the labels it took.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from champion.abtest.decision import Policy, verdicts
from champion.abtest.evidence import Evidence
from champion.abtest.looks import Looks
from champion.errors import InvalidInputError
from champion.types import ABMode, Task


@dataclass(frozen=True)
class Scenario:
    """One kind of experiment. Classification: each model's true-positive and
    true-negative rates (accuracy = prevalence x tpr + (1 - prevalence) x tnr).
    Regression: absolute errors drawn from ``errors`` at each model's ``scale``."""

    task: Task = Task.CLASSIFICATION
    mode: ABMode = ABMode.HASH
    split_b: float = 0.5
    split_change: tuple[float, float] | None = None  # (when, as a share of rows; new split)
    rows: int = 40_000  # requests served over the experiment
    users: int | None = None  # None: every request from a new user
    user_effect: float = 0.0  # SD of a user's effect on the log-odds of being right
    prevalence: float = 0.5
    tpr_a: float = 0.8
    tnr_a: float = 0.8
    tpr_b: float = 0.8
    tnr_b: float = 0.8
    agreement: float = 0.0  # chance the challenger errs exactly where the champion does
    errors: str = "normal"  # regression: normal | lognormal | pareto
    error_shape: float = 1.0  # lognormal sigma, pareto alpha
    scale_a: float = 1.0
    scale_b: float = 1.0
    label_share: float = 1.0  # rows that ever get a label
    delay_a: float = 0.0  # mean label delay (seconds; a request is served every second)
    delay_b: float = 0.0
    positive_delay: float = 1.0  # delay multiplier for rows the served model calls positive
    drift: float = 0.0  # change of every accuracy from the start to the end of the run
    failure_b: float = 0.0  # the challenger's failure rate per row
    latency_a_ms: float = 2.0
    latency_b_ms: float = 2.0

    def check(self) -> None:
        problems = []
        for name in (
            "split_b",
            "prevalence",
            "tpr_a",
            "tnr_a",
            "tpr_b",
            "tnr_b",
            "agreement",
            "label_share",
            "failure_b",
        ):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.rows < 100:
            problems.append(f"rows must be at least 100, got {self.rows}")
        if self.users is not None and self.users < 2:
            problems.append(f"users must be at least 2, got {self.users}")
        if self.errors not in ("normal", "lognormal", "pareto"):
            problems.append(f"errors must be normal, lognormal or pareto, got {self.errors!r}")
        if min(self.delay_a, self.delay_b) < 0 or self.positive_delay <= 0:
            problems.append("label delays must be >= 0")
        if problems:
            raise InvalidInputError("invalid scenario: " + "; ".join(problems))

    @property
    def accuracy_a(self) -> float:
        return self.prevalence * self.tpr_a + (1 - self.prevalence) * self.tnr_a

    @property
    def accuracy_b(self) -> float:
        return self.prevalence * self.tpr_b + (1 - self.prevalence) * self.tnr_b


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _right(
    rng: np.random.Generator, base: np.ndarray, effect: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Whether a model is right on each row: its rate shifted by the user's effect on the
    log-odds, drawn with the uniforms ``u`` (shared uniforms make models err together)."""
    p = 1 / (1 + np.exp(-(_logit(base) + effect)))
    return u < p


def _classification(
    s: Scenario, rng: np.random.Generator, n: int, effect: np.ndarray, t: np.ndarray
):
    y = (rng.random(n) < s.prevalence).astype(np.float64)
    drift = s.drift * (t / max(n - 1, 1) - 0.5)
    rate_a = np.where(y == 1, s.tpr_a, s.tnr_a) + drift
    rate_b = np.where(y == 1, s.tpr_b, s.tnr_b) + drift
    u_a = rng.random(n)
    together = rng.random(n) < s.agreement
    u_b = np.where(together, u_a, rng.random(n))
    right_a = _right(rng, rate_a, effect, u_a)
    right_b = _right(rng, rate_b, effect, u_b)
    pred_a = np.where(right_a, y, 1 - y)
    pred_b = np.where(right_b, y, 1 - y)
    prob_a = np.clip(np.where(pred_a == 1, 0.7, 0.3) + rng.normal(0, 0.1, n), 0, 1)
    prob_b = np.clip(np.where(pred_b == 1, 0.7, 0.3) + rng.normal(0, 0.1, n), 0, 1)
    return y, pred_a, pred_b, prob_a, prob_b


def _magnitudes(s: Scenario, rng: np.random.Generator, n: int) -> np.ndarray:
    if s.errors == "lognormal":
        return rng.lognormal(0.0, s.error_shape, n)
    if s.errors == "pareto":
        return rng.pareto(s.error_shape, n) + 1.0
    return np.abs(rng.normal(0.0, 1.0, n))


def _regression(s: Scenario, rng: np.random.Generator, n: int, effect: np.ndarray):
    y = rng.normal(0.0, 1.0, n)
    base = _magnitudes(s, rng, n)
    together = rng.random(n) < s.agreement
    other = np.where(together, base, _magnitudes(s, rng, n))
    user = np.exp(effect)  # a user's rows are harder (or easier) for both models
    e_a = base * s.scale_a * user * rng.choice([-1.0, 1.0], n)
    e_b = other * s.scale_b * user * rng.choice([-1.0, 1.0], n)
    nan = np.full(n, np.nan)
    return y, y + e_a, y + e_b, nan, nan


def draw(s: Scenario, rng: np.random.Generator) -> Evidence:
    """One simulated experiment's rows."""
    n = s.rows
    t = np.arange(n, dtype=np.float64)  # one request per second
    users = rng.integers(0, s.users, n) if s.users else np.arange(n)
    user_hash = rng.random(int(users.max()) + 1)
    user_effect = rng.normal(0.0, s.user_effect, int(users.max()) + 1) if s.user_effect else None
    effect = user_effect[users] if user_effect is not None else np.zeros(n)
    phase = np.zeros(n, dtype=np.int64)
    split = np.full(n, s.split_b)
    if s.split_change is not None:
        at, new_split = s.split_change
        phase = (t >= at * n).astype(np.int64)
        split = np.where(phase == 1, new_split, s.split_b)
    if s.mode == ABMode.SHADOW:
        served_b = np.zeros(n, dtype=bool)
    elif s.mode == ABMode.HASH:
        served_b = user_hash[users] < split
    else:
        served_b = rng.random(n) < split
    if s.task == Task.CLASSIFICATION:
        y, pred_a, pred_b, prob_a, prob_b = _classification(s, rng, n, effect, t)
    else:
        y, pred_a, pred_b, prob_a, prob_b = _regression(s, rng, n, effect)
    failed_b = rng.random(n) < s.failure_b
    pred_b = np.where(failed_b, np.nan, pred_b)
    served = np.where(served_b & ~failed_b, pred_b, pred_a)
    delay_mean = np.where(served_b, s.delay_b, s.delay_a)
    if s.task == Task.CLASSIFICATION:
        delay_mean = np.where(served == 1, delay_mean * s.positive_delay, delay_mean)
    delay = rng.exponential(np.maximum(delay_mean, 1e-12))
    labelled = rng.random(n) < s.label_share
    unit = users if s.mode == ABMode.HASH else np.arange(n)
    return Evidence(
        task=s.task,
        served_b=served_b,
        unit=unit * 2 + phase,
        phase=phase,
        split_b=split,
        created=t,
        labelled_at=np.where(labelled, t + delay, np.nan),
        label=y,
        pred_a=pred_a,
        pred_b=pred_b,
        failed_a=np.zeros(n, dtype=bool),
        failed_b=failed_b,
        latency_a=np.full(n, s.latency_a_ms),
        latency_b=np.where(failed_b, np.nan, s.latency_b_ms),
        prob_a=prob_a,
        prob_b=prob_b,
        positive=(1.0,) if s.task == Task.CLASSIFICATION else (),
    )


#: A rule takes the experiment's rows and the look times and returns, per look, the index
#: of its action in :data:`.decision.ACTIONS`, and the labelled rows it saw.
Rule = Callable[[Evidence, np.ndarray, Scenario], tuple[np.ndarray, np.ndarray]]


def champion_rule(policy: Policy) -> Rule:
    """The decision rule evaluations run, at every look at once."""

    def rule(ev: Evidence, times: np.ndarray, s: Scenario) -> tuple[np.ndarray, np.ndarray]:
        paired = s.mode == ABMode.SHADOW or policy.labels_independent
        looks = Looks(
            ev, paired=paired, split=s.mode != ABMode.SHADOW, maturity=policy.label_maturity_s
        )
        stats = looks.at(times)
        v = verdicts(stats, policy)
        return np.atleast_1d(v.action), np.atleast_1d(
            np.asarray(stats.labelled_a) + np.asarray(stats.labelled_b)
        )

    return rule


def look_times(ev: Evidence, every: int, horizon: int, maturity: float) -> np.ndarray:
    """The times at which the ``every``-th, 2 x ``every``-th, ... label up to ``horizon``
    entered the comparison."""
    entered = np.sort(ev.entered(maturity))
    entered = entered[np.isfinite(entered)][:horizon]
    picks = np.arange(every, entered.size + 1, every) - 1
    if picks.size == 0 or picks[-1] != entered.size - 1:
        picks = np.append(picks, entered.size - 1)
    return entered[picks[picks >= 0]] if entered.size else np.array([float(ev.created[-1])])


@dataclass(frozen=True)
class Rate:
    """A share of experiments with its 95 % Wilson interval (the Monte Carlo error)."""

    share: float
    low: float
    high: float

    @classmethod
    def of(cls, hits: int, reps: int) -> Rate:
        if reps == 0:
            return cls(0.0, 0.0, 1.0)
        z, p = 1.959964, hits / reps
        centre = (p + z * z / (2 * reps)) / (1 + z * z / reps)
        half = z * math.sqrt(p * (1 - p) / reps + z * z / (4 * reps * reps)) / (1 + z * z / reps)
        return cls(p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Outcome:
    """What ``reps`` simulated experiments ended with."""

    reps: int
    promoted: Rate
    rejected: Rate  # as worse (the upper bound below zero)
    invalid: Rate
    undecided: Rate  # no decision by the horizon (the rule then rejects)
    median_labels: float | None  # labels at the promotions (None: none promoted)
    looks: int  # looks per experiment, at most

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate(
    s: Scenario,
    policy: Policy,
    *,
    reps: int,
    seed: int,
    look_every: int = 500,
    rule: Rule | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Outcome:
    """``reps`` experiments of scenario ``s``, each stopped at its first non-``continue``
    look (every ``look_every`` labels up to ``policy.max_labelled``)."""
    s.check()
    if reps < 1 or look_every < 1:
        raise InvalidInputError("reps and look_every must be at least 1")
    rule = rule or champion_rule(policy)
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(range(5), 0)  # indices of ACTIONS; 4: rejected at the horizon
    labels_at_promotion: list[float] = []
    most_looks = 0
    for _ in range(reps):
        ev = draw(s, rng)
        times = look_times(ev, look_every, policy.max_labelled, policy.label_maturity_s)
        most_looks = max(most_looks, times.size)
        actions, labelled = rule(ev, times, s)
        decisive = np.flatnonzero(actions != 1)
        code = int(actions[decisive[0]]) if decisive.size else 1
        counts[code] += 1
        if code == 3:
            labels_at_promotion.append(float(labelled[decisive[0]]))
        if on_progress:
            on_progress(1)
    return Outcome(
        reps=reps,
        promoted=Rate.of(counts[3], reps),
        rejected=Rate.of(counts[2], reps),
        invalid=Rate.of(counts[0], reps),
        undecided=Rate.of(counts[1] + counts[4], reps),
        median_labels=float(np.median(labels_at_promotion)) if labels_at_promotion else None,
        looks=most_looks,
    )


def plan(
    s: Scenario,
    policy: Policy,
    *,
    power: float = 0.9,
    reps: int = 200,
    seed: int = 0,
    look_every: int = 500,
) -> dict[str, Any]:
    """The labels ``s``'s challenger needs to be promoted with probability ``power``:
    the ``power``-quantile of the labels at promotion over ``reps`` experiments (None if
    fewer than ``power`` of them are promoted by the horizon)."""
    s.check()
    rule = champion_rule(policy)
    rng = np.random.default_rng(seed)
    needed = []
    for _ in range(reps):
        ev = draw(s, rng)
        times = look_times(ev, look_every, policy.max_labelled, policy.label_maturity_s)
        actions, labelled = rule(ev, times, s)
        decisive = np.flatnonzero(actions != 1)
        first = decisive[0] if decisive.size else None
        needed.append(
            float(labelled[first]) if first is not None and actions[first] == 3 else math.inf
        )
    quantile = float(np.quantile(needed, power))
    promoted = float(np.isfinite(needed).mean())
    return {
        "power": power,
        "labels": quantile if math.isfinite(quantile) else None,
        "promoted_by_horizon": promoted,
        "horizon": policy.max_labelled,
        "reps": reps,
    }
