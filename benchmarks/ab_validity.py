"""Is the promotion rule honest on real traffic? Three rules on one grid of scenarios.

    python benchmarks/ab_validity.py [--reps 1000] [--seed 7] [--only NAME] [--json out.json]

Every scenario is simulated with ``champion.abtest.simulation`` (known ground truth: the
challenger B is as good as the champion A in every A/A row, really better in the power
rows); each experiment is looked at every 500 labels up to 40,000 (20,000 for the power
rows; after every label where the name says so) and stopped at its first decision. Three
rules judge the same experiments:

* **original** — the hourly job of the original pipeline: a chi-square on accuracy of the
  arms' served answers at every look; promote as soon as p < 0.05 with B ahead.
* **previous** — champion's rule before this version: the anytime-valid sequence on the
  arms' per-row scores with their plug-in variances (rows as units), a sample-ratio test
  on request counts against the current split, point-estimate guardrails.
* **champion** — ``champion.abtest.verdicts``, what every evaluation runs: randomisation
  units, pooled variance, triggered or paired comparisons, phases, sequential guardrails
  and validity checks.

Printed per scenario and rule: the share promoted with its 95 % Monte Carlo (Wilson)
interval, the shares rejected as worse and declared invalid, and the median labels at a
promotion. Regression scores are minus the absolute error.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from scipy import stats as sps

from champion.abtest import Policy, Scenario, half_width, simulate
from champion.abtest.evidence import Evidence
from champion.abtest.simulation import Outcome, champion_rule
from champion.types import ABMode, Task

console = Console(width=150)
STEP = 500


@dataclass(frozen=True)
class Case:
    name: str
    scenario: Scenario
    truth: str  # "equal" (A/A: promotion is an error) or "better" (power)
    horizon: int = 40_000
    every: int = STEP
    maturity: float = 0.0  # the champion rule's label-maturity window, seconds
    independent: bool = False  # the champion rule is told labels never depend on the answer


CASES = [
    Case("50/50, acc 0.80, independent rows", Scenario(mode=ABMode.RANDOM), "equal"),
    Case(
        "B 10 %, acc 0.98",
        Scenario(mode=ABMode.RANDOM, split_b=0.1, tpr_a=0.98, tnr_a=0.98, tpr_b=0.98, tnr_b=0.98),
        "equal",
    ),
    Case(
        "B 10 %, acc 0.995",
        Scenario(
            mode=ABMode.RANDOM, split_b=0.1, tpr_a=0.995, tnr_a=0.995, tpr_b=0.995, tnr_b=0.995
        ),
        "equal",
    ),
    Case(
        "A 10 %, acc 0.995 (mirror)",
        Scenario(
            mode=ABMode.RANDOM, split_b=0.9, tpr_a=0.995, tnr_a=0.995, tpr_b=0.995, tnr_b=0.995
        ),
        "equal",
    ),
    Case(
        "regression, |errors| lognormal(0, 2), B 10 %",
        Scenario(
            task=Task.REGRESSION,
            mode=ABMode.RANDOM,
            split_b=0.1,
            errors="lognormal",
            error_shape=2.0,
        ),
        "equal",
    ),
    Case(
        "regression, |errors| Pareto(1.5), B 10 %",
        Scenario(
            task=Task.REGRESSION, mode=ABMode.RANDOM, split_b=0.1, errors="pareto", error_shape=1.5
        ),
        "equal",
    ),
    Case(
        "hash, 800 users x 50 rows, user effect",
        Scenario(mode=ABMode.HASH, users=800, user_effect=1.0),
        "equal",
    ),
    Case(
        "hash, 800 users x 50 rows, a look after every label",
        Scenario(mode=ABMode.HASH, users=800, user_effect=1.0),
        "equal",
        every=1,
    ),
    Case(
        "hash, 200 heavy users x 200 rows",
        Scenario(mode=ABMode.HASH, users=200, user_effect=1.0),
        "equal",
    ),
    Case(
        "B +2 points accurate, recall -4 points",
        Scenario(mode=ABMode.RANDOM, tpr_b=0.76, tnr_b=0.88),
        "equal",
    ),
    Case(
        "B's labels 10x later, accuracy drifting, after every label",
        Scenario(mode=ABMode.RANDOM, delay_a=200.0, delay_b=2000.0, drift=-0.2),
        "equal",
        every=1,
    ),
    Case(
        "labels sooner for predicted positives; B flags 10 %, A 20 %",
        Scenario(
            mode=ABMode.RANDOM,
            prevalence=0.15,
            tpr_a=0.8,
            tnr_a=0.9,
            tpr_b=0.45,
            tnr_b=0.9618,
            delay_a=3000.0,
            delay_b=3000.0,
            positive_delay=0.05,
        ),
        "equal",
    ),
    Case(
        "B's labels 10x later, drifting, every label, label maturity 20,000 s",
        Scenario(mode=ABMode.RANDOM, delay_a=200.0, delay_b=2000.0, drift=-0.2),
        "equal",
        every=1,
        maturity=20_000.0,
    ),
    Case(
        "labels sooner for predicted positives, label maturity 30,000 s",
        Scenario(
            mode=ABMode.RANDOM,
            prevalence=0.15,
            tpr_a=0.8,
            tnr_a=0.9,
            tpr_b=0.45,
            tnr_b=0.9618,
            delay_a=3000.0,
            delay_b=3000.0,
            positive_delay=0.05,
        ),
        "equal",
        maturity=30_000.0,
    ),
    Case(
        "split 0.2 -> 0.5 halfway (hash)",
        Scenario(mode=ABMode.HASH, users=8000, split_b=0.2, split_change=(0.5, 0.5)),
        "equal",
    ),
    Case("shadow, models agree on 90 %", Scenario(mode=ABMode.SHADOW, agreement=0.9), "equal"),
    Case(
        "B fails 2 % of rows (shadow)",
        Scenario(mode=ABMode.SHADOW, agreement=0.9, failure_b=0.02),
        "equal",
    ),
    Case(
        "+3 points, 50/50",
        Scenario(mode=ABMode.RANDOM, tpr_b=0.83, tnr_b=0.83),
        "better",
        horizon=20_000,
    ),
    Case(
        "+1 point, shadow, 90 % agreement",
        Scenario(mode=ABMode.SHADOW, agreement=0.9, tpr_b=0.81, tnr_b=0.81),
        "better",
        horizon=20_000,
    ),
    Case(
        "+1 point, split 50/50, 90 % agreement",
        Scenario(mode=ABMode.RANDOM, agreement=0.9, tpr_b=0.81, tnr_b=0.81),
        "better",
        horizon=20_000,
    ),
    Case(
        "+1 point, split 50/50, 90 % agreement, labels declared independent",
        Scenario(mode=ABMode.RANDOM, agreement=0.9, tpr_b=0.81, tnr_b=0.81),
        "better",
        horizon=20_000,
        independent=True,
    ),
]


# -- the two older rules, vectorised over looks ------------------------------------------
def _served_right(ev: Evidence) -> np.ndarray:
    return np.where(ev.served_b, ev.score_b, ev.score_a)


def _prefix_by_entry(ev: Evidence, times: np.ndarray, mask: np.ndarray, values: np.ndarray):
    """Counts, sums and sums of squares of ``values`` over the rows of ``mask`` entered
    by each look."""
    entry = np.where(mask, ev.entered(0.0), np.inf)
    order = np.argsort(entry, kind="stable")
    keys, v = entry[order], values[order]
    idx = np.searchsorted(keys, times, side="right")
    cs, cq = np.r_[0.0, np.cumsum(v)], np.r_[0.0, np.cumsum(v * v)]
    return idx.astype(np.float64), cs[idx], cq[idx]


def original_rule(ev: Evidence, times: np.ndarray, s: Scenario):
    """Chi-square (Yates) on accuracy at every look; promote at p < 0.05 with B ahead."""
    right = _served_right(ev)
    na, sa, _ = _prefix_by_entry(ev, times, ~ev.served_b, right)
    nb, sb, _ = _prefix_by_entry(ev, times, ev.served_b, right)
    if s.mode == ABMode.SHADOW:  # the original pipeline compared arms: give it pairs
        na, sa, _ = _prefix_by_entry(ev, times, np.ones(ev.size, bool), ev.score_a)
        nb, sb, _ = _prefix_by_entry(ev, times, np.ones(ev.size, bool), ev.score_b)
    a, b, c, d = sa, na - sa, sb, nb - sb
    total = na + nb
    rows, cols = (a + b) * (c + d), (a + c) * (b + d)
    diff = np.maximum(np.abs(a * d - b * c) - total / 2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where((rows > 0) & (cols > 0), total * diff**2 / (rows * cols), 0.0)
        ahead = sb / np.maximum(nb, 1) > sa / np.maximum(na, 1)
    promote = (sps.chi2.sf(stat, 1) < 0.05) & ahead & (np.minimum(na, nb) > 0)
    return np.where(promote, 3, 1), total


def previous_rule(policy: Policy) -> Callable:
    """The sequence on per-row scores with plug-in variances (rows as units), the
    sample-ratio test on requests, point-estimate guardrails (recall, precision)."""

    def rule(ev: Evidence, times: np.ndarray, s: Scenario):
        shadow = s.mode == ABMode.SHADOW
        if shadow:
            n, sd, sq = _prefix_by_entry(ev, times, np.ones(ev.size, bool), ev.score_b - ev.score_a)
            var = np.where(
                n > 1,
                (sq - sd * sd / np.maximum(n, 1)) / np.maximum(n - 1, 1) / np.maximum(n, 1),
                np.inf,
            )
            est, units, labelled, few = sd / np.maximum(n, 1), n, n, n < policy.min_labelled
            srm_bad = np.zeros(times.size, bool)
        else:
            right = (
                _served_right(ev)
                if ev.task == Task.CLASSIFICATION
                else np.where(ev.served_b, ev.score_b, ev.score_a)
            )
            na, sa, qa = _prefix_by_entry(ev, times, ~ev.served_b, right)
            nb, sb, qb = _prefix_by_entry(ev, times, ev.served_b, right)
            va = (qa - sa * sa / np.maximum(na, 1)) / np.maximum(na - 1, 1) / np.maximum(na, 1)
            vb = (qb - sb * sb / np.maximum(nb, 1)) / np.maximum(nb - 1, 1) / np.maximum(nb, 1)
            var = np.where((na > 1) & (nb > 1), va + vb, np.inf)
            est = sb / np.maximum(nb, 1) - sa / np.maximum(na, 1)
            units, labelled = na + nb, na + nb
            few = np.minimum(na, nb) < policy.min_labelled
            served_by = np.searchsorted(ev.created, times, side="right")
            req_b = np.r_[0, np.cumsum(ev.served_b)][served_by]
            total = served_by.astype(np.float64)
            p0 = float(ev.split_b[-1])  # the current split, against all-time counts
            with np.errstate(divide="ignore", invalid="ignore"):
                chi = (req_b - total * p0) ** 2 / (total * p0) + (
                    (total - req_b) - total * (1 - p0)
                ) ** 2 / (total * (1 - p0))
            srm_bad = (sps.chi2.sf(np.nan_to_num(chi), 1) < policy.srm_alpha) & (total > 0)
        ok = np.isfinite(var)
        width = half_width(
            np.where(ok, var, 0.0), np.where(ok, units, 2.0), policy.alpha, policy.n_star
        )
        lower = np.where(ok, est - width, -np.inf)
        upper = np.where(ok, est + width, np.inf)
        guard = _point_guardrails(ev, times, policy, shadow)
        action = np.select(
            [srm_bad, few, upper < 0, (lower > 0) & guard, labelled >= policy.max_labelled],
            [0, 1, 2, 3, 4],
            default=1,
        )
        return action, labelled

    return rule


def _point_guardrails(ev: Evidence, times: np.ndarray, policy: Policy, shadow: bool) -> np.ndarray:
    """Recall and precision of B no lower than A's by more than the margins, as point
    estimates at each look (classification); True for regression."""
    if ev.task != Task.CLASSIFICATION:
        return np.ones(times.size, bool)
    everyone = np.ones(ev.size, bool)
    ok = np.ones(times.size, bool)
    for margin, subset, hit in (
        (policy.recall_margin, lambda ans: ev.label == 1, lambda ans: ans == 1),
        (policy.precision_margin, lambda ans: ans == 1, lambda ans: ans == ev.label),
    ):
        rates = []
        for is_b, answer in ((False, ev.answer_a), (True, ev.answer_b)):
            rows = everyone if shadow else (ev.served_b == is_b)
            n, s, _ = _prefix_by_entry(ev, times, rows & subset(answer), hit(answer).astype(float))
            rates.append(s / np.maximum(n, 1))
        ok &= rates[1] - rates[0] >= -margin
    return ok


# -- the grid --------------------------------------------------------------------------
def _row(case: Case, rule: str, outcome: Outcome) -> dict:
    return {
        "scenario": case.name,
        "truth": case.truth,
        "rule": rule,
        "promoted": outcome.promoted.share,
        "promoted_low": outcome.promoted.low,
        "promoted_high": outcome.promoted.high,
        "rejected_worse": outcome.rejected.share,
        "invalid": outcome.invalid.share,
        "median_labels": outcome.median_labels,
        "reps": outcome.reps,
    }


RULES = ("original", "previous", "champion")


def _one(case: Case, rule_name: str, reps: int, seed: int) -> dict:
    policy = Policy(
        max_labelled=case.horizon,
        label_maturity_s=case.maturity,
        labels_independent=case.independent,
    )
    rule = {
        "original": original_rule,
        "previous": previous_rule(policy),
        "champion": champion_rule(policy),
    }[rule_name]
    outcome = simulate(
        case.scenario, policy, reps=reps, seed=seed, look_every=case.every, rule=rule
    )
    return _row(case, rule_name, outcome)


def run(cases: list[Case], reps: int, seed: int, jobs: int) -> list[dict]:
    """Every case under every rule (``jobs`` processes), in the grid's order."""
    work = [(case, rule) for case in cases for rule in RULES]
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    results: dict[int, dict] = {}
    with progress, ProcessPoolExecutor(max_workers=jobs) as pool:
        task = progress.add_task(f"{len(cases)} scenarios x {len(RULES)} rules", total=len(work))
        futures = {
            pool.submit(_one, case, rule, reps, seed): i for i, (case, rule) in enumerate(work)
        }
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            progress.advance(task)
    return [results[i] for i in range(len(work))]


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def show(rows: list[dict]) -> None:
    table = Table(
        title="False promotion (A/A rows) and power (better rows): 95 % Monte Carlo intervals"
    )
    for col in (
        "scenario",
        "truth",
        "rule",
        "promoted [95 % MC]",
        "rejected: worse",
        "invalid",
        "median labels",
    ):
        table.add_column(col, justify="left" if col in ("scenario", "truth", "rule") else "right")
    for r in rows:
        table.add_row(
            r["scenario"],
            r["truth"],
            r["rule"],
            f"{_pct(r['promoted'])} [{_pct(r['promoted_low'])}, {_pct(r['promoted_high'])}]",
            _pct(r["rejected_worse"]),
            _pct(r["invalid"]),
            "—" if r["median_labels"] is None else f"{r['median_labels']:,.0f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default=None, help="Scenarios whose name contains this.")
    parser.add_argument("--json", default=None, help="Also write the rows as JSON here.")
    parser.add_argument("--jobs", type=int, default=2, help="Processes (one per core).")
    args = parser.parse_args()
    cases = [c for c in CASES if args.only is None or args.only in c.name]
    started = time.perf_counter()
    rows = run(cases, args.reps, args.seed, args.jobs)
    show(rows)
    equal = [r for r in rows if r["rule"] == "champion" and r["truth"] == "equal"]
    worst = max((r["promoted_high"] for r in equal), default=0.0)
    console.print(
        f"champion, A/A rows: highest upper 95 % bound of false promotion {_pct(worst)} "
        f"({args.reps} experiments per row, {time.perf_counter() - started:.0f} s)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
